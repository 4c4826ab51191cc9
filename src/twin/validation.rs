//! Validation cases of the twin calibration on small real FDTD bases (body coil 1.5 T, ASTM gel box,
//! 20 mm cells): synthetic measured maps from direct FDTD runs with known perturbations (port-2
//! amplitude 1.05, phase error +3 deg; phantom shifted; gel conductivity changed) plus 2 % Rician-like
//! noise, 10 mm voxels 15 mm inside the (moved) phantom's walls. Tolerances are those of issue 4:
//! amplitude within 2 %, offset within 2 mm per axis, conductivity within 5 %.

use super::basis::{compute_basis_request, BasisRequest};
use super::calibrate::synthesize;
use super::full::{calibrate_full, FullCalibration, FullOptions};
use super::joint::JointOptions;
use crate::b1::{Affine, B1Map, B1Unit, Frame, Placement};
use crate::coil::run::SimulateOptions;
use crate::coil::{CoilConfig, PhantomConfig};
use crate::error::Result;
use crate::validation_case::{CaseResult, ValidationCase};

const BODY_15T: &str = include_str!("../../coils/body_1p5t_hp16.toml");
const ASTM: &str = include_str!("../../phantoms/astm_f2182.toml");

/// The twin cases.
pub fn cases() -> Vec<ValidationCase> {
    vec![
        ValidationCase {
            name: "twin_weight_recovery",
            run: case_weights,
        },
        ValidationCase {
            name: "twin_offset_recovery",
            run: case_offset,
        },
        ValidationCase {
            name: "twin_rotation_recovery",
            run: case_rotation,
        },
        ValidationCase {
            name: "twin_conductivity_recovery",
            run: case_gel,
        },
    ]
}

fn inputs() -> Result<(CoilConfig, PhantomConfig, SimulateOptions)> {
    let coil = CoilConfig::from_toml_str(BODY_15T, "coils/body_1p5t_hp16.toml")?;
    let ph = PhantomConfig::from_toml_str(ASTM, "phantoms/astm_f2182.toml")?;
    let mut opt = SimulateOptions::default();
    opt.mesh.cell_m = 0.02;
    Ok((coil, ph, opt))
}

const A_TRUE: f64 = 1.05;
const D_TRUE: f64 = 3.0;

/// A synthetic map from a direct FDTD run of `ph` moved by `offset`.
fn synth(coil: &CoilConfig, ph: &PhantomConfig, opt: &SimulateOptions, offset: [f64; 3], seed: u64) -> Result<B1Map> {
    synth_inside(coil, ph, opt, offset, seed, 0.015)
}

/// [`synth`] with the voxels `margin` inside the phantom's (axis-aligned) walls.
fn synth_inside(
    coil: &CoilConfig,
    ph: &PhantomConfig,
    opt: &SimulateOptions,
    offset: [f64; 3],
    seed: u64,
    margin: f64,
) -> Result<B1Map> {
    let basis = compute_basis_request(
        &BasisRequest {
            coil,
            phantom: Some(ph),
            opt,
            offset_m: offset,
        },
        None,
    )?;
    let h = ph.size_m.map(|s| 0.5 * s - margin);
    let c = ph.centre_m();
    let lo = [0, 1, 2].map(|a| c[a] - h[a] + offset[a]);
    let hi = [0, 1, 2].map(|a| c[a] + h[a] + offset[a]);
    let (map, origin) = synthesize(&basis, A_TRUE, D_TRUE, 0.02, seed, lo, hi, 0.01, 2.0)?;
    B1Map::new(
        map,
        Affine::from_origin_spacing(origin, [0.01; 3]),
        Frame::Simulation,
        B1Unit::MicroTesla,
        "synthetic",
    )
}

fn run(ph: &PhantomConfig, map: &B1Map, joint: JointOptions, resimulate: Option<bool>) -> Result<FullCalibration> {
    let (coil, _, opt) = inputs()?;
    let fo = FullOptions {
        joint,
        resimulate,
        ..Default::default()
    };
    Ok(calibrate_full(&coil, ph, map, &Placement::default(), &opt, &fo, None, &mut |_| {})?.0)
}

fn case_weights() -> Result<CaseResult> {
    let (coil, ph, opt) = inputs()?;
    let map = synth(&coil, &ph, &opt, [0.0; 3], 11)?;
    let cal = run(&ph, &map, JointOptions::default(), None)?;
    let a = cal.fit.relative_amplitude.value;
    Ok(CaseResult::relative(
        "twin_weight_recovery",
        &format!(
            "port-2 amplitude fitted to a synthetic |B1+| map (phase {:.2} deg vs {D_TRUE}, NRMSE {:.4} vs noise 0.02)",
            cal.fit.relative_phase_deg.value, cal.fit.nrmse
        ),
        "known perturbation of the synthetic map (issue 4: within 2 %)",
        A_TRUE,
        a,
        "-",
        0.02,
    ))
}

