//! Issue 14, item 4: crafted NIfTI files (complex and RGB data, huge NIfTI-2 dims, truncation, 4-D
//! maps, bad vox_offset/bitpix/dims, NaN pixdim and affine) give input errors naming the file and
//! the field — through the library and through `rftwin twin fit` (exit 2, never a panic, no --out) —
//! and the unit messages name keys that exist.
//!
//! The crafted files are built here ([`crafted`]); the same bytes are committed under
//! `fuzz/regressions/nifti_map/` (replayed by tests/fuzz_corpus.rs) and the valid seeds under
//! `fuzz/corpus/nifti_map/`; `committed_corpus_matches_the_generator` keeps them in sync
//! (regenerate with `RFTWIN_WRITE_CORPUS=1 cargo test --release --test map_hardening`).

use std::io::Write;
use std::path::{Path, PathBuf};

use rftwin::b1::*;
use rftwin::error::Error;

/// Held by the tests that write HDF5 files in this process and by those that start `rftwin`: a child
/// forked while an HDF5 file is open here inherits its descriptor, and with it HDF5's lock on the
/// file, so reopening that file here would fail with "unable to lock file" (EAGAIN) until the child
/// exits.
static FORK_VS_HDF5: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    FORK_VS_HDF5.lock().unwrap_or_else(|e| e.into_inner())
}

