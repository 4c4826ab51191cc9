//! The bodies of the fuzz targets in `fuzz/fuzz_targets/` (one function per target), callable on
//! stable so that `tests/fuzz_corpus.rs` replays the committed corpus and the crash regressions
//! (`fuzz/corpus/<target>/`, `fuzz/regressions/<target>/`) in `cargo test`. Each takes arbitrary bytes
//! and must return `Ok` or an error (an input error for bad input), never panic. Bytes that are not
//! UTF-8 are `Ok` for the TOML targets (the readers take text).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::Result;

/// Names of the targets, as in `fuzz/Cargo.toml`.
pub const TARGETS: [&str; 4] = ["coil_toml", "phantom_toml", "recipe_toml", "nifti_map"];

/// Runs target `name` on `data`; None for an unknown target.
pub fn run_target(name: &str, data: &[u8]) -> Option<Result<()>> {
    Some(match name {
        "coil_toml" => coil_toml(data),
        "phantom_toml" => phantom_toml(data),
        "recipe_toml" => recipe_toml(data),
        "nifti_map" => nifti_map(data),
        _ => return None,
    })
}

/// Coil TOML reader.
pub fn coil_toml(data: &[u8]) -> Result<()> {
    match std::str::from_utf8(data) {
        Ok(text) => crate::coil::config::CoilConfig::from_toml_str(text, "fuzz.toml").map(|_| ()),
        Err(_) => Ok(()),
    }
}

/// Phantom TOML reader.
pub fn phantom_toml(data: &[u8]) -> Result<()> {
    match std::str::from_utf8(data) {
        Ok(text) => crate::coil::phantom::PhantomConfig::from_toml_str(text, "fuzz.toml").map(|_| ()),
        Err(_) => Ok(()),
    }
}

/// Assessment recipe reader.
pub fn recipe_toml(data: &[u8]) -> Result<()> {
    match std::str::from_utf8(data) {
        Ok(text) => {
            crate::report::recipe::Recipe::from_toml_str(text, Path::new("fuzz.toml"), Path::new(".")).map(|_| ())
        }
        Err(_) => Ok(()),
    }
}

/// NIfTI map reader on arbitrary bytes, written to a temporary `.nii` (`.nii.gz` when the bytes start
/// with the gzip magic) file since the reader takes a path, with the unit declared (µT) so that the
/// reader goes past the header into the data; a 4-D file (refused without a volume index) is read
/// again at its last volume, and that is the result. The file is removed afterwards.
pub fn nifti_map(data: &[u8]) -> Result<()> {
    static N: AtomicU64 = AtomicU64::new(0);
    let dir = std::env::temp_dir().join(format!("rftwin-fuzz-nifti-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|err| crate::error::Error::Io {
        path: dir.display().to_string(),
        err,
    })?;
    let gz = data.len() > 2 && data[0] == 0x1f && data[1] == 0x8b;
    let n = N.fetch_add(1, Ordering::Relaxed);
    let path = dir.join(format!("map{n}.{}", if gz { "nii.gz" } else { "nii" }));
    std::fs::write(&path, data).map_err(|err| crate::error::Error::Io {
        path: path.display().to_string(),
        err,
    })?;
    let opts = crate::b1::NiftiMapOptions {
        unit: Some(crate::b1::B1Unit::MicroTesla),
        ..Default::default()
    };
    let mut r = crate::b1::read_nifti_map(&path, &opts).map(|_| ());
    if let Ok(info) = crate::b1::read_nifti_header(&path) {
        if info.volumes > 1 {
            let last = crate::b1::NiftiMapOptions {
                volume: Some(info.volumes - 1),
                ..opts
            };
            r = crate::b1::read_nifti_map(&path, &last).map(|_| ());
        }
    }
    let _ = std::fs::remove_file(&path);
    r
}
