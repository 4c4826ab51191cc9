//! The implant commands: `rftwin implant place | tf | search`, from their command-line options to
//! the work in [`super::run`] and [`super::search`] (each writes its outputs atomically into one
//! directory and returns the summary JSON that the command prints).

use std::path::{Path, PathBuf};

use serde_json::json;

use super::local::TwinIncident;
use super::model::Implant;
use super::run::{place_command, tf_command, write_tf_dir, PlacementInput};
use super::search::{
    confirm_top, search, write_confirm_png, write_map_png, write_search_h5, ConfirmOptions, SearchOptions,
};
use super::tf::{compute_tf, TfOptions, TransferFunction};
use crate::coil::phantom::PhantomConfig;
use crate::error::{Error, Result};
use crate::io::{AtomicDir, OutputPolicy};
use crate::spec::three_numbers;
use crate::twin::command::positive_mm;

fn cli_err(key: &str, what: String, fix: &str) -> Error {
    Error::input("command line", key, what, fix)
}

/// What `implant place` is asked to do (see `rftwin implant place --help`).
#[derive(Clone, Debug)]
pub struct PlaceCommand {
    pub implant: PathBuf,
    pub phantom: PathBuf,
    /// A placement file, or `position` ("X,Y,Z", m) with `direction` ("DX,DY,DZ") and `roll_deg`.
    pub placement: Option<PathBuf>,
    pub position: Option<String>,
    pub direction: Option<String>,
    pub roll_deg: f64,
    pub min_wall_m: Option<f64>,
    pub cell_mm: f64,
    pub pad_mm: f64,
    pub out: PathBuf,
    pub force: bool,
}

/// `rftwin implant place` (see [`super::run::place_command`]).
pub fn place(cmd: &PlaceCommand) -> Result<serde_json::Value> {
    let input = match (&cmd.placement, &cmd.position) {
        (Some(p), None) => {
            if cmd.direction.is_some() {
                return Err(cli_err(
                    "--direction",
                    "given with --placement".into(),
                    "put the direction in the placement file",
                ));
            }
            PlacementInput::File(p)
        }
        (None, Some(pos)) => PlacementInput::Values {
            position_m: three_numbers("--position", pos, "0.1,0,0")?,
            direction: match &cmd.direction {
                Some(d) => three_numbers("--direction", d, "0,0,1")?,
                None => [0.0, 0.0, 1.0],
            },
            roll_deg: cmd.roll_deg,
        },
        _ => {
            return Err(cli_err(
                "--placement / --position",
                "give exactly one of them".into(),
                "e.g. --position 0.1,0,0 --direction 0,0,1",
            ))
        }
    };
    let (cell_mm, pad_mm) = (cmd.cell_mm, cmd.pad_mm);
    if !(cell_mm > 0.0) || !(pad_mm >= 0.0) {
        return Err(cli_err(
            "--cell-mm / --pad-mm",
            format!("{cell_mm} / {pad_mm}"),
            "give a cell > 0 and a pad >= 0",
        ));
    }
    let grid = super::placement::LocalGridOptions {
        cell_m: cell_mm * 1e-3,
        pad_m: pad_mm * 1e-3,
    };
    place_command(&cmd.implant, &cmd.phantom, input, cmd.min_wall_m, &grid, &cmd.out, cmd.force)
}

/// What `implant tf` is asked to do (see `rftwin implant tf --help`).
#[derive(Clone, Debug)]
pub struct TfCommand {
    pub implant: PathBuf,
    /// The medium from this phantom, else `eps_r` and `sigma_s_per_m`.
    pub phantom: Option<PathBuf>,
    pub freq_hz: f64,
    pub cell_mm: f64,
    pub eps_r: f64,
    pub sigma_s_per_m: f64,
    pub out: PathBuf,
    pub force: bool,
}

