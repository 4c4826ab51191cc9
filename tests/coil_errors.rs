//! Bad coil and phantom input: an input error naming the file, the key, what is wrong and the fix;
//! exit code 2 from the CLI.

use rftwin::coil::{circuit, CoilConfig, PhantomConfig};
use rftwin::error::Error;

const GOOD: &str = r#"
type = "low_pass"
rungs = 8
rung_radius_m = 0.12
rung_length_m = 0.25
rung_width_m = 0.01
ring_width_m = 0.01
shield_radius_m = 0.32
shield_length_m = 1.6
freq_hz = 127.7e6
capacitance_f = "auto"
drive = "quadrature"
[[ports]]
angle_deg = 0.0
[[ports]]
angle_deg = 90.0
"#;

/// GOOD with `key = ...` lines replaced (value None: line removed) and extra lines added at the top.
fn variant(replace: &[(&str, Option<&str>)], extra: &str) -> String {
    let mut out = String::from(extra);
    out.push('\n');
    'lines: for line in GOOD.lines() {
        for (k, v) in replace {
            if line.starts_with(&format!("{k} =")) {
                if let Some(v) = v {
                    out.push_str(&format!("{k} = {v}\n"));
                }
                continue 'lines;
            }
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// Parses `text` as coils/bad.toml, expects an input error and checks it names the file, the key,
/// and contains each of `words`.
fn expect_error(text: &str, key: &str, words: &[&str]) -> String {
    let e = CoilConfig::from_toml_str(text, "coils/bad.toml").expect_err("bad input accepted");
    let msg = match &e {
        Error::Input {
            source_name, key: k, ..
        } => {
            assert_eq!(source_name, "coils/bad.toml");
            assert!(k.contains(key), "key {k:?} does not name {key:?}: {e}");
            e.to_string()
        }
        other => panic!("expected an input error, got {other:?}"),
    };
    for w in words {
        assert!(msg.contains(w), "{msg:?} lacks {w:?}");
    }
    msg
}

#[test]
fn the_good_file_is_good() {
    let c = CoilConfig::from_toml_str(GOOD, "coils/good.toml").unwrap();
    assert_eq!(c.rungs, 8);
    assert_eq!(c.ports[1].phase_deg, -90.0);
}

#[test]
fn too_few_or_odd_rungs() {
    expect_error(&variant(&[("rungs", Some("3"))], ""), "rungs", &["at least 4", "even"]);
    expect_error(&variant(&[("rungs", Some("9"))], ""), "rungs", &["odd", "use 8 or 10"]);
    // 6 rungs: even, but quadrature ports 90 deg apart need a multiple of 4.
    expect_error(&variant(&[("rungs", Some("6"))], ""), "rungs", &["multiple of 4"]);
}

#[test]
fn rung_radius_not_inside_shield() {
    expect_error(
        &variant(&[("shield_radius_m", Some("0.12"))], ""),
        "shield_radius_m",
        &["not larger than the rung radius", "shield_radius_m >"],
    );
    expect_error(
        &variant(&[("shield_radius_m", Some("0.10"))], ""),
        "shield_radius_m",
        &["0.1 m"],
    );
    expect_error(
        &variant(&[("shield_length_m", None)], ""),
        "shield_length_m",
        &["missing", "add `shield_length_m"],
    );
    expect_error(
        &variant(&[("shield_length_m", Some("0.2"))], ""),
        "shield_length_m",
        &["shorter than the coil"],
    );
}

#[test]
fn negative_zero_or_misspelt_capacitance() {
    expect_error(
        &variant(&[("capacitance_f", Some("-2.6e-12"))], ""),
        "capacitance_f",
        &["not a positive capacitance", "\"auto\""],
    );
    expect_error(
        &variant(&[("capacitance_f", Some("0.0"))], ""),
        "capacitance_f",
        &["not a positive"],
    );
    expect_error(
        &variant(&[("capacitance_f", Some("\"automatic\""))], ""),
        "capacitance_f",
        &["neither a capacitance nor \"auto\""],
    );
    expect_error(&variant(&[("capacitance_f", None)], ""), "capacitance_f", &["missing"]);
    // band-pass keys on a low-pass coil
    expect_error(
        &variant(&[], "ring_capacitance_f = 10e-12"),
        "ring_capacitance_f",
        &["band_pass", "use `capacitance_f`"],
    );
}

#[test]
fn band_pass_needs_one_given_capacitor() {
    let bp = variant(
        &[("type", Some("\"band_pass\"")), ("capacitance_f", None)],
        "rung_capacitance_f = \"auto\"\nring_capacitance_f = \"auto\"",
    );
    expect_error(&bp, "ring_capacitance_f", &["both band_pass capacitors are \"auto\""]);
    let bp = variant(
        &[("type", Some("\"band_pass\""))],
        "rung_capacitance_f = \"auto\"\nring_capacitance_f = 30e-12",
    );
    expect_error(
        &bp,
        "capacitance_f",
        &["use `rung_capacitance_f` and `ring_capacitance_f`"],
    );
    // A ring capacitor so small that it alone puts m = 1 above Larmor: the tuning names it.
    let bp = variant(
        &[("type", Some("\"band_pass\"")), ("capacitance_f", None)],
        "rung_capacitance_f = \"auto\"\nring_capacitance_f = 0.1e-12",
    );
    let c = CoilConfig::from_toml_str(&bp, "coils/bad.toml").unwrap();
    let e = circuit::tune(&c).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Input { .. })
            && msg.contains("coils/bad.toml")
            && msg.contains("ring_capacitance_f")
            && msg.contains("larger"),
        "{msg}"
    );
}

