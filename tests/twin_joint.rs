//! Joint calibration on small real FDTD bases (body coil, ASTM phantom, 20 mm cells): the coverage of
//! the 95 % intervals. The twin validation cases (weights; phantom offset and gel conductivity
//! recovered from synthetic maps made by direct FDTD runs with the phantom shifted / the gel changed,
//! plus a port imbalance and phase error and 2 % Rician-like noise) run in `validation_cases.rs`.

use rftwin::b1::{Affine, B1Map, B1Unit, Frame, Placement};
use rftwin::coil::run::SimulateOptions;
use rftwin::coil::{CoilConfig, PhantomConfig};
use rftwin::twin::{compute_basis_request, synthesize, BasisRequest, JointOptions};

fn inputs(cell: f64) -> (CoilConfig, PhantomConfig, SimulateOptions) {
    let coil = CoilConfig::from_toml_str(include_str!("../coils/body_1p5t_hp16.toml"), "body_1p5t_hp16.toml").unwrap();
    let ph = PhantomConfig::from_toml_str(include_str!("../phantoms/astm_f2182.toml"), "astm_f2182.toml").unwrap();
    let mut opt = SimulateOptions::default();
    opt.mesh.cell_m = cell;
    (coil, ph, opt)
}

/// Residual-bootstrap (and Jacobian) 95 % intervals of the port-2 amplitude and phase cover the truth
/// in at least 90 of 100 noisy repeats, on a real FDTD basis (20 mm cells).
#[test]
fn bootstrap_intervals_cover_the_truth() {
    use rftwin::twin::joint::{fit_joint, JointModel, Samples};
    let (coil, ph, opt) = inputs(0.02);
    let basis = compute_basis_request(
        &BasisRequest {
            coil: &coil,
            phantom: Some(&ph),
            opt: &opt,
            offset_m: [0.0; 3],
        },
        None,
    )
    .unwrap();
    let model = JointModel::weights_only(&basis, [0.0; 3]);
    let (a_true, d_true) = (1.04, -3.0);
    let (mut cover_boot, mut cover_jac, mut cover_phase) = (0, 0, 0);
    let t0 = std::time::Instant::now();
    for rep in 0..100u64 {
        let (map, origin) = synthesize(
            &basis,
            a_true,
            d_true,
            0.02,
            1000 + rep,
            [-0.19, -0.03, -0.30],
            [0.19, 0.03, 0.30],
            0.02,
            2.0,
        )
        .unwrap();
        let map = B1Map::new(
            map,
            Affine::from_origin_spacing(origin, [0.02; 3]),
            Frame::Simulation,
            B1Unit::MicroTesla,
            "synthetic",
        )
        .unwrap();
        let s = Samples::from_map(&map, &Placement::default(), &model).unwrap();
        let f0 = fit_joint(
            &model,
            &s,
            &JointOptions::default(),
            [1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .unwrap();
        let jac = f0.relative_amplitude.ci95;
        let f = fit_joint(
            &model,
            &s,
            &JointOptions {
                bootstrap: 200,
                seed: rep,
                ..Default::default()
            },
            [1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
        )
        .unwrap();
        let b = f.relative_amplitude.ci95;
        assert!(f.relative_amplitude.ci95_method.contains("bootstrap"));
        cover_boot += (b[0] <= a_true && a_true <= b[1]) as usize;
        cover_jac += (jac[0] <= a_true && a_true <= jac[1]) as usize;
        let p = f.relative_phase_deg.ci95;
        cover_phase += (p[0] <= d_true && d_true <= p[1]) as usize;
        if rep == 0 {
            println!(
                "{} samples; bootstrap CI {b:?}, Jacobian CI {jac:?}, phase CI {p:?}",
                s.m.len()
            );
        }
    }
    println!(
        "coverage of 100: amplitude bootstrap {cover_boot}, Jacobian {cover_jac}; phase bootstrap {cover_phase} ({:.1} s)",
        t0.elapsed().as_secs_f64()
    );
    assert!(cover_boot >= 90, "bootstrap amplitude coverage {cover_boot}/100");
    assert!(cover_phase >= 90, "bootstrap phase coverage {cover_phase}/100");
    assert!(cover_jac >= 90, "Jacobian amplitude coverage {cover_jac}/100");
}
