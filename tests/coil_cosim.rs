//! The circuit co-simulation (coil::cosim) against a direct FDTD run of the same tuned circuit
//! (consistency: same engine, so this checks the port algebra, not the physics), reciprocity of the
//! co-simulated impedance matrix, and its bad-input errors.

use num_complex::Complex64;
use rftwin::coil::cosim::{self, Circuit, PortRunOptions};
use rftwin::coil::fdtd_model::{self, Gaps, MeshOptions, ModelKind};
use rftwin::coil::{CoilConfig, PhantomConfig};
use rftwin::fdtd::{FieldKind, Probe, Simulation, SteadyState, YeeVector};

/// A small shielded low-pass 8-rung coil (the shape of the openEMS reference coil) with feeds in
/// their own gaps next to the +z ring.
fn lp8(z_m: &str) -> CoilConfig {
    let text = format!(
        r#"
name = "lp8_test"
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
[[ports]]
angle_deg = 0.0
element = "rung"
{z_m}
[[ports]]
angle_deg = 90.0
element = "rung"
{z_m}
"#
    );
    CoilConfig::from_toml_str(&text, "lp8_test.toml").expect("coil")
}

fn gel() -> PhantomConfig {
    PhantomConfig::from_toml_str(
        r#"
name = "gel"
shape = "cylinder"
radius_m = 0.075
length_m = 0.20
[material]
name = "gel"
eps_r = 80.0
sigma_s_per_m = 0.47
density_kg_per_m3 = 1000.0
k_w_per_m_k = 0.54
c_j_per_kg_k = 4150.0
[position]
landmark_in_phantom_m = [0.0, 0.0, 0.0]
landmark_from_isocentre_m = [0.0, 0.0, 0.0]
"#,
        "gel.toml",
    )
    .expect("phantom")
}

fn mesh_opts(cell: f64) -> MeshOptions {
    MeshOptions {
        cell_m: cell,
        ..MeshOptions::default()
    }
}

#[test]
fn cosim_reproduces_a_direct_run_of_the_tuned_coil() {
    let coil = lp8("z_m = 0.1");
    let ph = gel();
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::Rungs), &mesh_opts(0.015)).unwrap();
    let ports = cosim::cosim_ports(&coil, &mut mesh).unwrap();
    assert_eq!(ports.len(), 10, "8 rung capacitors + 2 feeds in their own gaps");
    let pb = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &PortRunOptions::default(), None).unwrap();
    assert!(pb.runs_converged.iter().all(|c| *c), "every port run decays: {:?}", pb.run_steps);
    // Reciprocity: the structure is passive and reciprocal, so Z is symmetric.
    let n = pb.n();
    let z = &pb.z[pb.i0];
    let zmax = z.iter().map(|x| x.norm()).fold(0.0, f64::max);
    for r in 0..n {
        for c in 0..r {
            let d = (z[r * n + c] - z[c * n + r]).norm();
            assert!(d < 0.02 * zmax, "Z[{r}][{c}] = {} vs Z[{c}][{r}] = {}", z[r * n + c], z[c * n + r]);
        }
    }
    let (circ, tuning) = cosim::tune(&coil, &pb, 1e-5).unwrap();
    assert!(tuning.rel_error.abs() < 1e-4, "{tuning:?}");
    let c = tuning.rung_capacitance_f.unwrap();
    assert!(c > 0.3 * tuning.circuit_model_rung_f.unwrap() && c < 3.0 * tuning.circuit_model_rung_f.unwrap());
    // Quadrature drive: feed 2 lags by 90 degrees.
    let emf = [Complex64::new(1.0, 0.0), Complex64::new(0.0, -1.0)];
    let sol = pb.solve(&circ, &emf).unwrap();
    let (_, h_cosim) = pb.fields(&sol.i);
    // The direct run: the same circuit built into one CW FDTD run.
    let spec = cosim::direct_spec(&mesh, &pb, &circ, &emf).unwrap();
    let mut sim = Simulation::new(spec).unwrap();
    let m = sim.steps_per_period().unwrap();
    let mut probe = sim
        .dft_probe("h", FieldKind::H, &[0, 1, 2], mesh.interior.clone(), &[coil.freq_hz], (m / 4).max(1))
        .unwrap();
    let ss = SteadyState {
        tol: 2e-4,
        min_periods: 10,
        max_periods: 2000,
    };
    let stats = sim.run_cw(&ss, &mut [&mut probe as &mut dyn Probe]).unwrap();
    assert!(stats.converged, "direct run did not settle: {stats:?}");
    // Port currents.
    let imax = sol.i.iter().map(|x| x.norm()).fold(0.0, f64::max);
    for j in 0..n {
        let (_, i_direct) = sim.lumped().phasors(j)[0];
        // Lumped current: the current into the structure (sign as the co-simulation's).
        let d = (i_direct - sol.i[j]).norm();
        assert!(d < 0.01 * imax, "port {j}: direct {i_direct} vs cosim {}", sol.i[j]);
    }
    // B1+ over the interior.
    let g = &sim.model().grid;
    let h_direct = YeeVector::from_probe(&probe, 0, g.node_pos(0, 0, 0), sim.cell_size_m()).unwrap();
    let b_d = rftwin::coil::b1_plus(&h_direct).unwrap();
    let b_c = rftwin::coil::b1_plus(&h_cosim).unwrap();
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (a, b) in b_d.data.iter().zip(b_c.data.iter()) {
        num += (a - b).norm_sqr() as f64;
        den += a.norm_sqr() as f64;
    }
    let nrmse = (num / den).sqrt();
    assert!(nrmse < 0.01, "B1+ cosim vs direct: relative RMS difference {nrmse}");
}