fn case_offset() -> Result<CaseResult> {
    let (coil, ph, opt) = inputs()?;
    let truth = [0.004, -0.003, 0.002];
    let map = synth(&coil, &ph, &opt, truth, 5)?;
    let joint = JointOptions {
        fit_offset: true,
        ..Default::default()
    };
    // At 20 mm cells the automatic re-simulation threshold (a quarter cell) would not fire.
    let cal = run(&ph, &map, joint, Some(true))?;
    let o = cal.fit.offset_m.as_ref().expect("offset fitted");
    let err: Vec<f64> = (0..3).map(|a| (o[a].value - truth[a]) * 1e3).collect();
    let worst = err.iter().fold(0.0f64, |m, e| m.max(e.abs()));
    Ok(CaseResult::with_error(
        "twin_offset_recovery",
        &format!(
            "phantom offset (4, -3, 2) mm fitted as ({:.2}, {:.2}, {:.2}) mm with the weights (amplitude {:.4}, {} FDTD runs); error = worst axis",
            o[0].value * 1e3,
            o[1].value * 1e3,
            o[2].value * 1e3,
            cal.fit.relative_amplitude.value,
            cal.fdtd_runs
        ),
        "known shift of the phantom in the synthetic map's FDTD run (issue 4: within 2 mm)",
        0.0,
        worst,
        "mm",
        worst,
        "absolute",
        2.0,
    ))
}

/// Rotation truth (degrees, rotation vector about the phantom's centre) and offset.
const ROT_TRUE: [f64; 3] = [1.0, -2.0, 1.5];

fn case_rotation() -> Result<CaseResult> {
    let (coil, ph, opt) = inputs()?;
    let mut truth = ph.clone();
    truth.rotation_deg = ROT_TRUE;
    // 25 mm inside the walls: the corners of the voxel box stay inside the turned phantom.
    let map = synth_inside(&coil, &truth, &opt, [0.0; 3], 13, 0.025)?;
    let joint = JointOptions {
        fit_offset: true,
        fit_rotation: true,
        ..Default::default()
    };
    let cal = run(&ph, &map, joint, Some(true))?;
    let r = cal.fit.rotation_deg.as_ref().expect("rotation fitted");
    let o = cal.fit.offset_m.as_ref().expect("offset fitted");
    // Rotations about x (pitch) and z (roll about the bore) are determined by |B1+|; the one about
    // the vertical y axis (yaw of the flat box) trades against the z offset at 2 % noise and is
    // reported, not scored (the fit flags it when its outer iterations drift).
    let worst = [0, 2]
        .iter()
        .fold(0.0f64, |m, &a| m.max((r[a].value - ROT_TRUE[a]).abs()));
    Ok(CaseResult::with_error(
        "twin_rotation_recovery",
        &format!(
            "phantom rotation ({}, {}, {}) deg fitted as ({:.2}, {:.2}, {:.2}) deg (95 % CI x [{:.2}, {:.2}], y [{:.2}, {:.2}], z [{:.2}, {:.2}]) with the offset ({:.2}, {:.2}, {:.2}) mm (truth 0) and the weights ({} FDTD runs; flagged: {:?}); error = worst axis",
            ROT_TRUE[0],
            ROT_TRUE[1],
            ROT_TRUE[2],
            r[0].value,
            r[1].value,
            r[2].value,
            r[0].ci95[0],
            r[0].ci95[1],
            r[1].ci95[0],
            r[1].ci95[1],
            r[2].ci95[0],
            r[2].ci95[1],
            o[0].value * 1e3,
            o[1].value * 1e3,
            o[2].value * 1e3,
            cal.fdtd_runs,
            cal.fit.unidentifiable
        ),
        "known rotation of the phantom in the synthetic map's FDTD run (sub-cell volume fractions at 20 mm cells); placement sensitivities from design runs; tolerance 1 degree per axis (the issue states none)",
        0.0,
        worst,
        "deg",
        worst,
        "absolute",
        1.0,
    ))
}

fn case_gel() -> Result<CaseResult> {
    let (coil, ph, opt) = inputs()?;
    let mut truth = ph.clone();
    truth.material.sigma_s_per_m *= 1.1;
    let map = synth(&coil, &truth, &opt, [0.0; 3], 7)?;
    let joint = JointOptions {
        fit_gel: true,
        ..Default::default()
    };
    let cal = run(&ph, &map, joint, None)?;
    let s = cal.fit.sigma_s_per_m.as_ref().expect("gel fitted");
    let e = cal.fit.eps_r.as_ref().expect("gel fitted");
    Ok(CaseResult::relative(
        "twin_conductivity_recovery",
        &format!(
            "gel conductivity fitted with eps_r and the weights ({} phantom FDTD runs; 95 % CI [{:.4}, {:.4}] S/m; eps_r {:.1} [{:.1}, {:.1}] vs 80{})",
            cal.fdtd_runs,
            s.ci95[0],
            s.ci95[1],
            e.value,
            e.ci95[0],
            e.ci95[1],
            if cal.fit.unidentifiable.iter().any(|u| u == "eps_r") { ", eps_r flagged unidentifiable" } else { "" }
        ),
        "synthetic map from a direct FDTD run at 1.1 x the nominal 0.47 S/m (issue 4: within 5 %)",
        truth.material.sigma_s_per_m,
        s.value,
        "S/m",
        0.05,
    ))
}
