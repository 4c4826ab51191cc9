//! NIfTI map reader on arbitrary bytes (written to a temporary `.nii` file, since the reader takes a
//! path): a map or an input error, never a panic. Declares the unit so the reader goes past the
//! header into the data checks.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rftwin::b1::map::B1Unit;
use rftwin::b1::nifti_io::{read_nifti_map, NiftiMapOptions};

fuzz_target!(|data: &[u8]| {
    let dir = std::env::temp_dir().join(format!("rftwin-fuzz-nifti-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let gz = data.len() > 2 && data[0] == 0x1f && data[1] == 0x8b;
    let path = dir.join(if gz { "map.nii.gz" } else { "map.nii" });
    if std::fs::write(&path, data).is_ok() {
        let opts = NiftiMapOptions {
            unit: Some(B1Unit::MicroTesla),
            ..Default::default()
        };
        let _ = read_nifti_map(&path, &opts);
    }
});