#[test]
fn unknown_and_missing_keys() {
    let msg = expect_error(
        &variant(&[], "rung_diameter_m = 0.24"),
        "rung_diameter_m",
        &["unknown field", "valid keys are", "rung_radius_m"],
    );
    assert!(msg.contains("coils/bad.toml"), "{msg}");
    expect_error(
        &variant(&[("rung_radius_m", None)], ""),
        "rung_radius_m",
        &["missing", "add `rung_radius_m ="],
    );
    expect_error(
        &variant(&[("rung_length_m", Some("-0.25"))], ""),
        "rung_length_m",
        &["not a positive finite number"],
    );
    expect_error(
        &variant(&[("type", Some("\"low-pass\""))], ""),
        "low-pass",
        &["unknown variant", "use one of"],
    );
    expect_error(
        &GOOD.replace("[[ports]]\nangle_deg = 0.0", "[[ports]]\nangle = 0.0"),
        "angle",
        &["unknown field"],
    );
}

#[test]
fn contradictory_or_unknown_frequency() {
    expect_error(
        &variant(&[], "field_t = 3.0\nnucleus = \"1H\""),
        "freq_hz",
        &["contradictory", "either freq_hz, or field_t and nucleus"],
    );
    expect_error(
        &variant(&[("freq_hz", None)], "field_t = 3.0\nnucleus = \"2H\""),
        "nucleus",
        &["unknown nucleus", "1H"],
    );
    expect_error(
        &variant(&[("freq_hz", None)], "field_t = 3.0"),
        "nucleus",
        &["without nucleus"],
    );
    expect_error(&variant(&[("freq_hz", None)], ""), "freq_hz", &["no frequency"]);
    let c = CoilConfig::from_toml_str(
        &variant(&[("freq_hz", None)], "field_t = 3.0\nnucleus = \"1H\""),
        "coils/x.toml",
    )
    .unwrap();
    assert!((c.freq_hz - 127.73e6).abs() < 0.01e6, "{}", c.freq_hz);
}

#[test]
fn ports_off_the_elements_or_not_in_quadrature() {
    expect_error(
        &GOOD.replace("angle_deg = 90.0", "angle_deg = 100.0"),
        "ports[1].angle_deg",
        &["not at a rung", "use e.g. 90.000"],
    );
    expect_error(
        &GOOD.replace("angle_deg = 90.0", "angle_deg = 135.0"),
        "ports",
        &["135.000 deg apart", "90 deg apart"],
    );
    let one_port = GOOD.replace("[[ports]]\nangle_deg = 90.0\n", "");
    expect_error(&one_port, "ports", &["exactly 2 ports"]);
    expect_error(
        &GOOD.replace("angle_deg = 90.0", "angle_deg = 90.0\nelement = \"ring\""),
        "ports[1].element",
        &["low_pass", "element = \"rung\""],
    );
    let no_ports = GOOD.split("[[ports]]").next().unwrap().to_string();
    expect_error(&no_ports, "ports", &["no ports"]);
}

#[test]
fn strips_too_wide() {
    // rung spacing 2 pi 0.12 / 8 = 0.0942 m
    expect_error(
        &variant(&[("rung_width_m", Some("0.1"))], ""),
        "rung_width_m",
        &["would touch"],
    );
}

