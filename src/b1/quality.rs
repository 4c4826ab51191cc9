//! What a measured map is worth before and after a fit: the automatic mask (the phantom at its
//! placement, eroded by the partial-volume margin, ∩ finite voxels ∩ voxels above the noise floor),
//! the noise estimated from the background (the voxels outside the phantom), the fraction of the
//! phantom the map covers, and the quality gates (coverage ≥ 1/2, SNR ≥ 5).
//!
//! Noise: in a magnitude image the background (no signal) is Rayleigh-distributed with the noise
//! standard deviation σ of each quadrature; its median is `σ √(2 ln 2)`, so `σ = median / 1.1774`
//! (robust against ghosts and stray signal in a few background voxels). The noise floor is `3 σ`
//! (a pure-noise voxel exceeds it with probability `exp(-4.5)` ≈ 1.1 %).

use ndarray::{Array3, Zip};
use serde::Serialize;

use super::affine::Affine;
use super::map::B1Map;
use super::mask::{dilated, eroded, mask_from_shape_grid};
use super::resample::Placement;
use crate::error::Result;
use crate::grid::Shape;

/// Fewest background voxels for a noise estimate.
pub const MIN_BACKGROUND_VOXELS: usize = 50;
/// The noise floor in noise standard deviations.
pub const NOISE_FLOOR_SIGMAS: f64 = 3.0;
/// The smallest fraction of the phantom a map must cover.
pub const MIN_COVERAGE: f64 = 0.5;
/// The smallest signal-to-noise ratio of a map.
pub const MIN_SNR: f64 = 5.0;

/// The longest diagonal of a voxel (m): the largest `|±a ± b ± c|` of the affine's voxel axes.
pub fn voxel_diagonal_m(affine: &Affine) -> f64 {
    let col = |b: usize| [affine.m[0][b], affine.m[1][b], affine.m[2][b]];
    let (a, b, c) = (col(0), col(1), col(2));
    let mut best: f64 = 0.0;
    for (sb, sc) in [(1.0, 1.0), (1.0, -1.0), (-1.0, 1.0), (-1.0, -1.0)] {
        let d: f64 = (0..3)
            .map(|i| (a[i] + sb * b[i] + sc * c[i]).powi(2))
            .sum::<f64>()
            .sqrt();
        best = best.max(d);
    }
    best
}

/// The automatic mask's erosion: half the voxel diagonal, so that no kept voxel reaches the wall
/// (no partial-volume voxel).
pub fn partial_volume_margin_m(affine: &Affine) -> f64 {
    0.5 * voxel_diagonal_m(affine)
}

/// The noise of a map, from its background.
#[derive(Clone, Debug, Serialize)]
pub struct NoiseEstimate {
    /// Noise standard deviation per quadrature, in the map's unit.
    pub sigma: f64,
    /// Background voxels it was estimated from.
    pub background_voxels: usize,
}

/// The noise of `map` from its finite background voxels: those farther than `margin_m` outside the
/// phantom `shape` (simulation frame, placed by `placement`). None with fewer than
/// [`MIN_BACKGROUND_VOXELS`] or a zero median (a background set to zero holds no noise).
pub fn background_noise(
    map: &B1Map,
    shape: &Shape,
    margin_m: f64,
    placement: &Placement,
) -> Result<Option<NoiseEstimate>> {
    let grown = dilated(shape, margin_m)?;
    let inside = mask_from_shape_grid(map.dims(), &map.affine, &grown, 0.0, placement)?;
    let mut vals: Vec<f64> = Zip::from(&inside)
        .and(&map.magnitude)
        .fold(Vec::new(), |mut acc, &ins, &v| {
            if !ins && v.is_finite() {
                acc.push((v as f64).abs());
            }
            acc
        });
    if vals.len() < MIN_BACKGROUND_VOXELS {
        return Ok(None);
    }
    vals.sort_by(f64::total_cmp);
    let median = vals[vals.len() / 2];
    if !(median > 0.0) {
        return Ok(None);
    }
    Ok(Some(NoiseEstimate {
        sigma: median / (2.0 * std::f64::consts::LN_2).sqrt(),
        background_voxels: vals.len(),
    }))
}

