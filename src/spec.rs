//! What every input-file loader shares (coil, phantom, implant, placement, recipe, FDTD simulation,
//! dosimetry materials, golden tolerances): reading the text, parsing it into the format's serde
//! structs (`deny_unknown_fields`) with an error that names the key and the fix, and [`Problems`],
//! which collects every problem of one validation pass and reports them all at once as
//! `file: key: what is wrong: how to fix`. Also the one parser of `X,Y,Z` triples.
//!
//! A loader reads:
//! ```ignore
//! pub fn load(path: &Path) -> Result<Self> {
//!     spec::load(path, Self::from_toml_str)
//! }
//! pub fn from_toml_str(text: &str, source_name: &str) -> Result<Self> {
//!     Self::from_raw(spec::parse(text, source_name, KEYS)?, source_name)
//! }
//! pub fn from_raw(raw: RawToml, source_name: &str) -> Result<Self> {
//!     let mut p = Problems::new(source_name);
//!     // ... every check adds to p ...
//!     p.finish()?;
//!     Ok(Self { .. })
//! }
//! ```

use std::path::Path;

use serde::de::DeserializeOwned;

use crate::error::{Error, Result};

/// Reads a text file; a failure is an [`Error::Io`] naming the path (the one reader every TOML and
/// sidecar loader shares).
pub fn read_text(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|err| Error::Io {
        path: path.display().to_string(),
        err,
    })
}

/// A file's `name` key, else its file name without extension, else `default`.
pub fn name_or_stem(name: Option<String>, path: &Path, default: &str) -> String {
    name.unwrap_or_else(|| {
        path.file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| default.into())
    })
}

/// The loader preamble: reads `path` and hands its text and its display name (the name errors use)
/// to the format's `from_toml_str`.
pub fn load<T>(path: &Path, from_toml_str: impl FnOnce(&str, &str) -> Result<T>) -> Result<T> {
    let text = read_text(path)?;
    from_toml_str(&text, &path.display().to_string())
}

/// Parses TOML text into a format's serde structs; a parse error names the key where the parser does
/// and, for an unknown key, lists `valid_keys`.
pub fn parse<R: DeserializeOwned>(text: &str, source: &str, valid_keys: &str) -> Result<R> {
    toml::from_str(text).map_err(|e| toml_error(source, e, valid_keys))
}

/// Turns a TOML parse error into an input error naming the offending key where the parser does.
pub(crate) fn toml_error(source: &str, e: toml::de::Error, valid_keys: &str) -> Error {
    let msg = e.message().to_string();
    let key = msg.split('`').nth(1).unwrap_or("(file)").to_string();
    let fix = if msg.contains("unknown field") {
        format!("remove or correct the key; valid keys are: {valid_keys}")
    } else if msg.contains("unknown variant") {
        "use one of the listed values".to_string()
    } else if msg.contains("invalid type") {
        "give the value in the documented type (numbers in SI units, strings in quotes)".to_string()
    } else {
        "correct the TOML syntax".to_string()
    };
    // The parser's own text starts "TOML parse error at line L, column C" when it knows where.
    let full = e.to_string();
    let span = full
        .lines()
        .next()
        .and_then(|l| l.split_once(" at line "))
        .map(|(_, at)| format!(" (at line {at})"))
        .unwrap_or_default();
    Error::input(source, &key, format!("{msg}{span}"), fix)
}

/// `line L, column C` (1-based) of byte offset `at` in `text`.
pub fn line_col(text: &str, at: usize) -> (usize, usize) {
    let at = at.min(text.len());
    let before = &text.as_bytes()[..at];
    let line = before.iter().filter(|b| **b == b'\n').count() + 1;
    let start = before.iter().rposition(|b| *b == b'\n').map_or(0, |p| p + 1);
    let col = String::from_utf8_lossy(&before[start..]).chars().count() + 1;
    (line, col)
}

