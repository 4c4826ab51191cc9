//! The model stamp of the basis cache: a 64-bit FNV-1a hash of the source files that compute a coil
//! basis. The build script includes this file (`#[path]`) to stamp the binary (`RFTWIN_MODEL_STAMP`,
//! [`super::basis::MODEL_STAMP`]); the library exposes it so a test can recompute the stamp from the
//! tree and check that the binary carries the stamp of the source it was built from.

use std::path::{Path, PathBuf};

/// Source inputs of the cached coil basis runs, relative to the crate root: the pipeline up to and
/// including `twin` (each module depends only on those before it), the plumbing they use to load
/// their inputs (`spec`), to size the grid (`resources::axis_cells`) and to solve (`numerics`: the
/// circuit model's and the fits' Cholesky and Levenberg–Marquardt), the error type, and the locked
/// dependency versions.
pub const MODEL_SOURCES: &[&str] = &[
    "src/grid",
    "src/fdtd",
    "src/coil",
    "src/b1",
    "src/twin",
    "src/spec.rs",
    "src/resources.rs",
    "src/numerics.rs",
    "src/error.rs",
    "Cargo.lock",
];

fn fnv1a64(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= *b as u64;
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

fn collect_files(p: &Path, out: &mut Vec<PathBuf>) {
    if p.is_dir() {
        if let Ok(rd) = std::fs::read_dir(p) {
            for e in rd.flatten() {
                collect_files(&e.path(), out);
            }
        }
    } else if p.is_file() {
        out.push(p.to_path_buf());
    }
}

/// The stamp of the crate rooted at `root`: relative path and bytes of every file under
/// [`MODEL_SOURCES`], in sorted path order, as 16 hex digits.
pub fn model_stamp_of(root: &Path) -> String {
    let mut files = Vec::new();
    for s in MODEL_SOURCES {
        collect_files(&root.join(s), &mut files);
    }
    let mut rel: Vec<(String, PathBuf)> = files
        .into_iter()
        .map(|f| {
            let r = f.strip_prefix(root).unwrap_or(&f).to_string_lossy().replace('\\', "/");
            (r, f)
        })
        .collect();
    rel.sort();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for (r, f) in &rel {
        fnv1a64(&mut h, r.as_bytes());
        fnv1a64(&mut h, &[0]);
        fnv1a64(&mut h, &std::fs::read(f).unwrap_or_default());
        fnv1a64(&mut h, &[0]);
    }
    format!("{h:016x}")
}
