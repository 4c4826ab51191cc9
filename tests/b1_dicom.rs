//! B1 maps as scanners give them (issue 17, items 3–5): DICOM series (classic and enhanced
//! multi-frame), dcm2niix-like NIfTI + JSON, a Philips-like percent map, an HDF5 map under its own
//! dataset name, each in patient coordinates for HFS and FFS with an air field of view holding
//! Rician noise. The fixtures are made by `scripts/fixtures/make_b1_scanner_maps.py` from the shipped
//! example map (see the script: every second voxel of it, 16 mm) and committed under
//! `tests/fixtures/b1_scanner/`.

mod common;
use common::{bin, tmpdir};

use std::path::{Path, PathBuf};

use rftwin::b1::{read_measured, Affine, B1Map, B1Unit, Frame, MapReadOptions};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fx(name: &str) -> PathBuf {
    root().join("tests/fixtures/b1_scanner").join(name)
}

fn opts(f: impl FnOnce(&mut MapReadOptions)) -> MapReadOptions {
    let mut o = MapReadOptions::default();
    f(&mut o);
    o
}

/// The scanner maps with the options docs/b1-maps.md gives for them: (name, path, options, the
/// factor from the clean map's µT to the map's fitted unit, quantisation step in that unit).
fn variants() -> Vec<(String, PathBuf, Vec<String>, f64, f64)> {
    let mut v = Vec::new();
    for pos in ["HFS", "FFS"] {
        v.push((
            format!("siemens dicom {pos}"),
            fx(&format!("siemens_tfl_b1map_{pos}")),
            vec!["--nominal-flip-deg".into(), "80".into()],
            0.5,
            1.0 / 800.0,
        ));
        v.push((
            format!("siemens dcm2niix {pos}"),
            fx(&format!("siemens_tfl_b1map_{pos}.nii.gz")),
            vec!["--nominal-flip-deg".into(), "80".into()],
            0.5,
            1.0 / 800.0,
        ));
        v.push((
            format!("philips enhanced dicom {pos}"),
            fx(&format!("philips_b1_{pos}.dcm")),
            vec![],
            0.5,
            1e-3,
        ));
        v.push((
            format!("hdf5 {pos}"),
            fx(&format!("b1_patient_{pos}.h5")),
            vec![
                "--dataset".into(),
                "tb1_uT".into(),
                "--patient-position".into(),
                pos.into(),
            ],
            1.0,
            1e-5,
        ));
    }
    v
}

/// The command-line options as [`MapReadOptions`] (the ones the variants use).
fn as_options(args: &[String]) -> MapReadOptions {
    opts(|o| {
        let mut it = args.iter();
        while let Some(k) = it.next() {
            let v = it.next().unwrap().clone();
            match k.as_str() {
                "--nominal-flip-deg" => o.nominal_flip_deg = Some(v.parse().unwrap()),
                "--dataset" => o.dataset = Some(v),
                "--patient-position" => o.patient_position = Some(v),
                _ => panic!("{k}"),
            }
        }
    })
}

/// For every finite voxel of the clean map: the value of `map` at the same coil-frame position
/// (which must be a voxel centre of `map`, else Err), and the largest |difference| from `factor` ×
/// clean.
fn max_difference(clean: &B1Map, map: &B1Map, factor: f64) -> Result<f64, String> {
    let inv: Affine = map.affine.inverse("map").unwrap();
    let d = map.dims();
    let mut worst: f64 = 0.0;
    for ((i, j, k), v) in clean.magnitude.indexed_iter() {
        if !v.is_finite() {
            continue;
        }
        let p = clean.voxel_position(i, j, k);
        let q = inv.apply(p);
        let idx = q.map(|x| x.round());
        if !(0..3).all(|a| (q[a] - idx[a]).abs() < 1e-6) {
            return Err(format!(
                "{} voxel at {p:?} is not on the map's lattice: {q:?}",
                map.source
            ));
        }
        if !(0..3).all(|a| idx[a] >= 0.0 && (idx[a] as usize) < d[a]) {
            return Err(format!("{p:?} outside {}", map.source));
        }
        let w = map.magnitude[[idx[0] as usize, idx[1] as usize, idx[2] as usize]] as f64;
        worst = worst.max((w - factor * *v as f64).abs());
    }
    Ok(worst)
}

