//! The validation case types, below every module that defines cases: each `*/validation.rs` builds
//! its cases from these, and `validate` collects the lists (one direction, no cycle).

use serde::Serialize;

use crate::error::Result;

/// The outcome of one validation case.
#[derive(Clone, Debug, Serialize)]
pub struct CaseResult {
    /// Short machine name, e.g. `pec_cavity_te101`.
    pub case: String,
    /// What is compared, in words.
    pub description: String,
    /// Where the reference comes from (formula or citation).
    pub reference_source: String,
    /// Reference value.
    pub reference: f64,
    /// Measured value.
    pub measured: f64,
    /// Unit of reference and measured.
    pub unit: String,
    /// Error as defined by `error_kind` (relative, absolute, dB...).
    pub error: f64,
    /// Tolerance on `error` (pass when error <= tolerance).
    pub tolerance: f64,
    /// How `error` is defined, e.g. "relative", "absolute", "dB".
    pub error_kind: String,
    pub pass: bool,
    /// Wall time of the case (s).
    pub seconds: f64,
}

impl CaseResult {
    /// A result whose error is `|measured - reference| / |reference|`.
    pub fn relative(
        case: &str,
        description: &str,
        reference_source: &str,
        reference: f64,
        measured: f64,
        unit: &str,
        tolerance: f64,
    ) -> Self {
        let error = ((measured - reference) / reference).abs();
        Self::with_error(
            case,
            description,
            reference_source,
            reference,
            measured,
            unit,
            error,
            "relative",
            tolerance,
        )
    }

    /// A result with an explicitly computed error (must be finite to pass).
    #[allow(clippy::too_many_arguments)]
    pub fn with_error(
        case: &str,
        description: &str,
        reference_source: &str,
        reference: f64,
        measured: f64,
        unit: &str,
        error: f64,
        error_kind: &str,
        tolerance: f64,
    ) -> Self {
        Self {
            case: case.into(),
            description: description.into(),
            reference_source: reference_source.into(),
            reference,
            measured,
            unit: unit.into(),
            error,
            tolerance,
            error_kind: error_kind.into(),
            pass: error.is_finite() && error <= tolerance,
            seconds: 0.0,
        }
    }
}

/// A named validation case.
pub struct ValidationCase {
    pub name: &'static str,
    pub run: fn() -> Result<CaseResult>,
}

/// Runs one case, timing it; an error becomes a failed result.
pub fn run_case(c: &ValidationCase) -> CaseResult {
    let t0 = std::time::Instant::now();
    let mut r = match (c.run)() {
        Ok(r) => r,
        Err(e) => CaseResult::with_error(
            c.name,
            &format!("case failed to run: {e}"),
            "-",
            f64::NAN,
            f64::NAN,
            "-",
            f64::NAN,
            "-",
            0.0,
        ),
    };
    r.seconds = t0.elapsed().as_secs_f64();
    r
}
