//! Section "Methods and standards": method notes and the standards followed (no numbers).

use crate::report::Section;

/// Method notes and the standards followed, as a section (no numbers).
pub fn section() -> Section {
    Section::new("Methods and standards")
        .paragraph(
            "Fields: finite-difference time-domain (FDTD) model of the birdcage body coil with the phantom \
             (complex peak phasors, time convention e^{{+iωt}}); B1+ = (Bx + i·By)/2. The coil twin is the \
             model whose drive weights were fitted so that |B1+| matches the measured map (map matching, \
             after Long et al., IEEE TIM 2022).",
        )
        .paragraph(
            "SAR: local SAR = σ|E|²/(2ρ); whole-phantom SAR normalised to the recipe's target; peak 1 g and \
             10 g averaged SAR by cube averaging following IEC/IEEE 62704-1.",
        )
        .paragraph(
            "Heating: Pennes bioheat equation without perfusion in the gel, heated by the normalised SAR for \
             the exposure time; the temperature rise ΔT is relative to the start. Thermal dose CEM43 by \
             Sapareto–Dewey (R = 0.5 at or above 43 °C, 0.25 below).",
        )
        .paragraph(
            "Test set-up: ASTM F2182 (RF-induced heating near passive implants in a gel phantom). Operating \
             modes and whole-body SAR limits: IEC 60601-2-33 (normal mode 2 W/kg, first level 4 W/kg). \
             Implant lead transfer functions: ISO/TS 10974 Tier 3 style.",
        )
        .paragraph(
            "Criteria: a criterion passes when the computed value multiplied by its uncertainty factor is at \
             most the limit. The verdict concerns this model; it does not replace the measurements the \
             standards require.",
        )
}
