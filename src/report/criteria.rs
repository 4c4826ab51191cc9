//! Safety criteria: `value + U ≤ limit → PASS` with the expanded uncertainty U of the criterion's
//! budget ([`super::sections::budget`], quantity `uncertainty.<id>.expanded`), or `value × factor ≤
//! limit` when the recipe sets an uncertainty factor > 1 instead (or the report has no budget); and
//! the thermal dose CEM43.
//!
//! Either way the computed value is inflated by its uncertainty before it is compared with the limit
//! (ISO/TS 10974 style conservative assessment); which one was used is recorded
//! (`criteria.<id>.expanded_uncertainty` exists only when the budget was used).
//!
//! CEM43 (cumulative equivalent minutes at 43 °C, Sapareto & Dewey, Int. J. Radiat. Oncol. Biol. Phys.
//! 10, 1984): `CEM43 = ∫ R^(43 − T(t)) dt / 60 s`, with `R = 0.5` for T ≥ 43 °C and `R = 0.25` below.
//! The temperature is taken piecewise linear between samples and each piece is integrated exactly
//! (`∫ R^(43−T) dt = Δt (R^(43−T0) − R^(43−T1)) / ((T1 − T0) ln R)`), split where it crosses 43 °C.
//! For slowly varying curves this equals the usual discrete sum `Σ R^(43−T_i) Δt_i`.

use serde::{Deserialize, Serialize};

use super::{CriterionResult, Quantity, Report, Verdict};
use crate::error::{Error, Result};

/// Report quantity keys the standard criteria read. The pipeline stores its results under these.
/// (Defined in [`super::keys`].)
pub const KEY_TEMPERATURE_RISE: &str = super::keys::TEMPERATURE_RISE;
pub const KEY_SAR_1G: &str = super::keys::SAR_1G;
pub const KEY_SAR_10G: &str = super::keys::SAR_10G;
pub const KEY_CEM43: &str = super::keys::CEM43;

/// One criterion: which quantity, its limit (in the quantity's unit) and the uncertainty factor.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Criterion {
    /// Short id, e.g. `temperature_rise`.
    pub id: String,
    /// Human label, e.g. `Maximum temperature rise at the implant`.
    pub label: String,
    /// Key of the quantity the criterion limits.
    pub value_key: String,
    /// Unit the limit is in; must equal the quantity's unit.
    pub unit: String,
    pub limit: f64,
    /// ≥ 1.
    pub uncertainty_factor: f64,
}

