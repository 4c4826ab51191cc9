//! Regression comparison of a result directory against a committed golden one.
//!
//! Two kinds of checks:
//! - every quantity of the golden `summary.json` must be present in the new one with the same unit and
//!   a relative change `|new − golden| / |golden|` within the tolerance of its key class (the longest
//!   matching key prefix in [`Tolerances::classes`], else [`Tolerances::default_rel`]); the overall
//!   verdict and each criterion's verdict must be unchanged;
//! - every 3-D dataset of every `*.h5` file in the golden directory (HDF5 fields: B1+, SAR,
//!   temperature; real or complex) must exist in the new file with the same shape, and
//!   - NRMSE = `sqrt(Σ_M |new − golden|²) / sqrt(Σ_M |golden|²)` over the mask M of voxels where
//!     `|golden| ≥ mask_fraction · max |golden|` (so empty air and the region outside the phantom do
//!     not dilute the error), must be ≤ `field_nrmse`;
//!   - the peak change `|max |new| − max |golden|| / max |golden|` must be ≤ `field_peak_rel`.
//!
//! A uniform scaling by `1 + ε` gives NRMSE = peak change = ε, which is how the defaults (1 %) relate
//! to "a 5 % change is caught". Derived helper datasets under `xdmf/` are not compared.
//! The result lists every check with what moved and by how much.

use std::path::{Path, PathBuf};

use num_complex::{Complex32, Complex64};
use serde::Serialize;

use super::summary::Summary;
use super::{format_number, SUMMARY_NAME};
use crate::error::{Error, Result};

/// Tolerances of a comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Tolerances {
    /// Relative tolerance of a summary quantity without a class.
    pub default_rel: f64,
    /// Per key-class relative tolerances: `(key prefix, tolerance)`; the longest matching prefix wins.
    /// Also applies to field checks, whose keys are `FILE.h5:/dataset`.
    pub classes: Vec<(String, f64)>,
    /// Below this magnitude a golden value counts as zero and the change is taken as absolute.
    pub abs_floor: f64,
    pub field_nrmse: f64,
    pub field_peak_rel: f64,
    /// Voxels with |golden| below this fraction of the peak are outside the comparison mask.
    pub mask_fraction: f64,
}

impl Default for Tolerances {
    fn default() -> Self {
        Self {
            default_rel: 0.01,
            classes: Vec::new(),
            abs_floor: 1e-12,
            field_nrmse: 0.01,
            field_peak_rel: 0.01,
            mask_fraction: 1e-3,
        }
    }
}

/// `tolerances.toml` in a golden directory (all keys optional; defaults as [`Tolerances::default`]).
#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct TolerancesToml {
    default_rel: Option<f64>,
    abs_floor: Option<f64>,
    field_nrmse: Option<f64>,
    field_peak_rel: Option<f64>,
    mask_fraction: Option<f64>,
    #[serde(default)]
    classes: std::collections::BTreeMap<String, f64>,
}

/// Name of the optional tolerance file in a golden directory.
pub const TOLERANCES_NAME: &str = "tolerances.toml";

