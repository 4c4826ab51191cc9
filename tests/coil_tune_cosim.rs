//! `coil tune --cosim`: the spectrum of a co-simulated circuit (mode finder against the analytic modes
//! of a circulant LC ring), the bad-input errors of the co-simulation (overlapping lumped elements,
//! ports where the coil has no rung/segment/capacitor, capacitors that cannot reach Larmor, an
//! unusable impedance matrix: input errors naming file, key and fix, exit 2), and the command's
//! outputs on a coarse grid (the feed S11 of the spectrum agrees with the feed report).

mod common;

use std::f64::consts::PI;

use num_complex::Complex64;
use rftwin::coil::cosim::{self, CapSite, Circuit, CosimPort, PortBasis};
use rftwin::coil::spectrum;
use rftwin::coil::CoilConfig;
use rftwin::error::Error;

const N: usize = 8;
const F0: f64 = 127.7e6;

/// Mutual inductance of rungs `k` apart (H): a ring of coupled inductors.
fn mutual(k: usize, l0: f64) -> f64 {
    let d = k.min(N - k) as i32;
    l0 * 0.2f64.powi(d)
}

/// The eigenvalue of the circulant inductance matrix for azimuthal order `m` (H).
fn lambda(m: usize, l0: f64) -> f64 {
    (0..N)
        .map(|k| mutual(k, l0) * (2.0 * PI * (m * k) as f64 / N as f64).cos())
        .sum()
}

/// A synthetic port basis: `N` rung capacitor ports (feeds across rungs 0 and 2) of a structure with
/// `Z = R + i w M` (M circulant, R = `r_ohm`), H at the isocentre of infinite lines at radius 0.12 m.
fn ring_basis(r_ohm: f64, l0: f64) -> PortBasis {
    let nb = 161;
    let band_hz: Vec<f64> = (0..nb).map(|i| F0 * (0.6 + 0.8 * i as f64 / (nb - 1) as f64)).collect();
    let i0 = (nb - 1) / 2;
    let ports: Vec<CosimPort> = (0..N)
        .map(|j| CosimPort {
            name: format!("rung{j}_c"),
            edge: (2, [j, 0, 0]),
            orient: 1.0,
            capacitor: Some(CapSite::Rung(j)),
            feed: match j {
                0 => Some(0),
                2 => Some(1),
                _ => None,
            },
        })
        .collect();
    let z = band_hz
        .iter()
        .map(|&f| {
            let w = 2.0 * PI * f;
            let mut z = vec![Complex64::default(); N * N];
            for r in 0..N {
                for c in 0..N {
                    z[r * N + c] = Complex64::new(if r == c { r_ohm } else { 0.0 }, w * mutual((r + N - c) % N, l0));
                }
            }
            z
        })
        .collect();
    let h = (0..N)
        .map(|j| {
            let phi = 2.0 * PI * j as f64 / N as f64;
            let s = 1.0 / (2.0 * PI * 0.12);
            [Complex64::new(s * phi.sin(), 0.0), Complex64::new(-s * phi.cos(), 0.0)]
        })
        .collect::<Vec<_>>();
    PortBasis {
        ports,
        freq_hz: F0,
        band_hz,
        i0,
        z,
        h_iso: vec![h; nb],
        e: Vec::new(),
        h: Vec::new(),
        run_steps: vec![0; N],
        fdtd_runs: 0,
        mirror_axes: Vec::new(),
        runs_converged: vec![true; N],
        seconds: 0.0,
    }
}

const L0: f64 = 200e-9;

/// Capacitance that puts mode 1 of the unloaded ring at F0.
fn c_tuned(l0: f64) -> f64 {
    1.0 / ((2.0 * PI * F0).powi(2) * lambda(1, l0))
}

