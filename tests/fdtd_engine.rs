//! The fused E/H wavefront step must reproduce the plain two-pass update.

use rftwin::fdtd::{engine, Boundary, Simulation, SimulationSpec};
use rftwin::grid::{Grid, Material, Shape, VoxelModel};

#[test]
fn fused_step_matches_two_pass() {
    let grid = Grid::uniform([0.0; 3], [0.005; 3], [30, 22, 26]).unwrap();
    let mut model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    let gel = model.add_material(Material::astm_gel()).unwrap();
    model
        .fill(&Shape::boxed("gel", [0.04, 0.03, 0.03], [0.11, 0.08, 0.09]), gel)
        .unwrap();
    model.pec_wire([0.05, 0.05, 0.02], [0.05, 0.05, 0.1]).unwrap();
    let mut spec = SimulationSpec::new(model);
    spec.boundaries = [
        [Boundary::cpml(5), Boundary::Pmc],
        [Boundary::Pmc, Boundary::cpml(5)],
        [Boundary::cpml(5), Boundary::cpml(6)],
    ];
    let a = Simulation::new(spec.clone()).unwrap();
    let mut fa = a.fields.clone();
    // Pseudo-random initial fields.
    let mut s: u64 = 7;
    for v in fa.e.iter_mut().chain(fa.h.iter_mut()) {
        for x in v.iter_mut() {
            s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            *x = ((s >> 40) as f32 / (1u64 << 24) as f32) - 0.5;
        }
    }
    let mut fb = fa.clone();
    let hooks_a = rftwin::fdtd::cpml::Cpml::new(&a.op).unwrap();
    let hooks_b = rftwin::fdtd::cpml::Cpml::new(&a.op).unwrap();
    let pmc_a = rftwin::fdtd::pmc::PmcFaces::new(&a.op).unwrap();
    let pmc_b = rftwin::fdtd::pmc::PmcFaces::new(&a.op).unwrap();
    for _ in 0..20 {
        engine::update_e(&a.op, &mut fa, &[&pmc_a, &hooks_a]);
        engine::update_h(&a.op, &mut fa, &[&pmc_a, &hooks_a]);
        engine::step_fused(&a.op, &mut fb, &[&pmc_b, &hooks_b]);
    }
    let mut max_diff = 0.0f32;
    let mut max_val = 0.0f32;
    for (x, y) in fa.e.iter().chain(fa.h.iter()).zip(fb.e.iter().chain(fb.h.iter())) {
        for (p, q) in x.iter().zip(y) {
            max_diff = max_diff.max((p - q).abs());
            max_val = max_val.max(p.abs());
        }
    }
    assert!(max_val > 0.0);
    // Same arithmetic per value: identical results.
    assert_eq!(
        max_diff, 0.0,
        "fused and two-pass differ by {max_diff} (max |field| {max_val})"
    );
}

/// An ideal current source and a port on the same edge see the same radiation resistance.
#[test]
fn current_source_and_port_agree_on_radiation_resistance() {
    use rftwin::fdtd::{LumpedSpec, SteadyState, Waveform};
    let d = 0.01;
    let n = 48;
    let freq = 2.997_924_58e8 / (24.0 * d);
    let run = |elem: LumpedSpec| {
        let grid = Grid::uniform([0.0; 3], [d; 3], [n; 3]).unwrap();
        let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
        let mut spec = SimulationSpec::new(model).all_boundaries(Boundary::cpml(8));
        spec.cw_freq_hz = Some(freq);
        spec.port_freqs_hz = vec![freq];
        spec.lumped.push(elem);
        let mut sim = Simulation::new(spec).unwrap();
        sim.run_cw(
            &SteadyState {
                tol: 1e-5,
                min_periods: 6,
                max_periods: 300,
            },
            &mut [],
        )
        .unwrap();
        sim.lumped.impedance(0)[0]
    };
    let c = [n / 2; 3];
    let z_port = run(LumpedSpec::port("p", 2, c, 50.0, 1.0, Waveform::cw(freq)));
    let z_src = run(LumpedSpec::current_source("s", 2, c, 1e-3, Waveform::cw(freq)));
    assert!(z_port.re > 0.0 && z_src.re > 0.0);
    let rel = ((z_src.re - z_port.re) / z_port.re).abs();
    assert!(
        rel < 0.01,
        "port Re Z {} vs current source Re Z {}",
        z_port.re,
        z_src.re
    );
    let reli = ((z_src.im - z_port.im) / z_port.im).abs();
    assert!(
        reli < 0.01,
        "port Im Z {} vs current source Im Z {}",
        z_port.im,
        z_src.im
    );
}
