//! Lumped elements in the engine (the fused step against the two-pass update is a unit test in
//! `src/fdtd/engine.rs`: it needs the operator and fields, private to `fdtd`).

use rftwin::fdtd::{Boundary, Simulation, SimulationSpec};
use rftwin::grid::{Grid, Material, VoxelModel};

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
        sim.lumped().impedance(0)[0]
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
