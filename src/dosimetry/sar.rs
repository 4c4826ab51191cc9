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
}

impl VoxelStatus {
    /// Decodes a status byte of [`AveragedSar::status`].
    pub fn from_u8(v: u8) -> Option<Self> {
        [Self::Air, Self::Valid, Self::Used, Self::Unused, Self::Unassigned]
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

// ---------------------------------------------------------------------------------------------------
// Cube geometry along one axis.

/// How a cube sits along one axis relative to its voxel `c`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AxisMode {
    /// Centred on the voxel centre.
    Centred,
    /// Low face on the voxel's low face, growing towards +axis.
    GrowUp,
    /// High face on the voxel's high face, growing towards -axis.
    GrowDown,
}

/// Inclusive index range, empty when `lo > hi`.
type Range = (isize, isize);

/// One piece of the axis weight between two breakpoints: weight = `(1 - f) 1_inner + f 1_outer`,
/// `f = p + q L`, valid for `L` in `[start, next]`.
#[derive(Clone, Copy, Debug)]
struct AxisSeg {
    inner: Range,
    outer: Range,
    p: f64,
    q: f64,
    start: f64,
    next: f64,
}

impl AxisSeg {
    fn frac(&self, l: f64) -> f64 {
        let f = (self.p + self.q * l).clamp(0.0, 1.0);
        if f < SNAP {
            0.0
        } else if f > 1.0 - SNAP {
            1.0
        } else {
            f
        }
    }
}

fn seg_bounds(mode: AxisMode, n: isize, d: f64) -> (f64, f64) {
    match mode {
        AxisMode::Centred => (
            if n == 0 { 0.0 } else { (2 * n - 1) as f64 * d },
            (2 * n + 1) as f64 * d,
        ),
        _ => (n as f64 * d, (n + 1) as f64 * d),
    }
}

/// Segment of the axis weight containing edge `l`; on a breakpoint, `above` picks the segment starting there.
fn axis_seg(mode: AxisMode, c: isize, d: f64, l: f64, above: bool) -> AxisSeg {
    let mut n = match mode {
        AxisMode::Centred => ((l / d + 1.0) / 2.0).floor().max(0.0) as isize,
        _ => (l / d).floor().max(0.0) as isize,
    };
    loop {
        let (s, e) = seg_bounds(mode, n, d);
        if n > 0 && (s > l || (!above && s >= l)) {
            n -= 1;
        } else if e < l || (above && e <= l) {
            n += 1;
        } else {
            break;
        }
    }
    let (start, next) = seg_bounds(mode, n, d);
    let (inner, outer, p, q) = match mode {
        AxisMode::Centred if n == 0 => ((c, c - 1), (c, c), 0.0, 1.0 / d),
        AxisMode::Centred => (
            (c - n + 1, c + n - 1),
            (c - n, c + n),
            -((2 * n - 1) as f64) / 2.0,
            1.0 / (2.0 * d),
        ),
        AxisMode::GrowUp => ((c, c + n - 1), (c, c + n), -(n as f64), 1.0 / d),
        AxisMode::GrowDown => ((c - n + 1, c), (c - n, c), -(n as f64), 1.0 / d),
    };
    AxisSeg {
        inner,
        outer,
        p,
        q,
        start,
        next,
    }
}

fn range_len_in(r: Range, n: usize) -> f64 {
    let lo = r.0.max(0);
    let hi = r.1.min(n as isize - 1);
    if lo > hi {
        0.0
    } else {
        (hi - lo + 1) as f64
    }
}

fn range_empty(r: Range) -> bool {
    r.0 > r.1
}

/// A cube to average over: anchor voxel and the mode along each axis.
#[derive(Clone, Copy, Debug)]
struct CubeSpec {
    c: [isize; 3],
    modes: [AxisMode; 3],
}

impl CubeSpec {
    fn centred(c: [usize; 3]) -> Self {
        Self {
            c: c.map(|v| v as isize),
            modes: [AxisMode::Centred; 3],
        }
    }
    /// Face-anchored cube `dir` in 0..6: axis `dir / 2`, growing up (even) or down (odd).
    fn face(c: [usize; 3], dir: usize) -> Self {
        let mut modes = [AxisMode::Centred; 3];
        modes[dir / 2] = if dir.is_multiple_of(2) {
            AxisMode::GrowUp
        } else {
            AxisMode::GrowDown
        };
        Self {
            c: c.map(|v| v as isize),
            modes,
        }
    }
}

/// Largest edge for which the cube stays inside the domain (centred) or covers all of it (face cubes).
fn edge_cap(spec: &CubeSpec, dims: [usize; 3], d: [f64; 3]) -> f64 {
    let centred = spec.modes.iter().all(|m| *m == AxisMode::Centred);
    let per_axis = (0..3).map(|a| {
        let c = spec.c[a];
        let n = dims[a] as isize;
        match spec.modes[a] {
            AxisMode::Centred if centred => (2 * c.min(n - 1 - c) + 1) as f64 * d[a],
            AxisMode::Centred => (2 * c.max(n - 1 - c) + 1) as f64 * d[a],
            AxisMode::GrowUp => (n - c) as f64 * d[a],
            AxisMode::GrowDown => (c + 1) as f64 * d[a],
        }
    });
    if centred {
        per_axis.fold(f64::INFINITY, f64::min)
    } else {
        per_axis.fold(0.0, f64::max)
    }
}

// ---------------------------------------------------------------------------------------------------
// Summed-volume table.

/// Summed-volume table of `[mass (kg), power (W), tissue volume (m^3)]`:
/// `S[i][j][k]` = sum over voxels `[0, i) x [0, j) x [0, k)`.
struct Svt {
    dims: [usize; 3],
    ny1: usize,
    nz1: usize,
    data: Vec<[f64; 3]>,
}

impl Svt {
    fn build(input: &SarInput) -> Self {
        let [nx, ny, nz] = input.dims();
        let (ny1, nz1) = (ny + 1, nz + 1);
        let plane = ny1 * nz1;
        let dv = input.grid.voxel_volume_m3();
        let mut data = vec![[0.0f64; 3]; (nx + 1) * plane];
        // Fill planes 1..=nx with the voxel values, prefix-summed along k then j (per plane, in parallel).
        data[plane..].par_chunks_mut(plane).enumerate().for_each(|(i, pl)| {
            let rho = input.density_kg_per_m3.index_axis(Axis(0), i);
            let pd = input.power_density_w_per_m3.index_axis(Axis(0), i);
            for j in 0..ny {
                let mut acc = [0.0f64; 3];
                for k in 0..nz {
                    let r = rho[[j, k]] as f64;
                    acc[0] += r * dv;
                    acc[1] += pd[[j, k]] as f64 * dv;
                    acc[2] += if r > 0.0 { dv } else { 0.0 };
                    pl[(j + 1) * nz1 + k + 1] = acc;
                }
            }
            for j in 1..=ny {
                for k in 0..nz1 {
                    let prev = pl[(j - 1) * nz1 + k];
                    let cur = &mut pl[j * nz1 + k];
                    for c in 0..3 {
                        cur[c] += prev[c];
                    }
                }
            }
        });
        // Prefix along i: sequential over planes, parallel within a plane (element-wise, fixed order).
        for i in 1..=nx {
            let (before, after) = data.split_at_mut(i * plane);
            let prev = &before[(i - 1) * plane..];
            after[..plane]
                .par_chunks_mut(nz1)
                .zip(prev.par_chunks(nz1))
                .for_each(|(cur, prev)| {
                    for (c, p) in cur.iter_mut().zip(prev) {
                        for q in 0..3 {
                            c[q] += p[q];
                        }
                    }
                });
        }
        Self {
            dims: [nx, ny, nz],
            ny1,
            nz1,
            data,
        }
    }

