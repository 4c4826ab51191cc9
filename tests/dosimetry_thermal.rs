//! Thermal checks: the dosimetry validation cases (same definitions as `rftwin validate`).

use rftwin::dosimetry::validation;

fn run_case(name: &str) {
    let case = validation::cases().into_iter().find(|c| c.name == name).expect("case exists");
    let r = rftwin::validate::run_case(&case);
    println!("{}: measured {} ref {} error {:.3e} (tol {:.1e}) {} in {:.2} s", r.case, r.measured, r.reference, r.error, r.tolerance, r.description, r.seconds);
    assert!(r.pass, "{} failed: error {} > tolerance {} ({})", r.case, r.error, r.tolerance, r.description);
}

#[test]
fn case_thermal_1d_perfusion_steady() {
    run_case("thermal_1d_perfusion_steady");
}

#[test]
fn case_thermal_gaussian_transient() {
    run_case("thermal_gaussian_transient");
}

#[test]
fn case_thermal_energy_balance() {
    run_case("thermal_energy_balance");
}

#[test]
fn case_thermal_metal_slab_steady() {
    run_case("thermal_metal_slab_steady");
}
