//! `rftwin implant search` as an assessment: the coil field (a recipe's twin, a twin directory, or
//! a coil and phantom driven in ideal quadrature), normalised exactly as `assess` normalises it
//! ([`super::normalise::normalise_fields`]: whole-phantom SAR, B1+rms at the isocentre, input power
//! or an operating mode), the transfer-function sweep of `implant::search` with mirror-image
//! candidates merged, the best distinct candidates confirmed by full fine-grid runs with heating from
//! the baseline temperature, and the criteria of `assess` evaluated on the worst confirmed values:
//! exit 0 pass, 1 fail, 2 bad input. Outputs (atomic): `report.pdf`, `summary.json`, the figures,
//! `ranking.json`, `search.h5` and `tf/` when the transfer function was computed here.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{AssessOptions, Stage};
use crate::coil::phantom::PhantomConfig;
use crate::dosimetry::run::NormaliseSpec;
use crate::error::{Error, Result};
use crate::implant::local::TwinIncident;
use crate::implant::model::Implant;
use crate::implant::run::write_tf_dir;
use crate::implant::search::{
    confirm_top, search, write_confirm_png, write_map_png, write_search_h5, ConfirmOptions, SearchOptions,
};
use crate::implant::tf::{compute_tf, TfOptions, TransferFunction};
use crate::io::{AtomicDir, OutputPolicy};
use crate::report::criteria::Criterion;
use crate::report::recipe::{Recipe, DEFAULT_BASELINE_TEMPERATURE_C};
use crate::report::sections::search::{SearchFacts, SearchFigures};
use crate::report::{InputFile, Invocation, Report, Verdict};
use crate::twin::command::positive_mm;

fn cli_err(key: &str, what: String, fix: &str) -> Error {
    Error::input("command line", key, what, fix)
}

/// What `implant search` is asked to do (see `rftwin implant search --help`).
#[derive(Clone, Debug, Default)]
pub struct SearchCommand {
    /// A recipe (as for `assess`): its twin, normalisation, exposure, baseline temperature and
    /// criteria. Not with `coil`/`phantom`/`twin`/`normalise`/`limits`/`exposure_s`/`baseline_c`.
    pub recipe: Option<PathBuf>,
    pub coil: Option<PathBuf>,
    pub phantom: Option<PathBuf>,
    pub twin: Option<PathBuf>,
    pub implant: PathBuf,
    pub tf: Option<PathBuf>,
    pub cell_mm: f64,
    pub tf_cell_mm: f64,
    pub step_mm: f64,
    pub directions: usize,
    /// Comma-separated roll angles (degrees).
    pub roll_deg: String,
    pub min_wall_m: f64,
    pub top: usize,
    /// `whole-phantom=W/kg`, `b1rms-ut=µT`, `power-w=W`, `mode=normal|first-level`, or the old
    /// `b1-ut` (= `b1rms-ut=1`) and `per-watt` (= `power-w=1`); None: `whole-phantom=2`.
    pub normalise: Option<String>,
    /// Criteria `ID=LIMIT` (ids and units of a recipe's `[criteria]`).
    pub limits: Vec<String>,
    pub uncertainty_factor: f64,
    pub confirm: usize,
    pub fine_cell_mm: f64,
    pub exposure_s: Option<f64>,
    pub baseline_c: Option<f64>,
    /// Merge mirror-image candidates (default true).
    pub merge_mirrors: bool,
    /// The basis cache directory (None: no cache).
    pub cache_dir: Option<PathBuf>,
    pub out: PathBuf,
    pub force: bool,
    /// The command line (recorded in the report; empty: this process's arguments).
    pub command_line: Vec<String>,
}

/// What a search produced.
pub struct SearchOutcome {
    pub verdict: Verdict,
    pub out: PathBuf,
    /// `ranking.json`'s content (printed by the command).
    pub summary: serde_json::Value,
    pub report: Report,
}