    #[inline]
    fn at(&self, i: usize, j: usize, k: usize) -> &[f64; 3] {
        &self.data[(i * self.ny1 + j) * self.nz1 + k]
    }

    /// Sum over the inclusive voxel ranges, clamped to the domain; zero if empty.
    #[inline]
    fn box_sum(&self, r: [Range; 3]) -> [f64; 3] {
        let mut lo = [0usize; 3];
        let mut hi = [0usize; 3];
        for a in 0..3 {
            let l = r[a].0.max(0);
            let h = r[a].1.min(self.dims[a] as isize - 1);
            if l > h {
                return [0.0; 3];
            }
            lo[a] = l as usize;
            hi[a] = h as usize + 1;
        }
        let (i0, j0, k0) = (lo[0], lo[1], lo[2]);
        let (i1, j1, k1) = (hi[0], hi[1], hi[2]);
        let mut out = [0.0; 3];
        let t = [
            (self.at(i1, j1, k1), 1.0),
            (self.at(i0, j1, k1), -1.0),
            (self.at(i1, j0, k1), -1.0),
            (self.at(i1, j1, k0), -1.0),
            (self.at(i0, j0, k1), 1.0),
            (self.at(i0, j1, k0), 1.0),
            (self.at(i1, j0, k0), 1.0),
            (self.at(i0, j0, k0), -1.0),
        ];
        for (v, s) in t {
            for c in 0..3 {
                out[c] += s * v[c];
            }
        }
        out
    }
}

// ---------------------------------------------------------------------------------------------------
// Fast cube solver.

/// A cube of the target mass: its edge, axis pieces and the resulting weighted sums.
struct SolvedCube {
    /// `[mass, power, tissue volume]` weighted by the cut fractions.
    sums: [f64; 3],
    /// Cut fraction per axis at the solved edge.
    f: [f64; 3],
    segs: [AxisSeg; 3],
    edge_m: f64,
}

impl SolvedCube {
    /// Range of voxels with positive weight along axis `a`.
    fn positive(&self, a: usize) -> Range {
        if self.f[a] > 0.0 {
            self.segs[a].outer
        } else {
            self.segs[a].inner
        }
    }
    /// Range of fully covered voxels along axis `a`.
    fn full(&self, a: usize) -> Range {
        if self.f[a] >= 1.0 {
            self.segs[a].outer
        } else {
            self.segs[a].inner
        }
    }
    /// In-domain cube volume (m^3).
    fn volume_in_domain(&self, dims: [usize; 3], d: [f64; 3]) -> f64 {
        (0..3)
            .map(|a| {
                let s = &self.segs[a];
                ((1.0 - self.f[a]) * range_len_in(s.inner, dims[a]) + self.f[a] * range_len_in(s.outer, dims[a])) * d[a]
            })
            .product()
    }
}

struct Averager<'a> {
    svt: &'a Svt,
    dims: [usize; 3],
    d: [f64; 3],
}

