//! Phantom TOML reader: any text must give a config or an input error, never a panic.
//! The body is `rftwin::fuzzing::phantom_toml`, which `tests/fuzz_corpus.rs` also runs on stable over
//! `fuzz/corpus/phantom_toml/` and `fuzz/regressions/phantom_toml/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rftwin::fuzzing::phantom_toml(data);
});
