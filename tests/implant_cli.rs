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
        "--cache-dir",
        cache.to_str().unwrap(),
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(out.join("map.png").is_file());
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
