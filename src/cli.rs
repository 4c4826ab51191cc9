//! The command-line interface: a thin clap layer over the library.
//! Exit codes: 0 success / all criteria pass, 1 a check or criterion failed, 2 an error.

use clap::{Parser, Subcommand};

use crate::validate;

#[derive(Parser)]
#[command(name = "rftwin", version, about = "Digital twin of an MRI birdcage RF coil for implant RF-heating safety")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the physics validation suite (analytic references with stated tolerances).
    Validate {
        /// Print one JSON document ({"cases": [...]}) instead of a table.
        #[arg(long)]
        json: bool,
        /// Run only cases whose name contains this text.
        #[arg(long)]
        only: Option<String>,
    },
    /// Birdcage coils: circuit-model tuning.
    Coil {
        #[command(subcommand)]
        what: CoilCommand,
    },
    /// Throughput benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum CoilCommand {
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
            let cases: Vec<_> = validate::all_cases().into_iter().filter(|c| only.as_deref().is_none_or(|o| c.name.contains(o))).collect();
            if cases.is_empty() {
                return Err(crate::error::Error::input("validate", "--only", "no case matches", "run `rftwin validate` without --only to see the case names").into());
            }
            let mut results = Vec::new();
            if !json {
                println!("{:<30} {:>14} {:>14} {:>10} {:>10} {:>6} {:>7}  unit", "case", "reference", "measured", "error", "tolerance", "pass", "time_s");
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
                    println!("    {} [{}; error: {}]", r.description, r.reference_source, r.error_kind);
                }
                results.push(r);
            }
            let failed = results.iter().filter(|r| !r.pass).count();
            if json {
                println!("{}", serde_json::to_string_pretty(&serde_json::json!({ "cases": results }))?);
            } else {
                println!("{} passed, {} failed", results.len() - failed, failed);
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
        Command::Coil { what: CoilCommand::Tune { file, json } } => {
            let coil = crate::coil::CoilConfig::load(&file)?;
            let t = crate::coil::tune(&coil)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print!("{}", crate::coil::circuit::format_tuning(&t));
            }
            Ok(0)
        }
        Command::Bench { what: BenchCommand::Fdtd { cells, steps, threads, pml, repeat, json } } => {
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
    }
}
