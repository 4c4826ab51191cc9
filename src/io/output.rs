//! One output policy for every command: what `--out` may be, what `--force` may replace, and how a
//! result is put in place so that a kill at any moment loses nothing.
//!
//! - rftwin marks every output directory it writes with [`MARKER`] (one JSON line: tool, version,
//!   command, creation time, pid). An existing `--out` is used only if it is empty, or, with
//!   `--force`, if it carries that marker: a directory rftwin did not write is never replaced.
//! - Never, with or without `--force`: the filesystem root, the working directory or any directory
//!   above it, the home directory or any directory above it, a directory that holds (or is, or lies
//!   inside) one of the run's inputs (input files, sidecars, recipes and every file they name, golden
//!   directories, the basis cache). Paths are compared after resolving symlinks, `.`/`..` and
//!   trailing slashes. Each refusal is an input error (exit 2) naming the path and the reason.
//! - The result is written into `.NAME.tmp-rftwin-PID-N` beside the target and swapped in by
//!   `renameat2(RENAME_EXCHANGE)` (Linux), so the final name always holds the complete old or the
//!   complete new result; the old one, now under the temporary name, is deleted afterwards. Where
//!   the exchange is unsupported: old renamed aside (`.NAME.old-rftwin-PID-N`), new renamed in, old
//!   deleted; a run that finds the final name missing and an aside directory restores it.
//! - `.NAME.lock-rftwin` beside the target is locked (`File::try_lock`) from the start of a run to
//!   its end: a second run into the same `--out` fails at once (exit 2) naming the first.
//! - A run removes the temporary and aside directories of dead runs in the same parent directory:
//!   only entries with rftwin's names that carry its marker (or are empty), and only when their
//!   owner's lock can be taken (a live run holds it; no reliance on PIDs).
//!
//! Single-file outputs ([`AtomicFile`], e.g. `twin synth --out MAP.nii.gz`) follow the same refusal
//! and lock rules; an existing file is replaced only with `--force` (a file cannot carry a marker),
//! never when it is one of the run's inputs, and never a directory. The file is written under a
//! temporary name and renamed over the target.
//!
//! Test-only hook: `RFTWIN_TEST_COMMIT_PAUSE_MS=N` sleeps N ms just before and just after the swap
//! (used by tests/output_safety.rs to kill a run inside the commit window). Not for users.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Name of the marker file in every output directory rftwin writes.
pub const MARKER: &str = ".rftwin-output";
const TMP_TAG: &str = ".tmp-rftwin-";
const OLD_TAG: &str = ".old-rftwin-";
const LOCK_TAG: &str = ".lock-rftwin";
/// Test-only: milliseconds to sleep just before and just after the swap of a commit.
pub const TEST_PAUSE_ENV: &str = "RFTWIN_TEST_COMMIT_PAUSE_MS";

/// What a command may do to its output: replace (`force`) and which paths it reads (`inputs`, as
/// (role, path) pairs; files or directories, existing or not).
#[derive(Clone, Debug)]
pub struct OutputPolicy {
    /// The command, e.g. "fdtd run" (recorded in the marker and the lock).
    pub command: String,
    /// `--force`: replace an existing output that rftwin wrote.
    pub force: bool,
    /// The option naming the output in messages (default `--out`).
    pub key: String,
    /// Everything the run reads: never inside, equal to, or containing the output.
    pub inputs: Vec<(String, PathBuf)>,
}

impl OutputPolicy {
    pub fn new(command: &str, force: bool) -> Self {
        Self {
            command: command.into(),
            force,
            key: "--out".into(),
            inputs: Vec::new(),
        }
    }
    /// Sets the option name used in messages.
    pub fn key(mut self, key: &str) -> Self {
        self.key = key.into();
        self
    }
    /// Adds one input (a file or a directory).
    pub fn input(mut self, role: &str, path: impl AsRef<Path>) -> Self {
        self.inputs.push((role.into(), path.as_ref().to_path_buf()));
        self
    }
    /// Adds an optional input.
    pub fn input_opt(self, role: &str, path: Option<impl AsRef<Path>>) -> Self {
        match path {
            Some(p) => self.input(role, p),
            None => self,
        }
    }
    /// Adds several inputs.
    pub fn inputs(mut self, v: impl IntoIterator<Item = (String, PathBuf)>) -> Self {
        self.inputs.extend(v);
        self
    }
}

