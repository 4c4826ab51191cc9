//! Impossible work is refused before it starts (exit 2 within 2 s, naming the option or key, the
//! estimate and the fix), and under-resolved grids warn or are refused (issue 14, items 4, 5, 7).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

mod common;
use common::tmpdir;

fn bin() -> Command {
    let mut c = common::bin();
    c.env_remove("RFTWIN_MAX_MEMORY");
    c.current_dir(ROOT);
    c
}

/// What a finished child did.
struct Outcome {
    code: i32,
    stderr: String,
    stdout: String,
    seconds: f64,
    /// Peak resident memory of the child (bytes), from wait4.
    max_rss: u64,
}

/// Runs `c` to completion and measures its wall time and peak memory (wait4's ru_maxrss).
fn run(mut c: Command) -> Outcome {
    let dir = tmpdir(&format!("io-{:?}", std::thread::current().id()).replace(['(', ')'], ""));
    let (so, se) = (dir.join("stdout"), dir.join("stderr"));
    c.stdout(Stdio::from(std::fs::File::create(&so).unwrap()));
    c.stderr(Stdio::from(std::fs::File::create(&se).unwrap()));
    let t0 = Instant::now();
    let child = c.spawn().unwrap();
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4 failed");
    let seconds = t0.elapsed().as_secs_f64();
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -libc::WTERMSIG(status)
    };
    std::mem::forget(child); // reaped by wait4
    let out = Outcome {
        code,
        stdout: std::fs::read_to_string(&so).unwrap_or_default(),
        stderr: std::fs::read_to_string(&se).unwrap_or_default(),
        seconds,
        max_rss: usage.ru_maxrss as u64 * 1024,
    };
    let _ = std::fs::remove_dir_all(&dir);
    out
}

/// Exit 2 within 2 s, no panic, every needle in the message, and no output directory.
fn refused(what: &str, o: &Outcome, needles: &[&str], out: Option<&Path>) {
    assert_eq!(o.code, 2, "{what}: exit {} (stderr: {})", o.code, o.stderr);
    assert!(o.seconds < 2.0, "{what}: took {:.2} s (stderr: {})", o.seconds, o.stderr);
    assert!(!o.stderr.contains("panicked"), "{what}: {}", o.stderr);
    for n in needles {
        assert!(o.stderr.contains(n), "{what}: '{n}' missing from: {}", o.stderr);
    }
    if let Some(out) = out {
        assert!(!out.exists(), "{what}: output written despite the refusal");
    }
}

/// A dipole next to a gel slab, 24^3 cells of 5 mm, CW (the run of tests/cli.rs, without the
/// coarse-grid key: 1.5 GHz in the gel is 4.5 cells per wavelength).
static SIM: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let s = include_str!("data/small_gel_dipole.toml").replace("allow_coarse_grid = true\n", "");
    assert!(!s.lines().any(|l| l.starts_with("allow_coarse_grid")));
    s
});

fn fdtd_cmd(dir: &Path, toml: &str, extra: &[&str]) -> (Command, PathBuf) {
    let file = dir.join("sim.toml");
    std::fs::write(&file, toml).unwrap();
    let out = dir.join("out");
    let mut c = bin();
    c.args(["fdtd", "run"]).arg(&file).arg("--out").arg(&out).args(extra);
    (c, out)
}

#[test]
fn fdtd_2000_cubed_refused_fast_and_small() {
    let d = tmpdir("2000");
    let (mut c, out) = fdtd_cmd(&d, &SIM.replace("[24, 24, 24]", "[2000, 2000, 2000]"), &[]);
    // A fixed budget, so that the test does not depend on the machine (2000^3 needs ~320 GB).
    c.env("RFTWIN_MAX_MEMORY", "64G");
    let o = run(c);
    refused("2000^3", &o, &["sim.toml", "grid.cells", "needs about", "RFTWIN_MAX_MEMORY", "grid.cell_size_m"], Some(&out));
    assert!(o.max_rss < 200_000_000, "peak memory {} MB", o.max_rss / 1_000_000);
    // The fix names cells that fit: 64 GiB / 40 B per node is ~1.7e9 nodes, ~1190 per axis.
    assert!(o.stderr.contains("grid.cells about ["), "{}", o.stderr);
}

