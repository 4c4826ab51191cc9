//! Unit tests of the simulation: the extension lists and the run loops' stability checks (they
//! reach the operator and fields, private to `fdtd`).

use std::sync::Arc;

use num_complex::Complex64;

use super::*;
use crate::fdtd::{PlaneWave, Waveform};
use crate::grid::{Grid, Material};

fn model(n: usize) -> VoxelModel {
    VoxelModel::new(Grid::uniform([0.0; 3], [0.01; 3], [n; 3]).unwrap(), Material::vacuum()).unwrap()
}

/// A 28-cell vacuum box with CPML and a PMC face, a port, an edge source, a CW TF/SF box and a
/// thin wire inside it.
fn full_spec(with_tfsf: bool) -> (SimulationSpec, TfsfSpec) {
    let d = 0.01;
    let freq = 3e8;
    let mut spec = SimulationSpec::new(model(28)).all_boundaries(Boundary::cpml(6));
    spec.boundaries[2][1] = Boundary::Pmc;
    spec.cw_freq_hz = Some(freq);
    spec.port_freqs_hz = vec![freq];
    spec.lumped
        .push(LumpedSpec::port("p", 2, [10, 10, 10], 50.0, 1.0, Waveform::cw(freq)));
    spec.sources.push(SourceSpec::EdgeCurrent {
        comp: 1,
        node: [13, 9, 12],
        current_a: 1e-3,
        waveform: Waveform::cw(freq),
    });
    spec.thin_wires.push(ThinWire::straight(
        [11.0 * d, 14.0 * d, 12.0 * d],
        [14.0 * d, 14.0 * d, 12.0 * d],
        0.2 * d,
    ));
    let e0 = [
        Complex64::new(0.0, 0.0),
        Complex64::new(0.0, 0.0),
        Complex64::new(1.0, 0.0),
    ];
    let pw = PlaneWave::new(freq, 1.0, 0.0, [1.0, 0.0, 0.0], e0, [0.12; 3]).unwrap();
    let t = TfsfSpec::new([8; 3], [18; 3], Arc::new(pw));
    if with_tfsf {
        spec.tfsf = Some(t.clone());
    }
    (spec, t)
}

#[test]
fn extensions_run_in_the_documented_order() {
    let (spec, _) = full_spec(true);
    let sim = Simulation::new(spec).unwrap();
    let hooks: Vec<&str> = sim.hooks.iter().map(|h| h.name()).collect();
    let exts: Vec<&str> = sim.exts.iter().map(|e| e.name()).collect();
    assert_eq!(hooks, ["pmc", "cpml"]);
    assert_eq!(exts, ["lumped", "sources", "tfsf", "thin_wires"]);
    assert_eq!(sim.lumped().len(), 1);
    assert_eq!(sim.thin_wires().wires.len(), 1);
    assert!(sim.tfsf().is_some());
    // The TF/SF wave is CW: no end time, so a decay run is refused; its ramp counts.
    assert_eq!(sim.end_time(), None);
    assert!(sim.ramp_end() > 0.0);
    let by_parts = sim.fields.bytes()
        + sim.op.bytes()
        + sim.hooks.iter().map(|h| h.bytes()).sum::<usize>()
        + sim.tfsf().unwrap().bytes()
        + sim.thin_wires().bytes();
    assert!(sim.core_bytes() >= by_parts && sim.core_bytes() > sim.fields.bytes() + sim.op.bytes());
}

/// A TF/SF box given after `new` runs where `new` puts it (after the sources): the fields are
/// bit-identical to a simulation built with it.
#[test]
fn replace_tfsf_inserts_it_in_its_place() {
    let (spec, t) = full_spec(true);
    let mut a = Simulation::new(spec).unwrap();
    let (spec, _) = full_spec(false);
    let mut b = Simulation::new(spec).unwrap();
    assert!(b.tfsf().is_none());
    b.replace_tfsf(&t).unwrap();
    let names: Vec<&str> = b.exts.iter().map(|e| e.name()).collect();
    assert_eq!(names, ["lumped", "sources", "tfsf", "thin_wires"]);
    a.run_steps(60, &mut []).unwrap();
    b.run_steps(60, &mut []).unwrap();
    assert!(a.fields.e[2].iter().any(|v| *v != 0.0));
    assert_eq!(a.fields.e, b.fields.e);
    assert_eq!(a.fields.h, b.fields.h);
    assert!(b.replace_tfsf(&t).is_err(), "refused once the run has started");
}

#[test]
fn decay_run_needs_pulsed_drive() {
    let mut spec = SimulationSpec::new(model(12));
    spec.sources.push(SourceSpec::EdgeCurrent {
        comp: 2,
        node: [6, 6, 6],
        current_a: 1.0,
        waveform: Waveform::GaussPulse {
            f0_hz: 1e9,
            bandwidth_hz: 1e9,
        },
    });
    let sim = Simulation::new(spec.clone()).unwrap();
    let end = sim.end_time().unwrap();
    assert_eq!(end, spec.sources[0].waveform().end_time().unwrap());
    spec.lumped
        .push(LumpedSpec::current_source("s", 2, [4, 4, 4], 1.0, Waveform::cw(1e9)));
    let mut sim = Simulation::new(spec).unwrap();
    let msg = sim.run_until_decay(40.0, 100, &mut []).unwrap_err().to_string();
    assert!(msg.contains("pulsed sources"), "{msg}");
}

#[test]
fn nan_is_reported_as_instability() {
    let mut sim = Simulation::new(SimulationSpec::new(model(8))).unwrap();
    sim.fields.e[2][sim.op.layout.idx(4, 4, 4)] = f32::NAN;
    match sim.run_steps(10, &mut []) {
        Err(Error::Unstable { what, .. }) => assert!(what.contains("NaN"), "{what}"),
        other => panic!("expected Unstable, got {other:?}"),
    }
}

#[test]
fn energy_growth_is_reported() {
    // Tamper with the update coefficients (ca > 1 amplifies E every step) to emulate an unstable
    // scheme: the CW runner must stop with an instability error, not return garbage.
    let mut spec = SimulationSpec::new(model(12));
    spec.cw_freq_hz = Some(1e9);
    spec.sources.push(SourceSpec::EdgeCurrent {
        comp: 2,
        node: [6, 6, 6],
        current_a: 1.0,
        waveform: Waveform::cw(1e9),
    });
    let mut sim = Simulation::new(spec).unwrap();
    for segs in sim.op.segments.iter_mut() {
        for s in segs.segs.iter_mut() {
            s.ca = 1.2;
        }
    }
    match sim.run_cw(&SteadyState::default(), &mut []) {
        Err(Error::Unstable { what, .. }) => {
            assert!(what.contains("NaN") || what.contains("grew"), "{what}")
        }
        other => panic!("expected Unstable, got {other:?}"),
    }
}
