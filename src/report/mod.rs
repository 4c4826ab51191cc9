//! Safety reports: the data a report shows, its PDF rendering, its machine-readable summary, the
//! assessment recipes and criteria, and the regression comparison of result directories.
//!
//! A [`Report`] is plain data filled by the pipeline: a title, the verdict of each criterion, the input
//! files with their SHA-256, the software version, the date, ordered sections (paragraphs, tables,
//! figures) and one flat list of [`Quantity`] values. Every number the PDF shows is a quantity,
//! rendered by the single formatting function [`format_quantity`], and `summary.json` stores the same
//! formatted text next to the full-precision value, so the PDF and the JSON cannot disagree.
//! Paragraphs refer to quantities as `{key}`; table cells as [`Cell::Quantity`].
//!
//! [`write_report`] writes `report.pdf`, `summary.json` and every figure's PNG into one output
//! directory atomically (temporary directory, then rename; see [`crate::io::AtomicDir`]).

pub mod assessment;
pub mod criteria;
pub mod keys;
pub mod pdf;
pub mod recipe;
pub mod regress;
pub mod sections;
pub mod summary;

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::io::AtomicDir;

/// A named number with its unit, e.g. `sar.peak_10g_w_per_kg = 3.21 W/kg`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Quantity {
    /// Unique dotted key, e.g. `sar.peak_10g`.
    pub key: String,
    /// Value in SI or the stated unit, full precision.
    pub value: f64,
    /// Unit as shown to the reader (Unicode allowed: `°C`, `µT`, `W/kg`); empty for pure numbers.
    pub unit: String,
    /// One line saying what it is.
    pub description: String,
}

impl Quantity {
    pub fn new(key: &str, value: f64, unit: &str, description: &str) -> Self {
        Self {
            key: key.into(),
            value,
            unit: unit.into(),
            description: description.into(),
        }
    }
    /// The text the PDF shows (see [`format_quantity`]).
    pub fn text(&self) -> String {
        format_quantity(self.value, &self.unit)
    }
}

/// Formats a number with 4 significant digits: fixed notation for 1e-3 ≤ |x| < 1e5, otherwise
/// scientific (`1.234e-5`). ASCII only (hyphen-minus, no thousands separator), so the text found in the
/// PDF is the text in `summary.json`. Non-finite values print as `NaN`, `inf`, `-inf`.
pub fn format_number(x: f64) -> String {
    if !x.is_finite() {
        return format!("{x}");
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{x:.3e}");
    }
    let mag = a.log10().floor() as i32;
    let decimals = (3 - mag).max(0) as usize;
    let s = format!("{x:.decimals$}");
    // Rounding can carry to the next decade (9.9996 -> 10.000): keep 4 significant digits.
    let rounded: f64 = s.parse().unwrap_or(x);
    let mag2 = rounded.abs().log10().floor() as i32;
    if mag2 > mag {
        let d2 = (3 - mag2).max(0) as usize;
        return format!("{x:.d2$}");
    }
    s
}

/// The one formatting function for numbers in reports: [`format_number`] then the unit after a space.
pub fn format_quantity(value: f64, unit: &str) -> String {
    if unit.is_empty() {
        format_number(value)
    } else {
        format!("{} {unit}", format_number(value))
    }
}

/// Outcome of one criterion, or of the whole assessment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Verdict {
    #[serde(rename = "PASS")]
    Pass,
    #[serde(rename = "FAIL")]
    Fail,
    /// No criterion was evaluated (e.g. a report of a twin fit alone).
    #[serde(rename = "NOT ASSESSED")]
    NotAssessed,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "PASS",
            Verdict::Fail => "FAIL",
            Verdict::NotAssessed => "NOT ASSESSED",
        }
    }
    /// Process exit code: 0 pass (or nothing assessed), 1 a criterion failed.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Fail => 1,
            _ => 0,
        }
    }
}