/// The normalisation target of `--normalise`.
pub fn parse_normalise(s: Option<&str>) -> Result<NormaliseSpec> {
    match s.map(str::trim) {
        None => Ok(NormaliseSpec::WholePhantom(2.0)),
        Some("b1-ut") => Ok(NormaliseSpec::B1RmsUt(1.0)),
        Some("per-watt") => Ok(NormaliseSpec::PowerW(1.0)),
        Some(v) => v.parse::<NormaliseSpec>().map_err(|e| {
            cli_err(
                "--normalise",
                format!("'{v}': {e}"),
                "e.g. --normalise whole-phantom=2 (W/kg), b1rms-ut=2 (µT), power-w=1000 or mode=normal",
            )
        }),
    }
}

/// The criteria of `--limit ID=LIMIT` (each id once) with one uncertainty factor.
pub fn parse_limits(limits: &[String], factor: f64) -> Result<Vec<Criterion>> {
    let ids = crate::report::recipe::criterion_ids()
        .iter()
        .map(|(id, u)| format!("{id} ({u})"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out: Vec<Criterion> = Vec::new();
    for l in limits {
        let fix = format!("give ID=LIMIT with ID one of {ids}, e.g. --limit temperature_rise=2");
        let (id, v) = l
            .split_once('=')
            .ok_or_else(|| cli_err("--limit", format!("'{l}' is not ID=LIMIT"), &fix))?;
        let limit: f64 = v
            .trim()
            .parse()
            .ok()
            .filter(|x: &f64| *x > 0.0 && x.is_finite())
            .ok_or_else(|| cli_err("--limit", format!("'{l}': the limit is not a positive number"), &fix))?;
        let c = crate::report::recipe::criterion(id.trim(), limit, factor)
            .ok_or_else(|| cli_err("--limit", format!("'{l}': unknown criterion '{}'", id.trim()), &fix))?;
        if out.iter().any(|x| x.id == c.id) {
            return Err(cli_err(
                "--limit",
                format!("'{}' given twice", c.id),
                "give each criterion once",
            ));
        }
        out.push(c);
    }
    if !(factor >= 1.0) || !factor.is_finite() {
        return Err(cli_err(
            "--uncertainty-factor",
            format!("{factor} is not a finite number ≥ 1"),
            "use 1 for no margin, e.g. 1.5 for a 50 % model uncertainty",
        ));
    }
    // The recipe's order: temperature rise, 1 g, 10 g, CEM43.
    let order: Vec<&str> = crate::report::recipe::criterion_ids()
        .iter()
        .map(|(id, _)| *id)
        .collect();
    out.sort_by_key(|c| order.iter().position(|o| *o == c.id));
    Ok(out)
}

/// Where the coil field comes from.
enum Source {
    Recipe(Box<Recipe>),
    Twin(PathBuf),
    Coil(PathBuf, PathBuf),
}

/// The settings the search takes from a recipe or the command line.
struct Settings {
    source: Source,
    normalisation: NormaliseSpec,
    criteria: Vec<Criterion>,
    exposure_s: f64,
    baseline_c: f64,
}

fn settings(cmd: &SearchCommand) -> Result<Settings> {
    if let Some(r) = &cmd.recipe {
        let given = [
            ("--coil", cmd.coil.is_some()),
            ("--phantom", cmd.phantom.is_some()),
            ("--twin", cmd.twin.is_some()),
            ("--normalise", cmd.normalise.is_some()),
            ("--limit", !cmd.limits.is_empty()),
            ("--exposure-s", cmd.exposure_s.is_some()),
            ("--baseline-c", cmd.baseline_c.is_some()),
        ];
        if let Some((flag, _)) = given.iter().find(|(_, g)| *g) {
            return Err(cli_err(
                flag,
                format!("{flag} was given with --recipe"),
                "the recipe sets the twin, normalisation, criteria, exposure and baseline: give either --recipe or the options",
            ));
        }
        let recipe = Recipe::load(r)?;
        recipe.check_files()?;
        return Ok(Settings {
            normalisation: recipe.normalisation,
            criteria: recipe.criteria.clone(),
            exposure_s: recipe.exposure_s,
            baseline_c: recipe.baseline_temperature(),
            source: Source::Recipe(Box::new(recipe)),
        });
    }
    let source = match (&cmd.twin, &cmd.coil, &cmd.phantom) {
        (Some(t), None, None) => Source::Twin(t.clone()),
        (Some(_), _, _) => {
            return Err(cli_err(
                "--twin",
                "--twin was given with --coil or --phantom".into(),
                "give either --twin DIR (it names its phantom) or --coil and --phantom",
            ))
        }
        (None, Some(c), Some(p)) => Source::Coil(c.clone(), p.clone()),
        _ => {
            return Err(cli_err(
                "--coil / --phantom",
                "the coil field needs --coil and --phantom (or --twin, or --recipe)".into(),
                "give --coil C.toml --phantom P.toml, --twin DIR or --recipe R.toml",
            ))
        }
    };
    let exposure_s = cmd.exposure_s.unwrap_or(900.0);
    if !(exposure_s > 0.0) || !exposure_s.is_finite() {
        return Err(cli_err(
            "--exposure-s",
            format!("{exposure_s}"),
            "give an exposure > 0 s, e.g. 900",
        ));
    }
    let baseline_c = cmd.baseline_c.unwrap_or(DEFAULT_BASELINE_TEMPERATURE_C);
    if !(baseline_c > -50.0 && baseline_c < 60.0) {
        return Err(cli_err(
            "--baseline-c",
            format!("{baseline_c} °C is implausible"),
            "e.g. 37 (default) or 22",
        ));
    }
    Ok(Settings {
        source,
        normalisation: parse_normalise(cmd.normalise.as_deref())?,
        criteria: parse_limits(&cmd.limits, cmd.uncertainty_factor)?,
        exposure_s,
        baseline_c,
    })
}

fn parse_rolls(roll_deg: &str) -> Result<Vec<f64>> {
    roll_deg
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|r| r.is_finite()).ok_or(()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            cli_err(
                "--roll-deg",
                format!("'{roll_deg}' is not a list of numbers"),
                "e.g. --roll-deg 0,90,180,270",
            )
        })
}

