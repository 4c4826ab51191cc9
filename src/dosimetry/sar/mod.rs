//! Point SAR, whole-phantom SAR and mass-averaged (1 g / 10 g) SAR following IEC/IEEE 62704-1:2017.
//!
//! # Point SAR
//! From peak phasors `E` (V/m) at voxel centres: `SAR = sigma |E|^2 / (2 rho)` (W/kg), with
//! `|E|^2 = |Ex|^2 + |Ey|^2 + |Ez|^2`. The loss density `p = sigma |E|^2 / 2` (W/m^3) is what the
//! averaging and the bioheat solver use; voxels with `rho = 0` are background (air) and carry no SAR.
//!
//! # Mass-averaged SAR (IEC/IEEE 62704-1, as implemented by openEMS `IEEE_62704`)
//! * For every tissue voxel a cube centred on the voxel centre is grown until it holds the target mass.
//!   The cube faces may cut voxels; a cut voxel counts with the fraction of its volume inside the cube.
//!   The mass is solved exactly (to rounding); a cube stopped by the domain edge counts as reaching the
//!   mass when within the standard's relative tolerance of 1e-6 ([`MASS_TOLERANCE`]).
//! * The cube is *valid* when it lies inside the computational domain, each of its six faces touches at
//!   least one tissue voxel (its outermost layer on that side holds tissue), and its background (air)
//!   volume is at most 10 % of the cube volume. A valid cube's average `sum(p dV) / sum(rho dV)` is the
//!   voxel's averaged SAR.
//! * Tissue voxels that are not valid centres but lie entirely (not partially) inside at least one valid
//!   cube are *used*: they take the largest average of the valid cubes that contain them.
//! * The remaining tissue voxels are *unused*: for each, six cubes are grown with the voxel at the centre of
//!   one face (one per direction), ignoring the face and air rules; among those that reach the target mass,
//!   the voxel takes the largest average of the cubes whose (in-domain) volume is at most 1.05 times the
//!   smallest one. If none reaches the target mass the voxel is reported as *unassigned* (SAR 0).
//! * The peak spatial-average SAR is the largest averaged SAR, reported with its voxel.
//!
//! # Speed: summed-volume tables and exact cubic solves
//! Along each axis the weight of a voxel in a cube of edge `L` is `(1 - f) 1_A + f 1_B` with `A` the fully
//! covered index range, `B = A` plus the cut layer(s) and `f` linear in `L` between breakpoints (where a cut
//! layer becomes full). The cube sum is therefore a sum of 8 box sums, each O(1) from a summed-volume table
//! of `[mass, power, tissue volume]`, and between breakpoints the mass is a cubic polynomial in `L` whose
//! root is found by safeguarded Newton. A cube costs about 8 box sums when the neighbouring voxel's edge
//! is a good start (the usual case). "Used" voxels take a separable running maximum (one per distinct
//! fully-covered half-width) instead of visiting every cube's voxels. Work is split over `i` planes with
//! rayon; every reduction runs in a fixed order, so results do not depend on the number of threads.
//!
//! [`mass_averaged_sar_reference`] is a direct, slow implementation of the same rules (explicit voxel
//! loops and bisection on the cube edge) used only to validate the fast path.

use std::collections::{BTreeMap, VecDeque};

use ndarray::{s, Array3, ArrayViewMut1, Axis, Zip};
use num_complex::Complex;
use rayon::prelude::*;
use serde::Serialize;

use super::{check_shape, VoxelGrid};
use crate::error::{Error, Result};

mod cube;
mod averaging;
mod reference;
mod truncated;

use cube::*;
pub use averaging::*;
pub use reference::*;
pub use truncated::*;

/// Largest allowed background (air) volume fraction of a valid averaging cube (IEC/IEEE 62704-1: 10 %).
pub const MAX_AIR_FRACTION: f64 = 0.1;
/// Unused-voxel rule: candidate cubes with volume up to this factor times the smallest one are compared.
pub const UNUSED_VOLUME_FACTOR: f64 = 1.05;
/// Averaging masses of the standard (kg).
pub const MASS_1G_KG: f64 = 1e-3;
/// 10 g averaging mass (kg).
pub const MASS_10G_KG: f64 = 10e-3;
/// Relative mass tolerance of IEC/IEEE 62704-1 (as in openEMS `IEEE_62704`): a cube whose growth is
/// stopped by its edge limit still counts as reaching the target mass if it is within this of it.
pub const MASS_TOLERANCE: f64 = 1e-6;
/// Cut-voxel fractions below this (or above `1 - SNAP`) are treated as 0 (or 1): keeps the face and
/// "fully inside" decisions from depending on rounding when a face lies on a voxel boundary.
const SNAP: f64 = 1e-9;

