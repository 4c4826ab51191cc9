//! `rftwin assess` / `rftwin regress` end to end: criteria decide the exit code, bad input exits 2
//! with no output, and the golden regression catches a 5 % change of the gel conductivity.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-assess-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn rftwin(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_rftwin"))
        .args(args)
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .output()
        .expect("run rftwin");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// A coil-only recipe (no implant: the SAR criteria read the coarse-grid 10 g SAR), fast on 20 mm cells.
fn coil_only_recipe(dir: &Path, limit_w_per_kg: f64) -> PathBuf {
    let r = root();
    let text = format!(
        "title = \"criteria test\"\n\n[twin]\ncoil = \"{}\"\nphantom = \"{}\"\ncell_m = 0.02\n\n[normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n\n[exposure]\nduration_s = 60.0\n\n[criteria]\nsar_10g = {{ limit_w_per_kg = {limit_w_per_kg}, uncertainty_factor = 1.0 }}\n",
        r.join("coils/body_1p5t_hp16.toml").display(),
        r.join("phantoms/astm_f2182.toml").display()
    );
    let p = dir.join(format!("recipe_{limit_w_per_kg}.toml"));
    std::fs::write(&p, text).unwrap();
    p
}

fn quantity(summary: &Path, key: &str) -> f64 {
    let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(summary).unwrap()).unwrap();
    v["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == key)
        .unwrap_or_else(|| panic!("no quantity {key}"))["value"]
        .as_f64()
        .unwrap()
}

/// Every quantity's text in summary.json appears in the PDF's text (when pdftotext is installed).
fn pdf_numbers_equal_summary(out: &Path) {
    let Ok(o) = Command::new("pdftotext")
        .args([out.join("report.pdf").to_str().unwrap(), "-"])
        .output()
    else {
        eprintln!("pdftotext not installed: PDF text check skipped");
        return;
    };
    let squash = |s: &str| s.split_whitespace().collect::<Vec<_>>().join(" ");
    let pdf = squash(&String::from_utf8_lossy(&o.stdout));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    for q in v["quantities"].as_array().unwrap() {
        let t = squash(q["text"].as_str().unwrap());
        assert!(pdf.contains(&t), "quantity {} ({t}) not in the PDF text", q["key"]);
    }
}

/// The limit just below / above value + U.
#[test]
fn criterion_just_below_fails_just_above_passes() {
    let d = tmp("criteria");
    let r0 = coil_only_recipe(&d, 1000.0);
    let out0 = d.join("out0");
    let (code, text) = rftwin(&[
        "assess",
        r0.to_str().unwrap(),
        "--out",
        out0.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{text}");
    let value = quantity(&out0.join("summary.json"), "sar.peak_10g");
    assert!(value > 0.0 && value.is_finite());
    // The verdict compares value + U (the budget's expanded uncertainty) with the limit.
    let v = quantity(&out0.join("summary.json"), "criteria.sar_10g.assessed");
    assert!(v > value, "assessed {v} must exceed the value {value} by U");
    for (factor, expect) in [(0.99, 1), (1.01, 0)] {
        let r = coil_only_recipe(&d, v * factor);
        let out = d.join(format!("out{factor}"));
        let (code, text) = rftwin(&["assess", r.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
        assert_eq!(code, expect, "limit {factor} x assessed value {v}: {text}");
        assert!(out.join("report.pdf").exists() && out.join("summary.json").exists());
        let verdict = if expect == 0 { "PASS" } else { "FAIL" };
        assert!(text.contains(verdict), "{text}");
        pdf_numbers_equal_summary(&out);
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn bad_recipe_exits_2_without_output() {
    let d = tmp("bad");
    let p = d.join("bad.toml");
    std::fs::write(&p, "title = \"x\"\n[twin]\ncoil = \"nope.toml\"\nphantom = \"nope2.toml\"\n[normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n[exposure]\nduration_s = 60.0\n[criteria]\nsar_10g = { limit_w_per_kg = 10.0 }\n").unwrap();
    let out = d.join("out");
    let (code, text) = rftwin(&["assess", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("nope.toml"), "error must name the missing file: {text}");
    assert!(!out.exists(), "no output directory on error");
    // Unknown key.
    std::fs::write(&p, "title = \"x\"\ncolour = 3\n").unwrap();
    let (code, text) = rftwin(&["assess", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("colour"), "{text}");
    assert!(!out.exists());
    let _ = std::fs::remove_dir_all(&d);
}

/// The committed golden set: a 5 % higher gel conductivity must be reported as a regression (exit 1)
/// naming what moved.
#[test]
fn regress_detects_five_percent_gel_conductivity_change() {
    let golden = root().join("reports/golden/small");
    let d = tmp("regress");
    let g = d.join("golden");
    std::fs::create_dir_all(&g).unwrap();
    for f in ["summary.json", "fields.h5", "tolerances.toml"] {
        std::fs::copy(golden.join(f), g.join(f)).unwrap();
    }
    // The phantom with sigma x 1.05.
    let ph = std::fs::read_to_string(root().join("phantoms/astm_f2182.toml")).unwrap();
    let sigma_line = ph
        .lines()
        .find(|l| l.trim_start().starts_with("sigma_s_per_m"))
        .unwrap();
    let ph2 = ph.replace(sigma_line, &format!("sigma_s_per_m = {}", 0.47 * 1.05));
    assert_ne!(ph, ph2);
    let ph_path = d.join("astm_sigma_plus5.toml");
    std::fs::write(&ph_path, ph2).unwrap();
    let recipe = std::fs::read_to_string(golden.join("recipe.toml")).unwrap();
    let abs = |rel: &str| root().join(rel).display().to_string();
    let recipe = recipe
        .replace("../../../coils/body_1p5t_hp16.toml", &abs("coils/body_1p5t_hp16.toml"))
        .replace("../../../phantoms/astm_f2182.toml", &ph_path.display().to_string())
        .replace("../../../phantoms/measured/", &format!("{}/", abs("phantoms/measured")))
        .replace(
            "../../../phantoms/implants/insulated_wire_100mm.toml",
            &abs("phantoms/implants/insulated_wire_100mm.toml"),
        );
    std::fs::write(g.join("recipe.toml"), recipe).unwrap();
    let (code, text) = rftwin(&["regress", g.to_str().unwrap(), "--quiet"]);
    assert_eq!(code, 1, "a 5 % conductivity change must fail the regression: {text}");
    assert!(
        text.contains("implant1") || text.contains("sar"),
        "the report names what moved: {text}"
    );
    let _ = std::fs::remove_dir_all(&d);
}
