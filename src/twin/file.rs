//! `DIR/twin.toml`, the twin directory's description: the one place that writes and reads it.
//!
//! `rftwin twin fit` writes the fit's part ([`TwinFile::fit_text`]: the inputs, the fitted parameters
//! with their 95 % intervals, the phantom placement and gel the twin's fields were computed with);
//! [`super::TwinFields::save`] appends the `[fields]` table ([`append_fields`]: the fields file, its
//! frequency, input power and cell). A directory saved by `TwinFields::save` alone holds only the
//! `[fields]` table (under the comment `# rftwin twin fields`).
//!
//! Reading ([`TwinFile::load`]) is typed but as lenient as the file's readers have always been: every
//! key is optional, a key of the wrong type counts as absent, unknown keys are ignored; the readers
//! ([`super::load_twin_dir`], [`super::TwinFields::load`], [`dir_inputs`]) say which keys they need.
//! Numbers are written with Rust's `{}` (the shortest text that reads back to the same `f64`; a
//! whole number is written without a decimal point and so reads as a TOML integer, which is accepted
//! wherever a number is).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::{Error, Result};

/// The file name inside a twin directory.
pub const NAME: &str = "twin.toml";

/// A 95 % interval `[low, high]`.
pub type Interval = [f64; 2];

/// `twin.toml` (see the module documentation). Every key is optional when read.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TwinFile {
    /// The coil, phantom and measured-map files of the fit (as given on the command line).
    #[serde(default, deserialize_with = "lenient")]
    pub coil: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub measured: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub freq_hz: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub cell_m: Option<f64>,
    /// What was fitted: "weights", "offset", "rotation", "gel".
    #[serde(default, deserialize_with = "lenient")]
    pub fitted: Option<Vec<String>>,
    #[serde(default, deserialize_with = "lenient")]
    pub converged: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub nrmse: Option<f64>,
    /// Complex weights `[re, im]` of the cos and sin patterns.
    #[serde(default, deserialize_with = "lenient")]
    pub w_cos: Option<[f64; 2]>,
    #[serde(default, deserialize_with = "lenient")]
    pub w_sin: Option<[f64; 2]>,
    #[serde(default, deserialize_with = "lenient")]
    pub port2_relative_amplitude: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub port2_relative_amplitude_ci95: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub port2_phase_error_deg: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub port2_phase_error_ci95_deg: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_offset_m: Option<[f64; 3]>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_offset_x_ci95_m: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_offset_y_ci95_m: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_offset_z_ci95_m: Option<Interval>,
    /// Rotation vector (degrees) about the phantom's centre, added to the phantom file's.
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_rotation_deg: Option<[f64; 3]>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_rotation_x_ci95_deg: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_rotation_y_ci95_deg: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub phantom_rotation_z_ci95_deg: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub gel_sigma_s_per_m: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub gel_sigma_ci95_s_per_m: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub gel_eps_r: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub gel_eps_r_ci95: Option<Interval>,
    #[serde(default, deserialize_with = "lenient")]
    pub gel_eps_r_identifiable: Option<bool>,
    /// The phantom offset, rotation (added to the file's) and gel the twin's fields were computed with.
    #[serde(default, deserialize_with = "lenient")]
    pub fields_phantom_offset_m: Option<[f64; 3]>,
    #[serde(default, deserialize_with = "lenient")]
    pub fields_phantom_rotation_deg: Option<[f64; 3]>,
    #[serde(default, deserialize_with = "lenient")]
    pub fields_sigma_s_per_m: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub fields_eps_r: Option<f64>,
    /// The `[fields]` table.
    #[serde(default, deserialize_with = "lenient")]
    pub fields: Option<FieldsTable>,
}

/// The `[fields]` table: the twin's fields file and the numbers that go with it.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct FieldsTable {
    /// The HDF5 file, relative to the twin directory.
    #[serde(default, deserialize_with = "lenient")]
    pub file: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub freq_hz: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub input_power_w: Option<f64>,
    #[serde(default, deserialize_with = "lenient")]
    pub cell_m: Option<f64>,
}

/// A value of the wrong type reads as absent (as the file's readers have always treated it).
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned>(d: D) -> std::result::Result<Option<T>, D::Error> {
    let v = toml::Value::deserialize(d)?;
    Ok(T::deserialize(v).ok())
}