/// An input file of the assessment with its SHA-256.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InputFile {
    /// What the file is for: `coil`, `phantom`, `measured map`, `implant`, `recipe`, ...
    pub role: String,
    /// Path as given (relative paths stay relative, for reports that move between machines).
    pub path: String,
    /// Lower-case hex SHA-256 of the file's bytes.
    pub sha256: String,
    pub bytes: u64,
}

impl InputFile {
    /// Hashes `path` and records it under `role`.
    pub fn hash(role: &str, path: &Path) -> Result<Self> {
        let (sha256, bytes) = sha256_file(path)?;
        Ok(Self {
            role: role.into(),
            path: path.display().to_string(),
            sha256,
            bytes,
        })
    }
}

/// SHA-256 of a file (lower-case hex) and its length in bytes, read in 64 KiB blocks.
pub fn sha256_file(path: &Path) -> Result<(String, u64)> {
    let io = |e| Error::Io {
        path: path.display().to_string(),
        err: e,
    };
    let mut f = std::fs::File::open(path).map_err(io)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n_total = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io)?;
        if n == 0 {
            break;
        }
        n_total += n as u64;
        h.update(&buf[..n]);
    }
    Ok((hex(&h.finalize()), n_total))
}

/// SHA-256 of bytes in memory (lower-case hex).
pub fn sha256_bytes(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The software that made a report: crate version and, when the build saw a git checkout, the commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SoftwareVersion {
    pub name: String,
    pub version: String,
    /// `git rev-parse HEAD` at build time, with `-dirty` when the tree had changes; `None` outside git.
    pub git_commit: Option<String>,
}

impl SoftwareVersion {
    /// This build of rftwin (version from Cargo, commit from the build script via `RFTWIN_GIT_COMMIT`).
    pub fn current() -> Self {
        Self {
            name: env!("CARGO_PKG_NAME").into(),
            version: env!("CARGO_PKG_VERSION").into(),
            git_commit: option_env!("RFTWIN_GIT_COMMIT")
                .filter(|s| !s.is_empty())
                .map(String::from),
        }
    }
    /// `rftwin 0.1.0 (git 1234abcd…)` as printed on the title page.
    pub fn text(&self) -> String {
        match &self.git_commit {
            Some(c) => format!("{} {} (git {c})", self.name, self.version),
            None => format!("{} {} (git commit unknown)", self.name, self.version),
        }
    }
}

/// Current UTC date and time as ISO 8601 (`2026-11-27T22:30:00Z`). When the environment variable
/// `SOURCE_DATE_EPOCH` holds seconds since 1970, that time is used instead (reproducible reports).
pub fn report_date_utc() -> String {
    let secs = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0)
        });
    iso8601_utc(secs)
}

/// Seconds since 1970-01-01T00:00:00Z as ISO 8601 UTC (proleptic Gregorian, days-from-civil inverse).
pub fn iso8601_utc(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // Civil date from day number (Howard Hinnant's algorithm, era of 400 years).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        (sod / 60) % 60,
        sod % 60
    )
}

/// A table cell: literal text, or a quantity shown through [`format_quantity`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cell {
    Text(String),
    /// The quantity with its unit.
    Quantity(String),
    /// The quantity's number only (the unit is in the column header).
    Number(String),
}

impl Cell {
    pub fn text(s: impl Into<String>) -> Self {
        Cell::Text(s.into())
    }
    pub fn q(key: &str) -> Self {
        Cell::Quantity(key.into())
    }
    pub fn num(key: &str) -> Self {
        Cell::Number(key.into())
    }
}

/// A table: a header row and body rows of the same length.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Table {
    pub caption: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// A figure: a PNG file and its caption. The PNG is copied into the report directory as `file_name`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Figure {
    /// Where the PNG is now.
    pub png: PathBuf,
    /// Its name in the report directory (e.g. `sar_10g.png`).
    pub file_name: String,
    pub caption: String,
}

