//! Coil field-map validation cases (defined once in `rftwin::b1::validation`) must pass.

use rftwin::validate::{all_cases, run_case};

fn check(name: &str) {
    let case = all_cases()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name}"));
    let r = run_case(&case);
    assert!(
        r.pass,
        "{name}: measured {} vs reference {}, error {} > tolerance {}: {}",
        r.measured, r.reference, r.error, r.tolerance, r.description
    );
}

#[test]
fn coil_empty_b1_homogeneity() {
    check("coil_empty_b1_homogeneity");
}
#[test]
fn coil_empty_b1_minus() {
    check("coil_empty_b1_minus");
}
#[test]
fn coil_cylinder_bessel_64mhz() {
    check("coil_cylinder_bessel_64mhz");
}
#[test]
fn coil_cylinder_bessel_128mhz() {
    check("coil_cylinder_bessel_128mhz");
}
#[test]
fn coil_fdtd_tuned_resonance() {
    check("coil_fdtd_tuned_resonance");
}
#[test]
fn coil_resonant_quadrature_b1_minus() {
    check("coil_resonant_quadrature_b1_minus");
}
