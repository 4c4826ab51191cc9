//! `rftwin sar`, `rftwin heat` and `rftwin bench sar|heat` end to end on a tiny `fdtd run` simulation:
//! outputs, JSON numbers against independent checks, and the bad-input cases (exit 2, file and item
//! named, no output directory left behind).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

mod common;
use common::{bin, tmpdir};

/// A dipole next to a 50 mm gel slab (10 x 24 x 24 cells of 5 mm: 0.72 kg at 1000 kg/m^3), CW at 1.5 GHz.
const SIM: &str = include_str!("data/small_gel_dipole.toml");

const SLAB_MASS_KG: f64 = 10.0 * 24.0 * 24.0 * 0.005 * 0.005 * 0.005 * 1000.0;

/// Runs the simulation once per test process; returns fields.h5.
fn fields() -> &'static Path {
    static F: OnceLock<PathBuf> = OnceLock::new();
    F.get_or_init(|| {
        let d = tmpdir("fdtd");
        let toml = d.join("sim.toml");
        std::fs::write(&toml, SIM).unwrap();
        let out = d.join("out");
        let o = bin()
            .args(["fdtd", "run"])
            .arg(&toml)
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(0), "{}", String::from_utf8_lossy(&o.stderr));
        out.join("fields.h5")
    })
}

/// A normalised `rftwin sar` run (whole-phantom 2 W/kg), shared; returns its output directory.
fn sar_dir() -> &'static Path {
    static D: OnceLock<PathBuf> = OnceLock::new();
    D.get_or_init(|| {
        let out = tmpdir("sar-shared").join("sar");
        let (code, _, err) = run(&[
            "sar",
            fields().to_str().unwrap(),
            "--normalise",
            "whole-phantom=2.0",
            "--out",
            out.to_str().unwrap(),
            "--quiet",
        ]);
        assert_eq!(code, 0, "{err}");
        out
    })
}

fn run(args: &[&str]) -> (i32, String, String) {
    // This test process may still hold an HDF5 handle on a file it just edited; HDF5's advisory
    // lock would then refuse the child's read (errno 11) at random.
    let o = bin().env("HDF5_USE_FILE_LOCKING", "FALSE").args(args).output().unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into(),
        String::from_utf8_lossy(&o.stderr).into(),
    )
}

