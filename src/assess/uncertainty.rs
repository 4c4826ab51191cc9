//! The uncertainty budget's sensitivities (the prose and the rows are in
//! [`crate::report::sections::budget`]): cheap re-evaluations of the normalised incident field at the
//! implant, no new FDTD run.
//!
//! The **response** stands for the criterion values' relative changes: for an implant the
//! transmission-line tip response `max over both ends |∫ S(l) E_tan(l) dl|²` (S of a bare wire in the
//! gel, `implant::tf::TransferFunction::analytic_bare_wire`; E the twin's field along the placed
//! conductor) over the normalisation's reference (whole-phantom SAR, |B1+(0)|² or input power):
//! every SAR and the temperature rise near a lead scale with |E_tip|² (ISO/TS 10974 Tier 3); without
//! an implant, the coarse grid's peak point SAR over the same reference. Then
//! - twin posterior: the fitted port-2 weight moved by ±1 standard error in amplitude, then in phase,
//!   the fields rebuilt by superposition of the calibration's basis, the response re-normalised;
//! - placement: the conductor moved by ±d along x, y and z of the coil frame;
//! - gel σ, εr: the transfer function's wavenumber moved over the half-range (central difference),
//!   plus the linear model SAR = σ|E|² locally with the normalisation's own dependence (whole-phantom
//!   SAR ∝ σ|E|²: a uniform σ change cancels to first order; B1+ and input power: SAR ∝ σ).

use num_complex::Complex64;

use super::normalise::twin_sar_input;
use crate::dosimetry::run::NormaliseSpec;
use crate::dosimetry::sar::{point_sar, whole_phantom_sar};
use crate::error::{Error, Result};
use crate::implant::tf::TransferFunction;
use crate::report::recipe::{Recipe, UncertaintySettings};
use crate::report::sections::budget::{BudgetFacts, Cem43Curves, TwinPosteriorFacts};
use crate::twin::joint::Estimate;
use crate::twin::{Basis, TwinFields};

/// The calibration's basis and fitted drive, kept for the twin posterior's sensitivity.
pub(super) struct Posterior {
    pub basis: Basis,
    pub weights: Vec<Complex64>,
    pub amplitude: Estimate,
    pub phase_deg: Estimate,
}

/// Samples of the transfer function along the conductor.
const TF_SAMPLES: usize = 400;

/// The normalisation's reference of `f`: whole-phantom SAR (W/kg), |B1+(0)|² (T²) or input power (W).
fn reference(f: &TwinFields, spec: &NormaliseSpec) -> Result<f64> {
    let v = match spec {
        NormaliseSpec::WholePhantom(_) | NormaliseSpec::Mode(_) => whole_phantom_sar(&twin_sar_input(f)?)?.sar_w_per_kg,
        NormaliseSpec::B1RmsUt(_) => f.b1_plus_at([0.0; 3]).norm_sqr(),
        NormaliseSpec::PowerW(_) => f.input_power_w,
    };
    if !(v > 0.0) || !v.is_finite() {
        return Err(Error::Doubtful {
            what: format!("uncertainty budget: the normalisation reference of a perturbed twin is {v}"),
        });
    }
    Ok(v)
}

/// What the response is evaluated on.
enum Target<'a> {
    Implant { tf: TransferFunction, path: &'a [[f64; 3]] },
    Coil,
}

/// The un-normalised local part of the response.
fn local(f: &TwinFields, target: &Target, shift_m: [f64; 3]) -> Result<f64> {
    match target {
        Target::Implant { tf, path } => tip_response(f, tf, path, shift_m),
        Target::Coil => Ok(point_sar(&twin_sar_input(f)?)
            .iter()
            .filter(|v| v.is_finite())
            .fold(0.0f64, |a, &v| a.max(v as f64))),
    }
}

/// `max over both ends |E_tip|²` of `tf` along `path` moved by `shift_m`.
fn tip_response(f: &TwinFields, tf: &TransferFunction, path: &[[f64; 3]], shift_m: [f64; 3]) -> Result<f64> {
    let moved: Vec<[f64; 3]> = path.iter().map(|p| [0, 1, 2].map(|a| p[a] + shift_m[a])).collect();
    let mut rev = moved.clone();
    rev.reverse();
    let e = |p: [f64; 3]| f.e_at(p);
    let a = tf.tip_estimate(&moved, &e)?.norm_sqr();
    let b = tf.tip_estimate(&rev, &e)?.norm_sqr();
    Ok(a.max(b))
}

fn response(f: &TwinFields, spec: &NormaliseSpec, target: &Target, shift_m: [f64; 3]) -> Result<f64> {
    Ok(local(f, target, shift_m)? / reference(f, spec)?)
}