fn tmp(test: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-maphard-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A NIfTI-1 single-file image, built field by field (little-endian unless `be`).
#[derive(Clone)]
struct V1 {
    dim: [i16; 8],
    datatype: i16,
    bitpix: i16,
    pixdim: [f32; 8],
    vox_offset: f32,
    qform_code: i16,
    sform_code: i16,
    srow: [[f32; 4]; 3],
    magic: [u8; 4],
    be: bool,
    data: Vec<u8>,
}

impl V1 {
    /// A float32 map of `nx x ny x nz x nt` voxels, value `100 i + 10 j + k + 1000 t + 0.5`, 2 mm
    /// voxels, sform (scanner) with origin (-3, -3, -3) mm.
    fn float32(n: [usize; 4], be: bool) -> V1 {
        let mut data = Vec::new();
        for t in 0..n[3] {
            for k in 0..n[2] {
                for j in 0..n[1] {
                    for i in 0..n[0] {
                        let v = (100 * i + 10 * j + k + 1000 * t) as f32 + 0.5;
                        data.extend_from_slice(&if be { v.to_be_bytes() } else { v.to_le_bytes() });
                    }
                }
            }
        }
        let nd = if n[3] > 1 { 4 } else { 3 };
        V1 {
            dim: [nd, n[0] as i16, n[1] as i16, n[2] as i16, n[3] as i16, 1, 1, 1],
            datatype: 16,
            bitpix: 32,
            pixdim: [1.0, 2.0, 2.0, 2.0, 1.0, 1.0, 1.0, 1.0],
            vox_offset: 352.0,
            qform_code: 0,
            sform_code: 1,
            srow: [[2.0, 0.0, 0.0, -3.0], [0.0, 2.0, 0.0, -3.0], [0.0, 0.0, 2.0, -3.0]],
            magic: *b"n+1\0",
            be,
            data,
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut h = vec![0u8; 352];
        let be = self.be;
        let mut put = |o: usize, b: &[u8]| {
            let mut b = b.to_vec();
            if be {
                b.reverse();
            }
            h[o..o + b.len()].copy_from_slice(&b);
        };
        put(0, &348i32.to_le_bytes());
        for a in 0..8 {
            put(40 + 2 * a, &self.dim[a].to_le_bytes());
            put(76 + 4 * a, &self.pixdim[a].to_le_bytes());
        }
        put(70, &self.datatype.to_le_bytes());
        put(72, &self.bitpix.to_le_bytes());
        put(108, &self.vox_offset.to_le_bytes());
        put(112, &1f32.to_le_bytes()); // scl_slope
        put(252, &self.qform_code.to_le_bytes());
        put(254, &self.sform_code.to_le_bytes());
        for r in 0..3 {
            for c in 0..4 {
                put(280 + 16 * r + 4 * c, &self.srow[r][c].to_le_bytes());
            }
        }
        h[123] = 2; // xyzt_units: mm
        h[344..348].copy_from_slice(&self.magic);
        // Data at vox_offset when that is a sane position past the header, else right after it.
        let vo = self.vox_offset;
        if vo.is_finite() && vo > 352.0 && vo < 4096.0 {
            h.resize(vo as usize, 0);
        }
        h.extend_from_slice(&self.data);
        h
    }
}

/// A little-endian NIfTI-2 float32 header with the given dims and a few bytes of data.
fn v2_bytes(dim: [i64; 8], data: &[u8]) -> Vec<u8> {
    let mut h = vec![0u8; 544];
    let mut put = |o: usize, b: &[u8]| h[o..o + b.len()].copy_from_slice(b);
    put(0, &540i32.to_le_bytes());
    put(4, b"n+2\0\r\n\x1a\n");
    put(12, &16i16.to_le_bytes());
    put(14, &32i16.to_le_bytes());
    for (a, d) in dim.iter().enumerate() {
        put(16 + 8 * a, &d.to_le_bytes());
        put(104 + 8 * a, &1f64.to_le_bytes());
    }
    put(168, &544i64.to_le_bytes());
    put(500, &2i32.to_le_bytes());
    h.extend_from_slice(data);
    h
}

fn gzip(b: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(b).unwrap();
    e.finish().unwrap()
}

/// The crafted bad files: (file name, bytes, words the error must contain).
fn crafted() -> Vec<(&'static str, Vec<u8>, Vec<&'static str>)> {
    let base = V1::float32([2, 2, 2, 1], false);
    let with = |f: &dyn Fn(&mut V1)| {
        let mut v = base.clone();
        f(&mut v);
        v.bytes()
    };
    let valid_gz = gzip(&V1::float32([4, 4, 4, 1], false).bytes());
    let truncated_gz = valid_gz[..valid_gz.len() / 2].to_vec();
    let mut truncated_nii = V1::float32([4, 4, 4, 1], false).bytes();
    truncated_nii.truncate(352 + 100);
    vec![
        (
            "complex64.nii",
            with(&|v| {
                v.datatype = 32;
                v.bitpix = 64;
                v.data = vec![0; 8 * 8];
            }),
            vec!["datatype", "complex64", "magnitude", "float32"],
        ),
        (
            "complex128.nii",
            with(&|v| {
                v.datatype = 1792;
                v.bitpix = 128;
                v.data = vec![0; 8 * 16];
            }),
            vec!["datatype", "complex128", "magnitude", "float32"],
        ),
        (
            "rgb24.nii",
            with(&|v| {
                v.datatype = 128;
                v.bitpix = 24;
                v.data = vec![0; 8 * 3];
            }),
            vec!["datatype", "RGB24", "float32"],
        ),
        (
            "nifti2_huge_dims.nii",
            v2_bytes([3, 1 << 20, 1 << 20, 1 << 10, 1, 1, 1, 1], &[0; 64]),
            vec!["dim", "1048576", "1125899906842624 voxels", "2^31"],
        ),
        (
            "nifti2_overflow_dims.nii",
            v2_bytes([4, 1 << 40, 1 << 40, 1 << 40, 1 << 40, 1, 1, 1], &[0; 64]),
            vec!["dim", "more than 2^64"],
        ),
        ("truncated.nii.gz", truncated_gz, vec!["data", "gzip stream ends early"]),
        (
            "truncated.nii",
            truncated_nii,
            vec!["truncated", "256 bytes of voxel data", "holds 100"],
        ),
        (
            "header_only.nii",
            base.bytes()[..200].to_vec(),
            vec!["sizeof_hdr", "ends after 200 bytes"],
        ),
        (
            "bad_vox_offset.nii",
            with(&|v| v.vox_offset = 100.0),
            vec!["vox_offset", "100"],
        ),
        (
            "fractional_vox_offset.nii",
            with(&|v| v.vox_offset = 352.5),
            vec!["vox_offset", "352.5"],
        ),
        (
            "bitpix_mismatch.nii",
            with(&|v| v.bitpix = 16),
            vec!["bitpix", "16", "float32", "32 bits"],
        ),
        (
            "zero_dims.nii",
            with(&|v| v.dim[2] = 0),
            vec!["dim[2] = 0", "at least 1"],
        ),
        (
            "negative_dims.nii",
            with(&|v| v.dim[3] = -2),
            vec!["dim[3] = -2", "at least 1"],
        ),
        ("bad_rank.nii", with(&|v| v.dim[0] = 9), vec!["dim[0]", "9"]),
        (
            "nan_pixdim.nii",
            with(&|v| {
                v.sform_code = 0;
                v.pixdim[2] = f32::NAN;
            }),
            vec!["pixdim", "NaN"],
        ),
        (
            "nan_affine.nii",
            with(&|v| v.srow[1][1] = f32::NAN),
            vec!["srow_y", "NaN", "sform"],
        ),
        (
            "nan_quaternion.nii",
            with(&|v| {
                v.sform_code = 0;
                v.qform_code = 1;
                v.pixdim[0] = 1.0;
            })
            .into_iter()
            .enumerate()
            .map(|(i, b)| {
                if (256..260).contains(&i) {
                    f32::NAN.to_le_bytes()[i - 256]
                } else {
                    b
                }
            })
            .collect(),
            vec!["quatern_b", "NaN"],
        ),
        (
            "hdr_img_pair.nii",
            with(&|v| v.magic = *b"ni1\0"),
            vec!["magic", ".hdr/.img"],
        ),
        (
            "four_d.nii",
            V1::float32([3, 3, 2, 2], false).bytes(),
            vec!["volume", "4-D with 2 volumes", "--volume"],
        ),
    ]
}

/// The valid seeds of the NIfTI corpus.
fn seeds() -> Vec<(&'static str, Vec<u8>)> {
    let le = V1::float32([3, 2, 2, 1], false).bytes();
    let mut v2 = v2_bytes([3, 3, 2, 2, 1, 1, 1, 1], &[]);
    v2.extend_from_slice(&le[352..]);
    vec![
        ("valid_le.nii", le.clone()),
        ("valid_be.nii", V1::float32([3, 2, 2, 1], true).bytes()),
        ("valid.nii.gz", gzip(&le)),
        ("valid_v2.nii", v2),
        ("valid_4d.nii", V1::float32([2, 2, 2, 2], false).bytes()),
    ]
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, bytes).unwrap();
    p
}

#[test]
fn crafted_files_are_input_errors_naming_the_field() {
    let d = tmp("lib");
    for (name, bytes, words) in crafted() {
        let p = write(&d, name, &bytes);
        let r = std::panic::catch_unwind(|| read_map(&p, Some(B1Unit::MicroTesla)));
        let e = match r {
            Err(_) => panic!("{name}: the reader panicked"),
            Ok(Ok(_)) => panic!("{name}: read without an error"),
            Ok(Err(e)) => e,
        };
        let msg = e.to_string();
        assert!(matches!(e, Error::Input { .. }), "{name}: not an input error: {msg}");
        assert!(msg.contains(name), "{name}: message does not name the file: {msg}");
        for w in words {
            assert!(msg.contains(w), "{name}: message lacks '{w}': {msg}");
        }
        assert!(!msg.contains("Custom {"), "{name}: raw io error: {msg}");
    }
}

#[test]
fn big_endian_little_endian_gzip_and_nifti2_read_the_same_values() {
    let d = tmp("seeds");
    let mut maps = Vec::new();
    for (name, bytes) in seeds().into_iter().filter(|(n, _)| !n.contains("4d")) {
        let p = write(&d, name, &bytes);
        let v = read_nifti_volume(&p, 0).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.data.shape(), &[3, 2, 2], "{name}");
        assert_eq!(v.data[[2, 1, 1]], 211.5, "{name}");
        assert_eq!(v.data[[1, 0, 1]], 101.5, "{name}");
        maps.push((name, v));
    }
    // The sform (v1) is 2 mm voxels at -3 mm; the NIfTI-2 seed has no sform: pixdim 1 mm.
    let v1 = &maps[0].1;
    assert!((v1.affine.m[0][0] - 0.002).abs() < 1e-12 && (v1.affine.m[1][3] + 0.003).abs() < 1e-12);
    assert_eq!(maps[3].1.xform, XformSource::Pixdim);
    assert_eq!(maps[3].1.version, 2);
    for (name, v) in &maps {
        assert_eq!(v.data, v1.data, "{name}");
    }
}

