//! `rftwin fdtd run` (the work: [`crate::fdtd::run_file`]).

use crate::fdtd::run_file::{self, RunFileOptions};

#[derive(clap::Subcommand)]
pub enum FdtdCommand {
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

pub fn run(what: FdtdCommand) -> anyhow::Result<i32> {
    let FdtdCommand::Run {
        file,
        out,
        force,
        quiet,
    } = what;
    let bar = super::spinner(quiet);
    let summary = run_file::run(
        &RunFileOptions { file, out, force },
        Some(super::progress_fn(&bar)),
        &crate::dosimetry::command::write_fdtd_materials,
    );
    bar.finish_and_clear();
    println!("{}", serde_json::to_string_pretty(&summary?.to_json())?);
    Ok(0)
}
