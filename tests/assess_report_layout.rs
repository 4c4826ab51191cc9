//! Issue 20, the report's layout parts, on one small `rftwin assess` run (20 mm ideal-drive twin, a
//! 10 cm insulated wire on 2 mm cells, 1 minute of heating): hot spots in the phantom and coil frames
//! near the implant, the 10 g map with no frame along the box's edge, `fields.xmf` that opens with the
//! HDF5 it names, CEM43's baseline, the command line and unconfirmed inputs recorded, inputs by
//! their logical paths, and progress lines when stderr is not a terminal.

use std::path::{Path, PathBuf};
use std::process::Command;

use rftwin::report::recipe::Recipe;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-layout-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The recipe, with the implant named through `phantoms/../phantoms/./implants/…` (a non-logical path).
fn recipe(dir: &Path) -> PathBuf {
    let r = root().display().to_string();
    let text = format!(
        "title = \"layout test\"\n\n[twin]\ncoil = \"{r}/coils/body_1p5t_hp16.toml\"\nphantom = \"{r}/phantoms/astm_f2182.toml\"\ncell_m = 0.02\n\n\
         [[implants]]\nfile = \"{r}/phantoms/../phantoms/./implants/insulated_wire_100mm.toml\"\nname = \"wire\"\nposition_m = [0.10, 0.0, 0.0]\n\
         direction = [0.0, 0.0, 1.0]\nmin_wall_distance_m = 0.02\n\n[normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n\n\
         [exposure]\nduration_s = 60.0\n\n[criteria]\ntemperature_rise = {{ limit_k = 100.0, uncertainty_factor = 1.0 }}\n"
    );
    let p = dir.join("recipe.toml");
    std::fs::write(&p, text).unwrap();
    p
}

fn quantity(s: &serde_json::Value, key: &str) -> f64 {
    s["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == key)
        .unwrap_or_else(|| panic!("no quantity {key}"))["value"]
        .as_f64()
        .unwrap()
}

/// Attribute `name` of the first tag in `tag` (a start tag's text).
fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let i = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    Some(&tag[i..i + tag[i..].find('"')?])
}

/// Every `<DataItem Format="HDF" … Dimensions="…">FILE:/PATH</DataItem>` of an XDMF text.
fn hdf_items(xmf: &str) -> Vec<(String, Vec<usize>, String)> {
    let mut out = Vec::new();
    let mut rest = xmf;
    while let Some(i) = rest.find("<DataItem") {
        let tag_end = rest[i..].find('>').unwrap() + i;
        let tag = &rest[i..tag_end];
        let close = rest[tag_end..].find("</DataItem>").unwrap() + tag_end;
        if attr(tag, "Format") == Some("HDF") {
            let dims = attr(tag, "Dimensions")
                .unwrap()
                .split_whitespace()
                .map(|d| d.parse().unwrap())
                .collect();
            let body = rest[tag_end + 1..close].trim();
            let (file, path) = body.split_once(':').unwrap();
            out.push((file.to_string(), dims, path.to_string()));
        }
        rest = &rest[close..];
    }
    out
}

