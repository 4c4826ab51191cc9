//! SAR checks: the dosimetry validation cases (same definitions as `rftwin validate`) plus input errors,
//! determinism and point/whole-phantom SAR against hand values.

use ndarray::Array3;
use num_complex::Complex;
use rftwin::dosimetry::sar::{self, SarInput};
use rftwin::dosimetry::{validation, VoxelGrid};
use rftwin::error::Error;

fn run_case(name: &str) {
    let case = validation::cases().into_iter().find(|c| c.name == name).expect("case exists");
    let r = rftwin::validate::run_case(&case);
    println!("{}: measured {} ref {} error {:.3e} (tol {:.1e}) {} in {:.2} s", r.case, r.measured, r.reference, r.error, r.tolerance, r.description, r.seconds);
    assert!(r.pass, "{} failed: error {} > tolerance {} ({})", r.case, r.error, r.tolerance, r.description);
}

#[test]
fn case_sar_avg_vs_bruteforce() {
    run_case("sar_avg_vs_bruteforce");
}

#[test]
fn case_sar_uniform_block() {
    run_case("sar_uniform_block");
}

#[test]
fn case_sar_half_air_block() {
    run_case("sar_half_air_block");
}