/// The absolute path with every existing part resolved (symlinks, `.`, `..`); parts that do not
/// exist yet are appended lexically.
pub fn resolve(p: &Path) -> Result<PathBuf> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir().map_err(|e| Error::io(Path::new("."), e))?.join(p)
    };
    let mut cur = PathBuf::new();
    let mut exists = true;
    for c in abs.components() {
        match c {
            Component::Prefix(_) | Component::RootDir => cur.push(c.as_os_str()),
            Component::CurDir => {}
            Component::ParentDir => {
                cur.pop();
            }
            Component::Normal(x) => {
                cur.push(x);
                if exists {
                    match cur.canonicalize() {
                        Ok(r) => cur = r,
                        Err(_) => exists = false,
                    }
                }
            }
        }
    }
    Ok(cur)
}

fn home_dir() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .and_then(|h| resolve(Path::new(&h)).ok())
}

/// Refuses a target that is never an output (root, cwd and above, home and above, any input).
fn check_forbidden(shown: &str, t: &Path, policy: &OutputPolicy) -> Result<()> {
    let refuse = |why: String, fix: &str| Err(Error::input(shown, &policy.key, why, fix));
    let other = "choose a new, separate output directory (e.g. --out results/run1)";
    if t.parent().is_none() {
        return refuse("is the filesystem root; rftwin never writes or replaces it".into(), other);
    }
    if let Ok(cwd) = std::env::current_dir().and_then(|c| c.canonicalize()) {
        if cwd.starts_with(t) {
            return refuse(
                format!(
                    "is the working directory {} or a directory above it; rftwin never replaces it",
                    cwd.display()
                ),
                other,
            );
        }
    }
    if let Some(home) = home_dir() {
        if home.starts_with(t) {
            return refuse(
                format!(
                    "is the home directory {} or a directory above it; rftwin never replaces it",
                    home.display()
                ),
                other,
            );
        }
    }
    for (role, p) in &policy.inputs {
        if p.as_os_str().is_empty() {
            continue;
        }
        let r = resolve(p)?;
        if r.starts_with(t) {
            return refuse(
                format!(
                    "{} the run's input ({role}: {}); rftwin never writes over its inputs",
                    if r == t { "is" } else { "contains" },
                    p.display()
                ),
                "write the output to a directory that holds none of the run's inputs",
            );
        }
        if t.starts_with(&r) {
            return refuse(
                format!(
                    "lies inside the run's input ({role}: {}); rftwin never writes into its inputs",
                    p.display()
                ),
                "write the output outside the input directories",
            );
        }
    }
    Ok(())
}

/// True if `dir` carries rftwin's marker.
pub fn is_marked(dir: &Path) -> bool {
    let p = dir.join(MARKER);
    let Ok(meta) = std::fs::symlink_metadata(&p) else { return false };
    if !meta.is_file() || meta.len() > 64 * 1024 {
        return false;
    }
    std::fs::read_to_string(&p)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(s.lines().next().unwrap_or("")).ok())
        .is_some_and(|v| v["tool"] == "rftwin")
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).map(|mut r| r.next().is_none()).unwrap_or(false)
}

fn now_unix_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn marker_line(command: &str) -> String {
    serde_json::json!({
        "tool": "rftwin",
        "version": env!("CARGO_PKG_VERSION"),
        "command": command,
        "created_unix_s": now_unix_s(),
        "pid": std::process::id(),
    })
    .to_string()
        + "\n"
}

/// A unique suffix for temporary names: PID, a counter and the time.
fn unique() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let ns = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{}-{}-{ns}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

