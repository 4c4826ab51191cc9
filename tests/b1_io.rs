//! NIfTI and HDF5 round trips of B1 maps: values, affine and physical placement survive.

use std::path::PathBuf;

use ndarray::Array3;
use rftwin::b1::*;
use rftwin::error::Error;

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-b1-io-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    d.join(name)
}

/// A voxel affine with 2 x 2.5 x 3 mm voxels, rotated 20° about z and 10° about x, offset (m).
fn rotated_affine() -> Affine {
    let rig = RigidTransform {
        rotation_rad: [10f64.to_radians(), 0.0, 20f64.to_radians()],
        ..Default::default()
    };
    let r = rig.rotation();
    let s = [0.002, 0.0025, 0.003];
    let mut lin = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            lin[a][b] = r[a][b] * s[b];
        }
    }
    Affine::from_linear(lin, [-0.061, 0.0435, -0.012])
}

fn test_data(dims: [usize; 3]) -> Array3<f32> {
    Array3::from_shape_fn(dims, |(i, j, k)| 100.0 * i as f32 + 10.0 * j as f32 + k as f32 + 0.25)
}

fn flip_unit() -> B1Unit {
    B1Unit::FlipAngleDeg {
        nominal_deg: 80.0,
        scale: 10.0,
    }
}

fn round_trip_nifti(file: &str, version: NiftiVersion) {
    let dims = [7, 5, 4];
    let aff = rotated_affine();
    let map = B1Map::new(test_data(dims), aff, Frame::ScannerRas, flip_unit(), "test").unwrap();
    let path = tmp(file);
    write_nifti_map(&path, &map, version).unwrap();
    let back = read_nifti_map(&path, &NiftiMapOptions::default()).unwrap();
    assert_eq!(back.dims(), dims, "{file}: dims");
    assert_eq!(back.magnitude, map.magnitude, "{file}: values");
    assert_eq!(back.unit, flip_unit(), "{file}: unit from sidecar");
    assert_eq!(back.frame, Frame::ScannerRas);
    // NIfTI-1 stores the sform as f32 mm: ~1e-8 m on 0.1 m offsets. NIfTI-2 stores f64.
    let tol = if version == NiftiVersion::V1 { 1e-7 } else { 1e-12 };
    let d = back.affine.max_abs_diff(&aff);
    assert!(d < tol, "{file}: affine differs by {d} m");
    // Each voxel lands on the same physical point.
    for (i, j, k) in [(0, 0, 0), (6, 4, 3), (3, 1, 2)] {
        let p = map.voxel_position(i, j, k);
        let q = back.voxel_position(i, j, k);
        let e = (0..3).map(|a| (p[a] - q[a]).abs()).fold(0.0, f64::max);
        assert!(e < tol, "{file}: voxel ({i},{j},{k}) moved {e} m");
    }
    // The volume reader reports the sform as the source.
    let vol = read_nifti_volume(&path, 0).unwrap();
    assert_eq!(vol.xform, XformSource::Sform);
    assert_eq!(vol.version, if version == NiftiVersion::V1 { 1 } else { 2 });
}

#[test]
fn nifti1_round_trip_nii() {
    round_trip_nifti("v1.nii", NiftiVersion::V1);
}

#[test]
fn nifti1_round_trip_nii_gz() {
    round_trip_nifti("v1.nii.gz", NiftiVersion::V1);
}

#[test]
fn nifti2_round_trip_nii() {
    round_trip_nifti("v2.nii", NiftiVersion::V2);
}

#[test]
fn nifti2_round_trip_nii_gz() {
    round_trip_nifti("v2.nii.gz", NiftiVersion::V2);
}

/// A file with only a qform (sform_code 0), written through the nifti crate directly: the quaternion
/// path (method 2, including qfac = -1) must give the same affine as the one it encodes.
#[test]
fn nifti1_qform_only() {
    let path = tmp("qform.nii");
    let aff = rotated_affine();
    // Write with both, then compare against a qform-only header carrying the same quaternion.
    let both = tmp("both.nii");
    write_nifti_volume(&both, &test_data([4, 3, 2]), &aff, NiftiVersion::V1, 1, "").unwrap();
    let mut hdr = nifti::NiftiHeader::from_file(&both).unwrap();
    hdr.sform_code = 0;
    hdr.srow_x = [0.0; 4];
    hdr.srow_y = [0.0; 4];
    hdr.srow_z = [0.0; 4];
    nifti::writer::WriterOptions::new(&path)
        .reference_header(&hdr)
        .write_nifti(&test_data([4, 3, 2]))
        .unwrap();
    let vol = read_nifti_volume(&path, 0).unwrap();
    assert_eq!(vol.xform, XformSource::Qform);
    let d = vol.affine.max_abs_diff(&aff);
    assert!(d < 1e-7, "qform affine differs by {d} m: {:?}", vol.affine);

    // A left-handed affine (x flipped, as radiological storage) needs qfac = -1.
    let mut flipped = aff;
    for row in flipped.m.iter_mut().take(3) {
        row[2] = -row[2];
    }
    write_nifti_volume(&both, &test_data([4, 3, 2]), &flipped, NiftiVersion::V1, 1, "").unwrap();
    let mut hdr = nifti::NiftiHeader::from_file(&both).unwrap();
    assert_eq!(hdr.pixdim[0], -1.0);
    hdr.sform_code = 0;
    nifti::writer::WriterOptions::new(&path)
        .reference_header(&hdr)
        .write_nifti(&test_data([4, 3, 2]))
        .unwrap();
    let vol = read_nifti_volume(&path, 0).unwrap();
    let d = vol.affine.max_abs_diff(&flipped);
    assert!(d < 1e-7, "qfac=-1 qform affine differs by {d} m");
}

