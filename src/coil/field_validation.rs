//! Validation cases of the coil field maps (FDTD birdcage + B1 algebra), each against an analytic
//! reference with a stated tolerance. The coil and phantom definitions are the shipped TOMLs,
//! embedded so the cases run from any directory.

use num_complex::Complex64;

use super::run::{simulate_ideal, SimulateOptions};
use crate::coil::{CoilConfig, PhantomConfig};
use crate::error::Result;
use crate::grid::{EPS0, MU0};
use crate::validation_case::{CaseResult, ValidationCase};

const BODY_15T: &str = include_str!("../../coils/body_1p5t_hp16.toml");
const BODY_3T: &str = include_str!("../../coils/body_3t_hp16.toml");
const CYLINDER: &str = include_str!("../../phantoms/cylinder_r150.toml");

/// The coil-field cases.
pub fn cases() -> Vec<ValidationCase> {
    vec![
        ValidationCase {
            name: "coil_empty_b1_homogeneity",
            run: case_homogeneity,
        },
        ValidationCase {
            name: "coil_empty_b1_minus",
            run: case_b1_minus,
        },
        ValidationCase {
            name: "coil_resonant_quadrature_b1_minus",
            run: case_resonant_quadrature,
        },
        ValidationCase {
            name: "coil_cylinder_bessel_64mhz",
            run: || case_bessel(BODY_15T, "coils/body_1p5t_hp16.toml"),
        },
        ValidationCase {
            name: "coil_cylinder_bessel_128mhz",
            run: || case_bessel(BODY_3T, "coils/body_3t_hp16.toml"),
        },
    ]
}

fn opts(cell_m: f64) -> SimulateOptions {
    let mut o = SimulateOptions::default();
    o.mesh.cell_m = cell_m;
    o
}

struct Empty {
    worst: f64,
    minus_ratio: f64,
}

fn empty_coil() -> Result<Empty> {
    let coil = CoilConfig::from_toml_str(BODY_15T, "coils/body_1p5t_hp16.toml")?;
    let f = simulate_ideal(&coil, None, &opts(0.015), None)?;
    let b0 = f.b1_plus.sample([0.0; 3]).norm() as f64;
    // Central third of the diameter: r <= R/3 in the z = 0 plane.
    let rmax = coil.rung_radius_m / 3.0;
    let mut worst = 0.0f64;
    for ir in 0..=12 {
        let r = rmax * ir as f64 / 12.0;
        for ia in 0..24 {
            let a = 2.0 * std::f64::consts::PI * ia as f64 / 24.0;
            let b = f.b1_plus.sample([r * a.cos(), r * a.sin(), 0.0]).norm() as f64;
            worst = worst.max((b / b0 - 1.0).abs());
        }
    }
    let minus_ratio = f.b1_minus.sample([0.0; 3]).norm() as f64 / b0;
    Ok(Empty { worst, minus_ratio })
}

fn case_homogeneity() -> Result<CaseResult> {
    let e = empty_coil()?;
    Ok(CaseResult::with_error(
        "coil_empty_b1_homogeneity",
        "empty 1.5 T body coil, ideal quadrature drive, 15 mm cells: max deviation of |B1+| from its centre value over the central third of the diameter (z = 0)",
        "homogeneous mode of an ideal birdcage: uniform transverse field inside (Hayes et al., JMR 63, 1985)",
        0.0,
        e.worst,
        "relative",
        e.worst,
        "max |B1+/B1+(0) - 1|",
        0.05,
    ))
}

fn case_b1_minus() -> Result<CaseResult> {
    let e = empty_coil()?;
    Ok(CaseResult::with_error(
        "coil_empty_b1_minus",
        "empty 1.5 T body coil, ideal quadrature drive: |B1-| / |B1+| at the centre",
        "a quadrature-driven birdcage makes a purely co-rotating field at the centre",
        0.0,
        e.minus_ratio,
        "-",
        e.minus_ratio,
        "ratio",
        0.05,
    ))
}