/// An exclusive lock file, removed (while still locked) when dropped.
struct LockGuard {
    path: PathBuf,
    _file: File,
}

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    a.dev() == b.dev() && a.ino() == b.ino()
}
#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    true
}

/// Takes the lock at `path` (created if missing) without waiting: `Ok(None)` when another process
/// holds it. After locking, checks that `path` still names the locked file (a holder removes it on
/// release), else tries again.
fn try_lock_at(path: &Path, holder: Option<&str>) -> Result<Option<LockGuard>> {
    for _ in 0..16 {
        let mut f = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, e))?;
        match f.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
            Err(std::fs::TryLockError::Error(e)) => return Err(Error::io(path, e)),
        }
        let mine = f.metadata().map_err(|e| Error::io(path, e))?;
        match std::fs::symlink_metadata(path) {
            Ok(now) if same_file(&mine, &now) => {
                if let Some(h) = holder {
                    let _ = f.set_len(0);
                    let _ = f.write_all(h.as_bytes());
                }
                return Ok(Some(LockGuard {
                    path: path.to_path_buf(),
                    _file: f,
                }));
            }
            _ => continue, // released and removed meanwhile: retry on the new file
        }
    }
    Err(Error::Other(format!(
        "{}: could not take the lock (it keeps changing)",
        path.display()
    )))
}

/// The rftwin names beside a target NAME: `(.NAME.tmp-rftwin-…, .NAME.old-rftwin-…, .NAME.lock-rftwin)`.
fn aux_name(name: &str, tag: &str) -> String {
    format!(".{name}{tag}")
}

/// Splits `.NAME<tag>…` into (NAME, tag) for the temporary and aside tags.
fn parse_aux(entry: &str) -> Option<(&str, &'static str)> {
    let rest = entry.strip_prefix('.')?;
    for tag in [TMP_TAG, OLD_TAG] {
        if let Some(i) = rest.rfind(tag) {
            if i > 0 {
                return Some((&rest[..i], tag));
            }
        }
    }
    None
}

/// Removes (or, for an aside directory whose final name is missing, restores) the leftovers of dead
/// runs in `parent`. `own` is the name whose lock the caller already holds.
fn clean_leftovers(parent: &Path, own: &str) {
    let Ok(rd) = std::fs::read_dir(parent) else { return };
    let mut groups: std::collections::BTreeMap<String, Vec<(PathBuf, &'static str)>> = Default::default();
    let mut locks = Vec::new();
    for e in rd.filter_map(|e| e.ok()) {
        let n = e.file_name().to_string_lossy().to_string();
        if let Some(name) = n.strip_prefix('.').and_then(|r| r.strip_suffix(LOCK_TAG)) {
            if !name.is_empty() && name != own && e.file_type().map(|t| t.is_file()).unwrap_or(false) {
                locks.push(name.to_string());
            }
        }
        if let Some((name, tag)) = parse_aux(&n) {
            let is_dir = e.file_type().map(|t| t.is_dir()).unwrap_or(false);
            if is_dir {
                groups.entry(name.to_string()).or_default().push((e.path(), tag));
            }
        }
    }
    for (name, mut entries) in groups {
        let _guard = if name == own {
            None
        } else {
            match try_lock_at(&parent.join(aux_name(&name, LOCK_TAG)), None) {
                Ok(Some(g)) => Some(g),
                _ => continue, // a live run owns them (or the lock cannot be taken): leave them
            }
        };
        entries.sort();
        let target = parent.join(&name);
        for (p, tag) in entries {
            if !(is_marked(&p) || is_empty_dir(&p)) {
                continue; // not ours
            }
            if tag == OLD_TAG && std::fs::symlink_metadata(&target).is_err() && is_marked(&p) {
                // Killed between "old aside" and "new in": put the old result back.
                if std::fs::rename(&p, &target).is_ok() {
                    continue;
                }
            }
            let _ = std::fs::remove_dir_all(&p);
        }
    }
    // Lock files of dead runs (their owner removes them on exit; a killed one cannot): taking the
    // lock and releasing it removes the file. A live run's lock cannot be taken and stays.
    for name in locks {
        let _ = try_lock_at(&parent.join(aux_name(&name, LOCK_TAG)), None);
    }
}

/// How the target looked when checked.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Existing {
    None,
    Empty,
    Marked,
}