#[test]
fn four_d_map_reads_the_chosen_volume() {
    let d = tmp("fourd");
    let p = write(&d, "four_d.nii", &V1::float32([3, 3, 2, 2], false).bytes());
    let info = read_nifti_header(&p).unwrap();
    assert_eq!((info.volumes, info.dims.clone()), (2, vec![3, 3, 2, 2]));
    let unit = Some(B1Unit::MicroTesla);
    let m0 = read_map_volume(&p, unit, Some(0)).unwrap();
    let m1 = read_map_volume(&p, unit, Some(1)).unwrap();
    assert_eq!(m0.magnitude[[2, 1, 1]], 211.5);
    assert_eq!(m1.magnitude[[2, 1, 1]], 1211.5);
    let e = read_map_volume(&p, unit, Some(2)).unwrap_err().to_string();
    assert!(e.contains("volume 2") && e.contains("2 volume"), "{e}");
    let e = read_map(&p, unit).unwrap_err().to_string();
    assert!(
        e.contains("four_d.nii") && e.contains("2 volumes") && e.contains("--volume"),
        "{e}"
    );
    // A single-volume file accepts volume 0 and no index alike.
    let p3 = write(&d, "three_d.nii", &V1::float32([3, 3, 2, 1], false).bytes());
    assert_eq!(
        read_map(&p3, unit).unwrap().magnitude,
        read_map_volume(&p3, unit, Some(0)).unwrap().magnitude
    );
}

