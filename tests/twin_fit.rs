//! Drive-weight fit on synthetic magnitude maps with known weights and noise.

use num_complex::Complex64;
use rftwin::twin::{fit_weights_complex, fit_weights_magnitude};

/// Two quadrature basis fields of a birdcage-like source pair plus a smooth inhomogeneity, sampled
/// on a disc; deterministic pseudo-random noise.
fn basis(n: usize) -> Vec<Vec<Complex64>> {
    let mut b0 = Vec::new();
    let mut b1 = Vec::new();
    for t in 0..n {
        let r = 0.15 * ((t * 7919) % n) as f64 / n as f64;
        let a = 2.0 * std::f64::consts::PI * ((t * 104729) % n) as f64 / n as f64;
        let (x, y) = (r * a.cos(), r * a.sin());
        // Linear modes with different spatial variation (as in a loaded coil).
        b0.push(Complex64::new(1.0 + 2.0 * x - 3.0 * y * y, 0.4 * x));
        b1.push(Complex64::new(0.3 * y, -1.0 - 1.5 * y + 2.0 * x * x));
    }
    vec![b0, b1]
}

struct Lcg(u64);
impl Lcg {
    fn normal(&mut self) -> f64 {
        let mut u = || {
            self.0 = self
                .0
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((self.0 >> 11) as f64 + 0.5) / (1u64 << 53) as f64
        };
        let (a, b) = (u(), u());
        (-2.0 * a.ln()).sqrt() * (2.0 * std::f64::consts::PI * b).cos()
    }
}

fn synth(bs: &[Vec<Complex64>], w: &[Complex64], noise: f64, rng: &mut Lcg) -> Vec<f64> {
    (0..bs[0].len())
        .map(|i| {
            let b: Complex64 = w.iter().zip(bs).map(|(w, b)| w * b[i]).sum();
            // Rician-like: noise on both quadratures, magnitude taken.
            let s = noise * w[0].norm();
            Complex64::new(b.re + s * rng.normal(), b.im + s * rng.normal()).norm()
        })
        .collect()
}

#[test]
fn recovers_imbalance_and_phase_error() {
    let bs = basis(2000);
    // Port 2 with 8 % amplitude imbalance and 4 degrees phase error (global phase removed).
    let truth = [Complex64::new(1.0, 0.0), Complex64::from_polar(1.08, 4f64.to_radians())];
    let m = synth(&bs, &truth, 0.02, &mut Lcg(42));
    let f = fit_weights_magnitude(&bs, &m).unwrap();
    let w1 = f.weight(1) / f.weight(0);
    assert!((w1.norm() / 1.08 - 1.0).abs() < 0.02, "amplitude {}", w1.norm());
    assert!(
        (w1.arg().to_degrees() - 4.0).abs() < 2.0,
        "phase {}",
        w1.arg().to_degrees()
    );
    // The fitted NRMSE equals the noise level (relative to the mean magnitude) within 10 %.
    let mean: f64 = m.iter().sum::<f64>() / m.len() as f64;
    let expected = 0.02 / mean;
    assert!(
        (f.nrmse / expected - 1.0).abs() < 0.1,
        "nrmse {} vs noise {}",
        f.nrmse,
        expected
    );
    assert!(f.correlation > 0.9);
    assert!(f.unidentifiable.is_empty());
}

#[test]
fn intervals_cover_the_truth() {
    let bs = basis(400);
    let truth = [
        Complex64::new(1.0, 0.0),
        Complex64::from_polar(0.95, -3f64.to_radians()),
    ];
    let mut covered = 0;
    let mut rng = Lcg(7);
    for _ in 0..100 {
        let m = synth(&bs, &truth, 0.02, &mut rng);
        let f = fit_weights_magnitude(&bs, &m).unwrap();
        // 95 % interval of Re w_1 (parameter index 1), after fixing the global phase as the fit does.
        let w1 = f.weight(1);
        if (w1.re - truth[1].re).abs() <= 1.96 * f.std_errors[1] {
            covered += 1;
        }
    }
    assert!(
        covered >= 90,
        "95 % intervals covered the truth in {covered} of 100 repeats"
    );
}

