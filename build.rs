//! Build script:
//! - records the git commit of the source tree (if built from a git checkout) in
//!   `RFTWIN_GIT_COMMIT`, which reports print as the software version (outside git, nothing is set);
//! - records `RFTWIN_MODEL_STAMP` (`src/twin/stamp.rs`): a hash of the source of every module the
//!   coil basis runs depend on and of `Cargo.lock`, so that the basis cache key changes with the code
//!   that computes the cached fields, committed or not, and also outside git.

use std::process::Command;

#[path = "src/twin/stamp.rs"]
#[allow(dead_code)]
mod stamp;

fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").args(args).output().ok()?;
    if !o.status.success() {
        return None;
    }
    let s = String::from_utf8(o.stdout).ok()?.trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    for s in stamp::MODEL_SOURCES {
        println!("cargo:rerun-if-changed={s}");
    }
    let root = std::path::PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    println!("cargo:rustc-env=RFTWIN_MODEL_STAMP={}", stamp::model_stamp_of(&root));
    if let Some(commit) = git(&["rev-parse", "HEAD"]) {
        println!("cargo:rustc-env=RFTWIN_GIT_COMMIT={commit}");
        // Re-run when HEAD moves: the HEAD file and the branch it points at (worktrees included).
        let mut watch = vec![git(&["rev-parse", "--git-path", "HEAD"])];
        if let Some(r) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watch.push(git(&["rev-parse", "--git-path", &r]));
        }
        watch.push(git(&["rev-parse", "--git-path", "packed-refs"]));
        for p in watch.into_iter().flatten() {
            if std::path::Path::new(&p).exists() {
                println!("cargo:rerun-if-changed={p}");
            }
        }
    }
}
