//! Resource guards: refuse work that cannot fit before it starts, check grid resolution, and announce
//! long runs.
//!
//! - [`check_bytes`] compares an estimate (from dimensions, with checked arithmetic: an overflow is
//!   itself a refusal) with the memory available: the smaller of the cgroup limit
//!   (`/sys/fs/cgroup/memory.max`, cgroup v1 `memory.limit_in_bytes`) and `/proc/meminfo`
//!   `MemAvailable`, or `RFTWIN_MAX_MEMORY` (bytes; suffixes K, M, G, T, also KiB.., KB..) when set.
//! - [`check_resolution`]: cells per wavelength in the densest medium at the highest frequency of a
//!   run; below [`WARN_CELLS_PER_WAVELENGTH`] a warning, below [`MIN_CELLS_PER_WAVELENGTH`] a refusal
//!   unless the user allowed coarse grids (`--allow-coarse-grid`, or `grid.allow_coarse_grid` in an
//!   `fdtd run` file).
//! - [`announce`]: a one-line estimate of the step count and duration of a long run (stderr).
//!
//! Messages go to stderr through [`note`], silenced by [`set_quiet`] (the CLI's `--quiet`).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use crate::error::{Error, Result};

/// Estimated heap bytes per node of an FDTD grid: six f32 field arrays (24), three u8 edge-material
/// arrays (3), the voxel model kept by the operator (~1.4), and a margin for segments, CPML psi
/// planes, sources and small probes. Whole-grid DFT probes come on top (see [`DFT_BYTES_PER_NODE`]).
pub const FDTD_BYTES_PER_NODE: u64 = 40;
/// Bytes per node and frequency of a whole-grid E and H phasor probe (six complex f32).
pub const DFT_BYTES_PER_NODE: u64 = 48;
/// Below this many cells per wavelength a run is refused (unless allowed explicitly).
pub const MIN_CELLS_PER_WAVELENGTH: f64 = 6.0;
/// Below this many cells per wavelength a run warns.
pub const WARN_CELLS_PER_WAVELENGTH: f64 = 15.0;
/// Throughput assumed for duration estimates (cell updates per second, E and H together). A rough
/// figure for a few cores; the printed duration says it is an estimate.
pub const ASSUMED_CELL_STEPS_PER_S: f64 = 150e6;
/// Runs estimated shorter than this are not announced.
pub const ANNOUNCE_ABOVE_S: f64 = 20.0;

static QUIET: AtomicBool = AtomicBool::new(false);
static ALLOW_COARSE: AtomicBool = AtomicBool::new(false);
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// Silences [`note`] (the CLI's `--quiet`).
pub fn set_quiet(quiet: bool) {
    QUIET.store(quiet, Ordering::Relaxed);
}

/// Allows grids coarser than [`MIN_CELLS_PER_WAVELENGTH`] process-wide (the CLI's
/// `--allow-coarse-grid`); they still warn.
pub fn set_allow_coarse_grid(allow: bool) {
    ALLOW_COARSE.store(allow, Ordering::Relaxed);
}

/// Whether [`set_allow_coarse_grid`] was called with `true`.
pub fn coarse_grid_allowed() -> bool {
    ALLOW_COARSE.load(Ordering::Relaxed)
}

/// Prints a line to stderr unless quiet.
pub fn note(msg: &str) {
    if !QUIET.load(Ordering::Relaxed) {
        eprintln!("{msg}");
    }
}

/// Prints a warning (unless quiet) and keeps it for the run's summary ([`take_warnings`]).
pub fn warn(msg: String) {
    let mut w = WARNINGS.lock().unwrap_or_else(|e| e.into_inner());
    if !w.contains(&msg) {
        note(&format!("warning: {msg}"));
        w.push(msg);
    }
}

/// The warnings raised since the last call (for summary.json).
pub fn take_warnings() -> Vec<String> {
    std::mem::take(&mut *WARNINGS.lock().unwrap_or_else(|e| e.into_inner()))
}

