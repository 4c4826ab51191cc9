//! `rftwin twin synth` + `rftwin twin fit` end to end on a coarse model, and bad input.

mod common;
use common::bin;

#[test]
fn synth_then_fit_recovers_the_perturbation() {
    let d = std::env::temp_dir().join(format!("rftwin-twin-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let map = d.join("map.h5");
    let coil = concat!(env!("CARGO_MANIFEST_DIR"), "/coils/body_1p5t_hp16.toml");
    let phantom = concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml");
    let o = bin()
        .args([
            "twin",
            "synth",
            "--coil",
            coil,
            "--phantom",
            phantom,
            "--cell-mm",
            "20",
            "--model",
            "ideal",
            "--voxel-mm",
            "10",
            "--imbalance",
            "1.08",
            "--phase-deg",
            "-5",
            "--noise",
            "0.01",
            "--out",
        ])
        .arg(&map)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let out = d.join("fit");
    let o = bin()
        .args([
            "twin",
            "fit",
            "--coil",
            coil,
            "--phantom",
            phantom,
            "--cell-mm",
            "20",
            "--model",
            "ideal",
            "--quiet",
            "--measured",
        ])
        .arg(&map)
        .arg("--cache-dir")
        .arg(d.join("cache"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    // The basis went into the cache; the twin's fields load and give the fitted B1+ (µT map:
    // |B1+| near the isocentre about the synthetic map's 2 µT).
    assert_eq!(std::fs::read_dir(d.join("cache")).unwrap().count(), 1);
    let tw = rftwin::twin::TwinFields::load(&out).unwrap();
    let b = tw.b1_plus_at([0.0, 0.0, 0.0]).norm() * 1e6;
    assert!((b / 2.0 - 1.0).abs() < 0.05, "twin |B1+| at the isocentre {b} uT");
    assert!(tw.input_power_w > 0.0 && out.join("twin_fields.xmf").exists());
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("fit.json")).unwrap()).unwrap();
    assert_eq!(v["converged"], serde_json::json!(true));
    let a = v["calibration"]["relative_amplitude"].as_f64().unwrap();
    let ph = v["calibration"]["relative_phase_deg"].as_f64().unwrap();
    assert!((a / 1.08 - 1.0).abs() < 0.02, "amplitude {a}");
    assert!((ph + 5.0).abs() < 2.0, "phase {ph}");
    assert!(out.join("twin.toml").exists() && out.join("fit.png").exists());
    // Later stages load the twin from its directory: the worst-case implant search in the twin's
    // field, its best candidate confirmed by a fine-grid run and heating.
    let wire = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/phantoms/implants/insulated_wire_100mm.toml"
    );
    let s = d.join("search");
    let o = bin()
        .args(["implant", "search", "--twin"])
        .arg(&out)
        .args([
            "--implant",
            wire,
            "--tf-cell-mm",
            "5",
            "--step-mm",
            "40",
            "--directions",
            "6",
            "--confirm",
            "1",
            "--fine-cell-mm",
            "5",
            "--exposure-s",
            "60",
            "--quiet",
            "--out",
        ])
        .arg(&s)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let r: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(s.join("ranking.json")).unwrap()).unwrap();
    assert_eq!(r["coil_field"], serde_json::json!("calibrated twin"));
    let c = &r["confirmation"]["confirmations"][0];
    assert_eq!(c["candidate"]["index"], r["search"]["ranking"][0]["index"]);
    assert!(
        c["tip_delta_t_k"].as_f64().unwrap() > c["tip_delta_t_background_k"].as_f64().unwrap(),
        "{c}"
    );
    // A fit stopped before convergence (one LM iteration with the offset free) says so, with the
    // best NRMSE, and exits 1.
    let o = bin()
        .args([
            "twin",
            "fit",
            "--coil",
            coil,
            "--phantom",
            phantom,
            "--cell-mm",
            "20",
            "--model",
            "ideal",
            "--quiet",
        ])
        .args([
            "--fit-offset",
            "--fit-rotation",
            "--no-resimulate",
            "--max-iterations",
            "1",
            "--measured",
        ])
        .arg(&map)
        .arg("--cache-dir")
        .arg(d.join("cache"))
        .arg("--out")
        .arg(d.join("fit1"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(err.contains("did not converge") && err.contains("best NRMSE"), "{err}");
    // The outputs are kept for inspection, with the rotation fitted (and its intervals).
    let twin = std::fs::read_to_string(d.join("fit1").join("twin.toml")).unwrap();
    for key in [
        "phantom_rotation_deg",
        "phantom_rotation_y_ci95_deg",
        "fields_phantom_rotation_deg",
        "\"rotation\"",
    ] {
        assert!(twin.contains(key), "{key} missing in twin.toml:\n{twin}");
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn missing_map_is_an_error_with_no_output() {
    let d = std::env::temp_dir().join(format!("rftwin-twin-bad-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let out = d.join("fit");
    let o = bin()
        .args([
            "twin",
            "fit",
            "--coil",
            concat!(env!("CARGO_MANIFEST_DIR"), "/coils/body_1p5t_hp16.toml"),
            "--phantom",
            concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml"),
            "--measured",
        ])
        .arg(d.join("nope.nii.gz"))
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.nii.gz"));
    assert!(!out.exists());
}

/// Writes an HDF5 map `b1` with the given data, placement and optional unit.
fn write_h5(
    path: &std::path::Path,
    data: ndarray::ArrayD<f32>,
    origin: [f64; 3],
    spacing: [f64; 3],
    unit: Option<&str>,
) {
    let f = hdf5::File::create(path).unwrap();
    let ds = f.new_dataset_builder().with_data(&data).create("b1").unwrap();
    ds.new_attr::<f64>()
        .shape([3])
        .create("origin_m")
        .unwrap()
        .write(&origin)
        .unwrap();
    ds.new_attr::<f64>()
        .shape([3])
        .create("spacing_m")
        .unwrap()
        .write(&spacing)
        .unwrap();
    if let Some(u) = unit {
        let v: hdf5::types::VarLenUnicode = u.parse().unwrap();
        ds.new_attr::<hdf5::types::VarLenUnicode>()
            .create("unit")
            .unwrap()
            .write_scalar(&v)
            .unwrap();
    }
}

/// Bad measured maps through the CLI: each is a clear error naming the file and the problem, exit
/// code 2, no output directory, and no FDTD run (they fail before the basis runs).
#[test]
fn bad_maps_exit_2_naming_the_file() {
    let d = std::env::temp_dir().join(format!("rftwin-twin-badmaps-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    let good = || ndarray::ArrayD::from_shape_fn(vec![5, 4, 6], |ix| 1.0 + 0.01 * (ix[0] + ix[1] + ix[2]) as f32);
    let o = [-0.02, -0.015, -0.025];
    let s = [0.01; 3];
    let mut inf = good();
    inf[[1, 1, 1]] = f32::INFINITY;
    let mut nan = good();
    nan.fill(f32::NAN);
    type Case<'a> = (
        &'a str,
        ndarray::ArrayD<f32>,
        [f64; 3],
        [f64; 3],
        Option<&'a str>,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        ("inf.h5", inf, o, s, Some("uT"), "Inf"),
        ("nan.h5", nan, o, s, Some("uT"), "NaN"),
        (
            "zero.h5",
            ndarray::ArrayD::zeros(vec![5, 4, 6]),
            o,
            s,
            Some("uT"),
            "zero",
        ),
        (
            "rank2.h5",
            ndarray::ArrayD::ones(vec![5, 4]),
            o,
            s,
            Some("uT"),
            "rank 2",
        ),
        ("singular.h5", good(), o, [0.01, 0.0, 0.01], Some("uT"), "singular"),
        ("nounit.h5", good(), o, s, None, "unit"),
        // A valid map 3 m away from the phantom: no overlap.
        (
            "faraway.h5",
            good(),
            [3.0, 0.0, 0.0],
            s,
            Some("uT"),
            "inside the phantom",
        ),
    ];
    for (name, data, origin, spacing, unit, what) in cases {
        let path = d.join(name);
        write_h5(&path, data, origin, spacing, unit);
        let out = d.join(format!("out-{name}"));
        let t0 = std::time::Instant::now();
        let r = bin()
            .args([
                "twin",
                "fit",
                "--quiet",
                "--no-cache",
                "--coil",
                concat!(env!("CARGO_MANIFEST_DIR"), "/coils/body_1p5t_hp16.toml"),
                "--phantom",
                concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml"),
                "--measured",
            ])
            .arg(&path)
            .arg("--out")
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&r.stderr);
        assert_eq!(r.status.code(), Some(2), "{name}: {err}");
        assert!(
            err.contains(name) && err.contains(what),
            "{name}: expected '{what}' in: {err}"
        );
        assert!(!out.exists(), "{name}: output left behind");
        assert!(t0.elapsed().as_secs_f64() < 5.0, "{name}: took {:?}", t0.elapsed());
    }
    let _ = std::fs::remove_dir_all(&d);
}

/// `twin synth` refuses a placement that is not three numbers, naming the option (exit 2, no FDTD).
#[test]
fn synth_refuses_bad_placement_options() {
    for (flag, value) in [
        ("--rotation-deg", "1,2"),
        ("--offset-mm", "1,a,2"),
        ("--rotation-deg", "1,nan,0"),
    ] {
        let out = std::env::temp_dir().join(format!("rftwin-synth-bad-{}.nii.gz", std::process::id()));
        let o = bin()
            .args([
                "twin",
                "synth",
                "--coil",
                concat!(env!("CARGO_MANIFEST_DIR"), "/coils/body_1p5t_hp16.toml"),
                "--phantom",
                concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml"),
                flag,
                value,
                "--out",
            ])
            .arg(&out)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{flag} {value}: {err}");
        assert!(err.contains(flag) && err.contains("three finite numbers"), "{err}");
        assert!(!out.exists());
    }
}
