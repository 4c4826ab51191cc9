//! The normalisation's quantities, and its paragraph and figure in the section "Coil twin".

use std::path::Path;

use crate::report::keys::normalisation as key;
use crate::report::{Report, Section};

/// What the normalisation gave.
#[derive(Clone, Copy, Debug)]
pub struct NormalisationFacts {
    /// Whole-phantom SAR after normalisation (W/kg).
    pub whole_phantom_sar_w_per_kg: f64,
    /// Coil input power after normalisation (W).
    pub input_power_w: f64,
    /// |B1+| (peak) at the isocentre after normalisation (µT).
    pub b1_plus_isocentre_ut: f64,
    /// Mass of the phantom on the coarse grid (kg).
    pub phantom_mass_kg: f64,
}

/// Adds the normalisation's quantities to `r`.
pub fn add_quantities(r: &mut Report, n: &NormalisationFacts) {
    r.quantity(
        key::WHOLE_PHANTOM_SAR,
        n.whole_phantom_sar_w_per_kg,
        "W/kg",
        "whole-phantom SAR after normalisation",
    );
    r.quantity(
        key::INPUT_POWER,
        n.input_power_w,
        "W",
        "coil input power after normalisation (ideal drive, lossless coil)",
    );
    r.quantity(
        key::B1_PLUS_ISOCENTRE,
        n.b1_plus_isocentre_ut,
        "µT",
        "|B1+| (peak) at the isocentre after normalisation",
    );
    r.quantity(
        key::PHANTOM_MASS,
        n.phantom_mass_kg,
        "kg",
        "mass of the phantom on the coarse grid",
    );
}

/// The twin's section with the normalisation's paragraph and the figure of the normalised fields
/// (`twin_fields.png`).
pub fn extend_twin_section(twin: Section, fields_png: &Path) -> Section {
    let (k_wb, k_b1, k_p) = (key::WHOLE_PHANTOM_SAR, key::B1_PLUS_ISOCENTRE, key::INPUT_POWER);
    twin.paragraph(format!(
        "Normalised to whole-phantom SAR {{{k_wb}}}: |B1+| at the isocentre {{{k_b1}}}, coil input power {{{k_p}}}."
    ))
    .figure(
        fields_png,
        "twin_fields.png",
        "|B1+| and point SAR of the normalised twin on the coarse grid; implant positions marked.",
    )
}