fn case_resonant_quadrature() -> Result<CaseResult> {
    let coil = CoilConfig::from_toml_str(BODY_15T, "coils/body_1p5t_hp16.toml")?;
    let (f, t) = super::run::simulate_resonant(&coil, None, &opts(0.02), 12000, 0.005, None)?;
    let ratio = f.b1_minus.sample([0.0; 3]).norm() as f64 / f.b1_plus.sample([0.0; 3]).norm() as f64;
    Ok(CaseResult::with_error(
        "coil_resonant_quadrature_b1_minus",
        &format!(
            "empty 1.5 T body coil, resonant model (FDTD-tuned to {:.3} MHz in {} sweeps, ring C {:.2} pF), two ports in quadrature, 20 mm cells: |B1-| / |B1+| at the centre",
            t.homogeneous_hz / 1e6,
            t.sweeps.len(),
            t.capacitors.ring_f.unwrap_or(0.0) * 1e12
        ),
        "quadrature drive of a tuned birdcage makes a co-rotating field at the centre",
        0.0,
        ratio,
        "-",
        ratio,
        "ratio",
        0.05,
    ))
}

/// J0 of a complex argument (power series; |z| < ~10 here).
fn bessel_j0(z: Complex64) -> Complex64 {
    let q = -(z * z) / 4.0;
    let mut term = Complex64::new(1.0, 0.0);
    let mut sum = term;
    for m in 1..60 {
        term *= q / (m as f64 * m as f64);
        sum += term;
        if term.norm() < 1e-17 * sum.norm() {
            break;
        }
    }
    sum
}

fn case_bessel(coil_toml: &str, coil_name: &str) -> Result<CaseResult> {
    let coil = CoilConfig::from_toml_str(coil_toml, coil_name)?;
    let ph = PhantomConfig::from_toml_str(CYLINDER, "phantoms/cylinder_r150.toml")?;
    let f = simulate_ideal(&coil, Some(&ph), &opts(0.01), None)?;
    let m = ph.em_material();
    let a = ph.max_radius_m();
    let w = 2.0 * std::f64::consts::PI * f.freq_hz;
    // e^{+i w t}: eps_c = eps - i sigma / w; k^2 = w^2 mu eps_c.
    let eps_c = Complex64::new(EPS0 * m.eps_r, -m.sigma_s_per_m / w);
    let k = (Complex64::new(w * w * MU0, 0.0) * eps_c).sqrt();
    // Samples inside 0.9 a of the central slice; best complex scale of the reference.
    let mut sim = Vec::new();
    let mut refv = Vec::new();
    for ir in 0..=18 {
        let r = 0.9 * a * ir as f64 / 18.0;
        for ia in 0..16 {
            let t = 2.0 * std::f64::consts::PI * ia as f64 / 16.0;
            let b = f.b1_plus.sample([r * t.cos(), r * t.sin(), 0.0]);
            sim.push(Complex64::new(b.re as f64, b.im as f64));
            refv.push(bessel_j0(k * r));
        }
    }
    let num: Complex64 = sim.iter().zip(&refv).map(|(s, r)| s * r.conj()).sum();
    let den: f64 = refv.iter().map(|r| r.norm_sqr()).sum();
    let scale = num / den;
    let mag_sim: Vec<f64> = sim.iter().map(|s| s.norm()).collect();
    let mag_ref: Vec<f64> = refv.iter().map(|r| (r * scale).norm()).collect();
    let rms_ref = (mag_ref.iter().map(|x| x * x).sum::<f64>() / mag_ref.len() as f64).sqrt();
    let rmse = (mag_sim.iter().zip(&mag_ref).map(|(s, r)| (s - r).powi(2)).sum::<f64>() / mag_ref.len() as f64).sqrt();
    let nrmse = rmse / rms_ref;
    // Centre-to-edge contrast of the reference, to show the regime (brightening at 128 MHz).
    let contrast = bessel_j0(Complex64::new(0.0, 0.0)).norm() / bessel_j0(k * (0.9 * a)).norm();
    let mhz = (f.freq_hz / 1e6).round();
    Ok(CaseResult::with_error(
        &format!("coil_cylinder_bessel_{mhz}mhz"),
        &format!(
            "central-slice |B1+| in a lossy cylinder (r {:.0} mm, eps_r {}, {} S/m) in the ideal-drive body coil at {:.1} MHz, 10 mm cells, vs A J0(kr) (analytic centre/edge ratio {:.2})",
            a * 1e3,
            m.eps_r,
            m.sigma_s_per_m,
            f.freq_hz / 1e6,
            contrast
        ),
        "infinite lossy cylinder in a uniform circularly polarised field: B1+ = A J0(kr), k^2 = w^2 mu (eps - i sigma/w) (Glover et al., JMRI 1985; Collins 2016 review)",
        0.0,
        nrmse,
        "-",
        nrmse,
        "NRMSE of |B1+| over r < 0.9 a",
        0.05,
    ))
}