fn json(p: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn rel(a: f64, b: f64) -> f64 {
    (a - b).abs() / b.abs()
}

const GEL_TOML: &str = r#"
[materials.gel.thermal]
preset = "astm_gel"
"#;

#[test]
fn sar_normalised_to_whole_phantom() {
    let out = sar_dir();
    for name in ["sar.h5", "point_sar.png", "sar_10g.png", "summary.json"] {
        assert!(out.join(name).exists(), "{name} missing");
    }
    let s = json(&out.join("summary.json"));
    let w = &s["whole_phantom"];
    assert!(rel(f(&w["sar_w_per_kg"]), 2.0) < 1e-6, "{w}");
    assert!(rel(f(&w["total_mass_kg"]), SLAB_MASS_KG) < 1e-6, "{w}");
    assert!(rel(f(&w["absorbed_power_w"]), 2.0 * SLAB_MASS_KG) < 1e-6, "{w}");
    assert!(rel(f(&s["normalisation"]["whole_phantom_sar_w_per_kg"]), 2.0) < 1e-9);
    assert!(f(&s["normalisation"]["power_factor"]) > 0.0);
    let (p1, p10, pp) = (
        f(&s["sar_1g"]["peak"]["sar_w_per_kg"]),
        f(&s["sar_10g"]["peak"]["sar_w_per_kg"]),
        f(&w["peak_point_sar_w_per_kg"]),
    );
    // Averaging smooths: psSAR10g <= psSAR1g <= peak point SAR, and the hot spot is above the mean.
    assert!(
        p10 > 2.0 && p10 <= p1 * (1.0 + 1e-6) && p1 <= pp * (1.0 + 1e-6),
        "{p10} {p1} {pp}"
    );
    // The peak lies in the gel slab (x from 70 to 120 mm).
    let x = f(&s["sar_10g"]["peak"]["position_m"][0]);
    assert!((0.07..0.12).contains(&x), "{x}");

    // Independent check from sar.h5: the mass-weighted mean of the point SAR map is the target.
    let file = hdf5::File::open(out.join("sar.h5")).unwrap();
    let ds = file.dataset("point_sar_w_per_kg").unwrap();
    let unit: hdf5::types::VarLenUnicode = ds.attr("unit").unwrap().read_scalar().unwrap();
    assert_eq!(unit.as_str(), "W/kg");
    let spacing: Vec<f64> = ds.attr("spacing_m").unwrap().read_raw().unwrap();
    assert_eq!(spacing, vec![0.005; 3]);
    let sar = ds.read_raw::<f32>().unwrap();
    let rho = file.dataset("density_kg_per_m3").unwrap().read_raw::<f32>().unwrap();
    let (num, den) = sar
        .iter()
        .zip(&rho)
        .fold((0.0, 0.0), |(n, d), (s, r)| (n + *s as f64 * *r as f64, d + *r as f64));
    assert!(rel(num / den, 2.0) < 1e-5, "{}", num / den);
    for n in [
        "sar_1g_w_per_kg",
        "sar_10g_w_per_kg",
        "sar_10g_status",
        "power_density_w_per_m3",
        "materials/label",
    ] {
        assert_eq!(file.dataset(n).unwrap().shape(), ds.shape(), "{n}");
    }
}

#[test]
fn sar_operating_mode_and_input_power() {
    let d = tmpdir("modes");
    let out = d.join("first");
    let (code, stdout, err) = run(&[
        "sar",
        fields().to_str().unwrap(),
        "--normalise",
        "mode=first-level",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert!(rel(f(&s["whole_phantom"]["sar_w_per_kg"]), 4.0) < 1e-6);
    assert_eq!(s["normalisation"]["target"]["mode"], "first_level");

    // 1 W into the port: the slab absorbs part of it (the rest radiates or heats nothing else).
    let out = d.join("power");
    let (code, stdout, err) = run(&[
        "sar",
        fields().to_str().unwrap(),
        "--normalise",
        "power-w=1.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let p = f(&s["whole_phantom"]["absorbed_power_w"]);
    assert!(p > 0.01 && p <= 1.0 + 1e-6, "absorbed {p} W of 1 W");
}

#[test]
fn heat_from_sar_file_and_from_fields_agree() {
    let d = tmpdir("heat");
    let toml = d.join("thermal.toml");
    std::fs::write(&toml, GEL_TOML).unwrap();
    let s_sar = json(&sar_dir().join("summary.json"));
    let pk = &s_sar["whole_phantom"]["peak_point_position_m"];
    let probe = format!("hot:{},{},{}", f(&pk[0]), f(&pk[1]), f(&pk[2]));
    let out_a = d.join("a");
    let (code, _, err) = run(&[
        "heat",
        sar_dir().join("sar.h5").to_str().unwrap(),
        "--materials",
        toml.to_str().unwrap(),
        "--probe",
        &probe,
        "--probe",
        "tip:0.1,0.06,0.06:0.006",
        "--duration-s",
        "60",
        "--dt-s",
        "5",
        "--out",
        out_a.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    for name in ["heat.h5", "delta_t_end.png", "probes_delta_t.png", "summary.json"] {
        assert!(out_a.join(name).exists(), "{name} missing");
    }
    let a = json(&out_a.join("summary.json"));
    let t = &a["thermal"];
    let peak = f(&t["peak_rise_k"]);
    // Insulated gel, 60 s: all deposited energy is stored; deposited = P_abs * t.
    let e = &t["energy"];
    let p_abs = f(&s_sar["whole_phantom"]["absorbed_power_w"]);
    assert!(rel(f(&e["deposited_rf_j"]), p_abs * 60.0) < 1e-4, "{e}");
    assert!(rel(f(&e["stored_j"]), p_abs * 60.0) < 1e-3, "{e}");
    // Diffusion only lowers the maximum: rise <= peak point SAR * t / c_gel; and > 0.
    let bound = f(&s_sar["whole_phantom"]["peak_point_sar_w_per_kg"]) * 60.0 / 4150.0;
    assert!(peak > 0.0 && peak <= bound * (1.0 + 1e-6), "{peak} vs {bound}");
    let hot = f(&t["probes"][0]["final_rise_k"]);
    assert!(hot > 0.0 && hot <= peak * (1.0 + 1e-9), "{hot} {peak}");
    assert_eq!(t["probes"][1]["name"], "tip");
    assert!(rel(f(&t["duration_s"]), 60.0) < 1e-12);

    // The same exposure directly from the fields with the same normalisation.
    let out_b = d.join("b");
    let (code, _, err) = run(&[
        "heat",
        fields().to_str().unwrap(),
        "--normalise",
        "whole-phantom=2.0",
        "--materials",
        toml.to_str().unwrap(),
        "--probe",
        &probe,
        "--probe",
        "tip:0.1,0.06,0.06:0.006",
        "--duration-s",
        "60",
        "--out",
        out_b.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let b = json(&out_b.join("summary.json"));
    assert!(rel(f(&b["thermal"]["peak_rise_k"]), peak) < 1e-5);
    let file = hdf5::File::open(out_a.join("heat.h5")).unwrap();
    let tc = file.dataset("probes/temperature_c").unwrap();
    assert_eq!(tc.shape(), vec![2, 13]);
}

// ---------------------------------------------------------------------------------------------------
// Bad input: exit code 2, file and item named, nothing written.

fn expect_error(name: &str, args: &[&str], out: &Path, needles: &[&str]) {
    let (code, _, err) = run(args);
    assert_eq!(code, 2, "{name}: exit {code}: {err}");
    for n in needles {
        assert!(err.contains(n), "{name}: '{n}' missing from: {err}");
    }
    assert!(!err.contains("panicked"), "{name}: {err}");
    assert!(!out.exists(), "{name}: output written despite the error");
    let parent = out.parent().unwrap();
    let left: Vec<_> = std::fs::read_dir(parent)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(left.is_empty(), "{name}: temporary directory left behind");
}

#[test]
fn zero_and_negative_density() {
    for (tag, v) in [("zero", "0.0"), ("negative", "-1000.0")] {
        let d = tmpdir(&format!("rho-{tag}"));
        let toml = d.join("bad_density.toml");
        std::fs::write(&toml, format!("[materials.gel]\ndensity_kg_per_m3 = {v}\n")).unwrap();
        let out = d.join("out");
        expect_error(
            tag,
            &[
                "sar",
                fields().to_str().unwrap(),
                "--materials",
                toml.to_str().unwrap(),
                "--out",
                out.to_str().unwrap(),
            ],
            &out,
            &["bad_density.toml", "materials.gel.density_kg_per_m3", "gel"],
        );
    }
}

#[test]
fn missing_thermal_properties() {
    let d = tmpdir("nothermal");
    let toml = d.join("no_thermal.toml");
    std::fs::write(&toml, "[materials.gel]\nsigma_s_per_m = 0.47\n").unwrap();
    let out = d.join("out");
    expect_error(
        "thermal",
        &[
            "heat",
            sar_dir().join("sar.h5").to_str().unwrap(),
            "--materials",
            toml.to_str().unwrap(),
            "--duration-s",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["no_thermal.toml", "materials.gel.thermal", "no thermal properties"],
    );
    // Without any materials file: the input file is named.
    expect_error(
        "thermal-none",
        &[
            "heat",
            sar_dir().join("sar.h5").to_str().unwrap(),
            "--duration-s",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["sar.h5", "materials.gel.thermal"],
    );
}

#[test]
fn probe_outside_grid() {
    let d = tmpdir("probe");
    let toml = d.join("thermal.toml");
    std::fs::write(
        &toml,
        format!("{GEL_TOML}\n[[probes]]\nname = \"far\"\nposition_m = [0.5, 0.06, 0.06]\n"),
    )
    .unwrap();
    let out = d.join("out");
    expect_error(
        "toml probe",
        &[
            "heat",
            sar_dir().join("sar.h5").to_str().unwrap(),
            "--materials",
            toml.to_str().unwrap(),
            "--duration-s",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["thermal.toml", "probes.far", "outside the grid"],
    );
    std::fs::write(&toml, GEL_TOML).unwrap();
    expect_error(
        "cli probe",
        &[
            "heat",
            sar_dir().join("sar.h5").to_str().unwrap(),
            "--materials",
            toml.to_str().unwrap(),
            "--probe",
            "tip:0.1,-0.2,0.06",
            "--duration-s",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["--probe", "probes.tip", "outside the grid"],
    );
}

#[test]
fn nan_in_field_file() {
    let d = tmpdir("nan");
    let bad = d.join("nan_fields.h5");
    std::fs::copy(fields(), &bad).unwrap();
    {
        let file = hdf5::File::open_rw(&bad).unwrap();
        let ds = file.dataset("all/Ex_f0").unwrap();
        let mut a = ds.read::<num_complex::Complex32, ndarray::Ix3>().unwrap();
        a[[3, 4, 5]] = num_complex::Complex32::new(f32::NAN, 0.0);
        ds.write(&a).unwrap();
    }
    let out = d.join("out");
    expect_error(
        "nan sar",
        &["sar", bad.to_str().unwrap(), "--out", out.to_str().unwrap()],
        &out,
        &["nan_fields.h5", "all/Ex_f0[3, 4, 5]", "NaN"],
    );
    expect_error(
        "nan heat",
        &[
            "heat",
            bad.to_str().unwrap(),
            "--normalise",
            "whole-phantom=2",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["nan_fields.h5", "all/Ex_f0[3, 4, 5]", "NaN"],
    );
}

#[test]
fn unknown_material_and_bad_normalise() {
    let d = tmpdir("unknown");
    let toml = d.join("typo.toml");
    std::fs::write(&toml, "[materials.jel]\ndensity_kg_per_m3 = 1000.0\n").unwrap();
    let out = d.join("out");
    expect_error(
        "unknown material",
        &[
            "sar",
            fields().to_str().unwrap(),
            "--materials",
            toml.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["typo.toml", "materials.jel", "gel"],
    );
    expect_error(
        "bad normalise",
        &[
            "sar",
            fields().to_str().unwrap(),
            "--normalise",
            "whole-phantom=-2",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["--normalise", "positive"],
    );
}

#[test]
fn bench_sar_and_heat() {
    let (code, stdout, err) = run(&["bench", "sar", "--voxels", "64000", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["voxels"], 64000);
    assert!(f(&v["seconds"]) > 0.0);
    assert_eq!(v["name"], "sar_10g_averaging");
    let (code, stdout, err) = run(&["bench", "heat", "--voxels", "27000", "--dt-s", "30", "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(v["name"], "thermal_15min_exposure");
    assert!(v["detail"].as_str().unwrap().contains("peak rise"));
}

#[test]
fn implant_with_and_without() {
    let d = tmpdir("implant");
    let sim = SIM.replace(
        "[[wires]]\nfrom_m = [0.05, 0.06, 0.03]",
        "[[shapes]]\nname = \"rod\"\nmaterial = \"pec\"\nbox = { min_m = [0.08, 0.055, 0.03], max_m = [0.085, 0.06, 0.09] }\n\n[[wires]]\nfrom_m = [0.05, 0.06, 0.03]",
    );
    assert_ne!(sim, SIM);
    let toml = d.join("sim.toml");
    std::fs::write(&toml, sim).unwrap();
    let fdtd = d.join("fdtd");
    let (code, _, err) = run(&[
        "fdtd",
        "run",
        toml.to_str().unwrap(),
        "--out",
        fdtd.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let mats = d.join("thermal.toml");
    std::fs::write(
        &mats,
        "[materials.gel.thermal]\npreset = \"astm_gel\"\n[materials.pec.thermal]\npreset = \"stainless_steel\"\n\
         [implant]\nmaterial = \"pec\"\nreplace_with = \"gel\"\n\
         [[probes]]\nname = \"rod_end\"\nposition_m = [0.0825, 0.0575, 0.0925]\n",
    )
    .unwrap();
    let out = d.join("heat");
    let (code, _, err) = run(&[
        "heat",
        fdtd.join("fields.h5").to_str().unwrap(),
        "--normalise",
        "whole-phantom=2",
        "--materials",
        mats.to_str().unwrap(),
        "--duration-s",
        "120",
        "--out",
        out.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let s = json(&out.join("summary.json"));
    let t = &s["thermal"];
    let (with, without) = (f(&t["peak_rise_k"]), f(&t["background_peak_rise_k"]));
    assert!(with > 0.0 && without > 0.0, "{t}");
    // PEC voxels carry no SAR and no mass: the whole-phantom mass is the gel minus the rod (1 x 1 x 12 cells).
    let rod_kg = 12.0 * 0.005f64.powi(3) * 1000.0;
    assert!(
        rel(f(&s["whole_phantom"]["total_mass_kg"]), SLAB_MASS_KG - rod_kg) < 1e-6,
        "{s}"
    );
    let file = hdf5::File::open(out.join("heat.h5")).unwrap();
    assert!(file.dataset("background_temperature_rise_end_k").is_ok());
}

#[test]
fn b1rms_normalisation_scales_quadratically() {
    let d = tmpdir("b1");
    let sim = SIM.replace("[run]", "[[probes]]\nname = \"h\"\nfield = \"H\"\n\n[run]");
    let toml = d.join("sim.toml");
    std::fs::write(&toml, sim).unwrap();
    let fdtd = d.join("fdtd");
    let (code, _, err) = run(&[
        "fdtd",
        "run",
        toml.to_str().unwrap(),
        "--out",
        fdtd.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 0, "{err}");
    let fields = fdtd.join("fields.h5");
    let mut sar = Vec::new();
    for b in ["1.0", "2.0"] {
        let out = d.join(format!("b{b}"));
        let (code, stdout, err) = run(&[
            "sar",
            fields.to_str().unwrap(),
            "--normalise",
            &format!("b1rms-ut={b}"),
            "--isocentre-m",
            "0.06,0.06,0.06",
            "--out",
            out.to_str().unwrap(),
        ]);
        assert_eq!(code, 0, "{err}");
        let s: serde_json::Value = serde_json::from_str(&stdout).unwrap();
        let t = &s["normalisation"]["target"];
        assert_eq!(t["kind"], "b1_plus_rms");
        let sol = f(&t["solution_b1_plus_ut"]);
        assert!(sol > 0.0 && sol.is_finite(), "{t}");
        let b: f64 = b.parse().unwrap();
        assert!(rel(f(&s["normalisation"]["power_factor"]), (b / sol).powi(2)) < 1e-12);
        sar.push(f(&s["whole_phantom"]["sar_w_per_kg"]));
    }
    assert!(rel(sar[1], 4.0 * sar[0]) < 1e-6, "{sar:?}");
    // An isocentre outside the H probe is an error naming the option.
    let out = d.join("outside");
    expect_error(
        "iso outside",
        &[
            "sar",
            fields.to_str().unwrap(),
            "--normalise",
            "b1rms-ut=1",
            "--isocentre-m",
            "1,1,1",
            "--out",
            out.to_str().unwrap(),
        ],
        &out,
        &["fields.h5", "--isocentre-m", "outside"],
    );
}