#[test]
fn bad_ports_are_refused_with_the_key() {
    let ph = gel();
    // A port beyond the end of the rung.
    let coil = lp8("z_m = 0.3");
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::Rungs), &mesh_opts(0.015)).unwrap();
    let e = cosim::cosim_ports(&coil, &mut mesh).unwrap_err().to_string();
    assert!(e.contains("ports[0].z_m") && e.contains("not on the rung"), "{e}");
    // A port on the capacitor's own edge.
    let coil = lp8("z_m = 0.0");
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::Rungs), &mesh_opts(0.015)).unwrap();
    let e = cosim::cosim_ports(&coil, &mut mesh).unwrap_err().to_string();
    assert!(e.contains("ports[0].z_m") && e.contains("same grid edge"), "{e}");
    // z_m on a ring port is a coil-file error.
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/coils/body_3t_hp16.toml"))
        .unwrap()
        .replacen("impedance_ohm = 50.0", "impedance_ohm = 50.0\nz_m = 0.1", 1);
    let e = CoilConfig::from_toml_str(&text, "hp16.toml").unwrap_err().to_string();
    assert!(e.contains("ports[0].z_m"), "{e}");
}

#[test]
fn feeds_across_capacitors_share_their_port() {
    let coil = lp8("");
    let ph = gel();
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::Rungs), &mesh_opts(0.015)).unwrap();
    let ports = cosim::cosim_ports(&coil, &mut mesh).unwrap();
    assert_eq!(ports.len(), 8);
    assert_eq!(ports.iter().filter(|p| p.feed.is_some() && p.capacitor.is_some()).count(), 2);
    let circ = Circuit::uniform(&coil, &ports, Some(3e-12), None);
    assert_eq!(circ.source_ohm.iter().flatten().count(), 2);
}