#[test]
fn spectrum_finds_the_analytic_modes_of_a_circulant_lc_ring() {
    let pb = ring_basis(0.3, L0);
    let c = c_tuned(L0);
    // Feeds with a huge source impedance: they barely load the ring.
    let circ = Circuit {
        capacitance_f: vec![Some(c); N],
        source_ohm: (0..N).map(|j| (j == 0 || j == 2).then_some(1e9)).collect(),
    };
    let s = spectrum::spectrum(&pb, &circ).unwrap();
    let step = 0.8 * F0 / 160.0;
    for m in 0..=N / 2 {
        let want = 1.0 / (2.0 * PI * (lambda(m, L0) * c).sqrt());
        if want < pb.band_hz[1] || want > pb.band_hz[159] {
            continue;
        }
        let got: Vec<_> = s.modes.iter().filter(|x| x.m == m).collect();
        assert_eq!(got.len(), 1, "m = {m} at {want:.4e} Hz: found {:?}", s.modes);
        assert!(
            (got[0].freq_hz - want).abs() < 0.25 * step,
            "m = {m}: {} Hz vs analytic {want} Hz",
            got[0].freq_hz
        );
    }
    assert_eq!(s.modes.len(), N / 2 + 1, "{:?}", s.modes);
    let hom: Vec<_> = s.modes.iter().filter(|x| x.kind.starts_with("homogeneous")).collect();
    assert_eq!(hom.len(), 1, "{:?}", s.modes);
    assert_eq!(hom[0].m, 1);
    assert!((s.homogeneous_hz.unwrap() - F0).abs() < 0.25 * step);
    // The table and the CSV carry every band point.
    assert_eq!(s.to_csv().lines().count(), 1 + pb.band_hz.len());
    assert!(s.format_modes().contains("homogeneous"));
}

#[test]
fn smallest_singular_value_of_a_diagonal_matrix() {
    let a: Vec<Complex64> = (0..9)
        .map(|k| match k {
            0 => Complex64::new(3.0, 4.0),
            4 => Complex64::new(0.0, -0.5),
            8 => Complex64::new(2.0, 0.0),
            _ => Complex64::default(),
        })
        .collect();
    let (s, x) = spectrum::smallest_singular(&a, 3).unwrap();
    assert!((s - 0.5).abs() < 1e-9, "{s}");
    assert!(x[1].norm() > 0.999, "{x:?}");
}

#[test]
fn s_parameters_of_a_matched_reciprocal_circuit() {
    // Power-wave S of the loaded ring: reciprocal (S12 = S21) and passive (|S11|^2 + |S21|^2 <= 1).
    let pb = ring_basis(2.0, L0);
    let circ = Circuit {
        capacitance_f: vec![Some(c_tuned(L0)); N],
        source_ohm: (0..N).map(|j| (j == 0 || j == 2).then_some(50.0)).collect(),
    };
    let s = spectrum::spectrum(&pb, &circ).unwrap();
    for f in 0..pb.band_hz.len() {
        let (s11, s21, s12) = (s.s_db[0][0][f], s.s_db[1][0][f], s.s_db[0][1][f]);
        assert!((s21 - s12).abs() < 1e-6, "reciprocity at {f}: {s21} vs {s12}");
        let p = 10f64.powf(s11 / 10.0) + 10f64.powf(s21 / 10.0);
        assert!(p <= 1.0 + 1e-9, "passivity at {f}: {p}");
    }
}

fn lp8_coil(cap: &str) -> CoilConfig {
    lp8_coil_with(cap, 50.0)
}

fn lp8_coil_with(cap: &str, ohm: f64) -> CoilConfig {
    CoilConfig::from_toml_str(
        &format!(
            r#"
name = "lp8_synthetic"
type = "low_pass"
rungs = 8
rung_radius_m = 0.12
rung_length_m = 0.25
rung_width_m = 0.004
ring_width_m = 0.004
shield_radius_m = 0.17
shield_length_m = 0.45
freq_hz = 127.7e6
capacitance_f = {cap}
drive = "quadrature"
[[ports]]
angle_deg = 0.0
impedance_ohm = {ohm:e}
[[ports]]
angle_deg = 90.0
impedance_ohm = {ohm:e}
"#
        ),
        "lp8_synthetic.toml",
    )
    .unwrap()
}

fn input_key(e: Error) -> (String, String, String) {
    match e {
        Error::Input {
            source_name, key, fix, ..
        } => (source_name, key, fix),
        other => panic!("expected an input error, got {other}"),
    }
}

