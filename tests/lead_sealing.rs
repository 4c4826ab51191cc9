//! Issue 18 items 1 and 6: insulation that seals, electrodes anywhere along a lead, and the order
//! of heating the physics gives.
//!
//! The cases of the table (a 20 cm Ti wire, 1 mm diameter, 0.25 mm PTFE jacket, in the ASTM
//! gel: both ends bare for 1 cm, fully sealed, 1 cm bare tip with the far end sealed) and the 15 cm
//! lead with a 5 mm tip electrode, in a 64 MHz plane wave with E = 100 V/m along the wire (the
//! uniform tangential field of the transmission-line reference), local TF/SF run at 2 mm with the
//! sub-cell thin wire, 1 g SAR and 15 min of Pennes heating.
//!
//! The sizes of the effects come from the transmission-line reference of insulated leads in the
//! ASTM gel (King's line parameters, rod-electrode and sealed-cap loads, Acikel & Atalar 2011 style;
//! `scripts/reference/lead_tl.py`, branch leadref, `tests/data/lead_tl/summary.txt`), at 64 MHz and
//! L = 20 cm, E_tan = 1 V/m:
//! - both ends bare: tip electrode current 1.32 mA, electrode heating proxy 5.76e-5 W;
//! - bare tip, far end sealed: tip 1.07 mA, 3.84e-5 W (0.67 of both bare); sealed cap current
//!   3.8 uA (0.35 % of the tip's: its I^2 heating ~1e-5 of the tip's);
//! - both ends sealed: cap current 2.7 uA (0.2 % of a bare end's).
//! So a sealed end heats far less than a bare electrode, a fully sealed wire far less than one with
//! bare ends, and a bare tip of a wire sealed at the far end heats a little less than each bare end
//! of the wire bare at both (0.67 in electrode power). The sealed end still sees the leakage through
//! the side wall of the coating near the end (a distributed, weak source), so the checks bound the
//! excess over the background (implant removed), not the absolute value.

use std::sync::Arc;

use num_complex::Complex64;
use rftwin::coil::PhantomConfig;
use rftwin::dosimetry::thermal::{Probe as ThermalProbe, ThermalSettings};
use rftwin::fdtd::PlaneWave;
use rftwin::implant::local::{run_local, LocalOptions};
use rftwin::implant::placement::{place, Placement};
use rftwin::implant::Implant;

mod common;

fn phantom() -> PhantomConfig {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    PhantomConfig::load(&root.join("phantoms/astm_f2182.toml")).unwrap()
}

fn wire(bare_ends: [f64; 2]) -> String {
    format!(
        "kind = \"insulated_wire\"\nmaterial = \"ti6al4v\"\nlength_m = 0.2\nradius_m = 0.0005\n\
         [insulation]\nthickness_m = 0.00025\neps_r = 2.1\nbare_ends_m = [{}, {}]\n",
        bare_ends[0], bare_ends[1]
    )
}

/// What one run gives near each end of the conductor (tip = first point, far = last point).
#[derive(Debug)]
struct Ends {
    /// Peak 1 g SAR (W/kg) of the cubes centred within 15 mm of the end, with the implant.
    sar_tip: f64,
    sar_far: f64,
    /// The same with the implant removed (background).
    bg_tip: f64,
    bg_far: f64,
    /// Temperature rise after 15 min (K) at the end (point probe), with the implant.
    dt_tip: f64,
    dt_far: f64,
    /// The same with the implant removed.
    dt_bg_tip: f64,
    dt_bg_far: f64,
    /// Peak 1 g SAR (W/kg) within 15 mm of each extra point asked for.
    sar_at: Vec<f64>,
}

