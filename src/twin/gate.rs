//! When a fit is not to be trusted (issue 16, item 6): a residual far above the noise, a fitted map
//! that does not follow the measured one, or too few samples for the parameters. `twin fit` and
//! `assess` exit 1 with the reason instead of reporting a confident calibration.

use serde::Serialize;

use super::joint::JointFit;
use crate::b1::MapQuality;

/// The largest NRMSE accepted, in units of the noise level.
pub const MAX_NRMSE_OVER_NOISE: f64 = 1.5;
/// The smallest correlation of fitted and measured values accepted, as a fraction of the
/// correlation a perfect model would reach at this noise (`sqrt(1 - noise^2 / spread^2)`; 1 for a
/// structured map at high SNR, so the limit is then 0.9 itself).
pub const MIN_CORRELATION: f64 = 0.9;
/// The fewest samples accepted per fitted parameter (and at least [`MIN_SAMPLES`] in all).
pub const MIN_SAMPLES_PER_PARAMETER: usize = 10;
pub const MIN_SAMPLES: usize = 100;

/// The verdict on one fit (`fit.json` key `fit_gate`).
#[derive(Clone, Debug, Serialize)]
pub struct FitGate {
    /// The noise level the NRMSE is compared with (relative to the mean measured value), and where it
    /// came from: "background" (the map's air) or "residual high-pass" (voxel-to-voxel differences).
    pub noise: f64,
    pub noise_from: String,
    pub nrmse: f64,
    pub nrmse_over_noise: f64,
    pub correlation: f64,
    /// The correlation a perfect model would reach at this noise.
    pub correlation_ideal: f64,
    pub samples: usize,
    pub parameters: usize,
    /// The residual's correlation volume (voxels), the covariance inflation for model error.
    pub residual_correlation_voxels: f64,
    /// Why the fit is not trusted (None: it is).
    pub failure: Option<String>,
}

impl FitGate {
    /// Judges `fit` (with `parameters` fitted) against the map's noise: the background's when the
    /// map has one, otherwise the residual's high-pass estimate.
    pub fn judge(fit: &JointFit, quality: &MapQuality, parameters: usize) -> Self {
        let (noise, noise_from) = if quality.noise_from == "background" && fit.mean_measured > 0.0 {
            (quality.noise_sigma / fit.mean_measured, "background")
        } else {
            (fit.noise_highpass, "residual high-pass")
        };
        let spread = fit.measured_spread;
        let correlation_ideal = if spread > 0.0 { (1.0 - (noise / spread).powi(2)).max(0.0).sqrt() } else { 0.0 };
        let ratio = fit.nrmse / noise;
        let mut why = Vec::new();
        let min_samples = MIN_SAMPLES.max(MIN_SAMPLES_PER_PARAMETER * parameters);
        if fit.samples < min_samples {
            why.push(format!(
                "{} samples for {parameters} fitted parameters (at least {min_samples} needed): give a map that covers more of the phantom, or fit fewer parameters",
                fit.samples
            ));
        }
        if !(ratio <= MAX_NRMSE_OVER_NOISE) {
            why.push(format!(
                "the residual (NRMSE {:.2} %) is {ratio:.2} times the noise ({:.2} %, from the {noise_from}), more than {MAX_NRMSE_OVER_NOISE}: the model does not describe this map (wrong coil or phantom file, placement, map frame or unit?)",
                100.0 * fit.nrmse,
                100.0 * noise
            ));
        }
        if !(fit.correlation >= MIN_CORRELATION * correlation_ideal) {
            why.push(format!(
                "the fitted map follows the measured one with correlation {:.3}, below {:.3} ({MIN_CORRELATION} of the {:.3} a perfect model reaches at this noise)",
                fit.correlation,
                MIN_CORRELATION * correlation_ideal,
                correlation_ideal
            ));
        }
        Self {
            noise,
            noise_from: noise_from.to_string(),
            nrmse: fit.nrmse,
            nrmse_over_noise: ratio,
            correlation: fit.correlation,
            correlation_ideal,
            samples: fit.samples,
            parameters,
            residual_correlation_voxels: fit.residual_correlation_voxels,
            failure: (!why.is_empty()).then(|| why.join("; ")),
        }
    }
}

/// Why a calibration is not to be trusted, the map's quality and the fit's gate together (None:
/// it is).
pub fn failure(quality: &MapQuality, gate: &FitGate) -> Option<String> {
    let why: Vec<String> = [quality.failure(), gate.failure.clone()].into_iter().flatten().collect();
    (!why.is_empty()).then(|| why.join("; "))
}
