//! The `rftwin sar` and `rftwin heat` pipelines as library functions (the CLI only parses arguments).
//!
//! The layouts of `sar.h5` and `heat.h5` are in [`super::files`].

use std::path::PathBuf;

use ndarray::Array3;
use serde_json::json;

use super::files;
use super::io::{self as dio, FieldsFile, LabelGrid, MaterialsFile};
use super::normalise::{normalise, Normalisation, NormaliseTarget, OperatingMode};
use super::sar::{self, SarInput};
use super::summary::{AveragedSummary, DosimetrySummary, ThermalSummary};
use super::thermal::{self, Probe, ThermalModel, ThermalSettings};
use crate::error::{Error, Result};

/// A `--normalise` request as given on the command line.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NormaliseSpec {
    /// `whole-phantom=W_PER_KG`
    WholePhantom(f64),
    /// `b1rms-ut=MICROTESLA` (B1+rms at the isocentre)
    B1RmsUt(f64),
    /// `power-w=WATTS` (input power of the run's ports)
    PowerW(f64),
    /// `mode=normal|first-level` (IEC 60601-2-33 whole-body SAR 2 or 4 W/kg)
    Mode(OperatingMode),
}

impl std::str::FromStr for NormaliseSpec {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        let (k, v) = s.split_once('=').ok_or_else(|| {
            "expected KEY=VALUE: whole-phantom=W/kg, b1rms-ut=µT, power-w=W or mode=normal|first-level".to_string()
        })?;
        let num = || -> std::result::Result<f64, String> {
            let x: f64 = v.trim().parse().map_err(|_| format!("'{v}' is not a number"))?;
            if !(x > 0.0) || !x.is_finite() {
                return Err(format!("{x} must be positive and finite"));
            }
            Ok(x)
        };
        match k.trim() {
            "whole-phantom" => Ok(Self::WholePhantom(num()?)),
            "b1rms-ut" => Ok(Self::B1RmsUt(num()?)),
            "power-w" => Ok(Self::PowerW(num()?)),
            "mode" => match v.trim() {
                "normal" => Ok(Self::Mode(OperatingMode::Normal)),
                "first-level" => Ok(Self::Mode(OperatingMode::FirstLevel)),
                m => Err(format!("unknown operating mode '{m}' (normal or first-level)")),
            },
            other => Err(format!(
                "unknown normalisation '{other}' (whole-phantom, b1rms-ut, power-w or mode)"
            )),
        }
    }
}

/// Where the fields come from and how to normalise them (shared by `sar` and `heat`).
#[derive(Clone, Debug, Default)]
pub struct FieldOptions {
    pub fields: PathBuf,
    /// E probe name (default: the only E probe).
    pub probe: Option<String>,
    /// Frequency index of the phasors (default 0).
    pub freq_index: usize,
    pub normalise: Option<NormaliseSpec>,
    /// Isocentre for `b1rms-ut` (m); default: the centre of the material grid.
    pub isocentre_m: Option<[f64; 3]>,
}

/// Options of `rftwin sar`.
#[derive(Clone, Debug, Default)]
pub struct SarOptions {
    pub field: FieldOptions,
    pub materials: Option<PathBuf>,
    pub out: PathBuf,
    pub force: bool,
}

/// Options of `rftwin heat`.
#[derive(Clone, Debug, Default)]
pub struct HeatOptions {
    /// A `sar.h5` of `rftwin sar` or a `fields.h5` of `rftwin fdtd run` (then `field` applies).
    pub input: PathBuf,
    pub field: FieldOptions,
    pub materials: Option<PathBuf>,
    /// Command-line probes (added to the TOML's).
    pub probes: Vec<Probe>,
    pub duration_s: Option<f64>,
    pub dt_s: Option<f64>,
    pub initial_temperature_c: Option<f64>,
    pub out: PathBuf,
    pub force: bool,
}

fn load_materials(p: &Option<PathBuf>) -> Result<MaterialsFile> {
    match p {
        Some(p) => MaterialsFile::load(p),
        None => Ok(MaterialsFile::default()),
    }
}