/// Integer maps (dcm2niix writes Siemens flip-angle maps as int16) with scl_slope are scaled.
#[test]
fn nifti1_int16_with_slope() {
    let path = tmp("int16.nii");
    let data = Array3::from_shape_fn((3, 3, 2), |(i, j, k)| (700 + 10 * i + j + k) as i16);
    let hdr = nifti::NiftiHeader {
        sform_code: 1,
        srow_x: [2.0, 0.0, 0.0, -10.0],
        srow_y: [0.0, 2.0, 0.0, 5.0],
        srow_z: [0.0, 0.0, 4.0, 1.0],
        xyzt_units: 10, // mm + s
        ..Default::default()
    };
    nifti::writer::WriterOptions::new(&path)
        .reference_header(&hdr)
        .write_nifti(&data)
        .unwrap();
    let map = read_nifti_map(
        &path,
        &NiftiMapOptions {
            unit: Some(flip_unit()),
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(map.magnitude[[2, 1, 1]], 722.0);
    assert!((map.affine.m[0][3] + 0.010).abs() < 1e-9);
    assert!((map.affine.m[2][2] - 0.004).abs() < 1e-9);
    let rel = map.to_relative(None).unwrap();
    assert!((rel[[0, 0, 0]] - 700.0 / 800.0).abs() < 1e-6);
}

#[test]
fn nifti_without_unit_is_an_error() {
    let path = tmp("nounit.nii");
    write_nifti_volume(&path, &test_data([3, 3, 3]), &rotated_affine(), NiftiVersion::V1, 1, "").unwrap();
    let _ = std::fs::remove_file(sidecar_path(&path));
    let e = read_nifti_map(&path, &NiftiMapOptions::default()).unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, Error::Input { .. }), "{msg}");
    assert!(msg.contains("nounit.nii") && msg.contains("unit"), "{msg}");
}

#[test]
fn bad_maps_are_input_errors() {
    let aff = rotated_affine();
    let u = B1Unit::MicroTesla;
    // All zero.
    let e = B1Map::new(Array3::zeros((3, 3, 3)), aff, Frame::Simulation, u, "zero.h5").unwrap_err();
    assert!(e.to_string().contains("zero"), "{e}");
    // Inf.
    let mut d = test_data([3, 3, 3]);
    d[[1, 1, 1]] = f32::INFINITY;
    let e = B1Map::new(d, aff, Frame::Simulation, u, "inf.h5").unwrap_err();
    assert!(e.to_string().contains("Inf"), "{e}");
    // All NaN.
    let e = B1Map::new(
        Array3::from_elem((2, 2, 2), f32::NAN),
        aff,
        Frame::Simulation,
        u,
        "nan.h5",
    )
    .unwrap_err();
    assert!(e.to_string().contains("NaN"), "{e}");
    // Singular affine.
    let mut sing = aff;
    for row in sing.m.iter_mut().take(3) {
        row[1] = 0.0;
    }
    let e = B1Map::new(test_data([3, 3, 3]), sing, Frame::Simulation, u, "sing.h5").unwrap_err();
    assert!(e.to_string().contains("singular"), "{e}");
    for e in [
        B1Unit::parse("tesla", None, None, "f", "unit").unwrap_err(),
        B1Unit::parse("deg", None, Some(10.0), "f", "unit").unwrap_err(),
    ] {
        assert!(matches!(e, Error::Input { .. }));
    }
}

#[test]
fn nifti_4d_needs_a_volume_index() {
    let path = tmp("4d.nii");
    let data = ndarray::Array4::from_shape_fn((3, 3, 2, 2), |(i, j, k, t)| (i + j + k + 10 * t) as f32 + 1.0);
    let hdr = nifti::NiftiHeader {
        xyzt_units: 2,
        ..Default::default()
    };
    nifti::writer::WriterOptions::new(&path)
        .reference_header(&hdr)
        .write_nifti(&data)
        .unwrap();
    let v = read_nifti_volume(&path, 1).unwrap();
    assert_eq!(v.data[[2, 1, 1]], 14.0 + 1.0);
    let e = read_nifti_volume(&path, 2).unwrap_err();
    assert!(e.to_string().contains("volume"), "{e}");
}