#[test]
fn assess_report_layout() {
    let d = tmp("run");
    let rp = recipe(&d);
    let out = d.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_rftwin"))
        .args(["assess", rp.to_str().unwrap(), "--out", out.to_str().unwrap(), "--fine-cell-mm", "2"])
        .env("HDF5_USE_FILE_LOCKING", "FALSE")
        .output()
        .expect("run rftwin");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(0), "{stderr}{}", String::from_utf8_lossy(&o.stdout));

    // Progress: stderr is a pipe here, so one timestamped line per stage with its percentage.
    let stage_lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with('[') && l.contains(" s] [") && l.contains(" %]"))
        .collect();
    assert!(stage_lines.len() >= 5, "progress lines:\n{stderr}");
    assert!(stage_lines.iter().any(|l| l.contains("normalisation")));
    assert!(stage_lines.last().unwrap().contains("[100 %] done"), "{stderr}");

    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();

    // CEM43 from a stated baseline: 37 °C by default, recorded.
    assert_eq!(quantity(&s, "setup.baseline_temperature"), 37.0);
    // The command line and the options in effect.
    let cl: Vec<&str> = s["invocation"]["command_line"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(cl.contains(&"--fine-cell-mm") && cl.contains(&"assess"), "{cl:?}");
    assert_eq!(s["invocation"]["options"]["fine_cell_mm"], "2");
    assert_eq!(s["invocation"]["options"]["baseline_temperature_c"], "37");
    // The phantom file's UNCONFIRMED values are flagged.
    let unc = s["unconfirmed"].as_array().unwrap();
    assert!(unc.iter().any(|u| u["role"] == "phantom" && u["text"].as_str().unwrap().contains("eps_r")), "{unc:?}");
    // Inputs by their logical paths.
    for inp in s["inputs"].as_array().unwrap() {
        let p = inp["path"].as_str().unwrap();
        assert!(!p.contains("/../") && !p.contains("/./"), "input shown as {p}");
    }

    // Hot spots: within 2 cells (4 mm) of the wire (x = 100 mm, y = 0, z in [-50, 50] mm, phantom
    // frame), and the coil frame beside it (the ASTM box is centred on the isocentre).
    for what in ["max_temperature_rise", "sar_point_peak", "sar_1g_peak", "sar_10g_peak"] {
        let p: Vec<f64> = ["x", "y", "z"]
            .iter()
            .map(|a| quantity(&s, &format!("implant1.hotspot_{what}.{a}")))
            .collect();
        let c: Vec<f64> = ["x", "y", "z"]
            .iter()
            .map(|a| quantity(&s, &format!("implant1.hotspot_{what}.coil_{a}")))
            .collect();
        let dz = (p[2].abs() - 50.0).max(0.0);
        let dist = ((p[0] - 100.0).powi(2) + p[1].powi(2) + dz * dz).sqrt();
        assert!(dist <= 4.0 + 1e-9, "{what} at {p:?} mm, {dist:.2} mm from the wire");
        for a in 0..3 {
            assert!((p[a] - c[a]).abs() < 1e-9, "{what}: phantom {p:?} vs coil {c:?}");
        }
    }
    assert!(quantity(&s, "implant1.param_insulation_thickness") > 0.0);
    assert!(out.join("implant1_etan.png").is_file());

    // fields.xmf names datasets of fields.h5 with the shapes it states (x fastest).
    let xmf = std::fs::read_to_string(out.join("fields.xmf")).unwrap();
    for unit in ["[W/kg]", "[K]", "[V/m]", "[µT]"] {
        assert!(xmf.contains(unit), "no attribute in {unit}");
    }
    let h5 = hdf5::File::open(out.join("fields.h5")).unwrap();
    let items = hdf_items(&xmf);
    assert!(items.len() >= 8, "{items:?}");
    for (file, dims, path) in &items {
        assert_eq!(file, "fields.h5");
        let ds = h5.dataset(path).unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(&ds.shape(), dims, "{path}");
        let src = h5.dataset(path.trim_start_matches("/xdmf").trim_end_matches("/value")).unwrap();
        let mut rev = src.shape();
        rev.reverse();
        assert_eq!(&rev, dims, "{path} is not the transposed {}", src.name());
        assert!(src.attr("unit").is_ok());
    }

    // The 10 g (and 1 g) map: no value on the local box's outer layer, and its peak inside.
    for name in ["implant1/sar_10g", "implant1/sar_1g"] {
        let a: ndarray::Array3<f32> = h5.dataset(name).unwrap().read().unwrap();
        let (nx, ny, nz) = a.dim();
        let mut best = (f32::MIN, [0usize; 3]);
        for ((i, j, k), v) in a.indexed_iter() {
            let outer = i == 0 || j == 0 || k == 0 || i == nx - 1 || j == ny - 1 || k == nz - 1;
            if outer {
                assert!(v.is_nan(), "{name}[{i},{j},{k}] = {v} on the box's outer layer");
            } else if v.is_finite() && *v > best.0 {
                best = (*v, [i, j, k]);
            }
        }
        assert!(best.0 > 0.0, "{name}: no finite value");
    }
}

#[test]
fn builtin_demo_inputs_are_named_as_such() {
    let mut r = Recipe::load(&root().join("reports/demo.toml")).unwrap();
    let coil = match &r.twin {
        rftwin::report::recipe::TwinSource::Model { coil, .. } => coil.clone(),
        _ => panic!("the demo recipe names a coil"),
    };
    // Paths as resolved against the recipe: reports/../coils/… shown lexically.
    let shown = r.display_path(&coil);
    assert!(shown.ends_with("coils/body_1p5t_hp16.toml") && !shown.contains(".."), "{shown}");
    r.builtin_base = Some(root());
    assert_eq!(r.display_path(&coil), "built-in demo input coils/body_1p5t_hp16.toml");
    let inputs = r.hash_inputs().unwrap();
    assert!(inputs.iter().all(|i| i.path.starts_with("built-in demo input ")), "{inputs:?}");
}
