//! Masks from the phantom geometry minus a border, and from files.

use ndarray::Array3;
use rftwin::b1::*;
use rftwin::grid::{Shape, ShapeKind};

fn map() -> B1Map {
    // 2 mm voxels, 60 x 60 x 40, centred on the origin, simulation frame.
    let aff = Affine::from_origin_spacing([-0.059, -0.059, -0.039], [0.002; 3]);
    B1Map::new(
        Array3::from_elem((60, 60, 40), 1.0),
        aff,
        Frame::Simulation,
        B1Unit::MicroTesla,
        "m",
    )
    .unwrap()
}

#[test]
fn cylinder_minus_border() {
    let m = map();
    let cyl = Shape::new(
        "gel",
        ShapeKind::Cylinder {
            axis: 2,
            centre_m: [0.0; 3],
            radius_m: 0.05,
            start_m: -0.03,
            end_m: 0.03,
        },
    );
    let full = mask_from_shape(&m, &cyl, 0.0, &Placement::default()).unwrap();
    let inner = mask_from_shape(&m, &cyl, 0.01, &Placement::default()).unwrap();
    let nf = full.iter().filter(|b| **b).count() as f64;
    let ni = inner.iter().filter(|b| **b).count() as f64;
    // Volumes: π 0.05² 0.06 vs π 0.04² 0.04, in 8e-9 m³ voxels, within 3 % (voxelisation).
    let vf = std::f64::consts::PI * 0.05f64.powi(2) * 0.06 / 8e-9;
    let vi = std::f64::consts::PI * 0.04f64.powi(2) * 0.04 / 8e-9;
    assert!((nf / vf - 1.0).abs() < 0.03, "full {nf} vs {vf}");
    assert!((ni / vi - 1.0).abs() < 0.03, "inner {ni} vs {vi}");
    // Every eroded voxel is at least the border inside the cylinder.
    for ((i, j, k), b) in inner.indexed_iter() {
        if *b {
            let p = m.voxel_position(i, j, k);
            assert!((p[0] * p[0] + p[1] * p[1]).sqrt() <= 0.04 + 1e-12 && p[2].abs() <= 0.02 + 1e-12);
        }
    }
    // A shifted phantom shifts the mask.
    let pl = Placement {
        rigid: RigidTransform::shift([0.01, 0.0, 0.0]),
        ..Default::default()
    };
    let shifted = mask_from_shape(&m, &cyl, 0.01, &pl).unwrap();
    assert!(shifted[[59 - 5, 30, 20]] && !inner[[59 - 5, 30, 20]]);
}

#[test]
fn box_border_and_errors() {
    let m = map();
    let b = Shape::boxed("box", [-0.02, -0.02, -0.02], [0.02, 0.02, 0.02]);
    let e = eroded(&b, 0.005).unwrap();
    assert!(e.contains([0.0149, 0.0, 0.0]) && !e.contains([0.0151, 0.0, 0.0]));
    // A border that removes everything.
    let err = mask_from_shape(&m, &b, 0.03, &Placement::default()).unwrap_err();
    assert!(err.to_string().contains("border"), "{err}");
    // A phantom placed outside the map: no overlap.
    let far = Shape::boxed("far", [1.0, 1.0, 1.0], [1.1, 1.1, 1.1]);
    let err = mask_from_shape(&m, &far, 0.0, &Placement::default()).unwrap_err();
    assert!(err.to_string().contains("overlap"), "{err}");
}

#[test]
fn mask_from_files() {
    let m = map();
    let dir = std::env::temp_dir().join(format!("rftwin-b1-mask-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let data = Array3::from_shape_fn((60, 60, 40), |(i, _, _)| if i < 30 { 1.0f32 } else { 0.0 });
    let p = dir.join("mask.nii.gz");
    write_nifti_volume(&p, &data, &m.affine, NiftiVersion::V1, 2, "mask").unwrap();
    let mask = mask_from_file(&p, None, &m).unwrap();
    assert_eq!(mask.iter().filter(|b| **b).count(), 30 * 60 * 40);
    // A mask on another grid is refused.
    let other = Affine::from_origin_spacing([-0.058, -0.059, -0.039], [0.002; 3]);
    write_nifti_volume(&p, &data, &other, NiftiVersion::V1, 2, "mask").unwrap();
    let err = mask_from_file(&p, None, &m).unwrap_err();
    assert!(err.to_string().contains("affine"), "{err}");
    // HDF5 mask.
    let mut mm = m.clone();
    mm.magnitude = data.clone();
    mm.magnitude[[59, 0, 0]] = 0.0;
    let ph = dir.join("mask.h5");
    write_h5_map(&ph, &mm, "mask").unwrap();
    let mask = mask_from_file(&ph, Some("mask"), &m).unwrap();
    assert_eq!(mask.iter().filter(|b| **b).count(), 30 * 60 * 40);
}