/// Loss density, density and geometry of one field solution: the input to every SAR computation.
#[derive(Clone, Debug)]
pub struct SarInput {
    power_density_w_per_m3: Array3<f32>,
    density_kg_per_m3: Array3<f32>,
    grid: VoxelGrid,
    source_name: String,
}

/// Checks a per-voxel material array: finite and >= 0.
fn check_nonneg(source: &str, key: &str, a: &Array3<f32>, fix: &str) -> Result<()> {
    if let Some((idx, v)) = a.indexed_iter().find(|(_, v)| !(v.is_finite() && **v >= 0.0)) {
        return Err(Error::input(
            source,
            &format!("{key}[{}, {}, {}]", idx.0, idx.1, idx.2),
            format!("value {v} is negative or not finite"),
            fix,
        ));
    }
    Ok(())
}

impl SarInput {
    /// From peak E phasors `[Ex, Ey, Ez]` (V/m) at voxel centres, conductivity (S/m) and density
    /// (kg/m^3, 0 = air/background). `source_name` (e.g. the field file) is used in error messages.
    ///
    /// Errors: shape mismatch, NaN/Inf field values, negative or non-finite conductivity or density,
    /// and conducting voxels (`sigma > 0`) with zero density (SAR is asked there but undefined).
    pub fn from_phasors(
        source_name: &str,
        e_peak_v_per_m: [&Array3<Complex<f32>>; 3],
        sigma_s_per_m: &Array3<f32>,
        density_kg_per_m3: Array3<f32>,
        grid: VoxelGrid,
    ) -> Result<Self> {
        let dims: [usize; 3] = density_kg_per_m3.dim().into();
        for (c, e) in e_peak_v_per_m.iter().enumerate() {
            let name = ["Ex", "Ey", "Ez"][c];
            check_shape(source_name, name, e.shape(), dims)?;
            if let Some((idx, v)) = e.indexed_iter().find(|(_, v)| !(v.re.is_finite() && v.im.is_finite())) {
                return Err(Error::input(
                    source_name,
                    &format!("{name}[{}, {}, {}]", idx.0, idx.1, idx.2),
                    format!("field value {v} is NaN or infinite"),
                    "recompute or repair the field solution (a diverged FDTD run gives NaN)",
                ));
            }
        }
        let [ex, ey, ez] = e_peak_v_per_m;
        let mut e_sq = Array3::<f32>::zeros(dims);
        Zip::from(&mut e_sq).and(ex).and(ey).and(ez).par_for_each(|o, x, y, z| {
            *o = (x.norm_sqr() as f64 + y.norm_sqr() as f64 + z.norm_sqr() as f64) as f32;
        });
        Self::from_e_squared(source_name, &e_sq, sigma_s_per_m, density_kg_per_m3, grid)
    }

    /// From `|E_peak|^2` (V^2/m^2, summed over the three components) instead of phasors.
    pub fn from_e_squared(
        source_name: &str,
        e_sq_v2_per_m2: &Array3<f32>,
        sigma_s_per_m: &Array3<f32>,
        density_kg_per_m3: Array3<f32>,
        grid: VoxelGrid,
    ) -> Result<Self> {
        let dims: [usize; 3] = density_kg_per_m3.dim().into();
        check_shape(source_name, "density_kg_per_m3", density_kg_per_m3.shape(), dims)?;
        check_shape(source_name, "sigma_s_per_m", sigma_s_per_m.shape(), dims)?;
        check_shape(source_name, "e_squared", e_sq_v2_per_m2.shape(), dims)?;
        check_nonneg(
            source_name,
            "e_squared",
            e_sq_v2_per_m2,
            "recompute or repair the field solution (a diverged FDTD run gives NaN)",
        )?;
        check_nonneg(
            source_name,
            "sigma_s_per_m",
            sigma_s_per_m,
            "give a conductivity >= 0 S/m for every material",
        )?;
        check_nonneg(
            source_name,
            "density_kg_per_m3",
            &density_kg_per_m3,
            "give a density >= 0 kg/m^3 for every material (0 for air)",
        )?;
        let bad = Zip::indexed(sigma_s_per_m).and(&density_kg_per_m3).fold(
            None,
            |acc: Option<(usize, usize, usize)>, idx, s, r| {
                acc.or(if *s > 0.0 && *r == 0.0 { Some(idx) } else { None })
            },
        );
        if let Some(idx) = bad {
            return Err(Error::input(
                source_name,
                &format!("density_kg_per_m3[{}, {}, {}]", idx.0, idx.1, idx.2),
                format!(
                    "zero density in a conducting voxel (sigma = {} S/m): SAR is undefined there",
                    sigma_s_per_m[idx]
                ),
                "give that material its mass density, or set its conductivity to 0 if it is not part of the phantom",
            ));
        }
        let mut p = Array3::<f32>::zeros(dims);
        Zip::from(&mut p)
            .and(e_sq_v2_per_m2)
            .and(sigma_s_per_m)
            .par_for_each(|p, e, s| *p = (0.5 * *s as f64 * *e as f64) as f32);
        Ok(Self {
            power_density_w_per_m3: p,
            density_kg_per_m3,
            grid,
            source_name: source_name.into(),
        })
    }

