//! The end-to-end safety assessment (`rftwin assess`, `rftwin demo`): a recipe in, a report out.
//!
//! Stages, in pipeline order, each built on the modules before it and each returning a typed result:
//!
//! 1. **Coil twin** ([`twin`]) — a twin directory written by `rftwin twin fit`, or the coil + phantom of
//!    the recipe: ideal-drive basis runs on the coarse grid (cached on disk), calibrated to the measured
//!    |B1+| map when one is given (drive weights, and the phantom offset when asked), else driven in
//!    ideal quadrature;
//! 2. **Normalisation** ([`normalise`]) — whole-phantom SAR, B1+rms at the isocentre, input power or an
//!    IEC 60601-2-33 operating mode, computed on the twin's coarse grid; one factor scales every field
//!    after it;
//! 3. **Implant local fields** ([`implant`]) — for every implant: placement check, fine-grid FDTD box
//!    driven by the twin's field through a TF/SF surface (`implant::local`);
//! 4. **SAR** — point, 1 g and 10 g (IEC/IEEE 62704-1 cubes) with the implant and with it removed;
//! 5. **Heating** — Pennes bioheat on the local region for the exposure time, with and without the
//!    implant; probes at the conductor ends; CEM43;
//! 6. **Report** — quantities (the single source of every number in the PDF and `summary.json`),
//!    figures, the criteria and the verdict; `fields.h5` with the B1+, SAR and temperature fields for
//!    regression; everything written atomically.
//!
//! The stages compute; the report's prose is in [`crate::report::sections`], one file per section,
//! which turns each stage's typed result into quantities, paragraphs and tables.

mod figures;
mod implant;
mod normalise;
mod twin;

pub mod command;
pub mod search;

use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::dosimetry::sar::mass_averaged_sar;
use crate::error::{Error, Result};
use crate::io::AtomicDir;
use crate::report::assessment;
use crate::report::recipe::Recipe;
use crate::report::sections::{self, results::Overall};
use crate::report::{Report, Verdict};

/// Settings of an assessment run that are not part of the recipe.
#[derive(Clone, Debug)]
pub struct AssessOptions {
    pub out: PathBuf,
    pub overwrite: bool,
    /// The command, recorded in the output's marker ("assess", "demo", "regress").
    pub command: String,
    /// Inputs besides the recipe's files and the cache that the output must not touch (e.g. the
    /// golden directory of `regress`); see [`crate::io::OutputPolicy`].
    pub extra_inputs: Vec<(String, PathBuf)>,
    /// Basis cache directory (None: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Coarse twin cell (m) when the recipe gives none.
    pub coarse_cell_m: f64,
    /// Fine local cell (m).
    pub fine_cell_m: f64,
    /// Gel margin around each implant in the local box (m).
    pub local_pad_m: f64,
    /// Fit the phantom offset when calibrating to a measured map.
    pub fit_offset: bool,
    /// Thermal time step (s).
    pub thermal_dt_s: f64,
    /// The command line that started the run (recorded in the report; empty: this process's
    /// arguments).
    pub command_line: Vec<String>,
}

impl AssessOptions {
    pub fn new(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            overwrite: false,
            command: "assess".into(),
            extra_inputs: Vec::new(),
            cache_dir: None,
            coarse_cell_m: crate::coil::DEFAULT_COARSE_CELL_M,
            fine_cell_m: 1e-3,
            local_pad_m: 0.025,
            fit_offset: false,
            thermal_dt_s: 5.0,
            command_line: Vec::new(),
        }
    }
}

/// What an assessment produced.
pub struct Outcome {
    pub verdict: Verdict,
    pub out: PathBuf,
    pub report: Report,
    pub seconds: f64,
}

/// What every stage works with: the recipe, the run's options (cache included), the output
/// directory being written and the progress log.
struct Stage<'a> {
    recipe: &'a Recipe,
    opt: &'a AssessOptions,
    dir: &'a AtomicDir,
    log: &'a mut dyn FnMut(&str),
    /// How far the run is (percent of the expected work), written before each message as "[NN %]".
    percent: f64,
    /// The share of one implant's stages (percent).
    implant_span: f64,
}

impl Stage<'_> {
    fn log(&mut self, m: &str) {
        (self.log)(&format!("[{:>3.0} %] {m}", self.percent.clamp(0.0, 100.0)))
    }
    /// Moves the progress on by `fraction` of one implant's share.
    fn advance_implant(&mut self, fraction: f64) {
        self.percent += fraction * self.implant_span;
    }
}

/// The options of a run as the report records them (name → value; defaults included).
fn options_record(recipe: &Recipe, opt: &AssessOptions) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("command", opt.command.clone());
    put("recipe", recipe.display_path(&recipe.path));
    put("out", opt.out.display().to_string());
    put("force", opt.overwrite.to_string());
    put(
        "cache_dir",
        opt.cache_dir.as_ref().map_or("none (--no-cache)".into(), |p| p.display().to_string()),
    );
    put("coarse_cell_mm", format!("{}", opt.coarse_cell_m * 1e3));
    put("fine_cell_mm", format!("{}", opt.fine_cell_m * 1e3));
    put("local_pad_mm", format!("{}", opt.local_pad_m * 1e3));
    put("fit_offset", opt.fit_offset.to_string());
    put("thermal_dt_s", format!("{}", opt.thermal_dt_s));
    put("baseline_temperature_c", format!("{}", recipe.baseline_temperature()));
    m
}