#[test]
fn hdf5_four_d_dataset_needs_a_volume() {
    let _serial = serial();
    let d = tmp("h5");
    let p = d.join("four_d.h5");
    {
        let f = hdf5::File::create(&p).unwrap();
        let data = ndarray::Array4::from_shape_fn((3, 3, 2, 2), |(i, j, k, t)| {
            (100 * i + 10 * j + k + 1000 * t) as f32 + 0.5
        });
        let ds = f.new_dataset_builder().with_data(&data).create("b1").unwrap();
        for (k, v) in [("origin_m", [0.0; 3]), ("spacing_m", [0.002; 3])] {
            ds.new_attr::<f64>().shape([3]).create(k).unwrap().write(&v).unwrap();
        }
    }
    let opts = |volume| H5MapOptions {
        unit: Some(B1Unit::MicroTesla),
        volume,
        ..Default::default()
    };
    let e = read_h5_map(&p, &opts(None)).unwrap_err().to_string();
    assert!(
        e.contains("four_d.h5") && e.contains("2 volumes") && e.contains("--volume"),
        "{e}"
    );
    assert_eq!(read_h5_map(&p, &opts(Some(1))).unwrap().magnitude[[2, 1, 1]], 1211.5);
    assert_eq!(read_h5_map(&p, &opts(Some(0))).unwrap().magnitude[[2, 1, 1]], 211.5);
    let e = read_h5_map(&p, &opts(Some(7))).unwrap_err().to_string();
    assert!(e.contains("volume 7"), "{e}");
}

