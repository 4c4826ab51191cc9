//! Validation cases of the implant stage (run by `rftwin validate`; the tests in
//! `tests/implant_tf.rs` check the same physics with more detail).
//!
//! Both run at 300 MHz in ASTM-like gel (εr 80, 0.47 S/m) on 2 mm cells, so that a half-wave bare
//! wire (π / Re k = 55 mm) is ~27 cells and each FDTD run takes seconds.

use super::model::Implant;
use super::tf::{compute_tf, medium_wavenumber, tip_field_direct, TfOptions};
use crate::error::Result;
use crate::validation_case::{CaseResult, ValidationCase};

pub fn cases() -> Vec<ValidationCase> {
    vec![
        ValidationCase {
            name: "implant_tf_reciprocity",
            run: implant_tf_reciprocity,
        },
        ValidationCase {
            name: "implant_bare_wire_resonance",
            run: implant_bare_wire_resonance,
        },
        ValidationCase {
            name: "implant_tip_sar_resonance_64mhz",
            run: implant_tip_sar_resonance_64mhz,
        },
        ValidationCase {
            name: "implant_tip_sar_grid_convergence",
            run: implant_tip_sar_grid_convergence,
        },
    ]
}

fn opts() -> TfOptions {
    TfOptions {
        freq_hz: 300e6,
        cell_m: 2e-3,
        pad_m: 0.012,
        cpml_layers: 6,
        tol: 2e-3,
        ..TfOptions::default()
    }
}

fn bare_wire(len: f64) -> Result<Implant> {
    Implant::from_toml_str(
        &format!("kind = \"bare_wire\"\nmaterial = \"ti6al4v\"\nlength_m = {len}\nradius_m = 0.0005\n"),
        "validation bare wire",
    )
}

/// The transfer function of a 48 mm bare wire (current source in the tip gap) against a direct
/// run with a 1 V delta-gap source in the wire 23 mm from the tip: the tip-gap field must equal
/// S(l) × 1 V (Lorentz reciprocity; the piecewise-excitation method of ISO/TS 10974).
fn implant_tf_reciprocity() -> Result<CaseResult> {
    let opt = opts();
    let imp = bare_wire(0.048)?;
    let tf = compute_tf(&imp, &opt)?;
    let l = 0.023;
    let i = tf
        .l_m
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - l).abs().total_cmp(&(b.1 - l).abs()))
        .map(|(i, _)| i)
        .unwrap_or(0);
    let direct = tip_field_direct(&imp, &opt, tf.l_m[i])?;
    let expected = tf.s(i);
    let err = (direct / expected - 1.0).norm();
    Ok(CaseResult::with_error(
        "implant_tf_reciprocity",
        "tip-gap field of a 1 V delta gap 23 mm along a 48 mm bare wire in gel (300 MHz) vs S(l) x 1 V from the reciprocity transfer function",
        "Lorentz reciprocity (ISO/TS 10974 Tier 3: TF by reciprocity = piecewise excitation)",
        expected.norm(),
        direct.norm(),
        "V/m",
        err,
        "complex relative",
        0.02,
    ))
}

/// Resonant length of a bare wire: the peak over L of |∫ S dl|² (the tip estimate in a uniform
/// tangential field), from three wire lengths and a parabola, against λ_eff/2 = π / Re k with
/// k = ω sqrt(μ0 (ε0 εr − iσ/ω)) of the gel. Measured −12.2 % with the sub-cell thin wire (−14 %
/// with the zero-thickness PEC edges used before issue 18; the transmission-line model's own peak of
/// |tan(kL/2)/k|² is at −2.6 %, so the FDTD peak is −9.8 % from it): the tolerance stays 15 %.
fn implant_bare_wire_resonance() -> Result<CaseResult> {
    let opt = opts();
    let k = medium_wavenumber(opt.freq_hz, opt.eps_r, opt.sigma_s_per_m);
    let half_wave = std::f64::consts::PI / k.re;
    let lengths = [0.040, 0.048, 0.056];
    let mut g = Vec::new();
    for &len in &lengths {
        g.push(compute_tf(&bare_wire(len)?, &opt)?.integral().norm_sqr());
    }
    let h = lengths[1] - lengths[0];
    let peak = if g[1] > g[0] && g[1] > g[2] {
        lengths[1] + 0.5 * h * (g[0] - g[2]) / (g[0] - 2.0 * g[1] + g[2])
    } else {
        f64::NAN
    };
    Ok(CaseResult::relative(
        "implant_bare_wire_resonance",
        "resonant length (peak of |∫ S dl|^2 over L) of a bare wire in gel at 300 MHz vs lambda_eff/2",
        "lambda_eff/2 = pi / Re k, k = w sqrt(mu0 (eps0 eps_r - i sigma / w)) (transmission-line model of a bare wire)",
        half_wave,
        peak,
        "m",
        0.15,
    ))
}