impl Tolerances {
    /// The tolerances a golden directory states in `tolerances.toml`, or the defaults without one:
    /// ```toml
    /// default_rel = 0.01        # summary quantities without a class
    /// field_nrmse = 0.01
    /// field_peak_rel = 0.01
    /// mask_fraction = 1e-3
    /// [classes]                 # key prefix = relative tolerance
    /// "sar." = 0.02
    /// "fields.h5:/sar/" = 0.02
    /// ```
    pub fn for_golden_dir(dir: &Path) -> Result<Self> {
        let path = dir.join(TOLERANCES_NAME);
        if !path.is_file() {
            return Ok(Self::default());
        }
        let src = path.display().to_string();
        let text = crate::spec::read_text(&path)?;
        let raw: TolerancesToml = crate::spec::parse(
            &text,
            &src,
            "default_rel, abs_floor, field_nrmse, field_peak_rel, mask_fraction, [classes]",
        )?;
        let d = Self::default();
        let mut p = crate::spec::Problems::new(&src);
        // `inf` is allowed for a class: its quantities are reported but never fail (wall times).
        let mut get = |key: &str, v: Option<f64>, def: f64| {
            let x = v.unwrap_or(def);
            let inf_ok = key.starts_with("classes.") && x == f64::INFINITY;
            if !(x >= 0.0) || !(x.is_finite() || inf_ok) {
                p.add(
                    key,
                    format!("{x} is not a finite number ≥ 0"),
                    "give a relative tolerance, e.g. 0.01 (a [classes] entry may be inf: never fails)",
                );
            }
            x
        };
        let t = Self {
            default_rel: get("default_rel", raw.default_rel, d.default_rel),
            abs_floor: get("abs_floor", raw.abs_floor, d.abs_floor),
            field_nrmse: get("field_nrmse", raw.field_nrmse, d.field_nrmse),
            field_peak_rel: get("field_peak_rel", raw.field_peak_rel, d.field_peak_rel),
            mask_fraction: get("mask_fraction", raw.mask_fraction, d.mask_fraction),
            classes: raw
                .classes
                .iter()
                .map(|(k, v)| (k.clone(), get(&format!("classes.\"{k}\""), Some(*v), 0.0)))
                .collect(),
        };
        // A class is a key prefix; one that matches nothing (a typo) would silently leave its
        // quantities at the default tolerance: every class must match a quantity of the golden summary
        // or a field dataset of its HDF5 files.
        if !t.classes.is_empty() {
            let known = golden_keys(dir);
            for (c, _) in &t.classes {
                if !known.iter().any(|k| k.starts_with(c.as_str())) {
                    let mut prefixes: Vec<String> = known
                        .iter()
                        .map(|k| match k.split_once(":/") {
                            Some((f, d)) => format!("{f}:/{}", d.split('/').next().unwrap_or("")),
                            None => k.split('.').next().unwrap_or(k).to_string() + ".",
                        })
                        .collect();
                    prefixes.dedup();
                    prefixes.sort();
                    prefixes.dedup();
                    p.add(
                        &format!("classes.\"{c}\""),
                        format!(
                            "the prefix matches no quantity of the golden {SUMMARY_NAME} and no dataset of its .h5 files (a typo would leave those quantities at the default tolerance)"
                        ),
                        format!(
                            "correct or remove it; prefixes that match: {}",
                            if prefixes.is_empty() { "(none: the golden directory has no results)".to_string() } else { prefixes.join(", ") }
                        ),
                    );
                }
            }
        }
        p.finish()?;
        Ok(t)
    }

    /// The tolerance for `key`, or `fallback` when no class prefix matches.
    pub fn for_key(&self, key: &str, fallback: f64) -> f64 {
        self.classes
            .iter()
            .filter(|(p, _)| key.starts_with(p.as_str()))
            .max_by_key(|(p, _)| p.len())
            .map(|(_, t)| *t)
            .unwrap_or(fallback)
    }
}

/// The keys the checks of a comparison against `golden` can have: the summary's quantity keys and
/// `FILE.h5:/dataset` for every 3-D dataset of its HDF5 files (unreadable parts are skipped: the
/// comparison itself reports them).
fn golden_keys(golden: &Path) -> Vec<String> {
    let mut keys = Vec::new();
    if let Ok(s) = Summary::load(&golden.join(SUMMARY_NAME)) {
        keys.extend(s.quantities.iter().map(|q| q.key.clone()));
    }
    let files = std::fs::read_dir(golden)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "h5") && p.is_file());
    for f in files {
        let name = f.file_name().unwrap_or_default().to_string_lossy().to_string();
        let Ok(h) = hdf5::File::open(&f) else { continue };
        let mut sets = Vec::new();
        if datasets(&h, &mut sets).is_ok() {
            keys.extend(
                sets.iter()
                    .filter(|d| d.ndim() == 3)
                    .map(|d| format!("{name}:{}", d.name())),
            );
        }
    }
    keys
}

/// The two numbers of a change, with as many significant digits (4 at least, 15 at most) as it takes to
/// tell them apart, so a moved quantity never reads "10.71 -> 10.71".
pub fn distinct_pair(a: f64, b: f64) -> (String, String) {
    let fmt = |x: f64, digits: usize| -> String {
        if !x.is_finite() || x == 0.0 {
            return format_number(x);
        }
        let mag = x.abs().log10().floor() as i32;
        if (-3..5).contains(&mag) {
            let decimals = (digits as i32 - 1 - mag).max(0) as usize;
            format!("{x:.decimals$}")
        } else {
            format!("{x:.prec$e}", prec = digits - 1)
        }
    };
    if a == b || !a.is_finite() || !b.is_finite() {
        return (format_number(a), format_number(b));
    }
    for digits in 4..=15 {
        let (x, y) = (fmt(a, digits), fmt(b, digits));
        if x != y {
            return (x, y);
        }
    }
    (format!("{a:e}"), format!("{b:e}"))
}

