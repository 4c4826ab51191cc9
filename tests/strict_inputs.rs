//! Issue 14, items 6 and 9: inputs that used to give a wrong answer with exit 0, or a message that
//! named the wrong file or printed debug text. Each case runs the binary (or the library function the
//! command calls), asserts exit code 2 (or the corrected behaviour), the key words of the message (file
//! or option, key, what is wrong, the fix) and that no input changed and no output was written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

mod common;
use common::tmpdir;

/// Every file under `dir` with its bytes (small test trees only).
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn run(args: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_rftwin")).args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).to_string(),
        String::from_utf8_lossy(&o.stderr).to_string(),
    )
}

/// Runs `args` with the inputs in `inputs`: asserts exit 2, every word of `words` in stderr, no panic
/// text, `out` not created and `inputs` unchanged. Returns stderr.
fn refused(args: &[&str], inputs: &Path, out: &Path, words: &[&str]) -> String {
    let before = tree(inputs);
    let (code, _, err) = run(args);
    assert_eq!(code, 2, "{args:?}: exit {code}, stderr: {err}");
    for w in words {
        assert!(err.contains(w), "{args:?}: message lacks {w:?}: {err}");
    }
    assert!(!err.contains("panicked") && !err.contains("Some("), "{err}");
    assert!(!out.exists(), "{args:?}: {} written despite the error", out.display());
    assert_eq!(before, tree(inputs), "{args:?}: an input changed");
    err
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// A dipole beside a gel slab, CW at 300 MHz on 10 mm cells (33 cells per wavelength in the gel): a
/// field file with an E probe for `sar` and `heat`, made once per test process.
const SIM: &str = r#"
[grid]
cells = [16, 16, 16]
cell_size_m = [0.01, 0.01, 0.01]

[[materials]]
name = "gel"
eps_r = 10.0
sigma_s_per_m = 0.5
density_kg_per_m3 = 1000.0

[[shapes]]
name = "slab"
material = "gel"
box = { min_m = [0.09, 0.02, 0.02], max_m = [0.14, 0.14, 0.14] }

[[wires]]
from_m = [0.05, 0.08, 0.03]
to_m = [0.05, 0.08, 0.07]

[[wires]]
from_m = [0.05, 0.08, 0.08]
to_m = [0.05, 0.08, 0.12]

[[elements]]
name = "feed"
kind = "port"
axis = "z"
at_m = [0.05, 0.08, 0.07]
r_ohm = 50.0

[boundaries]
cpml_layers = 4

[[probes]]
name = "all"
field = "E"

[run]
mode = "cw"
freq_hz = 3e8
tolerance = 1e-3
"#;

fn fields() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    F.get_or_init(|| {
        let d = tmpdir("fdtd");
        std::fs::write(d.join("sim.toml"), SIM).unwrap();
        let out = d.join("out");
        let (code, _, err) = run(&["fdtd", "run", s(&d.join("sim.toml")), "--out", s(&out), "--quiet"]);
        assert_eq!(code, 0, "fixture run failed: {err}");
        out.join("fields.h5")
    })
}

const GEL_THERMAL: &str = "[materials.gel.thermal]\npreset = \"astm_gel\"\n";

// ----------------------------------------------------------------------------------------------
// Item 6: wrong answers with exit 0.

