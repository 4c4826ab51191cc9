//! The output policy (issue 14, items 1-3): `--out`/`--force` never delete what rftwin did not write,
//! never the working directory, its parents, the home directory or a directory holding the run's
//! inputs; replacement keeps the complete old or the complete new result under the final name at
//! every moment (kill -9 test); a second run into the same `--out` fails at once; leftovers of dead
//! runs are removed by the next run. Every refusal: exit 2, a message naming the path and the reason,
//! and no file changed (the directory trees are hashed before and after).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

mod common;
use common::tmpdir;

fn bin() -> Command {
    let mut c = common::bin();
    c.env_remove(rftwin::io::output::TEST_PAUSE_ENV);
    c
}

/// Every file and directory under `dir` (relative path -> SHA-256 of the content, or "dir").
fn tree(dir: &Path) -> BTreeMap<String, String> {
    fn walk(base: &Path, d: &Path, out: &mut BTreeMap<String, String>) {
        let mut entries: Vec<_> = std::fs::read_dir(d).unwrap().filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let p = e.path();
            let rel = p.strip_prefix(base).unwrap().display().to_string();
            let ft = e.file_type().unwrap();
            if ft.is_dir() {
                out.insert(rel, "dir".into());
                walk(base, &p, out);
            } else if ft.is_symlink() {
                out.insert(rel, format!("link {}", std::fs::read_link(&p).unwrap().display()));
            } else {
                let h = Sha256::digest(std::fs::read(&p).unwrap());
                out.insert(rel, format!("{h:x}"));
            }
        }
    }
    let mut m = BTreeMap::new();
    walk(dir, dir, &mut m);
    m
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Asserts exit 2 with every needle in the output.
fn assert_refused(o: &Output, needles: &[&str], what: &str) {
    let t = text(o);
    assert_eq!(o.status.code(), Some(2), "{what}: expected exit 2: {t}");
    assert!(!t.contains("panicked"), "{what}: {t}");
    for n in needles {
        assert!(t.contains(n), "{what}: message lacks '{n}': {t}");
    }
}

/// A small CW FDTD run (24^3 cells, one probe): about a second.
const SIM: &str = include_str!("data/small_gel_dipole.toml");

fn write_sim(dir: &Path) -> PathBuf {
    let f = dir.join("sim.toml");
    std::fs::write(&f, SIM).unwrap();
    f
}

fn fdtd(cwd: &Path, sim: &Path, out: &Path, force: bool) -> Command {
    let mut c = bin();
    c.current_dir(cwd).args(["fdtd", "run"]).arg(sim).arg("--out").arg(out).arg("--quiet");
    if force {
        c.arg("--force");
    }
    c
}

/// A complete result: rftwin's marker and a summary that parses (written last before the commit).
fn assert_complete(out: &Path, what: &str) {
    assert!(rftwin::io::output::is_marked(out), "{what}: {} has no marker", out.display());
    let s = std::fs::read_to_string(out.join("summary.json")).unwrap_or_else(|e| panic!("{what}: {e}"));
    let v: serde_json::Value = serde_json::from_str(&s).unwrap_or_else(|e| panic!("{what}: summary: {e}"));
    assert_eq!(v["mode"], "cw", "{what}");
    assert!(out.join("fields.h5").is_file(), "{what}: fields.h5 missing");
}

/// rftwin's temporary, aside and lock entries in `dir`.
fn leftovers(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.contains("-rftwin"))
        .collect()
}