#[test]
fn dependent_basis_is_an_error_not_a_panic() {
    let bs = basis(100);
    let dup = vec![bs[0].clone(), bs[0].iter().map(|z| z * 2.0).collect()];
    let m: Vec<f64> = bs[0].iter().map(|z| z.norm()).collect();
    assert!(fit_weights_magnitude(&dup, &m).is_err());
}

/// Issue check: when the map has phase, the complex (linear) fit and the magnitude-only fit agree.
/// Same synthetic bases and truth, 2 % complex noise, an arbitrary global (transceive-like) phase on
/// the complex map; both fits within 2 % / 2 degrees of the truth and within the magnitude fit's 95 % interval
/// of each other.
#[test]
fn magnitude_only_and_complex_fits_agree() {
    let bs = basis(2000);
    let truth = [
        Complex64::new(1.0, 0.0),
        Complex64::from_polar(1.06, (-3f64).to_radians()),
    ];
    let mut rng = Lcg(7);
    let global = Complex64::from_polar(1.0, 0.7);
    let complex: Vec<Complex64> = (0..bs[0].len())
        .map(|i| {
            let b: Complex64 = truth.iter().zip(&bs).map(|(w, b)| w * b[i]).sum();
            global * b + Complex64::new(0.02 * rng.normal(), 0.02 * rng.normal())
        })
        .collect();
    let magnitude: Vec<f64> = complex.iter().map(|z| z.norm()).collect();
    let (wc, nrmse_c) = fit_weights_complex(&bs, &complex).unwrap();
    let fm = fit_weights_magnitude(&bs, &magnitude).unwrap();
    let rc = wc[1] / wc[0];
    let rm = fm.weight(1) / fm.weight(0);
    let deg = |z: Complex64| z.arg().to_degrees();
    eprintln!(
        "complex fit: {:.4} {:+.3} deg (NRMSE {:.4}); magnitude fit: {:.4} {:+.3} deg",
        rc.norm(),
        deg(rc),
        nrmse_c,
        rm.norm(),
        deg(rm)
    );
    for (name, r) in [("complex", rc), ("magnitude", rm)] {
        assert!((r.norm() / 1.06 - 1.0).abs() < 0.02, "{name}: amplitude {}", r.norm());
        assert!((deg(r) + 3.0).abs() < 2.0, "{name}: phase {}", deg(r));
    }
    // Agreement within the magnitude fit's own 95 % interval (phase is weakly determined by |B1+|
    // alone; the complex fit's errors are much smaller). Standard errors of the ratio by the delta
    // method from those of (Re w_0, Re w_1, Im w_1), covariances neglected.
    let (c, a, b) = (fm.weights[0][0], fm.weights[1][0], fm.weights[1][1]);
    let (sc, sa, sb) = (fm.std_errors[0], fm.std_errors[1], fm.std_errors[2]);
    let m1 = a.hypot(b);
    let se_amp = ((a * sa / m1).powi(2) + (b * sb / m1).powi(2)).sqrt() / c + m1 / c * sc / c;
    let se_phase_deg = ((b * sa).powi(2) + (a * sb).powi(2)).sqrt() / (m1 * m1) * 180.0 / std::f64::consts::PI;
    eprintln!("magnitude fit SE: amplitude {se_amp:.4}, phase {se_phase_deg:.3} deg");
    assert!(
        (rc.norm() - rm.norm()).abs() < 1.96 * se_amp,
        "amplitudes differ: {} vs {} (SE {se_amp})",
        rc.norm(),
        rm.norm()
    );
    assert!(
        (deg(rc) - deg(rm)).abs() < 1.96 * se_phase_deg,
        "phases differ: {} vs {} (SE {se_phase_deg} deg)",
        deg(rc),
        deg(rm)
    );
    // The global phase is removed: w_0 real and positive.
    assert!(wc[0].im.abs() < 1e-12 && wc[0].re > 0.0);
    // Complex residual at the noise level (2 % per quadrature on |B| ~ 1).
    assert!(nrmse_c > 0.015 && nrmse_c < 0.05, "complex NRMSE {nrmse_c}");
}
