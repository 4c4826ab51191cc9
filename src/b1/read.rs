//! A measured map as the user names it: the file plus the options of `rftwin twin fit` (`--unit`,
//! `--nominal-flip-deg`, `--scale`, `--dataset`, `--volume`, `--mask`) or the same keys in a
//! recipe's `[twin]` section ([`MapReadOptions`]), read by [`read_measured`] and converted to the
//! unit the fit works in: |B1+| in µT stays in µT, every relative or flip-angle map becomes relative
//! B1 (a fraction, 1 = nominal). `docs/b1-maps.md` is the user's page of all this.

use std::path::{Path, PathBuf};

use ndarray::Zip;

use super::dicom_io::{is_dicom_input, read_dicom_series};
use super::h5_io::{read_h5_map, H5MapOptions};
use super::map::Frame;
use super::map::{B1Map, B1Unit, RelativeScale, UnitKeys};
use super::mask::mask_from_file;
use super::nifti_io::{read_nifti_map, sidecar_path, NiftiMapOptions};
use super::patient::{FrameChoice, PatientPosition, POSITIONS};
use super::vendor::{recognise, Recognised, ScanInfo};
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
    pub frame: String,
    pub patient_position: String,
    pub table_position_m: String,
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
            frame: "--frame".into(),
            patient_position: "--patient-position".into(),
            table_position_m: "--table-position-m".into(),
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
            frame: "twin.measured_frame".into(),
            patient_position: "twin.measured_patient_position".into(),
            table_position_m: "twin.measured_table_position_m".into(),
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
    /// `coil` or `patient`: which frame the map's positions are in (default: patient for DICOM, for
    /// NIfTI without `"RftwinFrame": "simulation"` and for HDF5 with `frame = scanner_ras`; else coil).
    pub frame: Option<String>,
    /// HFS, FFS, HFP, FFP, HFDR, HFDL, FFDR, FFDL (default: the sidecar's or DICOM `PatientPosition`).
    pub patient_position: Option<String>,
    /// Coil-frame z (m) of the patient frame's origin (default 0: the landmark at the isocentre).
    pub table_position_m: Option<f64>,
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
    /// What the scanner said about the map and how it was placed (`fit.json` `map.info`): the kind
    /// recognised, manufacturer, sequence and protocol names, TxRefAmp (V), patient position,
    /// table position, frame.
    pub info: serde_json::Value,
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
    if let Some(t) = o.table_position_m {
        if !t.is_finite() {
            return Err(Error::input(
                &n.source,
                &n.table_position_m,
                format!("{t} is not a finite number"),
                format!("give e.g. {} 0 (metres)", n.table_position_m),
            ));
        }
    }
    let declared = declared_unit(o)?;
    let hint = n.unit_hint();
    let name = path.display().to_string();
    // What the scanner wrote beside the map (sidecar or DICOM attributes), and where.
    let mut scan: Option<(ScanInfo, String)> = None;
    let mut kind = "";
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
        let side = sidecar_path(path);
        let side_name = side.display().to_string();
        let sidecar: Option<serde_json::Value> = if side.exists() {
            serde_json::from_str(&crate::spec::read_text(&side)?).ok()
        } else {
            None
        };
        let mut unit = declared;
        if let Some(js) = &sidecar {
            let file_name = path
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            let info = ScanInfo::from_sidecar(js, &file_name);
            if unit.is_none() && js.get("B1Unit").is_none() {
                let rec = recognise(&info);
                kind = rec.kind();
                let side_num = |k: &str| js.get(k).and_then(|v| v.as_f64());
                unit = recognised_unit(
                    &rec,
                    o,
                    side_num("B1NominalFlipAngleDeg"),
                    side_num("B1FlipAngleScale"),
                    &name,
                    &side_name,
                )?;
            }
            scan = Some((info, side_name));
        }
        read_nifti_map(
            path,
            &NiftiMapOptions {
                unit,
                volume: o.volume,
                frame: None,
                nominal_flip_deg: o.nominal_flip_deg,
                flip_scale: o.scale,
                options_hint: hint,
            },
        )?
    } else if is_dicom_input(path) {
        for (given, key) in [(o.dataset.is_some(), &n.dataset), (o.volume.is_some(), &n.volume)] {
            if given {
                return Err(Error::input(
                    &n.source,
                    key,
                    format!("does not apply to a DICOM series ({name})"),
                    format!("remove {key} (the directory must hold the map's series alone)"),
                ));
            }
        }
        let series = read_dicom_series(path)?;
        let rec = recognise(&series.info);
        kind = rec.kind();
        let unit = match declared {
            Some(u) => u,
            None => match recognised_unit(&rec, o, None, None, &name, "")? {
                Some(u) => u,
                None => {
                    return Err(Error::input(
                        &name,
                        "unit",
                        format!(
                            "the unit of the B1 map is not known (not a recognised Siemens tfl_b1map/rf_map, \
                             Philips B1 map; manufacturer {:?}, series {:?})",
                            series.info.manufacturer.clone().unwrap_or_default(),
                            series.info.series_description.clone().unwrap_or_default()
                        ),
                        format!("declare it: {}", n.unit_hint().trim_start_matches("or ")),
                    ))
                }
            },
        };
        let m = B1Map::new(series.data, series.affine_ras, Frame::ScannerRas, unit, &name)?;
        scan = Some((series.info, name.clone()));
        m
    } else {
        return Err(Error::input(
            &name,
            "measured",
            "unknown map format",
            "give a .nii, .nii.gz, .h5 or .hdf5 file, or a directory (or .dcm file) of a DICOM series",
        ));
    };
    let mut map = map;
    let placed = place_in_coil_frame(&mut map, o, scan.as_ref())?;
    let mut info = serde_json::json!({ "format": if is_hdf5(path) { "hdf5" } else if is_nifti(path) { "nifti" } else { "dicom" } });
    if let Some((s, _)) = &scan {
        if let (Some(a), Some(b)) = (info.as_object_mut(), s.to_json().as_object()) {
            for (k, v) in b {
                a.insert(k.clone(), v.clone());
            }
        }
    }
    info["recognised_as"] = serde_json::json!(if kind.is_empty() { None } else { Some(kind) });
    info["frame"] = serde_json::json!(placed.frame);
    info["patient_position"] = serde_json::json!(placed.patient_position);
    info["table_position_m"] = serde_json::json!(placed.table_position_m);
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
    Ok(MeasuredMap { map, stored_as, info })
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