/// Reads the fields, applies the TOML overrides and normalises: the normalised [`SarInput`], its labels,
/// the normalisation and the file read.
pub fn normalised_input(
    opts: &FieldOptions,
    mats: &MaterialsFile,
) -> Result<(SarInput, LabelGrid, Option<Normalisation>, FieldsFile)> {
    let f = dio::read_fields(&opts.fields, opts.probe.as_deref(), opts.freq_index)?;
    let (table, table_source) = if mats.materials.is_empty() {
        (f.materials.table.clone(), f.path.clone())
    } else {
        (
            mats.apply_electrical(&f.materials.table)?,
            format!("{} (with {})", f.path, mats.source),
        )
    };
    let (input, labels) = dio::sar_input_from_fields(&f, &table, &table_source)?;
    let whole = sar::whole_phantom_sar(&input)?;
    let norm = match opts.normalise {
        None => None,
        Some(spec) => {
            let target = match spec {
                NormaliseSpec::WholePhantom(s) => NormaliseTarget::WholePhantomSar { sar_w_per_kg: s },
                NormaliseSpec::Mode(mode) => NormaliseTarget::OperatingMode { mode },
                NormaliseSpec::B1RmsUt(b) => {
                    let g = &f.materials;
                    let d = g.labels.dim();
                    let n = [d.0, d.1, d.2];
                    let centre: [f64; 3] =
                        std::array::from_fn(|a| g.origin_m[a] + 0.5 * (n[a] as f64 - 1.0) * g.spacing_m[a]);
                    let iso = opts.isocentre_m.unwrap_or(centre);
                    NormaliseTarget::B1PlusRms {
                        b1_plus_rms_ut: b,
                        solution_b1_plus_ut: dio::b1_plus_ut_at(&f, iso)?,
                    }
                }
                NormaliseSpec::PowerW(p) => NormaliseTarget::InputPower {
                    input_power_w: p,
                    solution_input_power_w: f.input_power_w.ok_or_else(|| {
                        Error::input(
                            &f.path,
                            "input_power_w",
                            "the file records no input power (a CW run with a port writes it)",
                            "normalise to whole-phantom SAR or B1+rms instead, or re-run with a port",
                        )
                    })?,
                },
            };
            Some(normalise(&whole, &target)?)
        }
    };
    let input = match &norm {
        Some(n) => input.scaled(n.power_factor)?,
        None => input,
    };
    Ok((input, labels, norm, f))
}

fn f32_peak(a: &Array3<f32>) -> [usize; 3] {
    let mut best = (f32::MIN, [0usize; 3]);
    for ((i, j, k), v) in a.indexed_iter() {
        if v.is_finite() && *v > best.0 {
            best = (*v, [i, j, k]);
        }
    }
    best.1
}