#[test]
fn mirror_symmetric_ports_share_runs_exactly() {
    // Feeds across rung capacitors: the port edges are the eight capacitor gaps, mirror-symmetric
    // about the x = 0 and y = 0 planes.
    let coil = lp8("");
    let ph = gel();
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::Rungs), &mesh_opts(0.015)).unwrap();
    let ports = cosim::cosim_ports(&coil, &mut mesh).unwrap();
    let sym = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &PortRunOptions::default(), None).unwrap();
    assert!(sym.mirror_axes.contains(&0) && sym.mirror_axes.contains(&1), "{:?}", sym.mirror_axes);
    assert!(sym.fdtd_runs < ports.len(), "{} runs for {} ports", sym.fdtd_runs, ports.len());
    let full = cosim::compute_port_basis(
        &mesh,
        &ports,
        coil.freq_hz,
        &PortRunOptions {
            use_symmetry: false,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(full.fdtd_runs, ports.len());
    let n = ports.len();
    for f in [0, sym.i0, sym.band_hz.len() - 1] {
        let zmax = full.z[f].iter().map(|x| x.norm()).fold(0.0, f64::max);
        for (a, b) in sym.z[f].iter().zip(&full.z[f]) {
            assert!((a - b).norm() < 1e-6 * zmax, "Z differs at band point {f}: {a} vs {b}");
        }
    }
    let circ = Circuit::uniform(&coil, &ports, Some(2.8e-12), None);
    let emf = [Complex64::new(1.0, 0.0), Complex64::new(0.0, -1.0)];
    let a = cosim::b1_plus_of(&sym, &circ, &emf).unwrap();
    let b = cosim::b1_plus_of(&full, &circ, &emf).unwrap();
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (x, y) in a.data.iter().zip(b.data.iter()) {
        assert!(x.re.is_finite(), "mirrored field has NaN inside the field box");
        num += (x - y).norm_sqr() as f64;
        den += y.norm_sqr() as f64;
    }
    assert!((num / den).sqrt() < 1e-5, "B1+ with and without mirrors: {}", (num / den).sqrt());
    assert_eq!(n, 8);
}

#[test]
fn shorted_mirror_ports_restore_symmetry_exactly() {
    // Feeds in their own gaps at z = 0.1 m in rungs 0 and 2: no mirror maps the port set onto
    // itself. Shorted ports at the feeds' mirror images restore the x = 0 and y = 0 mirrors; they
    // are removed afterwards by circuit algebra, so the basis is the one made without symmetry
    // (up to the runs' truncation), from fewer runs.
    let coil = lp8("z_m = 0.1");
    let ph = gel();
    let mut mesh = fdtd_model::mesh(&coil, Some(&ph), ModelKind::Resonant(Gaps::Rungs), &mesh_opts(0.015)).unwrap();
    let ports = cosim::cosim_ports(&coil, &mut mesh).unwrap();
    assert_eq!(ports.len(), 10);
    let sym = cosim::compute_port_basis(&mesh, &ports, coil.freq_hz, &PortRunOptions::default(), None).unwrap();
    let full = cosim::compute_port_basis(
        &mesh,
        &ports,
        coil.freq_hz,
        &PortRunOptions {
            use_symmetry: false,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    assert_eq!(full.fdtd_runs, ports.len());
    assert!(sym.fdtd_runs < ports.len(), "{} runs for {} ports", sym.fdtd_runs, ports.len());
    assert_eq!(sym.n(), ports.len(), "the shorted ports are removed from the basis");
    assert_eq!(sym.run_steps.len(), ports.len());
    for f in [0, sym.i0, sym.band_hz.len() - 1] {
        let zmax = full.z[f].iter().map(|x| x.norm()).fold(0.0, f64::max);
        for (a, b) in sym.z[f].iter().zip(&full.z[f]) {
            assert!((a - b).norm() < 2e-3 * zmax, "Z differs at band point {f}: {a} vs {b}");
        }
    }
    let (circ, t_sym) = cosim::tune(&coil, &sym, 1e-5).unwrap();
    let (_, t_full) = cosim::tune(&coil, &full, 1e-5).unwrap();
    let (cs, cf) = (t_sym.rung_capacitance_f.unwrap(), t_full.rung_capacitance_f.unwrap());
    assert!((cs - cf).abs() < 1e-3 * cf, "tuned C {cs} vs {cf}");
    let emf = [Complex64::new(1.0, 0.0), Complex64::new(0.0, -1.0)];
    let a = cosim::b1_plus_of(&sym, &circ, &emf).unwrap();
    let b = cosim::b1_plus_of(&full, &circ, &emf).unwrap();
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for (x, y) in a.data.iter().zip(b.data.iter()) {
        assert!(x.re.is_finite(), "mirrored field has NaN inside the field box");
        num += (x - y).norm_sqr() as f64;
        den += y.norm_sqr() as f64;
    }
    assert!((num / den).sqrt() < 5e-3, "B1+ with shorted mirror ports and without: {}", (num / den).sqrt());
}
