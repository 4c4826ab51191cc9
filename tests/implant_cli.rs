//! `rftwin implant place | tf | search` end to end on small grids, and bad input (exit code 2,
//! the file and key named).

use std::path::{Path, PathBuf};
use std::process::Output;

mod common;
use common::bin;

fn root(p: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(p).display().to_string()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-implant-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).to_string()
}

/// Runs `args`, asserts exit code 2 (bad input), returns stderr.
fn refused(args: &[&str]) -> String {
    let o = run(args);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    e
}

#[test]
fn place_writes_outputs_and_refuses_bad_input() {
    let phantom = root("phantoms/astm_f2182.toml");
    let lead = root("phantoms/implants/lead_bare_tip.toml");
    let out = tmp("place");
    let o = run(&[
        "implant",
        "place",
        &lead,
        "--phantom",
        &phantom,
        "--position",
        "-0.05,0,-0.1",
        "--direction",
        "0,0,1",
        "--cell-mm",
        "2",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in ["geometry.json", "placement.png", "local_model.h5"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let g: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("geometry.json")).unwrap()).unwrap();
    assert!((g["length_m"].as_f64().unwrap() - 0.3).abs() < 1e-4);
    // Nearest surface: the gel top/bottom at 45 mm minus the outer radius 0.5 mm.
    assert!(
        (g["wall_distance_m"].as_f64().unwrap() - 0.0445).abs() < 1e-6,
        "{}",
        g["wall_distance_m"]
    );
    let _ = std::fs::remove_dir_all(&out);

    // Crossing a wall: a 30 cm lead near the x wall.
    let o = run(&[
        "implant",
        "place",
        &lead,
        "--phantom",
        &phantom,
        "--position",
        "0.18,0,0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    let e = stderr(&o);
    assert!(e.contains("position_m") && e.contains("outside the gel"), "{e}");
    assert!(!out.exists(), "no output on error");
    // Unknown material in the implant file.
    let d = tmp("badmat");
    std::fs::create_dir_all(&d).unwrap();
    let bad = d.join("bad.toml");
    std::fs::write(
        &bad,
        "kind = \"bare_wire\"\nmaterial = \"gold_leaf\"\nlength_m = 0.1\nradius_m = 0.0005\n",
    )
    .unwrap();
    let o = run(&[
        "implant",
        "place",
        bad.to_str().unwrap(),
        "--phantom",
        &phantom,
        "--position",
        "0,0,0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(
        e.contains("bad.toml") && e.contains("material") && e.contains("gold_leaf"),
        "{e}"
    );
    // Self-intersecting lead path.
    std::fs::write(
        &bad,
        "kind = \"lead\"\nmaterial = \"ptir_90_10\"\nradius_m = 0.0002\ntip_electrode_length_m = 0.003\n[insulation]\nthickness_m = 0.0003\neps_r = 3.0\n[path]\npoints_m = [[0,0,0],[0,0,0.1],[0.05,0,0.05],[-0.05,0,0.05]]\n",
    )
    .unwrap();
    let o = run(&[
        "implant",
        "place",
        bad.to_str().unwrap(),
        "--phantom",
        &phantom,
        "--position",
        "0,0,0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("self-intersecting"), "{}", stderr(&o));
    // A malformed position.
    let o = run(&[
        "implant",
        "place",
        &lead,
        "--phantom",
        &phantom,
        "--position",
        "0,zero,0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("--position"), "{}", stderr(&o));
    let _ = std::fs::remove_dir_all(&d);
}

/// The search's report: PDF, summary.json with the verdict and the criterion value equal to the worst
/// confirmed value of ranking.json, the CEM43 baseline of assess (37 °C), no two ranked candidates
/// mirror images of one another, and the PDF pages render (pdftoppm, when installed).
fn search_report_checks(out: &Path) {
    for f in ["report.pdf", "summary.json", "tf_magnitude.png", "tf_phase.png", "confirm.png"] {
        assert!(out.join(f).is_file(), "{f} missing");
    }
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("ranking.json")).unwrap()).unwrap();
    assert_eq!(s["verdict"], serde_json::json!("PASS"));
    assert_eq!(r["verdict"], serde_json::json!("PASS"));
    let worst = r["confirmation"]["confirmations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["max_delta_t_k"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(worst > 0.0);
    assert_eq!(s["criteria"][0]["id"], serde_json::json!("temperature_rise"));
    assert_eq!(s["criteria"][0]["value"].as_f64().unwrap(), worst);
    assert_eq!(r["confirmation"]["options"]["initial_temperature_c"].as_f64(), Some(37.0));
    let ranking = r["search"]["ranking"].as_array().unwrap();
    let v = |c: &serde_json::Value, k: &str| -> Vec<f64> { c[k].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    let mut merged = 0;
    for (i, a) in ranking.iter().enumerate() {
        merged += a["equivalent"].as_array().unwrap().len();
        for b in &ranking[i + 1..] {
            let (pa, pb, da, db) = (v(a, "position_m"), v(b, "position_m"), v(a, "direction"), v(b, "direction"));
            let image = (1..8).any(|m: usize| {
                (0..3).all(|k| {
                    let sgn = if m & (1 << k) != 0 { -1.0 } else { 1.0 };
                    (sgn * pa[k] - pb[k]).abs() < 1e-9 && (sgn * da[k] - db[k]).abs() < 1e-9
                })
            });
            let vals = (a["e_tip_v_per_m"].as_f64().unwrap() / b["e_tip_v_per_m"].as_f64().unwrap() - 1.0).abs() < 0.01;
            assert!(!(image && vals), "mirror images both ranked: {a} {b}");
        }
    }
    assert!(merged > 0, "the symmetric coil and phantom give mirror images to merge");
    if std::process::Command::new("pdftoppm").arg("-v").output().is_ok() {
        let prefix = out.join("page");
        let o = std::process::Command::new("pdftoppm").args(["-r", "20", "-png"]).arg(out.join("report.pdf")).arg(&prefix).output().unwrap();
        assert!(o.status.success() && o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
        let pages = std::fs::read_dir(out).unwrap().filter_map(|e| e.ok()).filter(|e| e.file_name().to_string_lossy().starts_with("page")).count();
        assert!(pages >= 4, "{pages} pages rendered");
    } else {
        eprintln!("SKIP render check: pdftoppm not installed");
    }
}

#[test]
fn tf_then_search_with_the_cached_tf() {
    let wire = root("phantoms/implants/insulated_wire_100mm.toml");
    let tf = tmp("tf");
    let o = run(&["implant", "tf", &wire, "--cell-mm", "5", "--out", tf.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    for f in ["tf.json", "tf.h5", "tf_magnitude.png", "tf_phase.png"] {
        assert!(tf.join(f).is_file(), "{f} missing");
    }
    let out = tmp("search");
    let cache = tmp("search-cache");
    let coil = root("coils/body_1p5t_hp16.toml");
    let phantom = root("phantoms/astm_f2182.toml");
    let o = run(&[
        "implant",
        "search",
        "--coil",
        &coil,
        "--phantom",
        &phantom,
        "--implant",
        &wire,
        "--tf",
        tf.to_str().unwrap(),
        "--cell-mm",
        "20",
        "--step-mm",
        "30",
        "--directions",
        "6",
        "--confirm",
        "2",
        "--fine-cell-mm",
        "5",
        "--exposure-s",
        "60",
        "--limit",
        "temperature_rise=1000",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("map.png").is_file());
    search_report_checks(&out);
    assert!(out.join("confirm.png").is_file());
    let h = hdf5::File::open(out.join("search.h5")).unwrap();
    let m: ndarray::Array2<f32> = h.dataset("map_xz").unwrap().read_2d().unwrap();
    assert!(m.iter().any(|v| v.is_finite() && *v > 0.0));
    let dt: Vec<f64> = h.dataset("confirmation/tip_delta_t_k").unwrap().read_raw().unwrap();
    assert_eq!(dt.len(), 2);
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("ranking.json")).unwrap()).unwrap();
    let ranking = r["search"]["ranking"].as_array().unwrap();
    assert!(!ranking.is_empty());
    // A birdcage's tangential E_z grows towards the side walls: the worst case lies along z near a wall.
    let best = &ranking[0];
    assert!(best["direction"][2].as_f64().unwrap().abs() > 0.99, "{best}");
    assert!(best["position_m"][0].as_f64().unwrap().abs() > 0.1, "{best}");
    // The two best candidates were confirmed by full fine-grid runs and heating, in estimate order.
    let conf = r["confirmation"]["confirmations"].as_array().unwrap();
    assert_eq!(conf.len(), 2);
    for (i, c) in conf.iter().enumerate() {
        assert_eq!(c["estimate_rank"].as_u64(), Some(i as u64 + 1));
        assert_eq!(c["candidate"]["index"], ranking[i]["index"]);
        assert!(c["tip_delta_t_k"].as_f64().unwrap() > 0.0, "{c}");
        assert!(c["tip_sar_1g_w_per_kg"].as_f64().unwrap() > 0.0, "{c}");
    }
    // The verdict: the worst confirmed value against a limit just above / just below it (one
    // candidate confirmed: its box's largest rise decides), exit 0 / 1.
    let worst1 = conf[0]["max_delta_t_k"].as_f64().unwrap();
    for (factor, code) in [(1.001, 0), (0.999, 1)] {
        let o2 = tmp(&format!("search-limit-{code}"));
        let limit = format!("temperature_rise={}", worst1 * factor);
        let o = run(&[
            "implant", "search", "--coil", &coil, "--phantom", &phantom, "--implant", &wire, "--tf",
            tf.to_str().unwrap(), "--cell-mm", "20", "--step-mm", "30", "--directions", "6", "--confirm", "1",
            "--fine-cell-mm", "5", "--exposure-s", "60", "--limit", &limit, "--cache-dir", cache.to_str().unwrap(),
            "--quiet", "--out", o2.to_str().unwrap(),
        ]);
        assert_eq!(o.status.code(), Some(code), "limit {limit}: {}", stderr(&o));
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(o2.join("summary.json")).unwrap()).unwrap();
        assert_eq!(s["verdict"], serde_json::json!(if code == 0 { "PASS" } else { "FAIL" }));
        assert!((s["criteria"][0]["value"].as_f64().unwrap() / worst1 - 1.0).abs() < 1e-12);
        let _ = std::fs::remove_dir_all(&o2);
    }
    // Normalisation consistency with assess: the same coil and phantom (ideal drive, 20 mm cells)
    // normalised to the same whole-phantom SAR give the same |B1+| at the isocentre and input power.
    let rd = tmp("assess-recipe");
    std::fs::create_dir_all(&rd).unwrap();
    let recipe = rd.join("r.toml");
    std::fs::write(
        &recipe,
        format!(
            "title = \"norm\"\n[twin]\ncoil = \"{coil}\"\nphantom = \"{phantom}\"\ncell_m = 0.02\nmodel = \"ideal\"\n\
             [normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n[exposure]\nduration_s = 60\n\
             [criteria]\nsar_10g = {{ limit_w_per_kg = 1000 }}\n"
        ),
    )
    .unwrap();
    let ao = rd.join("out");
    let o = run(&[
        "assess", recipe.to_str().unwrap(), "--out", ao.to_str().unwrap(), "--cache-dir", cache.to_str().unwrap(), "--quiet",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let q = |dir: &Path, key: &str| -> f64 {
        let s: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
        s["quantities"].as_array().unwrap().iter().find(|q| q["key"] == key).unwrap()["value"].as_f64().unwrap()
    };
    for key in ["normalisation.whole_phantom_sar", "normalisation.b1_plus_isocentre", "normalisation.input_power", "normalisation.phantom_mass"] {
        let (a, b) = (q(&ao, key), q(&out, key));
        assert!((a / b - 1.0).abs() < 1e-9, "{key}: assess {a}, search {b}");
    }
    let _ = std::fs::remove_dir_all(&rd);
    // The cached TF of another implant (length) is refused.
    let other = root("phantoms/implants/insulated_wire_200mm.toml");
    let o = run(&[
        "implant",
        "search",
        "--coil",
        &coil,
        "--phantom",
        &phantom,
        "--implant",
        &other,
        "--tf",
        tf.to_str().unwrap(),
        "--cell-mm",
        "20",
        "--quiet",
        "--out",
        tmp("search2").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    let e = stderr(&o);
    assert!(e.contains("tf") && e.contains("length_m"), "{e}");
    // A coil without a phantom, and a twin together with a coil: exit 2, the flags named.
    let out3 = tmp("search3");
    let e = refused(&[
        "implant",
        "search",
        "--coil",
        &coil,
        "--implant",
        &wire,
        "--quiet",
        "--out",
        out3.to_str().unwrap(),
    ]);
    assert!(e.contains("--phantom"), "{e}");
    let out4 = tmp("search4");
    let e = refused(&[
        "implant",
        "search",
        "--twin",
        "nowhere",
        "--coil",
        &coil,
        "--implant",
        &wire,
        "--quiet",
        "--out",
        out4.to_str().unwrap(),
    ]);
    assert!(e.contains("--twin"), "{e}");
    let _ = std::fs::remove_dir_all(&tf);
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_dir_all(&cache);
}

/// Bad search criteria and normalisations are refused before any run (exit 2, the option named).
#[test]
fn search_refuses_bad_criteria_and_normalisation() {
    let wire = root("phantoms/implants/insulated_wire_100mm.toml");
    let coil = root("coils/body_1p5t_hp16.toml");
    let phantom = root("phantoms/astm_f2182.toml");
    let out = tmp("search-bad");
    let base = ["implant", "search", "--coil", &coil, "--phantom", &phantom, "--implant", &wire, "--quiet", "--no-cache"];
    for (extra, named) in [
        (vec!["--limit", "nonsense=1"], "--limit"),
        (vec!["--limit", "temperature_rise=-1"], "--limit"),
        (vec!["--limit", "sar_10g=10", "--limit", "sar_10g=20"], "--limit"),
        (vec!["--limit", "temperature_rise=2", "--uncertainty-factor", "0.5"], "--uncertainty-factor"),
        (vec!["--limit", "temperature_rise=2", "--confirm", "0"], "--confirm"),
        (vec!["--normalise", "whole-phantom=-2"], "--normalise"),
        (vec!["--recipe", "r.toml"], "--coil"),
        (vec!["--baseline-c", "400"], "--baseline-c"),
    ] {
        let mut args: Vec<&str> = base.to_vec();
        args.extend(extra.iter().copied());
        args.extend(["--out", out.to_str().unwrap()]);
        let e = refused(&args);
        assert!(e.contains(named), "{extra:?}: {e}");
        assert!(!out.exists(), "{extra:?} left an output");
    }
}