#[test]
fn sar_refuses_e_components_of_different_shapes() {
    let d = tmpdir("shapes");
    let bad = d.join("cropped.h5");
    std::fs::copy(fields(), &bad).unwrap();
    let full_shape;
    {
        // Ey replaced by its first half along x (same attributes): before, the common grid was cropped
        // to that half and the whole-phantom SAR came out halved.
        let f = hdf5::File::open_rw(&bad).unwrap();
        let ds = f.dataset("all/Ey_f0").unwrap();
        let a = ds.read::<num_complex::Complex32, ndarray::Ix3>().unwrap();
        full_shape = ds.shape();
        let o = ds.attr("origin_m").unwrap().read_raw::<f64>().unwrap();
        let sp = ds.attr("spacing_m").unwrap().read_raw::<f64>().unwrap();
        let unit = ds
            .attr("unit")
            .unwrap()
            .read_scalar::<hdf5::types::VarLenUnicode>()
            .unwrap();
        drop(ds);
        let half = a.slice(ndarray::s![..full_shape[0] / 2, .., ..]).to_owned();
        let g = f.group("all").unwrap();
        g.unlink("Ey_f0").unwrap();
        let n = g.new_dataset_builder().with_data(&half).create("Ey_f0").unwrap();
        n.new_attr::<f64>()
            .shape([3])
            .create("origin_m")
            .unwrap()
            .write_raw(&o)
            .unwrap();
        n.new_attr::<f64>()
            .shape([3])
            .create("spacing_m")
            .unwrap()
            .write_raw(&sp)
            .unwrap();
        n.new_attr::<hdf5::types::VarLenUnicode>()
            .create("unit")
            .unwrap()
            .write_scalar(&unit)
            .unwrap();
    }
    let out = d.join("out");
    let err = refused(
        &["sar", s(&bad), "--out", s(&out)],
        &d,
        &out,
        &["cropped.h5", "all/Ey_f0", "shape", "all/Ex_f0", "one probe"],
    );
    // Both shapes are named.
    assert!(err.contains(&format!("{}", full_shape[0] / 2)), "{err}");
    // The unmodified file still gives a result (the check does not refuse real probes).
    let ok = tmpdir("shapes-ok").join("out");
    let (code, _, err) = run(&["sar", s(fields()), "--out", s(&ok), "--quiet"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn heat_on_fields_needs_normalise() {
    let d = tmpdir("heat-norm");
    let m = d.join("thermal.toml");
    std::fs::write(&m, GEL_THERMAL).unwrap();
    let out = d.join("out");
    refused(
        &[
            "heat",
            s(fields()),
            "--materials",
            s(&m),
            "--duration-s",
            "10",
            "--out",
            s(&out),
        ],
        &d,
        &out,
        &["fields.h5", "--normalise", "raw solution", "whole-phantom=", "sar.h5"],
    );
}

#[test]
fn heat_settings_are_range_checked_against_their_source() {
    let d = tmpdir("heat-range");
    let m = d.join("thermal.toml");
    std::fs::write(&m, GEL_THERMAL).unwrap();
    let out = d.join("out");
    let base = [
        "heat",
        s(fields()),
        "--normalise",
        "whole-phantom=2",
        "--materials",
        s(&m),
    ];
    let with = |extra: &[&'static str]| -> Vec<String> {
        base.iter()
            .map(|x| x.to_string())
            .chain(extra.iter().map(|x| x.to_string()))
            .chain(["--out".to_string(), s(&out).to_string()])
            .collect()
    };
    let args = with(&["--initial-temperature-c=-300"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &a,
        &d,
        &out,
        &["--initial-temperature-c", "-300", "absolute zero", "between -20 and 60"],
    );
    let args = with(&["--initial-temperature-c", "-25"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(
        &a,
        &d,
        &out,
        &["--initial-temperature-c", "outside the range", "between -20 and 60"],
    );
    let args = with(&["--dt-s", "0"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&a, &d, &out, &["--dt-s", "time step 0 s", "e.g. 5"]);
    let args = with(&["--duration-s", "-5"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&a, &d, &out, &["--duration-s", "exposure length -5 s", "e.g. 900"]);
    // From the materials TOML: the TOML and its key are named.
    std::fs::write(&m, format!("{GEL_THERMAL}[exposure]\ninitial_temperature_c = 95.0\n")).unwrap();
    let args = with(&[]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    refused(&a, &d, &out, &["thermal.toml", "exposure.initial_temperature_c", "95"]);
    // A starting temperature inside the range still runs.
    std::fs::write(&m, GEL_THERMAL).unwrap();
    let args = with(&["--initial-temperature-c", "37", "--duration-s", "10", "--quiet"]);
    let a: Vec<&str> = args.iter().map(String::as_str).collect();
    let (code, _, err) = run(&a);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(v["settings"]["initial_temperature_c"], 37.0);
}

#[test]
fn unknown_tolerance_class_is_refused() {
    // A golden directory with the shipped summary: a class with a typo ("sar_10g." for "sar.") used to
    // leave the 10 g SAR at the default tolerance without a word.
    let d = tmpdir("tol");
    std::fs::copy(root().join("reports/golden/small/summary.json"), d.join("summary.json")).unwrap();
    std::fs::write(
        d.join("tolerances.toml"),
        "[classes]\n\"sar_10g.\" = 0.05\n\"timing.\" = inf\n",
    )
    .unwrap();
    let e = rftwin::report::regress::Tolerances::for_golden_dir(&d).unwrap_err();
    assert_eq!(e.exit_code(), 2);
    let m = e.to_string();
    for w in [
        "tolerances.toml",
        "classes.\"sar_10g.\"",
        "matches no quantity",
        "sar.",
        "timing.",
    ] {
        assert!(m.contains(w), "lacks {w:?}: {m}");
    }
    // Unknown keys at every level: top level and inside [classes] as a table.
    std::fs::write(
        d.join("tolerances.toml"),
        "default_rel = 0.01\nfield_nrmse_typo = 0.5\n",
    )
    .unwrap();
    let m = rftwin::report::regress::Tolerances::for_golden_dir(&d)
        .unwrap_err()
        .to_string();
    assert!(m.contains("field_nrmse_typo") && m.contains("valid keys"), "{m}");
    std::fs::write(d.join("tolerances.toml"), "[classes.sar]\nrel = 0.05\n").unwrap();
    assert!(rftwin::report::regress::Tolerances::for_golden_dir(&d).is_err());
    // The shipped golden set's tolerances are all live.
    let t = rftwin::report::regress::Tolerances::for_golden_dir(&root().join("reports/golden/small")).unwrap();
    assert!(t.classes.iter().any(|(c, _)| c == "timing."), "{t:?}");
}

#[test]
fn fdtd_decay_db_must_be_positive_and_toml_errors_give_line_and_column() {
    let d = tmpdir("decay");
    let pulse = SIM.replace(
        "mode = \"cw\"\nfreq_hz = 3e8\ntolerance = 1e-3",
        "mode = \"pulse\"\nfreqs_hz = [2e8, 3e8]\ndecay_db = -40.0",
    );
    assert!(pulse.contains("decay_db = -40.0"));
    let f = d.join("pulse.toml");
    std::fs::write(&f, &pulse).unwrap();
    let out = d.join("out");
    refused(
        &["fdtd", "run", s(&f), "--out", s(&out)],
        &d,
        &out,
        &["pulse.toml", "run.decay_db", "-40 dB", "positive", "decay_db = 50"],
    );
    // A syntax error: line and column, never a debug-printed span.
    std::fs::write(&f, pulse.replace("decay_db = -40.0", "decay_db = = 4")).unwrap();
    let err = refused(
        &["fdtd", "run", s(&f), "--out", s(&out)],
        &d,
        &out,
        &["pulse.toml", "line", "column"],
    );
    let line = pulse.lines().position(|l| l.contains("decay_db")).unwrap() + 1;
    assert!(err.contains(&format!("line {line}, column")), "{err}");
    // An unknown key is named with its place.
    std::fs::write(&f, pulse.replace("decay_db = -40.0", "decay_dB = 40.0")).unwrap();
    refused(
        &["fdtd", "run", s(&f), "--out", s(&out)],
        &d,
        &out,
        &["decay_dB", "unknown field", "line"],
    );
}

#[test]
fn implant_search_min_wall_must_be_finite() {
    let d = tmpdir("search");
    let out = d.join("out");
    let implant = root().join("phantoms/implants/insulated_wire_200mm.toml");
    for v in ["nan", "inf", "-0.01"] {
        refused(
            &[
                "implant",
                "search",
                "--coil",
                s(&root().join("coils/body_1p5t_hp16.toml")),
                "--phantom",
                s(&root().join("phantoms/astm_f2182.toml")),
                "--implant",
                s(&implant),
                "--min-wall-m",
                v,
                "--out",
                s(&out),
            ],
            &d,
            &out,
            &["--min-wall-m", "finite distance >= 0", "e.g. --min-wall-m 0.02"],
        );
    }
}

#[test]
fn implant_tf_phantom_conflicts_with_medium_options() {
    let d = tmpdir("tf");
    let out = d.join("out");
    let implant = root().join("phantoms/implants/insulated_wire_200mm.toml");
    let phantom = root().join("phantoms/astm_f2182.toml");
    for opt in [["--eps-r", "3"], ["--sigma-s-per-m", "0.1"]] {
        // Both orders: the option before and after --phantom.
        let e = refused(
            &[
                "implant",
                "tf",
                s(&implant),
                "--phantom",
                s(&phantom),
                opt[0],
                opt[1],
                "--out",
                s(&out),
            ],
            &d,
            &out,
            &[opt[0], "--phantom", "cannot be used with"],
        );
        assert!(!e.is_empty());
        refused(
            &[
                "implant",
                "tf",
                s(&implant),
                opt[0],
                opt[1],
                "--phantom",
                s(&phantom),
                "--out",
                s(&out),
            ],
            &d,
            &out,
            &[opt[0], "--phantom", "cannot be used with"],
        );
    }
}

#[test]
fn coil_tune_refuses_frequencies_beyond_the_circuit_model() {
    let d = tmpdir("tune");
    let text = std::fs::read_to_string(root().join("coils/head_3t_lp8.toml")).unwrap();
    let f = d.join("thz.toml");
    std::fs::write(&f, text.replace("freq_hz = 127.7e6", "freq_hz = 1e12")).unwrap();
    let out = d.join("no-output");
    refused(
        &["coil", "tune", s(&f)],
        &d,
        &out,
        &[
            "thz.toml",
            "freq_hz",
            "half the free-space wavelength",
            "Larmor frequency",
        ],
    );
    // A 1e30 m radius: the geometry is refused instead of "rung capacitors of NaN F".
    std::fs::write(&f, text.replace("rung_radius_m = 0.120", "rung_radius_m = 1e30")).unwrap();
    let err = refused(
        &["coil", "tune", s(&f)],
        &d,
        &out,
        &["thz.toml", "rung_radius_m", "MRI birdcage", "0.33"],
    );
    assert!(!err.contains("NaN"), "{err}");
    // The real coil: capacitances with an SI prefix and 4 digits (never 0.0000 pF).
    let (code, stdout, err) = run(&["coil", "tune", s(&root().join("coils/head_3t_lp8.toml"))]);
    assert_eq!(code, 0, "{err}");
    let line = stdout.lines().find(|l| l.starts_with("capacitance_f")).unwrap();
    assert!(line.contains(" pF,"), "{line}");
    assert!(!stdout.contains("0.0000 pF"), "{stdout}");
}

#[test]
fn phantom_larger_than_the_simulated_box_is_refused() {
    // The grid grows along z to hold a long phantom (tests/coil_geometry.rs), but a shielded coil's
    // box ends laterally just outside the shield: a phantom beyond the shield's end that is wider
    // than the shield would be clipped there.
    let d = tmpdir("big-phantom");
    let text = std::fs::read_to_string(root().join("phantoms/astm_f2182.toml")).unwrap();
    let p = d.join("wide_phantom.toml");
    let text = text
        .replace("width_m = 0.420", "width_m = 1.000")
        .replace("length_m = 0.650", "length_m = 0.100")
        .replace("landmark_from_isocentre_m = [0.0, 0.0, 0.0]", "landmark_from_isocentre_m = [0.0, 0.0, 0.7]");
    std::fs::write(&p, &text).unwrap();
    assert!(text.contains("width_m = 1.000") && text.contains("[0.0, 0.0, 0.7]"));
    let out = d.join("out");
    refused(
        &[
            "coil",
            "simulate",
            s(&root().join("coils/body_1p5t_hp16.toml")),
            "--phantom",
            s(&p),
            "--cell-mm",
            "20",
            "--out",
            s(&out),
        ],
        &d,
        &out,
        &[
            "wide_phantom.toml",
            "width_m",
            "-0.5000 to 0.5000 m along x",
            "simulated box",
            "clipped",
            "smaller",
        ],
    );
}

// ----------------------------------------------------------------------------------------------
// Item 9: messages.

#[test]
fn nan_euler_angle_is_blamed_on_the_placement_file() {
    let d = tmpdir("euler");
    let pl = d.join("placement.toml");
    std::fs::write(&pl, "position_m = [0.0, 0.0, 0.0]\neuler_deg = [nan, 90.0, 0.0]\n").unwrap();
    let out = d.join("out");
    let err = refused(
        &[
            "implant",
            "place",
            s(&root().join("phantoms/implants/insulated_wire_200mm.toml")),
            "--phantom",
            s(&root().join("phantoms/astm_f2182.toml")),
            "--placement",
            s(&pl),
            "--out",
            s(&out),
        ],
        &d,
        &out,
        &["placement.toml", "euler_deg", "finite angles", "degrees"],
    );
    assert!(!err.contains("astm_f2182.toml"), "{err}");
}

#[test]
fn heat_materials_errors_name_the_materials_toml() {
    let d = tmpdir("heat-mats");
    let m = d.join("thermal.toml");
    let out = d.join("out");
    let args = |m: &Path| {
        vec![
            "heat".to_string(),
            s(fields()).to_string(),
            "--normalise".into(),
            "whole-phantom=2".into(),
            "--materials".into(),
            s(m).to_string(),
            "--duration-s".into(),
            "10".into(),
            "--out".into(),
            s(&out).to_string(),
        ]
    };
    for (toml, words) in [
        (
            format!("{GEL_THERMAL}conductivity_w_per_m_k = -0.5\n"),
            vec!["thermal.toml", "materials.gel.thermal.conductivity_w_per_m_k", "-0.5", "> 0"],
        ),
        (
            format!("{GEL_THERMAL}[boundaries]\nall = {{ kind = \"convective\", h_w_per_m2_k = -10.0, ambient_c = 22.0 }}\n"),
            vec!["thermal.toml", "boundaries.all.h_w_per_m2_k", "e.g. 10"],
        ),
        (
            format!("{GEL_THERMAL}[boundaries]\nall = {{ kind = \"insulating\", ambient_c = 22.0 }}\n"),
            vec!["thermal.toml", "ambient_c"],
        ),
        (
            format!("{GEL_THERMAL}[[probes]]\nname = \"tip\"\nposition_m = [0.1, 0.08, 0.08]\nradius_m = -0.001\n"),
            vec!["thermal.toml", "probes[0].radius_m"],
        ),
    ] {
        std::fs::write(&m, &toml).unwrap();
        let a = args(&m);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let err = refused(&a, &d, &out, &words);
        assert!(!err.contains("fields.h5:"), "the field file is blamed: {err}");
    }
}

#[test]
fn regress_prints_the_numbers_that_moved() {
    use rftwin::report::regress::{compare_summaries, distinct_pair, Tolerances};
    use rftwin::report::summary::Summary;
    // Two summaries whose stored texts round to the same "10.71 W/kg" but whose values differ by 0.1 %.
    let g: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("reports/golden/small/summary.json")).unwrap()).unwrap();
    let mut n = g.clone();
    let q = n["quantities"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|q| q["key"] == "sar.peak_10g")
        .unwrap();
    let v = q["value"].as_f64().unwrap();
    q["value"] = serde_json::json!(v * 1.001);
    let (g, n): (Summary, Summary) = (serde_json::from_value(g).unwrap(), serde_json::from_value(n).unwrap());
    let mut checks = Vec::new();
    let tol = Tolerances {
        default_rel: 1e-4,
        ..Default::default()
    };
    compare_summaries(&g, &n, &tol, &mut checks);
    let c = checks.iter().find(|c| c.what == "summary:sar.peak_10g").unwrap();
    assert!(!c.pass, "{}", c.message);
    let (a, b) = distinct_pair(v, v * 1.001);
    assert_ne!(a, b);
    assert!(c.message.contains(&format!("{a} W/kg -> {b} W/kg")), "{}", c.message);
    // The change is visible in the numbers themselves, with at least 4 significant digits.
    assert_eq!(
        distinct_pair(10.7051, 10.7149),
        ("10.705".to_string(), "10.715".to_string())
    );
    assert_eq!(distinct_pair(3.2, 3.36), ("3.200".to_string(), "3.360".to_string()));
    assert_eq!(distinct_pair(1.0, 1.0), ("1.000".to_string(), "1.000".to_string()));
}

#[test]
fn write_errors_say_disk_full_or_not_writable() {
    let e = rftwin::dosimetry::io::write_error(Path::new("/out/sar.h5"), "H5Dwrite(): unable to write\nstack...");
    assert_eq!(e.exit_code(), 2);
    let m = e.to_string();
    for w in [
        "/out/sar.h5",
        "disk full or not writable?",
        "H5Dwrite(): unable to write",
        "--out",
    ] {
        assert!(m.contains(w), "lacks {w:?}: {m}");
    }
    assert!(!m.contains("stack..."), "{m}");
}

/// `--out` on a full disk (a 48 kB tmpfs; needs root, as in CI, else skipped with a note): exit 2 and a
/// message naming the file and "disk full or not writable?", never a raw HDF5 or OS error alone.
#[test]
fn full_disk_says_disk_full() {
    let mnt = tmpdir("full-disk");
    let ok = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=48k", "tmpfs"])
        .arg(&mnt)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        eprintln!("skipped: cannot mount a small tmpfs here (not root)");
        return;
    }
    let out = mnt.join("out");
    let (code, _, err) = run(&["sar", s(fields()), "--out", s(&out), "--quiet"]);
    // fields.h5 of `fdtd run` (the shared HDF5 field writer), on the same full disk.
    let sim = tmpdir("full-disk-sim").join("sim.toml");
    std::fs::write(&sim, SIM).unwrap();
    let out2 = mnt.join("run");
    let (code2, _, err2) = run(&["fdtd", "run", s(&sim), "--out", s(&out2), "--quiet"]);
    let _ = Command::new("umount").arg(&mnt).status();
    for (code, err) in [(code, err), (code2, err2)] {
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("disk full or not writable?"), "{err}");
        assert!(err.contains(s(&mnt)), "the file is named: {err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}