#[test]
fn several_problems_are_reported_at_once() {
    let msg = expect_error(
        &variant(&[("rungs", Some("3")), ("capacitance_f", Some("-1e-12"))], ""),
        "rungs",
        &["2 problems", "capacitance_f", "at least 4"],
    );
    assert!(msg.contains("(1)") && msg.contains("(2)"), "{msg}");
}

// ------------------------------------------------------------------------------------------------
// Phantoms

const CYL: &str = r#"
shape = "cylinder"
radius_m = 0.15
length_m = 0.9
[material]
eps_r = 80.0
sigma_s_per_m = 0.47
density_kg_per_m3 = 1000.0
k_w_per_m_k = 0.54
c_j_per_kg_k = 4150.0
"#;

fn phantom_error(text: &str, key: &str, words: &[&str]) {
    let e = PhantomConfig::from_toml_str(text, "phantoms/bad.toml").expect_err("bad phantom accepted");
    let msg = e.to_string();
    assert!(matches!(e, Error::Input { .. }), "{e:?}");
    assert!(msg.starts_with("phantoms/bad.toml: ") && msg.contains(key), "{msg}");
    for w in words {
        assert!(msg.contains(w), "{msg:?} lacks {w:?}");
    }
}

#[test]
fn bad_phantoms() {
    PhantomConfig::from_toml_str(CYL, "phantoms/good.toml").unwrap();
    phantom_error(
        &CYL.replace("sigma_s_per_m = 0.47", "sigma_s_per_m = -0.47"),
        "material.sigma_s_per_m",
        &["negative", ">= 0"],
    );
    phantom_error(
        &CYL.replace("eps_r = 80.0", "eps_r = 0.5"),
        "material.eps_r",
        &["below 1"],
    );
    phantom_error(
        &CYL.replace("c_j_per_kg_k = 4150.0\n", ""),
        "material.c_j_per_kg_k",
        &["missing"],
    );
    phantom_error(
        &CYL.replace("radius_m = 0.15", "radius_m = 0.15\nwidth_m = 0.3"),
        "width_m",
        &["no width"],
    );
    phantom_error(
        &CYL.replace("[material]", "colour = \"blue\"\n[material]"),
        "colour",
        &["unknown field"],
    );
    phantom_error(
        &format!("{CYL}[position]\nlandmark_in_phantom_m = [0.0, 0.0, 0.6]\n"),
        "position.landmark_in_phantom_m",
        &["outside the phantom"],
    );
}

#[test]
fn phantom_must_fit_in_the_coil() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let astm = PhantomConfig::load(&root.join("phantoms/astm_f2182.toml")).unwrap();
    let head = CoilConfig::load(&root.join("coils/head_3t_lp8.toml")).unwrap();
    let body = CoilConfig::load(&root.join("coils/body_1p5t_hp16.toml")).unwrap();
    astm.check_fits(&body).unwrap();
    let e = astm.check_fits(&head).unwrap_err();
    let msg = e.to_string();
    assert!(
        matches!(e, Error::Input { .. })
            && msg.contains("astm_f2182.toml")
            && msg.contains("position.landmark_from_isocentre_m")
            && msg.contains("does not fit"),
        "{msg}"
    );
    // Moved 0.15 m off axis, the r = 0.15 m cylinder touches the body coil's 0.325 m rungs.
    let cyl = PhantomConfig::from_toml_str(
        &format!("{CYL}[position]\nlandmark_from_isocentre_m = [0.0, 0.18, 0.0]\n"),
        "phantoms/off.toml",
    )
    .unwrap();
    assert!(cyl.check_fits(&body).unwrap_err().to_string().contains("does not fit"));
}

#[test]
fn cli_bad_coil_exits_2_and_names_file_and_key() {
    let dir = std::env::temp_dir().join(format!("rftwin_coil_errors_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad_coil.toml");
    std::fs::write(&bad, variant(&[("shield_radius_m", Some("0.1"))], "")).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rftwin"))
        .args(["coil", "tune"])
        .arg(&bad)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad_coil.toml") && err.contains("shield_radius_m"),
        "{err}"
    );
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rftwin"))
        .args(["coil", "tune"])
        .arg(dir.join("missing.toml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn cli_tune_prints_capacitance_and_spectrum() {
    let f = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("coils/head_3t_lp8.toml");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rftwin"))
        .args(["coil", "tune", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let c = v["capacitance_f"].as_f64().unwrap();
    assert!(c > 1e-12 && c < 10e-12, "{c}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_rftwin"))
        .args(["coil", "tune"])
        .arg(&f)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("capacitance_f") && text.contains("homogeneous") && text.contains("127.7000"),
        "{text}"
    );
}