fn run(implant_toml: &str, name: &str, at: &[f64]) -> Ends {
    let ph = phantom();
    let implant = Implant::from_toml_str(implant_toml, name).unwrap();
    let placed = place(&implant, &ph, &Placement::new("test", [0.0; 3], [0.0, 0.0, 1.0], 0.0).unwrap()).unwrap();
    let m = &ph.material;
    let c = ph.centre_m();
    let e0 = [0.0, 0.0, 100.0].map(|v| Complex64::new(v, 0.0));
    let pw = Arc::new(PlaneWave::new(64e6, m.eps_r, m.sigma_s_per_m, [1.0, 0.0, 0.0], e0, c).unwrap());
    let opt = LocalOptions {
        cell_m: 0.002,
        pad_m: 0.01,
        ..LocalOptions::default()
    };
    let lf = run_local(&placed, &ph, pw, &opt).unwrap();
    let (tip, far) = (placed.path_m[0], *placed.path_m.last().unwrap());
    let probes = [ThermalProbe::point("tip", tip), ThermalProbe::point("far", far)];
    let settings = ThermalSettings {
        duration_s: 900.0,
        dt_s: 10.0,
        initial_temperature_c: 22.0,
        cem43_map: false,
    };
    let dose = lf.dosimetry(&probes, &settings).unwrap();
    let g = &lf.cells;
    let near = |sar: &ndarray::Array3<f32>, p: [f64; 3]| -> f64 {
        let mut best = 0.0f64;
        for ((i, j, k), v) in sar.indexed_iter() {
            let q = g.position(i, j, k);
            let d2: f64 = (0..3).map(|a| (q[a] - p[a]).powi(2)).sum();
            if d2 < 0.015f64.powi(2) {
                best = best.max(*v as f64);
            }
        }
        best
    };
    let s_with = &dose.sar_1g[0].sar_w_per_kg;
    let s_bg = &dose.sar_1g[1].sar_w_per_kg;
    let sar_at = at
        .iter()
        .map(|&s| near(s_with, rftwin::implant::model::point_at(&placed.path_m, s).0))
        .collect();
    let e = Ends {
        sar_tip: near(s_with, tip),
        sar_far: near(s_with, far),
        bg_tip: near(s_bg, tip),
        bg_far: near(s_bg, far),
        dt_tip: dose.thermal[0].probes[0].final_rise_k,
        dt_far: dose.thermal[0].probes[1].final_rise_k,
        dt_bg_tip: dose.thermal[1].probes[0].final_rise_k,
        dt_bg_far: dose.thermal[1].probes[1].final_rise_k,
        sar_at,
    };
    eprintln!("{name}: {e:?}");
    e
}

/// The table: with sealed insulation, a sealed end is far cooler than a bare electrode, a
/// fully sealed wire heats far less than the same wire with bare ends, and the bare tip of a wire
/// sealed at its far end is the hot spot.
#[test]
fn sealed_ends_heat_less_than_bare_electrodes() {
    let both = run(&wire([0.01, 0.01]), "both ends bare", &[]);
    let sealed = run(&wire([0.0, 0.0]), "both ends sealed", &[]);
    let tip = run(&wire([0.01, 0.0]), "bare tip, far end sealed", &[]);
    let excess = |s: f64, bg: f64| s - bg;
    // Symmetric cases are symmetric (the tip end and the far end of a straight wire in a uniform field).
    assert!((both.sar_tip / both.sar_far - 1.0).abs() < 0.02, "{both:?}");
    assert!((sealed.sar_tip / sealed.sar_far - 1.0).abs() < 0.02, "{sealed:?}");
    // A bare end concentrates the field: its 1 g SAR is many times the background.
    let bare_excess = excess(both.sar_tip, both.bg_tip);
    assert!(bare_excess > 10.0 * both.bg_tip, "{both:?}");
    // Fully sealed: the cap passes 0.2 % of a bare end's current (TL); the SAR excess at its ends,
    // from the side-wall leakage, stays below 5 % of the bare end's, and its ends heat < 10 % as much.
    let sealed_excess = excess(sealed.sar_tip, sealed.bg_tip);
    assert!(sealed_excess < 0.05 * bare_excess, "sealed {sealed_excess} vs bare {bare_excess} W/kg excess");
    let (sealed_dt, both_dt) = (sealed.dt_tip - sealed.dt_bg_tip, both.dt_tip - both.dt_bg_tip);
    assert!(sealed_dt < 0.1 * both_dt, "sealed {sealed_dt} K vs bare ends {both_dt} K excess rise");
    // Bare tip, far end sealed: the sealed end (0.35 % of the tip current) is far cooler than the tip.
    let tip_excess = excess(tip.sar_tip, tip.bg_tip);
    let far_excess = excess(tip.sar_far, tip.bg_far);
    assert!(far_excess < 0.05 * tip_excess, "sealed end {far_excess} vs bare tip {tip_excess} W/kg excess");
    let (far_dt, tip_dt) = (tip.dt_far - tip.dt_bg_far, tip.dt_tip - tip.dt_bg_tip);
    assert!(far_dt < 0.1 * tip_dt, "sealed end {far_dt} K vs bare tip {tip_dt} K excess rise");
    // The sealed far end is as cool as the ends of the fully sealed wire (within a factor 2 of its
    // excess), not like a bare end.
    assert!(far_excess < 2.0 * sealed_excess + 0.5, "{far_excess} vs {sealed_excess}");
    // The bare tip of the wire sealed at the far end against a bare end of the wire bare at both:
    // electrode power 0.67 of it in the TL reference (its stated accuracy away from resonance:
    // current +-30 %, so power 0.67 x [0.49, 1.69]); the 1 g SAR excess ratio must fall in that band.
    let ratio = tip_excess / bare_excess;
    assert!((0.33..=1.13).contains(&ratio), "tip-only / both-bare tip SAR excess {ratio}");
}