/// Checks an existing target directory against the policy.
fn check_existing(shown: &str, t: &Path, policy: &OutputPolicy) -> Result<Existing> {
    let meta = match std::fs::symlink_metadata(t) {
        Ok(m) => m,
        Err(_) => return Ok(Existing::None),
    };
    let key = &policy.key;
    if !meta.is_dir() {
        return Err(Error::input(
            shown,
            key,
            "exists and is not a directory",
            "give a directory path for the output (a new one, or one rftwin wrote)",
        ));
    }
    if is_empty_dir(t) {
        return Ok(Existing::Empty);
    }
    let marked = is_marked(t);
    if !marked {
        return Err(Error::input(
            shown,
            key,
            format!(
                "exists, is not empty and was not written by rftwin (no {MARKER} marker); rftwin replaces only directories it wrote{}",
                if policy.force { ", --force included" } else { "" }
            ),
            "choose a new output directory, or empty or remove this one yourself",
        ));
    }
    if !policy.force {
        return Err(Error::input(
            shown,
            key,
            "output directory already exists (an earlier rftwin result)",
            "choose a new directory or pass --force to replace it",
        ));
    }
    Ok(Existing::Marked)
}

fn lock_holder_text(command: &str) -> String {
    serde_json::json!({ "pid": std::process::id(), "command": command, "started_unix_s": now_unix_s() }).to_string()
}

fn describe_holder(lock: &Path) -> String {
    let mut s = String::new();
    if let Ok(mut f) = File::open(lock) {
        let _ = Read::by_ref(&mut f).take(4096).read_to_string(&mut s);
    }
    match serde_json::from_str::<serde_json::Value>(&s) {
        Ok(v) => format!(
            "another rftwin run (pid {}, `{}`) is writing it",
            v["pid"],
            v["command"].as_str().unwrap_or("?")
        ),
        Err(_) => "another rftwin run is writing it".into(),
    }
}

/// Resolved target, its parent and name, the name shown in messages.
struct Target {
    path: PathBuf,
    parent: PathBuf,
    name: String,
    shown: String,
}

fn prepare(target: &Path, policy: &OutputPolicy) -> Result<Target> {
    let shown = target.display().to_string();
    if target.as_os_str().is_empty() {
        return Err(Error::input(&shown, &policy.key, "is empty", "give an output path"));
    }
    let t = resolve(target)?;
    check_forbidden(&shown, &t, policy)?;
    let parent = t.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("/"));
    let name = t
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .ok_or_else(|| Error::input(&shown, &policy.key, "has no final name", "give an output path"))?;
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    Ok(Target {
        path: t,
        parent,
        name,
        shown,
    })
}

fn lock_target(t: &Target, policy: &OutputPolicy) -> Result<LockGuard> {
    let lock_path = t.parent.join(aux_name(&t.name, LOCK_TAG));
    match try_lock_at(&lock_path, Some(&lock_holder_text(&policy.command)))? {
        Some(g) => Ok(g),
        None => Err(Error::input(
            &t.shown,
            &policy.key,
            format!("{} (lock {})", describe_holder(&lock_path), lock_path.display()),
            "wait for that run to finish, or choose another output",
        )),
    }
}

fn test_pause() {
    if let Some(ms) = std::env::var(TEST_PAUSE_ENV).ok().and_then(|s| s.parse::<u64>().ok()) {
        std::thread::sleep(std::time::Duration::from_millis(ms));
    }
}

const RENAME_NOREPLACE: u32 = 1;
const RENAME_EXCHANGE: u32 = 2;

