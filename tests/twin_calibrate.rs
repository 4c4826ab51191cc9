//! Calibration of the ideal-drive body coil to a synthetic measured |B1+| map of the ASTM phantom
//! (same model, different grid, known port imbalance and phase error, 2 % Rician-like noise).

use rftwin::b1::{Affine, B1Map, B1Unit, Frame, Placement};
use rftwin::coil::run::SimulateOptions;
use rftwin::coil::{CoilConfig, PhantomConfig};
use rftwin::twin::{calibrate, compute_basis, synthesize};

#[test]
fn recovers_port_imbalance_and_phase_error() {
    let coil = CoilConfig::from_toml_str(include_str!("../coils/body_1p5t_hp16.toml"), "body_1p5t_hp16.toml").unwrap();
    let ph = PhantomConfig::from_toml_str(include_str!("../phantoms/astm_f2182.toml"), "astm_f2182.toml").unwrap();
    let mut opt = SimulateOptions::default();
    opt.mesh.cell_m = 0.02;
    let basis = compute_basis(&coil, Some(&ph), &opt, None).unwrap();
    // The gel volume (420 x 90 x 650 mm at the isocentre), 10 mm voxels, 1 cm inside its walls.
    let (lo, hi) = ([-0.20, -0.035, -0.31], [0.20, 0.035, 0.31]);
    let (imb, phase, noise) = (1.06, 4.0, 0.02);
    let (map, origin) = synthesize(&basis, imb, phase, noise, 11, lo, hi, 0.01, 2.0).unwrap();
    let measured = B1Map::new(
        map,
        Affine::from_origin_spacing(origin, [0.01; 3]),
        Frame::Simulation,
        B1Unit::MicroTesla,
        "synthetic",
    )
    .unwrap();
    let cal = calibrate(&basis, &measured, &Placement::default()).unwrap();
    assert!(cal.samples > 1000, "{} samples", cal.samples);
    assert!(
        (cal.relative_amplitude / imb - 1.0).abs() < 0.02,
        "amplitude {} vs {imb}",
        cal.relative_amplitude
    );
    assert!(
        (cal.relative_phase_deg - phase).abs() < 2.0,
        "phase {} vs {phase}",
        cal.relative_phase_deg
    );
    // NRMSE equals the noise level (relative to the mean magnitude) within 10 %... of a Rician
    // magnitude the residual std is close to sigma at this SNR.
    assert!(
        (cal.fit.nrmse / noise - 1.0).abs() < 0.1,
        "NRMSE {} vs noise {noise}",
        cal.fit.nrmse
    );
    // The 95 % intervals are finite and cover the truth.
    assert!(
        (cal.relative_amplitude - imb).abs() <= 1.96 * cal.relative_amplitude_se + 1e-3,
        "se {}",
        cal.relative_amplitude_se
    );
}