/// The 15 cm lead with a 5 mm tip electrode (issue 18: sealed far end 32.6 K, tip 17.8 K at 1 mm
/// before the fix): the sealed far end is far cooler than the tip electrode. A lead with a sealed tip
/// and one ring electrode 3 cm from the tip heats at the ring, not at its sealed ends.
#[test]
fn lead_heats_at_its_electrodes() {
    let lead = |extra: &str| {
        format!(
            "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0002\n{extra}\n[insulation]\nthickness_m = 0.0003\neps_r = 3.5\n\
             [path]\npoints_m = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.15]]\n"
        )
    };
    let tip = run(&lead("tip_electrode_length_m = 0.005"), "15 cm lead, 5 mm tip electrode", &[]);
    let tip_excess = tip.sar_tip - tip.bg_tip;
    let far_excess = tip.sar_far - tip.bg_far;
    assert!(tip_excess > 10.0 * tip.bg_tip, "{tip:?}");
    assert!(far_excess < 0.05 * tip_excess, "sealed end {far_excess} vs tip {tip_excess} W/kg excess");
    let (far_dt, tip_dt) = (tip.dt_far - tip.dt_bg_far, tip.dt_tip - tip.dt_bg_tip);
    assert!(far_dt < 0.1 * tip_dt, "sealed end {far_dt} K vs tip {tip_dt} K excess rise");
    // A ring electrode (5 mm, centred 3.25 cm from the tip; the tip sealed).
    let ring = run(
        &lead("[[electrodes]]\nstart_m = 0.03\nlength_m = 0.005\nradius_m = 0.0004"),
        "15 cm lead, ring electrode",
        &[0.0325],
    );
    // The ring lies 3 cm from the sealed tip, near the current minimum of that end, so it heats far
    // less than a tip electrode; but it is the hot spot: its 1 g SAR excess is several times that of
    // either sealed end.
    let ring_excess = ring.sar_at[0] - ring.bg_tip;
    let ends_excess = (ring.sar_tip - ring.bg_tip).max(ring.sar_far - ring.bg_far);
    assert!(ring_excess > ring.bg_tip && ring_excess > 3.0 * ends_excess, "{ring:?}");
}

