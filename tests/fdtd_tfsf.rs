//! Total-field/scattered-field box: checks of the plane-wave helper (the validation cases, defined
//! once in `rftwin::fdtd::validation`, run in `validation_cases.rs`).

use num_complex::Complex64;
use rftwin::fdtd::tfsf::{yee_time_step, IncidentField, PlaneWave};
use rftwin::fdtd::validation::{tfsf_run, TfsfCase};
use rftwin::fdtd::{Operator, OperatorSpec};
use rftwin::grid::{Grid, Material, VoxelModel, C0};

/// The analytic wavenumber (no dispersion matching) also stays below -40 dB at 30 cells per
/// wavelength, but leaks more than the matched one (the matched wave solves the discrete equations).
#[test]
fn analytic_wavenumber_leaks_more_than_matched() {
    let a = tfsf_run(TfsfCase::Vacuum, false, None).unwrap();
    let m = tfsf_run(TfsfCase::Vacuum, true, None).unwrap();
    println!(
        "analytic k: leakage {:.1} dB, NRMSE {:.2e}; matched k: leakage {:.1} dB, NRMSE {:.2e}",
        a.outside_db, a.interior_nrmse, m.outside_db, m.interior_nrmse
    );
    assert!(a.outside_db < -40.0 && a.interior_nrmse < 0.02);
    assert!(m.outside_db < a.outside_db - 6.0, "matched k should leak clearly less");
}

/// `yee_time_step` follows the operator's rule exactly.
#[test]
fn yee_time_step_matches_operator() {
    for (d, f) in [
        ([0.01, 0.01, 0.01], Some(1e9)),
        ([0.001, 0.002, 0.0015], Some(64e6)),
        ([0.005; 3], None),
    ] {
        let grid = Grid::uniform([0.0; 3], d, [6, 6, 6]).unwrap();
        let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
        let op = Operator::new(
            model,
            &OperatorSpec {
                courant: 0.98,
                reference: Default::default(),
                mu_r_min: 1.0,
                boundaries: std::array::from_fn(|_| [rftwin::fdtd::Boundary::Pec, rftwin::fdtd::Boundary::Pec]),
                cw_freq_hz: f,
                graded_kernels: false,
            },
        )
        .unwrap();
        assert_eq!(op.dt, yee_time_step(d, 0.98, f));
    }
}

/// Plane-wave phasors: Maxwell's relations hold (|E|/|H| = eta in vacuum, E perpendicular to the
/// direction, decay length 1/|Im k| in the gel equals the skin-depth formula).
#[test]
fn plane_wave_relations() {
    let e0 = [
        Complex64::new(0.0, 0.0),
        Complex64::new(1.0, 0.0),
        Complex64::new(0.0, 0.0),
    ];
    let pw = PlaneWave::new(1e9, 1.0, 0.0, [1.0, 0.0, 0.0], e0, [0.0; 3]).unwrap();
    let eta = pw.e([0.1, 0.0, 0.0])[1].norm() / pw.h([0.1, 0.0, 0.0])[2].norm();
    assert!((eta - 376.730_313_668).abs() < 1e-6, "eta = {eta}");
    // Phase lag of one wavelength in vacuum.
    let lambda = C0 / 1e9;
    let e = pw.e([lambda / 4.0, 0.0, 0.0])[1];
    assert!((e - Complex64::new(0.0, -1.0)).norm() < 1e-9, "e(lambda/4) = {e}");
    // Gel: alpha = w sqrt(mu eps/2 (sqrt(1 + (sigma/(w eps))^2) - 1)).
    let g = Material::astm_gel();
    let pw = PlaneWave::new(64e6, g.eps_r, g.sigma_s_per_m, [0.0, 0.0, 1.0], e0, [0.0; 3]).unwrap();
    let w = 2.0 * std::f64::consts::PI * 64e6;
    let eps = 8.854_187_812_8e-12 * g.eps_r;
    let mu = 1.256_637_062_12e-6;
    let x = g.sigma_s_per_m / (w * eps);
    let alpha = w * (mu * eps / 2.0 * ((1.0 + x * x).sqrt() - 1.0)).sqrt();
    assert!(
        (-pw.k.im - alpha).abs() / alpha < 1e-9,
        "alpha {} vs {}",
        -pw.k.im,
        alpha
    );
    let m = pw
        .clone()
        .yee_matched([0.001; 3], yee_time_step([0.001; 3], 0.98, Some(64e6)))
        .unwrap();
    assert!(
        (m.k - pw.k).norm() / pw.k.norm() < 1e-4,
        "matched k {} vs {}",
        m.k,
        pw.k
    );
}