/// `rftwin sar`: writes `sar.h5`, `point_sar.png`, `sar_10g.png` and `summary.json` into `opts.out`
/// (atomically) and returns the summary.
pub fn run_sar(opts: &SarOptions) -> Result<serde_json::Value> {
    let policy = crate::io::OutputPolicy::new("sar", opts.force)
        .input("fields", &opts.field.fields)
        .input_opt("--materials", opts.materials.as_deref());
    let dir = crate::io::AtomicDir::new(&opts.out, &policy)?;
    let mats = load_materials(&opts.materials)?;
    let (input, labels, norm, f) = normalised_input(&opts.field, &mats)?;
    let whole = sar::whole_phantom_sar(&input)?;
    let point = sar::point_sar(&input);
    let a1 = sar::mass_averaged_sar(&input, sar::MASS_1G_KG)?;
    let a10 = sar::mass_averaged_sar(&input, sar::MASS_10G_KG)?;

    let (o, d) = (labels.origin_m, labels.spacing_m);
    files::write_sar_h5(
        &dir.path("sar.h5"),
        &files::SarH5 {
            point: &point,
            sar_1g: &a1,
            sar_10g: &a10,
            input: &input,
            labels: &labels,
            power_factor: norm.map_or(1.0, |n| n.power_factor),
            source: &f.path,
        },
    )?;
    dio::orthogonal_panel(
        &dir.path("point_sar.png"),
        &point,
        whole.peak_point_index,
        o,
        d,
        &format!("Point SAR (peak {:.3} W/kg)", whole.peak_point_sar_w_per_kg),
        "SAR (W/kg)",
    )?;
    let at10 = if a10.peak.sar_w_per_kg > 0.0 {
        a10.peak.index
    } else {
        f32_peak(&a10.sar_w_per_kg)
    };
    dio::orthogonal_panel(
        &dir.path("sar_10g.png"),
        &a10.sar_w_per_kg,
        at10,
        o,
        d,
        &format!("10 g SAR (peak {:.3} W/kg)", a10.peak.sar_w_per_kg),
        "SAR10g (W/kg)",
    )?;
    let s = DosimetrySummary {
        source: f.path.clone(),
        normalisation: norm,
        whole_phantom: whole,
        sar_1g: Some(AveragedSummary::from(&a1)),
        sar_10g: Some(AveragedSummary::from(&a10)),
        thermal: None,
    };
    let mut v = serde_json::to_value(&s).map_err(|e| Error::Other(e.to_string()))?;
    v["inputs"] = json!({
        "fields": f.path,
        "probe": f.probe,
        "freq_index": opts.field.freq_index,
        "materials": opts.materials.as_ref().map(|p| p.display().to_string()),
    });
    v["grid"] = json!({ "voxels": input.dims(), "voxel_size_m": d, "first_centre_m": o });
    v["files"] = json!(["sar.h5", "point_sar.png", "sar_10g.png", "summary.json"]);
    crate::io::write_json(&dir.path("summary.json"), &v)?;
    dir.commit()?;
    Ok(v)
}

/// The heat source of `rftwin heat`: normalised loss density on a labelled grid.
struct LossGrid {
    input: SarInput,
    labels: LabelGrid,
    normalisation: Option<Normalisation>,
    power_factor: Option<f64>,
}

fn read_loss(opts: &HeatOptions, mats: &MaterialsFile) -> Result<LossGrid> {
    let is_sar_file = files::is_sar_h5(&opts.input)?;
    if is_sar_file {
        let name = opts.input.display().to_string();
        if opts.field.normalise.is_some() {
            return Err(Error::input(
                &name,
                "--normalise",
                "a sar.h5 is already normalised by `rftwin sar`",
                "drop --normalise, or pass the fields.h5 instead",
            ));
        }
        let (input, labels, pf) = files::read_sar_h5_loss(&opts.input)?;
        Ok(LossGrid {
            input,
            labels,
            normalisation: None,
            power_factor: pf,
        })
    } else {
        if opts.field.normalise.is_none() {
            return Err(Error::input(
                &opts.input.display().to_string(),
                "--normalise",
                "a fields.h5 holds the raw solution (the drive of the FDTD run, not an exposure): heating it as is gives temperatures of an arbitrary power",
                "add --normalise whole-phantom=W_PER_KG, b1rms-ut=MICROTESLA, power-w=WATTS or mode=normal|first-level, or pass the sar.h5 of `rftwin sar` (already normalised)",
            ));
        }
        let mut fo = opts.field.clone();
        fo.fields = opts.input.clone();
        let (input, labels, norm, _) = normalised_input(&fo, mats)?;
        Ok(LossGrid {
            input,
            labels,
            normalisation: norm,
            power_factor: norm.map(|n| n.power_factor),
        })
    }
}