/// The automatic mask: voxels whose centres lie inside `shape` (placed by `placement`) eroded by
/// `margin_m`, with finite data, and above `floor` (map unit) when given.
pub fn auto_mask(
    map: &B1Map,
    shape: &Shape,
    margin_m: f64,
    placement: &Placement,
    floor: Option<f64>,
) -> Result<Array3<bool>> {
    let mut m = mask_from_shape_grid(map.dims(), &map.affine, shape, margin_m, placement)?;
    let valid = map.valid();
    Zip::from(&mut m)
        .and(&valid)
        .and(&map.magnitude)
        .for_each(|a, &ok, &v| *a = *a && ok && floor.is_none_or(|f| v as f64 > f));
    Ok(m)
}

/// How many points of the map's voxel lattice (extended beyond the map's own grid) lie inside
/// `shape` (placed by `placement`) eroded by `margin_m`: the phantom in voxels, for the coverage.
pub fn phantom_voxels(affine: &Affine, shape: &Shape, margin_m: f64, placement: &Placement) -> Result<usize> {
    let inner = eroded(shape, margin_m)?;
    let to_phantom = placement
        .rigid
        .inverse()
        .compose(&placement.world_to_sim.compose(affine));
    let from_phantom = to_phantom.inverse(&inner.name)?;
    // The index range of the (rotated) shape's bounding box.
    let (lo, hi) = inner.unrotated_bounds();
    let mut ilo = [f64::INFINITY; 3];
    let mut ihi = [f64::NEG_INFINITY; 3];
    for c in 0..8 {
        let q = [0, 1, 2].map(|a| if c >> a & 1 == 1 { hi[a] } else { lo[a] });
        let p = match &inner.rotation {
            Some(r) => r.apply(q),
            None => q,
        };
        let idx = from_phantom.apply(p);
        for a in 0..3 {
            ilo[a] = ilo[a].min(idx[a]);
            ihi[a] = ihi[a].max(idx[a]);
        }
    }
    if ilo.iter().chain(ihi.iter()).any(|v| !v.is_finite() || v.abs() > 1e7) {
        return Ok(0);
    }
    let (a0, a1) = (ilo.map(|v| v.floor() as i64 - 1), ihi.map(|v| v.ceil() as i64 + 1));
    let mut n = 0usize;
    for i in a0[0]..=a1[0] {
        for j in a0[1]..=a1[1] {
            for k in a0[2]..=a1[2] {
                if inner.contains(to_phantom.apply([i as f64, j as f64, k as f64])) {
                    n += 1;
                }
            }
        }
    }
    Ok(n)
}

/// The quality of a measured map as fitted (`fit.json` key `map_quality`, the report's summary).
#[derive(Clone, Debug, Serialize)]
pub struct MapQuality {
    /// "automatic" (phantom geometry, partial-volume margin, noise floor), "file" (`--mask`) or
    /// "the map's own" (an HDF5 `NAME_mask` dataset).
    pub mask: String,
    /// The automatic mask's erosion (half the voxel diagonal), m.
    pub margin_m: f64,
    /// Noise standard deviation (map unit), and where it came from: "background" or "fit residual"
    /// (no usable background: the residual's RMS, which includes the model's own error).
    pub noise_sigma: f64,
    pub noise_from: String,
    /// Background voxels of the noise estimate (0 when from the residual).
    pub background_voxels: usize,
    /// The noise floor of the automatic mask (map unit), when there was a background.
    pub noise_floor: Option<f64>,
    /// Mean fitted value over the noise σ.
    pub snr: f64,
    /// Voxels the fit used.
    pub voxels_used: usize,
    /// Voxels of the map's lattice inside the eroded phantom (at the final placement).
    pub phantom_voxels: usize,
    /// The fraction of the eroded phantom the used voxels cover.
    pub phantom_fraction_covered: f64,
}

impl MapQuality {
    /// Why the map is not good enough to calibrate a twin (coverage below [`MIN_COVERAGE`], SNR below
    /// [`MIN_SNR`]), in words; None when it is.
    pub fn failure(&self) -> Option<String> {
        let mut why = Vec::new();
        if self.phantom_fraction_covered < MIN_COVERAGE {
            why.push(format!(
                "the map covers {:.0} % of the phantom ({} of {} voxels inside it, {:.1} mm from its walls), less than {:.0} %",
                100.0 * self.phantom_fraction_covered,
                self.voxels_used,
                self.phantom_voxels,
                self.margin_m * 1e3,
                100.0 * MIN_COVERAGE
            ));
        }
        if !(self.snr >= MIN_SNR) {
            why.push(format!(
                "its signal-to-noise ratio is {:.1} (noise from the {}), below {MIN_SNR}",
                self.snr, self.noise_from
            ));
        }
        (!why.is_empty()).then(|| why.join("; "))
    }
}