/// Parses a byte count with an optional suffix: `1048576`, `512M`, `8G`, `1.5GiB`, `64 kB`.
/// K/M/G/T are powers of 1024 (as `free -h` prints them); `KB`, `MB`.. are powers of 1000.
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(s.len());
    let (num, suffix) = s.split_at(split);
    let v: f64 = num.parse().ok()?;
    let suffix = suffix.trim().to_ascii_uppercase();
    let mult: f64 = match suffix.as_str() {
        "" | "B" => 1.0,
        "K" | "KIB" => 1024.0,
        "M" | "MIB" => 1024f64.powi(2),
        "G" | "GIB" => 1024f64.powi(3),
        "T" | "TIB" => 1024f64.powi(4),
        "KB" => 1e3,
        "MB" => 1e6,
        "GB" => 1e9,
        "TB" => 1e12,
        _ => return None,
    };
    let b = v * mult;
    (b.is_finite() && b >= 0.0 && b < u64::MAX as f64).then_some(b as u64)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut it = line["MemAvailable:".len()..].split_whitespace();
    let v: u64 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") | None => v.checked_mul(1024),
        _ => None,
    }
}

/// A cgroup memory limit file (`max` or a number of bytes); `None` for no limit.
pub fn parse_cgroup_limit(text: &str) -> Option<u64> {
    let v: u64 = text.trim().parse().ok()?;
    // cgroup v1 reports "no limit" as a huge page-aligned number.
    (v < (1u64 << 60)).then_some(v)
}

/// Memory a run may use (bytes) and where the figure came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Available {
    pub bytes: u64,
    pub source: String,
}

/// The memory available: `RFTWIN_MAX_MEMORY` when set, else the smaller of the cgroup limit (less
/// what the cgroup already uses) and `MemAvailable`. `Ok(None)` when nothing can be read (no check).
pub fn available() -> Result<Option<Available>> {
    if let Ok(v) = std::env::var("RFTWIN_MAX_MEMORY") {
        return match parse_size(&v) {
            Some(b) => Ok(Some(Available {
                bytes: b,
                source: "RFTWIN_MAX_MEMORY".into(),
            })),
            None => Err(Error::input(
                "environment",
                "RFTWIN_MAX_MEMORY",
                format!("'{v}' is not a byte count"),
                "give bytes, optionally with a suffix: 512M, 8G, 2.5GiB (or unset it)",
            )),
        };
    }
    let mut best: Option<Available> = None;
    let mut consider = |bytes: u64, source: &str| {
        if best.as_ref().is_none_or(|b| bytes < b.bytes) {
            best = Some(Available {
                bytes,
                source: source.into(),
            });
        }
    };
    if let Some(b) = std::fs::read_to_string("/proc/meminfo").ok().as_deref().and_then(parse_meminfo) {
        consider(b, "MemAvailable");
    }
    for (limit, usage) in [
        ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory.current"),
        (
            "/sys/fs/cgroup/memory/memory.limit_in_bytes",
            "/sys/fs/cgroup/memory/memory.usage_in_bytes",
        ),
    ] {
        let read = |p: &str| std::fs::read_to_string(p).ok();
        if let Some(l) = read(limit).as_deref().and_then(parse_cgroup_limit) {
            let used = read(usage).and_then(|u| u.trim().parse::<u64>().ok()).unwrap_or(0);
            consider(l.saturating_sub(used), "cgroup memory limit");
            break;
        }
    }
    Ok(best)
}

/// Bytes in decimal units, rounded: "930 kB", "93 GB", "1.2 TB".
pub fn fmt_bytes(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = b as f64;
    let mut u = 0;
    while v >= 1000.0 && u + 1 < units.len() {
        v /= 1000.0;
        u += 1;
    }
    if v < 10.0 && u > 0 {
        format!("{v:.1} {}", units[u])
    } else {
        format!("{v:.0} {}", units[u])
    }
}

/// Cells of a box of `n` per axis, `None` on overflow.
pub fn cells(n: [usize; 3]) -> Option<u64> {
    (n[0] as u64).checked_mul(n[1] as u64)?.checked_mul(n[2] as u64)
}

/// `count * per_item` bytes with overflow as `None`.
pub fn bytes_of(count: Option<u64>, per_item: u64) -> Option<u64> {
    count?.checked_mul(per_item)
}