/// One block of a section, in reading order.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Block {
    /// Text; `{key}` is replaced by the quantity's formatted value, `{{` and `}}` are literal braces.
    Paragraph(String),
    Table(Table),
    Figure(Figure),
}

/// A section with a heading and its blocks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Section {
    pub title: String,
    pub blocks: Vec<Block>,
}

impl Section {
    pub fn new(title: &str) -> Self {
        Self {
            title: title.into(),
            blocks: Vec::new(),
        }
    }
    pub fn paragraph(mut self, text: impl Into<String>) -> Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }
    pub fn table(mut self, t: Table) -> Self {
        self.blocks.push(Block::Table(t));
        self
    }
    pub fn figure(mut self, png: &Path, file_name: &str, caption: &str) -> Self {
        self.blocks.push(Block::Figure(Figure {
            png: png.to_path_buf(),
            file_name: file_name.into(),
            caption: caption.into(),
        }));
        self
    }
}

/// Result of one criterion (see [`criteria::evaluate`]). The numbers are quantities of the report:
/// `value_key` (the computed value), and `criteria.<id>.{uncertainty_factor,assessed,limit}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    /// Short id, e.g. `temperature_rise`.
    pub id: String,
    /// What is limited, e.g. `Maximum temperature rise at the implant`.
    pub label: String,
    /// Key of the computed value among the report's quantities.
    pub value_key: String,
    pub verdict: Verdict,
}

impl CriterionResult {
    pub fn factor_key(&self) -> String {
        keys::Criterion::UncertaintyFactor.key(&self.id)
    }
    pub fn assessed_key(&self) -> String {
        keys::Criterion::Assessed.key(&self.id)
    }
    pub fn limit_key(&self) -> String {
        keys::Criterion::Limit.key(&self.id)
    }
}

/// How the report was made: the full command line and every option in effect (defaults included).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Invocation {
    /// The command line as typed (program and arguments).
    pub command_line: Vec<String>,
    /// The options in effect, by name (e.g. `fine_cell_mm`), as text.
    pub options: std::collections::BTreeMap<String, String>,
}

/// An input value its file marks as not confirmed (a comment holding "UNCONFIRMED").
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnconfirmedValue {
    /// The input's role and path as the report shows it.
    pub role: String,
    pub path: String,
    /// 1-based line number and the line's text (trimmed).
    pub line: usize,
    pub text: String,
}

/// The lines of `text` holding "UNCONFIRMED" in a TOML comment (after `#`), as
/// (1-based line number, trimmed line).
pub fn unconfirmed_lines(text: &str) -> Vec<(usize, String)> {
    text.lines()
        .enumerate()
        .filter(|(_, l)| l.find('#').is_some_and(|i| l[i..].contains("UNCONFIRMED")))
        .map(|(i, l)| (i + 1, l.trim().to_string()))
        .collect()
}

/// Everything a safety report shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub title: String,
    /// Second title line, e.g. the recipe name.
    pub subtitle: String,
    pub criteria: Vec<CriterionResult>,
    pub inputs: Vec<InputFile>,
    pub software: SoftwareVersion,
    /// ISO 8601 UTC.
    pub date_utc: String,
    pub sections: Vec<Section>,
    pub quantities: Vec<Quantity>,
    /// The command line and options that made the report (None: not recorded, e.g. a unit test).
    #[serde(default)]
    pub invocation: Option<Invocation>,
    /// Input values marked "UNCONFIRMED" in their files (shown on the first page).
    #[serde(default)]
    pub unconfirmed: Vec<UnconfirmedValue>,
}

impl Report {
    /// An empty report dated now, for this software version.
    pub fn new(title: &str) -> Self {
        Self {
            title: title.into(),
            subtitle: String::new(),
            criteria: Vec::new(),
            inputs: Vec::new(),
            software: SoftwareVersion::current(),
            date_utc: report_date_utc(),
            sections: Vec::new(),
            quantities: Vec::new(),
            invocation: None,
            unconfirmed: Vec::new(),
        }
    }

