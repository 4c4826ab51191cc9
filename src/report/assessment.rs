//! Pieces of an assessment report that depend only on the recipe: the report started from a recipe
//! (title, inputs with SHA-256, the set-up as quantities and a table) and the method notes. The
//! pipeline adds its result quantities, sections and figures, then calls [`finish`].

use super::criteria::{self, Criterion};
use super::recipe::{Orientation, Recipe, TwinSource};
use super::{Cell, Report, Section, Table, Verdict};
use crate::dosimetry::normalise::OperatingMode;
use crate::dosimetry::run::NormaliseSpec;
use crate::error::Result;

/// A report started from a recipe: title and description, every input file hashed, the set-up
/// (normalisation, exposure, implant placements, criteria limits) as quantities, and a first section
/// "Assessment set-up" that shows them.
pub fn start(recipe: &Recipe) -> Result<Report> {
    let mut r = Report::new(&recipe.title);
    r.subtitle = recipe.description.clone();
    r.inputs = recipe.hash_inputs()?;

    let mut rows = Vec::new();
    let norm = match recipe.normalisation {
        NormaliseSpec::WholePhantom(v) => {
            let k = r.quantity(
                "setup.whole_phantom_sar",
                v,
                "W/kg",
                "normalisation target: whole-phantom SAR",
            );
            ("Whole-phantom SAR", Cell::q(&k))
        }
        NormaliseSpec::B1RmsUt(v) => {
            let k = r.quantity(
                "setup.b1_plus_rms",
                v,
                "µT",
                "normalisation target: B1+rms at the isocentre",
            );
            ("B1+rms at the isocentre", Cell::q(&k))
        }
        NormaliseSpec::PowerW(v) => {
            let k = r.quantity("setup.input_power", v, "W", "normalisation target: input power");
            ("Input power", Cell::q(&k))
        }
        NormaliseSpec::Mode(m) => {
            let k = r.quantity(
                "setup.whole_phantom_sar",
                m.whole_body_sar_w_per_kg(),
                "W/kg",
                "normalisation target: whole-body SAR limit of the operating mode",
            );
            let name = match m {
                OperatingMode::Normal => "Normal operating mode (whole-phantom SAR)",
                OperatingMode::FirstLevel => "First level controlled mode (whole-phantom SAR)",
            };
            (name, Cell::q(&k))
        }
    };
    rows.push(vec![Cell::text("Normalisation"), Cell::text(norm.0), norm.1]);
    let k = r.quantity(
        "setup.exposure_time",
        recipe.exposure_s / 60.0,
        "min",
        "RF exposure time",
    );
    rows.push(vec![
        Cell::text("Exposure"),
        Cell::text("RF exposure time"),
        Cell::q(&k),
    ]);
    if let Some(t) = recipe.baseline_temperature_c {
        let k = r.quantity("setup.baseline_temperature", t, "°C", "baseline temperature");
        rows.push(vec![
            Cell::text("Exposure"),
            Cell::text("Baseline temperature"),
            Cell::q(&k),
        ]);
    }
    let twin = match &recipe.twin {
        TwinSource::Dir(d) => format!("calibrated twin {}", d.display()),
        TwinSource::Model { measured: Some(m), .. } => format!("coil + phantom calibrated to {}", m.display()),
        TwinSource::Model { measured: None, .. } => "coil + phantom, ideal drive (not calibrated)".into(),
    };
    rows.push(vec![
        Cell::text("Coil"),
        Cell::text("Source of the fields"),
        Cell::text(twin),
    ]);
    if let TwinSource::Model { cell_m: Some(h), .. } = &recipe.twin {
        let k = r.quantity(
            "setup.cell_size",
            h * 1e3,
            "mm",
            "coarse FDTD cell size of the coil model",
        );
        rows.push(vec![Cell::text("Coil"), Cell::text("Cell size"), Cell::q(&k)]);
    }
    for (i, im) in recipe.implants.iter().enumerate() {
        for (a, axis) in ["x", "y", "z"].iter().enumerate() {
            let k = r.quantity(
                &format!("setup.implant{i}.position_{axis}"),
                im.position_m[a] * 1e3,
                "mm",
                &format!("{}: position {axis} in the phantom frame", im.name),
            );
            rows.push(vec![
                Cell::text(format!("Implant {}", im.name)),
                Cell::text(format!("Position {axis}")),
                Cell::q(&k),
            ]);
        }
        let orient = match &im.orientation {
            Orientation::Direction { direction: d, roll_deg } => {
                let k = r.quantity(
                    &format!("setup.implant{i}.roll"),
                    *roll_deg,
                    "°",
                    &format!("{}: roll about its axis", im.name),
                );
                for (a, axis) in ["x", "y", "z"].iter().enumerate() {
                    let kk = r.quantity(
                        &format!("setup.implant{i}.direction_{axis}"),
                        d[a],
                        "",
                        &format!("{}: axis direction {axis} (unit vector)", im.name),
                    );
                    rows.push(vec![
                        Cell::text(format!("Implant {}", im.name)),
                        Cell::text(format!("Axis direction {axis}")),
                        Cell::q(&kk),
                    ]);
                }
                Cell::q(&k)
            }
            Orientation::EulerZyzDeg(e) => {
                let mut last = String::new();
                for (a, ang) in ["alpha", "beta", "gamma"].iter().enumerate() {
                    last = r.quantity(
                        &format!("setup.implant{i}.euler_{ang}"),
                        e[a],
                        "°",
                        &format!("{}: z-y-z Euler angle {ang}", im.name),
                    );
                    if a < 2 {
                        rows.push(vec![
                            Cell::text(format!("Implant {}", im.name)),
                            Cell::text(format!("Euler {ang}")),
                            Cell::q(&last),
                        ]);
                    }
                }
                Cell::q(&last)
            }
        };
        let label = match &im.orientation {
            Orientation::Direction { .. } => "Roll",
            Orientation::EulerZyzDeg(_) => "Euler gamma",
        };
        rows.push(vec![
            Cell::text(format!("Implant {}", im.name)),
            Cell::text(label),
            orient,
        ]);
    }
    for c in &recipe.criteria {
        let k = r.quantity(
            &format!("setup.limit.{}", c.id),
            c.limit,
            &c.unit,
            &format!("limit: {}", c.label),
        );
        rows.push(vec![Cell::text("Criterion"), Cell::text(c.label.clone()), Cell::q(&k)]);
    }
    r.sections.push(
        Section::new("Assessment set-up")
            .paragraph(
                "The assessment as given by the recipe. Positions are in the phantom frame (origin at the \
                 centre of the phantom's bounding box); the fields are normalised before SAR and heating \
                 are computed.",
            )
            .table(Table {
                caption: "Set-up".into(),
                header: vec!["Item".into(), "Setting".into(), "Value".into()],
                rows,
            }),
    );
    Ok(r)
}

/// Method notes and the standards followed, as a section (no numbers).
pub fn methods_section() -> Section {
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

/// Evaluates the criteria on the report's quantities and returns the overall verdict.
pub fn finish(report: &mut Report, criteria: &[Criterion]) -> Result<Verdict> {
    criteria::evaluate(report, criteria)
}
