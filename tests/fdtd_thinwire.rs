//! Sub-cell thin wires: checks of the moment-method reference and the staircasing (the validation
//! cases, defined once in `rftwin::fdtd::validation`, run in `validation_cases.rs`).

use rftwin::fdtd::validation::hallen_dipole_impedance;
use rftwin::grid::C0;

/// The moment-method reference: converged in the number of segments, and the classic thin
/// half-wave dipole values (Balanis fig. 8.x: 73 + 42.5i Ohm in the thin limit by induced EMF;
/// finite radius lowers the resonance).
#[test]
fn hallen_reference_converges_and_matches_classic_values() {
    let f = 300e6;
    let l = 0.5 * C0 / f;
    let a = l / 1000.0;
    let z40 = hallen_dipole_impedance(f, l, a, 40);
    let z80 = hallen_dipole_impedance(f, l, a, 80);
    let z160 = hallen_dipole_impedance(f, l, a, 160);
    println!("Z(40) = {z40:.2}, Z(80) = {z80:.2}, Z(160) = {z160:.2}");
    assert!((z80 - z160).norm() / z160.norm() < 0.01);
    assert!((z160.re - 80.0).abs() < 12.0, "R = {}", z160.re);
    assert!(z160.im > 20.0 && z160.im < 60.0, "X = {}", z160.im);
}

/// The insulated wire resonates longer than the bare wire: its current wavenumber is well below
/// the bare wire's (half-wave resonant length pi / Re k).
#[test]
fn insulated_wire_resonates_longer() {
    let (kb, _, _) = rftwin::fdtd::validation::wire_gel_run(false).unwrap();
    let (ki, _, _) = rftwin::fdtd::validation::wire_gel_run(true).unwrap();
    let (lb, li) = (std::f64::consts::PI / kb.re, std::f64::consts::PI / ki.re);
    println!(
        "half-wave resonant length: bare {:.1} cm, insulated {:.1} cm",
        100.0 * lb,
        100.0 * li
    );
    assert!(li > 1.5 * lb);
}

/// Centre-fed dipole in free space (0.41 m = 0.465 wavelength at 340 MHz, 1 cm cells, radius 0.4 to
/// 0.025 cells) against the Hallen moment method: |Z - Z_ref| / |Z_ref| < 5 % (the target).
/// Radius dependence: the reactance falls at every step as the radius falls, and from 0.2 to 0.025
/// cells (where the thin-wire kernel of the reference holds well) by the reference's amount within
/// 20 %.
#[test]
fn dipole_vs_moment_method() {
    let mut x = Vec::new();
    for r in [0.4, 0.2, 0.1, 0.05, 0.025] {
        let (o, z) = rftwin::fdtd::validation::dipole_case(r).unwrap();
        let err = (o.z_in - z).norm() / z.norm();
        println!(
            "r/d {r}: Z_fdtd = {:.2}, Z_mom = {:.2}, |dZ|/|Z| = {err:.3} ({} periods, {:.1} s)",
            o.z_in, z, o.stats.periods, o.stats.seconds
        );
        assert!(err < 0.05, "r/d {r}: {err}");
        x.push((o.z_in.im, z.im));
    }
    for w in x.windows(2) {
        assert!(
            w[1].0 < w[0].0 && w[1].1 < w[0].1,
            "reactance does not fall with the radius: {x:?}"
        );
    }
    let (d, dr) = (x[1].0 - x[4].0, x[1].1 - x[4].1);
    println!("X(0.2) - X(0.025): FDTD {d:.2} Ohm, moment method {dr:.2} Ohm");
    assert!((d / dr - 1.0).abs() < 0.2, "{d} vs {dr}");
}

/// Staircasing: a straight wire on a diagonal of the grid; the staircase is 3/sqrt(3) times longer
/// and is reported as such; a self-crossing path and a zero-length path are clear errors.
#[test]
fn staircase_lengths_and_errors() {
    use rftwin::fdtd::ThinWire;
    use rftwin::grid::Grid;
    let g = Grid::uniform([0.0; 3], [0.001; 3], [20, 20, 20]).unwrap();
    let w = ThinWire::straight([0.002, 0.002, 0.002], [0.012, 0.012, 0.012], 0.0002);
    let st = w.staircase(&g, "w").unwrap();
    assert_eq!(st.edges.len(), 30);
    assert!((st.length_m - 0.030).abs() < 1e-12);
    assert!((st.length_error_m() - (0.030 - 0.010 * 3f64.sqrt())).abs() < 1e-12);
    // Arc lengths increase by one cell per edge.
    for (i, e) in st.edges.iter().enumerate() {
        assert!((e.arc_m - (i as f64 + 0.5) * 0.001).abs() < 1e-12);
    }
    let back = ThinWire {
        nodes_m: vec![[0.002, 0.005, 0.005], [0.010, 0.005, 0.005], [0.004, 0.005, 0.005]],
        ..w.clone()
    };
    let e = back.staircase(&g, "thin_wires[1]").unwrap_err().to_string();
    assert!(e.contains("thin_wires[1]") && e.contains("twice"), "{e}");
    let zero = ThinWire {
        nodes_m: vec![[0.0051, 0.005, 0.005], [0.0052, 0.005, 0.005]],
        ..w.clone()
    };
    assert!(zero.staircase(&g, "w").unwrap_err().to_string().contains("zero length"));
    let fat = ThinWire { radius_m: 0.0006, ..w };
    assert!(fat.staircase(&g, "w").unwrap_err().to_string().contains("radius_m"));
}

/// CPML + TF/SF + insulated thin wire + lumped load compose: in a small gel box at 2 mm, the current
/// the wire probe reads on the gap edge (loop integral of H) equals the load resistor's own current
/// plus the gel's conduction and displacement current on that edge, within 2 %.
#[test]
fn tfsf_wire_lumped_compose() {
    let o = rftwin::fdtd::validation::implant_box_run([0.06, 0.04, 0.04], 0.002, 0.03).unwrap();
    let i_loop = o.wire_current[o.gap_edge].1;
    let err = (i_loop - o.gap_current_expected).norm() / o.gap_current_expected.norm();
    println!(
        "{} cells, {} periods, {:.1} s: loop current {:.4e}, expected {:.4e} (load {:.4e}), error {:.2e}",
        o.cells, o.stats.periods, o.stats.seconds, i_loop, o.gap_current_expected, o.load_current, err
    );
    assert!(o.load_current.norm() > 0.0);
    assert!(err < 0.02);
}