/// Electrodes in implant files: multi-electrode leads parse, their bare parts are in order, and bad
/// electrodes are errors naming the file and the key.
#[test]
fn electrodes_parse_and_bad_ones_are_refused() {
    let head = "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0004\n[insulation]\nthickness_m = 0.0002\neps_r = 3.0\n\
                [path]\npoints_m = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.3]]\n";
    // A DBS-like lead: four 1.5 mm rings 0.5 mm apart from 1.5 mm above a sealed tip.
    let rings: String = (0..4)
        .map(|i| format!("[[electrodes]]\nstart_m = {}\nlength_m = 0.0015\nradius_m = 0.000635\n", 0.0015 + 0.002 * i as f64))
        .collect();
    let dbs = Implant::from_toml_str(&format!("{head}{rings}"), "dbs.toml").unwrap();
    assert_eq!(dbs.electrodes.len(), 4);
    assert_eq!(dbs.bare_m.len(), 4);
    assert!((dbs.bare_m[3][0] - 0.0075).abs() < 1e-12 && (dbs.bare_m[3][1] - 0.009).abs() < 1e-12);
    assert!(!dbs.is_bare(0.0005) && dbs.is_bare(0.002) && !dbs.is_bare(0.0032) && !dbs.is_bare(0.29));
    assert!((dbs.bare_radius_m(0) - 0.000635).abs() < 1e-15);
    // A pacing lead: tip electrode and a ring.
    let pacing = Implant::from_toml_str(
        &format!(
            "tip_electrode_length_m = 0.002\n{head}[[electrodes]]\nstart_m = 0.012\nlength_m = 0.003\n"
        ),
        "pacing.toml",
    )
    .unwrap();
    assert_eq!(pacing.bare_m, vec![[0.0, 0.002], [0.012, 0.015]]);
    assert!((pacing.bare_radius_m(0) - 0.0004).abs() < 1e-15 && (pacing.bare_radius_m(1) - 0.0004).abs() < 1e-15);
    // TOML order of the keys: top-level keys must come before the tables.
    let bad = |extra_top: &str, electrodes: &str| {
        let text = format!(
            "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0004\n{extra_top}\n[insulation]\nthickness_m = 0.0002\neps_r = 3.0\n\
             [path]\npoints_m = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.3]]\n{electrodes}"
        );
        Implant::from_toml_str(&text, "bad_lead.toml").unwrap_err().to_string()
    };
    let cases = [
        // Outside the lead.
        ("", "[[electrodes]]\nstart_m = 0.299\nlength_m = 0.002\n", "electrodes[0].start_m", "past the end"),
        ("", "[[electrodes]]\nstart_m = -0.001\nlength_m = 0.002\n", "electrodes[0].start_m", "negative"),
        // Overlapping each other, or the tip electrode.
        (
            "",
            "[[electrodes]]\nstart_m = 0.01\nlength_m = 0.002\n[[electrodes]]\nstart_m = 0.011\nlength_m = 0.002\n",
            "electrodes[1].start_m",
            "overlaps electrodes[0]",
        ),
        (
            "tip_electrode_length_m = 0.003",
            "[[electrodes]]\nstart_m = 0.002\nlength_m = 0.002\n",
            "electrodes[0].start_m",
            "overlaps the bare part",
        ),
        ("", "[[electrodes]]\nstart_m = 0.01\nlength_m = 0.0\n", "electrodes[0].length_m", "not > 0"),
        ("", "[[electrodes]]\nstart_m = 0.01\nlength_m = 0.002\nradius_m = 0.0001\n", "electrodes[0].radius_m", "below the conductor"),
        // A bare length longer than the lead.
        ("tip_electrode_length_m = 0.4", "", "tip_electrode_length_m", "leave nothing insulated"),
    ];
    for (top, el, key, what) in cases {
        let e = bad(top, el);
        assert!(e.contains("bad_lead.toml") && e.contains(key) && e.contains(what), "{key}: {e}");
    }
    // Insulation thinner than zero; bare ends longer than the wire; electrodes on a bare wire.
    let w = |ins: &str| {
        Implant::from_toml_str(
            &format!("kind = \"insulated_wire\"\nmaterial = \"ti6al4v\"\nlength_m = 0.1\nradius_m = 0.0005\n[insulation]\n{ins}"),
            "bad_wire.toml",
        )
        .unwrap_err()
        .to_string()
    };
    let e = w("thickness_m = -0.0001\neps_r = 2.1\nbare_ends_m = [0.01, 0.01]\n");
    assert!(e.contains("bad_wire.toml") && e.contains("insulation.thickness_m"), "{e}");
    let e = w("thickness_m = 0.0001\neps_r = 2.1\nbare_ends_m = [0.06, 0.05]\n");
    assert!(e.contains("bad_wire.toml") && e.contains("insulation.bare_ends_m"), "{e}");
    let e = Implant::from_toml_str(
        "kind = \"bare_wire\"\nmaterial = \"ti6al4v\"\nlength_m = 0.1\nradius_m = 0.0005\n[[electrodes]]\nstart_m = 0.0\nlength_m = 0.01\n",
        "bare.toml",
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("bare.toml") && e.contains("electrodes"), "{e}");
}