impl Averager<'_> {
    fn segs(&self, spec: &CubeSpec, l: f64, above: bool) -> [AxisSeg; 3] {
        std::array::from_fn(|a| axis_seg(spec.modes[a], spec.c[a], self.d[a], l, above))
    }

    /// The 8 box sums `[choice_x][choice_y][choice_z]` (0 = inner, 1 = outer).
    fn boxes(&self, segs: &[AxisSeg; 3]) -> [[f64; 3]; 8] {
        let mut out = [[0.0; 3]; 8];
        for (n, o) in out.iter_mut().enumerate() {
            let r: [Range; 3] = std::array::from_fn(|a| {
                if (n >> (2 - a)) & 1 == 0 {
                    segs[a].inner
                } else {
                    segs[a].outer
                }
            });
            if r.iter().any(|r| range_empty(*r)) {
                continue;
            }
            *o = self.svt.box_sum(r);
        }
        out
    }

    /// Mass as a cubic in the edge `L` on the segment: coefficients `[c0, c1, c2, c3]`.
    fn mass_poly(segs: &[AxisSeg; 3], boxes: &[[f64; 3]; 8]) -> [f64; 4] {
        let mut poly = [0.0; 4];
        for (n, b) in boxes.iter().enumerate() {
            if b[0] == 0.0 {
                continue;
            }
            let mut acc = [b[0], 0.0, 0.0, 0.0];
            for a in 0..3 {
                let s = &segs[a];
                // inner coefficient (1 - f) = (1 - p) - q L ; outer coefficient f = p + q L
                let (c0, c1) = if (n >> (2 - a)) & 1 == 0 {
                    (1.0 - s.p, -s.q)
                } else {
                    (s.p, s.q)
                };
                let mut next = [0.0; 4];
                for k in 0..3 {
                    next[k] += acc[k] * c0;
                    next[k + 1] += acc[k] * c1;
                }
                acc = next;
            }
            for k in 0..4 {
                poly[k] += acc[k];
            }
        }
        poly
    }

    fn eval(poly: &[f64; 4], l: f64) -> f64 {
        ((poly[3] * l + poly[2]) * l + poly[1]) * l + poly[0]
    }

    /// Weighted `[mass, power, tissue]` at edge `l` with fractions `f`.
    fn weighted(boxes: &[[f64; 3]; 8], f: &[f64; 3]) -> [f64; 3] {
        let mut out = [0.0; 3];
        for (n, b) in boxes.iter().enumerate() {
            let w: f64 = (0..3)
                .map(|a| if (n >> (2 - a)) & 1 == 0 { 1.0 - f[a] } else { f[a] })
                .product();
            if w != 0.0 {
                for c in 0..3 {
                    out[c] += w * b[c];
                }
            }
        }
        out
    }

    /// Grows the cube `spec` to `target` kg starting from edge `guess`; `None` if it cannot reach the
    /// target mass with an edge up to `cap`.
    fn solve(&self, spec: &CubeSpec, target: f64, guess: f64, cap: f64) -> Option<SolvedCube> {
        let mut l = guess.min(cap);
        let mut above = true;
        let mut jumps = 0;
        // last walk across a breakpoint: (moved up?, breakpoint). Walking back across the same breakpoint
        // means the root is on it (the two neighbouring cubics round differently there).
        let mut last: Option<(bool, f64)> = None;
        let done = |segs: [AxisSeg; 3], boxes: &[[f64; 3]; 8], x: f64| {
            let f: [f64; 3] = std::array::from_fn(|ax| segs[ax].frac(x));
            SolvedCube {
                sums: Self::weighted(boxes, &f),
                f,
                segs,
                edge_m: x,
            }
        };
        for _ in 0..100_000 {
            let segs = self.segs(spec, l, above);
            let lo_b = segs.iter().map(|s| s.start).fold(0.0, f64::max);
            let hi_b = segs.iter().map(|s| s.next).fold(f64::INFINITY, f64::min).min(cap);
            let boxes = self.boxes(&segs);
            let poly = Self::mass_poly(&segs, &boxes);
            let m_lo = Self::eval(&poly, lo_b);
            let m_hi = Self::eval(&poly, hi_b);
            if target < m_lo {
                // root lies below this segment
                if last == Some((true, lo_b)) {
                    return Some(done(segs, &boxes, lo_b));
                }
                if jumps < 8 && m_lo > 1.2 * target {
                    jumps += 1;
                    l = lo_b * (target / m_lo).cbrt();
                    above = true;
                    last = None;
                } else {
                    l = lo_b;
                    above = false;
                    last = Some((false, lo_b));
                }
                continue;
            }
            if target > m_hi {
                if hi_b >= cap {
                    return (m_hi >= target * (1.0 - MASS_TOLERANCE)).then(|| done(segs, &boxes, cap));
                }
                if last == Some((false, hi_b)) {
                    return Some(done(segs, &boxes, hi_b));
                }
                if jumps < 8 && m_hi > 0.0 && m_hi < target / 1.2 {
                    jumps += 1;
                    l = (hi_b * (target / m_hi).cbrt()).min(cap);
                    above = l < cap;
                    last = None;
                } else {
                    l = hi_b;
                    above = true;
                    last = Some((true, hi_b));
                }
                continue;
            }
            // root in [lo_b, hi_b]: safeguarded Newton on the cubic (monotone non-decreasing here)
            let (mut a, mut b) = (lo_b, hi_b);
            let mut x = if m_hi > m_lo {
                a + (target - m_lo) / (m_hi - m_lo) * (b - a)
            } else {
                a
            };
            for _ in 0..200 {
                let fx = Self::eval(&poly, x) - target;
                if fx == 0.0 {
                    break;
                }
                if fx < 0.0 {
                    a = x;
                } else {
                    b = x;
                }
                let dfx = (3.0 * poly[3] * x + 2.0 * poly[2]) * x + poly[1];
                let mut xn = if dfx > 0.0 { x - fx / dfx } else { f64::NAN };
                if !(xn > a && xn < b) {
                    xn = 0.5 * (a + b);
                }
                if (xn - x).abs() <= 1e-15 * x.abs() || b - a <= 1e-15 * b {
                    x = xn;
                    break;
                }
                x = xn;
            }
            return Some(done(segs, &boxes, x));
        }
        None
    }

    /// IEC/IEEE 62704-1 validity of a solved centred cube: inside the domain, tissue on every face,
    /// air fraction at most 10 %.
    fn is_valid(&self, cube: &SolvedCube) -> bool {
        let pos: [Range; 3] = std::array::from_fn(|a| cube.positive(a));
        for a in 0..3 {
            if pos[a].0 < 0 || pos[a].1 > self.dims[a] as isize - 1 {
                return false;
            }
        }
        let vol = cube.volume_in_domain(self.dims, self.d);
        let air = vol - cube.sums[2];
        if air > MAX_AIR_FRACTION * vol {
            return false;
        }
        // No air voxel with positive weight -> every face layer is tissue.
        let dv = self.d[0] * self.d[1] * self.d[2];
        let w_min: f64 = cube.f.iter().map(|f| if *f > 0.0 { f.min(1.0) } else { 1.0 }).product();
        if air < 0.5 * w_min * dv {
            return true;
        }
        for a in 0..3 {
            for layer in [pos[a].0, pos[a].1] {
                let mut r = pos;
                r[a] = (layer, layer);
                // tissue volume is a multiple of dv: compare with dv / 2, not 0 (table differences round)
                if !(self.svt.box_sum(r)[2] > 0.5 * dv) {
                    return false;
                }
            }
        }
        true
    }

    /// Averaged SAR for an unused voxel from its six face-anchored cubes; `None` if none reaches the mass.
    fn unused_sar(&self, c: [usize; 3], target: f64, rho: f64) -> Option<f64> {
        let mut cands: Vec<(f64, f64)> = Vec::with_capacity(6);
        for dir in 0..6 {
            let spec = CubeSpec::face(c, dir);
            let cap = edge_cap(&spec, self.dims, self.d);
            if let Some(cube) = self.solve(&spec, target, (target / rho).cbrt(), cap) {
                if cube.sums[0] > 0.0 {
                    cands.push((cube.volume_in_domain(self.dims, self.d), cube.sums[1] / cube.sums[0]));
                }
            }
        }
        let vmin = cands.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        cands
            .iter()
            .filter(|c| c.0 <= UNUSED_VOLUME_FACTOR * vmin)
            .map(|c| c.1)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))
    }
}