/// `rftwin implant search` (see the module documentation).
pub fn search_command(cmd: &SearchCommand, log: &mut dyn FnMut(&str)) -> Result<SearchOutcome> {
    let min_wall_m = cmd.min_wall_m;
    if !(min_wall_m >= 0.0) || !min_wall_m.is_finite() {
        return Err(cli_err(
            "--min-wall-m",
            format!("{min_wall_m} m is not a finite distance >= 0"),
            "give the smallest distance to the walls in metres, e.g. --min-wall-m 0.02",
        ));
    }
    let coil_cell_m = positive_mm("--cell-mm", cmd.cell_mm)?;
    let tf_cell_m = positive_mm("--tf-cell-mm", cmd.tf_cell_mm)?;
    let rolls = parse_rolls(&cmd.roll_deg)?;
    let step_mm = cmd.step_mm;
    if !(step_mm > 0.0) || !step_mm.is_finite() {
        return Err(cli_err("--step-mm", format!("{step_mm}"), "give a step > 0"));
    }
    let set = settings(cmd)?;
    if !set.criteria.is_empty() && cmd.confirm == 0 {
        return Err(cli_err(
            "--confirm",
            "criteria were given but no candidate is confirmed (--confirm 0): a verdict needs full fine-grid runs"
                .into(),
            "use --confirm 1 or more (the estimates alone do not give temperatures or SAR)",
        ));
    }
    let opt = SearchOptions {
        step_m: [step_mm * 1e-3; 3],
        directions: cmd.directions,
        roll_deg: rolls,
        min_wall_distance_m: min_wall_m,
        top: cmd.top.max(cmd.confirm),
        merge_mirrors: cmd.merge_mirrors,
        ..SearchOptions::default()
    };
    let confirm = (cmd.confirm > 0)
        .then(|| -> Result<_> {
            Ok(ConfirmOptions {
                count: cmd.confirm,
                cell_m: positive_mm("--fine-cell-mm", cmd.fine_cell_mm)?,
                exposure_s: set.exposure_s,
                initial_temperature_c: set.baseline_c,
                ..Default::default()
            })
        })
        .transpose()?;
    let implant = Implant::load(&cmd.implant)?;

    // Inputs the output may not touch, and the report's input list.
    let mut policy = OutputPolicy::new("implant search", cmd.force)
        .input("implant", &cmd.implant)
        .input_opt("transfer function", cmd.tf.as_deref())
        .input_opt("basis cache", cmd.cache_dir.as_deref());
    let mut inputs: Vec<(String, PathBuf)> = vec![("implant".into(), cmd.implant.clone())];
    match &set.source {
        Source::Recipe(r) => {
            for (role, f) in r.input_files() {
                policy = if role == "twin directory" {
                    policy.inputs(crate::twin::file::dir_inputs(&f))
                } else {
                    policy.input(&role, &f)
                };
                inputs.push((role, f));
            }
        }
        Source::Twin(t) => {
            policy = policy.inputs(crate::twin::file::dir_inputs(t));
            inputs.push(("twin directory".into(), t.clone()));
        }
        Source::Coil(c, p) => {
            policy = policy.input("coil", c).input("phantom", p);
            inputs.push(("coil".into(), c.clone()));
            inputs.push(("phantom".into(), p.clone()));
        }
    }
    if let Some(t) = &cmd.tf {
        inputs.push(("transfer function".into(), t.clone()));
    }
    let dir = AtomicDir::new(&cmd.out, &policy)?;

    let mut report = Report::new(&format!("Worst-case search: {}", implant.name));
    report.inputs = hash_inputs(&inputs)?;
    report.invocation = Some(Invocation {
        command_line: if cmd.command_line.is_empty() {
            std::env::args().collect()
        } else {
            cmd.command_line.clone()
        },
        options: options_record(cmd, &set),
    });

    // Stage 1: the coil field.
    let mut percent = 0.0;
    fn say(log: &mut dyn FnMut(&str), p: f64, m: &str) {
        log(&format!("[{:>3.0} %] {m}", p))
    }
    let (fields, phantom, coil_name, coil_field, twin_section) = match &set.source {
        Source::Recipe(recipe) => {
            report.subtitle = recipe.title.clone();
            report.unconfirmed = recipe.unconfirmed_values();
            let mut aopt = AssessOptions::new(&cmd.out);
            aopt.command = "implant search".into();
            aopt.cache_dir = cmd.cache_dir.clone();
            aopt.coarse_cell_m = coil_cell_m;
            // The twin stage prefixes its own progress.
            let mut fwd = |m: &str| log(m);
            let mut st = Stage {
                recipe,
                opt: &aopt,
                dir: &dir,
                log: &mut fwd,
                percent: 0.0,
                implant_span: 0.0,
            };
            let twin = super::twin::run(&mut st)?;
            let section = crate::report::sections::twin::section(&mut report, &twin.facts);
            let name = match &twin.facts {
                crate::report::sections::twin::TwinFacts::Loaded { dir, .. } => format!("twin {}", dir.display()),
                crate::report::sections::twin::TwinFacts::Ideal(m)
                | crate::report::sections::twin::TwinFacts::Calibrated(m, _) => m.coil_name.clone(),
            };
            let what = match &twin.facts {
                crate::report::sections::twin::TwinFacts::Loaded { .. } => "calibrated twin",
                crate::report::sections::twin::TwinFacts::Ideal(_) => "uncalibrated coil model (recipe)",
                crate::report::sections::twin::TwinFacts::Calibrated(..) => "coil model calibrated to the measured map",
            };
            (twin.fields, twin.phantom, name, what.to_string(), Some(section))
        }
        Source::Twin(t) => {
            say(log, percent, "loading the twin");
            let lt = crate::twin::load_twin_dir(t)?;
            (
                lt.fields,
                lt.phantom,
                format!("twin {}", t.display()),
                "calibrated twin".into(),
                None,
            )
        }
        Source::Coil(c, p) => {
            let coil = crate::coil::CoilConfig::load(c)?;
            let phantom = PhantomConfig::load(p)?;
            // The sweep's size, refused before any FDTD run.
            let per_pos = crate::implant::search::directions(opt.directions)?.len() * opt.roll_deg.len().max(1);
            crate::implant::search::check_candidates(&phantom, &opt, per_pos)?;
            // A cached transfer function of another frequency or length, refused before the runs.
            if let Some(p) = cmd.tf.as_deref() {
                cached_tf(p, coil.freq_hz, &implant)?;
            }
            say(log, percent, "coil field: basis runs (ideal quadrature drive)");
            let mut so = crate::coil::run::SimulateOptions::default();
            so.mesh.cell_m = coil_cell_m;
            so.model = crate::coil::run::DriveModel::Ideal;
            let f = crate::twin::ideal_drive_fields(&coil, &phantom, &so, cmd.cache_dir.as_deref())?;
            (f, phantom, coil.name.clone(), "ideal quadrature drive".into(), None)
        }
    };
    let freq_hz = fields.freq_hz;
    let per_pos = crate::implant::search::directions(opt.directions)?.len() * opt.roll_deg.len().max(1);
    crate::implant::search::check_candidates(&phantom, &opt, per_pos)?;
    let cached = cmd.tf.as_deref().map(|p| cached_tf(p, freq_hz, &implant)).transpose()?;

    // Stage 2: the normalisation, as in `assess`.
    percent = 30.0;
    say(log, percent, "normalisation");
    let norm = super::normalise::normalise_fields(&fields, set.normalisation)?;

    // Stage 3: the transfer function.
    let tf = match cached {
        Some(tf) => tf,
        None => {
            say(log, percent, "transfer function");
            let to = TfOptions {
                freq_hz,
                cell_m: tf_cell_m,
                eps_r: phantom.material.eps_r,
                sigma_s_per_m: phantom.material.sigma_s_per_m,
                ..TfOptions::default()
            };
            let tf = compute_tf(&implant, &to)?;
            let tfdir = dir.path("tf");
            std::fs::create_dir_all(&tfdir).map_err(|err| Error::Io {
                path: tfdir.display().to_string(),
                err,
            })?;
            write_tf_dir(&tf, &tfdir)?;
            tf
        }
    };
    let tf_figures = write_tf_figures(&tf, &dir)?;

    // Stage 4: the sweep in the normalised field.
    percent = 45.0;
    say(log, percent, "sweep");
    let incident = std::sync::Arc::new(TwinIncident::new(fields.scaled(norm.normalisation.field_factor)));
    let result = search(&implant, &phantom, &tf, &*incident, &opt)?;
    let map_png = dir.path("map.png");
    write_map_png(&result, &map_png)?;

    // Stage 5: the best distinct candidates confirmed by full runs with heating.
    percent = 50.0;
    let confirmation = match &confirm {
        Some(c) => {
            let mut fwd = |m: &str| say(log, percent, m);
            let r = confirm_top(&implant, &phantom, incident.clone(), &result.ranking, c, &mut fwd)?;
            write_confirm_png(&r, &dir.path("confirm.png"))?;
            Some(r)
        }
        None => None,
    };
    percent = 95.0;
    say(log, percent, "report");
    write_search_h5(&result, confirmation.as_ref(), &dir.path("search.h5"))?;

    let facts = SearchFacts {
        implant: &implant,
        coil: &coil_name,
        coil_field: &coil_field,
        phantom: &phantom.name,
        freq_hz,
        normalisation: &norm.facts,
        normalisation_target: normalisation_text(set.normalisation),
        exposure_s: set.exposure_s,
        baseline_c: set.baseline_c,
        options: &opt,
        result: &result,
        confirm: confirmation.as_ref(),
        tf: &tf,
        figures: SearchFigures {
            map: map_png,
            confirm: confirmation.as_ref().map(|_| dir.path("confirm.png")),
            tf_magnitude: tf_figures.0,
            tf_phase: tf_figures.1,
        },
    };
    crate::report::sections::search::add_sections(&mut report, twin_section, &facts);
    let verdict = crate::report::criteria::evaluate(&mut report, &set.criteria)?;
    crate::report::write_into(&dir, &report)?;
    let summary = json!({
        "implant": implant.name,
        "coil": coil_name,
        "coil_field": coil_field,
        "phantom": phantom.name,
        "freq_hz": freq_hz,
        "normalisation": normalisation_text(set.normalisation),
        "normalisation_factors": norm.normalisation,
        "whole_phantom_sar_w_per_kg": norm.facts.whole_phantom_sar_w_per_kg,
        "b1_plus_isocentre_ut": norm.facts.b1_plus_isocentre_ut,
        "input_power_w": norm.facts.input_power_w,
        "baseline_temperature_c": set.baseline_c,
        "exposure_s": set.exposure_s,
        "options": opt,
        "search": result,
        "confirmation": confirmation,
        "verdict": verdict.as_str(),
        "criteria": report.criteria,
        "note": if confirmation.is_some() {
            "ranked by the transfer-function estimate |E_tip|² = |∫ S E_tan dl|² (or A |E_tip|² when the TF is calibrated), mirror images merged; \
             the best distinct candidates were confirmed by full fine-grid runs (TF/SF box driven by the coil field) and a Pennes exposure; \
             the verdict is the criteria on the worst confirmed values"
        } else {
            "ranked by the transfer-function estimate |E_tip|² = |∫ S E_tan dl|² (or A |E_tip|² when the TF is calibrated), mirror images merged; \
             not confirmed by full runs (use --confirm N): no verdict"
        },
    });
    crate::io::write_json(&dir.path("ranking.json"), &summary)?;
    let out = dir.commit()?;
    Ok(SearchOutcome {
        verdict,
        out,
        summary,
        report,
    })
}