/// The unit a recognised map has (None: not recognised, the file's own rules apply). `side_nominal`
/// and `side_scale` are the sidecar's `B1NominalFlipAngleDeg` and `B1FlipAngleScale`; `header` names
/// the sidecar (empty: none, e.g. DICOM).
fn recognised_unit(
    rec: &Recognised,
    o: &MapReadOptions,
    side_nominal: Option<f64>,
    side_scale: Option<f64>,
    file: &str,
    header: &str,
) -> Result<Option<B1Unit>> {
    let n = &o.names;
    match rec {
        Recognised::Unknown => Ok(None),
        Recognised::Unit { unit, .. } => Ok(Some(*unit)),
        Recognised::FlipAngle {
            kind,
            scale,
            nominal_why,
        } => {
            let nominal = o.nominal_flip_deg.or(side_nominal).ok_or_else(|| {
                Error::input(
                    file,
                    &n.nominal_flip_deg,
                    format!(
                        "recognised as a {kind} flip-angle map, but its nominal flip angle is not known: {nominal_why}"
                    ),
                    format!(
                        "give {} = the prescribed preparation flip angle of the protocol in degrees (80 on most \
                         software versions; check the protocol){}",
                        n.nominal_flip_deg,
                        if header.is_empty() {
                            String::new()
                        } else {
                            format!(", or add \"B1NominalFlipAngleDeg\" to {header}")
                        }
                    ),
                )
            })?;
            let unit = B1Unit::FlipAngleDeg {
                nominal_deg: nominal,
                scale: o.scale.or(side_scale).unwrap_or(*scale),
            };
            unit.validate(file)?;
            Ok(Some(unit))
        }
        Recognised::NeedsUnit { kind, why } => Err(Error::input(
            file,
            &n.unit,
            format!("recognised as a {kind}, but {why}"),
            format!("declare it: {}", n.unit_hint().trim_start_matches("or ")),
        )),
        Recognised::NotAMap { kind, why } => Err(Error::input(
            file,
            "measured",
            format!("{why}"),
            format!(
                "give the {kind}'s flip-angle map (the series or file whose ImageComments say \"flip angle map\", \
                 BIDS acq-famp)"
            ),
        )),
    }
}

