//! Calibration of the ideal-drive coil model to a measured |B1+| map: two basis runs (the linear
//! homogeneous modes cos(phi_j) and sin(phi_j) of the rung currents), resampled onto the measured
//! grid, and the complex weights fitted by superposition (`fit`). The quadrature drive of a perfect
//! coil is w = (1, -i); a port amplitude imbalance a and phase error d give w = (1, -i a e^{i d}).

use ndarray::Array3;
use num_complex::{Complex32, Complex64};
use serde::Serialize;

use super::basis::{compute_basis_request, Basis, BasisRequest};
use super::fit::{fit_weights_magnitude, WeightFit};
use crate::b1::{resample, B1Map, Placement};
use crate::coil::run::SimulateOptions;
use crate::coil::{CoilConfig, PhantomConfig};
use crate::error::{Error, Result};

/// Runs the two linear homogeneous-mode patterns of the ideal drive (no cache; phantom at its file
/// position, sub-cell averaged). See [`super::basis`].
pub fn compute_basis(
    coil: &CoilConfig,
    phantom: Option<&PhantomConfig>,
    opt: &SimulateOptions,
    progress: Option<&mut dyn FnMut(usize)>,
) -> Result<Basis> {
    compute_basis_request(
        &BasisRequest {
            coil,
            phantom,
            opt,
            offset_m: [0.0; 3],
        },
        progress,
    )
}

/// A calibrated twin.
#[derive(Serialize)]
pub struct Calibration {
    pub fit: WeightFit,
    /// Port-2 weight relative to port 1 in quadrature terms: w_sin / (-i w_cos).
    pub relative_amplitude: f64,
    pub relative_phase_deg: f64,
    pub relative_amplitude_se: f64,
    pub relative_phase_se_deg: f64,
    pub samples: usize,
    #[serde(skip)]
    pub measured: Array3<f32>,
    #[serde(skip)]
    pub simulated: Array3<f32>,
    #[serde(skip)]
    pub mask: Array3<bool>,
}

/// Fits the basis weights to the measured magnitude (in the map's own unit) on the measured grid.
pub fn calibrate(basis: &Basis, measured: &B1Map, placement: &Placement) -> Result<Calibration> {
    let dims = measured.dims();
    let resampled: Vec<Array3<Complex32>> = basis
        .fields
        .iter()
        .map(|f| resample(f, dims, &measured.affine, placement))
        .collect();
    let valid = measured.valid();
    let mut mask = valid.clone();
    for ((i, j, k), m) in mask.indexed_iter_mut() {
        if *m && resampled.iter().any(|r| !r[[i, j, k]].re.is_finite()) {
            *m = false;
        }
    }
    let pts: Vec<(usize, usize, usize)> = mask.indexed_iter().filter(|(_, m)| **m).map(|(p, _)| p).collect();
    if pts.is_empty() {
        return Err(Error::input(
            &measured.source,
            "mask",
            "no voxel of the measured map lies inside the simulated region",
            "check the map's affine and the phantom placement",
        ));
    }
    // Basis in µT so the fitted weights are O(1) for maps in µT.
    let bs: Vec<Vec<Complex64>> = resampled
        .iter()
        .map(|r| {
            pts.iter()
                .map(|&p| Complex64::new(r[p].re as f64, r[p].im as f64) * 1e6)
                .collect()
        })
        .collect();
    let m: Vec<f64> = pts.iter().map(|&p| measured.magnitude[p] as f64).collect();
    let fit = fit_weights_magnitude(&bs, &m)?;
    let (wc, ws) = (fit.weight(0), fit.weight(1));
    // Quadrature: ws = -i a e^{i d} wc  =>  a e^{i d} = i ws / wc.
    let rel = Complex64::i() * ws / wc;
    // Delta-method standard errors of a and d from those of (Re wc, Re ws, Im ws).
    let (sc, sr, si) = (fit.std_errors[0], fit.std_errors[1], fit.std_errors[2]);
    let a = rel.norm();
    let amp_se = ((ws.norm() / (wc.re * wc.re) * sc).powi(2)
        + (ws.re / (ws.norm() * wc.re) * sr).powi(2)
        + (ws.im / (ws.norm() * wc.re) * si).powi(2))
    .sqrt();
    let ph_se = ((ws.im * sr).powi(2) + (ws.re * si).powi(2)).sqrt() / ws.norm_sqr();
    let mut simulated = Array3::<f32>::from_elem(dims, f32::NAN);
    for (idx, &p) in pts.iter().enumerate() {
        let b = wc * bs[0][idx] + ws * bs[1][idx];
        simulated[p] = b.norm() as f32;
    }
    let measured_vals = Array3::from_shape_fn(dims, |p| if mask[p] { measured.magnitude[p] } else { f32::NAN });
    Ok(Calibration {
        relative_amplitude: a,
        relative_phase_deg: rel.arg().to_degrees(),
        relative_amplitude_se: amp_se,
        relative_phase_se_deg: ph_se.to_degrees(),
        samples: pts.len(),
        fit,
        measured: measured_vals,
        simulated,
        mask,
    })
}

/// A synthetic "measured" |B1+| map (µT) of the phantom region: the basis combined with a port
/// amplitude imbalance and phase error, scaled to `centre_ut` at the isocentre, with Rician-like
/// noise of `noise` times the mean magnitude (deterministic seed). Grid: `voxel_m` over `lo..hi`.
#[allow(clippy::too_many_arguments)]
pub fn synthesize(
    basis: &Basis,
    imbalance: f64,
    phase_deg: f64,
    noise: f64,
    seed: u64,
    lo: [f64; 3],
    hi: [f64; 3],
    voxel_m: f64,
    centre_ut: f64,
) -> Result<(Array3<f32>, [f64; 3])> {
    let w = [
        Complex64::new(1.0, 0.0),
        -Complex64::i() * Complex64::from_polar(imbalance, phase_deg.to_radians()),
    ];
    let n = [0, 1, 2].map(|a| (((hi[a] - lo[a]) / voxel_m).floor() as usize).max(1));
    let origin = [0, 1, 2].map(|a| lo[a] + 0.5 * (hi[a] - lo[a] - (n[a] - 1) as f64 * voxel_m));
    let at = |p: [f64; 3]| -> Complex64 {
        (0..2)
            .map(|k| {
                let v = basis.fields[k].sample(p);
                w[k] * Complex64::new(v.re as f64, v.im as f64)
            })
            .sum()
    };
    let c = at([0.0; 3]).norm();
    if !(c > 0.0) {
        return Err(Error::Other("synthetic map: no field at the isocentre".into()));
    }
    let scale = centre_ut / c;
    let mut clean = Array3::<f64>::zeros(n);
    for ((i, j, k), v) in clean.indexed_iter_mut() {
        let p = [
            origin[0] + i as f64 * voxel_m,
            origin[1] + j as f64 * voxel_m,
            origin[2] + k as f64 * voxel_m,
        ];
        *v = at(p).norm() * scale;
    }
    let finite: Vec<f64> = clean.iter().cloned().filter(|v| v.is_finite()).collect();
    let mean = finite.iter().sum::<f64>() / finite.len().max(1) as f64;
    let mut state = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut normal = || {
        let (a, b) = (uniform(), uniform());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    };
    let sigma = noise * mean;
    let map = clean.mapv(|v| {
        if v.is_finite() {
            ((v + sigma * normal()).powi(2) + (sigma * normal()).powi(2)).sqrt() as f32
        } else {
            f32::NAN
        }
    });
    Ok((map, origin))
}
