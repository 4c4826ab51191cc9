//! Helpers shared by the integration tests (each test file that needs them declares `mod common;`).

// Every test crate compiles this module; each uses only some of the helpers.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

use rftwin::validate::{all_cases, run_case};

/// Runs the validation case `name` (the same definition `rftwin validate` runs) and asserts it passes.
pub fn check(name: &str) {
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    let r = run_case(&case);
    println!(
        "{}: measured {} vs reference {} ({}), error {:.3e} (tol {:.1e}) in {:.2} s",
        r.case, r.measured, r.reference, r.unit, r.error, r.tolerance, r.seconds
    );
    assert!(
        r.pass,
        "{name}: measured {} vs reference {} ({}), error {} > tolerance {}: {}",
        r.measured, r.reference, r.unit, r.error, r.tolerance, r.description
    );
}

/// The `rftwin` binary of this build. HDF5 advisory locks from parallel tests must not make a child
/// fail to open a file, so the child runs with HDF5 file locking off.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_rftwin"));
    c.env("HDF5_USE_FILE_LOCKING", "FALSE");
    c
}

/// A fresh, empty directory for one test: `rftwin-<test file>-<process id>-<name>` in the system
/// temporary directory (emptied first if an earlier run left it), as a canonical path.
pub fn tmpdir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "rftwin-{}-{}-{name}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d.canonicalize().unwrap()
}