#[test]
fn auto_capacitors_tune_the_synthetic_ring_to_larmor() {
    // Feeds of 1e7 ohm: they barely load the ring, so the tuned value is the analytic one.
    let coil = lp8_coil_with("\"auto\"", 1e7);
    // A ring whose unloaded tuned capacitance is the circuit model's / 1.1: the tuning has to move.
    let c_circuit = rftwin::coil::tune(&coil).unwrap().rung_capacitance_f.unwrap();
    let l0 = L0 * c_tuned(L0) / (c_circuit / 1.1);
    let pb = ring_basis(0.3, l0);
    let (_, t) = cosim::tune(&coil, &pb, 1e-6).unwrap();
    assert!(t.rel_error.abs() <= 1e-6, "{t:?}");
    assert_eq!(t.circuit_model_rung_f, Some(c_circuit));
    let c = t.rung_capacitance_f.unwrap();
    assert!((c / c_tuned(l0) - 1.0).abs() < 1e-3, "{c} vs {}", c_tuned(l0));
    assert!((c / c_circuit - 1.0).abs() > 0.03, "{c} vs {c_circuit}");
}

#[test]
fn a_fixed_capacitor_that_cannot_reach_larmor_is_an_input_error() {
    let pb = ring_basis(0.3, L0);
    // 10x the tuned value: the homogeneous mode at ~0.32 x Larmor, outside the band.
    let coil = lp8_coil(&format!("{:e}", 10.0 * c_tuned(L0)));
    let (src, key, fix) = input_key(cosim::tune(&coil, &pb, 1e-5).unwrap_err());
    assert_eq!(src, "lp8_synthetic.toml");
    assert_eq!(key, "capacitance_f");
    assert!(fix.contains("capacitor"), "{fix}");
}

#[test]
fn an_unusable_impedance_matrix_is_an_input_error_naming_the_ports() {
    // Singular: ports 5 and 6 carry the same current in every run (their rows and columns equal).
    let mut pb = ring_basis(0.3, L0);
    pb.check("x.toml").unwrap();
    for z in pb.z.iter_mut() {
        for c in 0..N {
            z[6 * N + c] = z[5 * N + c];
        }
        for r in 0..N {
            z[r * N + 6] = z[r * N + 5];
        }
    }
    let e = pb.check("x.toml").unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("rung5_c") && msg.contains("rung6_c"), "{msg}");
    let (src, key, fix) = input_key(e);
    assert_eq!((src.as_str(), key.as_str()), ("x.toml", "ports"));
    assert!(fix.contains("--cell-mm"), "{fix}");
    // Not reciprocal.
    let mut pb = ring_basis(0.3, L0);
    let i0 = pb.i0;
    pb.z[i0][1] *= 1.5;
    let (_, key, _) = input_key(pb.check("x.toml").unwrap_err());
    assert_eq!(key, "ports");
    // Not finite.
    let mut pb = ring_basis(0.3, L0);
    pb.z[3][0] = Complex64::new(f64::NAN, 0.0);
    let (_, key, _) = input_key(pb.check("x.toml").unwrap_err());
    assert_eq!(key, "ports");
}

// ---------------------------------------------------------------------------------------------
// The command line: bad input exits 2 naming the file and key, before any FDTD run.
// ---------------------------------------------------------------------------------------------

const LP8: &str = r#"
name = "lp8_cli"
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
"#;

fn run_tune(dir: &std::path::Path, ports: &str, extra: &[&str]) -> std::process::Output {
    let coil = dir.join("coil.toml");
    std::fs::write(&coil, format!("{LP8}\n{ports}")).unwrap();
    common::bin()
        .args(["coil", "tune"])
        .arg(&coil)
        .args(["--cosim", "--cell-mm", "20", "--quiet"])
        .args(extra)
        .output()
        .unwrap()
}

fn expect_input_error(out: &std::process::Output, key: &str) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {err}");
    assert!(err.contains("coil.toml"), "the file is named: {err}");
    assert!(err.contains(key), "the key {key} is named: {err}");
}