#[test]
fn unit_messages_name_keys_that_exist() {
    let _serial = serial();
    let d = tmp("units");
    let p = write(&d, "flip.nii", &V1::float32([3, 3, 2, 1], false).bytes());
    let side = sidecar_path(&p);
    // A flip-angle map without its nominal angle: names the sidecar key to add, no CLI option.
    std::fs::write(&side, r#"{"B1Unit": "deg"}"#).unwrap();
    let e = read_map(&p, None).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Input { .. }), "{msg}");
    assert!(
        msg.contains("flip.json") && msg.contains("B1NominalFlipAngleDeg") && msg.contains("B1FlipAngleScale"),
        "{msg}"
    );
    assert!(
        !msg.contains("command line") && !msg.contains("nominal_flip_deg"),
        "names a key or option that does not exist: {msg}"
    );
    // A nominal angle that is not a number is named, not silently dropped.
    std::fs::write(&side, r#"{"B1Unit": "deg", "B1NominalFlipAngleDeg": "80"}"#).unwrap();
    let msg = read_map(&p, None).unwrap_err().to_string();
    assert!(
        msg.contains("B1NominalFlipAngleDeg") && msg.contains("not a number"),
        "{msg}"
    );
    std::fs::write(
        &side,
        r#"{"B1Unit": "deg", "B1NominalFlipAngleDeg": 80, "B1FlipAngleScale": -1}"#,
    )
    .unwrap();
    let msg = read_map(&p, None).unwrap_err().to_string();
    assert!(msg.contains("B1FlipAngleScale") && !msg.contains("flip_scale"), "{msg}");
    std::fs::write(
        &side,
        r#"{"B1Unit": "deg", "B1NominalFlipAngleDeg": 80, "B1FlipAngleScale": 10}"#,
    )
    .unwrap();
    let m = read_map(&p, None).unwrap();
    assert_eq!(
        m.unit,
        B1Unit::FlipAngleDeg {
            nominal_deg: 80.0,
            scale: 10.0
        }
    );
    // No sidecar: says which file to write with which key, and no option that does not exist.
    std::fs::remove_file(&side).unwrap();
    let msg = read_map(&p, None).unwrap_err().to_string();
    assert!(msg.contains("flip.json") && msg.contains("\"B1Unit\""), "{msg}");
    assert!(!msg.contains("declare"), "{msg}");
    // HDF5: names the attributes of the dataset.
    let h = d.join("flip.h5");
    {
        let f = hdf5::File::create(&h).unwrap();
        let ds = f
            .new_dataset_builder()
            .with_data(&ndarray::Array3::<f32>::from_elem((2, 2, 2), 800.0))
            .create("b1")
            .unwrap();
        for (k, v) in [("origin_m", [0.0; 3]), ("spacing_m", [0.002; 3])] {
            ds.new_attr::<f64>().shape([3]).create(k).unwrap().write(&v).unwrap();
        }
        let deg: hdf5::types::VarLenUnicode = "deg".parse().unwrap();
        ds.new_attr::<hdf5::types::VarLenUnicode>()
            .create("unit")
            .unwrap()
            .write_scalar(&deg)
            .unwrap();
    }
    let msg = read_map(&h, None).unwrap_err().to_string();
    assert!(
        msg.contains("flip.h5") && msg.contains("b1.nominal_flip_deg") && msg.contains("b1.flip_scale"),
        "{msg}"
    );
    assert!(!msg.contains("command line") && !msg.contains("B1Nominal"), "{msg}");
}

mod common;
use common::bin;

