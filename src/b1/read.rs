//! A measured map as the user names it: the file plus the options of `rftwin twin fit` (`--unit`,
//! `--nominal-flip-deg`, `--scale`, `--dataset`, `--volume`, `--mask`) or the same keys in a
//! recipe's `[twin]` section ([`MapReadOptions`]), read by [`read_measured`] and converted to the
//! unit the fit works in: |B1+| in µT stays in µT, every relative or flip-angle map becomes relative
//! B1 (a fraction, 1 = nominal). `docs/b1-maps.md` is the user's page of all this.

use std::path::{Path, PathBuf};

use ndarray::Zip;

use super::h5_io::{read_h5_map, H5MapOptions};
use super::map::{B1Map, B1Unit, RelativeScale, UnitKeys};
use super::mask::mask_from_file;
use super::nifti_io::{read_nifti_map, NiftiMapOptions};
use crate::error::{Error, Result};

/// How the options of [`MapReadOptions`] are called where they were given, for messages that name
/// an option that exists.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OptionNames {
    /// "command line" or the recipe file.
    pub source: String,
    pub unit: String,
    pub nominal_flip_deg: String,
    pub scale: String,
    pub dataset: String,
    pub volume: String,
    pub mask: String,
}

impl OptionNames {
    /// The options of `rftwin twin fit`.
    pub fn command_line() -> Self {
        OptionNames {
            source: "command line".into(),
            unit: "--unit".into(),
            nominal_flip_deg: "--nominal-flip-deg".into(),
            scale: "--scale".into(),
            dataset: "--dataset".into(),
            volume: "--volume".into(),
            mask: "--mask".into(),
        }
    }

    /// The keys of a recipe's `[twin]` section (`recipe` names the file).
    pub fn recipe(recipe: &str) -> Self {
        OptionNames {
            source: recipe.into(),
            unit: "twin.measured_unit".into(),
            nominal_flip_deg: "twin.measured_nominal_flip_deg".into(),
            scale: "twin.measured_scale".into(),
            dataset: "twin.measured_dataset".into(),
            volume: "twin.measured_volume".into(),
            mask: "twin.measured_mask".into(),
        }
    }

    /// The options that declare a map's unit, as a fix: "or give --unit ...".
    pub fn unit_hint(&self) -> String {
        format!(
            "or declare it with {} uT|deg|percent|fraction (a flip-angle map also with {} = the prescribed angle \
             and {} = stored units per degree, e.g. 80 and 10 for a Siemens tfl_b1map)",
            self.unit, self.nominal_flip_deg, self.scale
        )
    }
}

impl Default for OptionNames {
    fn default() -> Self {
        Self::command_line()
    }
}

/// How to read a measured map (see the module documentation). Each value, when given, overrides
/// what the file says (its JSON sidecar or HDF5 attributes).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapReadOptions {
    /// `uT`, `deg`, `percent` or `fraction`.
    pub unit: Option<String>,
    /// The prescribed flip angle of a flip-angle map (degrees).
    pub nominal_flip_deg: Option<f64>,
    /// Stored numbers per unit: the stored value is `scale` × the value in the unit (10 for a
    /// Siemens tfl_b1map, whose 800 means 80°; default 1).
    pub scale: Option<f64>,
    /// The HDF5 dataset holding the map (default `b1`, or the only 3-D dataset at the root).
    pub dataset: Option<String>,
    /// 0-based volume of a 4-D map.
    pub volume: Option<usize>,
    /// A mask file (NIfTI or HDF5, nonzero = use) on the map's grid; replaces the automatic mask.
    pub mask: Option<PathBuf>,
    /// How these options are called where they were given.
    pub names: OptionNames,
}

/// A measured map read with [`read_measured`].
#[derive(Clone, Debug)]
pub struct MeasuredMap {
    /// The map in µT or as relative B1 (a fraction), with the mask file applied.
    pub map: B1Map,
    /// What the stored numbers were, in words (e.g. "deg × 10, nominal 80°").
    pub stored_as: String,
}

fn is_hdf5(path: &Path) -> bool {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    lower.ends_with(".h5") || lower.ends_with(".hdf5")
}

fn is_nifti(path: &Path) -> bool {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    lower.ends_with(".nii") || lower.ends_with(".nii.gz")
}

fn positive(names: &OptionNames, key: &str, v: Option<f64>, example: &str) -> Result<()> {
    match v {
        Some(x) if !(x > 0.0 && x.is_finite()) => Err(Error::input(
            &names.source,
            key,
            format!("{x} is not a positive finite number"),
            format!("give e.g. {key} {example}"),
        )),
        _ => Ok(()),
    }
}