/// One check of the comparison.
#[derive(Clone, Debug, Serialize)]
pub struct Check {
    /// `summary:KEY`, `verdict`, or `FILE.h5:/dataset (nrmse|peak)`.
    pub what: String,
    /// Relative change (or NRMSE) measured; `inf` for a missing or mismatched item.
    pub change: f64,
    pub tolerance: f64,
    pub pass: bool,
    /// One line: what moved and by how much.
    pub message: String,
}

/// The result of [`compare_dirs`].
#[derive(Clone, Debug, Serialize)]
pub struct Comparison {
    pub golden: PathBuf,
    pub new: PathBuf,
    pub checks: Vec<Check>,
}

impl Comparison {
    pub fn pass(&self) -> bool {
        self.checks.iter().all(|c| c.pass)
    }
    pub fn failures(&self) -> Vec<&Check> {
        self.checks.iter().filter(|c| !c.pass).collect()
    }
    /// Exit code: 0 all within tolerance, 1 a regression.
    pub fn exit_code(&self) -> i32 {
        if self.pass() {
            0
        } else {
            1
        }
    }
    /// Human-readable report: the failures first, then a count of the checks that passed.
    pub fn text(&self) -> String {
        let mut s = String::new();
        for c in self.failures() {
            s.push_str(&format!("REGRESSION {}\n", c.message));
        }
        let n_ok = self.checks.len() - self.failures().len();
        s.push_str(&format!(
            "{} of {} checks within tolerance ({} vs golden {})\n",
            n_ok,
            self.checks.len(),
            self.new.display(),
            self.golden.display()
        ));
        s
    }
}

fn with_unit(v: &str, unit: &str) -> String {
    if unit.is_empty() {
        v.to_string()
    } else {
        format!("{v} {unit}")
    }
}

fn pct(x: f64) -> String {
    format!("{} %", format_number(100.0 * x))
}

fn missing(what: String, why: &str) -> Check {
    Check {
        message: format!("{what}: {why}"),
        what,
        change: f64::INFINITY,
        tolerance: 0.0,
        pass: false,
    }
}

/// Compares the summaries (if the golden directory has one) and the HDF5 fields of two result
/// directories. Errors only for unreadable inputs; differences are failed checks.
pub fn compare_dirs(golden: &Path, new: &Path, tol: &Tolerances) -> Result<Comparison> {
    for (d, what) in [(golden, "golden"), (new, "new")] {
        if !d.is_dir() {
            return Err(Error::input(
                &d.display().to_string(),
                what,
                "not a directory",
                "give a result directory written by rftwin",
            ));
        }
    }
    let mut checks = Vec::new();
    let gs = golden.join(SUMMARY_NAME);
    if gs.is_file() {
        let g = Summary::load(&gs)?;
        let ns = new.join(SUMMARY_NAME);
        if ns.is_file() {
            compare_summaries(&g, &Summary::load(&ns)?, tol, &mut checks);
        } else {
            checks.push(missing(SUMMARY_NAME.to_string(), "missing in the new result"));
        }
    }
    let mut h5: Vec<PathBuf> = std::fs::read_dir(golden)
        .map_err(|e| Error::Io {
            path: golden.display().to_string(),
            err: e,
        })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "h5") && p.is_file())
        .collect();
    h5.sort();
    for g in h5 {
        let name = g.file_name().unwrap_or_default().to_string_lossy().to_string();
        let n = new.join(&name);
        if !n.is_file() {
            checks.push(missing(name, "HDF5 file missing in the new result"));
            continue;
        }
        compare_h5(&g, &n, &name, tol, &mut checks)?;
    }
    if checks.is_empty() {
        return Err(Error::input(
            &golden.display().to_string(),
            "contents",
            "no summary.json and no .h5 files to compare",
            "give a golden directory written by rftwin",
        ));
    }
    Ok(Comparison {
        golden: golden.to_path_buf(),
        new: new.to_path_buf(),
        checks,
    })
}

