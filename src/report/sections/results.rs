//! The assessment's overall results, the quantities the criteria read ([`crate::report::keys::SAR_1G`]
//! …), and its wall time.

use crate::report::keys;
use crate::report::Report;

/// The worst case over the implants, or the coarse grid's SAR when the recipe has no implant.
#[derive(Clone, Copy, Debug)]
pub enum Overall {
    Implants {
        sar_1g_w_per_kg: f64,
        sar_10g_w_per_kg: f64,
        temperature_rise_k: f64,
        cem43_min: f64,
    },
    CoarseGrid {
        sar_1g_w_per_kg: f64,
        sar_10g_w_per_kg: f64,
    },
}

/// Adds the overall quantities to `r`.
pub fn add_quantities(r: &mut Report, o: &Overall) {
    match *o {
        Overall::Implants {
            sar_1g_w_per_kg,
            sar_10g_w_per_kg,
            temperature_rise_k,
            cem43_min,
        } => {
            r.quantity(keys::SAR_1G, sar_1g_w_per_kg, "W/kg", "peak 1 g SAR over all implants");
            r.quantity(keys::SAR_10G, sar_10g_w_per_kg, "W/kg", "peak 10 g SAR over all implants");
            r.quantity(
                keys::TEMPERATURE_RISE,
                temperature_rise_k,
                "K",
                "largest temperature rise over all implants",
            );
            r.quantity(
                keys::CEM43,
                cem43_min,
                "min",
                "largest CEM43 at the probes over all implants",
            );
        }
        Overall::CoarseGrid {
            sar_1g_w_per_kg,
            sar_10g_w_per_kg,
        } => {
            r.quantity(
                keys::SAR_1G,
                sar_1g_w_per_kg,
                "W/kg",
                "peak 1 g SAR (coarse grid, no implant)",
            );
            r.quantity(
                keys::SAR_10G,
                sar_10g_w_per_kg,
                "W/kg",
                "peak 10 g SAR (coarse grid, no implant)",
            );
        }
    }
}

/// Adds the assessment's wall time (s).
pub fn add_run_time(r: &mut Report, seconds: f64) {
    r.quantity(keys::TIMING_RUN, seconds, "s", "wall time of the assessment");
}