/// The unit the options declare, if any.
fn declared_unit(o: &MapReadOptions) -> Result<Option<B1Unit>> {
    let n = &o.names;
    let Some(text) = &o.unit else { return Ok(None) };
    let keys = UnitKeys {
        unit: n.unit.clone(),
        nominal: n.nominal_flip_deg.clone(),
        scale: n.scale.clone(),
        json: false,
        options: String::new(),
    };
    // Classify first (a stand-in nominal angle), then ask for what a flip-angle map needs.
    let unit = B1Unit::parse_keyed(text, Some(o.nominal_flip_deg.unwrap_or(1.0)), o.scale, &n.source, &keys)?;
    if let B1Unit::FlipAngleDeg { .. } = unit {
        if o.nominal_flip_deg.is_none() {
            return Err(Error::input(
                &n.source,
                &n.nominal_flip_deg,
                format!(
                    "a flip-angle map ({} {text}) needs its nominal (prescribed) flip angle",
                    n.unit
                ),
                format!(
                    "give {} = the flip angle the sequence prescribed in degrees (e.g. 80), and {} = stored \
                     units per degree (10 for a Siemens tfl_b1map, whose 800 means 80°)",
                    n.nominal_flip_deg, n.scale
                ),
            ));
        }
    }
    Ok(Some(unit))
}

/// Reads the measured map at `path` with the options `o` (see the module documentation): NIfTI
/// (`.nii`, `.nii.gz`, unit from the JSON sidecar) or HDF5 (`.h5`, `.hdf5`); the mask file, when
/// given, is intersected with the map's own mask.
pub fn read_measured(path: &Path, o: &MapReadOptions) -> Result<MeasuredMap> {
    let n = &o.names;
    positive(n, &n.nominal_flip_deg, o.nominal_flip_deg, "80")?;
    positive(n, &n.scale, o.scale, "10")?;
    let declared = declared_unit(o)?;
    let hint = n.unit_hint();
    let map = if is_hdf5(path) {
        read_h5_map(
            path,
            &H5MapOptions {
                dataset: o.dataset.clone(),
                unit: declared,
                frame: None,
                volume: o.volume,
                nominal_flip_deg: o.nominal_flip_deg,
                flip_scale: o.scale,
                options_hint: hint,
            },
        )?
    } else if is_nifti(path) {
        if let Some(d) = &o.dataset {
            return Err(Error::input(
                &n.source,
                &n.dataset,
                format!("names an HDF5 dataset ({d}), but {} is NIfTI", path.display()),
                format!("remove {} (a NIfTI file holds one map)", n.dataset),
            ));
        }
        read_nifti_map(
            path,
            &NiftiMapOptions {
                unit: declared,
                volume: o.volume,
                frame: None,
                nominal_flip_deg: o.nominal_flip_deg,
                flip_scale: o.scale,
                options_hint: hint,
            },
        )?
    } else {
        return Err(Error::input(
            &path.display().to_string(),
            "measured",
            "unknown map format",
            "give a .nii, .nii.gz, .h5 or .hdf5 file",
        ));
    };
    let mut map = map;
    let mut stored_as = map.unit.as_str().to_string();
    match map.unit {
        B1Unit::FlipAngleDeg { nominal_deg, scale } => {
            stored_as = if scale == 1.0 {
                format!("deg, nominal {nominal_deg}°")
            } else {
                format!("deg × {scale}, nominal {nominal_deg}°")
            };
        }
        _ => {
            if o.nominal_flip_deg.is_some() {
                return Err(Error::input(
                    &n.source,
                    &n.nominal_flip_deg,
                    format!(
                        "a nominal flip angle was given, but the map {} is in {}, not a flip angle",
                        path.display(),
                        map.unit.as_str()
                    ),
                    format!("remove {} or declare the unit: {} deg", n.nominal_flip_deg, n.unit),
                ));
            }
            if let Some(s) = o.scale.filter(|s| *s != 1.0) {
                map.magnitude.mapv_inplace(|v| (v as f64 / s) as f32);
                stored_as = format!("{} × {s}", map.unit.as_str());
            }
        }
    }
    if let Some(mpath) = &o.mask {
        let m = mask_from_file(mpath, None, &map)?;
        let combined = match map.mask.take() {
            Some(mut own) => {
                Zip::from(&mut own).and(&m).for_each(|a, &b| *a = *a && b);
                own
            }
            None => m,
        };
        map.mask = Some(combined);
        map.validate()?;
    }
    let map = match map.unit {
        B1Unit::MicroTesla => map,
        _ => map.converted(
            B1Unit::Relative {
                fraction_or_percent: RelativeScale::Fraction,
            },
            None,
        )?,
    };
    Ok(MeasuredMap { map, stored_as })
}

/// Whether a map (as [`read_measured`] gives it) is relative B1 rather than µT.
pub fn is_relative(map: &B1Map) -> bool {
    !matches!(map.unit, B1Unit::MicroTesla)
}

/// The axis label of a map's values in figures: "|B1+| (µT)" or "B1+ / nominal (%)", and the factor
/// from the map's numbers to the label's.
pub fn value_label(map: &B1Map) -> (&'static str, f32) {
    if is_relative(map) {
        ("B1+ / nominal (%)", 100.0)
    } else {
        ("|B1+| (µT)", 1.0)
    }
}