#[test]
fn fdtd_20000_cubed_refused_against_real_memory() {
    // 8e12 nodes x 40 B = 320 TB: more than any machine has, read from /proc/meminfo or the cgroup.
    let d = tmpdir("20000");
    let (c, out) = fdtd_cmd(&d, &SIM.replace("[24, 24, 24]", "[20000, 20000, 20000]"), &[]);
    let o = run(c);
    refused("20000^3", &o, &["grid.cells", "needs about", "available"], Some(&out));
    assert!(o.max_rss < 200_000_000, "peak memory {} MB", o.max_rss / 1_000_000);
}

#[test]
fn max_memory_env_refuses_a_small_run_with_the_estimate() {
    // 25^3 nodes x (40 B + 48 B for the whole-grid probe) = 1.4 MB > 1 MiB.
    let d = tmpdir("env1m");
    let (mut c, out) = fdtd_cmd(&d, &SIM, &["--allow-coarse-grid"]);
    c.env("RFTWIN_MAX_MEMORY", "1M");
    let o = run(c);
    refused("1M", &o, &["grid.cells", "needs about 1.4 MB", "1.0 MB available (RFTWIN_MAX_MEMORY)"], Some(&out));
}

#[test]
fn bad_max_memory_env_is_an_error() {
    let d = tmpdir("envbad");
    let (mut c, out) = fdtd_cmd(&d, &SIM, &["--allow-coarse-grid"]);
    c.env("RFTWIN_MAX_MEMORY", "lots");
    let o = run(c);
    refused("RFTWIN_MAX_MEMORY=lots", &o, &["RFTWIN_MAX_MEMORY", "'lots'", "8G"], Some(&out));
}

#[test]
fn coil_simulate_half_mm_cells_refused() {
    let d = tmpdir("coil");
    let out = d.join("out");
    let mut c = bin();
    c.args(["coil", "simulate", "coils/body_1p5t_hp16.toml", "--phantom", "phantoms/astm_f2182.toml"])
        .args(["--cell-mm", "0.5", "--quiet", "--out"])
        .arg(&out)
        .env("RFTWIN_MAX_MEMORY", "64G");
    let o = run(c);
    refused("coil --cell-mm 0.5", &o, &["--cell-mm", "needs about", "mm or more"], Some(&out));
    assert!(o.max_rss < 200_000_000, "peak memory {} MB", o.max_rss / 1_000_000);
}

#[test]
fn recipe_with_half_mm_cells_refused() {
    let d = tmpdir("recipe");
    let text = std::fs::read_to_string(Path::new(ROOT).join("reports/golden/small/recipe.toml")).unwrap();
    assert!(text.contains("cell_m = 0.02"), "the golden recipe changed: update this test");
    let text = text
        .replace("../../../", &format!("{ROOT}/"))
        .replace("cell_m = 0.02", "cell_m = 0.0005");
    let recipe = d.join("recipe.toml");
    std::fs::write(&recipe, text).unwrap();
    let out = d.join("out");
    let mut c = bin();
    c.args(["assess"])
        .arg(&recipe)
        .args(["--no-cache", "--quiet", "--out"])
        .arg(&out)
        .env("RFTWIN_MAX_MEMORY", "64G");
    let o = run(c);
    refused("recipe cell_m = 0.0005", &o, &["cell_m", "needs about", "mm or more"], Some(&out));
    assert!(o.max_rss < 200_000_000, "peak memory {} MB", o.max_rss / 1_000_000);
}