fn twin_fit(map: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    bin()
        .args([
            "twin",
            "fit",
            "--coil",
            concat!(env!("CARGO_MANIFEST_DIR"), "/coils/body_1p5t_hp16.toml"),
            "--phantom",
            concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml"),
            "--measured",
        ])
        .arg(map)
        .arg("--out")
        .arg(out)
        .args(["--quiet", "--no-cache"])
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn crafted_files_through_twin_fit_exit_2_without_output() {
    let _serial = serial();
    let d = tmp("cli");
    for (name, bytes, words) in crafted() {
        let p = write(&d, name, &bytes);
        let out = d.join(format!("out-{name}"));
        let o = twin_fit(&p, &out, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        assert_ne!(o.status.code(), Some(101), "{name}: panic: {err}");
        assert_eq!(o.status.code(), Some(2), "{name}: {err}");
        assert!(err.contains(name), "{name}: message does not name the file: {err}");
        assert!(err.contains(words[0]), "{name}: message lacks '{}': {err}", words[0]);
        assert!(!err.contains("panicked"), "{name}: {err}");
        assert!(!out.exists(), "{name}: --out was created");
        assert_eq!(std::fs::read(&p).unwrap(), bytes, "{name}: the input changed");
    }
    // A volume index past the end of a 4-D map is refused before any simulation.
    let p = d.join("four_d.nii");
    let out = d.join("out-vol");
    let o = twin_fit(&p, &out, &["--volume", "5"]);
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("four_d.nii") && err.contains("volume 5"), "{err}");
    assert!(!out.exists());
    // --volume is documented in the help.
    let o = bin().args(["twin", "fit", "--help"]).output().unwrap();
    let help = String::from_utf8_lossy(&o.stdout);
    assert!(help.contains("--volume") && help.contains("0-based"), "{help}");
}

#[test]
fn recipe_measured_volume_needs_a_measured_map() {
    use rftwin::report::recipe::{Recipe, TwinSource};
    let base = Path::new("/tmp");
    let ok = "title = \"t\"\n[twin]\ncoil = \"c.toml\"\nphantom = \"p.toml\"\nmeasured = \"m.nii.gz\"\nmeasured_volume = 1\n[normalisation]\nwhole_phantom_sar_w_per_kg = 2.0\n[exposure]\nduration_s = 60.0\n[criteria]\nsar_10g = { limit_w_per_kg = 10.0 }\n";
    let r = Recipe::from_toml_str(ok, Path::new("vol.toml"), base).unwrap();
    match r.twin {
        TwinSource::Model { map_options, .. } => assert_eq!(map_options.volume, Some(1)),
        other => panic!("{other:?}"),
    }
    let bad = ok.replace("measured = \"m.nii.gz\"\n", "");
    let e = Recipe::from_toml_str(&bad, Path::new("vol.toml"), base)
        .unwrap_err()
        .to_string();
    assert!(e.contains("vol.toml") && e.contains("twin.measured_volume"), "{e}");
    let neg = ok.replace("measured_volume = 1", "measured_volume = -1");
    let e = Recipe::from_toml_str(&neg, Path::new("vol.toml"), base)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("vol.toml") && e.contains("twin.measured_volume") && e.contains("negative"),
        "{e}"
    );
}

/// The committed corpus files equal what this file generates (set RFTWIN_WRITE_CORPUS=1 to rewrite
/// them).
#[test]
fn committed_corpus_matches_the_generator() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let reg = root.join("regressions/nifti_map");
    let seeds_dir = root.join("corpus/nifti_map");
    let files: Vec<(PathBuf, Vec<u8>)> = crafted()
        .into_iter()
        .map(|(n, b, _)| (reg.join(n), b))
        .chain(seeds().into_iter().map(|(n, b)| (seeds_dir.join(n), b)))
        .collect();
    if std::env::var_os("RFTWIN_WRITE_CORPUS").is_some() {
        std::fs::create_dir_all(&reg).unwrap();
        std::fs::create_dir_all(&seeds_dir).unwrap();
        for (p, b) in &files {
            std::fs::write(p, b).unwrap();
        }
    }
    for (p, b) in &files {
        let on_disk = std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(&on_disk, b, "{} differs from the generator", p.display());
        assert!(b.len() <= 4096, "{}: {} bytes", p.display(), b.len());
    }
}

/// The reader (which parses the header itself) gives the shipped measured maps exactly as the
/// `nifti` crate reads them.
#[test]
fn shipped_maps_read_as_the_nifti_crate_reads_them() {
    use nifti::{IntoNdArray, NiftiObject};
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("phantoms/measured");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let p = e.unwrap().path();
        if !p.to_string_lossy().ends_with(".nii.gz") {
            continue;
        }
        let ours = read_nifti_volume(&p, 0).unwrap();
        let theirs = nifti::ReaderOptions::new()
            .read_file(&p)
            .unwrap()
            .into_volume()
            .into_ndarray::<f32>()
            .unwrap()
            .into_dimensionality::<ndarray::Ix3>()
            .unwrap();
        assert_eq!(ours.data.shape(), theirs.shape(), "{}", p.display());
        // Equal voxel by voxel, NaN (no data) included.
        let same = ours
            .data
            .iter()
            .zip(theirs.iter())
            .all(|(a, b)| a == b || (a.is_nan() && b.is_nan()));
        assert!(same, "{}: values differ", p.display());
        n += 1;
    }
    assert!(n >= 3, "{n} shipped maps");
}
