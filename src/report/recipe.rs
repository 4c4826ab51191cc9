//! Assessment recipes (`reports/*.toml`): which coil twin, which implants where, how the fields are
//! normalised, how long the exposure is, and the pass/fail criteria with their uncertainty factors.
//!
//! Parsing is strict: unknown keys are rejected, every value is checked in one pass and all problems
//! are reported together as `file: key: what: fix`. Paths are relative to the recipe file. Whether
//! the files exist is checked separately ([`Recipe::check_files`]) so that a recipe can be validated
//! before its inputs are made. The schema is documented in `reports/README.md`; example:
//!
//! ```toml
//! title = "Insulated wire in the ASTM phantom, 1.5 T body coil"
//!
//! [twin]                       # either dir = "twin-dir" (from `rftwin twin fit`) or coil + phantom
//! coil = "../coils/body_1p5t_hp16.toml"
//! phantom = "../phantoms/astm_f2182.toml"
//! measured = "../phantoms/measured/astm_1p5t_b1plus.nii.gz"   # optional: calibrate to this map
//!
//! [[implants]]
//! file = "../phantoms/implants/insulated_wire_200mm.toml"
//! position_m = [0.10, 0.0, 0.0]   # phantom frame
//! direction = [0.0, 0.0, 1.0]
//!
//! [normalisation]              # exactly one key
//! whole_phantom_sar_w_per_kg = 2.0
//!
//! [exposure]
//! duration_s = 900.0
//!
//! [criteria]
//! temperature_rise = { limit_k = 2.0, uncertainty_factor = 1.0 }
//! sar_10g = { limit_w_per_kg = 10.0, uncertainty_factor = 1.0 }
//! ```

use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::criteria::{self, Criterion};
use super::InputFile;
use crate::spec::{self, Problems};
use crate::dosimetry::normalise::OperatingMode;
use crate::dosimetry::run::NormaliseSpec;
use crate::error::Result;

/// Baseline temperature (°C) when the recipe gives none: body temperature, so that CEM43 means what
/// it means for tissue (a gel phantom at room temperature would give a meaningless CEM43).
pub const DEFAULT_BASELINE_TEMPERATURE_C: f64 = 37.0;

