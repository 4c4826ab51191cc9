//! `rftwin implant place | tf | search` (the work: [`crate::implant::command`]).

use crate::implant::command::{self, PlaceCommand, SearchCommand, TfCommand};
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
            let cmd = SearchCommand {
                cache_dir: cache_choice(no_cache, cache_dir, &out),
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
                out,
                force,
            };
            let bar = super::spinner(quiet);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            let mut log = |m: &str| bar.set_message(m.to_string());
            let v = command::search_command(&cmd, &mut log);
            bar.finish_and_clear();
            v?
        }
    };
    println!("{}", serde_json::to_string_pretty(&v)?);
    Ok(0)
}