fn check_mass(input: &SarInput, mass_kg: f64) -> Result<()> {
    if !(mass_kg > 0.0) || !mass_kg.is_finite() {
        return Err(Error::input(
            &input.source_name,
            "averaging_mass_kg",
            format!("averaging mass {mass_kg} kg is not positive"),
            "use 0.001 (1 g) or 0.01 (10 g)",
        ));
    }
    Ok(())
}

/// Running maximum over the window `[i - h, i + h]` of a lane (values outside are ignored).
fn running_max(mut lane: ArrayViewMut1<f32>, h: usize, buf: &mut Vec<f32>) {
    let n = lane.len();
    if h == 0 || n == 0 {
        return;
    }
    buf.clear();
    buf.extend(lane.iter().copied());
    let mut dq: VecDeque<usize> = VecDeque::new();
    let mut next = 0usize; // next index to push
    for i in 0..n {
        let hi = (i + h).min(n - 1);
        while next <= hi {
            while let Some(&b) = dq.back() {
                if buf[b] <= buf[next] {
                    dq.pop_back();
                } else {
                    break;
                }
            }
            dq.push_back(next);
            next += 1;
        }
        while let Some(&f) = dq.front() {
            if f + h < i {
                dq.pop_front();
            } else {
                break;
            }
        }
        lane[i] = buf[*dq.front().unwrap()];
    }
}