const RECIPE_KEYS: &str = "title, description, [twin] (dir, coil, phantom, measured, measured_unit, measured_nominal_flip_deg, measured_scale, measured_dataset, measured_volume, measured_mask, measured_frame, measured_patient_position, measured_table_position_m, cell_m, model, fit_offset, fit_rotation, fit_gel), [[implants]] (file, name, position_m, direction, roll_deg, euler_deg, min_wall_distance_m), [normalisation] (whole_phantom_sar_w_per_kg | b1_plus_rms_ut | input_power_w | operating_mode), [exposure] (duration_s, baseline_temperature_c), [criteria] (temperature_rise, sar_1g, sar_10g, cem43)";

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RecipeToml {
    title: String,
    description: Option<String>,
    twin: TwinToml,
    #[serde(default)]
    implants: Vec<ImplantToml>,
    normalisation: NormalisationToml,
    exposure: ExposureToml,
    criteria: CriteriaToml,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TwinToml {
    dir: Option<String>,
    coil: Option<String>,
    phantom: Option<String>,
    measured: Option<String>,
    measured_unit: Option<String>,
    measured_nominal_flip_deg: Option<f64>,
    measured_scale: Option<f64>,
    measured_dataset: Option<String>,
    measured_volume: Option<i64>,
    measured_mask: Option<String>,
    measured_frame: Option<String>,
    measured_patient_position: Option<String>,
    measured_table_position_m: Option<f64>,
    cell_m: Option<f64>,
    model: Option<String>,
    fit_offset: Option<bool>,
    fit_rotation: Option<bool>,
    fit_gel: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ImplantToml {
    file: String,
    name: Option<String>,
    position_m: [f64; 3],
    direction: Option<[f64; 3]>,
    roll_deg: Option<f64>,
    euler_deg: Option<[f64; 3]>,
    min_wall_distance_m: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NormalisationToml {
    whole_phantom_sar_w_per_kg: Option<f64>,
    b1_plus_rms_ut: Option<f64>,
    input_power_w: Option<f64>,
    operating_mode: Option<OperatingMode>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExposureToml {
    duration_s: f64,
    baseline_temperature_c: Option<f64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CriteriaToml {
    temperature_rise: Option<LimitK>,
    sar_1g: Option<LimitSar>,
    sar_10g: Option<LimitSar>,
    cem43: Option<LimitMin>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitK {
    limit_k: f64,
    #[serde(default = "one")]
    uncertainty_factor: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitSar {
    limit_w_per_kg: f64,
    #[serde(default = "one")]
    uncertainty_factor: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitMin {
    limit_min: f64,
    #[serde(default = "one")]
    uncertainty_factor: f64,
}

fn one() -> f64 {
    1.0
}

/// Where the coil fields come from.
#[derive(Clone, Debug, PartialEq)]
pub enum TwinSource {
    /// A calibrated twin directory written by `rftwin twin fit`.
    Dir(PathBuf),
    /// A coil and phantom, optionally calibrated to a measured B1+ map.
    Model {
        coil: PathBuf,
        phantom: PathBuf,
        measured: Option<PathBuf>,
        /// How to read it (`measured_unit`, `measured_nominal_flip_deg`, `measured_scale`,
        /// `measured_dataset`, `measured_volume`, `measured_mask`; the mask path resolved).
        map_options: crate::b1::MapReadOptions,
        /// Coarse grid cell (m), when given.
        cell_m: Option<f64>,
        /// The coil model (`model`: "cosim", the default, or "ideal").
        model: crate::coil::run::DriveModel,
        /// Also fit the phantom offset / its small rotation / the gel conductivity and permittivity
        /// (with a measured map).
        fit_offset: bool,
        fit_rotation: bool,
        fit_gel: bool,
    },
}

/// Orientation of an implant: its +z axis onto `direction` then turned by `roll_deg`, or z-y-z Euler
/// angles (the same conventions as `implant::placement`).
#[derive(Clone, Debug, PartialEq)]
pub enum Orientation {
    Direction { direction: [f64; 3], roll_deg: f64 },
    EulerZyzDeg([f64; 3]),
}

/// One implant and where it goes.
#[derive(Clone, Debug, PartialEq)]
pub struct ImplantPlacement {
    pub file: PathBuf,
    /// Label in the report (defaults to the file stem).
    pub name: String,
    /// Position of the implant frame's origin in the phantom frame (m).
    pub position_m: [f64; 3],
    pub orientation: Orientation,
    pub min_wall_distance_m: Option<f64>,
}

/// A validated recipe with paths resolved against the recipe's directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Recipe {
    /// The recipe file itself.
    pub path: PathBuf,
    pub title: String,
    pub description: String,
    pub twin: TwinSource,
    pub implants: Vec<ImplantPlacement>,
    pub normalisation: NormaliseSpec,
    pub exposure_s: f64,
    pub baseline_temperature_c: Option<f64>,
    /// Criteria in a fixed order: temperature rise, 1 g SAR, 10 g SAR, CEM43.
    pub criteria: Vec<Criterion>,
    /// Where the built-in demo inputs were materialised (`rftwin demo`), so that the report names them
    /// as built-in inputs rather than by their cache path. None for a user's recipe.
    pub builtin_base: Option<PathBuf>,
}

/// `p` with `.` and `dir/..` removed lexically (symbolic links are not followed: the path as the
/// user would read it).
pub fn lexical_path(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            c => out.push(c),
        }
    }
    if out.is_empty() {
        PathBuf::from(".")
    } else {
        out.iter().collect()
    }
}

fn finite_pos(p: &mut Problems, key: &str, v: f64, fix: &str) {
    if !(v > 0.0) || !v.is_finite() {
        p.add(key, format!("{v} is not a positive finite number"), fix);
    }
}

/// `s` relative to the recipe's directory `base` (absolute paths stay).
fn resolve(base: &Path, s: &str) -> PathBuf {
    let q = Path::new(s);
    if q.is_absolute() {
        q.to_path_buf()
    } else {
        base.join(q)
    }
}

fn nonempty(p: &mut Problems, key: &str, s: &str) {
    if s.trim().is_empty() {
        p.add(key, "empty path", "give a file path relative to the recipe");
    }
}

/// `[twin]`: a directory, or a coil and a phantom.
fn twin_source(p: &mut Problems, t: &TwinToml, base: &Path, src: &str) -> TwinSource {
    match (&t.dir, &t.coil, &t.phantom) {
        (Some(d), None, None) => {
            nonempty(p, "twin.dir", d);
            if t.measured.is_some()
                || measured_keys(t)
                || t.cell_m.is_some()
                || t.model.is_some()
                || t.fit_offset.is_some()
                || t.fit_rotation.is_some()
                || t.fit_gel.is_some()
            {
                p.add(
                    "twin.measured",
                    "measured, measured_* (unit, nominal_flip_deg, scale, dataset, volume, mask), cell_m, model, fit_offset, fit_rotation and fit_gel belong to a coil + phantom twin, not to a twin dir",
                    "remove them (the twin dir is already calibrated) or use coil + phantom",
                );
            }
            TwinSource::Dir(resolve(base, d))
        }
        (None, Some(c), Some(ph)) => model_twin(p, t, base, c, ph, src),
        _ => {
            p.add(
                "twin",
                "give either `dir` or both `coil` and `phantom`",
                "e.g. dir = \"twins/body_1p5t\" or coil = \"../coils/X.toml\", phantom = \"../phantoms/Y.toml\"",
            );
            TwinSource::Dir(PathBuf::new())
        }
    }
}

/// Whether any `measured_*` key other than `measured` itself is given.
fn measured_keys(t: &TwinToml) -> bool {
    t.measured_unit.is_some()
        || t.measured_nominal_flip_deg.is_some()
        || t.measured_scale.is_some()
        || t.measured_dataset.is_some()
        || t.measured_volume.is_some()
        || t.measured_mask.is_some()
        || t.measured_frame.is_some()
        || t.measured_patient_position.is_some()
        || t.measured_table_position_m.is_some()
}

/// `[twin]` with a coil and a phantom (`c`, `ph`).
fn model_twin(p: &mut Problems, t: &TwinToml, base: &Path, c: &str, ph: &str, src: &str) -> TwinSource {
    nonempty(p, "twin.coil", c);
    nonempty(p, "twin.phantom", ph);
    if let Some(m) = &t.measured {
        nonempty(p, "twin.measured", m);
    }
    if let Some(v) = t.measured_volume.filter(|v| *v < 0) {
        p.add(
            "twin.measured_volume",
            format!("{v} is negative"),
            "give the 0-based index of the volume of a 4-D measured map (0 is the first)",
        );
    }
    if t.measured.is_none() && t.measured_volume.is_some() {
        p.add(
            "twin.measured_volume",
            "measured_volume chooses a volume of the measured map, but there is no measured map",
            "add twin.measured or remove measured_volume",
        );
    } else if t.measured.is_none() && measured_keys(t) {
        p.add(
            "twin.measured_unit",
            "measured_unit, measured_nominal_flip_deg, measured_scale, measured_dataset and measured_mask describe the measured map, but there is no measured map",
            "add twin.measured or remove them",
        );
    }
    for (key, v) in [
        ("twin.measured_nominal_flip_deg", t.measured_nominal_flip_deg),
        ("twin.measured_scale", t.measured_scale),
    ] {
        if let Some(v) = v {
            finite_pos(p, key, v, "give a positive number (see docs/b1-maps.md)");
        }
    }
    if let Some(u) = &t.measured_unit {
        if !["ut", "µt", "μt", "deg", "percent", "fraction"].contains(&u.trim().to_ascii_lowercase().as_str()) {
            p.add(
                "twin.measured_unit",
                format!("unknown unit '{u}'"),
                "use uT, deg (with measured_nominal_flip_deg and measured_scale), percent or fraction",
            );
        }
    }
    if let Some(m) = &t.measured_mask {
        nonempty(p, "twin.measured_mask", m);
    }
    if t.measured.is_none() && (t.fit_offset == Some(true) || t.fit_rotation == Some(true) || t.fit_gel == Some(true)) {
        p.add(
            "twin.fit_offset",
            "fit_offset / fit_rotation / fit_gel need a measured map to fit to",
            "add twin.measured or remove fit_offset / fit_rotation / fit_gel",
        );
    }
    if let Some(h) = t.cell_m {
        if !(h > 0.0 && h <= 0.05) {
            p.add(
                "twin.cell_m",
                format!("{h} m is not in (0, 0.05]"),
                "use e.g. 0.01 (10 mm)",
            );
        }
    }
    let model = match t.model.as_deref().map(|m| m.trim().to_ascii_lowercase()) {
        None => crate::coil::run::DriveModel::Cosim,
        Some(m) if m == "cosim" => crate::coil::run::DriveModel::Cosim,
        Some(m) if m == "ideal" => crate::coil::run::DriveModel::Ideal,
        Some(m) => {
            p.add(
                "twin.model",
                format!("unknown coil model '{m}'"),
                "use \"cosim\" (the co-simulated resonant coil, the default) or \"ideal\" (impressed uniform rung currents)",
            );
            crate::coil::run::DriveModel::Cosim
        }
    };
    TwinSource::Model {
        coil: resolve(base, c),
        phantom: resolve(base, ph),
        measured: t.measured.as_deref().map(|m| resolve(base, m)),
        map_options: crate::b1::MapReadOptions {
            unit: t.measured_unit.clone(),
            nominal_flip_deg: t.measured_nominal_flip_deg,
            scale: t.measured_scale,
            dataset: t.measured_dataset.clone(),
            volume: t.measured_volume.and_then(|v| usize::try_from(v).ok()),
            mask: t.measured_mask.as_deref().map(|m| resolve(base, m)),
            frame: t.measured_frame.clone(),
            patient_position: t.measured_patient_position.clone(),
            table_position_m: t.measured_table_position_m,
            names: crate::b1::OptionNames::recipe(src),
        },
        cell_m: t.cell_m,
        model,
        fit_offset: t.fit_offset.unwrap_or(false),
        fit_rotation: t.fit_rotation.unwrap_or(false),
        fit_gel: t.fit_gel.unwrap_or(false),
    }
}

/// `implants[i]`.
fn implant_placement(p: &mut Problems, i: usize, im: &ImplantToml, base: &Path) -> ImplantPlacement {
    let k = |s: &str| format!("implants[{i}].{s}");
    nonempty(p, &k("file"), &im.file);
    if im.position_m.iter().any(|x| !x.is_finite()) {
        p.add(
            &k("position_m"),
            "non-finite coordinate",
            "give three numbers in metres",
        );
    }
    let orientation = orientation(p, i, im);
    if let Some(w) = im.min_wall_distance_m {
        if !(w >= 0.0) || !w.is_finite() {
            p.add(
                &k("min_wall_distance_m"),
                format!("{w} is negative or not finite"),
                "give metres ≥ 0",
            );
        }
    }
    let file = resolve(base, &im.file);
    let name = crate::spec::name_or_stem(im.name.clone(), &file, "");
    ImplantPlacement {
        file,
        name,
        position_m: im.position_m,
        orientation,
        min_wall_distance_m: im.min_wall_distance_m,
    }
}

/// `implants[i]`: `direction` (+ `roll_deg`) or `euler_deg`.
fn orientation(p: &mut Problems, i: usize, im: &ImplantToml) -> Orientation {
    let k = |s: &str| format!("implants[{i}].{s}");
    match (im.direction, im.euler_deg) {
        (Some(d), None) => {
            let n = (d[0] * d[0] + d[1] * d[1] + d[2] * d[2]).sqrt();
            if !(n > 1e-12) || !n.is_finite() {
                p.add(
                    &k("direction"),
                    "zero or non-finite vector",
                    "give the axis, e.g. [0, 0, 1]",
                );
            }
            let roll = im.roll_deg.unwrap_or(0.0);
            if !roll.is_finite() {
                p.add(&k("roll_deg"), "non-finite", "give degrees");
            }
            let n = if n > 1e-12 && n.is_finite() { n } else { 1.0 };
            Orientation::Direction {
                direction: [d[0] / n, d[1] / n, d[2] / n],
                roll_deg: roll,
            }
        }
        (None, Some(e)) => {
            if e.iter().any(|x| !x.is_finite()) {
                p.add(&k("euler_deg"), "non-finite angle", "give three angles in degrees");
            }
            if im.roll_deg.is_some() {
                p.add(
                    &k("roll_deg"),
                    "roll_deg goes with direction, not euler_deg",
                    "remove roll_deg",
                );
            }
            Orientation::EulerZyzDeg(e)
        }
        _ => {
            p.add(
                &k("direction"),
                "give exactly one of direction or euler_deg",
                "e.g. direction = [0, 0, 1]",
            );
            Orientation::EulerZyzDeg([0.0; 3])
        }
    }
}

/// `[normalisation]`: exactly one target.
fn normalisation(p: &mut Problems, n: &NormalisationToml) -> NormaliseSpec {
    let given = [
        n.whole_phantom_sar_w_per_kg.is_some(),
        n.b1_plus_rms_ut.is_some(),
        n.input_power_w.is_some(),
        n.operating_mode.is_some(),
    ]
    .iter()
    .filter(|&&b| b)
    .count();
    if given != 1 {
        p.add(
            "normalisation",
            format!("{given} targets given, exactly one is needed"),
            "keep one of whole_phantom_sar_w_per_kg, b1_plus_rms_ut, input_power_w, operating_mode",
        );
    }
    if let Some(v) = n.whole_phantom_sar_w_per_kg {
        finite_pos(
            p,
            "normalisation.whole_phantom_sar_w_per_kg",
            v,
            "e.g. 2.0 (normal mode)",
        );
        NormaliseSpec::WholePhantom(v)
    } else if let Some(v) = n.b1_plus_rms_ut {
        finite_pos(p, "normalisation.b1_plus_rms_ut", v, "e.g. 2.0 µT");
        NormaliseSpec::B1RmsUt(v)
    } else if let Some(v) = n.input_power_w {
        finite_pos(p, "normalisation.input_power_w", v, "give watts");
        NormaliseSpec::PowerW(v)
    } else {
        NormaliseSpec::Mode(n.operating_mode.unwrap_or(OperatingMode::Normal))
    }
}

/// One criterion of `[criteria]`: its id, label, the quantity it limits with the unit, and the
/// recipe's key of its limit.
struct CriterionKind {
    id: &'static str,
    label: &'static str,
    value_key: &'static str,
    unit: &'static str,
    limit_key: &'static str,
}

/// The criteria a recipe (or `implant search --limit`) can give, in a fixed order: temperature rise,
/// 1 g SAR, 10 g SAR, CEM43.
const CRITERION_KINDS: [CriterionKind; 4] = [
    CriterionKind {
        id: "temperature_rise",
        label: "Maximum temperature rise ΔT at the implant",
        value_key: criteria::KEY_TEMPERATURE_RISE,
        unit: "K",
        limit_key: "limit_k",
    },
    CriterionKind {
        id: "sar_1g",
        label: "Peak 1 g averaged SAR",
        value_key: criteria::KEY_SAR_1G,
        unit: "W/kg",
        limit_key: "limit_w_per_kg",
    },
    CriterionKind {
        id: "sar_10g",
        label: "Peak 10 g averaged SAR",
        value_key: criteria::KEY_SAR_10G,
        unit: "W/kg",
        limit_key: "limit_w_per_kg",
    },
    CriterionKind {
        id: "cem43",
        label: "Thermal dose CEM43 at the implant",
        value_key: criteria::KEY_CEM43,
        unit: "min",
        limit_key: "limit_min",
    },
];

/// The criterion `id` (`temperature_rise` in K, `sar_1g` and `sar_10g` in W/kg, `cem43` in min) with
/// its limit and uncertainty factor, as a recipe's `[criteria]` makes it; `None` for an unknown id.
/// The values are not checked here ([`criteria::evaluate`] refuses bad ones).
pub fn criterion(id: &str, limit: f64, uncertainty_factor: f64) -> Option<Criterion> {
    CRITERION_KINDS.iter().find(|k| k.id == id).map(|kind| Criterion {
        id: kind.id.into(),
        label: kind.label.into(),
        value_key: kind.value_key.into(),
        unit: kind.unit.into(),
        limit,
        uncertainty_factor,
    })
}

/// The ids [`criterion`] knows, with the unit of each limit.
pub fn criterion_ids() -> Vec<(&'static str, &'static str)> {
    CRITERION_KINDS.iter().map(|k| (k.id, k.unit)).collect()
}

/// `[criteria]` in a fixed order: temperature rise, 1 g SAR, 10 g SAR, CEM43.
fn criteria_list(p: &mut Problems, c: &CriteriaToml) -> Vec<Criterion> {
    let given = [
        c.temperature_rise.as_ref().map(|x| (x.limit_k, x.uncertainty_factor)),
        c.sar_1g.as_ref().map(|x| (x.limit_w_per_kg, x.uncertainty_factor)),
        c.sar_10g.as_ref().map(|x| (x.limit_w_per_kg, x.uncertainty_factor)),
        c.cem43.as_ref().map(|x| (x.limit_min, x.uncertainty_factor)),
    ];
    let kinds = CRITERION_KINDS.iter().zip(given);
    let mut crit = Vec::new();
    for (kind, given) in kinds {
        let Some((limit, f)) = given else { continue };
        finite_pos(p, &format!("criteria.{}.{}", kind.id, kind.limit_key), limit, "give a positive limit");
        if !(f >= 1.0) || !f.is_finite() {
            p.add(
                &format!("criteria.{}.uncertainty_factor", kind.id),
                format!("{f} is not a finite number ≥ 1"),
                "use 1 for no margin, e.g. 1.5 for 50 % model uncertainty",
            );
        }
        crit.push(Criterion {
            id: kind.id.into(),
            label: kind.label.into(),
            value_key: kind.value_key.into(),
            unit: kind.unit.into(),
            limit,
            uncertainty_factor: f,
        });
    }
    if crit.is_empty() {
        p.add(
            "criteria",
            "no criterion given",
            "add at least one of temperature_rise, sar_1g, sar_10g, cem43",
        );
    }
    crit
}

impl Recipe {
    /// Reads and validates a recipe file.
    pub fn load(path: &Path) -> Result<Self> {
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        spec::load(path, |text, _| Self::from_toml_str(text, path, &base))
    }

    /// Parses recipe text; `path` names it in errors and `base` is the directory relative paths start from.
    pub fn from_toml_str(text: &str, path: &Path, base: &Path) -> Result<Self> {
        let src = path.display().to_string();
        let raw: RecipeToml = spec::parse(text, &src, RECIPE_KEYS)?;
        let mut p = Problems::new(&src);
        if raw.title.trim().is_empty() {
            p.add("title", "empty title", "give the report a title");
        }
        let twin = twin_source(&mut p, &raw.twin, base, &src);
        let implants = raw
            .implants
            .iter()
            .enumerate()
            .map(|(i, im)| implant_placement(&mut p, i, im, base))
            .collect();
        let normalisation = normalisation(&mut p, &raw.normalisation);
        let e = &raw.exposure;
        finite_pos(&mut p, "exposure.duration_s", e.duration_s, "e.g. 900 for 15 minutes");
        if let Some(t) = e.baseline_temperature_c {
            if !(t > -50.0 && t < 60.0) {
                p.add(
                    "exposure.baseline_temperature_c",
                    format!("{t} °C is implausible"),
                    "e.g. 37 or 22",
                );
            }
        }
        let crit = criteria_list(&mut p, &raw.criteria);
        p.finish()?;
        Ok(Self {
            path: path.to_path_buf(),
            title: raw.title,
            description: raw.description.unwrap_or_default(),
            twin,
            implants,
            normalisation,
            exposure_s: e.duration_s,
            baseline_temperature_c: e.baseline_temperature_c,
            criteria: crit,
            builtin_base: None,
        })
    }

    /// The baseline (initial) temperature of the exposure: the recipe's `[exposure]
    /// baseline_temperature_c`, else [`DEFAULT_BASELINE_TEMPERATURE_C`]. CEM43 is computed from it;
    /// the temperature rise does not depend on it (linear Pennes model).
    pub fn baseline_temperature(&self) -> f64 {
        self.baseline_temperature_c.unwrap_or(DEFAULT_BASELINE_TEMPERATURE_C)
    }

    /// How the report names input `p`: its lexical path (`reports/../coils/x.toml` → `coils/x.toml`), or
    /// for a built-in demo input "built-in demo input coils/x.toml".
    pub fn display_path(&self, p: &Path) -> String {
        let lp = lexical_path(p);
        if let Some(base) = &self.builtin_base {
            if let Ok(rel) = lp.strip_prefix(lexical_path(base)) {
                return format!("built-in demo input {}", rel.display());
            }
        }
        lp.display().to_string()
    }

    /// Input values the recipe's text inputs mark "UNCONFIRMED" in a comment (phantom, coil, implant
    /// files, the recipe itself), for the report's first page.
    pub fn unconfirmed_values(&self) -> Vec<crate::report::UnconfirmedValue> {
        let mut out = Vec::new();
        for (role, f) in self.input_files() {
            if f.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(&f) else { continue };
            for (line, t) in crate::report::unconfirmed_lines(&text) {
                out.push(crate::report::UnconfirmedValue {
                    role: role.clone(),
                    path: self.display_path(&f),
                    line,
                    text: t,
                });
            }
        }
        out
    }

    /// The input files with their roles, the recipe first.
    pub fn input_files(&self) -> Vec<(String, PathBuf)> {
        let mut v = vec![("recipe".to_string(), self.path.clone())];
        match &self.twin {
            TwinSource::Dir(d) => v.push(("twin directory".into(), d.clone())),
            TwinSource::Model {
                coil,
                phantom,
                measured,
                map_options,
                ..
            } => {
                v.push(("coil".into(), coil.clone()));
                v.push(("phantom".into(), phantom.clone()));
                if let Some(m) = measured {
                    v.push(("measured B1+ map".into(), m.clone()));
                }
                if let Some(m) = &map_options.mask {
                    v.push(("measured map mask".into(), m.clone()));
                }
            }
        }
        for im in &self.implants {
            v.push((format!("implant {}", im.name), im.file.clone()));
        }
        v
    }

    /// Fails, listing every missing input, if a file (or the twin directory) does not exist.
    pub fn check_files(&self) -> Result<()> {
        let mut p = Problems::new(&self.path.display().to_string());
        for (role, f) in self.input_files() {
            let ok = if role == "twin directory" {
                f.is_dir()
            } else {
                f.is_file()
            };
            if !ok {
                p.add(
                    &role,
                    format!("{} does not exist", f.display()),
                    "correct the path (relative to the recipe file) or create the file",
                );
            }
        }
        p.finish()
    }

    /// SHA-256 of every input file (for a twin directory, of its files `twin.toml` and `fit.json` when present).
    pub fn hash_inputs(&self) -> Result<Vec<InputFile>> {
        let mut out = Vec::new();
        for (role, f) in self.input_files() {
            if f.is_dir() {
                for name in ["twin.toml", "fit.json"] {
                    let g = f.join(name);
                    if g.is_file() {
                        let mut h = InputFile::hash(&format!("{role} {name}"), &g)?;
                        h.path = self.display_path(&g);
                        out.push(h);
                    }
                }
            } else {
                let mut h = InputFile::hash(&role, &f)?;
                h.path = self.display_path(&f);
                out.push(h);
            }
        }
        Ok(out)
    }
}
