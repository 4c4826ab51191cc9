//! Coil TOML reader: any text must give a config or an input error, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = rftwin::coil::config::CoilConfig::from_toml_str(text, "fuzz.toml");
    }
});
