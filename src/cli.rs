//! The command-line interface: a thin clap layer over the library.
//! Exit codes: 0 success / all criteria pass, 1 a check or criterion failed, 2 an error.

use clap::{Parser, Subcommand};

use crate::validate;

#[derive(Parser)]
#[command(
    name = "rftwin",
    version,
    about = "Digital twin of an MRI birdcage RF coil for implant RF-heating safety"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Run FDTD even when the cells resolve the shortest wavelength (densest medium, highest
    /// frequency) with fewer than 6 cells; below 15 it still warns. Accepted by every command.
    #[arg(long, global = true)]
    allow_coarse_grid: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Run the physics validation suite (analytic references with stated tolerances).
    Validate {
        /// Print one JSON document ({"cases": [...]}) instead of a table.
        #[arg(long)]
        json: bool,
        /// Run only the case with this name (or every case whose name contains it).
        #[arg(long)]
        only: Option<String>,
    },
    /// The main job on built-in defaults: the 1.5 T body coil twin calibrated to the shipped example
    /// B1+ map, the ASTM F2182 phantom, a 20 cm insulated wire with 1 cm bare ends, 10 g SAR and
    /// 15-minute heating; report.pdf, PNGs, summary.json and fields.h5 in --out.
    Demo {
        /// Output directory (replaced if it exists and rftwin wrote it).
        #[arg(long, default_value = "reports/demo")]
        out: std::path::PathBuf,
        /// Fine cell of the implant's local grid (mm).
        #[arg(long, default_value_t = 2.0)]
        fine_cell_mm: f64,
        /// Do not cache the coil basis fields (default: $RFTWIN_CACHE or ~/.cache/rftwin).
        #[arg(long)]
        no_cache: bool,
        /// No progress output (CI).
        #[arg(long)]
        quiet: bool,
    },
    /// Safety assessment from a recipe (reports/*.toml): coil twin, implant local fields, SAR, heating,
    /// criteria; report.pdf, PNGs, summary.json, fields.h5. Exit 0: all criteria pass, 1: any fails, 2: error.
    Assess {
        /// Recipe TOML (schema: reports/README.md).
        recipe: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// Fine cell of the implants' local grids (mm).
        #[arg(long, default_value_t = 1.0)]
        fine_cell_mm: f64,
        /// Also fit the phantom offset when calibrating to a measured map.
        #[arg(long)]
        fit_offset: bool,
        #[arg(long)]
        no_cache: bool,
        /// Basis cache directory (default: $RFTWIN_CACHE or ~/.cache/rftwin).
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
        #[arg(long)]
        quiet: bool,
    },
    /// Coil-model regression: re-run GOLDEN_DIR/recipe.toml and compare B1+, SAR, temperature and every
    /// summary number with the committed golden result (tolerances: GOLDEN_DIR/tolerances.toml). Exit 1 on regression.
    Regress {
        golden: std::path::PathBuf,
        /// Keep the new result here (default: a temporary directory, removed afterwards); never the
        /// golden directory, inside it or containing it.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// Replace --out if it exists (only a directory rftwin wrote).
        #[arg(long)]
        force: bool,
        #[arg(long)]
        no_cache: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// Run a simulation described in TOML (see README: "fdtd run").
    Fdtd {
        #[command(subcommand)]
        what: FdtdCommand,
    },
    /// Birdcage coils: circuit-model tuning.
    Coil {
        #[command(subcommand)]
        what: CoilCommand,
    },
    /// Point, 1 g and 10 g SAR (IEC/IEEE 62704-1) from the E phasors of `fdtd run`: sar.h5, PNG maps, summary.json.
    Sar {
        /// fields.h5 of `rftwin fdtd run` (CW, with an E probe and the materials/ group).
        fields: std::path::PathBuf,
        #[command(flatten)]
        field: FieldArgs,
        /// TOML overriding conductivity/density per material name (format: docs of `dosimetry::io::MaterialsFile`).
        #[arg(long)]
        materials: Option<std::path::PathBuf>,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// Do not print the summary.
        #[arg(long)]
        quiet: bool,
    },
    /// Pennes bioheat: the ASTM F2182 exposure from sar.h5 (or fields.h5 + --normalise): heat.h5, PNGs, summary.json.
    Heat {
        /// sar.h5 of `rftwin sar`, or fields.h5 of `rftwin fdtd run`.
        input: std::path::PathBuf,
        #[command(flatten)]
        field: FieldArgs,
        /// TOML with thermal properties per material name, probes, exposure, boundaries, implant
        /// (format: docs of `dosimetry::io::MaterialsFile`).
        #[arg(long)]
        materials: Option<std::path::PathBuf>,
        /// Temperature probe NAME:X,Y,Z or NAME:X,Y,Z:RADIUS (m); repeatable.
        #[arg(long = "probe", value_name = "NAME:X,Y,Z[:R]")]
        probes: Vec<String>,
        /// Exposure length (s); default 900 (ASTM F2182) or [exposure] duration_s.
        #[arg(long, allow_negative_numbers = true)]
        duration_s: Option<f64>,
        /// Time step (s; accuracy only, any value is stable); default 5.
        #[arg(long, allow_negative_numbers = true)]
        dt_s: Option<f64>,
        /// Uniform starting temperature (°C, -20 to 60); default 22.
        #[arg(long, allow_negative_numbers = true)]
        initial_temperature_c: Option<f64>,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// The digital twin: calibrate the coil model to a measured B1+ map.
    Twin {
        #[command(subcommand)]
        what: TwinCommand,
    },
    /// Throughput benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
    /// Implants: placement in the phantom, lead transfer function, worst-case search.
    Implant {
        #[command(subcommand)]
        what: ImplantCommand,
    },
}

#[derive(Subcommand)]
enum ImplantCommand {
    /// Check a placement (in the gel, at least --min-wall-m from the walls) and write geometry.json,
    /// placement.png and local_model.h5 (the fine local voxel model).
    Place {
        /// Implant definition (TOML), e.g. phantoms/implants/insulated_wire_200mm.toml.
        implant: std::path::PathBuf,
        #[arg(long)]
        phantom: std::path::PathBuf,
        /// Placement TOML (position_m, direction or euler_deg, roll_deg, min_wall_distance_m).
        #[arg(long)]
        placement: Option<std::path::PathBuf>,
        /// Implant origin in the phantom frame (m), X,Y,Z (instead of --placement).
        #[arg(long, allow_hyphen_values = true)]
        position: Option<String>,
        /// Direction of the implant's length, DX,DY,DZ (default 0,0,1).
        #[arg(long, allow_hyphen_values = true)]
        direction: Option<String>,
        /// Roll about the direction (degrees).
        #[arg(long, default_value_t = 0.0, allow_hyphen_values = true)]
        roll_deg: f64,
        /// Minimum distance to walls and the gel surface (m); default 0.02 or the file's value.
        #[arg(long)]
        min_wall_m: Option<f64>,
        /// Local grid cell size (mm).
        #[arg(long, default_value_t = 1.0)]
        cell_mm: f64,
        /// Margin of the local grid around the implant (mm).
        #[arg(long, default_value_t = 20.0)]
        pad_mm: f64,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Transfer function S(l) by reciprocity (fine-grid FDTD of the lead in the medium): tf.h5,
    /// tf.json, tf_magnitude.png, tf_phase.png.
    Tf {
        implant: std::path::PathBuf,
        /// Take the medium (eps_r, sigma) from this phantom.
        #[arg(long, conflicts_with_all = ["eps_r", "sigma_s_per_m"])]
        phantom: Option<std::path::PathBuf>,
        /// Frequency (Hz); default 63.87 MHz (1.5 T).
        #[arg(long, default_value_t = 63.87e6)]
        freq_hz: f64,
        #[arg(long, default_value_t = 2.0)]
        cell_mm: f64,
        /// Medium permittivity and conductivity when no phantom is given (ASTM gel by default).
        #[arg(long, default_value_t = 80.0)]
        eps_r: f64,
        #[arg(long, default_value_t = 0.47)]
        sigma_s_per_m: f64,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        force: bool,
    },
    /// Worst-case search: coil field (ideal drive or a calibrated twin) + transfer function ->
    /// ranking.json and map.png; the best candidates confirmed by full fine-grid runs + heating.
    Search {
        /// Coil TOML (ideal quadrature drive); with --phantom. Not with --twin.
        #[arg(long)]
        coil: Option<std::path::PathBuf>,
        #[arg(long)]
        phantom: Option<std::path::PathBuf>,
        /// A calibrated twin directory (`rftwin twin fit`), instead of --coil/--phantom.
        #[arg(long)]
        twin: Option<std::path::PathBuf>,
        #[arg(long)]
        implant: std::path::PathBuf,
        /// Cached transfer function (directory of `implant tf`, or its tf.json).
        #[arg(long)]
        tf: Option<std::path::PathBuf>,
        /// Coil FDTD cell size (mm).
        #[arg(long, default_value_t = 10.0)]
        cell_mm: f64,
        /// Transfer-function cell size (mm) when it is computed here.
        #[arg(long, default_value_t = 2.0)]
        tf_cell_mm: f64,
        /// Position grid step (mm).
        #[arg(long, default_value_t = 20.0)]
        step_mm: f64,
        /// Number of directions: 6, 14 or 26.
        #[arg(long, default_value_t = 14)]
        directions: usize,
        /// Roll angles (degrees) about the lead axis, comma separated (path variants).
        #[arg(long, default_value = "0")]
        roll_deg: String,
        #[arg(long, default_value_t = 0.02, allow_negative_numbers = true)]
        min_wall_m: f64,
        #[arg(long, default_value_t = 20)]
        top: usize,
        /// b1-ut (incident E per µT of B1+ at the isocentre) or per-watt.
        #[arg(long, default_value = "b1-ut")]
        normalise: String,
        /// Confirm the best N candidates by full fine-grid runs and a Pennes exposure (0: none).
        #[arg(long, default_value_t = 3)]
        confirm: usize,
        /// Fine cell of the confirmation runs (mm).
        #[arg(long, default_value_t = 2.0)]
        fine_cell_mm: f64,
        /// Exposure of the confirmation heating (s).
        #[arg(long, default_value_t = 900.0)]
        exposure_s: f64,
        /// Do not cache the coil's basis runs.
        #[arg(long)]
        no_cache: bool,
        /// Cache directory of the basis runs (default $RFTWIN_CACHE or ~/.cache/rftwin).
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
    },
}

#[derive(Subcommand)]
enum FdtdCommand {
    /// Run FILE.toml and write summary.json (+ fields.h5 when it has probes) into --out.
    Run {
        file: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

/// Field selection and normalisation shared by `sar` and `heat`.
#[derive(clap::Args)]
struct FieldArgs {
    /// whole-phantom=W_PER_KG | b1rms-ut=MICROTESLA | power-w=WATTS | mode=normal|first-level.
    #[arg(long)]
    normalise: Option<crate::dosimetry::run::NormaliseSpec>,
    /// E probe (HDF5 group) to use; default: the only one.
    #[arg(long = "e-probe")]
    e_probe: Option<String>,
    /// Frequency index of the phasors.
    #[arg(long, default_value_t = 0)]
    freq_index: usize,
    /// Isocentre X,Y,Z (m) for b1rms-ut; default: centre of the grid.
    #[arg(long, value_parser = crate::dosimetry::run::parse_point_m)]
    isocentre_m: Option<[f64; 3]>,
}

impl FieldArgs {
    fn options(self, fields: &std::path::Path) -> crate::dosimetry::run::FieldOptions {
        crate::dosimetry::run::FieldOptions {
            fields: fields.to_path_buf(),
            probe: self.e_probe,
            freq_index: self.freq_index,
            normalise: self.normalise,
            isocentre_m: self.isocentre_m,
        }
    }
}

#[derive(Subcommand)]
enum CoilCommand {
    /// Ideal-drive FDTD of the coil (with an optional phantom) at its Larmor frequency: writes
    /// fields.h5 (+ fields.xmf for ParaView), PNG maps of |B1+|, |E| and local SAR, summary.json.
    Simulate {
        /// Coil definition (TOML), e.g. coils/body_1p5t_hp16.toml.
        file: std::path::PathBuf,
        /// Phantom definition (TOML), e.g. phantoms/astm_f2182.toml.
        #[arg(long)]
        phantom: Option<std::path::PathBuf>,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Cell size in mm.
        #[arg(long, default_value_t = 10.0)]
        cell_mm: f64,
        /// Steady-state tolerance (relative phasor change per period).
        #[arg(long, default_value_t = 1e-3)]
        tolerance: f64,
        /// `ideal` (impressed homogeneous-mode currents) or `resonant` (capacitors tuned by FDTD
        /// sweeps, driven at the coil's ports).
        #[arg(long, default_value = "ideal")]
        drive: String,
        /// Steps per broadband sweep of the resonant model.
        #[arg(long, default_value_t = 16000)]
        sweep_steps: usize,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// Solve the capacitance that puts the homogeneous (m = 1) mode at the Larmor frequency and print the mode spectrum.
    Tune {
        /// Coil definition (TOML), e.g. coils/body_1p5t_hp16.toml.
        file: std::path::PathBuf,
        /// Print one JSON document (the whole tuning, inductances included) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum TwinCommand {
    /// Fit the ideal-drive coil's two linear-mode weights (port amplitude imbalance and phase error,
    /// overall scale), optionally the phantom offset (--fit-offset) and gel conductivity/permittivity
    /// (--fit-gel), to a measured |B1+| map; writes twin.toml (parameters, 95 % intervals),
    /// twin_fields.h5 (+ .xmf: E, H, materials of the fitted twin), fit.json and fit.png into --out.
    /// Exit 1 when the fit does not converge.
    Fit {
        #[arg(long)]
        coil: std::path::PathBuf,
        #[arg(long)]
        phantom: std::path::PathBuf,
        /// Measured map (.nii, .nii.gz with a JSON sidecar for the unit, or .h5).
        #[arg(long)]
        measured: std::path::PathBuf,
        /// Which volume of a 4-D measured map to fit, 0-based (NIfTI dim[4], the last axis of an
        /// HDF5 dataset); required when the map holds more than one volume.
        #[arg(long, value_name = "N")]
        volume: Option<usize>,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Cell size of the coil model in mm.
        #[arg(long, default_value_t = 10.0)]
        cell_mm: f64,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
        /// Do not read or write the basis cache (basis runs are cached in HDF5 files keyed by a hash
        /// of coil, phantom, offset, cell size, frequency, solver options and version).
        #[arg(long)]
        no_cache: bool,
        /// Basis cache directory (default: $RFTWIN_CACHE, else ~/.cache/rftwin).
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
        /// Also fit the phantom's rigid translation (x, y, z) with the weights; the basis is
        /// re-simulated with the phantom at the fitted offset when it exceeds a quarter cell (2 more
        /// FDTD runs for the empty coil, 2 per outer iteration).
        #[arg(long)]
        fit_offset: bool,
        /// Also fit a small rotation of the phantom about its centre (a rotation vector: angles
        /// about x, y and z), usually with --fit-offset; re-simulated like the offset.
        #[arg(long)]
        fit_rotation: bool,
        /// Placement sensitivities from design runs (the phantom moved by a quarter cell per fitted
        /// offset/rotation parameter: 2 FDTD runs each) instead of carrying the phantom's
        /// contribution along; on by default with --fit-rotation.
        #[arg(long)]
        placement_runs: bool,
        /// Also fit the gel conductivity and permittivity (FDTD design runs at sigma +-15 % and
        /// eps +15 %, interpolation, one re-simulation at the fit: 10 phantom runs at most).
        #[arg(long)]
        fit_gel: bool,
        /// Residual-bootstrap refits for percentile 95 % intervals (0 = Jacobian intervals only).
        #[arg(long, default_value_t = 0)]
        bootstrap: usize,
        /// Seed of the bootstrap.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Never re-simulate the basis at the fitted offset/gel values (first-order model only).
        #[arg(long)]
        no_resimulate: bool,
        /// Outer iterations (re-simulation + refit) at most (default 1 with --fit-gel, else 2).
        #[arg(long)]
        max_outer: Option<usize>,
        /// Levenberg–Marquardt iteration limit; a fit that stops there without converging exits 1.
        #[arg(long, default_value_t = 300)]
        max_iterations: usize,
    },
    /// Make a synthetic measured |B1+| map (µT) of the phantom from the model, with a known port
    /// imbalance, phase error and noise (for tests and examples). Output .nii.gz or .h5.
    Synth {
        #[arg(long)]
        coil: std::path::PathBuf,
        #[arg(long)]
        phantom: std::path::PathBuf,
        /// The map file (.nii.gz, .nii or .h5; a NIfTI map gets a .json sidecar beside it).
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if the file exists (never one of the run's inputs).
        #[arg(long)]
        force: bool,
        #[arg(long, default_value_t = 10.0)]
        cell_mm: f64,
        /// Voxel size of the map in mm.
        #[arg(long, default_value_t = 8.0)]
        voxel_mm: f64,
        /// Port-2 amplitude relative to port 1.
        #[arg(long, default_value_t = 1.05)]
        imbalance: f64,
        /// Port-2 phase error (deg).
        #[arg(long, default_value_t = 3.0, allow_negative_numbers = true)]
        phase_deg: f64,
        /// Noise standard deviation relative to the mean magnitude.
        #[arg(long, default_value_t = 0.02)]
        noise: f64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// |B1+| at the isocentre (µT).
        #[arg(long, default_value_t = 2.0)]
        centre_ut: f64,
        /// Phantom translation from its file position, "x,y,z" in mm (the map covers the moved phantom).
        #[arg(long, default_value = "0,0,0", allow_hyphen_values = true)]
        offset_mm: String,
        /// Phantom rotation about its centre, "x,y,z" rotation vector in degrees, added to the file's
        /// (the map keeps the voxels 1 cm inside the turned phantom's walls).
        #[arg(long, default_value = "0,0,0", allow_hyphen_values = true)]
        rotation_deg: String,
        /// Gel conductivity as a multiple of the phantom file's value.
        #[arg(long, default_value_t = 1.0)]
        sigma_scale: f64,
        /// Gel permittivity as a multiple of the phantom file's value.
        #[arg(long, default_value_t = 1.0)]
        eps_scale: f64,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
    /// FDTD update rate on a cube of lossy gel with CPML on all faces (openEMS-comparable).
    Fdtd {
        /// Total cells, CPML included (1000000 compares with openEMS N=100).
        #[arg(long, default_value_t = 1_000_000)]
        cells: usize,
        #[arg(long, default_value_t = 300)]
        steps: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// CPML layers on every face (0 = PEC walls, as openEMS's PEC case).
        #[arg(long, default_value_t = 8)]
        pml: usize,
        /// Timed repeats of the steps; the median is reported.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// One line of JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// 10 g SAR averaging (IEC/IEEE 62704-1) on a body-like phantom of about N voxels of 1 mm (target: 8 M in <= 10 s).
    Sar {
        #[arg(long, default_value_t = 8_000_000)]
        voxels: usize,
        #[arg(long)]
        json: bool,
    },
    /// 15-minute Pennes exposure, steel rod in gel, about N voxels of 1 mm (target: 1 M in <= 30 s).
    Heat {
        #[arg(long, default_value_t = 1_000_000)]
        voxels: usize,
        /// Time step (s).
        #[arg(long, default_value_t = 5.0)]
        dt_s: f64,
        #[arg(long)]
        json: bool,
    },
    /// Worst-case implant search: placements of a 200 mm wire in the ASTM gel ranked by the
    /// transfer-function estimate (target: 1000 placements in <= 10 s).
    Implant {
        #[arg(long)]
        json: bool,
    },
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    crate::resources::set_allow_coarse_grid(cli.allow_coarse_grid);
    // `--quiet` (on any command) also silences the resource notes on stderr: run estimates, warnings.
    crate::resources::set_quiet(std::env::args_os().any(|a| a == "--quiet"));
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            e.downcast_ref::<crate::error::Error>().map_or(2, |e| e.exit_code())
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Validate { json, only } => {
            let all = validate::all_cases();
            // --only: the exact case if one has that name, else every case containing the text.
            let exact = only.as_deref().is_some_and(|o| all.iter().any(|c| c.name == o));
            let cases: Vec<_> = all
                .into_iter()
                .filter(|c| match only.as_deref() {
                    None => true,
                    Some(o) if exact => c.name == o,
                    Some(o) => c.name.contains(o),
                })
                .collect();
            if cases.is_empty() {
                return Err(crate::error::Error::input(
                    "validate",
                    "--only",
                    "no case matches",
                    "run `rftwin validate` without --only to see the case names",
                )
                .into());
            }
            let mut results = Vec::new();
            if !json {
                println!(
                    "{:<30} {:>14} {:>14} {:>10} {:>10} {:>6} {:>7}  unit",
                    "case", "reference", "measured", "error", "tolerance", "pass", "time_s"
                );
            }
            for c in &cases {
                let r = validate::run_case(c);
                if !json {
                    println!(
                        "{:<30} {:>14.6e} {:>14.6e} {:>10.3e} {:>10.3e} {:>6} {:>7.2}  {}",
                        r.case,
                        r.reference,
                        r.measured,
                        r.error,
                        r.tolerance,
                        if r.pass { "PASS" } else { "FAIL" },
                        r.seconds,
                        r.unit
                    );
                    println!(
                        "    {} [{}; error: {}]",
                        r.description, r.reference_source, r.error_kind
                    );
                }
                results.push(r);
            }
            let failed = results.iter().filter(|r| !r.pass).count();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "cases": results }))?
                );
            } else {
                println!("{} passed, {} failed", results.len() - failed, failed);
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
        Command::Fdtd {
            what:
                FdtdCommand::Run {
                    file,
                    out,
                    force,
                    quiet,
                },
        } => {
            let summary = fdtd_run(&file, &out, force, quiet)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        Command::Coil {
            what:
                CoilCommand::Simulate {
                    file,
                    phantom,
                    out,
                    cell_mm,
                    tolerance,
                    drive,
                    sweep_steps,
                    force,
                    quiet,
                },
        } => {
            let summary = coil_simulate(
                &file,
                phantom.as_deref(),
                &out,
                cell_mm,
                tolerance,
                &drive,
                sweep_steps,
                force,
                quiet,
            )?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        Command::Coil {
            what: CoilCommand::Tune { file, json },
        } => {
            let coil = crate::coil::CoilConfig::load(&file)?;
            let t = crate::coil::tune(&coil)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print!("{}", crate::coil::circuit::format_tuning(&t));
            }
            Ok(0)
        }
        Command::Demo {
            out,
            fine_cell_mm,
            no_cache,
            quiet,
        } => demo_command(&out, fine_cell_mm, no_cache, quiet),
        Command::Assess {
            recipe,
            out,
            force,
            fine_cell_mm,
            fit_offset,
            no_cache,
            cache_dir,
            quiet,
        } => {
            let r = crate::report::recipe::Recipe::load(&recipe)?;
            let mut o = crate::assess::AssessOptions::new(&out);
            o.overwrite = force;
            o.command = "assess".into();
            o.fine_cell_m = positive_mm("--fine-cell-mm", fine_cell_mm)?;
            o.fit_offset = fit_offset;
            o.cache_dir = cache_choice(no_cache, cache_dir, &out);
            run_assess(&r, &o, quiet)
        }
        Command::Regress {
            golden,
            out,
            force,
            no_cache,
            quiet,
        } => regress_command(&golden, out.as_deref(), force, no_cache, quiet),
        Command::Implant { what } => {
            let v = implant_command(what)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(0)
        }
        Command::Twin { what } => {
            let v = twin_command(what)?;
            println!("{}", serde_json::to_string_pretty(&v)?);
            Ok(v.get("exit_code").and_then(|c| c.as_i64()).unwrap_or(0) as i32)
        }
        Command::Bench {
            what:
                BenchCommand::Fdtd {
                    cells,
                    steps,
                    threads,
                    pml,
                    repeat,
                    json,
                },
        } => {
            let r = crate::bench::fdtd(cells, steps, threads, pml, repeat)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "rftwin FDTD: {} cells ({}^3, CPML {} layers), {} steps, {} thread(s): {:.1} Mcells/s median of {} (range {:.1}-{:.1}; {:.3} s), {:.1} bytes/cell core memory",
                    r.cells, r.side, r.cpml_layers, r.steps, r.threads, r.mcells_per_s, r.repeats, r.mcells_per_s_min, r.mcells_per_s_max, r.seconds, r.bytes_per_cell
                );
            }
            Ok(0)
        }
        Command::Bench {
            what: BenchCommand::Sar { voxels, json },
        } => bench_print(crate::dosimetry::bench::bench_averaging_10g(cube_side(voxels)?)?, json),
        Command::Bench {
            what: BenchCommand::Heat { voxels, dt_s, json },
        } => bench_print(
            crate::dosimetry::bench::bench_thermal_exposure(cube_side(voxels)?, dt_s)?,
            json,
        ),
        Command::Bench {
            what: BenchCommand::Implant { json },
        } => bench_print(crate::implant::search::bench_search()?, json),
        Command::Sar {
            fields,
            field,
            materials,
            out,
            force,
            quiet,
        } => {
            let v = crate::dosimetry::run::run_sar(&crate::dosimetry::run::SarOptions {
                field: field.options(&fields),
                materials,
                out,
                force,
            })?;
            if !quiet {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(0)
        }
        Command::Heat {
            input,
            field,
            materials,
            probes,
            duration_s,
            dt_s,
            initial_temperature_c,
            out,
            force,
            quiet,
        } => {
            let v = crate::dosimetry::run::run_heat(&crate::dosimetry::run::HeatOptions {
                field: field.options(&input),
                input,
                materials,
                probes: probes
                    .iter()
                    .map(|p| crate::dosimetry::io::parse_probe_arg(p))
                    .collect::<crate::error::Result<_>>()?,
                duration_s,
                dt_s,
                initial_temperature_c,
                out,
                force,
            })?;
            if !quiet {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(0)
        }
    }
}

/// Side of the cube with about `voxels` voxels (at least 20).
fn cube_side(voxels: usize) -> anyhow::Result<usize> {
    let n = (voxels as f64).cbrt().round() as usize;
    if n < 20 {
        return Err(crate::error::Error::input(
            "bench",
            "--voxels",
            format!("{voxels} voxels is too few"),
            "give at least 8000",
        )
        .into());
    }
    Ok(n)
}

fn bench_print(r: crate::dosimetry::bench::BenchTiming, json: bool) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{}: {} voxels, {} thread(s): {:.3} s; {}",
            r.name, r.voxels, r.threads, r.seconds, r.detail
        );
    }
    Ok(0)
}

/// `rftwin fdtd run`: parse, build, run, write (atomically).
fn fdtd_run(
    file: &std::path::Path,
    out: &std::path::Path,
    force: bool,
    quiet: bool,
) -> anyhow::Result<serde_json::Value> {
    use crate::fdtd::config::{self, RunMode};
    use crate::fdtd::{FieldKind, Probe};
    use num_complex::Complex64;

    let name = file.display().to_string();
    let parsed = config::load(file)?;
    let dir = crate::io::AtomicDir::new(out, &crate::io::OutputPolicy::new("fdtd run", force).input("FDTD file", file))?;
    let (mut sim, mut probes) = config::build(&parsed, &name)?;
    let bar = spinner(quiet);
    sim.set_progress(Some(progress_fn(&bar)));
    let mut refs: Vec<&mut dyn Probe> = probes.iter_mut().map(|p| p as &mut dyn Probe).collect();
    let stats = match &parsed.mode {
        RunMode::Cw { steady, .. } => sim.run_cw(steady, &mut refs)?,
        RunMode::Pulse {
            decay_db, max_steps, ..
        } => sim.run_until_decay(*decay_db, *max_steps, &mut refs)?,
    };
    bar.finish_and_clear();
    let cw = matches!(parsed.mode, RunMode::Cw { .. });
    let freqs: Vec<f64> = match &parsed.mode {
        RunMode::Cw { freq_hz, .. } => vec![*freq_hz],
        RunMode::Pulse { freqs_hz, .. } => freqs_hz.clone(),
    };

    // Element results (ports: impedance and S11 against their internal resistance).
    let mut elements = Vec::new();
    for (e, spec) in sim.lumped().specs().iter().enumerate() {
        let z = sim.lumped().impedance(e);
        let vi = if cw {
            sim.lumped().phasors(e)
        } else {
            sim.lumped().spectrum(e)
        };
        let r0 = parsed.ports.iter().find(|(n, _)| *n == spec.name).map(|(_, r)| *r);
        let rows: Vec<serde_json::Value> = freqs
            .iter()
            .enumerate()
            .map(|(fi, f)| {
                let (v, i) = vi[fi];
                let mut row = serde_json::json!({
                    "freq_hz": f,
                    "z_ohm": [z[fi].re, z[fi].im],
                    "v": [v.re, v.im],
                    "i": [i.re, i.im],
                });
                if let Some(r0) = r0 {
                    let s11: Complex64 = (z[fi] - r0) / (z[fi] + r0);
                    row["s11"] = serde_json::json!([s11.re, s11.im]);
                    row["s11_db"] = serde_json::json!(20.0 * s11.norm().log10());
                    if cw {
                        row["power_into_structure_w"] = serde_json::json!(0.5 * (v * i.conj()).re);
                    }
                }
                row
            })
            .collect();
        elements.push(serde_json::json!({ "name": spec.name, "port": r0.is_some(), "results": rows }));
    }

    // CW input power: sum over ports of 0.5 Re(V I*) (for `rftwin sar --normalise power-w=...`).
    let input_power_w: Option<f64> = elements
        .iter()
        .filter_map(|e| e["results"][0]["power_into_structure_w"].as_f64())
        .fold(None, |acc, p| Some(acc.unwrap_or(0.0) + p));
    let d = sim.cell_size_m();
    let origin = sim.model().grid.node_pos(0, 0, 0);
    let mut arrays = Vec::new();
    for (p, req) in probes.iter().zip(&parsed.probes) {
        for (ci, comp) in ["x", "y", "z"].iter().enumerate() {
            for (fi, f) in freqs.iter().enumerate() {
                let data = if cw {
                    p.phasor(ci, fi)
                } else {
                    p.spectrum(ci, fi)
                        .mapv(|c| num_complex::Complex32::new(c.re as f32, c.im as f32))
                };
                let o = p.component_origin(ci, origin, d);
                arrays.push((
                    format!(
                        "{}/{}{}_f{}",
                        req.name,
                        if req.kind == FieldKind::E { "E" } else { "H" },
                        comp,
                        fi
                    ),
                    data,
                    o,
                    *f,
                    req.kind,
                ));
            }
        }
    }
    if !arrays.is_empty() {
        let sets: Vec<crate::io::FieldDataset> = arrays
            .iter()
            .map(|(n, data, o, f, kind)| crate::io::FieldDataset {
                name: n.clone(),
                data,
                origin_m: *o,
                spacing_m: d,
                unit: match (kind, cw) {
                    (FieldKind::E, true) => "V/m",
                    (FieldKind::H, true) => "A/m",
                    (FieldKind::E, false) => "V s/m",
                    (FieldKind::H, false) => "A s/m",
                },
                freq_hz: *f,
                quantity: if cw {
                    "complex peak phasor, time factor exp(+i w t)"
                } else {
                    "Fourier transform, exp(-i w t)"
                },
            })
            .collect();
        let h5 = dir.path("fields.h5");
        crate::io::write_h5_fields(&h5, &sets)?;
        // Material grid (cell centres) and the ports' input power, for `rftwin sar` / `rftwin heat`.
        let model = sim.model();
        let labels = ndarray::Array3::from_shape_vec(model.grid.dims(), model.cells().to_vec())?;
        let grid = crate::dosimetry::io::LabelGrid {
            labels,
            table: crate::dosimetry::io::MaterialTable::from_materials(model.materials()),
            origin_m: model.grid.cell_centre(0, 0, 0),
            spacing_m: d,
        };
        let file = hdf5::File::append(&h5).map_err(|e| crate::error::Error::Other(format!("{}: {e}", h5.display())))?;
        crate::dosimetry::io::write_h5_materials(&file, &h5, &grid)?;
        if let Some(p) = input_power_w {
            crate::dosimetry::io::write_root_attr(&file, &h5, "input_power_w", p)?;
        }
    }
    let summary = serde_json::json!({
        "file": name,
        "mode": if cw { "cw" } else { "pulse" },
        "cells": sim.cells(),
        "cell_size_m": d,
        "dt_s": sim.dt(),
        "courant": sim.courant(),
        "run": stats,
        "elements": elements,
        "probes": parsed.probes.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "fields_h5": if arrays.is_empty() { None } else { Some("fields.h5") },
        "warnings": crate::resources::take_warnings(),
    });
    crate::io::write_json(&dir.path("summary.json"), &summary)?;
    dir.commit()?;
    Ok(summary)
}

fn spinner(quiet: bool) -> indicatif::ProgressBar {
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
    bar
}

fn progress_fn(bar: &indicatif::ProgressBar) -> crate::fdtd::ProgressFn {
    let bar = bar.clone();
    Box::new(move |p: crate::fdtd::Progress| {
        bar.set_message(if p.periods > 0 {
            format!(
                "period {} (step {}): phasor change {:.2e} -> {:.1e}",
                p.periods, p.steps, p.measure, p.target
            )
        } else {
            format!("step {}: energy {:.1} dB -> {:.0} dB", p.steps, p.measure, p.target)
        });
        bar.tick();
    })
}

/// `rftwin coil simulate`.
#[allow(clippy::too_many_arguments)]
fn coil_simulate(
    file: &std::path::Path,
    phantom: Option<&std::path::Path>,
    out: &std::path::Path,
    cell_mm: f64,
    tolerance: f64,
    drive: &str,
    sweep_steps: usize,
    force: bool,
    quiet: bool,
) -> anyhow::Result<serde_json::Value> {
    use crate::b1::coil_maps::{simulate_ideal, simulate_resonant, SimulateOptions};
    use crate::plot::{panel, Panel, PanelScale, SliceMap};
    use ndarray::Array3;
    use num_complex::Complex32;

    let coil = crate::coil::CoilConfig::load(file)?;
    let ph = phantom.map(crate::coil::PhantomConfig::load).transpose()?;
    if !(cell_mm > 0.0) || !(tolerance > 0.0) {
        return Err(crate::error::Error::input(
            "command line",
            "--cell-mm / --tolerance",
            "must be > 0",
            "e.g. --cell-mm 10 --tolerance 1e-3",
        )
        .into());
    }
    let mut opt = SimulateOptions::default();
    opt.mesh.cell_m = cell_mm * 1e-3;
    opt.steady.tol = tolerance;
    let policy = crate::io::OutputPolicy::new("coil simulate", force)
        .input("coil", file)
        .input_opt("--phantom", phantom);
    let dir = crate::io::AtomicDir::new(out, &policy)?;
    let bar = spinner(quiet);
    let (f, tuning) = match drive {
        "ideal" => (simulate_ideal(&coil, ph.as_ref(), &opt, Some(progress_fn(&bar)))?, None),
        "resonant" => {
            bar.set_message("tuning the capacitors by FDTD sweeps");
            let (f, t) = simulate_resonant(&coil, ph.as_ref(), &opt, sweep_steps, 0.005, Some(progress_fn(&bar)))?;
            (f, Some(t))
        }
        other => {
            return Err(crate::error::Error::input(
                "command line",
                "--drive",
                format!("unknown drive '{other}'"),
                "use --drive ideal or --drive resonant",
            )
            .into())
        }
    };
    bar.finish_and_clear();

    // Datasets for 1 W input and for 1 µT B1+ at the isocentre.
    let scale_of = |norm: &str| {
        if norm == "per_watt" {
            f.per_watt()
        } else {
            f.per_microtesla()
        }
    };
    let mut owned: Vec<(String, Array3<Complex32>, [f64; 3], &str)> = Vec::new();
    for norm in ["per_watt", "per_microtesla"] {
        let s = scale_of(norm) as f32;
        owned.push((
            format!("{norm}/b1_plus"),
            f.b1_plus.data.mapv(|v| v * s),
            f.b1_plus.origin_m,
            "T",
        ));
        owned.push((
            format!("{norm}/b1_minus"),
            f.b1_minus.data.mapv(|v| v * s),
            f.b1_minus.origin_m,
            "T",
        ));
        for (c, name) in ["ex", "ey", "ez"].iter().enumerate() {
            owned.push((
                format!("{norm}/{name}"),
                f.e[c].mapv(|v| v * s),
                f.e_grid.origin_m,
                "V/m",
            ));
        }
        let sar = f.point_sar(scale_of(norm)).mapv(|v| Complex32::new(v, 0.0));
        owned.push((format!("{norm}/sar_point"), sar, f.e_grid.origin_m, "W/kg"));
    }
    let d = [f.cell_m; 3];
    let sets: Vec<crate::io::FieldDataset> = owned
        .iter()
        .map(|(n, data, o, unit)| crate::io::FieldDataset {
            name: n.clone(),
            data,
            origin_m: *o,
            spacing_m: d,
            unit,
            freq_hz: f.freq_hz,
            quantity: "complex peak phasor at cell centres, time factor exp(+i w t) (sar_point: real, W/kg)",
        })
        .collect();
    crate::io::write_h5_fields(&dir.path("fields.h5"), &sets)?;
    crate::io::write_xdmf(&dir.path("fields.xmf"), "fields.h5", &sets)?;

    // PNG maps for 1 µT B1+ at the isocentre, through the isocentre.
    let s_ut = f.per_microtesla();
    let b1 = f.b1_plus.data.mapv(|v| v.norm() * s_ut as f32 * 1e6);
    let emag = Array3::from_shape_fn(f.sigma.dim(), |(i, j, k)| {
        (f.e[0][[i, j, k]].norm_sqr() + f.e[1][[i, j, k]].norm_sqr() + f.e[2][[i, j, k]].norm_sqr()).sqrt()
            * s_ut as f32
    });
    let sar = f.point_sar(s_ut);
    let centre_index = |origin: [f64; 3], dims: (usize, usize, usize)| {
        let n = [dims.0, dims.1, dims.2];
        [0, 1, 2].map(|a| (((-origin[a]) / d[a]).round().max(0.0) as usize).min(n[a] - 1))
    };
    let write_panel = |name: &str,
                       vol: &Array3<f32>,
                       origin: [f64; 3],
                       title: &str,
                       unit: &str,
                       range: Option<(f64, f64)>|
     -> anyhow::Result<()> {
        let c = centre_index(origin, vol.dim());
        fn fix(m: SliceMap<'_>, range: Option<(f64, f64)>) -> SliceMap<'_> {
            match range {
                Some((lo, hi)) => m.range(lo, hi),
                None => m,
            }
        }
        let maps = vec![
            fix(
                SliceMap::from_volume(vol.view(), 2, c[2], origin, d)?
                    .title("axial (z = 0)")
                    .unit(unit),
                range,
            ),
            fix(
                SliceMap::from_volume(vol.view(), 1, c[1], origin, d)?
                    .title("coronal (y = 0)")
                    .unit(unit),
                range,
            ),
            fix(
                SliceMap::from_volume(vol.view(), 0, c[0], origin, d)?
                    .title("sagittal (x = 0)")
                    .unit(unit),
                range,
            ),
        ];
        panel(
            &dir.path(name),
            &Panel::new(maps).title(title).scale(PanelScale::Shared),
        )?;
        Ok(())
    };
    let tag = format!("{} at {:.2} MHz, 1 µT B1+ at isocentre", coil.name, f.freq_hz / 1e6);
    // B1+ on 0..2 µT: the field right next to the rungs would otherwise set the scale.
    write_panel(
        "b1_plus.png",
        &b1,
        f.b1_plus.origin_m,
        &format!("|B1+|, {tag}"),
        "|B1+| (µT)",
        Some((0.0, 2.0)),
    )?;
    write_panel(
        "e_magnitude.png",
        &emag,
        f.e_grid.origin_m,
        &format!("|E| (peak), {tag}"),
        "|E| (V/m)",
        None,
    )?;
    if ph.is_some() {
        write_panel(
            "sar_point.png",
            &sar,
            f.e_grid.origin_m,
            &format!("local SAR, {tag}"),
            "SAR (W/kg)",
            None,
        )?;
    }

    let iso_minus = f.b1_minus.sample([0.0, 0.0, 0.0]);
    let summary = serde_json::json!({
        "coil": file.display().to_string(),
        "phantom": phantom.map(|p| p.display().to_string()),
        "drive": if tuning.is_some() { "resonant (FDTD-tuned capacitors, ports driven as in the coil file)" } else { "ideal (impressed rung and ring currents, homogeneous mode)" },
        "fdtd_tuning": tuning.as_ref().map(|t| serde_json::json!({
            "capacitors_f": t.capacitors,
            "homogeneous_mode_hz": t.homogeneous_hz,
            "relative_error": t.rel_error,
            "ordering_matches_circuit_model": t.ordering_matches_circuit,
            "sweeps": t.sweeps.iter().map(|s| serde_json::json!({"capacitors_f": s.capacitors, "homogeneous_mode_hz": s.homogeneous_hz, "peaks_hz": s.peaks_hz, "steps": s.steps, "seconds": s.seconds})).collect::<Vec<_>>(),
        })),
        "freq_hz": f.freq_hz,
        "cells": f.cells,
        "cell_m": f.cell_m,
        "dt_s": f.dt_s,
        "run": f.stats,
        "setup_s": f.setup_s,
        "input_power_w_per_amp2": f.input_power_w,
        "b1_plus_iso_t_per_sqrt_w": f.b1_plus_iso_t.norm() * f.per_watt(),
        "b1_minus_over_b1_plus_iso": iso_minus.norm() as f64 / f.b1_plus_iso_t.norm(),
        "input_power_w_for_1ut_iso": f.input_power_w * f.per_microtesla().powi(2),
        "normalisations": {"per_watt": "fields for 1 W input power", "per_microtesla": "fields for |B1+| = 1 µT at the isocentre"},
        "files": ["fields.h5", "fields.xmf", "b1_plus.png", "e_magnitude.png", "sar_point.png"],
        "warnings": crate::resources::take_warnings(),
    });
    crate::io::write_json(&dir.path("summary.json"), &summary)?;
    dir.commit()?;
    Ok(summary)
}

/// `rftwin twin fit | synth`.
fn twin_command(what: TwinCommand) -> anyhow::Result<serde_json::Value> {
    use crate::b1::coil_maps::SimulateOptions;
    use crate::b1::{Affine, B1Map, B1Unit, Frame, Placement};
    use crate::grid::ShapeKind;
    use crate::twin::synthesize;

    let opts = |cell_mm: f64| -> anyhow::Result<SimulateOptions> {
        if !(cell_mm > 0.0) {
            return Err(
                crate::error::Error::input("command line", "--cell-mm", "must be > 0", "e.g. --cell-mm 10").into(),
            );
        }
        let mut o = SimulateOptions::default();
        o.mesh.cell_m = cell_mm * 1e-3;
        Ok(o)
    };
    match what {
        TwinCommand::Synth {
            coil,
            phantom,
            out,
            cell_mm,
            voxel_mm,
            imbalance,
            phase_deg,
            noise,
            seed,
            centre_ut,
            offset_mm,
            rotation_deg,
            sigma_scale,
            eps_scale,
            force,
        } => {
            let c = crate::coil::CoilConfig::load(&coil)?;
            let mut p = crate::coil::PhantomConfig::load(&phantom)?;
            let name = out.display().to_string();
            let lower = name.to_ascii_lowercase();
            let nifti = lower.ends_with(".nii") || lower.ends_with(".nii.gz");
            let hdf5 = lower.ends_with(".h5") || lower.ends_with(".hdf5");
            if !nifti && !hdf5 {
                return Err(crate::error::Error::input(
                    "command line",
                    "--out",
                    format!("unknown map format '{name}'"),
                    "use .nii.gz, .nii or .h5",
                )
                .into());
            }
            let policy = crate::io::OutputPolicy::new("twin synth", force)
                .input("--coil", &coil)
                .input("--phantom", &phantom);
            if nifti {
                // The sidecar is an output too: never over an input.
                crate::io::AtomicFile::check_extra(&crate::b1::sidecar_path(&out), &policy)?;
            }
            let mut file = crate::io::AtomicFile::new(&out, &policy)?;
            let off = three_numbers("--offset-mm", &offset_mm, "4,-3,2")?;
            let offset_m = off.map(|v| v * 1e-3);
            let rot = three_numbers("--rotation-deg", &rotation_deg, "1,-2,1.5")?;
            for a in 0..3 {
                p.rotation_deg[a] += rot[a];
            }
            if !(sigma_scale > 0.0) || !(eps_scale > 0.0) || !(p.material.eps_r * eps_scale >= 1.0) {
                return Err(crate::error::Error::input(
                    "command line",
                    "--sigma-scale/--eps-scale",
                    "must be > 0 (and leave eps_r >= 1)",
                    "e.g. --sigma-scale 1.1",
                )
                .into());
            }
            p.material.sigma_s_per_m *= sigma_scale;
            p.material.eps_r *= eps_scale;
            if !(voxel_mm > 0.0) || !(imbalance > 0.0) || !(noise >= 0.0) || !(centre_ut > 0.0) {
                return Err(crate::error::Error::input(
                    "command line",
                    "--voxel-mm/--imbalance/--noise/--centre-ut",
                    "must be positive (noise >= 0)",
                    "fix the values",
                )
                .into());
            }
            let sim_opts = opts(cell_mm)?;
            let basis = crate::twin::compute_basis_request(
                &crate::twin::BasisRequest {
                    coil: &c,
                    phantom: Some(&p),
                    opt: &sim_opts,
                    offset_m,
                },
                None,
            )?;
            // The moved phantom's bounding box, 1 cm inside its walls.
            let moved = crate::twin::basis::shifted_phantom(&p, offset_m);
            let (lo, hi) = match moved.shape().kind {
                ShapeKind::Box { min_m, max_m } => (min_m.map(|v| v + 0.01), max_m.map(|v| v - 0.01)),
                ShapeKind::Cylinder {
                    centre_m,
                    radius_m,
                    start_m,
                    end_m,
                    ..
                } => (
                    [
                        centre_m[0] - radius_m + 0.01,
                        centre_m[1] - radius_m + 0.01,
                        start_m.min(end_m) + 0.01,
                    ],
                    [
                        centre_m[0] + radius_m - 0.01,
                        centre_m[1] + radius_m - 0.01,
                        start_m.max(end_m) - 0.01,
                    ],
                ),
                ShapeKind::Sphere { centre_m, radius_m } => (
                    centre_m.map(|v| v - radius_m + 0.01),
                    centre_m.map(|v| v + radius_m - 0.01),
                ),
            };
            let v = voxel_mm * 1e-3;
            let (mut map, origin) = synthesize(&basis, imbalance, phase_deg, noise, seed, lo, hi, v, centre_ut)?;
            if moved.rotation().is_some() {
                // The box above is that of the square phantom: keep the voxels inside the turned one.
                let inner = crate::b1::mask::eroded(&moved.shape(), 0.01)?;
                for ((i, j, k), x) in map.indexed_iter_mut() {
                    let q = [i, j, k].map(|n| n as f64 * v);
                    if !inner.contains([origin[0] + q[0], origin[1] + q[1], origin[2] + q[2]]) {
                        *x = f32::NAN;
                    }
                }
            }
            let map = B1Map::new(
                map,
                Affine::from_origin_spacing(origin, [v; 3]),
                Frame::Simulation,
                B1Unit::MicroTesla,
                &out.display().to_string(),
            )?;
            // Written under a temporary name beside the target, then renamed: never a half-written map.
            if nifti {
                crate::b1::write_nifti_map(file.path(), &map, crate::b1::NiftiVersion::V1)?;
                let side = crate::b1::sidecar_path(file.path());
                file.sidecar(side, crate::b1::sidecar_path(&out));
            } else {
                crate::b1::write_h5_map(file.path(), &map, "b1")?;
            }
            file.commit()?;
            Ok(serde_json::json!({
                "map": name, "coil": coil.display().to_string(), "phantom": phantom.display().to_string(),
                "cell_mm": cell_mm, "voxel_mm": voxel_mm, "dims": map.dims(), "origin_m": origin,
                "imbalance": imbalance, "phase_deg": phase_deg, "noise": noise, "seed": seed, "centre_ut": centre_ut,
                "offset_mm": off, "sigma_s_per_m": p.material.sigma_s_per_m, "eps_r": p.material.eps_r,
                "unit": "uT", "frame": "simulation (coil frame, isocentre at 0, z along the bore)",
            }))
        }
        TwinCommand::Fit {
            coil,
            phantom,
            measured,
            volume,
            out,
            cell_mm,
            force,
            quiet,
            no_cache,
            cache_dir,
            fit_offset,
            fit_rotation,
            placement_runs,
            fit_gel,
            bootstrap,
            seed,
            no_resimulate,
            max_outer,
            max_iterations,
        } => {
            use crate::plot::{panel, Colormap, Panel, SliceMap};
            let c = crate::coil::CoilConfig::load(&coil)?;
            let p = crate::coil::PhantomConfig::load(&phantom)?;
            let map = crate::b1::read_map_volume(&measured, None, volume)?;
            let cache = if no_cache {
                None
            } else {
                Some(
                    cache_dir
                        .clone()
                        .unwrap_or_else(|| crate::twin::default_cache_dir(&out)),
                )
            };
            let policy = crate::io::OutputPolicy::new("twin fit", force)
                .input("--coil", &coil)
                .input("--phantom", &phantom)
                .input("--measured", &measured)
                .input("--measured sidecar", crate::b1::sidecar_path(&measured))
                .input_opt("basis cache", cache.as_deref());
            let dir = crate::io::AtomicDir::new(&out, &policy)?;
            let bar = spinner(quiet);
            let sim_opts = opts(cell_mm)?;
            let fo = crate::twin::FullOptions {
                joint: crate::twin::JointOptions {
                    fit_offset,
                    fit_rotation,
                    fit_gel,
                    bootstrap,
                    seed,
                    max_iterations,
                },
                resimulate: if no_resimulate { Some(false) } else { None },
                placement_runs: placement_runs.then_some(true),
                max_outer,
                ..Default::default()
            };
            let mut log = |m: &str| {
                bar.set_message(m.to_string());
                bar.tick();
            };
            let (full, basis) = crate::twin::calibrate_full(
                &c,
                &p,
                &map,
                &Placement::default(),
                &sim_opts,
                &fo,
                cache.as_deref(),
                &mut log,
            )?;
            bar.finish_and_clear();
            let f = &full.fit;
            let ci = |e: &crate::twin::joint::Estimate| format!("[{}, {}]", e.ci95[0], e.ci95[1]);
            let mut twin_toml = format!(
                "# rftwin twin: {} calibrated to {}\n# B1+ = w_cos * B1+(cos pattern) + w_sin * B1+(sin pattern), 1 A peak rung current per unit weight\n# (weights in A when the map is in uT); 95 % intervals: {}\ncoil = \"{}\"\nphantom = \"{}\"\nmeasured = \"{}\"\nfreq_hz = {}\ncell_m = {}\nfitted = [{}]\nconverged = {}\nnrmse = {}\nw_cos = [{}, {}]\nw_sin = [{}, {}]\nport2_relative_amplitude = {}\nport2_relative_amplitude_ci95 = {}\nport2_phase_error_deg = {}\nport2_phase_error_ci95_deg = {}\n",
                c.name,
                measured.display(),
                f.relative_amplitude.ci95_method,
                coil.display(),
                phantom.display(),
                measured.display(),
                basis.freq_hz,
                cell_mm * 1e-3,
                [
                    "\"weights\"",
                    if fit_offset { ", \"offset\"" } else { "" },
                    if fit_rotation { ", \"rotation\"" } else { "" },
                    if fit_gel { ", \"gel\"" } else { "" },
                ]
                .concat(),
                f.converged,
                f.nrmse,
                f.weights[0][0],
                f.weights[0][1],
                f.weights[1][0],
                f.weights[1][1],
                f.relative_amplitude.value,
                ci(&f.relative_amplitude),
                f.relative_phase_deg.value,
                ci(&f.relative_phase_deg),
            );
            if let Some(o) = &f.offset_m {
                twin_toml += &format!(
                    "phantom_offset_m = [{}, {}, {}]\nphantom_offset_x_ci95_m = {}\nphantom_offset_y_ci95_m = {}\nphantom_offset_z_ci95_m = {}\n",
                    o[0].value, o[1].value, o[2].value, ci(&o[0]), ci(&o[1]), ci(&o[2])
                );
            }
            if let Some(o) = &f.rotation_deg {
                twin_toml += &format!(
                    "# rotation vector (degrees) about the phantom's centre, added to the phantom file's rotation_deg\nphantom_rotation_deg = [{}, {}, {}]\nphantom_rotation_x_ci95_deg = {}\nphantom_rotation_y_ci95_deg = {}\nphantom_rotation_z_ci95_deg = {}\n",
                    o[0].value, o[1].value, o[2].value, ci(&o[0]), ci(&o[1]), ci(&o[2])
                );
            }
            if let (Some(sg), Some(ep)) = (&f.sigma_s_per_m, &f.eps_r) {
                twin_toml += &format!(
                    "gel_sigma_s_per_m = {}\ngel_sigma_ci95_s_per_m = {}\ngel_eps_r = {}\ngel_eps_r_ci95 = {}\ngel_eps_r_identifiable = {}\n",
                    sg.value, ci(sg), ep.value, ci(ep), !f.unidentifiable.iter().any(|u| u == "eps_r")
                );
            }
            twin_toml += &format!(
                "# the twin's fields below were computed with the phantom at this offset, rotation (added to the file's) and gel:\nfields_phantom_offset_m = [{}, {}, {}]\nfields_phantom_rotation_deg = [{}, {}, {}]\nfields_sigma_s_per_m = {}\nfields_eps_r = {}\n",
                full.final_offset_m[0], full.final_offset_m[1], full.final_offset_m[2],
                full.final_rotation_deg[0], full.final_rotation_deg[1], full.final_rotation_deg[2],
                full.final_sigma_s_per_m, full.final_eps_r
            );
            std::fs::write(dir.path("twin.toml"), twin_toml)?;
            let tw = crate::twin::TwinFields::from_basis(
                &basis,
                &[
                    num_complex::Complex64::new(f.weights[0][0], f.weights[0][1]),
                    num_complex::Complex64::new(f.weights[1][0], f.weights[1][1]),
                ],
            )?;
            let fields_dir = dir.path("");
            tw.save(&fields_dir)?;
            tw.write_xdmf(&fields_dir)?;
            let mut parts = vec!["drive weights (overall scale, port-2 amplitude and phase)"];
            if fit_offset {
                parts.push("phantom offset");
            }
            if fit_rotation {
                parts.push("phantom rotation");
            }
            if fit_gel {
                parts.push("gel conductivity/permittivity");
            }
            let fitted_what = parts.join(", ");
            let report = serde_json::json!({
                "coil": coil.display().to_string(), "phantom": phantom.display().to_string(), "measured": measured.display().to_string(),
                "fitted": fitted_what,
                "converged": f.converged,
                "calibration": {
                    "relative_amplitude": f.relative_amplitude.value,
                    "relative_phase_deg": f.relative_phase_deg.value,
                    "relative_amplitude_se": f.relative_amplitude.se,
                    "relative_phase_se_deg": f.relative_phase_deg.se,
                    "samples": f.samples,
                    "fit": { "nrmse": f.nrmse, "correlation": f.correlation, "max_abs_residual": f.max_abs_residual, "p95_abs_residual": f.p95_abs_residual, "iterations": f.iterations, "unidentifiable": &f.unidentifiable },
                },
                "full": &full,
            });
            crate::io::write_json(&dir.path("fit.json"), &report)?;
            // Panels through the map's middle coronal (xz) slice: the long extent of a gel box.
            let k = map.dims()[1] / 2;
            let aff = map.affine.m;
            let origin = [aff[0][3], aff[1][3], aff[2][3]];
            let sp = [aff[0][0].abs(), aff[1][1].abs(), aff[2][2].abs()];
            let resid = &full.simulated - &full.measured;
            let hi = full
                .measured
                .iter()
                .cloned()
                .filter(|v| v.is_finite())
                .fold(0.0f32, f32::max) as f64;
            let maps = vec![
                SliceMap::from_volume(full.measured.view(), 1, k, origin, sp)?
                    .title("measured")
                    .unit(format!("|B1+| ({})", map.unit.as_str()))
                    .range(0.0, hi),
                SliceMap::from_volume(full.simulated.view(), 1, k, origin, sp)?
                    .title("twin")
                    .unit(format!("|B1+| ({})", map.unit.as_str()))
                    .range(0.0, hi),
                SliceMap::from_volume(resid.view(), 1, k, origin, sp)?
                    .title("twin - measured")
                    .unit(format!("residual ({})", map.unit.as_str()))
                    .colormap(Colormap::Diverging),
            ];
            panel(
                &dir.path("fit.png"),
                &Panel::new(maps).title(format!(
                    "B1+ map matching: port-2 amplitude {:.3}, phase {:+.2}°, NRMSE {:.2} %",
                    f.relative_amplitude.value,
                    f.relative_phase_deg.value,
                    100.0 * f.nrmse
                )),
            )?;
            dir.commit()?;
            if !f.converged {
                eprintln!(
                    "error: the twin fit did not converge in {} iterations (best NRMSE {:.4}); outputs written to {} for inspection",
                    f.iterations,
                    f.nrmse,
                    out.display()
                );
                let mut r = report;
                r["exit_code"] = serde_json::json!(1);
                return Ok(r);
            }
            Ok(report)
        }
    }
}

/// `rftwin implant place | tf | search` (the work is in `implant::run`).
fn implant_command(what: ImplantCommand) -> anyhow::Result<serde_json::Value> {
    use crate::implant::run::{place_command, search_command, tf_command, PlacementInput, SearchInputs};
    let cli_err = |key: &str, what: String, fix: &str| crate::error::Error::input("command line", key, what, fix);
    match what {
        ImplantCommand::Place {
            implant,
            phantom,
            placement,
            position,
            direction,
            roll_deg,
            min_wall_m,
            cell_mm,
            pad_mm,
            out,
            force,
        } => {
            let input = match (&placement, &position) {
                (Some(p), None) => {
                    if direction.is_some() {
                        return Err(cli_err(
                            "--direction",
                            "given with --placement".into(),
                            "put the direction in the placement file",
                        )
                        .into());
                    }
                    PlacementInput::File(p)
                }
                (None, Some(pos)) => PlacementInput::Values {
                    position_m: three_numbers("--position", pos, "0.1,0,0")?,
                    direction: match &direction {
                        Some(d) => three_numbers("--direction", d, "0,0,1")?,
                        None => [0.0, 0.0, 1.0],
                    },
                    roll_deg,
                },
                _ => {
                    return Err(cli_err(
                        "--placement / --position",
                        "give exactly one of them".into(),
                        "e.g. --position 0.1,0,0 --direction 0,0,1",
                    )
                    .into())
                }
            };
            if !(cell_mm > 0.0) || !(pad_mm >= 0.0) {
                return Err(cli_err(
                    "--cell-mm / --pad-mm",
                    format!("{cell_mm} / {pad_mm}"),
                    "give a cell > 0 and a pad >= 0",
                )
                .into());
            }
            let grid = crate::implant::placement::LocalGridOptions {
                cell_m: cell_mm * 1e-3,
                pad_m: pad_mm * 1e-3,
            };
            Ok(place_command(
                &implant, &phantom, input, min_wall_m, &grid, &out, force,
            )?)
        }
        ImplantCommand::Tf {
            implant,
            phantom,
            freq_hz,
            cell_mm,
            eps_r,
            sigma_s_per_m,
            out,
            force,
        } => {
            let (eps_r, sigma_s_per_m) = match &phantom {
                Some(p) => {
                    let ph = crate::coil::PhantomConfig::load(p)?;
                    (ph.material.eps_r, ph.material.sigma_s_per_m)
                }
                None => (eps_r, sigma_s_per_m),
            };
            let opt = crate::implant::tf::TfOptions {
                freq_hz,
                cell_m: cell_mm * 1e-3,
                eps_r,
                sigma_s_per_m,
                ..Default::default()
            };
            Ok(tf_command(&implant, phantom.as_deref(), &opt, &out, force)?)
        }
        ImplantCommand::Search {
            coil,
            phantom,
            twin,
            implant,
            tf,
            cell_mm,
            tf_cell_mm,
            step_mm,
            directions,
            roll_deg,
            min_wall_m,
            top,
            normalise,
            confirm,
            fine_cell_mm,
            exposure_s,
            no_cache,
            cache_dir,
            out,
            force,
            quiet,
        } => {
            if !(min_wall_m >= 0.0) || !min_wall_m.is_finite() {
                return Err(cli_err(
                    "--min-wall-m",
                    format!("{min_wall_m} m is not a finite distance >= 0"),
                    "give the smallest distance to the walls in metres, e.g. --min-wall-m 0.02",
                )
                .into());
            }
            positive_mm("--cell-mm", cell_mm)?;
            positive_mm("--tf-cell-mm", tf_cell_mm)?;
            let rolls = roll_deg
                .split(',')
                .map(|x| x.trim().parse::<f64>().ok().filter(|r| r.is_finite()).ok_or(()))
                .collect::<std::result::Result<Vec<_>, _>>()
                .map_err(|_| {
                    cli_err(
                        "--roll-deg",
                        format!("'{roll_deg}' is not a list of numbers"),
                        "e.g. --roll-deg 0,90,180,270",
                    )
                })?;
            if !(step_mm > 0.0) || !step_mm.is_finite() {
                return Err(cli_err("--step-mm", format!("{step_mm}"), "give a step > 0").into());
            }
            if !(exposure_s > 0.0) || !exposure_s.is_finite() {
                return Err(cli_err(
                    "--exposure-s",
                    format!("{exposure_s}"),
                    "give an exposure > 0 s, e.g. 900",
                )
                .into());
            }
            let opt = crate::implant::search::SearchOptions {
                step_m: [step_mm * 1e-3; 3],
                directions,
                roll_deg: rolls,
                min_wall_distance_m: min_wall_m,
                top: top.max(confirm),
            };
            let confirm = (confirm > 0)
                .then(|| -> anyhow::Result<_> {
                    Ok(crate::implant::search::ConfirmOptions {
                        count: confirm,
                        cell_m: positive_mm("--fine-cell-mm", fine_cell_mm)?,
                        exposure_s,
                        ..Default::default()
                    })
                })
                .transpose()?;
            let inp = SearchInputs {
                coil: coil.as_deref(),
                phantom: phantom.as_deref(),
                twin: twin.as_deref(),
                implant: &implant,
                tf: tf.as_deref(),
                coil_cell_m: cell_mm * 1e-3,
                tf_cell_m: tf_cell_mm * 1e-3,
                normalise: &normalise,
                cache_dir: cache_choice(no_cache, cache_dir, &out),
                confirm,
            };
            let bar = spinner(quiet);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let mut log = |m: &str| bar.set_message(m.to_string());
            let v = search_command(&inp, &opt, &out, force, &mut log)?;
            bar.finish_and_clear();
            Ok(v)
        }
    }
}

fn positive_mm(key: &str, v: f64) -> anyhow::Result<f64> {
    if !(v > 0.0) || !v.is_finite() {
        return Err(crate::error::Error::input(
            "command line",
            key,
            format!("{v} is not > 0"),
            "give a cell size in mm, e.g. 1",
        )
        .into());
    }
    Ok(v * 1e-3)
}

fn cache_choice(no_cache: bool, dir: Option<std::path::PathBuf>, out: &std::path::Path) -> Option<std::path::PathBuf> {
    if no_cache {
        None
    } else {
        Some(dir.unwrap_or_else(|| crate::twin::default_cache_dir(out)))
    }
}

/// Runs an assessment with a spinner and prints the verdict; exit code from the verdict.
fn run_assess(
    recipe: &crate::report::recipe::Recipe,
    opt: &crate::assess::AssessOptions,
    quiet: bool,
) -> anyhow::Result<i32> {
    let bar = spinner(quiet);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut log = |m: &str| bar.set_message(m.to_string());
    let outcome = crate::assess::assess(recipe, opt, &mut log)?;
    bar.finish_and_clear();
    let r = &outcome.report;
    println!("{}: {}", recipe.title, outcome.verdict.as_str());
    for c in &r.criteria {
        let v = r.get(&c.value_key).map(|q| q.text()).unwrap_or_default();
        let lim = r.get(&c.limit_key()).map(|q| q.text()).unwrap_or_default();
        println!("  {:<10} {}: {} (limit {})", c.verdict.as_str(), c.label, v, lim);
    }
    println!(
        "report: {} ({:.0} s)",
        outcome.out.join(crate::report::PDF_NAME).display(),
        outcome.seconds
    );
    Ok(outcome.verdict.exit_code())
}

/// The built-in demo inputs, embedded so that `rftwin demo` runs from anywhere.
const DEMO_FILES: &[(&str, &[u8])] = &[
    (
        "coils/body_1p5t_hp16.toml",
        include_bytes!("../coils/body_1p5t_hp16.toml"),
    ),
    (
        "phantoms/astm_f2182.toml",
        include_bytes!("../phantoms/astm_f2182.toml"),
    ),
    (
        "phantoms/implants/insulated_wire_200mm.toml",
        include_bytes!("../phantoms/implants/insulated_wire_200mm.toml"),
    ),
    (
        "phantoms/measured/astm_1p5t_b1plus.nii.gz",
        include_bytes!("../phantoms/measured/astm_1p5t_b1plus.nii.gz"),
    ),
    (
        "phantoms/measured/astm_1p5t_b1plus.json",
        include_bytes!("../phantoms/measured/astm_1p5t_b1plus.json"),
    ),
    ("reports/demo.toml", include_bytes!("../reports/demo.toml")),
];

fn demo_command(out: &std::path::Path, fine_cell_mm: f64, no_cache: bool, quiet: bool) -> anyhow::Result<i32> {
    // Materialise the embedded inputs under the cache (content-addressed by the crate version) so the
    // report's input paths and SHA-256 sums refer to real files.
    let base = crate::twin::default_cache_dir(out).join(format!("demo-inputs-{}", env!("CARGO_PKG_VERSION")));
    for (name, bytes) in DEMO_FILES {
        let p = base.join(name);
        if std::fs::read(&p).ok().as_deref() != Some(*bytes) {
            std::fs::create_dir_all(p.parent().expect("parent"))?;
            let tmp = p.with_extension(format!("tmp-{}", std::process::id()));
            std::fs::write(&tmp, bytes)?;
            std::fs::rename(&tmp, &p)?;
        }
    }
    let recipe = crate::report::recipe::Recipe::load(&base.join("reports/demo.toml"))?;
    let mut o = crate::assess::AssessOptions::new(out);
    // "Replaced if it exists": only a directory rftwin wrote (the output policy's --force).
    o.overwrite = true;
    o.command = "demo".into();
    o.extra_inputs.push(("demo inputs".into(), base.clone()));
    o.fine_cell_m = positive_mm("--fine-cell-mm", fine_cell_mm)?;
    o.cache_dir = cache_choice(no_cache, None, out);
    run_assess(&recipe, &o, quiet)
}

fn regress_command(
    golden: &std::path::Path,
    out: Option<&std::path::Path>,
    force: bool,
    no_cache: bool,
    quiet: bool,
) -> anyhow::Result<i32> {
    let recipe_path = golden.join("recipe.toml");
    let recipe = crate::report::recipe::Recipe::load(&recipe_path)?;
    let tol = crate::report::regress::Tolerances::for_golden_dir(golden)?;
    // Without --out: a new scratch directory of this run, removed when the comparison is done (or
    // fails); it is removed only if it carries rftwin's marker.
    let scratch;
    let new_dir = match out {
        Some(p) => p.to_path_buf(),
        None => {
            scratch = crate::io::output::ScratchDir::new("rftwin-regress");
            scratch.0.clone()
        }
    };
    let mut o = crate::assess::AssessOptions::new(&new_dir);
    o.overwrite = force;
    o.command = "regress".into();
    // The golden directory is an input as a whole: --out may not be it, lie inside it or contain it.
    o.extra_inputs.push(("golden directory".into(), golden.to_path_buf()));
    o.cache_dir = cache_choice(no_cache, None, &new_dir);
    let fine = golden_fine_cell(golden)?;
    if let Some(f) = fine {
        o.fine_cell_m = f;
    }
    let bar = spinner(quiet);
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    let mut log = |m: &str| bar.set_message(m.to_string());
    let outcome = crate::assess::assess(&recipe, &o, &mut log)?;
    bar.finish_and_clear();
    let cmp = crate::report::regress::compare_dirs(golden, &outcome.out, &tol)?;
    println!("{}", cmp.text());
    Ok(cmp.exit_code())
}

/// The fine cell the golden result was made with (its summary's `implant1.fine_cell`, mm).
fn golden_fine_cell(golden: &std::path::Path) -> anyhow::Result<Option<f64>> {
    let s = crate::report::summary::Summary::load(&golden.join(crate::report::SUMMARY_NAME))?;
    let key = crate::report::keys::Implant::FineCell.key(1);
    Ok(s.get(&key).map(|q| q.value * 1e-3))
}

/// Three finite comma-separated numbers of a command-line option such as --position X,Y,Z
/// (`example` shows the form).
fn three_numbers(flag: &str, text: &str, example: &str) -> Result<[f64; 3], crate::error::Error> {
    let bad = || {
        crate::error::Error::input(
            "command line",
            flag,
            format!("'{text}' is not three finite numbers"),
            format!("write e.g. {flag} {example}"),
        )
    };
    let v: Vec<f64> = text
        .split(',')
        .map(|v| v.trim().parse::<f64>().ok().filter(|x| x.is_finite()).ok_or_else(bad))
        .collect::<Result<_, _>>()?;
    v.try_into().map_err(|_| bad())
}
