//! Coil TOML reader: any text must give a config or an input error, never a panic.
//! The body is `rftwin::fuzzing::coil_toml`, which `tests/fuzz_corpus.rs` also runs on stable over
//! `fuzz/corpus/coil_toml/` and `fuzz/regressions/coil_toml/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rftwin::fuzzing::coil_toml(data);
});
