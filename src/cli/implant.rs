//! `rftwin implant place | tf | search` (the work: [`crate::implant::command`]).

use crate::assess::search::SearchCommand;
use crate::implant::command::{self, PlaceCommand, TfCommand};
use crate::twin::command::cache_choice;

#[derive(clap::Subcommand)]
pub enum ImplantCommand {
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
    /// Worst-case search with a verdict: the coil field (a recipe's twin, a twin directory, or a coil
    /// and phantom in ideal quadrature) normalised as `assess` normalises it, ranked by the
    /// transfer-function estimate (mirror images merged), the best distinct candidates confirmed by
    /// full fine-grid runs with heating, and the criteria of `assess` on the worst confirmed values:
    /// report.pdf, summary.json, ranking.json, search.h5, figures. Exit 0 pass (or no criterion),
    /// 1 fail, 2 bad input.
    Search {
        /// An assessment recipe: its twin, normalisation, exposure, baseline temperature and
        /// criteria (its implants are not used). Not with --coil/--phantom/--twin/--normalise/--limit.
        #[arg(long)]
        recipe: Option<std::path::PathBuf>,
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
        #[arg(long, default_value_t = crate::coil::DEFAULT_COARSE_CELL_M * 1e3)]
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
        /// Normalisation as in assess: whole-phantom=W/kg (default 2), b1rms-ut=µT (at the
        /// isocentre), power-w=W, mode=normal|first-level; b1-ut and per-watt mean b1rms-ut=1 and
        /// power-w=1.
        #[arg(long)]
        normalise: Option<String>,
        /// A criterion ID=LIMIT as in a recipe's [criteria] (repeatable): temperature_rise=K,
        /// sar_1g=W/kg, sar_10g=W/kg, cem43=min. None: no verdict (NOT ASSESSED).
        #[arg(long = "limit")]
        limits: Vec<String>,
        /// Uncertainty factor (>= 1) applied to every --limit criterion.
        #[arg(long, default_value_t = 1.0)]
        uncertainty_factor: f64,
        /// Confirm the best N distinct candidates by full fine-grid runs and a Pennes exposure (0: none,
        /// then no verdict).
        #[arg(long, default_value_t = 3)]
        confirm: usize,
        /// Fine cell of the confirmation runs (mm).
        #[arg(long, default_value_t = 2.0)]
        fine_cell_mm: f64,
        /// Exposure of the confirmation heating (s); default 900.
        #[arg(long)]
        exposure_s: Option<f64>,
        /// Baseline temperature the CEM43 starts from (°C); default 37 as in assess.
        #[arg(long, allow_negative_numbers = true)]
        baseline_c: Option<f64>,
        /// Rank mirror-image placements separately instead of merging them.
        #[arg(long)]
        no_merge_mirrors: bool,
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

pub fn run(what: ImplantCommand) -> anyhow::Result<i32> {
    let v = match what {
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
        } => command::place(&PlaceCommand {
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
        })?,
        ImplantCommand::Tf {
            implant,
            phantom,
            freq_hz,
            cell_mm,
            eps_r,
            sigma_s_per_m,
            out,
            force,
        } => command::tf(&TfCommand {
            implant,
            phantom,
            freq_hz,
            cell_mm,
            eps_r,
            sigma_s_per_m,
            out,
            force,
        })?,
        ImplantCommand::Search {
            recipe,
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
            limits,
            uncertainty_factor,
            confirm,
            fine_cell_mm,
            exposure_s,
            baseline_c,
            no_merge_mirrors,
            no_cache,
            cache_dir,
            out,
            force,
            quiet,
        } => {
            let cmd = SearchCommand {
                cache_dir: cache_choice(no_cache, cache_dir, &out),
                recipe,
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
                limits,
                uncertainty_factor,
                confirm,
                fine_cell_mm,
                exposure_s,
                baseline_c,
                merge_mirrors: !no_merge_mirrors,
                out,
                force,
                command_line: Vec::new(),
            };
            let progress = super::progress::Progress::new(quiet);
            let mut log = |m: &str| progress.message(m);
            let r = crate::assess::search::search_command(&cmd, &mut log);
            progress.finish();
            let r = r?;
            println!("{}", serde_json::to_string_pretty(&r.summary)?);
            let rep = &r.report;
            eprintln!("implant search: {}", r.verdict.as_str());
            for c in &rep.criteria {
                let v = rep.get(&c.value_key).map(|q| q.text()).unwrap_or_default();
                let lim = rep.get(&c.limit_key()).map(|q| q.text()).unwrap_or_default();
                eprintln!("  {:<10} {}: {} (limit {})", c.verdict.as_str(), c.label, v, lim);
            }
            eprintln!("report: {}", r.out.join(crate::report::PDF_NAME).display());
            return Ok(r.verdict.exit_code());
        }
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(0)
}