#[test]
fn hdf5_round_trip() {
    let dims = [6, 5, 3];
    let aff = rotated_affine();
    let mut map = B1Map::new(test_data(dims), aff, Frame::ScannerRas, flip_unit(), "test").unwrap();
    map.phase_rad = Some(Array3::from_shape_fn(dims, |(i, j, k)| {
        0.1 * i as f32 - 0.2 * j as f32 + 0.05 * k as f32
    }));
    map.mask = Some(Array3::from_shape_fn(dims, |(i, j, _)| (i + j) % 3 != 0));
    let path = tmp("map.h5");
    write_h5_map(&path, &map, "b1").unwrap();
    let back = read_h5_map(&path, &H5MapOptions::default()).unwrap();
    assert_eq!(back.magnitude, map.magnitude);
    assert_eq!(back.phase_rad, map.phase_rad);
    assert_eq!(back.mask, map.mask);
    assert_eq!(back.unit, flip_unit());
    assert_eq!(back.frame, Frame::ScannerRas);
    assert_eq!(back.affine, aff, "affine stored as f64 must be exact");

    // origin_m + spacing_m only (no affine attribute): written by hand.
    let path2 = tmp("origin.h5");
    {
        let f = hdf5::File::create(&path2).unwrap();
        let ds = f
            .new_dataset_builder()
            .with_data(&test_data(dims))
            .create("map")
            .unwrap();
        ds.new_attr::<f64>()
            .shape([3])
            .create("origin_m")
            .unwrap()
            .write(&[0.1, -0.2, 0.4])
            .unwrap();
        ds.new_attr::<f64>()
            .shape([3])
            .create("spacing_m")
            .unwrap()
            .write(&[0.004, 0.005, 0.006])
            .unwrap();
        let u: hdf5::types::VarLenUnicode = "percent".parse().unwrap();
        ds.new_attr::<hdf5::types::VarLenUnicode>()
            .create("unit")
            .unwrap()
            .write_scalar(&u)
            .unwrap();
    }
    let m2 = read_h5_map(&path2, &H5MapOptions::default()).unwrap();
    let p = m2.voxel_position(1, 2, 3);
    for (a, want) in [0.104, -0.19, 0.418].iter().enumerate() {
        assert!((p[a] - want).abs() < 1e-12, "voxel (1,2,3) at {p:?}");
    }
    assert_eq!(m2.frame, Frame::Simulation);
    assert!(matches!(
        m2.unit,
        B1Unit::Relative {
            fraction_or_percent: RelativeScale::Percent
        }
    ));

    // Complex dataset: magnitude and phase from it.
    let path3 = tmp("complex.h5");
    let c = Array3::from_shape_fn(dims, |(i, j, _)| {
        num_complex::Complex32::from_polar(1.0 + i as f32, 0.1 * j as f32)
    });
    {
        let f = hdf5::File::create(&path3).unwrap();
        let ds = f.new_dataset_builder().with_data(&c).create("b1").unwrap();
        ds.new_attr::<f64>()
            .shape([3])
            .create("origin_m")
            .unwrap()
            .write(&[0.0; 3])
            .unwrap();
        ds.new_attr::<f64>()
            .shape([3])
            .create("spacing_m")
            .unwrap()
            .write(&[0.01; 3])
            .unwrap();
    }
    let m3 = read_h5_map(
        &path3,
        &H5MapOptions {
            unit: Some(B1Unit::MicroTesla),
            ..Default::default()
        },
    )
    .unwrap();
    assert!((m3.magnitude[[3, 2, 1]] - 4.0).abs() < 1e-6);
    assert!((m3.phase_rad.as_ref().unwrap()[[3, 2, 1]] - 0.2).abs() < 1e-6);

    // Missing placement and missing unit are input errors naming the file.
    let path4 = tmp("noaffine.h5");
    {
        let f = hdf5::File::create(&path4).unwrap();
        f.new_dataset_builder()
            .with_data(&test_data(dims))
            .create("b1")
            .unwrap();
    }
    let e = read_h5_map(&path4, &H5MapOptions::default()).unwrap_err();
    assert!(
        e.to_string().contains("noaffine.h5") && e.to_string().contains("origin_m"),
        "{e}"
    );
    let e = read_h5_map(&path3, &H5MapOptions::default()).unwrap_err();
    assert!(e.to_string().contains("unit"), "{e}");
    // Wrong rank.
    let path5 = tmp("rank2.h5");
    {
        let f = hdf5::File::create(&path5).unwrap();
        f.new_dataset_builder()
            .with_data(&ndarray::Array2::<f32>::ones((3, 3)))
            .create("b1")
            .unwrap();
    }
    let e = read_h5_map(&path5, &H5MapOptions::default()).unwrap_err();
    assert!(e.to_string().contains("rank 2"), "{e}");
}

#[test]
fn read_map_dispatches_on_extension() {
    let map = B1Map::new(
        test_data([3, 3, 3]),
        rotated_affine(),
        Frame::ScannerRas,
        B1Unit::MicroTesla,
        "t",
    )
    .unwrap();
    let p = tmp("dispatch.nii.gz");
    write_nifti_map(&p, &map, NiftiVersion::V1).unwrap();
    assert_eq!(read_map(&p, None).unwrap().magnitude, map.magnitude);
    let e = read_map(&tmp("x.mat"), None).unwrap_err();
    assert!(e.to_string().contains(".nii"), "{e}");
}