    /// Directly from a loss density `p = sigma |E|^2 / 2` (W/m^3) and density (kg/m^3).
    pub fn from_power_density(
        source_name: &str,
        power_density_w_per_m3: Array3<f32>,
        density_kg_per_m3: Array3<f32>,
        grid: VoxelGrid,
    ) -> Result<Self> {
        let dims: [usize; 3] = density_kg_per_m3.dim().into();
        check_shape(source_name, "density_kg_per_m3", density_kg_per_m3.shape(), dims)?;
        check_shape(
            source_name,
            "power_density_w_per_m3",
            power_density_w_per_m3.shape(),
            dims,
        )?;
        check_nonneg(
            source_name,
            "power_density_w_per_m3",
            &power_density_w_per_m3,
            "give a loss density >= 0 W/m^3 (NaN means a broken field file)",
        )?;
        check_nonneg(
            source_name,
            "density_kg_per_m3",
            &density_kg_per_m3,
            "give a density >= 0 kg/m^3 for every material (0 for air)",
        )?;
        if let Some(((i, j, k), p)) = Zip::indexed(&power_density_w_per_m3)
            .and(&density_kg_per_m3)
            .fold(None, |acc, idx, p, r| {
                acc.or(if *p > 0.0 && *r == 0.0 { Some((idx, *p)) } else { None })
            })
        {
            return Err(Error::input(
                source_name,
                &format!("density_kg_per_m3[{i}, {j}, {k}]"),
                format!("zero density where power ({p} W/m^3) is absorbed: SAR is undefined there"),
                "give that material its mass density, or exclude it from the loss density",
            ));
        }
        Ok(Self {
            power_density_w_per_m3,
            density_kg_per_m3,
            grid,
            source_name: source_name.into(),
        })
    }

    /// Grid shape `[nx, ny, nz]`.
    pub fn dims(&self) -> [usize; 3] {
        self.density_kg_per_m3.dim().into()
    }
    /// Voxel geometry.
    pub fn grid(&self) -> &VoxelGrid {
        &self.grid
    }
    /// Name used in error messages (usually the field file).
    pub fn source_name(&self) -> &str {
        &self.source_name
    }
    /// Loss density `sigma |E|^2 / 2` (W/m^3).
    pub fn power_density_w_per_m3(&self) -> &Array3<f32> {
        &self.power_density_w_per_m3
    }
    /// Mass density (kg/m^3; 0 = air).
    pub fn density_kg_per_m3(&self) -> &Array3<f32> {
        &self.density_kg_per_m3
    }
    /// The same solution with all powers multiplied by `power_factor` (fields by its square root), as
    /// returned by [`crate::dosimetry::normalise::Normalisation::power_factor`].
    pub fn scaled(&self, power_factor: f64) -> Result<Self> {
        if !(power_factor >= 0.0) || !power_factor.is_finite() {
            return Err(Error::input(
                &self.source_name,
                "power_factor",
                format!("scale factor {power_factor} is negative or not finite"),
                "normalise to a positive, finite target",
            ));
        }
        let mut out = self.clone();
        out.power_density_w_per_m3
            .par_mapv_inplace(|p| (p as f64 * power_factor) as f32);
        Ok(out)
    }
}

/// Point SAR `p / rho` (W/kg) per voxel; 0 in air (`rho = 0`).
pub fn point_sar(input: &SarInput) -> Array3<f32> {
    let mut out = Array3::<f32>::zeros(input.dims());
    Zip::from(&mut out)
        .and(&input.power_density_w_per_m3)
        .and(&input.density_kg_per_m3)
        .par_for_each(|o, p, r| {
            *o = if *r > 0.0 { (*p as f64 / *r as f64) as f32 } else { 0.0 };
        });
    out
}

/// Whole-phantom quantities of one field solution.
#[derive(Clone, Debug, Serialize)]
pub struct WholePhantomSar {
    /// Total mass of all voxels with `rho > 0` (kg).
    pub total_mass_kg: f64,
    /// Power absorbed in those voxels (W).
    pub absorbed_power_w: f64,
    /// Whole-phantom (whole-body) SAR = absorbed power / total mass (W/kg).
    pub sar_w_per_kg: f64,
    /// Largest point SAR (W/kg) and its voxel and position (first in index order on ties).
    pub peak_point_sar_w_per_kg: f64,
    pub peak_point_index: [usize; 3],
    pub peak_point_position_m: [f64; 3],
}