/// Mass-averaged SAR over cubes of `mass_kg` (1e-3 for 1 g, 1e-2 for 10 g) following IEC/IEEE 62704-1
/// (see the module documentation for the rules and the method).
///
/// Errors: non-positive mass, empty phantom, or a phantom lighter than the averaging mass.
pub fn mass_averaged_sar(input: &SarInput, mass_kg: f64) -> Result<AveragedSar> {
    check_mass(input, mass_kg)?;
    let whole = whole_phantom_sar(input)?;
    if whole.total_mass_kg < mass_kg {
        return Err(Error::input(
            &input.source_name,
            "averaging_mass_kg",
            format!(
                "the phantom ({:.3e} kg) is lighter than the averaging mass ({mass_kg} kg)",
                whole.total_mass_kg
            ),
            "average over a smaller mass or use a larger phantom",
        ));
    }
    let dims = input.dims();
    // The averaging arrays (SAR, status, cube half-widths, used mass, slabs): ~40 B per voxel.
    crate::resources::check_bytes(
        &input.source_name,
        "grid",
        &format!("mass-averaged SAR on {} x {} x {} voxels", dims[0], dims[1], dims[2]),
        crate::resources::bytes_of(crate::resources::cells(dims), 40),
        |_| "use a coarser grid or a smaller field box".into(),
    )?;
    let [nx, ny, nz] = dims;
    let d = input.grid.voxel_size_m;
    let svt = Svt::build(input);
    let av = Averager { svt: &svt, dims, d };
    let rho = &input.density_kg_per_m3;

    // Pass 1: centred cubes for every tissue voxel, plane by plane.
    struct Plane {
        sar: Vec<f32>,
        status: Vec<u8>,
        half: Vec<[i32; 3]>,
    }
    let planes: Vec<Plane> = (0..nx)
        .into_par_iter()
        .map(|i| {
            let mut pl = Plane {
                sar: vec![0.0; ny * nz],
                status: vec![VoxelStatus::Air as u8; ny * nz],
                half: vec![[-1; 3]; ny * nz],
            };
            for j in 0..ny {
                let mut guess: Option<f64> = None;
                for k in 0..nz {
                    let r = rho[[i, j, k]] as f64;
                    if r <= 0.0 {
                        continue;
                    }
                    let at = j * nz + k;
                    pl.status[at] = VoxelStatus::Unused as u8; // until proven otherwise
                    let spec = CubeSpec::centred([i, j, k]);
                    let cap = edge_cap(&spec, dims, d);
                    let g = guess.unwrap_or_else(|| (mass_kg / r).cbrt());
                    match av.solve(&spec, mass_kg, g, cap) {
                        Some(cube) => {
                            guess = Some(cube.edge_m);
                            if av.is_valid(&cube) {
                                pl.status[at] = VoxelStatus::Valid as u8;
                                pl.sar[at] = (cube.sums[1] / cube.sums[0]) as f32;
                                pl.half[at] = std::array::from_fn(|a| {
                                    let f = cube.full(a);
                                    if range_empty(f) {
                                        -1
                                    } else {
                                        (f.1 - spec.c[a]) as i32
                                    }
                                });
                            }
                        }
                        None => guess = None,
                    }
                }
            }
            pl
        })
        .collect();
    let mut sar = Array3::<f32>::zeros(dims);
    let mut status = Array3::<u8>::zeros(dims);
    let mut half = Array3::<[i32; 3]>::from_elem(dims, [-1; 3]);
    for (i, pl) in planes.into_iter().enumerate() {
        sar.index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .unwrap()
            .copy_from_slice(&pl.sar);
        status
            .index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .unwrap()
            .copy_from_slice(&pl.status);
        half.index_axis_mut(Axis(0), i)
            .as_slice_mut()
            .unwrap()
            .copy_from_slice(&pl.half);
    }

    // Pass 2: used voxels = largest average of the valid cubes fully containing them. Valid cubes are
    // grouped by their fully-covered half-widths; each group is a separable running maximum.
    let mut groups: BTreeMap<[i32; 3], ([usize; 3], [usize; 3])> = BTreeMap::new();
    for ((i, j, k), h) in half.indexed_iter() {
        if h.iter().all(|v| *v >= 0) {
            let e = groups.entry(*h).or_insert(([i, j, k], [i, j, k]));
            let p = [i, j, k];
            for a in 0..3 {
                e.0[a] = e.0[a].min(p[a]);
                e.1[a] = e.1[a].max(p[a]);
            }
        }
    }
    let mut used = Array3::<f32>::from_elem(dims, f32::NEG_INFINITY);
    for (h, (lo, hi)) in &groups {
        let hu = h.map(|v| v as usize);
        let lo2: [usize; 3] = std::array::from_fn(|a| lo[a].saturating_sub(hu[a]));
        let hi2: [usize; 3] = std::array::from_fn(|a| (hi[a] + hu[a]).min(dims[a] - 1));
        let region = s![lo2[0]..=hi2[0], lo2[1]..=hi2[1], lo2[2]..=hi2[2]];
        let mut m = Array3::<f32>::from_elem(
            (hi2[0] - lo2[0] + 1, hi2[1] - lo2[1] + 1, hi2[2] - lo2[2] + 1),
            f32::NEG_INFINITY,
        );
        Zip::from(&mut m)
            .and(half.slice(region))
            .and(sar.slice(region))
            .par_for_each(|m, hh, s| {
                if hh == h {
                    *m = *s;
                }
            });
        for a in 0..3 {
            Zip::from(m.lanes_mut(Axis(a))).par_for_each(|lane| {
                let mut buf = Vec::new();
                running_max(lane, hu[a], &mut buf);
            });
        }
        Zip::from(used.slice_mut(region))
            .and(&m)
            .par_for_each(|u, m| *u = u.max(*m));
    }
    drop(half);
    Zip::from(&mut sar)
        .and(&mut status)
        .and(&used)
        .par_for_each(|s, st, u| {
            if *st == VoxelStatus::Unused as u8 && *u > f32::NEG_INFINITY {
                *st = VoxelStatus::Used as u8;
                *s = *u;
            }
        });
    drop(used);

    // Pass 3: unused voxels from the six face-anchored cubes.
    let unused: Vec<[usize; 3]> = status
        .indexed_iter()
        .filter(|(_, s)| **s == VoxelStatus::Unused as u8)
        .map(|((i, j, k), _)| [i, j, k])
        .collect();
    let vals: Vec<Option<f64>> = unused
        .par_iter()
        .map(|c| av.unused_sar(*c, mass_kg, rho[*c] as f64))
        .collect();
    for (c, v) in unused.iter().zip(vals) {
        match v {
            Some(v) => sar[*c] = v as f32,
            None => status[*c] = VoxelStatus::Unassigned as u8,
        }
    }
    Ok(finish(input, mass_kg, sar, status))
}