    /// Adds a quantity (replacing one with the same key).
    pub fn add_quantity(&mut self, q: Quantity) {
        if let Some(old) = self.quantities.iter_mut().find(|x| x.key == q.key) {
            *old = q;
        } else {
            self.quantities.push(q);
        }
    }

    /// Adds a quantity from its parts; returns the key (handy for `Cell::q`).
    pub fn quantity(&mut self, key: &str, value: f64, unit: &str, description: &str) -> String {
        self.add_quantity(Quantity::new(key, value, unit, description));
        key.to_string()
    }

    pub fn get(&self, key: &str) -> Option<&Quantity> {
        self.quantities.iter().find(|q| q.key == key)
    }

    /// Overall verdict: FAIL if any criterion fails, PASS if all pass, NOT ASSESSED without criteria.
    pub fn verdict(&self) -> Verdict {
        if self.criteria.is_empty() {
            Verdict::NotAssessed
        } else if self.criteria.iter().any(|c| c.verdict != Verdict::Pass) {
            Verdict::Fail
        } else {
            Verdict::Pass
        }
    }

    fn index(&self) -> HashMap<&str, &Quantity> {
        self.quantities.iter().map(|q| (q.key.as_str(), q)).collect()
    }

    /// Checks the report is complete before rendering: unique keys, finite values, every referenced
    /// quantity present, rectangular tables, figures that exist and are PNGs with unique file names.
    /// All problems are listed in one error.
    pub fn validate(&self) -> Result<()> {
        let mut problems = Vec::new();
        let mut seen = HashMap::new();
        for q in &self.quantities {
            if q.key.is_empty() || q.key.chars().any(|c| c.is_whitespace() || c == '{' || c == '}') {
                problems.push(format!(
                    "quantity key '{}' must be non-empty without spaces or braces",
                    q.key
                ));
            }
            if seen.insert(q.key.as_str(), ()).is_some() {
                problems.push(format!("quantity '{}' appears twice", q.key));
            }
            if !q.value.is_finite() {
                problems.push(format!("quantity '{}' is not finite ({})", q.key, q.value));
            }
        }
        let idx = self.index();
        let missing = std::cell::RefCell::new(Vec::new());
        let need = |key: &str, where_: &str| {
            if !idx.contains_key(key) {
                missing
                    .borrow_mut()
                    .push(format!("{where_} refers to unknown quantity '{key}'"));
            }
        };
        for c in &self.criteria {
            need(&c.value_key, &format!("criterion '{}'", c.id));
            need(&c.factor_key(), &format!("criterion '{}'", c.id));
            need(&c.assessed_key(), &format!("criterion '{}'", c.id));
            need(&c.limit_key(), &format!("criterion '{}'", c.id));
        }
        let mut names = HashMap::new();
        for s in &self.sections {
            for b in &s.blocks {
                match b {
                    Block::Paragraph(p) => match paragraph_keys(p) {
                        Ok(keys) => keys.iter().for_each(|k| need(k, &format!("section '{}'", s.title))),
                        Err(e) => problems.push(format!("section '{}': {e}", s.title)),
                    },
                    Block::Table(t) => {
                        for (i, r) in t.rows.iter().enumerate() {
                            if r.len() != t.header.len() {
                                problems.push(format!(
                                    "section '{}': table '{}' row {} has {} cells, header has {}",
                                    s.title,
                                    t.caption,
                                    i + 1,
                                    r.len(),
                                    t.header.len()
                                ));
                            }
                            for c in r {
                                if let Cell::Quantity(k) | Cell::Number(k) = c {
                                    need(k, &format!("section '{}' table '{}'", s.title, t.caption));
                                }
                            }
                        }
                    }
                    Block::Figure(f) => {
                        let ok_name = !f.file_name.is_empty()
                            && f.file_name.ends_with(".png")
                            && !f.file_name.contains(['/', '\\'])
                            && f.file_name != "report.pdf";
                        if !ok_name {
                            problems.push(format!(
                                "figure '{}': file name must be a plain name ending in .png",
                                f.file_name
                            ));
                        }
                        if names.insert(f.file_name.clone(), ()).is_some() {
                            problems.push(format!("figure file name '{}' used twice", f.file_name));
                        }
                        if !f.png.is_file() {
                            problems.push(format!("figure '{}': {} does not exist", f.file_name, f.png.display()));
                        }
                    }
                }
            }
        }
        problems.extend(missing.into_inner());
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::input(
                &format!("report '{}'", self.title),
                "content",
                problems.join("; "),
                "add the missing quantities or fix the references before writing the report",
            ))
        }
    }

    /// Text of a paragraph with `{key}` replaced by formatted quantities.
    pub fn expand(&self, paragraph: &str) -> Result<String> {
        let idx = self.index();
        expand_with(paragraph, &|k| idx.get(k).map(|q| q.text()))
    }

    /// Text of a table cell.
    pub fn cell_text(&self, c: &Cell) -> Result<String> {
        let missing = |k: &str| {
            Error::input(
                "report",
                k,
                "unknown quantity in table",
                "add the quantity to the report",
            )
        };
        match c {
            Cell::Text(s) => Ok(s.clone()),
            Cell::Quantity(k) => self.get(k).map(|q| q.text()).ok_or_else(|| missing(k)),
            Cell::Number(k) => self.get(k).map(|q| format_number(q.value)).ok_or_else(|| missing(k)),
        }
    }

    /// All figures in reading order.
    pub fn figures(&self) -> Vec<&Figure> {
        self.sections
            .iter()
            .flat_map(|s| s.blocks.iter())
            .filter_map(|b| match b {
                Block::Figure(f) => Some(f),
                _ => None,
            })
            .collect()
    }
}

