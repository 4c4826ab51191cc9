//! Assessment recipe reader: any text must give a recipe or an input error, never a panic.
//! The body is `rftwin::fuzzing::recipe_toml`, which `tests/fuzz_corpus.rs` also runs on stable over
//! `fuzz/corpus/recipe_toml/` and `fuzz/regressions/recipe_toml/`.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rftwin::fuzzing::recipe_toml(data);
});
