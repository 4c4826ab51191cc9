//! One source of truth for physics validation: each case is defined once here (or in the module it
//! checks), with its reference, tolerance and citation. `rftwin validate` runs the list; the tests
//! under `tests/` call the same definitions.

pub use crate::validation_case::{run_case, CaseResult, ValidationCase};

/// Every validation case rftwin knows, in the order `rftwin validate` runs them.
pub fn all_cases() -> Vec<ValidationCase> {
    let mut v = Vec::new();
    v.extend(crate::fdtd::validation::cases());
    v.extend(crate::coil::validation::cases());
    v.extend(crate::coil::field_validation::cases());
    v.extend(crate::coil::cosim_validation::cases());
    v.extend(crate::dosimetry::validation::cases());
    v.extend(crate::twin::validation::cases());
    v.extend(crate::twin::openems_fit::cases());
    v.extend(crate::twin::openems_fit::slow_cases());
    v.extend(crate::implant::validation::cases());
    v.extend(crate::implant::lead_validation::cases());
    v
}