/// Each scanner map, read with its documented options, puts the clean map's values at the clean
/// map's coil-frame positions (up to the stored numbers' quantisation): the unit recognised from
/// the Siemens / Philips attributes, the patient position from the DICOM files or the sidecar
/// (FFS: x and z mirrored), the enhanced file's frames in reverse order sorted. Read with the wrong
/// patient position, the FFS maps put other values there; the scanner facts reach `info`.
#[test]
fn scanner_maps_land_on_the_clean_map_in_the_coil_frame() {
    let clean = read_measured(&fx("clean_uT.nii.gz"), &MapReadOptions::default())
        .unwrap()
        .map;
    assert_eq!(clean.frame, Frame::Simulation);
    for (name, path, args, factor, step) in variants() {
        let r = read_measured(&path, &as_options(&args)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(r.map.frame, Frame::Simulation, "{name}");
        let want_unit = if factor == 1.0 {
            B1Unit::MicroTesla
        } else {
            B1Unit::Relative {
                fraction_or_percent: rftwin::b1::RelativeScale::Fraction,
            }
        };
        assert_eq!(r.map.unit, want_unit, "{name}");
        let diff = max_difference(&clean, &r.map, factor).unwrap();
        println!(
            "{name}: stored as {}, max |difference| {diff:.2e}; info {}",
            r.stored_as, r.info
        );
        assert!(
            diff <= 0.51 * step + 1e-6,
            "{name}: max difference {diff} > half a step {step}"
        );
        let pos = if name.ends_with("FFS") { "FFS" } else { "HFS" };
        assert_eq!(r.info["patient_position"], pos, "{name}: {}", r.info);
        if name.starts_with("siemens") {
            assert_eq!(r.info["tx_ref_amp_v"], 287.3, "{name}");
            assert_eq!(r.info["sequence_name"], "*tfl2d1_16", "{name}");
            assert_eq!(r.info["recognised_as"], "Siemens tfl_b1map", "{name}");
            assert!(
                r.stored_as.contains("× 10") && r.stored_as.contains("80"),
                "{}",
                r.stored_as
            );
        }
        if name.starts_with("philips") {
            assert_eq!(r.info["recognised_as"], "Philips B1 map", "{name}");
            assert_eq!(r.stored_as, "percent");
        }
        if pos == "FFS" {
            // The same file taken as head first: mirrored in x and z, the values do not match.
            let mut wrong = as_options(&args);
            wrong.patient_position = Some("HFS".into());
            let w = read_measured(&path, &wrong).unwrap().map;
            match max_difference(&clean, &w, factor) {
                Err(e) => println!("{name} read as HFS: {e}"),
                Ok(diff) => assert!(diff > 0.02 * factor, "{name} read as HFS: max difference only {diff}"),
            }
        }
    }
}

/// The phase of a map is carried to the coil frame unchanged (all patient → coil transforms are
/// proper rotations, and the scanner measures B1+ about its own B0): an FFS map with a phase keeps
/// every voxel's phase, and only its affine changes (x and z mirrored).
#[test]
fn phase_is_not_conjugated_by_the_patient_position() {
    let d = tmpdir("phase");
    let mag = ndarray::Array3::from_shape_fn((4, 3, 5), |(i, j, k)| 1.0 + 0.1 * (i + 2 * j + 3 * k) as f32);
    let ph = ndarray::Array3::from_shape_fn((4, 3, 5), |(i, j, k)| 0.3 * i as f32 - 0.2 * j as f32 + 0.1 * k as f32);
    let aff = Affine::from_origin_spacing([-0.012, -0.008, -0.016], [0.008; 3]);
    let mut m = B1Map::new(mag, aff, Frame::ScannerRas, B1Unit::MicroTesla, "t").unwrap();
    m.phase_rad = Some(ph.clone());
    let p = d.join("phase.h5");
    rftwin::b1::write_h5_map(&p, &m, "b1").unwrap();
    let r = read_measured(
        &p,
        &opts(|o| {
            o.patient_position = Some("FFS".into());
            o.table_position_m = Some(0.25);
        }),
    )
    .unwrap();
    assert_eq!(r.map.phase_rad.as_ref().unwrap(), &ph);
    // RAS (x, y, z) → LPS (−x, −y, z) → FFS coil (x, −y, −z) + table.
    let q = r.map.voxel_position(1, 2, 3);
    let ras = aff.apply([1.0, 2.0, 3.0]);
    let want = [ras[0], -ras[1], 0.25 - ras[2]];
    assert!((0..3).all(|a| (q[a] - want[a]).abs() < 1e-12), "{q:?} vs {want:?}");
    assert_eq!(r.info["frame"], "patient → coil (FFS, table 0.25 m)");
}

fn run(dir: &Path, name: &str, map: &Path, extra: &[&str]) -> (Option<i32>, serde_json::Value, String) {
    let out = dir.join(name);
    let o = bin()
        .args(["twin", "fit", "--quiet", "--cell-mm", "10", "--model", "ideal"])
        .arg("--coil")
        .arg(root().join("coils/body_1p5t_hp16.toml"))
        .arg("--phantom")
        .arg(root().join("phantoms/astm_f2182.toml"))
        .arg("--measured")
        .arg(map)
        .arg("--cache-dir")
        .arg(dir.join("cache"))
        .args(extra)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout).to_string();
    let v = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (o.status.code(), v, String::from_utf8_lossy(&o.stderr).to_string())
}