/// Quantity-by-quantity and verdict comparison of two summaries.
pub fn compare_summaries(g: &Summary, n: &Summary, tol: &Tolerances, out: &mut Vec<Check>) {
    let what = "verdict".to_string();
    out.push(Check {
        pass: g.verdict == n.verdict,
        change: if g.verdict == n.verdict { 0.0 } else { f64::INFINITY },
        tolerance: 0.0,
        message: format!("verdict: {} -> {}", g.verdict.as_str(), n.verdict.as_str()),
        what,
    });
    for gc in &g.criteria {
        let what = format!("criterion:{}", gc.id);
        match n.criteria.iter().find(|c| c.id == gc.id) {
            None => out.push(missing(what, "criterion missing in the new result")),
            Some(nc) => out.push(Check {
                pass: nc.verdict == gc.verdict,
                change: if nc.verdict == gc.verdict { 0.0 } else { f64::INFINITY },
                tolerance: 0.0,
                message: format!("{what}: {} -> {}", gc.verdict.as_str(), nc.verdict.as_str()),
                what,
            }),
        }
    }
    for gq in &g.quantities {
        let what = format!("summary:{}", gq.key);
        let Some(nq) = n.get(&gq.key) else {
            out.push(missing(what, "quantity missing in the new summary"));
            continue;
        };
        if nq.unit != gq.unit {
            out.push(missing(
                what,
                &format!("unit changed from '{}' to '{}'", gq.unit, nq.unit),
            ));
            continue;
        }
        let (gv, nv) = distinct_pair(gq.value, nq.value);
        let t = tol.for_key(&gq.key, tol.default_rel);
        let denom = gq.value.abs().max(tol.abs_floor);
        let change = if nq.value.is_finite() {
            (nq.value - gq.value).abs() / denom
        } else {
            f64::INFINITY
        };
        out.push(Check {
            pass: change <= t,
            change,
            tolerance: t,
            message: format!(
                "{what}: {} -> {} ({}{}, tolerance {})",
                with_unit(&gv, &gq.unit),
                with_unit(&nv, &nq.unit),
                if nq.value >= gq.value { "+" } else { "-" },
                pct(change),
                pct(t)
            ),
            what,
        });
    }
}

/// A dataset read as complex values (real data get a zero imaginary part), with its shape.
fn read_any(ds: &hdf5::Dataset) -> Option<(Vec<Complex64>, Vec<usize>)> {
    use hdf5::types::{FloatSize, TypeDescriptor};
    let shape = ds.shape();
    if shape.len() != 3 {
        return None;
    }
    let desc = ds.dtype().ok()?.to_descriptor().ok()?;
    let v: Vec<Complex64> = match desc {
        TypeDescriptor::Float(_) | TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) => ds
            .read_raw::<f64>()
            .ok()?
            .into_iter()
            .map(|x| Complex64::new(x, 0.0))
            .collect(),
        TypeDescriptor::Compound(c) if c.fields.len() == 2 => match c.fields[0].ty {
            TypeDescriptor::Float(FloatSize::U4) => ds
                .read_raw::<Complex32>()
                .ok()?
                .into_iter()
                .map(|z| Complex64::new(z.re as f64, z.im as f64))
                .collect(),
            TypeDescriptor::Float(FloatSize::U8) => ds.read_raw::<Complex64>().ok()?,
            _ => return None,
        },
        _ => return None,
    };
    Some((v, shape))
}

fn datasets(g: &hdf5::Group, out: &mut Vec<hdf5::Dataset>) -> hdf5::Result<()> {
    out.extend(g.datasets()?);
    for sub in g.groups()? {
        if sub.name().trim_start_matches('/').starts_with("xdmf") {
            continue;
        }
        datasets(&sub, out)?;
    }
    Ok(())
}

/// NRMSE over the mask and relative peak change of two fields of equal length. A value that is NaN
/// in both ("not evaluated", e.g. a mass-averaged SAR voxel whose cube the local box truncates) is
/// skipped; a NaN in only one of them is a regression (both metrics infinite).
pub fn field_metrics(golden: &[Complex64], new: &[Complex64], mask_fraction: f64) -> (f64, f64) {
    let nan = |z: &Complex64| z.re.is_nan() || z.im.is_nan();
    if golden.iter().zip(new).any(|(g, n)| nan(g) != nan(n)) {
        return (f64::INFINITY, f64::INFINITY);
    }
    let gmax = golden
        .iter()
        .map(|z| z.norm())
        .filter(|x| x.is_finite())
        .fold(0.0, f64::max);
    let nmax = new
        .iter()
        .zip(golden)
        .filter(|(_, g)| !nan(g))
        .map(|(z, _)| z.norm())
        .fold(0.0, |a: f64, b| if b.is_nan() { f64::NAN } else { a.max(b) });
    let thr = mask_fraction * gmax;
    let (mut num, mut den) = (0.0, 0.0);
    for (g, n) in golden.iter().zip(new) {
        if g.norm() >= thr && g.norm().is_finite() {
            num += (n - g).norm_sqr();
            den += g.norm_sqr();
        }
    }
    let nrmse = if den > 0.0 {
        (num / den).sqrt()
    } else if num > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    let peak = if gmax > 0.0 {
        (nmax - gmax).abs() / gmax
    } else if nmax > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    (
        if nrmse.is_nan() { f64::INFINITY } else { nrmse },
        if peak.is_nan() { f64::INFINITY } else { peak },
    )
}