/// The dotted key path (`run.mode`, `elements[1].kind`, `boundaries.x[0]`) of the innermost value of
/// TOML `text` whose span holds byte offset `at`; None when the text does not parse or no value does.
pub fn key_path_at(text: &str, at: usize) -> Option<String> {
    use toml::de::{DeTable, DeValue};
    fn in_table(t: &DeTable, at: usize, path: String) -> Option<String> {
        t.iter().find_map(|(k, v)| {
            let p = if path.is_empty() {
                k.get_ref().to_string()
            } else {
                format!("{path}.{}", k.get_ref())
            };
            in_value(v, at, p)
        })
    }
    fn in_value(v: &toml::Spanned<DeValue>, at: usize, path: String) -> Option<String> {
        let inner = match v.get_ref() {
            DeValue::Table(t) => in_table(t, at, path.clone()),
            DeValue::Array(a) => a.iter().enumerate().find_map(|(i, x)| in_value(x, at, format!("{path}[{i}]"))),
            _ => None,
        };
        inner.or_else(|| v.span().contains(&at).then_some(path))
    }
    let doc = DeTable::parse(text).ok()?;
    in_table(doc.get_ref(), at, String::new())
}

/// A TOML error of a file whose keys are documented elsewhere (`fix_where`, e.g. "see README 'fdtd
/// run' for the keys"): the key the parser names (an unknown or mistyped keyword value: the key path
/// that holds it; else "(toml)"), the message, the line and column where the parser points (omitted when it does not),
/// and the fix.
pub(crate) fn toml_error_at(source: &str, text: &str, e: &toml::de::Error, fix_where: &str) -> Error {
    let msg = e.message().trim().to_string();
    let unknown_value = msg.starts_with("unknown variant");
    // A value of a keyword key (an enum) that is not even a string: named by its key path too.
    let not_keyword = msg.starts_with("wanted string or table");
    let path = e
        .span()
        .filter(|_| unknown_value || not_keyword)
        .and_then(|s| key_path_at(text, s.start));
    let key = path.unwrap_or_else(|| {
        msg.split('`')
            .nth(1)
            .map_or_else(|| "(toml)".to_string(), |k| k.to_string())
    });
    let at = e
        .span()
        .map(|s| {
            let (l, c) = line_col(text, s.start);
            format!(" at line {l}, column {c}")
        })
        .unwrap_or_default();
    let fix = if msg.contains("unknown field") {
        format!("remove or correct the key; {fix_where}")
    } else if unknown_value {
        format!("use one of the expected values; {fix_where}")
    } else {
        format!("fix the TOML there; {fix_where}")
    };
    Error::input(source, &key, format!("{msg}{at}"), fix)
}

/// Collects every problem of one file, then reports them all at once.
pub(crate) struct Problems {
    source: String,
    list: Vec<(String, String, String)>,
}

impl Problems {
    pub(crate) fn new(source: &str) -> Self {
        Self {
            source: source.into(),
            list: Vec::new(),
        }
    }
    pub(crate) fn add(&mut self, key: &str, what: impl Into<String>, fix: impl Into<String>) {
        self.list.push((key.into(), what.into(), fix.into()));
    }
    /// Adds an input error of a library call as a problem of `key` (its what and fix kept); any other
    /// error is returned.
    pub(crate) fn add_error(&mut self, key: &str, e: Error) -> Result<()> {
        match e {
            Error::Input { what, fix, .. } => {
                self.add(key, what, fix);
                Ok(())
            }
            other => Err(other),
        }
    }
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
    /// Ok when no problem was found; one problem becomes one input error; several are listed in one.
    pub(crate) fn finish(self) -> Result<()> {
        match self.list.len() {
            0 => Ok(()),
            1 => {
                let (k, w, f) = &self.list[0];
                Err(Error::input(&self.source, k, w.clone(), f.clone()))
            }
            n => {
                let keys: Vec<_> = self.list.iter().map(|(k, _, _)| k.as_str()).collect();
                let what = self
                    .list
                    .iter()
                    .enumerate()
                    .map(|(i, (k, w, f))| format!("({}) {k}: {w} (fix: {f})", i + 1))
                    .collect::<Vec<_>>()
                    .join("; ");
                Err(Error::input(
                    &self.source,
                    &keys.join(", "),
                    format!("{n} problems: {what}"),
                    "fix each problem listed",
                ))
            }
        }
    }
    /// A required positive, finite length.
    pub(crate) fn positive(&mut self, key: &str, v: Option<f64>, example: &str) -> f64 {
        match v {
            None => {
                self.add(key, "missing", format!("add `{key} = {example}`"));
                f64::NAN
            }
            Some(x) if !(x > 0.0) || !x.is_finite() => {
                self.add(
                    key,
                    format!("{x} is not a positive finite number"),
                    format!("give a value > 0 in SI units, e.g. `{key} = {example}`"),
                );
                f64::NAN
            }
            Some(x) => x,
        }
    }
}