/// Evaluates one criterion on a value: `value × factor ≤ limit`.
pub fn passes(value: f64, uncertainty_factor: f64, limit: f64) -> Verdict {
    if value.is_finite() && value * uncertainty_factor <= limit {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// Evaluates one criterion with an expanded uncertainty: `value + U ≤ limit`.
pub fn passes_with_uncertainty(value: f64, expanded: f64, limit: f64) -> Verdict {
    if value.is_finite() && expanded.is_finite() && value + expanded <= limit {
        Verdict::Pass
    } else {
        Verdict::Fail
    }
}

/// Evaluates `criteria` against the report's quantities, adds the quantities
/// `criteria.<id>.{uncertainty_factor,assessed,limit}` (and `expanded_uncertainty` when the budget's U
/// was used: factor 1 and a quantity `uncertainty.<id>.expanded` in the criterion's unit) and the
/// results, and returns the overall verdict. Errors (missing quantity, unit mismatch, bad factor or
/// limit) name the criterion.
pub fn evaluate(report: &mut Report, criteria: &[Criterion]) -> Result<Verdict> {
    for c in criteria {
        let src = format!("criterion '{}'", c.id);
        let q = report.get(&c.value_key).cloned().ok_or_else(|| {
            Error::input(
                &src,
                &c.value_key,
                "the report has no such quantity",
                "run the stage that computes it or remove the criterion",
            )
        })?;
        if q.unit != c.unit {
            return Err(Error::input(
                &src,
                "unit",
                format!("limit is in '{}' but {} is in '{}'", c.unit, c.value_key, q.unit),
                "give the limit in the quantity's unit",
            ));
        }
        if !(c.uncertainty_factor >= 1.0) || !c.uncertainty_factor.is_finite() {
            return Err(Error::input(
                &src,
                "uncertainty_factor",
                format!("{} is not a finite number ≥ 1", c.uncertainty_factor),
                "use 1 for no margin, e.g. 1.5 for a 50 % uncertainty",
            ));
        }
        if !(c.limit > 0.0) || !c.limit.is_finite() {
            return Err(Error::input(
                &src,
                "limit",
                format!("{} is not positive", c.limit),
                "give a positive limit",
            ));
        }
        let budget_u = report
            .get(&super::keys::Uncertainty::Expanded.key(&c.id))
            .filter(|u| c.uncertainty_factor == 1.0 && u.unit == c.unit)
            .map(|u| u.value);
        let (assessed, verdict) = match budget_u {
            Some(u) => (q.value + u, passes_with_uncertainty(q.value, u, c.limit)),
            None => (q.value * c.uncertainty_factor, passes(q.value, c.uncertainty_factor, c.limit)),
        };
        let r = CriterionResult {
            id: c.id.clone(),
            label: c.label.clone(),
            value_key: c.value_key.clone(),
            verdict,
        };
        report.add_quantity(Quantity::new(
            &r.factor_key(),
            c.uncertainty_factor,
            "",
            &format!("uncertainty factor applied to {}", c.value_key),
        ));
        report.add_quantity(Quantity::new(
            &r.assessed_key(),
            assessed,
            &c.unit,
            &match budget_u {
                Some(_) => format!("{} + expanded uncertainty U", c.value_key),
                None => format!("{} × uncertainty factor", c.value_key),
            },
        ));
        let u_key = super::keys::Criterion::ExpandedUncertainty.key(&c.id);
        match budget_u {
            Some(u) => report.add_quantity(Quantity::new(
                &u_key,
                u,
                &c.unit,
                &format!("expanded uncertainty U added to {} (budget, k from the recipe)", c.value_key),
            )),
            None => report.quantities.retain(|x| x.key != u_key),
        }
        report.add_quantity(Quantity::new(
            &r.limit_key(),
            c.limit,
            &c.unit,
            &format!("limit: {}", c.label),
        ));
        report.criteria.retain(|x| x.id != r.id);
        report.criteria.push(r);
    }
    Ok(report.verdict())
}

/// Sapareto–Dewey rate: 0.5 at or above 43 °C, 0.25 below.
fn rate(t_c: f64) -> f64 {
    if t_c >= 43.0 {
        0.5
    } else {
        0.25
    }
}

/// `∫ R^(43 − T) dt` (seconds) over a linear piece T0 → T1 of duration `dt` on one side of 43 °C.
fn piece(t0: f64, t1: f64, dt: f64) -> f64 {
    let r = rate(0.5 * (t0 + t1));
    let (f0, f1) = (r.powf(43.0 - t0), r.powf(43.0 - t1));
    let d = t1 - t0;
    if d.abs() < 1e-9 {
        return dt * 0.5 * (f0 + f1);
    }
    dt * (f0 - f1) / (d * r.ln())
}

/// CEM43 in minutes from a temperature–time curve (seconds, °C), linear between samples.
pub fn cem43_minutes(times_s: &[f64], temps_c: &[f64]) -> Result<f64> {
    let src = "CEM43 temperature curve";
    if times_s.len() != temps_c.len() || times_s.len() < 2 {
        return Err(Error::input(
            src,
            "samples",
            format!("{} times and {} temperatures", times_s.len(), temps_c.len()),
            "give at least two (time, temperature) samples of equal count",
        ));
    }
    if times_s.iter().chain(temps_c).any(|x| !x.is_finite()) {
        return Err(Error::input(
            src,
            "samples",
            "non-finite value",
            "remove NaN/Inf samples",
        ));
    }
    let mut total = 0.0;
    for i in 1..times_s.len() {
        let dt = times_s[i] - times_s[i - 1];
        if !(dt >= 0.0) {
            return Err(Error::input(
                src,
                &format!("time[{i}]"),
                format!("time goes backwards ({} s after {} s)", times_s[i], times_s[i - 1]),
                "sort the samples by time",
            ));
        }
        let (t0, t1) = (temps_c[i - 1], temps_c[i]);
        if (t0 - 43.0) * (t1 - 43.0) < 0.0 {
            let f = (43.0 - t0) / (t1 - t0);
            total += piece(t0, 43.0, f * dt) + piece(43.0, t1, (1.0 - f) * dt);
        } else {
            total += piece(t0, t1, dt);
        }
    }
    Ok(total / 60.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cem43_matches_hand_calculations() {
        // 10 min at 44 °C: 10 × 0.5^(−1) = 20 min.
        let v = cem43_minutes(&[0.0, 600.0], &[44.0, 44.0]).unwrap();
        assert!((v - 20.0).abs() < 1e-9, "{v}");
        // 60 min at 41 °C: 60 × 0.25^2 = 3.75 min.
        let v = cem43_minutes(&[0.0, 1800.0, 3600.0], &[41.0, 41.0, 41.0]).unwrap();
        assert!((v - 3.75).abs() < 1e-9, "{v}");
        // Ramp 43 → 45 °C over 2 min: ∫0^2 2^t dt = 3 / ln 2 = 4.328085 min.
        let v = cem43_minutes(&[0.0, 120.0], &[43.0, 45.0]).unwrap();
        assert!((v - 3.0 / 2f64.ln()).abs() < 1e-9, "{v}");
        // Ramp 42 → 44 °C over 2 min crosses 43 °C: ∫0^1 4^(t−1) dt + ∫0^1 2^t dt
        // = 0.75 / ln 4 + 1 / ln 2 = 0.541011 + 1.442695 = 1.983706 min.
        let v = cem43_minutes(&[0.0, 120.0], &[42.0, 44.0]).unwrap();
        assert!((v - (0.75 / 4f64.ln() + 1.0 / 2f64.ln())).abs() < 1e-9, "{v}");
        // Body temperature for 15 min: 15 × 0.25^6 = 3.66e-3 min.
        let v = cem43_minutes(&[0.0, 900.0], &[37.0, 37.0]).unwrap();
        assert!((v - 15.0 * 0.25f64.powi(6)).abs() < 1e-12, "{v}");
    }

    #[test]
    fn cem43_agrees_with_the_discrete_sum_on_a_fine_curve() {
        // Smooth heating curve 37 → 45 °C; discrete midpoint sum with 1 s steps as an independent check.
        let n = 3601;
        let t: Vec<f64> = (0..n).map(|i| i as f64).collect();
        let temp: Vec<f64> = t.iter().map(|&s| 37.0 + 8.0 * (1.0 - (-s / 900.0).exp())).collect();
        let exact = cem43_minutes(&t, &temp).unwrap();
        let mut sum = 0.0;
        for i in 1..n {
            let tm = 0.5 * (temp[i] + temp[i - 1]);
            sum += rate(tm).powf(43.0 - tm) * 1.0;
        }
        sum /= 60.0;
        assert!((exact - sum).abs() / sum < 1e-4, "{exact} vs {sum}");
    }

    #[test]
    fn cem43_rejects_bad_curves() {
        assert!(cem43_minutes(&[0.0], &[37.0]).is_err());
        assert!(cem43_minutes(&[0.0, 1.0], &[37.0, f64::NAN]).is_err());
        let e = cem43_minutes(&[0.0, 2.0, 1.0], &[37.0, 38.0, 39.0])
            .unwrap_err()
            .to_string();
        assert!(e.contains("time[2]"), "{e}");
    }

    #[test]
    fn criterion_passes_just_below_and_fails_just_above() {
        let mut r = Report::new("t");
        r.quantity(KEY_TEMPERATURE_RISE, 1.6, "K", "max ΔT");
        let c = |limit: f64| Criterion {
            id: "temperature_rise".into(),
            label: "ΔT".into(),
            value_key: KEY_TEMPERATURE_RISE.into(),
            unit: "K".into(),
            limit,
            uncertainty_factor: 1.25,
        };
        // Assessed value 1.6 × 1.25 = 2.0 K.
        assert_eq!(evaluate(&mut r, &[c(2.0 * (1.0 + 1e-9))]).unwrap(), Verdict::Pass);
        assert_eq!(evaluate(&mut r, &[c(2.0 * (1.0 - 1e-9))]).unwrap(), Verdict::Fail);
        assert_eq!(r.criteria.len(), 1);
        assert!((r.get("criteria.temperature_rise.assessed").unwrap().value - 2.0).abs() < 1e-12);
        let mut bad = c(2.0);
        bad.unit = "°C".into();
        assert!(evaluate(&mut r, &[bad]).unwrap_err().to_string().contains("unit"));
        let mut bad = c(2.0);
        bad.uncertainty_factor = 0.5;
        assert!(evaluate(&mut r, &[bad]).is_err());
    }
}