/// Estimated bytes of an FDTD run on `n` cells per axis (nodes x [`FDTD_BYTES_PER_NODE`]), plus
/// `dft_freqs` whole-grid E/H phasor probes. `None` on overflow.
pub fn fdtd_bytes(n: [usize; 3], dft_freqs: u64) -> Option<u64> {
    let nodes = cells([n[0].checked_add(1)?, n[1].checked_add(1)?, n[2].checked_add(1)?])?;
    nodes.checked_mul(FDTD_BYTES_PER_NODE.checked_add(DFT_BYTES_PER_NODE.checked_mul(dft_freqs)?)?)
}

/// Cells per axis from a float count (e.g. a length over a cell size), `None` when not finite or
/// too large for the checked arithmetic that follows.
pub fn axis_cells(v: f64) -> Option<usize> {
    (0.0..1e15).contains(&v).then(|| v.ceil() as usize)
}

/// Refuses `what` when `bytes` (an estimate; `None` = it overflowed) exceeds the memory available.
/// `fix` gets the ratio estimate/available (>= 1; infinite on overflow) and returns the fix, e.g. a
/// coarser cell computed from it. The error names `source` and `key` (the option or file key that
/// set the size).
pub fn check_bytes(
    source: &str,
    key: &str,
    what: &str,
    bytes: Option<u64>,
    fix: impl FnOnce(f64) -> String,
) -> Result<()> {
    let avail = available()?;
    match (bytes, avail) {
        (None, a) => {
            let tail = a.map_or(String::new(), |a| format!(", {} available ({})", fmt_bytes(a.bytes), a.source));
            Err(Error::input(
                source,
                key,
                format!("{what} needs more memory than can be counted (the size overflows){tail}"),
                fix(f64::INFINITY),
            ))
        }
        (Some(b), Some(a)) if b > a.bytes => Err(Error::input(
            source,
            key,
            format!(
                "{what} needs about {}, {} available ({})",
                fmt_bytes(b),
                fmt_bytes(a.bytes),
                a.source
            ),
            fix(b as f64 / (a.bytes.max(1)) as f64),
        )),
        _ => Ok(()),
    }
}

/// The factor by which a cell size must grow for an FDTD run to shrink by `ratio` in memory (cells
/// scale with the cube of 1/cell), with a 10 % margin.
pub fn coarsen_factor(ratio: f64) -> f64 {
    (ratio * 1.1).cbrt()
}

/// A number for messages with 2 significant digits and no float noise: "0.0055", "2.4", "130".
pub fn fmt_sig(v: f64) -> String {
    if !(v > 0.0) || !v.is_finite() {
        return format!("{v}");
    }
    let decimals = (1.0 - v.log10().floor()).max(0.0) as usize;
    format!("{v:.decimals$}")
}

/// A frequency for messages: "63.87 MHz", "20 GHz", "1000 GHz".
pub fn fmt_freq(f: f64) -> String {
    if f >= 1e9 {
        format!("{} GHz", (f / 1e9 * 1e4).round() / 1e4)
    } else {
        format!("{} MHz", (f / 1e6 * 1e4).round() / 1e4)
    }
}

/// A rounded-up value for a fix message: 2 significant digits, never below `v`.
pub fn round_up(v: f64) -> f64 {
    if !(v > 0.0) || !v.is_finite() {
        return v;
    }
    let e = v.log10().floor() - 1.0;
    let s = 10f64.powf(e);
    (v / s).ceil() * s
}

/// A rounded-down value for a fix message: 2 significant digits, never above `v`.
pub fn round_down(v: f64) -> f64 {
    if !(v > 0.0) || !v.is_finite() {
        return v;
    }
    let e = v.log10().floor() - 1.0;
    let s = 10f64.powf(e);
    (v / s).floor() * s
}

/// Generic fix for an FDTD grid sized by a cell of `cell_m`, named `option` (an option or key).
pub fn coarser_cell_fix(option: &str, cell: f64, unit: &str, ratio: f64) -> String {
    if ratio.is_finite() {
        format!(
            "use a coarser cell ({option} {}{} or more) or a smaller box, or set RFTWIN_MAX_MEMORY if more memory is free",
            fmt_sig(round_up(cell * coarsen_factor(ratio))),
            if unit.is_empty() { String::new() } else { format!(" {unit}") }
        )
    } else {
        format!("use a much coarser cell ({option}) or a smaller box")
    }
}

