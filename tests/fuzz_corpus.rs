//! Replays the fuzz corpus on stable: every file under `fuzz/corpus/<target>/` (seeds) and
//! `fuzz/regressions/<target>/` (crash inputs and crafted files, issue 14) goes through the same
//! function the nightly fuzz target calls (`rftwin::fuzzing::<target>`), which must not panic and
//! must return Ok or an input error. Regressions under `nifti_map` must be input errors (they are
//! bad files; a 4-D one is read at its last volume by the fuzz body); the seeds must be read.

use std::path::{Path, PathBuf};

use rftwin::error::Error;
use rftwin::fuzzing::{run_target, TARGETS};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).filter(|p| p.is_file()).collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Runs every file of `kind` (corpus or regressions) of every target; returns (target, file, result).
fn replay(kind: &str) -> Vec<(String, PathBuf, rftwin::error::Result<()>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz").join(kind);
    let mut out = Vec::new();
    for t in TARGETS {
        for f in files(&root.join(t)) {
            let data = std::fs::read(&f).unwrap();
            let r = std::panic::catch_unwind(|| run_target(t, &data).expect("known target"))
                .unwrap_or_else(|_| panic!("{t}: {} panicked", f.display()));
            if let Err(e) = &r {
                assert!(
                    matches!(e, Error::Input { .. }),
                    "{t}: {}: not an input error: {e:?}",
                    f.display()
                );
            }
            out.push((t.to_string(), f, r));
        }
    }
    out
}

#[test]
fn corpus_seeds_replay_without_panics() {
    let runs = replay("corpus");
    for t in TARGETS {
        assert!(runs.iter().any(|(rt, _, _)| rt == t), "no corpus for {t}");
    }
    // The seeds are the shipped configs and valid maps: all are read.
    for (t, f, r) in &runs {
        assert!(
            r.is_ok(),
            "{t}: seed {} is refused: {}",
            f.display(),
            r.as_ref().unwrap_err()
        );
    }
}

#[test]
fn regressions_replay_as_input_errors() {
    let runs = replay("regressions");
    assert!(
        runs.iter().filter(|(t, _, _)| t == "nifti_map").count() >= 10,
        "the crafted NIfTI files of issue 14 are missing"
    );
    for (t, f, r) in &runs {
        // All crafted NIfTI files are bad, except that the fuzz body reads a 4-D map (refused
        // without a volume index) at its last volume.
        let four_d = rftwin::b1::read_nifti_header(f).map(|h| h.volumes > 1).unwrap_or(false);
        if t == "nifti_map" {
            assert_eq!(r.is_ok(), four_d, "{t}: {}: {r:?}", f.display());
        }
    }
}
