//! Which voxels of a measured map the calibration uses, and what the map is worth: the automatic
//! mask's rule before the fit ([`MaskPlan::new`]: the partial-volume margin and the noise floor from
//! the background at the phantom file's placement) and the map's quality after it
//! ([`MaskPlan::quality`]: SNR, voxels used, the fraction of the phantom covered at the final
//! placement). The geometry and statistics are [`crate::b1::quality`]'s.

use super::full::{placed_phantom, AutoMask, FullCalibration};
use crate::b1::quality::{self, MapQuality, NoiseEstimate, NOISE_FLOOR_SIGMAS};
use crate::b1::{B1Map, Placement};
use crate::coil::PhantomConfig;
use crate::error::Result;

/// The mask of a calibration, decided before it.
#[derive(Clone, Debug)]
pub struct MaskPlan {
    /// The automatic mask's rule (None: a mask file or the map's own mask).
    pub auto: Option<AutoMask>,
    /// "automatic", "file" or "the map's own".
    pub kind: String,
    pub margin_m: f64,
    pub noise: Option<NoiseEstimate>,
}

impl MaskPlan {
    /// The plan for `map` (as [`crate::b1::read_measured`] gives it; `mask_file`: whether a mask file
    /// was given): the automatic mask unless the map carries a mask.
    pub fn new(map: &B1Map, phantom: &PhantomConfig, placement: &Placement, mask_file: bool) -> Result<MaskPlan> {
        let margin_m = quality::partial_volume_margin_m(&map.affine);
        let noise = quality::background_noise(map, &phantom.shape(), margin_m, placement)?;
        let (auto, kind) = match (&map.mask, mask_file) {
            (Some(_), true) => (None, "file"),
            (Some(_), false) => (None, "the map's own"),
            (None, _) => (
                Some(AutoMask {
                    margin_m,
                    floor: noise.as_ref().map(|n| NOISE_FLOOR_SIGMAS * n.sigma),
                }),
                "automatic",
            ),
        };
        Ok(MaskPlan {
            auto,
            kind: kind.to_string(),
            margin_m,
            noise,
        })
    }

    /// The map's quality as fitted by `full` (the phantom at its final placement).
    pub fn quality(
        &self,
        map: &B1Map,
        phantom: &PhantomConfig,
        placement: &Placement,
        full: &FullCalibration,
    ) -> Result<MapQuality> {
        let rot = full.final_rotation_deg.map(f64::to_radians);
        let shape = placed_phantom(phantom, full.final_offset_m, rot).shape();
        let phantom_voxels = quality::phantom_voxels(&map.affine, &shape, self.margin_m, placement)?;
        let inner = crate::b1::eroded(&shape, self.margin_m)?;
        let to_phantom = placement
            .rigid
            .inverse()
            .compose(&placement.world_to_sim.compose(&map.affine));
        let used_inside = full
            .used
            .indexed_iter()
            .filter(|(_, u)| **u)
            .filter(|((i, j, k), _)| inner.contains(to_phantom.apply([*i as f64, *j as f64, *k as f64])))
            .count();
        let used: Vec<f64> = full
            .measured
            .iter()
            .filter(|v| v.is_finite())
            .map(|v| *v as f64)
            .collect();
        let mean = used.iter().sum::<f64>() / used.len().max(1) as f64;
        let (sigma, from, n_bg) = match &self.noise {
            Some(n) => (n.sigma, "background", n.background_voxels),
            None => {
                let r: Vec<f64> = full
                    .simulated
                    .iter()
                    .zip(full.measured.iter())
                    .filter(|(s, m)| s.is_finite() && m.is_finite())
                    .map(|(s, m)| (*s as f64 - *m as f64).powi(2))
                    .collect();
                (
                    (r.iter().sum::<f64>() / r.len().max(1) as f64).sqrt(),
                    "fit residual",
                    0,
                )
            }
        };
        let snr = if sigma > 0.0 { mean / sigma } else { f64::INFINITY };
        Ok(MapQuality {
            mask: self.kind.clone(),
            margin_m: self.margin_m,
            noise_sigma: sigma,
            noise_from: from.to_string(),
            background_voxels: n_bg,
            noise_floor: self.auto.and_then(|a| a.floor),
            snr,
            voxels_used: used.len(),
            phantom_voxels,
            phantom_fraction_covered: if phantom_voxels > 0 {
                (used_inside as f64 / phantom_voxels as f64).min(1.0)
            } else {
                0.0
            },
        })
    }
}