/// Bad input: a TF/SF box reaching into the CPML, and a thin wire crossing the TF/SF surface, are
/// clear errors naming the key.
#[test]
fn tfsf_bad_input() {
    use rftwin::fdtd::{Boundary, Simulation, SimulationSpec, TfsfSpec, ThinWire};
    use std::sync::Arc;
    let d = 0.01;
    let grid = Grid::uniform([0.0; 3], [d; 3], [24, 24, 24]).unwrap();
    let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    let e0 = [
        Complex64::new(0.0, 0.0),
        Complex64::new(0.0, 0.0),
        Complex64::new(1.0, 0.0),
    ];
    let pw = Arc::new(PlaneWave::new(1e9, 1.0, 0.0, [1.0, 0.0, 0.0], e0, [0.0; 3]).unwrap());
    let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(6));
    spec.tfsf = Some(TfsfSpec::new([5, 8, 8], [16, 16, 16], pw.clone()));
    let e = Simulation::new(spec.clone()).err().unwrap().to_string();
    assert!(e.contains("tfsf.lo/hi[x]") && e.contains("CPML"), "{e}");
    spec.tfsf = Some(TfsfSpec::new([8, 8, 8], [16, 16, 16], pw));
    spec.thin_wires
        .push(ThinWire::straight([0.12, 0.12, 0.10], [0.12, 0.12, 0.20], 0.001));
    let e = Simulation::new(spec).err().unwrap().to_string();
    assert!(e.contains("thin_wires[0]") && e.contains("TF/SF"), "{e}");
}

/// `CourantReference::FastestMedium`: in a box of gel the step is sqrt(eps_r) times the vacuum one;
/// a block of air brings back the vacuum step; a lower permeability from an extension shortens it.
#[test]
fn fastest_medium_step() {
    use rftwin::fdtd::CourantReference;
    let d = [0.002; 3];
    let build = |air: bool, reference: CourantReference, mu_r_min: f64| {
        let grid = Grid::uniform([0.0; 3], d, [8, 8, 8]).unwrap();
        let mut model = VoxelModel::new(grid, Material::astm_gel()).unwrap();
        if air {
            let a = model.add_material(Material::vacuum()).unwrap();
            // Edges average their four cells: an edge with air all round needs a 2x2 block.
            for (i, j, k) in [
                (3, 3, 3),
                (3, 4, 3),
                (4, 3, 3),
                (4, 4, 3),
                (3, 3, 4),
                (3, 4, 4),
                (4, 3, 4),
                (4, 4, 4),
            ] {
                model.set_cell(i, j, k, a);
            }
        }
        Operator::new(
            model,
            &OperatorSpec {
                courant: 0.9,
                reference,
                mu_r_min,
                boundaries: std::array::from_fn(|_| [rftwin::fdtd::Boundary::Pec, rftwin::fdtd::Boundary::Pec]),
                cw_freq_hz: None,
                graded_kernels: false,
            },
        )
        .unwrap()
    };
    let vac = build(false, CourantReference::Vacuum, 1.0);
    assert_eq!(vac.dt, yee_time_step(d, 0.9, None));
    let gel = build(false, CourantReference::FastestMedium, 1.0);
    let eps = Material::astm_gel().eps_r;
    assert!(
        (gel.dt / vac.dt - eps.sqrt()).abs() < 1e-9 * eps.sqrt(),
        "{} {}",
        gel.dt,
        vac.dt
    );
    assert!((gel.max_speed_rel - 1.0 / eps.sqrt()).abs() < 1e-12);
    let with_air = build(true, CourantReference::FastestMedium, 1.0);
    assert!((with_air.dt / vac.dt - 1.0).abs() < 1e-12);
    let low_mu = build(false, CourantReference::FastestMedium, 0.25);
    assert!((low_mu.dt / gel.dt - 0.5).abs() < 1e-12);
    // The vacuum reference still honours a permeability below 1.
    let vac_low_mu = build(false, CourantReference::Vacuum, 0.25);
    assert!((vac_low_mu.dt / vac.dt - 0.5).abs() < 1e-12);
}