/// The normalisation target as the report states it.
fn normalisation_text(n: NormaliseSpec) -> String {
    match n {
        NormaliseSpec::WholePhantom(s) => format!("whole-phantom SAR {} W/kg", crate::report::format_number(s)),
        NormaliseSpec::B1RmsUt(b) => format!("B1+rms {} µT at the isocentre", crate::report::format_number(b)),
        NormaliseSpec::PowerW(p) => format!("input power {} W", crate::report::format_number(p)),
        NormaliseSpec::Mode(m) => format!(
            "IEC 60601-2-33 {:?} operating mode (whole-phantom SAR {} W/kg)",
            m,
            crate::report::format_number(m.whole_body_sar_w_per_kg())
        ),
    }
}

/// SHA-256 of the inputs (a twin directory: its `twin.toml` and `fit.json`).
fn hash_inputs(inputs: &[(String, PathBuf)]) -> Result<Vec<InputFile>> {
    let mut out = Vec::new();
    for (role, f) in inputs {
        if f.is_dir() {
            for name in ["twin.toml", "fit.json", "tf.json"] {
                let g = f.join(name);
                if g.is_file() {
                    out.push(InputFile::hash(&format!("{role} {name}"), &g)?);
                }
            }
        } else {
            out.push(InputFile::hash(role, f)?);
        }
    }
    Ok(out)
}