/// How a map was placed in the coil frame.
struct Placed {
    frame: String,
    patient_position: Option<String>,
    table_position_m: Option<f64>,
}

/// Moves a map in patient coordinates into the coil frame ([`super::patient`]); a map in the coil
/// frame stays as it is. `scan`: what the scanner wrote and where (for `PatientPosition`).
fn place_in_coil_frame(map: &mut B1Map, o: &MapReadOptions, scan: Option<&(ScanInfo, String)>) -> Result<Placed> {
    let n = &o.names;
    let choice = match &o.frame {
        Some(t) => FrameChoice::parse(t, &n.source, &n.frame)?,
        None if map.frame == Frame::ScannerRas => FrameChoice::Patient,
        None => FrameChoice::Coil,
    };
    if choice == FrameChoice::Coil {
        for (given, key) in [
            (o.patient_position.is_some(), &n.patient_position),
            (o.table_position_m.is_some(), &n.table_position_m),
        ] {
            if given {
                return Err(Error::input(
                    &n.source,
                    key,
                    format!(
                        "applies to maps in patient coordinates, but the map {} is in the coil frame",
                        map.source
                    ),
                    format!(
                        "remove {key}, or give {} patient if the map is in patient coordinates",
                        n.frame
                    ),
                ));
            }
        }
        map.frame = Frame::Simulation;
        return Ok(Placed {
            frame: "coil".into(),
            patient_position: None,
            table_position_m: None,
        });
    }
    let pp = match (
        &o.patient_position,
        scan.and_then(|(s, f)| s.patient_position.clone().map(|p| (p, f))),
    ) {
        (Some(t), _) => PatientPosition::parse(t, &n.source, &n.patient_position)?,
        (None, Some((t, from))) => PatientPosition::parse(&t, from, "PatientPosition").map_err(|e| {
            Error::input(
                from,
                "PatientPosition",
                format!("{e}"),
                format!("give {} instead", n.patient_position),
            )
        })?,
        (None, None) => {
            return Err(Error::input(
                &map.source,
                &n.patient_position,
                "the map is in patient coordinates, but how the patient lay is not known (no PatientPosition in a \
                 sidecar or the DICOM files)",
                format!(
                    "give {} ({POSITIONS}), or {} coil if the map is already in the coil frame",
                    n.patient_position, n.frame
                ),
            ))
        }
    };
    let table = o.table_position_m.unwrap_or(0.0);
    // The map's patient coordinates are RAS (NIfTI, HDF5 scanner_ras, DICOM converted on reading).
    map.affine = pp.ras_to_coil(table).compose(&map.affine);
    map.frame = Frame::Simulation;
    Ok(Placed {
        frame: format!("patient → coil ({}, table {} m)", pp.as_str(), table),
        patient_position: Some(pp.as_str().to_string()),
        table_position_m: Some(table),
    })
}

/// The scanner facts of [`MeasuredMap::info`] in words for the report ("Siemens tfl_b1map, sequence
/// *tfl2d1_16, TxRefAmp 287.3 V, patient FFS, table 0 m"); empty when the map has none (rftwin's
/// own maps in the coil frame).
pub fn info_summary(info: &serde_json::Value) -> String {
    let mut parts = Vec::new();
    if let Some(k) = info["recognised_as"].as_str() {
        parts.push(k.to_string());
    }
    if let Some(s) = info["sequence_name"].as_str() {
        parts.push(format!("sequence {s}"));
    }
    if let Some(v) = info["tx_ref_amp_v"].as_f64() {
        parts.push(format!("TxRefAmp {v} V"));
    }
    if let Some(p) = info["patient_position"].as_str() {
        parts.push(format!(
            "patient {p}, table {} m",
            info["table_position_m"].as_f64().unwrap_or(0.0)
        ));
    }
    parts.join(", ")
}