/// The parts of `twin fit`'s header comment that are not keys.
#[derive(Clone, Debug)]
pub struct FitComment {
    /// The coil's name (from its file).
    pub coil_name: String,
    /// How the 95 % intervals were computed.
    pub ci95_method: String,
    /// What the weights' scale means, after "1 A peak rung current per unit weight": empty for a
    /// map in µT (the weights are in A); for a relative map, that they are scaled to 1 W input power
    /// (see [`weights_note`]).
    pub weights_note: String,
}

/// The `twin.toml` comment on the weights of a fit to a relative map (flip angle, percent,
/// fraction) stored as `stored_as`: its absolute scale is not measured.
pub fn weights_note(stored_as: &str) -> String {
    format!(
        "the map ({stored_as}) gives B1+ relative to nominal, not its absolute scale: the weights are scaled to 1 W \
         input power (A at 1 W); normalise to an exposure (recipe [normalisation]) before any dose"
    )
}

fn interval(v: &Interval) -> String {
    format!("[{}, {}]", v[0], v[1])
}

fn triple(v: &[f64; 3]) -> String {
    format!("[{}, {}, {}]", v[0], v[1], v[2])
}

impl TwinFile {
    /// Reads `dir/twin.toml`.
    pub fn load(dir: &Path) -> Result<TwinFile> {
        let path = dir.join(NAME);
        let text = crate::spec::read_text(&path)?;
        Self::parse(&text).map_err(|e| {
            Error::input(
                &path.display().to_string(),
                "-",
                format!("not valid TOML: {e}"),
                "re-run `rftwin twin fit`",
            )
        })
    }

    /// Parses the text of a `twin.toml`.
    pub fn parse(text: &str) -> std::result::Result<TwinFile, toml::de::Error> {
        toml::from_str(text)
    }

    /// The text `twin fit` writes before the `[fields]` table: every key of the fit that is set, in
    /// the file's order, with its comments.
    pub fn fit_text(&self, comment: &FitComment) -> String {
        let note = if comment.weights_note.is_empty() {
            "(weights in A: the map is |B1+| in uT)".to_string()
        } else {
            format!("({})", comment.weights_note)
        };
        let mut text = format!(
            "# rftwin twin: {} calibrated to {}\n# B1+ = w_cos * B1+(cos pattern) + w_sin * B1+(sin pattern), 1 A peak rung current per unit weight\n# {note}; 95 % intervals: {}\n",
            comment.coil_name,
            self.measured.as_deref().unwrap_or(""),
            comment.ci95_method,
        );
        let quoted = |s: &Option<String>| s.as_ref().map(|s| format!("\"{s}\""));
        let num = |x: Option<f64>| x.map(|x| x.to_string());
        let t = &mut text;
        line(t, "coil", quoted(&self.coil));
        line(t, "phantom", quoted(&self.phantom));
        line(t, "measured", quoted(&self.measured));
        line(t, "freq_hz", num(self.freq_hz));
        line(t, "cell_m", num(self.cell_m));
        let fitted = self.fitted.as_ref().map(|f| f.iter().map(|s| format!("\"{s}\"")).collect::<Vec<_>>());
        line(t, "fitted", fitted.map(|f| format!("[{}]", f.join(", "))));
        line(t, "converged", self.converged.map(|b| b.to_string()));
        line(t, "nrmse", num(self.nrmse));
        line(t, "w_cos", self.w_cos.as_ref().map(interval));
        line(t, "w_sin", self.w_sin.as_ref().map(interval));
        line(t, "port2_relative_amplitude", num(self.port2_relative_amplitude));
        line(t, "port2_relative_amplitude_ci95", self.port2_relative_amplitude_ci95.as_ref().map(interval));
        line(t, "port2_phase_error_deg", num(self.port2_phase_error_deg));
        line(t, "port2_phase_error_ci95_deg", self.port2_phase_error_ci95_deg.as_ref().map(interval));
        line(t, "phantom_offset_m", self.phantom_offset_m.as_ref().map(triple));
        line(t, "phantom_offset_x_ci95_m", self.phantom_offset_x_ci95_m.as_ref().map(interval));
        line(t, "phantom_offset_y_ci95_m", self.phantom_offset_y_ci95_m.as_ref().map(interval));
        line(t, "phantom_offset_z_ci95_m", self.phantom_offset_z_ci95_m.as_ref().map(interval));
        if self.phantom_rotation_deg.is_some() {
            *t += "# rotation vector (degrees) about the phantom's centre, added to the phantom file's rotation_deg\n";
        }
        line(t, "phantom_rotation_deg", self.phantom_rotation_deg.as_ref().map(triple));
        line(t, "phantom_rotation_x_ci95_deg", self.phantom_rotation_x_ci95_deg.as_ref().map(interval));
        line(t, "phantom_rotation_y_ci95_deg", self.phantom_rotation_y_ci95_deg.as_ref().map(interval));
        line(t, "phantom_rotation_z_ci95_deg", self.phantom_rotation_z_ci95_deg.as_ref().map(interval));
        line(t, "gel_sigma_s_per_m", num(self.gel_sigma_s_per_m));
        line(t, "gel_sigma_ci95_s_per_m", self.gel_sigma_ci95_s_per_m.as_ref().map(interval));
        line(t, "gel_eps_r", num(self.gel_eps_r));
        line(t, "gel_eps_r_ci95", self.gel_eps_r_ci95.as_ref().map(interval));
        line(t, "gel_eps_r_identifiable", self.gel_eps_r_identifiable.map(|b| b.to_string()));
        if self.fields_phantom_offset_m.is_some() {
            *t += "# the twin's fields below were computed with the phantom at this offset, rotation (added to the file's) and gel:\n";
        }
        line(t, "fields_phantom_offset_m", self.fields_phantom_offset_m.as_ref().map(triple));
        line(t, "fields_phantom_rotation_deg", self.fields_phantom_rotation_deg.as_ref().map(triple));
        line(t, "fields_sigma_s_per_m", num(self.fields_sigma_s_per_m));
        line(t, "fields_eps_r", num(self.fields_eps_r));
        text
    }
}