#[test]
fn implant_tf_tiny_cells_refused() {
    let d = tmpdir("tf");
    let out = d.join("out");
    let mut c = bin();
    c.args(["implant", "tf", "phantoms/implants/insulated_wire_200mm.toml", "--cell-mm", "0.01", "--out"])
        .arg(&out)
        .env("RFTWIN_MAX_MEMORY", "64G");
    let o = run(c);
    refused("tf --cell-mm 0.01", &o, &["--cell-mm", "needs about", "or more"], Some(&out));
}

#[test]
fn bench_huge_cells_refused() {
    let mut c = bin();
    c.args(["bench", "fdtd", "--cells", "1000000000000"]).env("RFTWIN_MAX_MEMORY", "64G");
    let o = run(c);
    refused("bench --cells 1e12", &o, &["--cells", "needs about", "or fewer"], None);
    assert!(o.max_rss < 200_000_000, "peak memory {} MB", o.max_rss / 1_000_000);
}

#[test]
fn implant_search_micron_step_refused() {
    let d = tmpdir("search");
    let out = d.join("out");
    let mut c = bin();
    c.args(["implant", "search", "--coil", "coils/body_1p5t_hp16.toml", "--phantom", "phantoms/astm_f2182.toml"])
        .args(["--implant", "phantoms/implants/insulated_wire_200mm.toml", "--step-mm", "0.001", "--quiet"])
        .args(["--no-cache", "--out"])
        .arg(&out);
    let o = run(c);
    refused("search --step-mm 0.001", &o, &["--step-mm", "candidates", "or more"], Some(&out));
    // The suggested step is itself accepted by the check: parse it and make sure it is coarser.
    let i = o.stderr.find("use --step-mm ").unwrap() + "use --step-mm ".len();
    let step: f64 = o.stderr[i..].split_whitespace().next().unwrap().parse().unwrap();
    assert!(step > 1.0 && step < 100.0, "suggested step {step} mm");
}

#[test]
fn under_resolved_cw_refused_then_allowed() {
    // 20 GHz on 5 mm cells: 3 cells per wavelength even in air.
    let d = tmpdir("20ghz");
    let (c, out) = fdtd_cmd(&d, &SIM.replace("freq_hz = 1.5e9", "freq_hz = 20e9"), &["--quiet"]);
    let o = run(c);
    refused(
        "20 GHz on 5 mm",
        &o,
        &["sim.toml", "grid.cell_size_m", "cells", "--allow-coarse-grid", "allow_coarse_grid"],
        Some(&out),
    );
    // 1.5 GHz in gel on 5 mm cells: 4.5 cells per wavelength, refused as well.
    let d = tmpdir("gel15");
    let (c, out) = fdtd_cmd(&d, &SIM, &[]);
    let o = run(c);
    refused("1.5 GHz in gel", &o, &["grid.cell_size_m", "4.5 cells", "eps_r 80"], Some(&out));
    // The file key lets it run; the warning is printed and recorded in summary.json.
    let d = tmpdir("gelkey");
    let toml = SIM.replace("cell_size_m = [0.005, 0.005, 0.005]", "cell_size_m = [0.005, 0.005, 0.005]\nallow_coarse_grid = true");
    let (c, out) = fdtd_cmd(&d, &toml, &[]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("warning:") && o.stderr.contains("cells per wavelength"), "{}", o.stderr);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    let w = s["warnings"].as_array().expect("warnings in summary.json");
    assert!(w.iter().any(|x| x.as_str().unwrap().contains("4.5 cells per wavelength")), "{w:?}");
    // The command-line override does the same; --quiet silences the warning on stderr.
    let d = tmpdir("gelflag");
    let (c, out) = fdtd_cmd(&d, &SIM, &["--allow-coarse-grid", "--quiet"]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(!o.stderr.contains("warning:"), "{}", o.stderr);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["warnings"].as_array().map(|w| w.len()), Some(1), "{}", o.stdout);
}