#[test]
fn bad_port_positions_exit_2_with_file_and_key() {
    let dir = common::tmpdir("bad_ports");
    // A port in its own gap on the rung capacitor's grid edge (the capacitor sits at z = 0).
    let out = run_tune(
        &dir,
        "[[ports]]\nangle_deg = 0.0\nz_m = 0.0\n[[ports]]\nangle_deg = 90.0\nz_m = 0.1\n",
        &[],
    );
    expect_input_error(&out, "ports[0].z_m");
    assert!(String::from_utf8_lossy(&out.stderr).contains("same grid edge"));
    // A port gap beyond the end of the rung.
    let out = run_tune(
        &dir,
        "[[ports]]\nangle_deg = 0.0\nz_m = 0.3\n[[ports]]\nangle_deg = 90.0\nz_m = 0.1\n",
        &[],
    );
    expect_input_error(&out, "ports[0].z_m");
    // A port at an azimuth where there is no rung.
    let out = run_tune(&dir, "[[ports]]\nangle_deg = 10.0\n[[ports]]\nangle_deg = 100.0\n", &[]);
    expect_input_error(&out, "ports[0].angle_deg");
    // A ring port on a low-pass coil: no ring capacitor to sit across.
    let out = run_tune(
        &dir,
        "[[ports]]\nangle_deg = 22.5\nelement = \"ring\"\n[[ports]]\nangle_deg = 112.5\nelement = \"ring\"\n",
        &[],
    );
    expect_input_error(&out, "ports[0]");
    // --phantom without --cosim is refused by the argument parser (exit 2).
    let coil = &dir.join("coil.toml");
    let out = common::bin()
        .args(["coil", "tune"])
        .arg(&coil)
        .args(["--phantom", "phantoms/ref_gel_cylinder.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn cosim_tune_writes_the_spectrum_and_its_s11_matches_the_feed_report() {
    let dir = common::tmpdir("tune_out");
    let out_dir = dir.join("out");
    let ph = concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/ref_gel_cylinder.toml");
    let out = run_tune(
        &dir,
        "[[ports]]\nangle_deg = 0.0\nz_m = 0.1\n[[ports]]\nangle_deg = 90.0\nz_m = 0.1\n",
        &["--phantom", ph, "--json", "--out", out_dir.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for f in ["spectrum.json", "spectrum.csv", "spectrum.png", "modes.png"] {
        assert!(out_dir.join(f).is_file(), "{f}");
    }
    let larmor = j["spectrum"]["larmor_hz"].as_f64().unwrap();
    assert!(j["cosim"]["rel_error"].as_f64().unwrap().abs() <= 1e-5);
    let c = j["cosim"]["rung_capacitance_f"].as_f64().unwrap();
    let c0 = j["circuit_model"]["rung_capacitance_f"].as_f64().unwrap();
    assert!((j["cosim_over_circuit_model"].as_f64().unwrap() - c / c0).abs() < 1e-12);
    // S11 at Larmor from the spectrum's power waves equals the feed report's (Zin - R)/(Zin + R).
    let freqs: Vec<f64> = serde_json::from_value(j["spectrum"]["freq_hz"].clone()).unwrap();
    let i0 = freqs.iter().position(|&f| f == larmor).expect("Larmor is a band point");
    for p in 0..2 {
        let s_spec = j["spectrum"]["s_db"][p][p][i0].as_f64().unwrap();
        let s_feed = j["feeds"][p]["s11_db"].as_f64().unwrap();
        assert!((s_spec - s_feed).abs() < 1e-6, "feed {p}: {s_spec} vs {s_feed}");
    }
    // The homogeneous mode is found near Larmor and is an m = 1 mode.
    let modes = j["spectrum"]["modes"].as_array().unwrap();
    let hom: Vec<_> = modes
        .iter()
        .filter(|m| m["kind"].as_str().unwrap().starts_with("homogeneous"))
        .collect();
    assert_eq!(hom.len(), 1, "{modes:?}");
    assert_eq!(hom[0]["m"].as_u64(), Some(1));
    assert!(
        hom[0]["offset_from_larmor"].as_f64().unwrap().abs() < 0.01,
        "{:?}",
        hom[0]
    );
}

/// The twin's basis cache checksums the co-simulation circuit JSON after reading it back, so every
/// number must survive a JSON round trip exactly (serde_json's `float_roundtrip`); otherwise every
/// co-simulation basis reads as "checksum mismatch (corrupted)" and is recomputed.
#[test]
fn json_numbers_round_trip_exactly() {
    let mut x = 0.123_456_789_012_345_6f64;
    let mut vals = vec![
        378.471495854,
        2.974292581157934e-12,
        127699972.15980823,
        -2.1801246489130526e-7,
    ];
    for _ in 0..2000 {
        x = (x * 3.999_999 * (1.0 - x)).abs();
        vals.push(x * 10f64.powi((x * 40.0) as i32 - 20));
    }
    let v = serde_json::json!({ "v": vals });
    let text = v.to_string();
    let back: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(back.to_string(), text);
}
