//! The CLI: exit codes, error messages naming file/key/fix, atomic outputs.

use std::path::{Path, PathBuf};

mod common;
use common::{bin, tmpdir};

const GOOD: &str = include_str!("data/small_gel_dipole.toml");

fn run_with(dir: &Path, toml: &str) -> (i32, String, String, PathBuf) {
    let file = dir.join("sim.toml");
    std::fs::write(&file, toml).unwrap();
    let out = dir.join("out");
    let o = bin()
        .args(["fdtd", "run"])
        .arg(&file)
        .arg("--out")
        .arg(&out)
        .arg("--quiet")
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
        out,
    )
}

#[test]
fn good_run_writes_summary_and_fields() {
    let d = tmpdir("good");
    let (code, stdout, stderr, out) = run_with(&d, GOOD);
    assert_eq!(code, 0, "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["run"]["converged"], true, "{stdout}");
    let z = &summary["elements"][0]["results"][0]["z_ohm"];
    assert!(
        z[0].as_f64().unwrap() > 0.0,
        "dipole input resistance must be positive: {z}"
    );
    let p = summary["elements"][0]["results"][0]["power_into_structure_w"]
        .as_f64()
        .unwrap();
    assert!(p > 0.0, "a passive structure absorbs power: {p}");
    assert!(out.join("fields.h5").exists());
    // No temporary directory left next to the output.
    let leftovers: Vec<_> = std::fs::read_dir(&d)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty());
}

fn expect_input_error(name: &str, toml: &str, needles: &[&str]) {
    let d = tmpdir(name);
    let (code, _out, stderr, out) = run_with(&d, toml);
    assert_eq!(code, 2, "{name}: exit code {code}, stderr: {stderr}");
    assert!(stderr.contains("sim.toml"), "{name}: file not named: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{name}: '{n}' missing from: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{name}: {stderr}");
    assert!(!out.exists(), "{name}: output written despite the error");
}

#[test]
fn zero_cell_size() {
    expect_input_error(
        "cell",
        &GOOD.replace(
            "cell_size_m = [0.005, 0.005, 0.005]",
            "cell_size_m = [0.005, 0.0, 0.005]",
        ),
        &["grid.cell_size_m", "> 0"],
    );
}

#[test]
fn courant_above_one() {
    expect_input_error(
        "courant",
        &GOOD.replace("mode = \"cw\"", "mode = \"cw\"\ncourant = 1.2"),
        &["courant", "<= 1"],
    );
}

#[test]
fn element_off_grid() {
    expect_input_error(
        "off",
        &GOOD.replace("at_m = [0.05, 0.06, 0.055]", "at_m = [0.05, 0.06, 0.5]"),
        &["elements[0].at_m", "outside the grid"],
    );
}

#[test]
fn element_on_pec_edge() {
    let t = GOOD.replace("from_m = [0.05, 0.06, 0.06]", "from_m = [0.05, 0.06, 0.055]");
    expect_input_error("pec", &t, &["feed", "PEC"]);
}

#[test]
fn unknown_material() {
    expect_input_error(
        "mat",
        &GOOD.replace("material = \"gel\"", "material = \"gell\""),
        &["shapes[0].material", "gell", "use one of"],
    );
}

#[test]
fn probe_outside_domain() {
    let t = GOOD.replace(
        "field = \"E\"",
        "field = \"E\"\nmin_m = [0.0, 0.0, 0.0]\nmax_m = [0.2, 0.1, 0.1]",
    );
    expect_input_error("probe", &t, &["probes[0]", "outside the grid"]);
}

#[test]
fn unknown_key() {
    expect_input_error(
        "key",
        &GOOD.replace("r_ohm = 50.0", "r_ohm = 50.0\nresistance = 3"),
        &["resistance"],
    );
}

#[test]
fn validate_json_lists_passing_cases() {
    let o = bin()
        .args(["validate", "--json", "--only", "lumped_resistor_100ohm"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let cases = v["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 1);
    assert_eq!(cases[0]["pass"], true);
    assert!(cases[0]["case"].is_string());
}

#[test]
fn bench_json_has_rate() {
    let o = bin()
        .args([
            "bench",
            "fdtd",
            "--cells",
            "27000",
            "--steps",
            "5",
            "--threads",
            "1",
            "--repeat",
            "1",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(v["mcells_per_s"].as_f64().unwrap() > 0.0);
}

#[test]
fn bad_arguments_exit_2() {
    let o = bin().args(["bench", "fdtd", "--cells", "abc"]).output().unwrap();
    assert_eq!(o.status.code(), Some(2));
}