/// Why a text is not an `X,Y,Z` triple.
#[derive(Clone, Debug, PartialEq)]
pub enum XyzError {
    /// This comma-separated piece (as written) is not a number.
    NotANumber(String),
    /// The pieces are numbers, but not three, or not all finite.
    NotThreeFinite,
}

/// The one parser of `X,Y,Z` (three comma-separated finite numbers, blanks around them allowed);
/// callers word the error for their option or key.
pub fn parse_xyz(text: &str) -> std::result::Result<[f64; 3], XyzError> {
    let v: Vec<f64> = text
        .split(',')
        .map(|x| x.trim().parse::<f64>().map_err(|_| XyzError::NotANumber(x.to_string())))
        .collect::<std::result::Result<_, _>>()?;
    match <[f64; 3]>::try_from(v) {
        Ok(p) if p.iter().all(|x| x.is_finite()) => Ok(p),
        _ => Err(XyzError::NotThreeFinite),
    }
}

/// Three finite comma-separated numbers of a command-line option such as --position X,Y,Z
/// (`example` shows the form).
pub fn three_numbers(flag: &str, text: &str, example: &str) -> Result<[f64; 3]> {
    parse_xyz(text).map_err(|_| {
        Error::input(
            "command line",
            flag,
            format!("'{text}' is not three finite numbers"),
            format!("write e.g. {flag} {example}"),
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_of_a_byte_offset() {
        let t = "a = 1\nbé = 2\n[run]\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 4), (1, 5));
        assert_eq!(line_col(t, 6), (2, 1));
        // "é" is two bytes, one column.
        assert_eq!(line_col(t, 9), (2, 3));
        assert_eq!(line_col(t, 1000), (4, 1));
    }

    #[test]
    fn key_path_of_a_value() {
        let t = "a = 1\n[run]\nmode = \"cw\"\n[[el]]\nk = 1\n[[el]]\nk = \"x\"\n[b]\nx = [\"p\", \"q\"]\n";
        assert_eq!(key_path_at(t, t.find("\"cw\"").unwrap()).as_deref(), Some("run.mode"));
        assert_eq!(key_path_at(t, t.find("\"x\"").unwrap()).as_deref(), Some("el[1].k"));
        assert_eq!(key_path_at(t, t.find("\"q\"").unwrap()).as_deref(), Some("b.x[1]"));
        assert_eq!(key_path_at("a = = 1", 4), None);
    }

    #[test]
    fn xyz_triples() {
        assert_eq!(parse_xyz(" 1, -2.5 ,3e-3"), Ok([1.0, -2.5, 3e-3]));
        assert_eq!(parse_xyz("1,a,3"), Err(XyzError::NotANumber("a".into())));
        assert_eq!(parse_xyz("1,2"), Err(XyzError::NotThreeFinite));
        assert_eq!(parse_xyz("1,2,3,4"), Err(XyzError::NotThreeFinite));
        assert_eq!(parse_xyz("1,inf,3"), Err(XyzError::NotThreeFinite));
        let m = three_numbers("--position", "1,2", "0.1,0,0").unwrap_err().to_string();
        assert_eq!(
            m,
            "command line: --position: '1,2' is not three finite numbers: write e.g. --position 0.1,0,0"
        );
    }

    #[test]
    fn problems_one_or_many() {
        let p = Problems::new("f.toml");
        assert!(p.finish().is_ok());
        let mut p = Problems::new("f.toml");
        p.add("a", "bad", "fix it");
        assert_eq!(p.finish().unwrap_err().to_string(), "f.toml: a: bad: fix it");
        let mut p = Problems::new("f.toml");
        p.add("a", "bad", "fix it");
        p.positive("b", Some(-1.0), "2");
        let m = p.finish().unwrap_err().to_string();
        assert!(m.starts_with("f.toml: a, b: 2 problems: (1) a: bad (fix: fix it); (2) b: -1 is"), "{m}");
    }
}