/// `key = value` and a newline, when the value is set.
fn line(t: &mut String, key: &str, value: Option<String>) {
    if let Some(v) = value {
        *t += &format!("{key} = {v}\n");
    }
}

impl FieldsTable {
    /// The table's text, with the blank line before it.
    fn text(&self) -> String {
        format!(
            "\n[fields]\n# E (V/m) and H (A/m) phasors of the fitted drive on the coarse grid, and the cell materials\nfile = \"{}\"\nfreq_hz = {}\ninput_power_w = {}\ncell_m = {}\n",
            self.file.as_deref().unwrap_or(""),
            self.freq_hz.unwrap_or(f64::NAN),
            self.input_power_w.unwrap_or(f64::NAN),
            self.cell_m.unwrap_or(f64::NAN),
        )
    }
}

/// Writes `twin fit`'s part of `dir/twin.toml` (see [`TwinFile::fit_text`]); the `[fields]` table
/// is appended by [`append_fields`].
pub fn write_fit(dir: &Path, file: &TwinFile, comment: &FitComment) -> Result<()> {
    let path = dir.join(NAME);
    std::fs::write(&path, file.fit_text(comment)).map_err(|err| Error::io(&path, err))
}

/// Appends the `[fields]` table to `dir/twin.toml` (written under a temporary name, then renamed);
/// creates the file with only that table when there is none. Refuses a file that is not TOML or
/// already has a `[fields]` table.
pub fn append_fields(dir: &Path, fields: &FieldsTable) -> Result<()> {
    let toml_path = dir.join(NAME);
    let table = fields.text();
    let text = match std::fs::read_to_string(&toml_path) {
        Ok(t) => {
            let parsed: toml::Table = toml::from_str(&t).map_err(|e| {
                Error::input(
                    &toml_path.display().to_string(),
                    "-",
                    format!("not TOML: {e}"),
                    "rewrite the twin",
                )
            })?;
            // Any `fields` key, whatever its type, would clash with the table.
            if parsed.contains_key("fields") {
                return Err(Error::input(
                    &toml_path.display().to_string(),
                    "fields",
                    "already has a [fields] table",
                    "save into a fresh directory",
                ));
            }
            t + &table
        }
        Err(_) => format!("# rftwin twin fields{table}"),
    };
    let tmp = dir.join(format!(".twin.toml.tmp-{}", std::process::id()));
    std::fs::write(&tmp, text)
        .and_then(|_| std::fs::rename(&tmp, &toml_path))
        .map_err(|err| Error::io(&toml_path, err))
}

