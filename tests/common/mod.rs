//! Shared by the test files that run validation cases by name.

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
