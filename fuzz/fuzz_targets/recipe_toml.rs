//! Assessment recipe reader: any text must give a recipe or an input error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rftwin::report::recipe::Recipe::from_toml_str(text, Path::new("fuzz.toml"), Path::new("."));
    }
});