fn params(v: &serde_json::Value) -> (f64, f64) {
    let c = &v["calibration"];
    (
        c["relative_amplitude"].as_f64().unwrap(),
        c["relative_phase_deg"].as_f64().unwrap(),
    )
}

/// Every scanner map fitted with the documented options gives the clean µT map's port-2 amplitude
/// within 0.5 % and phase within 0.5° (one basis, cached, for all the fits); `fit.json` keeps the
/// sequence, TxRefAmp and patient position. A map with no voxel in the phantom exits 2 naming the
/// file and the fix.
#[test]
fn scanner_maps_fit_like_the_clean_map() {
    let d = tmpdir("fits");
    let (code, clean, err) = run(&d, "clean", &fx("clean_uT.nii.gz"), &[]);
    assert_eq!(code, Some(0), "{err}");
    let (a0, p0) = params(&clean);
    println!("clean: a = {a0:.5}, d = {p0:.3}°");
    for (i, (name, path, args, _, _)) in variants().into_iter().enumerate() {
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, v, err) = run(&d, &format!("v{i}"), &path, &a);
        assert_eq!(code, Some(0), "{name}: {err}");
        let (a1, p1) = params(&v);
        let q = &v["map_quality"];
        println!(
            "{name}: a = {a1:.5} ({:+.3} %), d = {p1:.3}° ({:+.3}°); voxels {}, snr {:.1}, covered {:.3}",
            (a1 / a0 - 1.0) * 100.0,
            p1 - p0,
            q["voxels_used"],
            q["snr"].as_f64().unwrap_or(f64::NAN),
            q["phantom_fraction_covered"].as_f64().unwrap_or(f64::NAN)
        );
        assert!((a1 / a0 - 1.0).abs() < 0.005, "{name}: amplitude {a1} vs clean {a0}");
        assert!((p1 - p0).abs() < 0.5, "{name}: phase {p1}° vs clean {p0}°");
        assert_eq!(q["noise_from"], "background", "{name}: {q}");
        let info = &v["map"]["info"];
        assert!(info["patient_position"].is_string(), "{name}: {info}");
        if name.starts_with("siemens") {
            assert_eq!(info["tx_ref_amp_v"], 287.3, "{name}: {info}");
            assert_eq!(info["sequence_name"], "*tfl2d1_16", "{name}: {info}");
        }
    }
    let (code, _, err) = run(&d, "far", &fx("no_overlap.nii.gz"), &[]);
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("no_overlap.nii.gz") && err.contains("phantom") && err.contains("--patient-position"),
        "{err}"
    );
}

