//! Dosimetry: point SAR, mass-averaged SAR (IEC/IEEE 62704-1), normalisation (IEC 60601-2-33) and a
//! Pennes (1948) bioheat solver for the ASTM F2182 15-minute exposure.
//!
//! The module depends on no solver: its inputs are plain `ndarray` arrays at voxel centres, indexed
//! `[i, j, k]` with `k` (z) fastest (standard row-major layout), SI units throughout:
//!
//! * [`sar`]: point SAR `sigma |E|^2 / (2 rho)` from peak phasors, whole-phantom SAR and the 1 g / 10 g
//!   cube averages of IEC/IEEE 62704-1 with summed-volume tables (each cube sum is O(1));
//! * [`normalise`]: scale factors to a whole-phantom SAR, a B1+rms at the isocentre, an input power or an
//!   IEC 60601-2-33 operating mode;
//! * [`thermal`]: Pennes bioheat equation, cell-centred finite volumes, RKL2 super-time-stepping,
//!   probes, CEM43 and an energy budget;
//! * [`summary`]: a serde-serialisable summary for reports and the CLI;
//! * [`validation`]: the physics checks (also run by `rftwin validate` and `tests/dosimetry_*.rs`);
//! * [`bench`](mod@bench): the two speed benchmarks as library functions (for `rftwin bench` and criterion);
//! * [`io`]: material grids in HDF5, E phasors of `rftwin fdtd run` into a [`sar::SarInput`], the materials TOML
//!   and the slice panels; [`run`]: the `rftwin sar` / `rftwin heat` pipelines (file formats in its docs).

// `!(x > 0.0)` is used on purpose: it also rejects NaN. Index loops over the 3 axes read clearer.
#![allow(clippy::neg_cmp_op_on_partial_ord, clippy::needless_range_loop)]

pub mod bench;
pub mod files;
pub mod io;
pub mod normalise;
pub mod sar;
pub mod run;
pub mod summary;
pub mod thermal;
pub mod validation;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Geometry of a uniform voxel grid: voxel edge lengths per axis and the position of the outer corner of
/// voxel `[0, 0, 0]` (so the centre of voxel `[i, j, k]` is `origin + (i + 1/2, j + 1/2, k + 1/2) * size`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct VoxelGrid {
    /// Voxel edge lengths `[dx, dy, dz]` (m), each > 0.
    pub voxel_size_m: [f64; 3],
    /// Position of the low corner of voxel `[0, 0, 0]` (m).
    pub origin_m: [f64; 3],
}

impl VoxelGrid {
    /// A grid with the given voxel size (m) and its origin at 0.
    pub fn new(voxel_size_m: [f64; 3]) -> Result<Self> {
        for (a, d) in voxel_size_m.iter().enumerate() {
            if !(*d > 0.0) || !d.is_finite() {
                return Err(Error::input(
                    "dosimetry grid",
                    &format!("voxel_size_m[{a}]"),
                    format!("voxel size {d} m is not positive and finite"),
                    "give the uniform voxel edge length of each axis in metres, e.g. 0.001",
                ));
            }
        }
        Ok(Self {
            voxel_size_m,
            origin_m: [0.0; 3],
        })
    }

    /// The same grid with its origin moved to `origin_m` (m).
    pub fn with_origin(mut self, origin_m: [f64; 3]) -> Self {
        self.origin_m = origin_m;
        self
    }

    /// Volume of one voxel (m^3).
    pub fn voxel_volume_m3(&self) -> f64 {
        self.voxel_size_m[0] * self.voxel_size_m[1] * self.voxel_size_m[2]
    }

    /// Centre of voxel `idx` (m).
    pub fn centre_m(&self, idx: [usize; 3]) -> [f64; 3] {
        std::array::from_fn(|a| self.origin_m[a] + (idx[a] as f64 + 0.5) * self.voxel_size_m[a])
    }
}

/// Checks that `a` has shape `dims`, naming the array in the error.
pub(crate) fn check_shape(source: &str, key: &str, shape: &[usize], dims: [usize; 3]) -> Result<()> {
    if shape != dims {
        return Err(Error::input(
            source,
            key,
            format!("array shape {shape:?} differs from the grid shape {dims:?}"),
            "give every per-voxel array on the same [nx, ny, nz] voxel grid",
        ));
    }
    if dims.contains(&0) {
        return Err(Error::input(
            source,
            key,
            "the grid has an axis with zero voxels",
            "give at least one voxel per axis",
        ));
    }
    Ok(())
}
