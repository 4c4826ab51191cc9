//! Bad input is a clear error naming the item and the fix, never a panic.

use rftwin::error::Error;
use rftwin::fdtd::{Boundary, FieldKind, LumpedSpec, Simulation, SimulationSpec, SourceSpec, Waveform};
use rftwin::grid::{Axis, Grid, Material, VoxelModel};

fn model(n: usize) -> VoxelModel {
    VoxelModel::new(Grid::uniform([0.0; 3], [0.01; 3], [n; 3]).unwrap(), Material::vacuum()).unwrap()
}

fn input_error(e: Error) -> String {
    match &e {
        Error::Input { .. } => e.to_string(),
        other => panic!("expected an input error, got {other:?}"),
    }
}

#[test]
fn zero_or_negative_cell_size() {
    for d in [0.0, -0.01, f64::NAN] {
        let msg = input_error(Axis::uniform(0.0, d, 10).unwrap_err());
        assert!(msg.contains("cell_size_m") && msg.contains("> 0"), "{msg}");
    }
    let msg = input_error(Axis::from_nodes(vec![0.0, 0.01, 0.01]).unwrap_err());
    assert!(msg.contains("strictly increasing"), "{msg}");
}

#[test]
fn courant_above_one() {
    let mut spec = SimulationSpec::new(model(8));
    spec.courant = 1.01;
    let msg = input_error(Simulation::new(spec).err().unwrap());
    assert!(msg.contains("courant") && msg.contains("<= 1"), "{msg}");
}

#[test]
fn element_off_grid_on_pec_face_or_on_pec_edge() {
    let mut spec = SimulationSpec::new(model(8));
    spec.lumped.push(LumpedSpec::resistor("r_off", 2, [4, 4, 20], 50.0));
    let msg = input_error(Simulation::new(spec).err().unwrap());
    assert!(msg.contains("r_off") && msg.contains("outside the grid"), "{msg}");

    let mut spec = SimulationSpec::new(model(8));
    spec.lumped.push(LumpedSpec::resistor("r_face", 2, [0, 4, 3], 50.0));
    let msg = input_error(Simulation::new(spec).err().unwrap());
    assert!(msg.contains("r_face") && msg.contains("PEC boundary face"), "{msg}");

    let mut m = model(8);
    m.pec_wire([0.04, 0.04, 0.02], [0.04, 0.04, 0.06]).unwrap();
    let mut spec = SimulationSpec::new(m);
    spec.lumped.push(LumpedSpec::resistor("r_pec", 2, [4, 4, 3], 50.0));
    let msg = input_error(Simulation::new(spec).err().unwrap());
    assert!(msg.contains("r_pec") && msg.contains("PEC"), "{msg}");

    let mut spec = SimulationSpec::new(model(20)).all_boundaries(Boundary::cpml(6));
    spec.sources.push(SourceSpec::EdgeCurrent {
        comp: 0,
        node: [2, 10, 10],
        current_a: 1.0,
        waveform: Waveform::cw(1e8),
    });
    let msg = input_error(Simulation::new(spec).err().unwrap());
    assert!(msg.contains("CPML"), "{msg}");
}

#[test]
fn unknown_material() {
    let m = model(4);
    let msg = input_error(m.material_index("titanium").unwrap_err());
    assert!(msg.contains("titanium") && msg.contains("air"), "{msg}");
}

#[test]
fn probe_outside_domain() {
    let sim = Simulation::new(SimulationSpec::new(model(8))).unwrap();
    let msg = input_error(
        sim.dft_probe("p_out", FieldKind::E, &[0], [0..4, 0..4, 5..12], &[1e8], 1)
            .err()
            .unwrap(),
    );
    assert!(msg.contains("p_out") && msg.contains("outside the grid"), "{msg}");
}

#[test]
fn bad_material_values() {
    let mut m = model(4);
    let msg = input_error(
        m.add_material(Material::dielectric("bad", 0.5, 0.1, 1000.0))
            .unwrap_err(),
    );
    assert!(msg.contains("eps_r"), "{msg}");
    let msg = input_error(
        m.add_material(Material::dielectric("bad2", 2.0, -0.1, 1000.0))
            .unwrap_err(),
    );
    assert!(msg.contains("sigma_s_per_m"), "{msg}");
}