/// The resolution check of a run at up to `f_max_hz` with cells up to `max_cell_m` and a densest
/// medium `eps_r_max` (`mu_r` 1), resolved with `cells_per_wavelength` cells
/// ([`crate::grid::cells_per_wavelength`]; `resources` stays below `grid`). Warns below 15 cells per wavelength, refuses below 6 unless
/// `allow` (or [`coarse_grid_allowed`]). `source`/`key` name the setting to change.
pub fn check_resolution(
    source: &str,
    key: &str,
    f_max_hz: f64,
    eps_r_max: f64,
    max_cell_m: f64,
    cells_per_wavelength: f64,
    allow: bool,
) -> Result<Option<f64>> {
    if !(f_max_hz > 0.0) || !f_max_hz.is_finite() || !(max_cell_m > 0.0) || !(eps_r_max >= 1.0) {
        return Ok(None);
    }
    let n = cells_per_wavelength;
    let lambda = n * max_cell_m;
    let finest = |target: f64| fmt_sig(round_down(lambda / target * 1e3));
    if n < MIN_CELLS_PER_WAVELENGTH && !(allow || coarse_grid_allowed()) {
        return Err(Error::input(
            source,
            key,
            format!(
                "the grid resolves the wavelength with {count} cells ({:.3} mm in the densest medium, eps_r {eps_r_max:.1}, at {}; cells up to {} mm): below {MIN_CELLS_PER_WAVELENGTH} the answer is wrong",
                lambda * 1e3,
                fmt_freq(f_max_hz),
                fmt_sig(max_cell_m * 1e3),
                count = fmt_count(n)
            ),
            format!(
                "use cells of {} mm or less (15 cells per wavelength: {} mm), a lower frequency, or pass --allow-coarse-grid (grid.allow_coarse_grid = true in an fdtd run file) to run anyway",
                finest(MIN_CELLS_PER_WAVELENGTH),
                finest(WARN_CELLS_PER_WAVELENGTH)
            ),
        ));
    }
    if n < WARN_CELLS_PER_WAVELENGTH {
        warn(format!(
            "{source}: {key}: only {n:.1} cells per wavelength ({:.3} mm in eps_r {eps_r_max:.1} at {}, cells up to {} mm); numerical dispersion is large below {WARN_CELLS_PER_WAVELENGTH}: use cells of {} mm or less",
            lambda * 1e3,
            fmt_freq(f_max_hz),
            fmt_sig(max_cell_m * 1e3),
            finest(WARN_CELLS_PER_WAVELENGTH)
        ));
    }
    Ok(Some(n))
}

/// A count for messages: one decimal from 1 up, three significant digits below.
fn fmt_count(n: f64) -> String {
    if n >= 1.0 {
        format!("{n:.1}")
    } else {
        format!("{n:.3}")
    }
}

/// Human duration: "40 s", "3 min", "2.5 h".
pub fn fmt_duration(s: f64) -> String {
    if s < 90.0 {
        format!("{s:.0} s")
    } else if s < 5400.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        format!("{:.1} h", s / 3600.0)
    }
}