/// The files a twin directory written by `twin fit` refers to (`coil`, `phantom`, `measured` in
/// its `twin.toml`), plus the directory itself; an unreadable file or a missing key is skipped.
pub fn dir_inputs(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v = vec![("twin directory".to_string(), dir.to_path_buf())];
    let file = std::fs::read_to_string(dir.join(NAME))
        .ok()
        .and_then(|text| TwinFile::parse(&text).ok());
    if let Some(t) = file {
        for (key, value) in [("coil", t.coil), ("phantom", t.phantom), ("measured", t.measured)] {
            if let Some(s) = value {
                v.push((format!("twin {key}"), PathBuf::from(s)));
            }
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fit_file() -> TwinFile {
        TwinFile {
            coil: Some("coils/c.toml".into()),
            phantom: Some("phantoms/p.toml".into()),
            measured: Some("m.h5".into()),
            freq_hz: Some(63866217.75),
            cell_m: Some(0.02),
            fitted: Some(vec!["weights".into(), "offset".into()]),
            converged: Some(true),
            nrmse: Some(0.0212),
            w_cos: Some([0.7788, 0.0]),
            w_sin: Some([0.1, -0.9]),
            phantom_offset_m: Some([0.004, 0.0, -0.003]),
            fields_phantom_offset_m: Some([0.0; 3]),
            fields_eps_r: Some(80.0),
            ..Default::default()
        }
    }

    #[test]
    fn written_text_reads_back_with_whole_numbers_as_numbers() {
        let comment = FitComment {
            coil_name: "c".into(),
            ci95_method: "jacobian".into(),
            weights_note: String::new(),
        };
        let text = fit_file().fit_text(&comment);
        // The old writer's form: Rust's `{}` of f64 (whole numbers without a point), comments kept.
        assert!(text.starts_with("# rftwin twin: c calibrated to m.h5\n"), "{text}");
        assert!(text.contains("\nw_cos = [0.7788, 0]\n") && text.contains("\nfields_eps_r = 80\n"), "{text}");
        assert!(text.contains("# the twin's fields below were computed"), "{text}");
        let back = TwinFile::parse(&text).unwrap();
        assert_eq!(back.fields_eps_r, Some(80.0));
        assert_eq!(back.phantom_offset_m, Some([0.004, 0.0, -0.003]));
        assert_eq!(back.fields_phantom_offset_m, Some([0.0; 3]));
        assert_eq!(back.fitted.as_deref(), Some(&["weights".to_string(), "offset".to_string()][..]));
        assert!(back.fields.is_none() && back.phantom_rotation_deg.is_none());
    }

    #[test]
    fn wrong_types_read_as_absent_and_unknown_keys_are_ignored() {
        let t = TwinFile::parse(
            "phantom = 3\nnrmse = \"x\"\nfields_phantom_offset_m = [1, 2]\nextra = 1\n[fields]\nfreq_hz = 64\nfile = 2\n",
        )
        .unwrap();
        assert!(t.phantom.is_none() && t.nrmse.is_none() && t.fields_phantom_offset_m.is_none());
        let f = t.fields.unwrap();
        assert_eq!(f.freq_hz, Some(64.0));
        assert!(f.file.is_none() && f.cell_m.is_none());
        assert!(TwinFile::parse("coil = ").is_err());
    }

    #[test]
    fn fields_table_is_appended_once() {
        let d = std::env::temp_dir().join(format!("rftwin-twinfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        let table = FieldsTable {
            file: Some("twin_fields.h5".into()),
            freq_hz: Some(64e6),
            input_power_w: Some(2.5),
            cell_m: Some(0.01),
        };
        append_fields(&d, &table).unwrap();
        let text = std::fs::read_to_string(d.join(NAME)).unwrap();
        assert_eq!(
            text,
            "# rftwin twin fields\n[fields]\n# E (V/m) and H (A/m) phasors of the fitted drive on the coarse grid, and the cell materials\nfile = \"twin_fields.h5\"\nfreq_hz = 64000000\ninput_power_w = 2.5\ncell_m = 0.01\n"
        );
        let back = TwinFile::load(&d).unwrap().fields.unwrap();
        assert_eq!((back.freq_hz, back.input_power_w), (Some(64e6), Some(2.5)));
        assert!(append_fields(&d, &table).is_err());
        let _ = std::fs::remove_dir_all(&d);
    }
}
