//! The command-line interface: clap definitions, progress output and printing, one call per
//! command into the library (each command's work is in its module: `fdtd::run_file`,
//! `coil::command`, `twin::command`, `implant::command`, `assess::command`, …).
//! Exit codes: 0 success / all criteria pass, 1 a check or criterion failed, 2 an error.

mod assess;
mod bench;
mod coil;
mod dosimetry;
mod fdtd;
mod implant;
mod progress;
mod twin;
mod validate;

use clap::{Parser, Subcommand};

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
    Validate(validate::ValidateArgs),
    /// The main job on built-in defaults: the 1.5 T body coil twin calibrated to the shipped example
    /// B1+ map, the ASTM F2182 phantom, a 20 cm insulated wire with 1 cm bare ends, 10 g SAR and
    /// 15-minute heating; report.pdf, PNGs, summary.json and fields.h5 in --out.
    Demo(assess::DemoArgs),
    /// Safety assessment from a recipe (reports/*.toml): coil twin, implant local fields, SAR, heating,
    /// criteria; report.pdf, PNGs, summary.json, fields.h5. Exit 0: all criteria pass, 1: any fails, 2: error.
    Assess(assess::AssessArgs),
    /// Coil-model regression: re-run GOLDEN_DIR/recipe.toml and compare B1+, SAR, temperature and every
    /// summary number with the committed golden result (tolerances: GOLDEN_DIR/tolerances.toml). Exit 1 on regression.
    Regress(assess::RegressArgs),
    /// Run a simulation described in TOML (see README: "fdtd run").
    Fdtd {
        #[command(subcommand)]
        what: fdtd::FdtdCommand,
    },
    /// Birdcage coils: circuit-model tuning.
    Coil {
        #[command(subcommand)]
        what: coil::CoilCommand,
    },
    /// Point, 1 g and 10 g SAR (IEC/IEEE 62704-1) from the E phasors of `fdtd run`: sar.h5, PNG maps, summary.json.
    Sar(dosimetry::SarArgs),
    /// Pennes bioheat: the ASTM F2182 exposure from sar.h5 (or fields.h5 + --normalise): heat.h5, PNGs, summary.json.
    Heat(dosimetry::HeatArgs),
    /// The digital twin: calibrate the coil model to a measured B1+ map.
    Twin {
        #[command(subcommand)]
        what: twin::TwinCommand,
    },
    /// Throughput benchmarks.
    Bench {
        #[command(subcommand)]
        what: bench::BenchCommand,
    },
    /// Implants: placement in the phantom, lead transfer function, worst-case search.
    Implant {
        #[command(subcommand)]
        what: implant::ImplantCommand,
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
        Command::Validate(a) => validate::run(a),
        Command::Demo(a) => assess::demo(a),
        Command::Assess(a) => assess::assess(a),
        Command::Regress(a) => assess::regress(a),
        Command::Fdtd { what } => fdtd::run(what),
        Command::Coil { what } => coil::run(what),
        Command::Sar(a) => dosimetry::sar(a),
        Command::Heat(a) => dosimetry::heat(a),
        Command::Twin { what } => twin::run(what),
        Command::Bench { what } => bench::run(what),
        Command::Implant { what } => implant::run(what),
    }
}

/// A spinner on stderr (hidden with `--quiet`).
/// When stderr is not a terminal (a log), its messages become timestamped lines ([`progress::LogLines`]).
fn spinner(quiet: bool) -> indicatif::ProgressBar {
    use std::io::IsTerminal;
    if !quiet && !std::io::stderr().is_terminal() {
        let bar = indicatif::ProgressBar::with_draw_target(None, progress::LogLines::target());
        bar.set_style(indicatif::ProgressStyle::with_template("{msg}").expect("template"));
        return bar;
    }
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
    bar
}

/// FDTD progress (steady-state periods or energy decay) as the spinner's message.
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
