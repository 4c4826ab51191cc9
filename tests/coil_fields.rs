//! Coil field-map validation cases must pass (defined once in `rftwin::coil::field_validation`;
//! `coil_fdtd_tuned_resonance` in `rftwin::coil::validation`).

mod common;
use common::check;

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
