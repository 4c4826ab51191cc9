//! Assessment recipes: the shipped demo recipe parses with paths resolved against the recipe's
//! directory; strict parsing rejects unknown keys and reports every bad value at once, naming file and
//! key; a criterion just below the computed value fails (exit code 1), just above passes (0).

use std::path::{Path, PathBuf};

use rftwin::dosimetry::run::NormaliseSpec;
use rftwin::report::criteria::{self, KEY_SAR_10G, KEY_TEMPERATURE_RISE};
use rftwin::report::recipe::{Orientation, Recipe, TwinSource};
use rftwin::report::{Report, Verdict};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn parse(text: &str) -> rftwin::error::Result<Recipe> {
    Recipe::from_toml_str(text, Path::new("reports/test.toml"), Path::new("reports"))
}

const GOOD: &str = r#"
title = "t"
[twin]
coil = "../coils/c.toml"
phantom = "../phantoms/p.toml"
[[implants]]
file = "../phantoms/implants/w.toml"
position_m = [0.1, 0.0, 0.0]
direction = [0.0, 0.0, 2.0]
[normalisation]
b1_plus_rms_ut = 2.0
[exposure]
duration_s = 900.0
[criteria]
temperature_rise = { limit_k = 2.0, uncertainty_factor = 1.5 }
sar_10g = { limit_w_per_kg = 10.0 }
"#;

#[test]
fn demo_recipe_parses_and_its_model_files_exist() {
    let path = root().join("reports/demo.toml");
    let r = Recipe::load(&path).unwrap();
    assert_eq!(r.normalisation, NormaliseSpec::WholePhantom(2.0));
    assert_eq!(r.exposure_s, 900.0);
    assert_eq!(r.criteria.len(), 2);
    assert_eq!(r.criteria[0].value_key, KEY_TEMPERATURE_RISE);
    assert_eq!(r.criteria[0].limit, 2.0);
    assert_eq!(r.criteria[1].value_key, KEY_SAR_10G);
    assert_eq!(r.criteria[1].limit, 10.0);
    let TwinSource::Model {
        coil,
        phantom,
        measured,
        ..
    } = &r.twin
    else {
        panic!("demo uses coil + phantom")
    };
    assert!(coil.is_file() && phantom.is_file(), "{coil:?} {phantom:?}");
    assert!(measured.as_ref().unwrap().is_file());
    assert_eq!(r.implants.len(), 1);
    // The implant file comes from the implant work; the other inputs must be present now.
    if let Err(e) = r.check_files() {
        let e = e.to_string();
        assert!(
            !e.contains("coil:") && !e.contains("phantom:") && !e.contains("measured"),
            "{e}"
        );
    }
    let roles: Vec<String> = r.input_files().into_iter().map(|(k, _)| k).collect();
    assert_eq!(roles[..4], ["recipe", "coil", "phantom", "measured B1+ map"]);
}

#[test]
fn paths_are_relative_to_the_recipe_and_values_normalised() {
    let r = parse(GOOD).unwrap();
    match &r.twin {
        TwinSource::Model { coil, .. } => assert_eq!(coil, &Path::new("reports").join("../coils/c.toml")),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        r.implants[0].file,
        Path::new("reports").join("../phantoms/implants/w.toml")
    );
    assert_eq!(r.implants[0].name, "w");
    assert_eq!(
        r.implants[0].orientation,
        Orientation::Direction {
            direction: [0.0, 0.0, 1.0],
            roll_deg: 0.0
        }
    );
    assert_eq!(r.normalisation, NormaliseSpec::B1RmsUt(2.0));
    assert_eq!(r.criteria[0].uncertainty_factor, 1.5);
    assert_eq!(r.criteria[1].uncertainty_factor, 1.0, "default factor");
    // check_files names every missing input.
    let e = r.check_files().unwrap_err().to_string();
    assert!(
        e.contains("reports/test.toml") && e.contains("c.toml") && e.contains("w.toml"),
        "{e}"
    );
}

#[test]
fn unknown_keys_are_rejected_naming_file_and_key() {
    let bad = GOOD.replace("duration_s = 900.0", "duration_s = 900.0\nduraton_min = 15");
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.starts_with("reports/test.toml: duraton_min:"), "{e}");
    assert!(e.contains("valid keys"), "{e}");
    let bad = GOOD.replace("limit_k = 2.0", "limit_c = 2.0");
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.contains("limit_c"), "{e}");
    let bad = GOOD.replace("duration_s = 900.0", "duration_s = \"15 min\"");
    assert!(parse(&bad).is_err());
}

#[test]
fn every_bad_value_is_reported_at_once() {
    let bad = GOOD
        .replace(
            "b1_plus_rms_ut = 2.0",
            "b1_plus_rms_ut = 2.0\nwhole_phantom_sar_w_per_kg = 2.0",
        )
        .replace("uncertainty_factor = 1.5", "uncertainty_factor = 0.5")
        .replace("limit_w_per_kg = 10.0", "limit_w_per_kg = -1.0")
        .replace("direction = [0.0, 0.0, 2.0]", "direction = [0.0, 0.0, 0.0]")
        .replace("duration_s = 900.0", "duration_s = 0.0");
    let e = parse(&bad).unwrap_err().to_string();
    for key in [
        "normalisation",
        "criteria.temperature_rise.uncertainty_factor",
        "criteria.sar_10g.limit_w_per_kg",
        "implants[0].direction",
        "exposure.duration_s",
    ] {
        assert!(e.contains(key), "'{key}' not named in: {e}");
    }
    // No twin source, no criteria.
    let bad = GOOD.replace("coil = \"../coils/c.toml\"\n", "").replace(
        "temperature_rise = { limit_k = 2.0, uncertainty_factor = 1.5 }\nsar_10g = { limit_w_per_kg = 10.0 }\n",
        "",
    );
    let e = parse(&bad).unwrap_err().to_string();
    assert!(e.contains("twin") && e.contains("criteria"), "{e}");
}