/// `rftwin implant tf` (see [`super::run::tf_command`]).
pub fn tf(cmd: &TfCommand) -> Result<serde_json::Value> {
    let (eps_r, sigma_s_per_m) = match &cmd.phantom {
        Some(p) => {
            let ph = PhantomConfig::load(p)?;
            (ph.material.eps_r, ph.material.sigma_s_per_m)
        }
        None => (cmd.eps_r, cmd.sigma_s_per_m),
    };
    let opt = TfOptions {
        freq_hz: cmd.freq_hz,
        cell_m: cmd.cell_mm * 1e-3,
        eps_r,
        sigma_s_per_m,
        ..Default::default()
    };
    tf_command(&cmd.implant, cmd.phantom.as_deref(), &opt, &cmd.out, cmd.force)
}

/// What `implant search` is asked to do (see `rftwin implant search --help`).
#[derive(Clone, Debug)]
pub struct SearchCommand {
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
    pub normalise: String,
    pub confirm: usize,
    pub fine_cell_mm: f64,
    pub exposure_s: f64,
    /// The basis cache directory (None: no cache).
    pub cache_dir: Option<PathBuf>,
    pub out: PathBuf,
    pub force: bool,
}

/// `rftwin implant search`: checks the options, then [`search_run`].
pub fn search_command(cmd: &SearchCommand, log: &mut dyn FnMut(&str)) -> Result<serde_json::Value> {
    let min_wall_m = cmd.min_wall_m;
    if !(min_wall_m >= 0.0) || !min_wall_m.is_finite() {
        return Err(cli_err(
            "--min-wall-m",
            format!("{min_wall_m} m is not a finite distance >= 0"),
            "give the smallest distance to the walls in metres, e.g. --min-wall-m 0.02",
        ));
    }
    positive_mm("--cell-mm", cmd.cell_mm)?;
    positive_mm("--tf-cell-mm", cmd.tf_cell_mm)?;
    let roll_deg = &cmd.roll_deg;
    let rolls = roll_deg
        .split(',')
        .map(|x| x.trim().parse::<f64>().ok().filter(|r| r.is_finite()).ok_or(()))
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|_| {
            cli_err(
                "--roll-deg",
                format!("'{roll_deg}' is not a list of numbers"),
                "e.g. --roll-deg 0,90,180,270",
            )
        })?;
    let (step_mm, exposure_s) = (cmd.step_mm, cmd.exposure_s);
    if !(step_mm > 0.0) || !step_mm.is_finite() {
        return Err(cli_err("--step-mm", format!("{step_mm}"), "give a step > 0"));
    }
    if !(exposure_s > 0.0) || !exposure_s.is_finite() {
        return Err(cli_err(
            "--exposure-s",
            format!("{exposure_s}"),
            "give an exposure > 0 s, e.g. 900",
        ));
    }
    let opt = SearchOptions {
        step_m: [step_mm * 1e-3; 3],
        directions: cmd.directions,
        roll_deg: rolls,
        min_wall_distance_m: min_wall_m,
        top: cmd.top.max(cmd.confirm),
    };
    let confirm = (cmd.confirm > 0)
        .then(|| -> Result<_> {
            Ok(ConfirmOptions {
                count: cmd.confirm,
                cell_m: positive_mm("--fine-cell-mm", cmd.fine_cell_mm)?,
                exposure_s,
                ..Default::default()
            })
        })
        .transpose()?;
    let inp = SearchInputs {
        coil: cmd.coil.as_deref(),
        phantom: cmd.phantom.as_deref(),
        twin: cmd.twin.as_deref(),
        implant: &cmd.implant,
        tf: cmd.tf.as_deref(),
        coil_cell_m: cmd.cell_mm * 1e-3,
        tf_cell_m: cmd.tf_cell_mm * 1e-3,
        normalise: &cmd.normalise,
        cache_dir: cmd.cache_dir.clone(),
        confirm,
    };
    search_run(&inp, &opt, &cmd.out, cmd.force, log)
}

