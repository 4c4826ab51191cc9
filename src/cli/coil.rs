//! `rftwin coil simulate | tune` (the work: [`crate::coil::command`]).

use crate::coil::command::{self, SimulateCommand};

#[derive(clap::Subcommand)]
pub enum CoilCommand {
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
        #[arg(long, default_value_t = crate::coil::DEFAULT_COARSE_CELL_M * 1e3)]
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

pub fn run(what: CoilCommand) -> anyhow::Result<i32> {
    match what {
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
        } => {
            let cmd = SimulateCommand {
                coil: file,
                phantom,
                out,
                cell_mm,
                tolerance,
                drive,
                sweep_steps,
                force,
            };
            let bar = super::spinner(quiet);
            let summary = command::simulate(&cmd, Some(super::progress_fn(&bar)), &mut |m: &str| {
                bar.set_message(m.to_string())
            });
            bar.finish_and_clear();
            println!("{}", serde_json::to_string_pretty(&summary?.to_json())?);
            Ok(0)
        }
        CoilCommand::Tune { file, json } => {
            let t = command::tune(&file)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print!("{}", crate::coil::circuit::format_tuning(&t));
            }
            Ok(0)
        }
    }
}