/// A coating thicker than the first ring of lattice edges is carried by the edges beyond it (issue
/// 18 item 4): the same implants build at 2, 1 and 0.5 mm, and the raster counts the cells whose
/// centre lies in the coating (`insulation_cells` of geometry.json): none where the coating lies
/// inside the first ring, some where it spans cells.
#[test]
fn coatings_spanning_cells_are_modelled() {
    use rftwin::implant::placement::LocalGridOptions;
    use rftwin::implant::raster::local_model;
    let ph = phantom();
    let cells = |toml: &str, cell_m: f64| {
        let implant = Implant::from_toml_str(toml, "thick.toml").unwrap();
        let placed = place(&implant, &ph, &Placement::new("t", [0.0; 3], [0.0, 0.0, 1.0], 0.0).unwrap()).unwrap();
        let (_, r) = local_model(&placed, &ph, &LocalGridOptions { cell_m, pad_m: 0.004 }).unwrap();
        r.insulation_cells
    };
    // The demo's wire (outer radius 0.75 mm): refused at 0.5 mm before.
    for c in [0.002, 0.001, 0.0005] {
        assert_eq!(cells(&wire([0.01, 0.01]), c), 0, "{c}");
    }
    // A 0.2 mm conductor with a 1 mm coating (outer radius 1.2 mm): inside the first ring at 2 mm,
    // 2.4 cells at 0.5 mm; a 10 cm lead with a 5 mm tip electrode.
    let lead = "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0002\ntip_electrode_length_m = 0.005\n\
                [insulation]\nthickness_m = 0.001\neps_r = 3.5\n[path]\npoints_m = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.1]]\n";
    assert_eq!(cells(lead, 0.002), 0);
    let (n1, n05) = (cells(lead, 0.001), cells(lead, 0.0005));
    // At 0.5 mm the cells within 1.2 mm of a 95 mm coated length (and the sealed far end's cap):
    // about pi 1.2^2 / 0.25 = 18 cells per cell of length, 190 cells of length.
    assert!(n05 > 2000 && n05 < 6000, "{n05}");
    assert!(n1 > 0 && n1 < n05, "{n1} {n05}");
}

/// Bad electrodes and coatings through the command line: exit 2, the implant file and the key named,
/// no output written.
#[test]
fn cli_refuses_bad_electrodes_and_coatings_with_exit_2() {
    let dir = common::tmpdir("bad_electrodes");
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let phantom = root.join("phantoms/astm_f2182.toml");
    let cases = [
        (
            "outside.toml",
            "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0002\n[insulation]\nthickness_m = 0.0003\neps_r = 3.5\n\
             [path]\npoints_m = [[0.0, 0.0, 0.0], [0.0, 0.0, 0.1]]\n[[electrodes]]\nstart_m = 0.099\nlength_m = 0.005\n",
            "2",
            "electrodes[0].start_m",
        ),
        (
            "negative.toml",
            "kind = \"insulated_wire\"\nmaterial = \"ti6al4v\"\nlength_m = 0.1\nradius_m = 0.0005\n\
             [insulation]\nthickness_m = -0.0002\neps_r = 2.1\nbare_ends_m = [0.01, 0.01]\n",
            "2",
            "insulation.thickness_m",
        ),
    ];
    for (file, text, cell, key) in cases {
        let f = dir.join(file);
        std::fs::write(&f, text).unwrap();
        let out = dir.join(format!("out_{file}"));
        let o = common::bin()
            .args(["implant", "place"])
            .arg(&f)
            .arg("--phantom")
            .arg(&phantom)
            .args(["--position", "0,0,0", "--direction", "0,0,1", "--cell-mm", cell, "--out"])
            .arg(&out)
            .output()
            .unwrap();
        let e = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{file}: {e}");
        assert!(e.contains(file) && e.contains(key), "{file}: {e}");
        assert!(!out.exists(), "{file}: output written");
    }
}