/// Inputs of `rftwin implant search`.
pub struct SearchInputs<'a> {
    /// Coil and phantom (the ideal quadrature drive), or `twin`.
    pub coil: Option<&'a Path>,
    pub phantom: Option<&'a Path>,
    /// A calibrated twin directory (`rftwin twin fit`); it names its phantom.
    pub twin: Option<&'a Path>,
    pub implant: &'a Path,
    /// A cached transfer function (directory or tf.json); computed when absent.
    pub tf: Option<&'a Path>,
    pub coil_cell_m: f64,
    pub tf_cell_m: f64,
    /// `b1-ut` (fields per µT of B1+ at the isocentre) or `per-watt`.
    pub normalise: &'a str,
    /// Where the coil's basis runs are cached (`None`: no cache).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Confirm the best candidates with full fine-grid runs and a thermal solve.
    pub confirm: Option<ConfirmOptions>,
}

/// `rftwin implant search`: the coil field (a calibrated twin, or the coil's ideal quadrature drive
/// from cached basis runs), the transfer function (cached or computed in the phantom's medium at the
/// coil frequency), the sweep, and optionally the confirmation of the best candidates by full
/// fine-grid runs; writes `ranking.json` (the [`super::search::SearchResult`] without the map, and
/// the [`super::search::ConfirmResult`]), `map.png`, `confirm.png` when confirmed, and `tf/` when
/// computed.
pub fn search_run(
    inp: &SearchInputs,
    opt: &SearchOptions,
    out: &Path,
    force: bool,
    log: &mut dyn FnMut(&str),
) -> Result<serde_json::Value> {
    use crate::coil::run::SimulateOptions;
    let implant = Implant::load(inp.implant)?;
    if !(inp.coil_cell_m > 0.0) || !(inp.tf_cell_m > 0.0) {
        return Err(Error::input(
            "command line",
            "--cell-mm / --tf-cell-mm",
            "must be > 0",
            "e.g. --cell-mm 10 --tf-cell-mm 2",
        ));
    }
    let normalise = inp.normalise;
    if normalise != "b1-ut" && normalise != "per-watt" {
        return Err(Error::input(
            "command line",
            "--normalise",
            format!("unknown normalisation '{normalise}'"),
            "use b1-ut (per µT of B1+ at the isocentre) or per-watt",
        ));
    }
    let mut policy = OutputPolicy::new("implant search", force)
        .input("implant", inp.implant)
        .input_opt("coil", inp.coil)
        .input_opt("phantom", inp.phantom)
        .input_opt("transfer function", inp.tf)
        .input_opt("basis cache", inp.cache_dir.as_deref());
    if let Some(t) = inp.twin {
        policy = policy.inputs(crate::twin::file::dir_inputs(t));
    }
    let dir = AtomicDir::new(out, &policy)?;
    // The coil field: a calibrated twin, or the coil's ideal drive (basis runs made below, after the
    // cheap input checks).
    let src = coil_field_source(inp)?;
    let freq_hz = match &src {
        Source::Twin(t, _) => t.fields.freq_hz,
        Source::Coil(cp) => cp.0.freq_hz,
    };
    // The sweep's size, refused now rather than after the coil and transfer-function runs.
    let per_pos = super::search::directions(opt.directions)?.len() * opt.roll_deg.len().max(1);
    super::search::check_candidates(
        match &src {
            Source::Twin(t, _) => &t.phantom,
            Source::Coil(cp) => &cp.1,
        },
        opt,
        per_pos,
    )?;
    let cached = inp.tf.map(|p| cached_tf(p, freq_hz, &implant)).transpose()?;
    let (fields, phantom, coil_name, source) = match src {
        Source::Twin(lt, name) => {
            let lt = *lt;
            (lt.fields, lt.phantom, format!("twin {name}"), "calibrated twin")
        }
        Source::Coil(cp) => {
            let (coil, phantom) = *cp;
            let mut so = SimulateOptions::default();
            so.mesh.cell_m = inp.coil_cell_m;
            log("coil field: basis runs (ideal quadrature drive)");
            let f = crate::twin::ideal_drive_fields(&coil, &phantom, &so, inp.cache_dir.as_deref())?;
            (f, phantom, coil.name.clone(), "ideal quadrature drive")
        }
    };
    let scale = if normalise == "b1-ut" {
        fields.per_microtesla()
    } else {
        fields.per_watt()
    };
    if !scale.is_finite() {
        return Err(Error::Other(format!(
            "the coil field cannot be normalised {}: no B1+ at the isocentre or no input power",
            if normalise == "b1-ut" { "per µT" } else { "per W" }
        )));
    }
    let tf = match cached {
        Some(tf) => tf,
        None => {
            log("transfer function");
            let to = TfOptions {
                freq_hz,
                cell_m: inp.tf_cell_m,
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
    let incident = std::sync::Arc::new(TwinIncident::new(fields.scaled(scale)));
    log("sweep");
    let result = search(&implant, &phantom, &tf, &*incident, opt)?;
    write_map_png(&result, &dir.path("map.png"))?;
    let confirmation = match &inp.confirm {
        Some(c) if c.count > 0 => {
            let r = confirm_top(&implant, &phantom, incident.clone(), &result.ranking, c, log)?;
            write_confirm_png(&r, &dir.path("confirm.png"))?;
            Some(r)
        }
        _ => None,
    };
    write_search_h5(&result, confirmation.as_ref(), &dir.path("search.h5"))?;
    let note = if confirmation.is_some() {
        "ranked by the transfer-function estimate |E_tip|² = |∫ S E_tan dl|² (or A |E_tip|² when the TF is calibrated); \
         the best candidates were confirmed by full fine-grid runs (TF/SF box driven by the coil field) and a Pennes exposure"
    } else {
        "ranked by the transfer-function estimate |E_tip|² = |∫ S E_tan dl|² (or A |E_tip|² when the TF is calibrated); \
         not confirmed by full runs (use --confirm N)"
    };
    let summary = json!({
        "implant": implant.name,
        "coil": coil_name,
        "coil_field": source,
        "phantom": phantom.name,
        "freq_hz": freq_hz,
        "normalisation": if normalise == "b1-ut" { "incident E per µT of B1+ at the isocentre" } else { "incident E per W of input power" },
        "options": opt,
        "search": result,
        "confirmation": confirmation,
        "note": note,
    });
    crate::io::write_json(&dir.path("ranking.json"), &summary)?;
    dir.commit()?;
    Ok(summary)
}

/// Where the coil field comes from.
enum Source {
    Twin(Box<crate::twin::LoadedTwin>, String),
    Coil(Box<(crate::coil::CoilConfig, PhantomConfig)>),
}

/// A calibrated twin (`--twin`), or the coil and phantom files (`--coil`, `--phantom`).
fn coil_field_source(inp: &SearchInputs) -> Result<Source> {
    Ok(match (inp.twin, inp.coil, inp.phantom) {
        (Some(t), None, None) => Source::Twin(Box::new(crate::twin::load_twin_dir(t)?), t.display().to_string()),
        (Some(_), _, _) => {
            return Err(Error::input(
                "command line",
                "--twin",
                "--twin was given with --coil or --phantom",
                "give either --twin DIR (it names its phantom) or --coil and --phantom",
            ))
        }
        (None, Some(c), Some(p)) => {
            Source::Coil(Box::new((crate::coil::CoilConfig::load(c)?, PhantomConfig::load(p)?)))
        }
        _ => {
            return Err(Error::input(
                "command line",
                "--coil / --phantom",
                "the coil field needs --coil and --phantom (or --twin)",
                "give --coil C.toml --phantom P.toml, or --twin DIR",
            ))
        }
    })
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
