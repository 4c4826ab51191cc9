//! Library errors. Every input error names the file (or item), the key and the fix.

/// Errors raised by rftwin.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Bad input: names where, which key, what is wrong and how to fix it. Exit code 2.
    #[error("{source_name}: {key}: {what}: {fix}")]
    Input {
        source_name: String,
        key: String,
        what: String,
        fix: String,
    },
    /// The simulation became unstable (NaN/Inf or energy growth).
    #[error("unstable simulation at step {step}: {what}; {fix}")]
    Unstable { step: usize, what: String, fix: String },
    /// A run did not reach its stopping criterion within its limit.
    #[error("{what}")]
    NotConverged { what: String },
    #[error("I/O error on {path}: {err}{}", io_hint(err))]
    Io { path: String, err: std::io::Error },
    #[error("{0}")]
    Other(String),
    /// A result rftwin will not vouch for (a fit far above the noise, a map too poor to calibrate
    /// with): the outputs may exist for inspection. Exit code 1.
    #[error("{what}")]
    Doubtful { what: String },
}

impl Error {
    pub fn input(source_name: &str, key: &str, what: impl Into<String>, fix: impl Into<String>) -> Self {
        Error::Input {
            source_name: source_name.into(),
            key: key.into(),
            what: what.into(),
            fix: fix.into(),
        }
    }
    /// An I/O error on `path`.
    pub fn io(path: &std::path::Path, err: std::io::Error) -> Self {
        Error::Io {
            path: path.display().to_string(),
            err,
        }
    }
    /// The process exit code this error maps to: 1 for a doubtful result ([`Error::Doubtful`], like
    /// a failed criterion), 2 for every other error.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Doubtful { .. } => 1,
            _ => 2,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// The likely cause and fix of an I/O error while writing (a full disk, a read-only place).
fn io_hint(err: &std::io::Error) -> &'static str {
    use std::io::ErrorKind as K;
    match err.kind() {
        K::StorageFull | K::QuotaExceeded | K::FileTooLarge => {
            ": disk full or not writable? Free space on that disk, or give --out a directory on a disk with room"
        }
        K::ReadOnlyFilesystem => ": disk full or not writable? Give --out a directory you can write to",
        _ => "",
    }
}

/// A failed write of an output file (HDF5, PNG, JSON): names the file, says the likely cause (a full
/// disk or a directory without write permission) and keeps the library's own text at the end.
pub fn write_error(path: &std::path::Path, e: impl std::fmt::Display) -> Error {
    let detail = e.to_string();
    let detail = detail.lines().next().unwrap_or("").trim();
    Error::input(
        &path.display().to_string(),
        "(write)",
        format!("could not write the file: disk full or not writable? ({detail})"),
        "free space on that disk, or give --out a directory on a disk with room that you can write to",
    )
}
