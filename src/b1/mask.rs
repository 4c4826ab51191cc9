//! Masks for measured maps: from a file on the same grid, or from the phantom geometry minus a border.

use std::path::Path;

use ndarray::{Array3, Zip};

use super::affine::Affine;
use super::h5_io::{read_h5_map, H5MapOptions};
use super::map::{B1Map, B1Unit, RelativeScale};
use super::nifti_io::read_volume;
use super::resample::Placement;
use crate::error::{Error, Result};
use crate::grid::{Shape, ShapeKind};

/// Largest affine difference (m) still counted as the same grid (1 µm).
const SAME_GRID_TOL_M: f64 = 1e-6;

/// Reads a mask (nonzero = use) from NIfTI (`.nii`, `.nii.gz`) or HDF5 (`.h5`, `.hdf5`; dataset
/// `dataset` or the default of [`read_h5_map`]); it must lie on the grid of `map` (same shape and
/// affine within 1 µm).
pub fn mask_from_file(path: &Path, dataset: Option<&str>, map: &B1Map) -> Result<Array3<bool>> {
    let name = path.display().to_string();
    let lower = name.to_ascii_lowercase();
    let (data, affine) = if lower.ends_with(".h5") || lower.ends_with(".hdf5") {
        let m = read_h5_map(
            path,
            &H5MapOptions {
                dataset: dataset.map(String::from),
                unit: Some(B1Unit::Relative {
                    fraction_or_percent: RelativeScale::Fraction,
                }),
                frame: Some(map.frame),
                volume: None,
                ..Default::default()
            },
        )?;
        (m.magnitude, m.affine)
    } else {
        let v = read_volume(path, None)?;
        (v.data, v.affine)
    };
    if data.shape() != map.magnitude.shape() {
        return Err(Error::input(
            &name,
            "mask",
            format!(
                "mask grid {:?} differs from the map grid {:?} ({})",
                data.shape(),
                map.dims(),
                map.source
            ),
            "give a mask on the grid of the B1 map",
        ));
    }
    let diff = affine.max_abs_diff(&map.affine);
    if diff > SAME_GRID_TOL_M {
        return Err(Error::input(
            &name,
            "affine",
            format!("mask affine differs from the map's by {:.3} mm", diff * 1e3),
            "give a mask on the grid of the B1 map (same sform/qform)",
        ));
    }
    let mask = data.mapv(|v| v.is_finite() && v != 0.0);
    check_overlap(&mask, map, &name)?;
    Ok(mask)
}

/// The shape shrunk by `border_m` on every side (box faces, cylinder radius and ends, sphere radius).
pub fn eroded(shape: &Shape, border_m: f64) -> Result<Shape> {
    if !(border_m >= 0.0) || !border_m.is_finite() {
        return Err(border_error(
            shape,
            format!("border {border_m} m is negative or not finite"),
        ));
    }
    moved_faces(shape, border_m)
}

/// The shape grown by `margin_m` on every side (box faces, cylinder radius and ends, sphere radius;
/// a box's corners stay square).
pub fn dilated(shape: &Shape, margin_m: f64) -> Result<Shape> {
    if !(margin_m >= 0.0) || !margin_m.is_finite() {
        return Err(border_error(
            shape,
            format!("margin {margin_m} m is negative or not finite"),
        ));
    }
    moved_faces(shape, -margin_m)
}

fn border_error(shape: &Shape, what: String) -> Error {
    Error::input(
        &shape.name,
        "border_m",
        what,
        "use a smaller border (it is removed from every side of the phantom)",
    )
}

/// Every face moved inward by `border_m` (outward when negative).
fn moved_faces(shape: &Shape, border_m: f64) -> Result<Shape> {
    let bad = |what: String| border_error(shape, what);
    let kind = match &shape.kind {
        ShapeKind::Box { min_m, max_m } => {
            let mut lo = *min_m;
            let mut hi = *max_m;
            for a in 0..3 {
                lo[a] += border_m;
                hi[a] -= border_m;
                if !(hi[a] > lo[a]) {
                    return Err(bad(format!(
                        "border {border_m} m leaves nothing of the box along axis {a}"
                    )));
                }
            }
            ShapeKind::Box { min_m: lo, max_m: hi }
        }
        ShapeKind::Cylinder {
            axis,
            centre_m,
            radius_m,
            start_m,
            end_m,
        } => {
            let (lo, hi) = (start_m.min(*end_m) + border_m, start_m.max(*end_m) - border_m);
            let r = radius_m - border_m;
            if !(r > 0.0) || !(hi > lo) {
                return Err(bad(format!("border {border_m} m leaves nothing of the cylinder")));
            }
            ShapeKind::Cylinder {
                axis: *axis,
                centre_m: *centre_m,
                radius_m: r,
                start_m: lo,
                end_m: hi,
            }
        }
        ShapeKind::Sphere { centre_m, radius_m } => {
            let r = radius_m - border_m;
            if !(r > 0.0) {
                return Err(bad(format!("border {border_m} m leaves nothing of the sphere")));
            }
            ShapeKind::Sphere {
                centre_m: *centre_m,
                radius_m: r,
            }
        }
    };
    Ok(Shape::new(&shape.name, kind).rotated(shape.rotation.clone()))
}

/// Mask of the voxels of a grid (`dims`, voxel affine `voxel_to_world`) whose centres lie inside the
/// phantom `shape` (simulation frame) shrunk by `border_m`, with the phantom placed by `placement`
/// (world → simulation frame, then the phantom's rigid offset).
pub fn mask_from_shape_grid(
    dims: [usize; 3],
    voxel_to_world: &Affine,
    shape: &Shape,
    border_m: f64,
    placement: &Placement,
) -> Result<Array3<bool>> {
    let inner = eroded(shape, border_m)?;
    let full = placement
        .rigid
        .inverse()
        .compose(&placement.world_to_sim.compose(voxel_to_world));
    let mut mask = Array3::from_elem(dims, false);
    Zip::indexed(&mut mask).par_for_each(|(i, j, k), m| {
        *m = inner.contains(full.apply([i as f64, j as f64, k as f64]));
    });
    Ok(mask)
}

/// Mask of the map's voxels inside the phantom minus `border_m` (see [`mask_from_shape_grid`]); an
/// error when it selects no voxel with data.
pub fn mask_from_shape(map: &B1Map, shape: &Shape, border_m: f64, placement: &Placement) -> Result<Array3<bool>> {
    let mask = mask_from_shape_grid(map.dims(), &map.affine, shape, border_m, placement)?;
    check_overlap(&mask, map, &shape.name)?;
    Ok(mask)
}

fn check_overlap(mask: &Array3<bool>, map: &B1Map, name: &str) -> Result<()> {
    let n = Zip::from(mask)
        .and(&map.magnitude)
        .fold(0usize, |acc, &m, v| acc + (m && v.is_finite()) as usize);
    if n == 0 {
        return Err(Error::input(
            name,
            "mask",
            format!("the mask selects no voxel with data in {}", map.source),
            "check that the mask overlaps the phantom: its placement, the world-to-simulation transform and the border",
        ));
    }
    Ok(())
}