#[test]
fn warning_band_runs_and_records() {
    // 0.5 GHz in gel on 5 mm cells: 13.4 cells per wavelength, between 6 and 15: runs with a warning.
    let d = tmpdir("warnband");
    let (c, out) = fdtd_cmd(&d, &SIM.replace("freq_hz = 1.5e9", "freq_hz = 0.5e9"), &[]);
    let o = run(c);
    assert_eq!(o.code, 0, "{}", o.stderr);
    assert!(o.stderr.contains("13.4 cells per wavelength"), "{}", o.stderr);
    let s: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(s["warnings"].as_array().map(|w| w.len()), Some(1));
}

#[test]
fn implant_tf_terahertz_refused() {
    let d = tmpdir("thz");
    let out = d.join("out");
    let mut c = bin();
    c.args(["implant", "tf", "phantoms/implants/insulated_wire_200mm.toml", "--freq-hz", "1e12", "--out"])
        .arg(&out);
    let o = run(c);
    refused("tf --freq-hz 1e12", &o, &["--freq-hz", "--cell-mm", "cells", "--allow-coarse-grid"], Some(&out));
    assert!(!o.stderr.contains("max_periods"), "{}", o.stderr);
}

#[test]
fn sar_of_a_file_claiming_a_huge_grid_refused() {
    // A fields.h5 whose E dataset header claims 2000^3 voxels (chunked, nothing written: the file
    // is tiny). The size is checked before anything is read.
    use hdf5::types::VarLenUnicode;
    let d = tmpdir("h5huge");
    let p = d.join("fields.h5");
    {
        let f = hdf5::File::create(&p).unwrap();
        let g = f.create_group("all").unwrap();
        for c in ["x", "y", "z"] {
            let ds = g
                .new_dataset::<num_complex::Complex32>()
                .chunk([1, 64, 64])
                .shape([2000, 2000, 2000])
                .create(format!("E{c}_f0").as_str())
                .unwrap();
            let unit: VarLenUnicode = "V/m".parse().unwrap();
            ds.new_attr::<VarLenUnicode>().create("unit").unwrap().write_scalar(&unit).unwrap();
        }
    }
    assert!(std::fs::metadata(&p).unwrap().len() < 1_000_000);
    let out = d.join("out");
    let mut c = bin();
    c.arg("sar").arg(&p).arg("--out").arg(&out).env("RFTWIN_MAX_MEMORY", "64G");
    let o = run(c);
    refused("sar on a 2000^3 header", &o, &["fields.h5", "all/Ex_f0", "needs about", "[2000, 2000, 2000]"], Some(&out));
    assert!(o.max_rss < 200_000_000, "peak memory {} MB", o.max_rss / 1_000_000);
}

#[test]
fn library_simulation_refuses_coarse_grid_unless_allowed() {
    use rftwin::fdtd::{Simulation, SimulationSpec, SourceSpec, Waveform};
    use rftwin::grid::{Grid, Material, VoxelModel};
    let spec = |f0: f64, allow: bool| {
        let grid = Grid::uniform([0.0; 3], [0.005; 3], [10, 10, 10]).unwrap();
        let mut s = SimulationSpec::new(VoxelModel::new(grid, Material::vacuum()).unwrap());
        s.sources.push(SourceSpec::EdgeCurrent {
            comp: 2,
            node: [5, 5, 5],
            current_a: 1e-3,
            waveform: Waveform::GaussPulse {
                f0_hz: f0,
                bandwidth_hz: 4e9,
            },
        });
        s.allow_coarse_grid = allow;
        s
    };
    // Pulse up to 18 + 2 = 20 GHz: 3 cells per wavelength of 15 mm.
    assert_eq!(spec(18e9, false).max_freq_hz(), 20e9);
    let e = Simulation::new(spec(18e9, false)).err().expect("refused").to_string();
    assert!(e.contains("3.0 cells") && e.contains("cell size") && e.contains("--allow-coarse-grid"), "{e}");
    assert!(Simulation::new(spec(18e9, true)).is_ok());
    // 1 GHz + 2 GHz: 10 cells per wavelength: warns, runs.
    assert!(Simulation::new(spec(1e9, false)).is_ok());
}