/// Prints (stderr, unless quiet) the estimated step count and duration of an FDTD run on `cells`
/// cells taking between `steps_lo` and `steps_hi` steps, when the longest would take
/// [`ANNOUNCE_ABOVE_S`] or more: "FDTD: 2.9 M cells, ~14400 steps, ~3 min (estimate at ~150
/// Mcell-steps/s)".
pub fn announce(cells: u64, steps_lo: usize, steps_hi: usize) {
    let t = |steps: usize| cells as f64 * steps as f64 / ASSUMED_CELL_STEPS_PER_S;
    if t(steps_hi) < ANNOUNCE_ABOVE_S {
        return;
    }
    let (steps, time) = if steps_lo >= steps_hi {
        (format!("~{steps_hi} steps"), format!("~{}", fmt_duration(t(steps_hi))))
    } else {
        (
            format!("{steps_lo} to {steps_hi} steps"),
            format!("~{} to {}", fmt_duration(t(steps_lo)), fmt_duration(t(steps_hi))),
        )
    };
    note(&format!(
        "FDTD: {:.1} M cells, {steps}, {time} (an estimate at ~{:.0} Mcell-steps/s)",
        cells as f64 / 1e6,
        ASSUMED_CELL_STEPS_PER_S / 1e6
    ));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_with_suffixes() {
        assert_eq!(parse_size("1048576"), Some(1 << 20));
        assert_eq!(parse_size("512M"), Some(512 << 20));
        assert_eq!(parse_size("8G"), Some(8 << 30));
        assert_eq!(parse_size("8g"), Some(8 << 30));
        assert_eq!(parse_size("1.5GiB"), Some(3 << 29));
        assert_eq!(parse_size("64 kB"), Some(64_000));
        assert_eq!(parse_size("2MB"), Some(2_000_000));
        assert_eq!(parse_size("1T"), Some(1 << 40));
        assert_eq!(parse_size(""), None);
        assert_eq!(parse_size("G"), None);
        assert_eq!(parse_size("12X"), None);
        assert_eq!(parse_size("-5M"), None);
        assert_eq!(parse_size("1e400"), None);
    }

    #[test]
    fn meminfo_and_cgroup() {
        let t = "MemTotal:       32768000 kB\nMemFree:         1000 kB\nMemAvailable:   21488756 kB\n";
        assert_eq!(parse_meminfo(t), Some(21_488_756 * 1024));
        assert_eq!(parse_meminfo("MemTotal: 5 kB\n"), None);
        assert_eq!(parse_meminfo("MemAvailable: x kB\n"), None);
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("4294967296\n"), Some(4 << 30));
        assert_eq!(parse_cgroup_limit("9223372036854771712\n"), None);
    }

    #[test]
    fn estimates_overflow_and_format() {
        assert_eq!(cells([2000, 2000, 2000]), Some(8_000_000_000));
        assert_eq!(cells([usize::MAX, 2, 1]), None);
        assert_eq!(fdtd_bytes([9, 9, 9], 0), Some(1000 * FDTD_BYTES_PER_NODE));
        assert_eq!(fdtd_bytes([9, 9, 9], 1), Some(1000 * (FDTD_BYTES_PER_NODE + DFT_BYTES_PER_NODE)));
        assert_eq!(fdtd_bytes([usize::MAX, 1, 1], 0), None);
        assert_eq!(fmt_bytes(93_400_000_000), "93 GB");
        assert_eq!(fmt_bytes(1_234_000), "1.2 MB");
        assert_eq!(fmt_bytes(512), "512 B");
        assert_eq!(fmt_sig(round_up(2.31)), "2.4");
        assert_eq!(fmt_sig(round_down(2.39)), "2.3");
        assert_eq!(fmt_sig(round_down(0.005_53)), "0.0055");
        assert_eq!(fmt_sig(131.0), "131");
        assert_eq!(fmt_freq(63.87e6), "63.87 MHz");
        assert_eq!(fmt_freq(1e12), "1000 GHz");
        assert_eq!(axis_cells(f64::INFINITY), None);
        assert_eq!(axis_cells(2.2), Some(3));
    }

    #[test]
    fn resolution_thresholds() {
        let cpw = |f, eps, d| crate::grid::cells_per_wavelength(f, eps, 1.0, d);
        // 20 GHz in vacuum: lambda 15 mm; 5 mm cells give 3 cells per wavelength.
        let n = cpw(20e9, 1.0, 5e-3);
        assert!((n - 2.998).abs() < 1e-3, "{n}");
        let e = check_resolution("f.toml", "grid.cell_size_m", 20e9, 1.0, 5e-3, cpw(20e9, 1.0, 5e-3), false).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("grid.cell_size_m") && msg.contains("--allow-coarse-grid"), "{msg}");
        assert!(check_resolution("f.toml", "k", 20e9, 1.0, 5e-3, cpw(20e9, 1.0, 5e-3), true).unwrap().unwrap() < 6.0);
        // 128 MHz in gel (eps_r 80) at 10 mm: ~26 cells, no warning.
        let n = check_resolution("c", "k", 128e6, 80.0, 0.01, cpw(128e6, 80.0, 0.01), false).unwrap().unwrap();
        assert!(n > 20.0 && n < 30.0, "{n}");
    }
}
