//! Normalisation of a field solution to a whole-phantom SAR, a B1+rms at the isocentre, an input power,
//! or an IEC 60601-2-33 operating mode.
//!
//! All field solutions are linear in the drive amplitude, so normalising means one factor on the fields
//! (`field_factor`) and its square on every power, SAR and loss density (`power_factor`). Apply it with
//! [`crate::dosimetry::sar::SarInput::scaled`].
//!
//! B1+rms: for continuous RF the rotating `B1+` has constant magnitude, so its time rms equals the peak
//! phasor magnitude `|B1+|` of the solution; a pulsed sequence's B1+rms (which includes the duty cycle)
//! scales the time-averaged SAR in the same way, so the same factor applies to time-averaged heating.

use serde::{Deserialize, Serialize};

use super::sar::WholePhantomSar;
use crate::error::{Error, Result};

/// IEC 60601-2-33 operating modes and their whole-body SAR limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OperatingMode {
    /// Normal operating mode: whole-body SAR 2 W/kg.
    Normal,
    /// First level controlled operating mode: whole-body SAR 4 W/kg.
    FirstLevel,
}

impl OperatingMode {
    /// Whole-body SAR limit of the mode (W/kg), IEC 60601-2-33.
    pub fn whole_body_sar_w_per_kg(self) -> f64 {
        match self {
            OperatingMode::Normal => 2.0,
            OperatingMode::FirstLevel => 4.0,
        }
    }
}

/// What to normalise to (selectable in config, e.g. `{ kind = "operating_mode", mode = "normal" }`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NormaliseTarget {
    /// Whole-phantom (whole-body) SAR (W/kg).
    WholePhantomSar { sar_w_per_kg: f64 },
    /// B1+rms at the isocentre (µT), given the solution's `|B1+|` there (µT, peak phasor magnitude).
    B1PlusRms {
        b1_plus_rms_ut: f64,
        solution_b1_plus_ut: f64,
    },
    /// Input (forward) power (W), given the solution's input power (W).
    InputPower {
        input_power_w: f64,
        solution_input_power_w: f64,
    },
    /// The whole-body SAR limit of an IEC 60601-2-33 operating mode, applied as whole-phantom SAR.
    OperatingMode { mode: OperatingMode },
}

/// A normalisation: its target, the factors and the resulting whole-phantom SAR.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Normalisation {
    pub target: NormaliseTarget,
    /// Factor on every power, SAR and loss density.
    pub power_factor: f64,
    /// Factor on E and B fields (`sqrt(power_factor)`).
    pub field_factor: f64,
    /// Whole-phantom SAR after normalisation (W/kg).
    pub whole_phantom_sar_w_per_kg: f64,
}

fn positive(key: &str, v: f64) -> Result<f64> {
    if !(v > 0.0) || !v.is_finite() {
        return Err(Error::input(
            "normalisation",
            key,
            format!("{v} is not positive and finite"),
            "give a positive, finite normalisation value",
        ));
    }
    Ok(v)
}

/// Computes the factors that bring a solution with whole-phantom values `whole` to `target`.
pub fn normalise(whole: &WholePhantomSar, target: &NormaliseTarget) -> Result<Normalisation> {
    let power_factor = match *target {
        NormaliseTarget::WholePhantomSar { sar_w_per_kg } => {
            positive("sar_w_per_kg", sar_w_per_kg)?
                / positive(
                    "solution whole-phantom SAR (W/kg; no power absorbed?)",
                    whole.sar_w_per_kg,
                )?
        }
        NormaliseTarget::OperatingMode { mode } => {
            mode.whole_body_sar_w_per_kg()
                / positive(
                    "solution whole-phantom SAR (W/kg; no power absorbed?)",
                    whole.sar_w_per_kg,
                )?
        }
        NormaliseTarget::B1PlusRms {
            b1_plus_rms_ut,
            solution_b1_plus_ut,
        } => (positive("b1_plus_rms_ut", b1_plus_rms_ut)? / positive("solution_b1_plus_ut", solution_b1_plus_ut)?)
            .powi(2),
        NormaliseTarget::InputPower {
            input_power_w,
            solution_input_power_w,
        } => positive("input_power_w", input_power_w)? / positive("solution_input_power_w", solution_input_power_w)?,
    };
    Ok(Normalisation {
        target: *target,
        power_factor,
        field_factor: power_factor.sqrt(),
        whole_phantom_sar_w_per_kg: whole.sar_w_per_kg * power_factor,
    })
}