/// The options in effect, by name.
fn options_record(cmd: &SearchCommand, set: &Settings) -> std::collections::BTreeMap<String, String> {
    let mut m = std::collections::BTreeMap::new();
    let mut put = |k: &str, v: String| {
        m.insert(k.to_string(), v);
    };
    put("command", "implant search".into());
    put("out", cmd.out.display().to_string());
    put("force", cmd.force.to_string());
    put(
        "cache_dir",
        cmd.cache_dir
            .as_ref()
            .map_or("none (--no-cache)".into(), |p| p.display().to_string()),
    );
    put("cell_mm", format!("{}", cmd.cell_mm));
    put("tf_cell_mm", format!("{}", cmd.tf_cell_mm));
    put("step_mm", format!("{}", cmd.step_mm));
    put("directions", format!("{}", cmd.directions));
    put("roll_deg", cmd.roll_deg.clone());
    put("min_wall_m", format!("{}", cmd.min_wall_m));
    put("top", format!("{}", cmd.top));
    put("confirm", format!("{}", cmd.confirm));
    put("fine_cell_mm", format!("{}", cmd.fine_cell_mm));
    put("merge_mirrors", cmd.merge_mirrors.to_string());
    put("normalisation", normalisation_text(set.normalisation));
    put("exposure_s", format!("{}", set.exposure_s));
    put("baseline_temperature_c", format!("{}", set.baseline_c));
    for c in &set.criteria {
        put(
            &format!("limit.{}", c.id),
            format!("{} {} (uncertainty factor {})", c.limit, c.unit, c.uncertainty_factor),
        );
    }
    m
}

