//! What a scanner's B1 map is, from what the scanner wrote beside it: the dcm2niix/BIDS JSON
//! sidecar of a NIfTI file, or the DICOM attributes of a series (gathered into [`ScanInfo`]), and
//! the file name (BIDS suffixes).
//!
//! | map | recognised by | stored numbers |
//! |---|---|---|
//! | Siemens `tfl_b1map` (BIDS `TB1TFL`), Siemens `rf_map` (BIDS `TB1RFM`) flip-angle map | Siemens, and `tfl_b1map`/`rf_map` in the protocol/series name or sequence details, or the BIDS suffix; the flip-angle map (not the anatomical image): `ImageComments` "flip angle map", `ImageType` `FLIP ANGLE MAP`/`B1`, or BIDS `acq-famp` | flip angle × 10 (800 = 80°); the nominal (preparation) angle is not in the sidecar or DICOM (80° or 90° depending on software version; `FlipAngle` is the readout's): from `B1NominalFlipAngleDeg` or `--nominal-flip-deg` |
//! | Philips B1 map (DREAM, `B1map`) | Philips, and `B1` in `ImageType` or `b1`/`dream` in the series/protocol name | percent of nominal |
//! | GE B1 map | GE, and `B1` in `ImageType` or series/protocol name | recognised, but the unit is not in the header: `--unit` |
//! | BIDS `TB1map` | the file name suffix | from the sidecar's `Units` (`percent`/`%`, `uT`, `deg`, `fraction`), else `--unit` |
//!
//! The transmitter reference amplitude (Siemens `TxRefAmp`, or "TraRefAmpl: 287.3 V" in
//! `ImageComments`), the sequence name and the patient position are kept for `fit.json`.

use serde_json::Value;

use super::map::B1Unit;

/// What a scanner wrote about a series (the keys dcm2niix writes into its sidecar; DICOM attributes
/// of the same names).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ScanInfo {
    pub manufacturer: Option<String>,
    pub sequence_name: Option<String>,
    pub protocol_name: Option<String>,
    pub series_description: Option<String>,
    pub pulse_sequence_details: Option<String>,
    pub image_type: Vec<String>,
    pub image_comments: Option<String>,
    /// `PatientPosition` (HFS …).
    pub patient_position: Option<String>,
    /// Transmitter reference amplitude (V).
    pub tx_ref_amp_v: Option<f64>,
    /// BIDS `Units` of a TB1map.
    pub units: Option<String>,
    /// The file name (for the BIDS suffix), lower case, without directories.
    pub file_name: String,
}

fn text(js: &Value, k: &str) -> Option<String> {
    match js.get(k)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

impl ScanInfo {
    /// From a JSON sidecar (dcm2niix / BIDS keys) and the map's file name.
    pub fn from_sidecar(js: &Value, file_name: &str) -> ScanInfo {
        let image_type = match js.get("ImageType") {
            Some(Value::Array(a)) => a.iter().filter_map(|v| v.as_str().map(String::from)).collect(),
            Some(Value::String(s)) => s.split('\\').map(String::from).collect(),
            _ => Vec::new(),
        };
        let mut s = ScanInfo {
            manufacturer: text(js, "Manufacturer"),
            sequence_name: text(js, "SequenceName"),
            protocol_name: text(js, "ProtocolName"),
            series_description: text(js, "SeriesDescription"),
            pulse_sequence_details: text(js, "PulseSequenceDetails"),
            image_type,
            image_comments: text(js, "ImageComments"),
            patient_position: text(js, "PatientPosition"),
            tx_ref_amp_v: js.get("TxRefAmp").and_then(Value::as_f64),
            units: text(js, "Units"),
            file_name: file_name.to_ascii_lowercase(),
        };
        s.fill_tx_ref_from_comments();
        s
    }

    /// Siemens writes "flip angle map, TraRefAmpl: 287.3 V" into `ImageComments`.
    pub fn fill_tx_ref_from_comments(&mut self) {
        if self.tx_ref_amp_v.is_some() {
            return;
        }
        if let Some(c) = &self.image_comments {
            if let Some(i) = c.find("TraRefAmpl:") {
                let rest = c[i + "TraRefAmpl:".len()..].trim_start();
                let num: String = rest
                    .chars()
                    .take_while(|ch| ch.is_ascii_digit() || *ch == '.')
                    .collect();
                self.tx_ref_amp_v = num.parse::<f64>().ok().filter(|v| v.is_finite());
            }
        }
    }

    fn names_contain(&self, needles: &[&str]) -> bool {
        [
            &self.protocol_name,
            &self.series_description,
            &self.pulse_sequence_details,
            &self.sequence_name,
        ]
        .iter()
        .filter_map(|s| s.as_ref())
        .any(|s| {
            let l = s.to_ascii_lowercase();
            needles.iter().any(|n| l.contains(n))
        })
    }

    fn image_type_has(&self, needle: &str) -> bool {
        self.image_type.iter().any(|t| t.trim().eq_ignore_ascii_case(needle))
    }

    fn maker(&self) -> String {
        self.manufacturer.clone().unwrap_or_default().to_ascii_lowercase()
    }

    fn bids_suffix(&self) -> Option<&'static str> {
        let stem = self
            .file_name
            .trim_end_matches(".gz")
            .trim_end_matches(".nii")
            .trim_end_matches(".json")
            .to_string();
        ["_tb1tfl", "_tb1rfm", "_tb1map"]
            .into_iter()
            .find(|s| stem.ends_with(s))
            .map(|s| match s {
                "_tb1tfl" => "TB1TFL",
                "_tb1rfm" => "TB1RFM",
                _ => "TB1map",
            })
    }

    /// The facts worth keeping (sequence, TxRefAmp, patient position), as JSON for `fit.json`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "manufacturer": self.manufacturer,
            "sequence_name": self.sequence_name,
            "protocol_name": self.protocol_name,
            "series_description": self.series_description,
            "tx_ref_amp_v": self.tx_ref_amp_v,
            "patient_position": self.patient_position,
        })
    }
}