/// The braces around a `{key}` reference in a paragraph (named, so that no line of the functions
/// below holds a lone brace character).
const OPEN: char = '{';
const CLOSE: char = '}';
const UNCLOSED: &str = "unclosed '{'";

/// Keys referenced as `{key}` in a paragraph.
fn paragraph_keys(p: &str) -> std::result::Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut rest = p;
    while let Some(i) = rest.find(OPEN) {
        // Two opening braces are a literal brace.
        if rest[i + 1..].starts_with(OPEN) {
            rest = &rest[i + 2..];
            continue;
        }
        let end = rest[i..].find(CLOSE).ok_or(UNCLOSED)?;
        keys.push(rest[i + 1..i + end].to_string());
        rest = &rest[i + end + 1..];
    }
    Ok(keys)
}

fn expand_with(p: &str, lookup: &dyn Fn(&str) -> Option<String>) -> Result<String> {
    let mut out = String::with_capacity(p.len());
    let mut chars = p.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '{' if matches!(chars.peek(), Some((_, '{'))) => {
                chars.next();
                out.push('{');
            }
            '}' if matches!(chars.peek(), Some((_, '}'))) => {
                chars.next();
                out.push('}');
            }
            '{' => {
                let end = p[i..].find('}').ok_or_else(|| {
                    Error::input("report paragraph", "{", "unclosed '{'", "write {{ for a literal brace")
                })?;
                let key = &p[i + 1..i + end];
                out.push_str(&lookup(key).ok_or_else(|| {
                    Error::input(
                        "report paragraph",
                        key,
                        "unknown quantity",
                        "add the quantity to the report",
                    )
                })?);
                while let Some((j, _)) = chars.peek() {
                    if *j <= i + end {
                        chars.next();
                    } else {
                        break;
                    }
                }
            }
            c => out.push(c),
        }
    }
    Ok(out)
}

/// Names of the files [`write_report`] puts in the output directory besides the figures.
pub const PDF_NAME: &str = "report.pdf";
pub const SUMMARY_NAME: &str = "summary.json";

