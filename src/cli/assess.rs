//! `rftwin demo`, `rftwin assess` and `rftwin regress` (the work: [`crate::assess::command`]).

use crate::assess::command::{self, AssessCommand, AssessRun};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Output directory (replaced if it exists and rftwin wrote it).
    #[arg(long, default_value = "reports/demo")]
    pub out: std::path::PathBuf,
    /// Fine cell of the implant's local grid (mm).
    #[arg(long, default_value_t = 2.0)]
    pub fine_cell_mm: f64,
    /// Do not cache the coil basis fields (default: $RFTWIN_CACHE or ~/.cache/rftwin).
    #[arg(long)]
    pub no_cache: bool,
    /// No progress output (CI).
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct AssessArgs {
    /// Recipe TOML (schema: reports/README.md).
    pub recipe: std::path::PathBuf,
    #[arg(long)]
    pub out: std::path::PathBuf,
    /// Replace --out if it exists.
    #[arg(long)]
    pub force: bool,
    /// Fine cell of the implants' local grids (mm).
    #[arg(long, default_value_t = 1.0)]
    pub fine_cell_mm: f64,
    /// Also fit the phantom offset when calibrating to a measured map.
    #[arg(long)]
    pub fit_offset: bool,
    #[arg(long)]
    pub no_cache: bool,
    /// Basis cache directory (default: $RFTWIN_CACHE or ~/.cache/rftwin).
    #[arg(long)]
    pub cache_dir: Option<std::path::PathBuf>,
    #[arg(long)]
    pub quiet: bool,
}

#[derive(clap::Args)]
pub struct RegressArgs {
    pub golden: std::path::PathBuf,
    /// Keep the new result here (default: a temporary directory, removed afterwards); never the
    /// golden directory, inside it or containing it.
    #[arg(long)]
    pub out: Option<std::path::PathBuf>,
    /// Replace --out if it exists (only a directory rftwin wrote).
    #[arg(long)]
    pub force: bool,
    #[arg(long)]
    pub no_cache: bool,
    #[arg(long)]
    pub quiet: bool,
}

pub fn demo(a: DemoArgs) -> anyhow::Result<i32> {
    let progress = super::progress::Progress::new(a.quiet);
    let mut log = |m: &str| progress.message(m);
    let r = command::demo(&a.out, a.fine_cell_mm, a.no_cache, &mut log)?;
    progress.finish();
    Ok(print_verdict(&r))
}

pub fn assess(a: AssessArgs) -> anyhow::Result<i32> {
    let cmd = AssessCommand {
        recipe: a.recipe,
        out: a.out,
        force: a.force,
        fine_cell_mm: a.fine_cell_mm,
        fit_offset: a.fit_offset,
        no_cache: a.no_cache,
        cache_dir: a.cache_dir,
    };
    let progress = super::progress::Progress::new(a.quiet);
    let mut log = |m: &str| progress.message(m);
    let r = command::assess(&cmd, &mut log)?;
    progress.finish();
    Ok(print_verdict(&r))
}

pub fn regress(a: RegressArgs) -> anyhow::Result<i32> {
    let progress = super::progress::Progress::new(a.quiet);
    let mut log = |m: &str| progress.message(m);
    let cmp = command::regress(&a.golden, a.out.as_deref(), a.force, a.no_cache, &mut log)?;
    progress.finish();
    println!("{}", cmp.text());
    Ok(cmp.exit_code())
}

/// Prints the verdict, the criteria and where the report is; the exit code of the verdict.
fn print_verdict(r: &AssessRun) -> i32 {
    let outcome = &r.outcome;
    let rep = &outcome.report;
    println!("{}: {}", r.title, outcome.verdict.as_str());
    for c in &rep.criteria {
        let v = rep.get(&c.value_key).map(|q| q.text()).unwrap_or_default();
        let lim = rep.get(&c.limit_key()).map(|q| q.text()).unwrap_or_default();
        println!("  {:<10} {}: {} (limit {})", c.verdict.as_str(), c.label, v, lim);
    }
    println!(
        "report: {} ({:.0} s)",
        outcome.out.join(crate::report::PDF_NAME).display(),
        outcome.seconds
    );
    outcome.verdict.exit_code()
}