/// `renameat2(from, to, flags)`; `Err(None)` when the kernel or filesystem does not support it.
#[cfg(target_os = "linux")]
fn renameat2(from: &Path, to: &Path, flags: u32) -> std::result::Result<(), Option<std::io::Error>> {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(from.as_os_str().as_bytes()).map_err(|_| None)?;
    let b = std::ffi::CString::new(to.as_os_str().as_bytes()).map_err(|_| None)?;
    // SAFETY: two valid NUL-terminated paths, AT_FDCWD; the syscall reads only those.
    let r = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            flags as libc::c_uint,
        )
    };
    if r == 0 {
        return Ok(());
    }
    let e = std::io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINVAL) | Some(libc::ENOSYS) | Some(libc::EOPNOTSUPP) => Err(None),
        _ => Err(Some(e)),
    }
}
#[cfg(not(target_os = "linux"))]
fn renameat2(_: &Path, _: &Path, _: u32) -> std::result::Result<(), Option<std::io::Error>> {
    Err(None)
}

/// An output directory written under a temporary name beside the target and swapped into place by
/// [`AtomicDir::commit`] under the rules of the module docs. Dropped without commit (error, panic),
/// the temporary directory is removed: never a half output.
pub struct AtomicDir {
    tmp: PathBuf,
    target: Target,
    given: PathBuf,
    policy: OutputPolicy,
    done: bool,
    _lock: LockGuard,
}