/// Writes the report into an open atomic directory: copies each figure's PNG in (unless it is already
/// there), then `report.pdf` and `summary.json`. The caller commits the directory, so outputs the
/// pipeline wrote there (HDF5 fields) and the report appear together or not at all.
pub fn write_into(dir: &AtomicDir, report: &Report) -> Result<()> {
    report.validate()?;
    for f in report.figures() {
        let dst = dir.path(&f.file_name);
        let same = match (f.png.canonicalize(), dst.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        if !same {
            std::fs::copy(&f.png, &dst).map_err(|e| Error::Io {
                path: f.png.display().to_string(),
                err: e,
            })?;
        }
    }
    let pdf_bytes = pdf::render(report)?;
    let p = dir.path(PDF_NAME);
    std::fs::write(&p, pdf_bytes).map_err(|e| Error::Io {
        path: p.display().to_string(),
        err: e,
    })?;
    crate::io::write_json(&dir.path(SUMMARY_NAME), &summary::Summary::from_report(report))
}

/// Writes the report to a new directory `out` atomically (`overwrite` replaces an existing one).
/// The report's figures are its inputs (the output may not hold or replace them).
pub fn write_report(report: &Report, out: &Path, overwrite: bool) -> Result<PathBuf> {
    let mut policy = crate::io::OutputPolicy::new("report", overwrite);
    for f in report.figures() {
        policy = policy.input("figure", &f.png);
    }
    let dir = AtomicDir::new(out, &policy)?;
    write_into(&dir, report)?;
    dir.commit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_format_has_four_significant_digits() {
        assert_eq!(format_number(2.0), "2.000");
        assert_eq!(format_number(15.0), "15.00");
        assert_eq!(format_number(900.0), "900.0");
        assert_eq!(format_number(12345.0), "12345");
        assert_eq!(format_number(-0.0123456), "-0.01235");
        assert_eq!(format_number(9.99996), "10.00");
        assert_eq!(format_number(1.5e-6), "1.500e-6");
        assert_eq!(format_number(2.5e7), "2.500e7");
        assert_eq!(format_number(0.0), "0");
        assert_eq!(format_quantity(1.25, "°C"), "1.250 °C");
    }

    #[test]
    fn unconfirmed_values_are_found_in_comments_only() {
        let t = "a = 1\nsigma = 0.47 # UNCONFIRMED: from the datasheet\nname = \"UNCONFIRMED\"\n";
        assert_eq!(
            unconfirmed_lines(t),
            vec![(2, "sigma = 0.47 # UNCONFIRMED: from the datasheet".to_string())]
        );
    }

    #[test]
    fn sha256_matches_known_digest() {
        // FIPS 180-2 example: SHA-256("abc").
        assert_eq!(
            sha256_bytes(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let dir = std::env::temp_dir().join(format!("rftwin-sha-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("abc.txt");
        // Longer than one read block, so the streaming path is exercised.
        let data: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&p, &data).unwrap();
        let (h, n) = sha256_file(&p).unwrap();
        assert_eq!(n, 200_000);
        assert_eq!(h, sha256_bytes(&data));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn iso_dates_match_known_epochs() {
        assert_eq!(iso8601_utc(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 12:34:56 UTC (leap day).
        assert_eq!(iso8601_utc(951_827_696), "2000-02-29T12:34:56Z");
        assert_eq!(iso8601_utc(1_798_761_599), "2026-12-31T23:59:59Z");
    }

    #[test]
    fn paragraphs_expand_quantities_and_braces() {
        let mut r = Report::new("t");
        r.quantity("sar.peak", 3.21, "W/kg", "peak");
        assert_eq!(
            r.expand("SAR {sar.peak}, set {{x}}").unwrap(),
            "SAR 3.210 W/kg, set {x}"
        );
        assert!(r.expand("SAR {missing}").is_err());
        assert!(r.expand("SAR {sar.peak").is_err());
        r.sections.push(Section::new("s").paragraph("{nope}"));
        let e = r.validate().unwrap_err().to_string();
        assert!(e.contains("nope"), "{e}");
    }
}