/// Counts and peak of a finished map (peak over valid and unused voxels; first in index order on ties).
fn finish(input: &SarInput, mass_kg: f64, sar: Array3<f32>, status: Array3<u8>) -> AveragedSar {
    let mut counts = VoxelCounts::default();
    let mut best: Option<(f32, [usize; 3], u8)> = None;
    for ((i, j, k), st) in status.indexed_iter() {
        match VoxelStatus::from_u8(*st) {
            Some(VoxelStatus::Air) => counts.air += 1,
            Some(VoxelStatus::Valid) => counts.valid += 1,
            Some(VoxelStatus::Used) => counts.used += 1,
            Some(VoxelStatus::Unused) => counts.unused += 1,
            _ => counts.unassigned += 1,
        }
        if *st == VoxelStatus::Valid as u8 || *st == VoxelStatus::Unused as u8 {
            let v = sar[[i, j, k]];
            if best.is_none_or(|b| v > b.0) {
                best = Some((v, [i, j, k], *st));
            }
        }
    }
    let (v, idx, st) = best.unwrap_or((0.0, [0, 0, 0], VoxelStatus::Air as u8));
    AveragedSar {
        mass_kg,
        sar_w_per_kg: sar,
        status,
        counts,
        peak: PeakSar {
            sar_w_per_kg: v as f64,
            index: idx,
            position_m: input.grid.centre_m(idx),
            status: VoxelStatus::from_u8(st).unwrap_or(VoxelStatus::Air),
        },
    }
}