/// What the assessment's output must not touch: the recipe, every file it names (a twin directory
/// with the files its `twin.toml` names), the basis cache and `opt.extra_inputs`.
pub fn output_policy(recipe: &Recipe, opt: &AssessOptions) -> crate::io::OutputPolicy {
    let mut p = crate::io::OutputPolicy::new(&opt.command, opt.overwrite);
    for (role, f) in recipe.input_files() {
        p = if role == "twin directory" {
            p.inputs(crate::twin::file::dir_inputs(&f))
        } else {
            p.input(&role, f)
        };
    }
    p.input_opt("basis cache", opt.cache_dir.as_deref())
        .inputs(opt.extra_inputs.clone())
}

/// Runs the whole assessment of `recipe` into `opt.out` (atomically).
pub fn assess(recipe: &Recipe, opt: &AssessOptions, log: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let t0 = Instant::now();
    recipe.check_files()?;
    let mut report = assessment::start(recipe)?;
    report.invocation = Some(crate::report::Invocation {
        command_line: if opt.command_line.is_empty() {
            std::env::args().collect()
        } else {
            opt.command_line.clone()
        },
        options: options_record(recipe, opt),
    });
    let dir = AtomicDir::new(&opt.out, &output_policy(recipe, opt))?;
    let n_implants = recipe.implants.len().max(1) as f64;
    let mut st = Stage {
        recipe,
        opt,
        dir: &dir,
        log,
        percent: 0.0,
        implant_span: 55.0 / n_implants,
    };

    st.log("coil twin");
    let mut twin = twin::run(&mut st)?;
    // The report names inputs by their logical paths (a built-in demo input as such).
    match &mut twin.facts {
        sections::twin::TwinFacts::Calibrated(_, c) => c.measured = recipe.display_path(&c.measured).into(),
        sections::twin::TwinFacts::Loaded { dir, .. } => *dir = recipe.display_path(dir).into(),
        _ => {}
    }
    let mut twin_section = sections::twin::section(&mut report, &twin.facts);
    if let Some(p) = &twin.placement {
        twin_section = sections::placement::extend_twin_section(twin_section, &mut report, p);
    }
    st.percent = 35.0;
    st.log("normalisation");
    let norm = normalise::run(recipe, &twin)?;
    sections::normalisation::add_quantities(&mut report, &norm.facts);
    let coarse = normalise::coarse_outputs(&st, &twin, &norm)?;
    figures::coarse_fields_panel(&coarse, &coarse.markers, &twin.phantom)?;
    report
        .sections
        .push(sections::normalisation::extend_twin_section(twin_section, &coarse.figure));

    let h5p = dir.path("fields.h5");
    let h5 = hdf5::File::create(&h5p).map_err(|e| Error::Other(format!("{}: {e}", h5p.display())))?;
    normalise::write_coarse_fields(&h5, &h5p, &coarse)?;
    // Worst case over the implants: 1 g SAR, 10 g SAR, temperature rise, CEM43.
    let mut worst = [0.0f64; 4];
    for (i, spec) in recipe.implants.iter().enumerate() {
        st.percent = 40.0 + i as f64 * st.implant_span;
        let r = implant::run(&mut st, i + 1, spec, &twin, &norm.normalisation, &h5)?;
        let section = sections::implant::section(&mut report, &r.facts, &r.figures);
        let section = sections::placement::extend_implant_section(section, &mut report, &r.placement);
        report.sections.push(section);
        for (w, v) in worst.iter_mut().zip(r.criteria_values()) {
            *w = w.max(v);
        }
    }
    drop(h5);
    st.percent = 95.0;
    st.log("report");
    // fields.xmf: the coarse and local grids of fields.h5 for ParaView (units in the attributes).
    let mut grids: Vec<String> = normalise::COARSE_DATASETS.iter().map(|s| s.to_string()).collect();
    for n in 1..=recipe.implants.len() {
        grids.extend(implant::DATASETS.iter().map(|d| format!("implant{n}/{d}")));
    }
    let names: Vec<&str> = grids.iter().map(|s| s.as_str()).collect();
    crate::io::write_xdmf_for_grids(&dir.path("fields.xmf"), "fields.h5", &names)?;
    let overall = if !recipe.implants.is_empty() {
        Overall::Implants {
            sar_1g_w_per_kg: worst[0],
            sar_10g_w_per_kg: worst[1],
            temperature_rise_k: worst[2],
            cem43_min: worst[3],
        }
    } else {
        Overall::CoarseGrid {
            sar_1g_w_per_kg: mass_averaged_sar(&norm.coarse_sar, 1e-3)?.peak.sar_w_per_kg,
            sar_10g_w_per_kg: mass_averaged_sar(&norm.coarse_sar, 10e-3)?.peak.sar_w_per_kg,
        }
    };
    sections::results::add_quantities(&mut report, &overall);
    sections::results::add_run_time(&mut report, t0.elapsed().as_secs_f64());
    report.sections.push(assessment::methods_section());
    let verdict = assessment::finish(&mut report, &recipe.criteria)?;
    crate::report::write_into(&dir, &report)?;
    let out = dir.commit()?;
    Ok(Outcome {
        verdict,
        out,
        report,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
