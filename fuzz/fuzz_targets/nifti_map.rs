//! NIfTI map reader on arbitrary bytes: a map or an input error, never a panic.
//! The body is `rftwin::fuzzing::nifti_map`, which `tests/fuzz_corpus.rs` also runs on stable over
//! `fuzz/corpus/nifti_map/` and `fuzz/regressions/nifti_map/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rftwin::fuzzing::nifti_map(data);
});