/// `rftwin heat`: the ASTM F2182 exposure (or `duration_s`) from a SAR or field file; writes `heat.h5`,
/// `delta_t_end.png`, `probes_delta_t.png` (with probes) and `summary.json` into `opts.out` (atomically).
///
/// `heat.h5`: see [`super::files`].
pub fn run_heat(opts: &HeatOptions) -> Result<serde_json::Value> {
    let policy = crate::io::OutputPolicy::new("heat", opts.force)
        .input("input", &opts.input)
        .input("fields", &opts.field.fields)
        .input_opt("--materials", opts.materials.as_deref());
    let dir = crate::io::AtomicDir::new(&opts.out, &policy)?;
    let mats = load_materials(&opts.materials)?;
    exposure_settings(opts, &mats)?;
    let loss = read_loss(opts, &mats)?;
    let src = opts.input.display().to_string();
    let grid = *loss.input.grid();
    let dims = loss.input.dims();
    let counts = loss.labels.counts();
    let table = mats.thermal_table(&loss.labels.table, &counts, &src)?;
    let boundaries = mats.boundaries();
    let model = ThermalModel::from_labels(&src, &loss.labels.labels, &table, grid, boundaries)?;

    let mut probes: Vec<(Probe, String)> = mats.probes().into_iter().map(|p| (p, mats.source.clone())).collect();
    probes.extend(
        opts.probes
            .iter()
            .map(|p| (p.clone(), "command line (--probe)".to_string())),
    );
    for (i, (p, s)) in probes.iter().enumerate() {
        if probes[..i].iter().any(|(q, _)| q.name == p.name) {
            return Err(Error::input(
                s,
                &format!("probes.{}", p.name),
                "probe name used twice",
                "give each probe its own name",
            ));
        }
    }
    dio::check_probes_in_grid(&probes, &grid, dims)?;
    let probe_list: Vec<Probe> = probes.iter().map(|(p, _)| p.clone()).collect();

    let settings = exposure_settings(opts, &mats)?;
    let p = loss.input.power_density_w_per_m3();
    let (result, background) = match &mats.implant {
        None => (model.run(p, &probe_list, &settings)?, None),
        Some(imp) => {
            let t = &loss.labels.table;
            let id = |n: &str, key: &str| {
                t.id(n).ok_or_else(|| {
                    Error::input(
                        &mats.source,
                        key,
                        format!("no material '{n}' in the field file"),
                        format!("use one of: {}", t.name.join(", ")),
                    )
                })
            };
            let (a, b) = (
                id(&imp.material, "implant.material")?,
                id(&imp.replace_with, "implant.replace_with")?,
            );
            let bg_labels = loss.labels.labels.mapv(|l| if l as usize == a { b as u8 } else { l });
            // The implant voxels get the replacement material's loss density of zero (the field solution
            // with the implant is reused: PEC voxels carry no loss). A true background needs its own run.
            let bg_model = ThermalModel::from_labels(&src, &bg_labels, &table, grid, boundaries)?;
            let c = thermal::astm_f2182_exposure((&model, p), (&bg_model, p), &probe_list, &settings)?;
            (c.with_implant, Some(c.background))
        }
    };

    let h5 = dir.path("heat.h5");
    let (o, d) = (loss.labels.origin_m, loss.labels.spacing_m);
    let t0 = settings.initial_temperature_c;
    let rise = |r: &thermal::ThermalResult| r.final_temperature_c.mapv(|t| (t - t0) as f32);
    let rise_end = rise(&result);
    files::write_heat_h5(
        &h5,
        &files::HeatH5 {
            result: &result,
            background: background.as_ref().map(|b| rise(b)).as_ref(),
            rise_end: &rise_end,
            origin_m: o,
            spacing_m: d,
        },
    )?;
    dio::orthogonal_panel(
        &dir.path("delta_t_end.png"),
        &rise_end,
        result.peak_index,
        o,
        d,
        &format!(
            "Temperature rise after {:.0} s (peak {:.3} K)",
            settings.duration_s, result.peak_rise_k
        ),
        "ΔT (K)",
    )?;
    let mut files = vec!["heat.h5", "delta_t_end.png", "summary.json"];
    if !result.probes.is_empty() {
        let rises: Vec<Vec<f64>> = result
            .probes
            .iter()
            .map(|p| p.temperature_c.iter().map(|t| t - p.temperature_c[0]).collect())
            .collect();
        let mut lp = crate::plot::LinePlot::new("Probe temperature rise", "Time (s)", "ΔT (K)");
        for (p, r) in result.probes.iter().zip(&rises) {
            lp = lp.series(p.name.clone(), &result.times_s, r);
        }
        crate::plot::line_plot(&dir.path("probes_delta_t.png"), &lp)?;
        files.push("probes_delta_t.png");
    }
    let s = DosimetrySummary {
        source: src.clone(),
        normalisation: loss.normalisation,
        whole_phantom: sar::whole_phantom_sar(&loss.input)?,
        sar_1g: None,
        sar_10g: None,
        thermal: Some(ThermalSummary::new(&result, background.as_ref())),
    };
    let mut v = serde_json::to_value(&s).map_err(|e| Error::Other(e.to_string()))?;
    v["inputs"] = json!({
        "input": src,
        "materials": opts.materials.as_ref().map(|p| p.display().to_string()),
        "power_factor": loss.power_factor,
    });
    v["settings"] = serde_json::to_value(&settings).map_err(|e| Error::Other(e.to_string()))?;
    v["files"] = json!(files);
    crate::io::write_json(&dir.path("summary.json"), &v)?;
    dir.commit()?;
    Ok(v)
}

