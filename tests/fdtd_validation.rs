//! Each FDTD validation case (defined once in `rftwin::fdtd::validation`) must pass.

mod common;
use common::check;

#[test]
fn pec_cavity_te101() {
    check("pec_cavity_te101");
}
#[test]
fn second_order_convergence() {
    check("second_order_convergence");
}
#[test]
fn cpml_reflection() {
    check("cpml_reflection");
}
#[test]
fn lossy_gel_64mhz() {
    check("lossy_gel_64mhz");
}
#[test]
fn lossy_gel_128mhz() {
    check("lossy_gel_128mhz");
}
#[test]
fn lumped_resistor_100ohm() {
    check("lumped_resistor_100ohm");
}
#[test]
fn lumped_resistor_1000ohm() {
    check("lumped_resistor_1000ohm");
}
#[test]
fn series_rlc_resonance() {
    check("series_rlc_resonance");
}
#[test]
fn hertzian_dipole_radiation_resistance() {
    check("hertzian_dipole_radiation_resistance");
}
#[test]
fn energy_conservation() {
    check("energy_conservation");
}
#[test]
fn determinism_1_vs_2_threads() {
    check("determinism_1_vs_2_threads");
}

#[test]
fn suite_has_at_least_eight_fdtd_cases() {
    let n = rftwin::fdtd::validation::cases().len();
    assert!(n >= 8, "only {n} FDTD validation cases");
}