#[test]
fn criterion_just_below_fails_with_exit_1_just_above_passes_with_exit_0() {
    // Computed ΔT 1.6 K, factor 1.5: assessed 2.4 K.
    let verdict = |limit: f64| {
        let text = GOOD.replace("limit_k = 2.0", &format!("limit_k = {limit:.12}"));
        let recipe = parse(&text).unwrap();
        let mut rep = Report::new("t");
        rep.quantity(KEY_TEMPERATURE_RISE, 1.6, "K", "ΔT");
        rep.quantity(KEY_SAR_10G, 3.0, "W/kg", "10 g");
        criteria::evaluate(&mut rep, &recipe.criteria).unwrap()
    };
    let below = verdict(2.4 * (1.0 - 1e-6));
    let above = verdict(2.4 * (1.0 + 1e-6));
    assert_eq!((below, below.exit_code()), (Verdict::Fail, 1));
    assert_eq!((above, above.exit_code()), (Verdict::Pass, 0));
}

#[test]
fn report_started_from_a_recipe_hashes_inputs_and_shows_the_setup() {
    use rftwin::report::{assessment, sha256_bytes, Quantity};
    let dir = std::env::temp_dir().join(format!("rftwin-recipe-start-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["reports", "coils", "phantoms/implants"] {
        std::fs::create_dir_all(dir.join(sub)).unwrap();
    }
    for (f, text) in [
        ("coils/c.toml", "coil"),
        ("phantoms/p.toml", "phantom"),
        ("phantoms/implants/w.toml", "wire"),
    ] {
        std::fs::write(dir.join(f), text).unwrap();
    }
    let path = dir.join("reports/test.toml");
    std::fs::write(&path, GOOD).unwrap();
    let recipe = Recipe::load(&path).unwrap();
    recipe.check_files().unwrap();
    let mut r = assessment::start(&recipe).unwrap();
    let roles: Vec<&str> = r.inputs.iter().map(|i| i.role.as_str()).collect();
    assert_eq!(roles, ["recipe", "coil", "phantom", "implant w"]);
    assert_eq!(r.inputs[1].sha256, sha256_bytes(b"coil"));
    assert_eq!(r.inputs[0].sha256, sha256_bytes(GOOD.as_bytes()));
    assert_eq!(r.get("setup.b1_plus_rms").unwrap().value, 2.0);
    assert_eq!(r.get("setup.exposure_time").unwrap().value, 15.0);
    assert!((r.get("setup.implant0.position_x").unwrap().value - 100.0).abs() < 1e-9);
    assert_eq!(r.get("setup.implant0.direction_z").unwrap().value, 1.0);
    r.sections.push(assessment::methods_section());
    r.add_quantity(Quantity::new(KEY_TEMPERATURE_RISE, 1.2, "K", "ΔT"));
    r.add_quantity(Quantity::new(KEY_SAR_10G, 4.0, "W/kg", "10 g SAR"));
    // 1.2 K × 1.5 = 1.8 K ≤ 2 K; 4 W/kg ≤ 10 W/kg.
    assert_eq!(assessment::finish(&mut r, &recipe.criteria).unwrap(), Verdict::Pass);
    let out = dir.join("out");
    rftwin::report::write_report(&r, &out, false).unwrap();
    let s = rftwin::report::summary::Summary::load(&out.join("summary.json")).unwrap();
    assert_eq!(s.verdict, Verdict::Pass);
    assert_eq!(s.inputs.len(), 4);
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `fit_offset` / `fit_rotation` / `fit_gel` are read, and refused without a measured map to fit to.
#[test]
fn fit_switches_need_a_measured_map() {
    let base = std::path::Path::new("/tmp");
    let ok = "title = \"t\"\n[twin]\ncoil = \"c.toml\"\nphantom = \"p.toml\"\nmeasured = \"m.nii.gz\"\nfit_offset = true\nfit_rotation = true\n[normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n[exposure]\nduration_s = 60.0\n[criteria]\nsar_10g = { limit_w_per_kg = 10.0 }\n";
    let r = Recipe::from_toml_str(ok, std::path::Path::new("fit.toml"), base).unwrap();
    match r.twin {
        TwinSource::Model {
            fit_offset,
            fit_rotation,
            fit_gel,
            ..
        } => assert!(fit_offset && fit_rotation && !fit_gel),
        other => panic!("{other:?}"),
    }
    let bad = ok.replace("measured = \"m.nii.gz\"\n", "");
    let e = Recipe::from_toml_str(&bad, std::path::Path::new("fit.toml"), base)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fit.toml") && e.contains("twin.fit_offset"), "{e}");
    let bad = bad.replace("fit_offset = true\n", "");
    let e = Recipe::from_toml_str(&bad, std::path::Path::new("fit.toml"), base)
        .unwrap_err()
        .to_string();
    assert!(e.contains("fit_rotation"), "{e}");
}