/// Lowest and highest starting temperature `rftwin heat` accepts (°C): a gel phantom or tissue between
/// a cold room and a fever-free body, with margin.
pub const INITIAL_TEMPERATURE_RANGE_C: (f64, f64) = (-20.0, 60.0);

/// The exposure settings of `rftwin heat` (command line over `[exposure]` over the defaults), each value
/// checked and, when wrong, reported against where it came from (the option or the materials TOML key).
pub fn exposure_settings(opts: &HeatOptions, mats: &MaterialsFile) -> Result<ThermalSettings> {
    let ex = mats.exposure.clone().unwrap_or_default();
    let def = ThermalSettings::default();
    let toml = if mats.source.is_empty() {
        "materials TOML"
    } else {
        mats.source.as_str()
    };
    // (value, source, key) of the value that wins.
    let pick = |cli: Option<f64>, flag: &'static str, file: Option<f64>, key: &'static str, d: f64| match (cli, file) {
        (Some(v), _) => (v, "command line".to_string(), flag.to_string()),
        (None, Some(v)) => (v, toml.to_string(), format!("exposure.{key}")),
        (None, None) => (d, "default".to_string(), key.to_string()),
    };
    let (duration_s, src, key) = pick(
        opts.duration_s,
        "--duration-s",
        ex.duration_s,
        "duration_s",
        def.duration_s,
    );
    if !(duration_s > 0.0) || !duration_s.is_finite() {
        return Err(Error::input(
            &src,
            &key,
            format!("exposure length {duration_s} s is not a positive finite number"),
            "give the exposure length in seconds, e.g. 900 (ASTM F2182: 15 minutes)",
        ));
    }
    let (dt_s, src, key) = pick(opts.dt_s, "--dt-s", ex.dt_s, "dt_s", def.dt_s);
    if !(dt_s > 0.0) || !dt_s.is_finite() {
        return Err(Error::input(
            &src,
            &key,
            format!("time step {dt_s} s is not a positive finite number"),
            "give a time step in seconds, e.g. 5 (any step is stable; smaller is more accurate)",
        ));
    }
    let (t0, src, key) = pick(
        opts.initial_temperature_c,
        "--initial-temperature-c",
        ex.initial_temperature_c,
        "initial_temperature_c",
        def.initial_temperature_c,
    );
    let (lo, hi) = INITIAL_TEMPERATURE_RANGE_C;
    if !(t0 >= lo && t0 <= hi) {
        let why = if t0 < -273.15 {
            "is below absolute zero (-273.15 °C)"
        } else if t0.is_nan() {
            "is not a number"
        } else {
            "is outside the range of a phantom or tissue"
        };
        return Err(Error::input(
            &src,
            &key,
            format!("starting temperature {t0} °C {why}"),
            format!("give the starting temperature in degrees Celsius between {lo} and {hi}, e.g. 22 (room temperature) or 37 (body)"),
        ));
    }
    Ok(ThermalSettings {
        duration_s,
        dt_s,
        initial_temperature_c: t0,
        cem43_map: ex.cem43_map.unwrap_or(false),
    })
}

/// Parses `X,Y,Z` (m).
pub fn parse_point_m(s: &str) -> std::result::Result<[f64; 3], String> {
    crate::spec::parse_xyz(s).map_err(|e| match e {
        crate::spec::XyzError::NotANumber(x) => format!("'{x}' is not a number"),
        crate::spec::XyzError::NotThreeFinite => "expected three finite numbers X,Y,Z in metres".into(),
    })
}