/// Whole-phantom SAR, absorbed power, mass and the peak point SAR. Sums run plane by plane in a fixed
/// order (deterministic for any thread count).
pub fn whole_phantom_sar(input: &SarInput) -> Result<WholePhantomSar> {
    let dv = input.grid.voxel_volume_m3();
    let planes: Vec<(f64, f64, f64, [usize; 3])> = (0..input.dims()[0])
        .into_par_iter()
        .map(|i| {
            let (mut m, mut pw, mut best, mut bi) = (0.0f64, 0.0f64, -1.0f64, [i, 0, 0]);
            let pd = input.power_density_w_per_m3.index_axis(Axis(0), i);
            let rho = input.density_kg_per_m3.index_axis(Axis(0), i);
            for ((j, k), r) in rho.indexed_iter() {
                if *r > 0.0 {
                    let p = pd[[j, k]] as f64;
                    m += *r as f64 * dv;
                    pw += p * dv;
                    let sar = p / *r as f64;
                    if sar > best {
                        best = sar;
                        bi = [i, j, k];
                    }
                }
            }
            (m, pw, best, bi)
        })
        .collect();
    let (mut m, mut pw, mut best, mut bi) = (0.0, 0.0, -1.0, [0, 0, 0]);
    for (pm, ppw, pb, pbi) in planes {
        m += pm;
        pw += ppw;
        if pb > best {
            best = pb;
            bi = pbi;
        }
    }
    if !(m > 0.0) {
        return Err(Error::input(
            &input.source_name,
            "density_kg_per_m3",
            "no voxel has a positive density (the phantom is empty)",
            "give the phantom materials their densities",
        ));
    }
    Ok(WholePhantomSar {
        total_mass_kg: m,
        absorbed_power_w: pw,
        sar_w_per_kg: pw / m,
        peak_point_sar_w_per_kg: best.max(0.0),
        peak_point_index: bi,
        peak_point_position_m: input.grid.centre_m(bi),
    })
}

/// Outcome of the averaging for one voxel (stored as `u8` in [`AveragedSar::status`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[repr(u8)]
pub enum VoxelStatus {
    /// Background (`rho = 0`): SAR 0.
    Air = 0,
    /// Centre of a valid cube.
    Valid = 1,
    /// Not a valid centre but fully inside a valid cube: largest average of those cubes.
    Used = 2,
    /// Neither: assigned from the six face-anchored cubes.
    Unused = 3,
    /// Unused and none of the six face-anchored cubes reached the target mass (SAR 0).
    Unassigned = 4,
    /// Not evaluated: the voxel's centred cube would cross a face of a box cut out of a larger body
    /// (SAR NaN; [`mass_averaged_sar_in_cut_box`]).
    Truncated = 5,
}

impl VoxelStatus {
    /// Decodes a status byte of [`AveragedSar::status`].
    pub fn from_u8(v: u8) -> Option<Self> {
        [Self::Air, Self::Valid, Self::Used, Self::Unused, Self::Unassigned, Self::Truncated]
            .get(v as usize)
            .copied()
    }
}

/// How many voxels ended in each [`VoxelStatus`] (they add up to the grid size).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VoxelCounts {
    pub air: usize,
    pub valid: usize,
    pub used: usize,
    pub unused: usize,
    pub unassigned: usize,
    /// Not evaluated on a box cut out of a larger body ([`mass_averaged_sar_in_cut_box`]).
    pub truncated: usize,
}

/// Peak spatial-average SAR and where it is.
#[derive(Clone, Debug, Serialize)]
pub struct PeakSar {
    /// Peak mass-averaged SAR (W/kg).
    pub sar_w_per_kg: f64,
    /// Voxel whose cube gives the peak (a valid centre or an unused voxel; first in index order on ties).
    pub index: [usize; 3],
    /// Centre of that voxel (m).
    pub position_m: [f64; 3],
    /// Status of that voxel (`Valid` or `Unused`).
    pub status: VoxelStatus,
}

/// Mass-averaged SAR map and its statistics.
#[derive(Clone, Debug)]
pub struct AveragedSar {
    /// Averaging mass (kg).
    pub mass_kg: f64,
    /// Averaged SAR per voxel (W/kg); 0 in air.
    pub sar_w_per_kg: Array3<f32>,
    /// [`VoxelStatus`] per voxel, as `u8`.
    pub status: Array3<u8>,
    pub counts: VoxelCounts,
    pub peak: PeakSar,
}