fn compare_h5(golden: &Path, new: &Path, name: &str, tol: &Tolerances, out: &mut Vec<Check>) -> Result<()> {
    let open = |p: &Path| {
        hdf5::File::open(p).map_err(|e| {
            Error::input(
                &p.display().to_string(),
                "file",
                format!("cannot open as HDF5: {e}"),
                "give an HDF5 file written by rftwin",
            )
        })
    };
    let (gf, nf) = (open(golden)?, open(new)?);
    let mut gsets = Vec::new();
    datasets(&gf, &mut gsets).map_err(|e| Error::Other(format!("{}: listing datasets: {e}", golden.display())))?;
    gsets.sort_by_key(|d| d.name());
    for gd in gsets {
        let path = gd.name();
        let Some((gv, gshape)) = read_any(&gd) else { continue };
        let what = format!("{name}:{path}");
        let Ok(nd) = nf.dataset(&path) else {
            out.push(missing(what, "dataset missing in the new file"));
            continue;
        };
        let Some((nv, nshape)) = read_any(&nd) else {
            out.push(missing(what, "dataset unreadable or of another type in the new file"));
            continue;
        };
        if nshape != gshape {
            out.push(missing(what, &format!("shape changed from {gshape:?} to {nshape:?}")));
            continue;
        }
        let (nrmse, peak) = field_metrics(&gv, &nv, tol.mask_fraction);
        let tn = tol.for_key(&what, tol.field_nrmse);
        let tp = tol.for_key(&what, tol.field_peak_rel);
        let gmax = gv.iter().map(|z| z.norm()).filter(|x| x.is_finite()).fold(0.0, f64::max);
        let nmax = nv.iter().map(|z| z.norm()).filter(|x| x.is_finite()).fold(0.0, f64::max);
        out.push(Check {
            what: format!("{what} nrmse"),
            change: nrmse,
            tolerance: tn,
            pass: nrmse <= tn,
            message: format!("{what}: NRMSE {} (tolerance {})", pct(nrmse), pct(tn)),
        });
        out.push(Check {
            what: format!("{what} peak"),
            change: peak,
            tolerance: tp,
            pass: peak <= tp,
            message: format!(
                "{what}: peak |value| {} -> {} ({}{}, tolerance {})",
                distinct_pair(gmax, nmax).0,
                distinct_pair(gmax, nmax).1,
                if nmax >= gmax { "+" } else { "-" },
                pct(peak),
                pct(tp)
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uniform_scaling_gives_equal_nrmse_and_peak_change() {
        let g: Vec<Complex64> = (0..1000).map(|i| Complex64::new((i as f64 * 0.1).sin(), 0.3)).collect();
        let n: Vec<Complex64> = g.iter().map(|z| z * 1.05).collect();
        let (e, p) = field_metrics(&g, &n, 1e-3);
        assert!((e - 0.05).abs() < 1e-12 && (p - 0.05).abs() < 1e-12, "{e} {p}");
        let (e, p) = field_metrics(&g, &g, 1e-3);
        assert_eq!((e, p), (0.0, 0.0));
        // A NaN in the new field is a regression, not a silent pass.
        let mut bad = g.clone();
        bad[3] = Complex64::new(f64::NAN, 0.0);
        let (e, _) = field_metrics(&g, &bad, 1e-3);
        assert!(e.is_infinite());
        // NaN in both at the same voxel ("not evaluated" in both) is skipped.
        let (e, p) = field_metrics(&bad, &bad, 1e-3);
        assert_eq!((e, p), (0.0, 0.0));
        let (e, _) = field_metrics(&bad, &g, 1e-3);
        assert!(e.is_infinite());
    }

    #[test]
    fn longest_prefix_class_wins() {
        let t = Tolerances {
            classes: vec![("sar.".into(), 0.02), ("sar.peak_1g".into(), 0.05)],
            ..Default::default()
        };
        assert_eq!(t.for_key("sar.peak_1g", 0.01), 0.05);
        assert_eq!(t.for_key("sar.peak_10g", 0.01), 0.02);
        assert_eq!(t.for_key("thermal.x", 0.01), 0.01);
    }
}