/// What [`recognise`] found.
#[derive(Clone, Debug, PartialEq)]
pub enum Recognised {
    /// Nothing known: the unit must be declared.
    Unknown,
    /// A flip-angle map stored as `scale` × degrees, whose nominal angle the header does not give.
    FlipAngle {
        kind: &'static str,
        scale: f64,
        nominal_why: String,
    },
    /// A map whose unit is known.
    Unit { kind: &'static str, unit: B1Unit },
    /// A B1 map whose unit the header does not say.
    NeedsUnit { kind: &'static str, why: String },
    /// Not a B1 map (e.g. the anatomical image of a tfl_b1map pair).
    NotAMap { kind: &'static str, why: String },
}

impl Recognised {
    /// The kind of map in words ("Siemens tfl_b1map" …), empty when unknown.
    pub fn kind(&self) -> &'static str {
        match self {
            Recognised::Unknown => "",
            Recognised::FlipAngle { kind, .. }
            | Recognised::Unit { kind, .. }
            | Recognised::NeedsUnit { kind, .. }
            | Recognised::NotAMap { kind, .. } => kind,
        }
    }
}

/// Recognises the map (see the module documentation).
pub fn recognise(s: &ScanInfo) -> Recognised {
    let maker = s.maker();
    let suffix = s.bids_suffix();
    let comments = s.image_comments.clone().unwrap_or_default().to_ascii_lowercase();
    let siemens_seq = s.names_contain(&["tfl_b1map", "tfl_b1_map", "rf_map", "b1map", "tfl_rfmap"]);
    let tfl = suffix == Some("TB1TFL") || suffix == Some("TB1RFM") || (maker.contains("siemens") && siemens_seq);
    if tfl {
        let kind = match suffix {
            Some("TB1RFM") => "Siemens rf_map",
            _ if s.names_contain(&["rf_map", "rfmap"]) => "Siemens rf_map",
            _ => "Siemens tfl_b1map",
        };
        let anat = comments.contains("anatomical") || s.file_name.contains("acq-anat");
        let famp = comments.contains("flip angle map")
            || s.image_type_has("FLIP ANGLE MAP")
            || s.image_type_has("B1")
            || s.file_name.contains("acq-famp");
        if anat && !famp {
            return Recognised::NotAMap {
                kind,
                why: format!(
                    "this is the anatomical image of a {kind} pair, not its flip-angle map (ImageComments \
                     \"flip angle map\", BIDS acq-famp)"
                ),
            };
        }
        return Recognised::FlipAngle {
            kind,
            scale: 10.0,
            nominal_why: format!(
                "a {kind} map stores 10 × the measured flip angle of its preparation pulse; the prescribed \
                 (nominal) preparation angle differs between software versions (80° or 90°) and is not in the \
                 header (its FlipAngle, when there is one, is the readout's)"
            ),
        };
    }
    if maker.contains("philips")
        && (s.image_type_has("B1") || s.image_type_has("B1_MAP") || s.names_contain(&["b1", "dream"]))
    {
        return Recognised::Unit {
            kind: "Philips B1 map",
            unit: B1Unit::Relative {
                fraction_or_percent: super::map::RelativeScale::Percent,
            },
        };
    }
    if (maker.contains("ge ") || maker.starts_with("ge") || maker.contains("general electric"))
        && (s.image_type_has("B1") || s.names_contain(&["b1"]))
    {
        return Recognised::NeedsUnit {
            kind: "GE B1 map",
            why: "a GE B1 map does not say its unit in its header (it depends on the product and its version)".into(),
        };
    }
    if suffix == Some("TB1map") {
        let unit = s.units.as_deref().map(|u| u.trim().to_ascii_lowercase());
        let parsed = match unit.as_deref() {
            Some("percent") | Some("%") | Some("pct") => Some(B1Unit::Relative {
                fraction_or_percent: super::map::RelativeScale::Percent,
            }),
            Some("fraction") | Some("relative") | Some("ratio") | Some("1") => Some(B1Unit::Relative {
                fraction_or_percent: super::map::RelativeScale::Fraction,
            }),
            Some("ut") | Some("µt") | Some("microtesla") => Some(B1Unit::MicroTesla),
            _ => None,
        };
        return match parsed {
            Some(unit) => Recognised::Unit {
                kind: "BIDS TB1map",
                unit,
            },
            None => Recognised::NeedsUnit {
                kind: "BIDS TB1map",
                why: format!(
                    "a BIDS TB1map's unit is in its sidecar's \"Units\" ({})",
                    match &s.units {
                        Some(u) => format!("\"{u}\" is not one rftwin knows"),
                        None => "absent".into(),
                    }
                ),
            },
        };
    }
    Recognised::Unknown
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siemens_sidecar_and_tx_ref() {
        let js: Value = serde_json::from_str(
            r#"{"Manufacturer":"Siemens","SequenceName":"*tfl2d1_16","ProtocolName":"tfl_b1map",
                "ImageComments":"flip angle map, TraRefAmpl: 287.3 V","ImageType":["ORIGINAL","PRIMARY","M","ND"],
                "PatientPosition":"FFS","FlipAngle":8}"#,
        )
        .unwrap();
        let s = ScanInfo::from_sidecar(&js, "sub-01_b1.nii.gz");
        assert_eq!(s.tx_ref_amp_v, Some(287.3));
        match recognise(&s) {
            Recognised::FlipAngle {
                scale,
                kind,
                nominal_why,
            } => {
                assert_eq!(scale, 10.0);
                assert_eq!(kind, "Siemens tfl_b1map");
                assert!(nominal_why.contains("readout"), "{nominal_why}");
            }
            r => panic!("{r:?}"),
        }
        let mut anat = s.clone();
        anat.image_comments = Some("anatomical image".into());
        assert!(matches!(recognise(&anat), Recognised::NotAMap { .. }));
    }

    #[test]
    fn philips_ge_bids() {
        let js: Value =
            serde_json::from_str(r#"{"Manufacturer":"Philips","SeriesDescription":"B1map_DREAM"}"#).unwrap();
        assert!(matches!(
            recognise(&ScanInfo::from_sidecar(&js, "x.nii")),
            Recognised::Unit {
                kind: "Philips B1 map",
                ..
            }
        ));
        let js: Value = serde_json::from_str(r#"{"Manufacturer":"GE","SeriesDescription":"B1 map"}"#).unwrap();
        assert!(matches!(
            recognise(&ScanInfo::from_sidecar(&js, "x.nii")),
            Recognised::NeedsUnit { .. }
        ));
        let js: Value = serde_json::from_str(r#"{"Units":"percent"}"#).unwrap();
        assert!(matches!(
            recognise(&ScanInfo::from_sidecar(&js, "sub-01_TB1map.nii.gz")),
            Recognised::Unit { .. }
        ));
        let js: Value = serde_json::from_str(r#"{}"#).unwrap();
        assert!(matches!(
            recognise(&ScanInfo::from_sidecar(&js, "sub-01_acq-famp_TB1TFL.nii.gz")),
            Recognised::FlipAngle { .. }
        ));
        assert!(matches!(
            recognise(&ScanInfo::from_sidecar(&js, "sub-01_acq-anat_TB1TFL.nii.gz")),
            Recognised::NotAMap { .. }
        ));
        assert_eq!(recognise(&ScanInfo::from_sidecar(&js, "map.nii")), Recognised::Unknown);
    }
}