// ---------------------------------------------------------------------------------------------------
// Brute-force reference.

/// Reference implementation of [`mass_averaged_sar`]: the same rules with explicit voxel loops, cut
/// fractions from interval overlaps and bisection on the cube edge (O(N * cube voxels * iterations)).
/// For validation on small grids only.
pub fn mass_averaged_sar_reference(input: &SarInput, mass_kg: f64) -> Result<AveragedSar> {
    check_mass(input, mass_kg)?;
    let whole = whole_phantom_sar(input)?;
    if whole.total_mass_kg < mass_kg {
        return Err(Error::input(
            &input.source_name,
            "averaging_mass_kg",
            "the phantom is lighter than the averaging mass",
            "average over a smaller mass",
        ));
    }
    let dims = input.dims();
    let d = input.grid.voxel_size_m;
    let dv = input.grid.voxel_volume_m3();
    let rho = &input.density_kg_per_m3;
    let pd = &input.power_density_w_per_m3;

    // Cube interval along axis a (in metres from the domain's low corner) for anchor c and edge l.
    let interval = |mode: AxisMode, a: usize, c: usize, l: f64| -> (f64, f64) {
        let lo_face = c as f64 * d[a];
        match mode {
            AxisMode::Centred => (lo_face + 0.5 * d[a] - 0.5 * l, lo_face + 0.5 * d[a] + 0.5 * l),
            AxisMode::GrowUp => (lo_face, lo_face + l),
            AxisMode::GrowDown => (lo_face + d[a] - l, lo_face + d[a]),
        }
    };
    // In-domain voxel weights along each axis: (index, weight > 0); `snap` rounds near-0/1 fractions
    // (for the final cube, not while solving for the edge, so the mass stays continuous in `l`).
    let weights = |spec: &CubeSpec, l: f64, snap: bool| -> [Vec<(usize, f64)>; 3] {
        std::array::from_fn(|a| {
            let (x0, x1) = interval(spec.modes[a], a, spec.c[a] as usize, l);
            (0..dims[a])
                .filter_map(|o| {
                    let (v0, v1) = (o as f64 * d[a], (o + 1) as f64 * d[a]);
                    let mut w = ((x1.min(v1) - x0.max(v0)) / d[a]).clamp(0.0, 1.0);
                    if snap && w < SNAP {
                        w = 0.0;
                    } else if snap && w > 1.0 - SNAP {
                        w = 1.0;
                    }
                    (w > 0.0).then_some((o, w))
                })
                .collect()
        })
    };
    // [mass, power, tissue volume, in-domain volume]
    let sums = |w: &[Vec<(usize, f64)>; 3]| -> [f64; 4] {
        let mut s = [0.0; 4];
        for &(i, wi) in &w[0] {
            for &(j, wj) in &w[1] {
                for &(k, wk) in &w[2] {
                    let ww = wi * wj * wk * dv;
                    let r = rho[[i, j, k]] as f64;
                    s[0] += ww * r;
                    s[1] += ww * pd[[i, j, k]] as f64;
                    if r > 0.0 {
                        s[2] += ww;
                    }
                    s[3] += ww;
                }
            }
        }
        s
    };
    type Weights = [Vec<(usize, f64)>; 3];
    let solve = |spec: &CubeSpec| -> Option<(f64, Weights, [f64; 4])> {
        let cap = edge_cap(spec, dims, d);
        let mass = |l: f64| sums(&weights(spec, l, false))[0];
        let mc = mass(cap);
        if mc < mass_kg * (1.0 - MASS_TOLERANCE) {
            return None;
        }
        if mc < mass_kg {
            let w = weights(spec, cap, true);
            let s = sums(&w);
            return Some((cap, w, s));
        }
        let (mut a, mut b) = (0.0f64, cap);
        for _ in 0..200 {
            let m = 0.5 * (a + b);
            if mass(m) < mass_kg {
                a = m;
            } else {
                b = m;
            }
            if b - a <= 1e-15 * b {
                break;
            }
        }
        let w = weights(spec, b, true);
        let s = sums(&w);
        Some((b, w, s))
    };

    let mut sar = Array3::<f32>::zeros(dims);
    let mut status = Array3::<u8>::zeros(dims);
    let mut used = Array3::<f32>::from_elem(dims, f32::NEG_INFINITY);
    let mut valid_cubes = Vec::new();
    for ((i, j, k), r) in rho.indexed_iter() {
        if *r <= 0.0 {
            continue;
        }
        status[[i, j, k]] = VoxelStatus::Unused as u8;
        let spec = CubeSpec::centred([i, j, k]);
        let Some((l, w, s)) = solve(&spec) else { continue };
        // inside the domain: the continuous cube interval must not leave [0, N d] (beyond rounding)
        let inside = (0..3).all(|a| {
            let (x0, x1) = interval(AxisMode::Centred, a, [i, j, k][a], l);
            x0 >= -SNAP * d[a] && x1 <= (dims[a] as f64 + SNAP) * d[a]
        });
        if !inside || s[3] - s[2] > MAX_AIR_FRACTION * s[3] {
            continue;
        }
        // faces: the outermost positive-weight layer on each side holds tissue
        let mut faces_ok = true;
        for a in 0..3 {
            for layer in [w[a].first().unwrap().0, w[a].last().unwrap().0] {
                let mut any = false;
                for &(ii, _) in &w[0] {
                    for &(jj, _) in &w[1] {
                        for &(kk, _) in &w[2] {
                            if [ii, jj, kk][a] == layer && rho[[ii, jj, kk]] > 0.0 {
                                any = true;
                            }
                        }
                    }
                }
                faces_ok &= any;
            }
        }
        if !faces_ok {
            continue;
        }
        status[[i, j, k]] = VoxelStatus::Valid as u8;
        sar[[i, j, k]] = (s[1] / s[0]) as f32;
        valid_cubes.push((w, (s[1] / s[0]) as f32));
    }
    for (w, v) in &valid_cubes {
        for &(i, wi) in &w[0] {
            for &(j, wj) in &w[1] {
                for &(k, wk) in &w[2] {
                    if wi == 1.0 && wj == 1.0 && wk == 1.0 {
                        used[[i, j, k]] = used[[i, j, k]].max(*v);
                    }
                }
            }
        }
    }
    for (idx, st) in status.indexed_iter_mut() {
        if *st == VoxelStatus::Unused as u8 && used[idx] > f32::NEG_INFINITY {
            *st = VoxelStatus::Used as u8;
            sar[idx] = used[idx];
        }
    }
    let unused: Vec<[usize; 3]> = status
        .indexed_iter()
        .filter(|(_, s)| **s == VoxelStatus::Unused as u8)
        .map(|((i, j, k), _)| [i, j, k])
        .collect();
    for c in unused {
        let cands: Vec<(f64, f64)> = (0..6)
            .filter_map(|dir| solve(&CubeSpec::face(c, dir)))
            .filter(|(_, _, s)| s[0] > 0.0)
            .map(|(_, _, s)| (s[3], s[1] / s[0]))
            .collect();
        let vmin = cands.iter().map(|c| c.0).fold(f64::INFINITY, f64::min);
        match cands
            .iter()
            .filter(|c| c.0 <= UNUSED_VOLUME_FACTOR * vmin)
            .map(|c| c.1)
            .fold(None, |m: Option<f64>, s| Some(m.map_or(s, |m| m.max(s))))
        {
            Some(v) => sar[c] = v as f32,
            None => status[c] = VoxelStatus::Unassigned as u8,
        }
    }
    Ok(finish(input, mass_kg, sar, status))
}