/// Bad scanner input exits 2 before any simulation, naming the file and the fix.
#[test]
fn bad_scanner_maps_exit_2_with_the_file_and_the_fix() {
    let d = tmpdir("bad");
    let cases: Vec<(PathBuf, Vec<&str>, Vec<&str>)> = vec![
        (
            fx("complex.nii.gz"),
            vec!["--unit", "uT"],
            vec!["complex.nii.gz", "complex", "float32"],
        ),
        (fx("rgb.nii.gz"), vec!["--unit", "uT"], vec!["rgb.nii.gz", "RGB"]),
        (
            fx("dicom_missing_slice"),
            vec!["--nominal-flip-deg", "80"],
            vec![
                "dicom_missing_slice",
                "missing slices",
                "IM_0002.dcm",
                "IM_0004.dcm",
                "complete series",
            ],
        ),
        (
            fx("dicom_mixed_orientation"),
            vec!["--nominal-flip-deg", "80"],
            vec!["IM_0004.dcm", "inconsistent orientation", "one orientation"],
        ),
        // The nominal angle of a Siemens flip-angle map is not in its header: say so and ask for it.
        (
            fx("siemens_tfl_b1map_HFS"),
            vec![],
            vec![
                "siemens_tfl_b1map_HFS",
                "--nominal-flip-deg",
                "tfl_b1map",
                "differs between software versions",
                "readout",
            ],
        ),
        (
            fx("siemens_tfl_b1map_FFS.nii.gz"),
            vec![],
            vec!["siemens_tfl_b1map_FFS", "--nominal-flip-deg", "B1NominalFlipAngleDeg"],
        ),
        // An HDF5 map in patient coordinates whose patient position nobody gave.
        (
            fx("b1_patient_HFS.h5"),
            vec!["--dataset", "tb1_uT"],
            vec!["b1_patient_HFS.h5", "--patient-position", "HFS", "--frame coil"],
        ),
        (
            fx("b1_patient_HFS.h5"),
            vec!["--dataset", "tb1_uT", "--patient-position", "XYZ"],
            vec!["--patient-position", "XYZ", "FFDL"],
        ),
    ];
    for (i, (path, extra, want)) in cases.into_iter().enumerate() {
        let (code, _, err) = run(&d, &format!("b{i}"), &path, &extra);
        assert_eq!(code, Some(2), "{}: {err}", path.display());
        for w in want {
            assert!(err.contains(w), "{}: '{w}' not in: {err}", path.display());
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    // Nothing was simulated for them.
    assert!(!d.join("cache").exists() || std::fs::read_dir(d.join("cache")).unwrap().next().is_none());
}

/// The frame keys of a recipe's `[twin]` section reach the map options, and errors name them.
#[test]
fn recipe_frame_keys() {
    use rftwin::report::recipe::{Recipe, TwinSource};
    let base = Path::new("/data/recipes");
    let ok = "title = \"t\"\n[twin]\ncoil = \"c.toml\"\nphantom = \"p.toml\"\nmeasured = \"dicom/b1\"\nmeasured_nominal_flip_deg = 80.0\nmeasured_frame = \"patient\"\nmeasured_patient_position = \"FFS\"\nmeasured_table_position_m = 0.1\n[normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n[exposure]\nduration_s = 60.0\n[criteria]\nsar_10g = { limit_w_per_kg = 10.0 }\n";
    let r = Recipe::from_toml_str(ok, Path::new("r.toml"), base).unwrap();
    let TwinSource::Model {
        map_options: o,
        measured,
        ..
    } = &r.twin
    else {
        panic!("{:?}", r.twin)
    };
    assert_eq!(measured.as_deref(), Some(base.join("dicom/b1").as_path()));
    assert_eq!(o.frame.as_deref(), Some("patient"));
    assert_eq!(o.patient_position.as_deref(), Some("FFS"));
    assert_eq!(o.table_position_m, Some(0.1));
    // A bad position named by the recipe: the error names the recipe key.
    let mut bad = o.clone();
    bad.patient_position = Some("SIDEWAYS".into());
    bad.dataset = Some("tb1_uT".into());
    let e = read_measured(&fx("b1_patient_HFS.h5"), &bad).unwrap_err().to_string();
    assert!(
        e.contains("r.toml") && e.contains("twin.measured_patient_position") && e.contains("HFDR"),
        "{e}"
    );
}

/// A DICOM directory: other files (a text file, a DICOMDIR, hidden files) are skipped; a second
/// series is refused with the series listed and the fix; one enhanced file is read by its name.
#[test]
fn dicom_directory_contents() {
    let d = tmpdir("dir");
    let series = fx("siemens_tfl_b1map_HFS");
    let dir = d.join("b1");
    std::fs::create_dir_all(&dir).unwrap();
    for e in std::fs::read_dir(&series).unwrap() {
        let p = e.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.join("README.txt"), "notes").unwrap();
    std::fs::write(dir.join("DICOMDIR"), "not read").unwrap();
    std::fs::write(dir.join(".hidden"), "x").unwrap();
    let o = opts(|o| o.nominal_flip_deg = Some(80.0));
    let r = read_measured(&dir, &o).unwrap();
    assert_eq!(r.map.dims(), read_measured(&series, &o).unwrap().map.dims());
    std::fs::copy(fx("philips_b1_HFS.dcm"), dir.join("zz_other.dcm")).unwrap();
    let e = read_measured(&dir, &o).unwrap_err().to_string();
    assert!(
        e.contains("2 series") && e.contains("B1map_DREAM") && e.contains("tfl_b1map") && e.contains("alone"),
        "{e}"
    );
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    std::fs::write(empty.join("a.txt"), "x").unwrap();
    let e = read_measured(&empty, &o).unwrap_err().to_string();
    assert!(e.contains("empty") && e.contains("no DICOM file"), "{e}");
    let _ = std::fs::remove_dir_all(&d);
}