/// Peak 1 g SAR (W/kg) next to a straight wire of `length_m` (bare, radius 0.5 mm, or insulated:
/// outer radius `insulation`, εr 3, 1 cm bare ends) centred in the ASTM F2182 gel along z, in a
/// 64 MHz plane wave travelling along x with E = 100 V/m along the wire (uniform tangential field),
/// from the fine-grid local run (TF/SF box, sub-cell thin wire) at `cell_m`. Also returns the FDTD
/// seconds.
pub fn wire_tip_sar_1g(length_m: f64, cell_m: f64, insulation: Option<f64>) -> Result<(f64, f64)> {
    wire_tip_sar_1g_with(length_m, 0.0005, cell_m, 0.015, insulation)
}

/// [`wire_tip_sar_1g`] with the conductor radius and the gel pad around the wire (m) given.
pub fn wire_tip_sar_1g_with(
    length_m: f64,
    radius_m: f64,
    cell_m: f64,
    pad_m: f64,
    insulation: Option<f64>,
) -> Result<(f64, f64)> {
    use super::local::{run_local, LocalOptions};
    use super::placement::{place, Placement};
    use crate::coil::PhantomConfig;
    use crate::dosimetry::sar::mass_averaged_sar;
    use num_complex::Complex64;
    use std::sync::Arc;
    let phantom =
        PhantomConfig::from_toml_str(include_str!("../../phantoms/astm_f2182.toml"), "astm_f2182 (built in)")?;
    let toml = match insulation {
        None => format!("kind = \"bare_wire\"\nmaterial = \"ti6al4v\"\nlength_m = {length_m}\nradius_m = {radius_m}\n"),
        Some(b) => format!(
            "kind = \"insulated_wire\"\nmaterial = \"ti6al4v\"\nlength_m = {length_m}\nradius_m = {radius_m}\n\
             [insulation]\nthickness_m = {}\neps_r = 3.0\nbare_ends_m = [0.01, 0.01]\n",
            b - radius_m
        ),
    };
    let implant = Implant::from_toml_str(&toml, "validation wire")?;
    let placed = place(
        &implant,
        &phantom,
        &Placement::new("validation", [0.0; 3], [0.0, 0.0, 1.0], 0.0)?,
    )?;
    let m = &phantom.material;
    let e0 = [0.0, 0.0, 100.0].map(|v| Complex64::new(v, 0.0));
    let pw = Arc::new(crate::fdtd::PlaneWave::new(
        64e6,
        m.eps_r,
        m.sigma_s_per_m,
        [1.0, 0.0, 0.0],
        e0,
        [0.0; 3],
    )?);
    let opt = LocalOptions {
        cell_m,
        pad_m,
        ..LocalOptions::default()
    };
    let t0 = std::time::Instant::now();
    let lf = run_local(&placed, &phantom, pw, &opt)?;
    let secs = t0.elapsed().as_secs_f64();
    Ok((mass_averaged_sar(&lf.sar_input(true)?, 1e-3)?.peak.sar_w_per_kg, secs))
}

