//! Issue 16 "Bad input" for the co-simulation: each case is refused with an input error naming the
//! file or option, the key and the fix (exit 2), never a panic. Cases covered elsewhere:
//! a port gap on a capacitor's grid edge, off the rung, at an azimuth with no rung, a ring port on a
//! coil without ring capacitors (tests/coil_tune_cosim.rs `bad_port_positions_exit_2_with_file_and_key`,
//! tests/coil_cosim.rs `bad_ports_are_refused_with_the_key`), a fixed capacitor that cannot reach
//! Larmor and a singular / non-reciprocal / non-finite impedance matrix (tests/coil_tune_cosim.rs),
//! `--fit-caps` without `--model cosim` (tests/twin_gate.rs). Here: lumped elements that the grid
//! snaps onto one edge, a circuit that is singular at Larmor, and a capacitor fit asked for more
//! parameters than the map can identify.

mod common;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};
use rftwin::coil::cosim::{self, CapSite, Circuit, CosimPort, PortBasis};
use rftwin::coil::fdtd_model::{self, Gaps, MeshOptions, ModelKind};
use rftwin::coil::CoilConfig;
use rftwin::error::Error;
use rftwin::fdtd::{FieldKind, YeeVector};
use rftwin::grid::RegularField;

fn lp8(ports: &str) -> CoilConfig {
    CoilConfig::from_toml_str(
        &format!(
            r#"
name = "lp8_bad"
type = "low_pass"
rungs = 8
rung_radius_m = 0.12
rung_length_m = 0.25
rung_width_m = 0.004
ring_width_m = 0.004
shield_radius_m = 0.17
shield_length_m = 0.45
freq_hz = 127.7e6
capacitance_f = "auto"
drive = "quadrature"
{ports}
"#
        ),
        "lp8_bad.toml",
    )
    .expect("coil")
}

fn input(e: Error) -> (String, String, String, String) {
    let text = e.to_string();
    match e {
        Error::Input {
            source_name, key, fix, ..
        } => (source_name, key, fix, text),
        other => panic!("expected an input error (exit 2), got {other}"),
    }
}

/// Overlapping lumped elements: a feed gap 2 mm from the rung capacitor, which a 15 mm grid puts on
/// the capacitor's own edge. The error names the coil file, the port's z_m and what to do.
#[test]
fn lumped_elements_on_one_grid_edge_are_refused() {
    let coil = lp8("[[ports]]\nangle_deg = 0.0\nz_m = 0.002\n[[ports]]\nangle_deg = 90.0\nz_m = 0.1\n");
    let opt = MeshOptions {
        cell_m: 0.015,
        ..MeshOptions::default()
    };
    let mut mesh = fdtd_model::mesh(&coil, None, ModelKind::Resonant(Gaps::Rungs), &opt).unwrap();
    let e = cosim::cosim_ports(&coil, &mut mesh).unwrap_err();
    let exit = e.exit_code();
    let (src, key, fix, text) = input(e);
    assert_eq!((src.as_str(), key.as_str()), ("lp8_bad.toml", "ports[0].z_m"), "{text}");
    assert!(text.contains("same grid edge") && text.contains("rung0_c"), "{text}");
    assert!(fix.contains("move the port"), "{fix}");
    assert_eq!(exit, 2);
}

/// Two ports that see the same inductance (perfectly coupled, Z = jwL [[1, 1], [1, 1]]) with
/// capacitors of 1/(2 w^2 L) each: det(Z + Z_C) = Z_C (2 jwL + Z_C) = 0 at Larmor, a singular circuit.
/// An input error on the capacitors, not an internal one.
fn resonant_pair(c_f: Option<f64>) -> (PortBasis, Circuit) {
    let f0 = 127.7e6;
    let w = 2.0 * std::f64::consts::PI * f0;
    let l = 100e-9;
    let port = |j: usize| CosimPort {
        name: format!("rung{j}_c"),
        edge: (2, [j, 0, 0]),
        orient: 1.0,
        capacitor: Some(CapSite::Rung(j)),
        feed: None,
    };
    let pb = PortBasis {
        ports: vec![port(0), port(1)],
        freq_hz: f0,
        band_hz: vec![0.9 * f0, f0, 1.1 * f0],
        i0: 1,
        z: [0.9, 1.0, 1.1].iter().map(|s| vec![Complex64::new(0.0, s * w * l); 4]).collect(),
        h_iso: vec![vec![[Complex64::new(1.0, 0.0), Complex64::default()]; 2]; 3],
        e: vec![],
        h: vec![unit_h(), unit_h()],
        run_steps: vec![0; 2],
        fdtd_runs: 0,
        mirror_axes: vec![],
        runs_converged: vec![true; 2],
        seconds: 0.0,
    };
    let c = c_f.unwrap_or(1.0 / (2.0 * w * w * l));
    let circ = Circuit {
        capacitance_f: vec![Some(c); 2],
        source_ohm: vec![None; 2],
    };
    (pb, circ)
}

/// A uniform H_x field per ampere on 6 x 6 x 6 staggered points (1 cm), for the fit's sampling.
fn unit_h() -> YeeVector {
    let d = 0.01;
    let comp = |o: [f64; 3], v: f32| RegularField::new(Array3::from_elem((6, 6, 6), Complex32::new(v, 0.0)), o, [d; 3]).unwrap();
    YeeVector::new(
        FieldKind::H,
        [comp([0.0, d / 2.0, d / 2.0], 1.0), comp([d / 2.0, 0.0, d / 2.0], 0.0), comp([d / 2.0, d / 2.0, 0.0], 0.0)],
    )
    .unwrap()
}

#[test]
fn a_singular_circuit_is_an_input_error_on_the_capacitors() {
    let (pb, circ) = resonant_pair(None);
    let e = pb.solve(&circ, &[]).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let (_, key, fix, text) = input(e);
    assert_eq!(key, "capacitance_f", "{text}");
    assert!(text.contains("singular") && fix.contains("capacitance_f"), "{text} / {fix}");
    // Detuned by 10 %: solvable.
    let w = 2.0 * std::f64::consts::PI * 127.7e6;
    let (pb, circ) = resonant_pair(Some(1.1 / (2.0 * w * w * 100e-9)));
    assert!(pb.solve(&circ, &[]).is_ok());
}

/// A capacitor fit on fewer than 10 map samples per parameter: refused naming --fit-caps (exit 2),
/// before any fit; a prior outside (0, 0.5) names --cap-prior.
#[test]
fn a_capacitor_fit_the_map_cannot_identify_names_the_option() {
    let coil = lp8("[[ports]]\nangle_deg = 0.0\n[[ports]]\nangle_deg = 90.0\n");
    let (pb, circ) = resonant_pair(Some(1e-12));
    let pts: Vec<[f64; 3]> = (0..5).map(|i| [0.02 + 0.005 * i as f64, 0.025, 0.025]).collect();
    let m = vec![1.0; pts.len()];
    let fit = |prior: f64| {
        rftwin::twin::circuit_fit::fit_capacitors(&coil, &pb, &circ, &pts, &m, [1.0, 0.0, -1.0], 0.01, 1.0, prior)
    };
    let e = fit(0.05).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let (src, key, fix, text) = input(e);
    assert_eq!((src.as_str(), key.as_str()), ("command line", "--fit-caps"), "{text}");
    assert!(text.contains("5 map samples for 5 parameters"), "{text}");
    assert!(fix.contains("drop --fit-caps"), "{fix}");
    let (_, key, _, _) = input(fit(0.7).unwrap_err());
    assert_eq!(key, "--cap-prior");
}
