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
// ------------------------------------------------------------------------------------------------
// Simulation files (`rftwin fdtd run FILE.toml`).

/// The shared small dipole run (valid as it is).
fn sim_file() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/small_gel_dipole.toml")).unwrap()
}

fn sim_error(text: &str) -> String {
    match rftwin::fdtd::config::from_toml_str(text, "sim.toml") {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => input_error(e),
    }
}

#[test]
fn sim_file_fixture_is_accepted() {
    let p = rftwin::fdtd::config::from_toml_str(&sim_file(), "sim.toml").unwrap();
    assert_eq!(p.ports, vec![("feed".to_string(), 50.0)]);
    assert_eq!(p.probes.len(), 1);
}

#[test]
fn three_different_mistakes_are_reported_in_one_error() {
    // A number out of range, an unknown background material, a probe box with one corner: three
    // checks of different kinds, all listed in one error (before, only the first was).
    let text = format!("background = \"glass\"\n{}", sim_file())
        .replace("eps_r = 80.0", "eps_r = 0.5")
        .replace("field = \"E\"", "field = \"E\"\nmin_m = [0.0, 0.0, 0.0]");
    let m = sim_error(&text);
    for w in [
        "sim.toml: ",
        "3 problems",
        "materials[0].eps_r",
        "background",
        "unknown material 'glass'",
        "probes[0]",
        "give both min_m and max_m",
    ] {
        assert!(m.contains(w), "lacks {w:?}: {m}");
    }
    // Each mistake alone is one problem with its own message.
    let one = sim_error(&format!("background = \"glass\"\n{}", sim_file()));
    assert_eq!(
        one,
        "sim.toml: background: unknown material 'glass': use one of: air, pec, gel"
    );
}

#[test]
fn problems_of_placing_things_on_the_grid_are_reported_together() {
    let text = sim_file()
        .replace("at_m = [0.05, 0.06, 0.055]", "at_m = [0.05, 0.06, 0.5]")
        .replace("material = \"gel\"", "material = \"jelly\"");
    let m = sim_error(&text);
    for w in ["2 problems", "shapes[0].material", "jelly", "elements[0].at_m", "outside the grid"] {
        assert!(m.contains(w), "lacks {w:?}: {m}");
    }
}

#[test]
fn every_enum_key_rejects_an_unknown_value_naming_the_key_and_the_choices() {
    let base = sim_file();
    let cylinder = base.replace(
        "box = { min_m = [0.07, 0.0, 0.0], max_m = [0.12, 0.12, 0.12] }",
        "cylinder = { axis = \"w\", centre_m = [0.1, 0.06, 0.06], radius_m = 0.02, start_m = 0.0, end_m = 0.1 }",
    );
    let sheet = format!("{base}\n[[sheets]]\nnormal = \"w\"\nat_m = 0.01\nmin_m = [0.0, 0.0, 0.0]\nmax_m = [0.1, 0.1, 0.1]\n");
    let cases = [
        (base.replace("mode = \"cw\"", "mode = \"sweep\""), "run.mode", "expected `cw` or `pulse`"),
        (
            base.replace("cpml_layers = 6", "cpml_layers = 6\nx = [\"pec\", \"absorbing\"]"),
            "boundaries.x[1]",
            "expected one of `pec`, `pmc`, `cpml`",
        ),
        (
            base.replace("kind = \"port\"", "kind = \"diode\""),
            "elements[0].kind",
            "expected one of `resistor`, `capacitor`, `inductor`, `rlc`, `port`, `current`",
        ),
        (base.replace("axis = \"z\"", "axis = \"w\""), "elements[0].axis", "`x`"),
        (base.replace("field = \"E\"", "field = \"B\""), "probes[0].field", "`E`"),
        (cylinder, "shapes[0].cylinder.axis", "`x`"),
        (sheet, "sheets[0].normal", "`x`"),
    ];
    for (text, key, choices) in cases {
        let m = sim_error(&text);
        assert!(m.starts_with(&format!("sim.toml: {key}: unknown variant")), "{key}: {m}");
        assert!(m.contains(choices) && m.contains(" at line "), "{key}: {m}");
        assert!(m.contains("use one of the expected values"), "{key}: {m}");
    }
    // Capitals are accepted where they were: axes and probe fields.
    let caps = base.replace("axis = \"z\"", "axis = \"Z\"").replace("field = \"E\"", "field = \"e\"");
    assert!(rftwin::fdtd::config::from_toml_str(&caps, "sim.toml").is_ok());
}