impl AtomicDir {
    /// Checks `target` against `policy`, takes its lock, cleans dead runs' leftovers beside it and
    /// opens the (marked) temporary directory. Every refusal is an [`Error::Input`] (exit 2).
    pub fn new(target: &Path, policy: &OutputPolicy) -> Result<Self> {
        let t = prepare(target, policy)?;
        let lock = lock_target(&t, policy)?;
        clean_leftovers(&t.parent, &t.name);
        check_existing(&t.shown, &t.path, policy)?;
        let tmp = t.parent.join(format!(".{}{TMP_TAG}{}", t.name, unique()));
        std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let d = Self {
            tmp,
            target: t,
            given: target.to_path_buf(),
            policy: policy.clone(),
            done: false,
            _lock: lock,
        };
        std::fs::write(d.tmp.join(MARKER), marker_line(&policy.command)).map_err(|e| Error::io(&d.tmp, e))?;
        Ok(d)
    }
    /// Path of a file inside the (temporary) directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }
    /// Swaps the finished directory into place (the old result, if any, is deleted afterwards) and
    /// returns the target path as given.
    pub fn commit(mut self) -> Result<PathBuf> {
        // The target may have changed while the run worked: check it again.
        let state = check_existing(&self.target.shown, &self.target.path, &self.policy)?;
        test_pause();
        let (tmp, dst) = (self.tmp.clone(), self.target.path.clone());
        let replaced = match state {
            Existing::None => match renameat2(&tmp, &dst, RENAME_NOREPLACE) {
                Ok(()) => false,
                Err(None) => {
                    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
                    false
                }
                Err(Some(e)) => return Err(Error::io(&dst, e)),
            },
            Existing::Empty | Existing::Marked => match renameat2(&tmp, &dst, RENAME_EXCHANGE) {
                Ok(()) => true, // the old result is now under the temporary name
                Err(None) => {
                    let aside = self.target.parent.join(format!(".{}{OLD_TAG}{}", self.target.name, unique()));
                    std::fs::rename(&dst, &aside).map_err(|e| Error::io(&dst, e))?;
                    if let Err(e) = std::fs::rename(&tmp, &dst) {
                        let _ = std::fs::rename(&aside, &dst);
                        return Err(Error::io(&dst, e));
                    }
                    self.tmp = aside;
                    true
                }
                Err(Some(e)) => return Err(Error::io(&dst, e)),
            },
        };
        self.done = true;
        test_pause();
        if replaced {
            // Only rftwin's own old result (or an empty directory) is ever here.
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
        Ok(self.given.clone())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// A single output file written under a temporary name beside the target and renamed over it by
/// [`AtomicFile::commit`] (rules: module docs). Extra files written next to it with
/// [`AtomicFile::sidecar`] are renamed along (e.g. a NIfTI map's `.json`).
pub struct AtomicFile {
    tmp: PathBuf,
    target: PathBuf,
    given: PathBuf,
    sidecars: Vec<(PathBuf, PathBuf)>,
    done: bool,
    _lock: LockGuard,
}

impl AtomicFile {
    /// Checks `target` (a file path) against `policy` and takes its lock.
    pub fn new(target: &Path, policy: &OutputPolicy) -> Result<Self> {
        let t = prepare(target, policy)?;
        let lock = lock_target(&t, policy)?;
        if let Ok(m) = std::fs::symlink_metadata(&t.path) {
            if m.is_dir() {
                return Err(Error::input(
                    &t.shown,
                    &policy.key,
                    "is a directory; this command writes one file",
                    "give a file path",
                ));
            }
            if !policy.force {
                return Err(Error::input(
                    &t.shown,
                    &policy.key,
                    "output file already exists",
                    "choose a new file name or pass --force to replace it",
                ));
            }
        }
        // Keep the extension last so that format detection by name still works on the temporary.
        let tmp = t.parent.join(format!(".tmp-rftwin-{}-{}", unique(), t.name));
        Ok(Self {
            tmp,
            target: t.path,
            given: target.to_path_buf(),
            sidecars: Vec::new(),
            done: false,
            _lock: lock,
        })
    }
    /// Checks a further file the command will write (e.g. a sidecar) under the same rules, without
    /// locking it.
    pub fn check_extra(target: &Path, policy: &OutputPolicy) -> Result<()> {
        let shown = target.display().to_string();
        let t = resolve(target)?;
        check_forbidden(&shown, &t, policy)?;
        if let Ok(m) = std::fs::symlink_metadata(&t) {
            if m.is_dir() || !policy.force {
                return Err(Error::input(
                    &shown,
                    &policy.key,
                    "a file this command writes beside the output already exists",
                    "choose a new file name or pass --force to replace it",
                ));
            }
        }
        Ok(())
    }
    /// Where to write the file.
    pub fn path(&self) -> &Path {
        &self.tmp
    }
    /// Registers a file written beside the temporary one (`tmp_side`) that goes to `final_side`.
    pub fn sidecar(&mut self, tmp_side: PathBuf, final_side: PathBuf) {
        self.sidecars.push((tmp_side, final_side));
    }
    /// Renames the file (and its sidecars) into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        test_pause();
        for (a, b) in &self.sidecars {
            if a.exists() {
                std::fs::rename(a, b).map_err(|e| Error::io(b, e))?;
            }
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| Error::io(&self.target, e))?;
        self.done = true;
        Ok(self.given.clone())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
            for (a, _) in &self.sidecars {
                let _ = std::fs::remove_file(a);
            }
        }
    }
}

/// A directory this process created for itself (e.g. `regress` without `--out`), removed on drop.
pub struct ScratchDir(pub PathBuf);

impl ScratchDir {
    /// A new unique path under the system temporary directory (not created).
    pub fn new(prefix: &str) -> Self {
        Self(std::env::temp_dir().join(format!("{prefix}-{}", unique())))
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if is_marked(&self.0) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aux_names_parse() {
        assert_eq!(parse_aux(".out.tmp-rftwin-1-2-3"), Some(("out", TMP_TAG)));
        assert_eq!(parse_aux(".a.b.old-rftwin-9"), Some(("a.b", OLD_TAG)));
        assert_eq!(parse_aux(".out.tmp-12"), None);
        assert_eq!(parse_aux("out.tmp-rftwin-1"), None);
        assert_eq!(parse_aux("..tmp-rftwin-1"), None);
    }

    #[test]
    fn resolve_normalises() {
        let d = std::env::temp_dir().join(format!("rftwin-resolve-{}", unique()));
        std::fs::create_dir_all(d.join("a")).unwrap();
        let r = resolve(&d.join("a/../a/./new/x/..")).unwrap();
        assert_eq!(r, d.canonicalize().unwrap().join("a/new"));
        std::fs::remove_dir_all(&d).unwrap();
    }
}
