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
    /// With --cosim also the circuit co-simulation of the coil (one FDTD port run per capacitor and
    /// feed, with the --phantom): the co-simulated tuned capacitance beside the circuit model's, each
    /// feed's input impedance and S11 at Larmor, and the modes in 0.6-1.4 x Larmor; with --out also
    /// spectrum.json, spectrum.csv (|S_qp|, Zin, sigma_min of Z + Z_load over the band),
    /// spectrum.png (|S| of the feeds) and modes.png.
    Tune {
        /// Coil definition (TOML), e.g. coils/body_1p5t_hp16.toml.
        file: std::path::PathBuf,
        /// Print one JSON document (the whole tuning, inductances included) instead of a table.
        #[arg(long)]
        json: bool,
        /// Also co-simulate the coil (FDTD port runs: minutes at 10 mm).
        #[arg(long)]
        cosim: bool,
        /// Phantom definition (TOML) loading the coil in the co-simulation, e.g. phantoms/astm_f2182.toml.
        #[arg(long, requires = "cosim")]
        phantom: Option<std::path::PathBuf>,
        /// Cell size of the co-simulation in mm.
        #[arg(long, default_value_t = crate::coil::DEFAULT_COARSE_CELL_M * 1e3, requires = "cosim")]
        cell_mm: f64,
        /// Directory for spectrum.json, spectrum.csv, spectrum.png and modes.png.
        #[arg(long, requires = "cosim")]
        out: Option<std::path::PathBuf>,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// One FDTD run per port (no mirror-image runs).
        #[arg(long, requires = "cosim")]
        no_symmetry: bool,
        #[arg(long)]
        quiet: bool,
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
        CoilCommand::Tune {
            file,
            json,
            cosim: true,
            phantom,
            cell_mm,
            out,
            force,
            no_symmetry,
            quiet,
        } => {
            let cmd = command::CosimTuneCommand {
                coil: file,
                phantom,
                cell_mm,
                out,
                force,
                port_runs: crate::coil::cosim::PortRunOptions {
                    use_symmetry: !no_symmetry,
                    ..Default::default()
                },
                tolerance: 1e-5,
            };
            let bar = super::spinner(quiet || json);
            let mut progress = |k: usize, n: usize| {
                bar.set_message(format!("co-simulation: FDTD port run {} of {n}", k + 1));
                bar.tick();
            };
            let r = command::tune_cosim(&cmd, Some(&mut progress));
            bar.finish_and_clear();
            let r = r?;
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                print!("{}", r.format());
            }
            Ok(0)
        }
        CoilCommand::Tune { file, json, .. } => {
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