/// The peak of samples `g` at equally spaced `x` by a parabola through the largest sample and its
/// neighbours (NaN when the largest sample is at an end).
pub fn parabolic_peak(x: &[f64], g: &[f64]) -> f64 {
    let i = (0..g.len()).max_by(|a, b| g[*a].total_cmp(&g[*b])).unwrap_or(0);
    if i == 0 || i + 1 >= g.len() {
        return f64::NAN;
    }
    let h = x[i] - x[i - 1];
    x[i] + 0.5 * h * (g[i - 1] - g[i + 1]) / (g[i - 1] - 2.0 * g[i] + g[i + 1])
}

/// The length that maximises the transmission-line tip response of a bare wire in a uniform
/// tangential field, `|E_tip|² ∝ |∫ sin(k(L−l))/sin(kL) dl|² = |tan(kL/2) / k|²`, with the complex
/// wavenumber k of the medium (scanned in 0.1 mm steps up to 1.5 λ_eff). With loss it lies below
/// λ_eff/2 = π / Re k (ASTM gel at 64 MHz: 0.184 m vs 0.216 m).
pub fn tl_resonant_length(k: num_complex::Complex64) -> f64 {
    let top = 1.5 * 2.0 * std::f64::consts::PI / k.re;
    let mut best = (0.0, 0.0);
    let mut l = 1e-4;
    while l < top {
        let g = ((k * (0.5 * l)).tan() / k).norm_sqr();
        if g > best.0 {
            best = (g, l);
        }
        l += 1e-4;
    }
    best.1
}

/// Bare wire in the ASTM gel at 64 MHz: the peak 1 g SAR at the tips against the wire length
/// (10-30 cm in 2 cm steps, 3 mm fine grid with the sub-cell thin wire, the wire driven by a
/// uniform tangential plane wave through the TF/SF box) peaks at the resonant length the
/// transmission-line model predicts from the gel's complex wavenumber,
/// `L_res = argmax_L |tan(kL/2) / k|²` with `k = ω sqrt(μ0 (ε0 εr − iσ/ω))` (0.184 m; λ_eff/2 = π/Re k
/// = 0.216 m is the lossless value). Tolerance 10 %.
fn implant_tip_sar_resonance_64mhz() -> Result<CaseResult> {
    let k = medium_wavenumber(64e6, 80.0, 0.47);
    let reference = tl_resonant_length(k);
    let lengths: Vec<f64> = (0..11).map(|i| 0.10 + 0.02 * i as f64).collect();
    let mut g = Vec::new();
    for &l in &lengths {
        g.push(wire_tip_sar_1g(l, 0.003, None)?.0);
    }
    let peak = parabolic_peak(&lengths, &g);
    Ok(CaseResult::relative(
        "implant_tip_sar_resonance_64mhz",
        "length of peak tip 1 g SAR of a bare wire in ASTM gel (64 MHz plane wave along the wire, TF/SF box, thin wire, 3 mm) vs the transmission-line resonant length",
        "L_res = argmax |tan(kL/2)/k|^2, k = w sqrt(mu0 (eps0 eps_r - i sigma/w)) (0.184 m; pi/Re k = 0.216 m)",
        reference,
        peak,
        "m",
        0.10,
    ))
}

/// Grid convergence of the tip 1 g SAR: a 5 cm bare wire (radius 0.2 mm) in the ASTM gel in the
/// 64 MHz plane wave of [`wire_tip_sar_1g`], fine grid at 1 mm and at 0.5 mm (the sub-cell thin
/// wire at 0.2 and 0.4 cell radius). The 0.5 mm value is the reference; tolerance 10 %.
fn implant_tip_sar_grid_convergence() -> Result<CaseResult> {
    let (coarse, _) = wire_tip_sar_1g_with(0.05, 0.0002, 0.001, 0.008, None)?;
    let (fine, _) = wire_tip_sar_1g_with(0.05, 0.0002, 0.0005, 0.008, None)?;
    Ok(CaseResult::relative(
        "implant_tip_sar_grid_convergence",
        "peak tip 1 g SAR of a 5 cm bare wire (radius 0.2 mm) in ASTM gel, 64 MHz plane wave along the wire, 1 mm vs 0.5 mm fine grid",
        "the same run at 0.5 mm cells",
        fine,
        coarse,
        "W/kg",
        0.10,
    ))
}