#[test]
fn force_never_deletes_cwd_parents_home_or_inputs() {
    let d = tmpdir("forbidden");
    let work = d.join("work");
    std::fs::create_dir_all(work.join("sub")).unwrap();
    let sim = write_sim(&work);
    std::fs::write(work.join("notes.txt"), "mine").unwrap();
    let before = tree(&d);

    // --out . from the directory holding the input.
    let o = fdtd(&work, Path::new("sim.toml"), Path::new("."), true).output().unwrap();
    assert_refused(&o, &["--out", "working directory"], "--out .");
    // --out .. (a parent of the working directory), trailing slash and a detour through `..`.
    for out in ["..", "../", "../work/..", "./"] {
        let o = fdtd(&work.join("sub"), &sim, Path::new(out), true).output().unwrap();
        assert_refused(&o, &["--out", "working directory"], out);
    }
    // --out $HOME (HOME set to a directory of this test; the working directory elsewhere).
    let home = d.join("home");
    std::fs::create_dir_all(&home).unwrap();
    std::fs::write(home.join("thesis.tex"), "precious").unwrap();
    let before_home = tree(&d);
    let o = fdtd(&root(), &sim, &home, true).env("HOME", &home).output().unwrap();
    assert_refused(&o, &["home directory"], "--out $HOME");
    let o = fdtd(&root(), &sim, &d, true).env("HOME", &home).output().unwrap();
    assert_refused(&o, &["home directory"], "--out above $HOME");
    assert_eq!(tree(&d), before_home, "nothing may change");
    std::fs::remove_dir_all(&home).unwrap();
    assert_eq!(tree(&d), before);

    // --out = the directory holding the input, given directly, through a symlink and via `..`.
    let cwd = d.clone();
    let link = d.join("link");
    std::os::unix::fs::symlink(&work, &link).unwrap();
    let before = tree(&d);
    for out in [work.clone(), link.clone(), PathBuf::from("link/"), d.join("work/sub/..")] {
        let o = fdtd(&cwd, &sim, &out, true).output().unwrap();
        assert_refused(&o, &["contains the run's input", "sim.toml"], &out.display().to_string());
    }
    // An output inside... the input file's own path.
    let o = fdtd(&cwd, &sim, &sim, true).output().unwrap();
    assert_refused(&o, &["is the run's input"], "--out = the input file");
    assert_eq!(tree(&d), before, "nothing may change");
    assert!(leftovers(&d).is_empty() && leftovers(&work).is_empty());
    std::fs::remove_dir_all(&d).unwrap();
}

/// A copy of reports/golden/small whose recipe names the shipped inputs by absolute path.
fn golden_copy(dir: &Path) -> PathBuf {
    let golden = root().join("reports/golden/small");
    let g = dir.join("golden");
    std::fs::create_dir_all(&g).unwrap();
    for f in ["summary.json", "fields.h5", "tolerances.toml"] {
        std::fs::copy(golden.join(f), g.join(f)).unwrap();
    }
    let recipe = std::fs::read_to_string(golden.join("recipe.toml")).unwrap();
    let fixed = recipe.replace("../../../", &format!("{}/", root().display()));
    assert_ne!(recipe, fixed, "the golden recipe names its inputs relative to itself");
    std::fs::write(g.join("recipe.toml"), fixed).unwrap();
    g
}