/// The twin's posterior sensitivities: the response at the fitted port-2 weight moved by ±1 se.
fn posterior_facts(p: &Posterior, spec: &NormaliseSpec, target: &Target) -> Result<TwinPosteriorFacts> {
    let w = &p.weights;
    let amplitude = if w.len() >= 2 && w[0].norm() > 0.0 { w[1].norm() / w[0].norm() } else { 0.0 };
    let at = |factor: Complex64| -> Result<f64> {
        let mut wk = w.clone();
        wk[1] *= factor;
        response(&TwinFields::from_basis(&p.basis, &wk)?, spec, target, [0.0; 3])
    };
    let r0 = at(Complex64::new(1.0, 0.0))?;
    let (se_a, se_p) = (p.amplitude.se, p.phase_deg.se);
    let dln_a = if se_a > 0.0 && se_a.is_finite() && amplitude > 0.0 && w.len() >= 2 {
        let d = se_a / amplitude;
        (at(Complex64::new(1.0 + d, 0.0))? - at(Complex64::new(1.0 - d, 0.0))?) / (2.0 * se_a * r0)
    } else {
        0.0
    };
    let dln_p = if se_p > 0.0 && se_p.is_finite() && w.len() >= 2 {
        let ph = se_p.to_radians();
        (at(Complex64::from_polar(1.0, ph))? - at(Complex64::from_polar(1.0, -ph))?) / (2.0 * se_p * r0)
    } else {
        0.0
    };
    Ok(TwinPosteriorFacts {
        amplitude,
        amplitude_se: if se_a.is_finite() { se_a } else { 0.0 },
        dln_per_amplitude: dln_a,
        phase_se_deg: if se_p.is_finite() { se_p } else { 0.0 },
        dln_per_deg: dln_p,
    })
}

/// The implant (`path_m`, coil frame, tip first) or coil-only (`None`) facts of the budget.
#[allow(clippy::too_many_arguments)]
pub(super) fn facts(
    recipe: &Recipe,
    fields: &TwinFields,
    phantom: &crate::coil::PhantomConfig,
    posterior: Option<&Posterior>,
    posterior_missing: &str,
    path_m: Option<&[[f64; 3]]>,
    fine_cell_m: f64,
    cem43: Option<Cem43Curves>,
) -> Result<BudgetFacts> {
    let set: &UncertaintySettings = &recipe.uncertainty;
    let spec = &recipe.normalisation;
    let (sigma, eps_r) = (phantom.material.sigma_s_per_m, phantom.material.eps_r);
    let freq = fields.freq_hz;
    let tf_at = |len: f64, s: f64, e: f64| TransferFunction::analytic_bare_wire(len, TF_SAMPLES, freq, e, s);
    let target = match path_m {
        Some(path) => Target::Implant {
            tf: tf_at(crate::implant::model::path_length(path), sigma, eps_r),
            path,
        },
        None => Target::Coil,
    };
    let twin = posterior.map(|p| posterior_facts(p, spec, &target)).transpose()?;
    let r0 = response(fields, spec, &target, [0.0; 3])?;
    let ref0 = reference(fields, spec)?;
    // The linear model's d ln SAR / d σ: the local σ (+1) less the normalisation's (whole-phantom SAR: −1).
    let wb = matches!(spec, NormaliseSpec::WholePhantom(_) | NormaliseSpec::Mode(_));
    let linear = if wb { 0.0 } else { 1.0 / sigma };
    let (dln_mm, dln_sigma, dln_eps, response_text, gel_method) = match &target {
        Target::Implant { path, .. } => {
            let d_mm = if set.placement_mm > 0.0 { set.placement_mm } else { 1.0 };
            let mut g = [0.0; 3];
            for (a, ga) in g.iter_mut().enumerate() {
                let mut sp = [0.0; 3];
                sp[a] = d_mm * 1e-3;
                let plus = local(fields, &target, sp)? / ref0;
                sp[a] = -d_mm * 1e-3;
                let minus = local(fields, &target, sp)? / ref0;
                *ga = (plus - minus) / (2.0 * d_mm * r0);
            }
            let len = crate::implant::model::path_length(path);
            let tl = |s: f64, e: f64| -> Result<f64> {
                let t = Target::Implant { tf: tf_at(len, s, e), path };
                response(fields, spec, &t, [0.0; 3])
            };
            let [s0, s1] = set.gel_sigma_s_per_m;
            let hs = (0.5 * (s1 - s0)).max(1e-3 * sigma);
            let d_sigma = (tl(sigma + hs, eps_r)? - tl(sigma - hs, eps_r)?) / (2.0 * hs * r0) + linear;
            let [e0, e1] = set.gel_eps_r;
            let he = (0.5 * (e1 - e0)).max(1e-3 * eps_r);
            let d_eps = (tl(sigma, eps_r + he)? - tl(sigma, eps_r - he)?) / (2.0 * he * r0);
            (
                g,
                d_sigma,
                d_eps,
                "the transmission-line tip response |∫ S E_tan dl|² of a bare wire of the implant's length in the gel (larger of the two ends), over the normalisation's reference".to_string(),
                format!(
                    "sensitivity: central difference of the transmission-line tip response over the half-range (the gel's complex wavenumber) plus the linear model SAR = σ|E|² locally ({}), no new FDTD run",
                    if wb { "normalised to whole-phantom SAR ∝ σ|E|²: the local factor cancels to first order" } else { "normalised to B1+ or input power: SAR ∝ σ" }
                ),
            )
        }
        Target::Coil => (
            [0.0; 3],
            linear,
            0.0,
            "the coarse grid's peak point SAR over the normalisation's reference (no implant)".to_string(),
            format!(
                "sensitivity from the linear model SAR = σ|E|² ({}); εr does not enter it (not covered)",
                if wb { "normalised to whole-phantom SAR: cancels to first order" } else { "SAR ∝ σ" }
            ),
        ),
    };
    Ok(BudgetFacts {
        response: response_text,
        twin,
        twin_missing: posterior_missing.to_string(),
        dln_per_mm: dln_mm,
        sigma_s_per_m: sigma,
        dln_per_sigma: dln_sigma,
        eps_r,
        dln_per_eps_r: dln_eps,
        gel_method,
        fine_cell_m: path_m.map(|_| fine_cell_m),
        cem43,
    })
}