/// `tf_magnitude.png` and `tf_phase.png` in the output directory: |S(l)| and arg S(l) along the lead.
fn write_tf_figures(tf: &TransferFunction, dir: &AtomicDir) -> Result<(PathBuf, PathBuf)> {
    let l_mm: Vec<f64> = tf.l_m.iter().map(|l| l * 1e3).collect();
    let mag: Vec<f64> = (0..tf.l_m.len()).map(|i| tf.s(i).norm()).collect();
    let ph: Vec<f64> = (0..tf.l_m.len()).map(|i| tf.s(i).arg().to_degrees()).collect();
    let title = format!("{}: transfer function at {:.2} MHz", tf.implant, tf.freq_hz / 1e6);
    let (pm, pp) = (dir.path("tf_magnitude.png"), dir.path("tf_phase.png"));
    crate::plot::line_plot(
        &pm,
        &crate::plot::LinePlot::new(&title, "distance from the tip l (mm)", "|S(l)| (1/m)").series("|S|", &l_mm, &mag),
    )?;
    crate::plot::line_plot(
        &pp,
        &crate::plot::LinePlot::new(&title, "distance from the tip l (mm)", "arg S(l) (°)").series("arg S", &l_mm, &ph),
    )?;
    Ok((pm, pp))
}

/// A cached transfer function (`--tf`), checked against the coil frequency and the implant's length.
fn cached_tf(p: &Path, freq_hz: f64, implant: &Implant) -> Result<TransferFunction> {
    let tf = TransferFunction::load(p)?;
    if (tf.freq_hz / freq_hz - 1.0).abs() > 1e-3 {
        return Err(Error::input(
            &p.display().to_string(),
            "freq_hz",
            format!(
                "the transfer function is for {:.4} MHz but the coil runs at {:.4} MHz",
                tf.freq_hz / 1e6,
                freq_hz / 1e6
            ),
            "compute it at the coil frequency (rftwin implant tf --freq-hz)",
        ));
    }
    if (tf.length_m / implant.length_m() - 1.0).abs() > 0.02 {
        return Err(Error::input(
            &p.display().to_string(),
            "length_m",
            format!(
                "the transfer function is for a {:.4} m lead, the implant is {:.4} m",
                tf.length_m,
                implant.length_m()
            ),
            "give the transfer function of this implant",
        ));
    }
    Ok(tf)
}