#[test]
fn assess_refuses_out_holding_its_recipe() {
    let d = tmpdir("assess");
    let g = golden_copy(&d);
    let before = tree(&d);
    let t0 = Instant::now();
    let o = bin()
        .current_dir(&d)
        .env("RFTWIN_CACHE", d.join("cache"))
        .args(["assess"])
        .arg(g.join("recipe.toml"))
        .arg("--out")
        .arg(&g)
        .args(["--force", "--quiet"])
        .output()
        .unwrap();
    assert_refused(&o, &["contains the run's input", "recipe"], "assess --out = recipe dir");
    assert!(t0.elapsed() < Duration::from_secs(20), "refused before the work starts");
    assert_eq!(tree(&d), before, "the recipe and the golden files must be untouched");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn regress_refuses_out_equal_inside_or_containing_golden() {
    let d = tmpdir("regress");
    let g = golden_copy(&d);
    let prev = d.join("prev");
    std::fs::create_dir_all(&prev).unwrap();
    std::fs::write(prev.join(rftwin::io::output::MARKER), "{\"tool\":\"rftwin\"}\n").unwrap();
    std::fs::write(prev.join("summary.json"), "{}").unwrap();
    let before = tree(&d);
    let regress = |out: &Path, force: bool| {
        let mut c = bin();
        c.current_dir(root())
            .env("RFTWIN_CACHE", d.join("cache"))
            .arg("regress")
            .arg(&g)
            .arg("--out")
            .arg(out)
            .arg("--quiet");
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    for (out, force, needles) in [
        (g.clone(), false, vec!["the run's input"]),
        (g.clone(), true, vec!["the run's input"]),
        (g.join("new"), true, vec!["inside the run's input", "golden directory"]),
        (d.clone(), true, vec!["contains the run's input"]),
        (prev.clone(), false, vec!["already exists", "--force"]),
    ] {
        let o = regress(&out, force);
        assert_refused(&o, &needles, &format!("regress --out {} (force {force})", out.display()));
    }
    assert_eq!(tree(&d), before, "golden and earlier output unchanged");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn force_replaces_only_marked_directories() {
    let d = tmpdir("marked");
    let sim = write_sim(&d);
    // Unmarked, not empty: refused with and without --force.
    let theirs = d.join("theirs");
    std::fs::create_dir_all(&theirs).unwrap();
    std::fs::write(theirs.join("data.csv"), "1,2,3").unwrap();
    let before = tree(&d);
    for force in [false, true] {
        let o = fdtd(&d, &sim, &theirs, force).output().unwrap();
        assert_refused(&o, &["not written by rftwin", "theirs"], "unmarked dir");
    }
    // A file where the directory should go.
    let file = d.join("afile");
    std::fs::write(&file, "x").unwrap();
    let o = fdtd(&d, &sim, &file, true).output().unwrap();
    assert_refused(&o, &["not a directory"], "--out is a file");
    std::fs::remove_file(&file).unwrap();
    assert_eq!(tree(&d), before);

    // An empty directory is used, without --force.
    let empty = d.join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let o = fdtd(&d, &sim, &empty, false).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_complete(&empty, "empty dir");

    // A marked one: refused without --force, replaced with it (a file of the old result is gone).
    std::fs::write(empty.join("old-only.txt"), "old").unwrap();
    let before = tree(&d);
    let o = fdtd(&d, &sim, &empty, false).output().unwrap();
    assert_refused(&o, &["already exists", "--force"], "marked without --force");
    assert_eq!(tree(&d), before);
    let o = fdtd(&d, &sim, &empty, true).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_complete(&empty, "replaced");
    assert!(!empty.join("old-only.txt").exists(), "the old result is replaced as a whole");
    assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn concurrent_runs_into_one_out_exactly_one_succeeds() {
    let d = tmpdir("concurrent");
    let sim = write_sim(&d);
    let out = d.join("out");
    // The first run holds the output for at least 2 s (test hook: pause in its commit).
    let a = fdtd(&d, &sim, &out, false)
        .env(rftwin::io::output::TEST_PAUSE_ENV, "1500")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its temporary directory (made after it took the lock).
    let started = |d: &Path| leftovers(d).iter().any(|n| n.starts_with(".out.tmp-rftwin-"));
    let t0 = Instant::now();
    while !started(&d) {
        assert!(t0.elapsed() < Duration::from_secs(20), "first run did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    let t1 = Instant::now();
    let b = fdtd(&d, &sim, &out, true).output().unwrap();
    let b_s = t1.elapsed().as_secs_f64();
    assert_refused(&b, &["another rftwin run", "fdtd run"], "second run");
    assert!(b_s < 1.5, "the second run must fail at once, took {b_s} s");
    let a_out = a.wait_with_output().unwrap();
    assert_eq!(a_out.status.code(), Some(0), "{}", String::from_utf8_lossy(&a_out.stderr));
    assert_complete(&out, "first run");
    assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn leftovers_of_dead_runs_are_removed_live_ones_kept() {
    let d = tmpdir("leftovers");
    let sim = write_sim(&d);
    let marked = |p: &Path| {
        std::fs::create_dir_all(p).unwrap();
        std::fs::write(p.join(rftwin::io::output::MARKER), "{\"tool\":\"rftwin\"}\n").unwrap();
        std::fs::write(p.join("summary.json"), "{ \"half\": ").unwrap();
    };
    // Dead: a killed run's temporary directories (for this --out and for another name).
    let dead1 = d.join(".out.tmp-rftwin-99999-0-1");
    let dead2 = d.join(".older.tmp-rftwin-99998-3-4");
    marked(&dead1);
    marked(&dead2);
    // Dead, killed between "old aside" and "new in": its final name is missing -> restored.
    let aside = d.join(".gone.old-rftwin-99997-0-0");
    marked(&aside);
    std::fs::write(aside.join("old.txt"), "the old result").unwrap();
    // Live: a run that holds its lock (this test holds it).
    let live = d.join(".busy.tmp-rftwin-1-2-3");
    marked(&live);
    let lock = std::fs::File::create(d.join(".busy.lock-rftwin")).unwrap();
    lock.try_lock().unwrap();
    // A killed run's lock file (nobody holds it).
    std::fs::write(d.join(".stale.lock-rftwin"), "{\"pid\": 99996}").unwrap();
    // Not rftwin's: right name, no marker, not empty.
    let foreign = d.join(".x.tmp-rftwin-5");
    std::fs::create_dir_all(&foreign).unwrap();
    std::fs::write(foreign.join("keep.txt"), "keep").unwrap();

    let o = fdtd(&d, &sim, &d.join("out"), false).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_complete(&d.join("out"), "run");
    assert!(!dead1.exists() && !dead2.exists(), "dead runs' temporaries must go");
    assert!(!aside.exists(), "aside directory restored");
    assert_eq!(std::fs::read_to_string(d.join("gone/old.txt")).unwrap(), "the old result");
    assert!(live.join("summary.json").exists(), "a live run's temporary must stay");
    assert!(foreign.join("keep.txt").exists(), "an unmarked directory is not rftwin's");
    assert!(!d.join(".stale.lock-rftwin").exists(), "a dead run's lock file must go");
    assert!(d.join(".busy.lock-rftwin").exists(), "a live run's lock file must stay");
    assert!(!d.join(".out.lock-rftwin").exists(), "the run removes its own lock");
    drop(lock);
    std::fs::remove_dir_all(&d).unwrap();
}

/// kill -9 of a `fdtd run --force` that replaces an earlier result, at 10 moments over the run and
/// its commit (the test hook pauses 400 ms before and after the swap): each time the final name holds
/// the complete old or the complete new result, and the next run removes the leftovers.
#[test]
fn killed_replacement_keeps_old_or_new_result() {
    let d = tmpdir("kill");
    let sim = write_sim(&d);
    let out = d.join("out");
    let o = fdtd(&d, &sim, &out, false).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    // A normal run, timed up to the moment its temporary holds summary.json (written last).
    // The new run's temporary directory once it holds summary.json (`pre`: entries to ignore, such
    // as the previous kill's leftovers).
    let tmp_summary = |d: &Path, pre: &[String]| {
        std::fs::read_dir(d)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                let n = p.file_name().unwrap().to_string_lossy().to_string();
                n.starts_with(".out.tmp-rftwin-") && !pre.contains(&n) && p.join("summary.json").exists()
            })
    };
    let pause_ms = 400u64;
    let t0 = Instant::now();
    let mut c = fdtd(&d, &sim, &out, true)
        .env(rftwin::io::output::TEST_PAUSE_ENV, pause_ms.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while tmp_summary(&d, &[]).is_none() {
        assert!(t0.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(2));
    }
    let work = t0.elapsed();
    assert!(c.wait().unwrap().success());
    println!("run up to the commit: {:.3} s", work.as_secs_f64());

    let (mut olds, mut news) = (0, 0);
    for i in 0..10 {
        // Tag the current result so that "old" and "new" can be told apart.
        std::fs::write(out.join("tag.txt"), format!("{i}")).unwrap();
        let pre = leftovers(&d);
        let t0 = Instant::now();
        let mut c = fdtd(&d, &sim, &out, true)
            .env(rftwin::io::output::TEST_PAUSE_ENV, pause_ms.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        if i < 5 {
            // Over the run: parse, grid, time stepping, writing.
            std::thread::sleep(work.mul_f64((i as f64 + 0.5) / 5.0));
        } else {
            // The commit: before the swap (0, 250 ms), after it while the old one is deleted.
            while tmp_summary(&d, &pre).is_none() && t0.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(1));
            }
            let after = [30u64, 250, 500, 650, 780][i - 5];
            std::thread::sleep(Duration::from_millis(after));
        }
        let _ = c.kill(); // SIGKILL
        c.wait().unwrap();
        assert_complete(&out, &format!("kill {i}"));
        match std::fs::read_to_string(out.join("tag.txt")) {
            Ok(t) => {
                assert_eq!(t, format!("{i}"), "kill {i}: the old result, complete");
                olds += 1;
            }
            Err(_) => news += 1,
        }
    }
    println!("kills leaving the old result: {olds}, the new one: {news}");
    assert!(olds > 0 && news > 0, "the kills must hit before and after the swap ({olds} old, {news} new)");
    // The next run cleans up whatever the kills left.
    let o = fdtd(&d, &sim, &out, true).output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert_complete(&out, "after the kills");
    assert!(leftovers(&d).is_empty(), "leftovers: {:?}", leftovers(&d));
    std::fs::remove_dir_all(&d).unwrap();
}

/// `twin synth` writes one file: refused over one of its inputs, and an existing map only with --force.
#[test]
fn single_file_output_never_replaces_an_input() {
    let d = tmpdir("synth");
    let coil = root().join("coils/body_1p5t_hp16.toml");
    let phantom = d.join("phantom.toml");
    std::fs::copy(root().join("phantoms/astm_f2182.toml"), &phantom).unwrap();
    let before = tree(&d);
    let synth = |out: &Path, force: bool| {
        let mut c = bin();
        c.current_dir(&d)
            .args(["twin", "synth", "--coil"])
            .arg(&coil)
            .arg("--phantom")
            .arg(&phantom)
            .arg("--out")
            .arg(out);
        if force {
            c.arg("--force");
        }
        c.output().unwrap()
    };
    // Over its own phantom file (named like a map), with --force.
    let ph_h5 = d.join("phantom.h5");
    std::fs::copy(&phantom, &ph_h5).unwrap();
    let before_h5 = tree(&d);
    let o = bin()
        .current_dir(&d)
        .args(["twin", "synth", "--coil"])
        .arg(&coil)
        .arg("--phantom")
        .arg(&ph_h5)
        .arg("--out")
        .arg(&ph_h5)
        .arg("--force")
        .output()
        .unwrap();
    assert_refused(&o, &["is the run's input", "--phantom"], "synth over the phantom");
    assert_eq!(tree(&d), before_h5);
    std::fs::remove_file(&ph_h5).unwrap();
    // An existing map without --force.
    let map = d.join("map.h5");
    std::fs::write(&map, "not ours").unwrap();
    let o = synth(&map, false);
    assert_refused(&o, &["already exists", "--force"], "existing map");
    assert_eq!(std::fs::read_to_string(&map).unwrap(), "not ours");
    std::fs::remove_file(&map).unwrap();
    assert_eq!(tree(&d), before);
    std::fs::remove_dir_all(&d).unwrap();
}

/// The assess variant of the kill test asked for by the issue (kill -9 of `assess` of
/// reports/golden/small replacing an earlier result): 7 kills spread over the run, 3 in the commit.
/// Too slow for `cargo test` on 2 cores (one assess of the golden recipe: 72 s with a cold and 67 s
/// with a warm basis cache on a quiet 2-core machine, 407 s and 121 s on shared cores; the whole
/// test 614 s quiet, about 20 min shared; last run: 7 kills left the old result, 3 the new); run it with
/// `cargo test --release --test output_safety -- --ignored assess_kill --nocapture`.
#[test]
#[ignore]
fn assess_kill_keeps_old_or_new_result() {
    let d = tmpdir("assess-kill");
    let g = golden_copy(&d);
    let cache = d.join("cache");
    let out = d.join("out");
    let assess = |force: bool, pause: bool| {
        let mut c = bin();
        c.current_dir(&d)
            .env("RFTWIN_CACHE", &cache)
            .arg("assess")
            .arg(g.join("recipe.toml"))
            .arg("--out")
            .arg(&out)
            .arg("--quiet")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if force {
            c.arg("--force");
        }
        if pause {
            c.env(rftwin::io::output::TEST_PAUSE_ENV, "1000");
        }
        c
    };
    let t0 = Instant::now();
    let st = assess(false, false).status().unwrap();
    assert!(st.code().unwrap() <= 1, "first assess failed");
    let total = t0.elapsed();
    println!("assess (cold cache): {:.1} s", total.as_secs_f64());
    let t0 = Instant::now();
    assert!(assess(true, false).status().unwrap().code().unwrap() <= 1);
    let total = t0.elapsed();
    println!("assess (warm cache): {:.1} s", total.as_secs_f64());
    let complete = |i: usize| {
        assert!(rftwin::io::output::is_marked(&out), "kill {i}: no marker");
        let s = std::fs::read_to_string(out.join("summary.json")).unwrap();
        let _: serde_json::Value = serde_json::from_str(&s).unwrap();
        assert!(out.join("report.pdf").is_file() && out.join("fields.h5").is_file(), "kill {i}");
    };
    let (mut olds, mut news) = (0, 0);
    let in_commit = |pre: &[String]| {
        leftovers(&d).iter().any(|n| {
            n.starts_with(".out.tmp-rftwin-") && !pre.contains(n) && d.join(n).join("summary.json").exists()
        })
    };
    for i in 0..10 {
        std::fs::write(out.join("tag.txt"), format!("{i}")).unwrap();
        let pre = leftovers(&d);
        let t0 = Instant::now();
        let mut c = assess(true, true).spawn().unwrap();
        if i < 7 {
            // Spread over the run.
            std::thread::sleep(total.mul_f64((i as f64 + 0.5) / 7.0));
        } else {
            // The commit (1 s pauses before and after the swap): before it, after it.
            while !in_commit(&pre) && t0.elapsed() < total * 3 {
                std::thread::sleep(Duration::from_millis(5));
            }
            std::thread::sleep(Duration::from_millis([300u64, 1400, 1800][i - 7]));
        }
        let _ = c.kill();
        c.wait().unwrap();
        complete(i);
        if out.join("tag.txt").exists() {
            olds += 1
        } else {
            news += 1
        }
    }
    println!("assess kills: {olds} old, {news} new");
    assert!(assess(true, false).status().unwrap().code().unwrap() <= 1);
    complete(10);
    assert!(leftovers(&d).is_empty(), "{:?}", leftovers(&d));
    std::fs::remove_dir_all(&d).unwrap();
}
