//! Section "Assessment set-up": the recipe's normalisation, exposure, coil, implant placements and
//! criteria limits as quantities and one table.

use crate::dosimetry::normalise::OperatingMode;
use crate::dosimetry::run::NormaliseSpec;
use crate::report::keys::{self, SetupImplant};
use crate::report::recipe::{ImplantPlacement, Orientation, Recipe, TwinSource};
use crate::report::{Cell, Report, Section, Table};

const AXES: [&str; 3] = ["x", "y", "z"];

/// Adds the set-up quantities of `recipe` to `r` and returns the section that shows them.
pub fn section(r: &mut Report, recipe: &Recipe) -> Section {
    let mut rows = vec![normalisation_row(r, &recipe.normalisation)];
    exposure_rows(r, recipe, &mut rows);
    coil_rows(r, recipe, &mut rows);
    for (i, im) in recipe.implants.iter().enumerate() {
        implant_rows(r, i, im, &mut rows);
    }
    for c in &recipe.criteria {
        let k = r.quantity(&keys::setup::limit(&c.id), c.limit, &c.unit, &format!("limit: {}", c.label));
        rows.push(vec![Cell::text("Criterion"), Cell::text(c.label.clone()), Cell::q(&k)]);
    }
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
        })
}

fn normalisation_row(r: &mut Report, spec: &NormaliseSpec) -> Vec<Cell> {
    let (label, k) = match *spec {
        NormaliseSpec::WholePhantom(v) => (
            "Whole-phantom SAR",
            r.quantity(
                keys::setup::WHOLE_PHANTOM_SAR,
                v,
                "W/kg",
                "normalisation target: whole-phantom SAR",
            ),
        ),
        NormaliseSpec::B1RmsUt(v) => (
            "B1+rms at the isocentre",
            r.quantity(
                keys::setup::B1_PLUS_RMS,
                v,
                "µT",
                "normalisation target: B1+rms at the isocentre",
            ),
        ),
        NormaliseSpec::PowerW(v) => (
            "Input power",
            r.quantity(keys::setup::INPUT_POWER, v, "W", "normalisation target: input power"),
        ),
        NormaliseSpec::Mode(m) => {
            let k = r.quantity(
                keys::setup::WHOLE_PHANTOM_SAR,
                m.whole_body_sar_w_per_kg(),
                "W/kg",
                "normalisation target: whole-body SAR limit of the operating mode",
            );
            let name = match m {
                OperatingMode::Normal => "Normal operating mode (whole-phantom SAR)",
                OperatingMode::FirstLevel => "First level controlled mode (whole-phantom SAR)",
            };
            (name, k)
        }
    };
    vec![Cell::text("Normalisation"), Cell::text(label), Cell::q(&k)]
}

fn exposure_rows(r: &mut Report, recipe: &Recipe, rows: &mut Vec<Vec<Cell>>) {
    let k = r.quantity(
        keys::setup::EXPOSURE_TIME,
        recipe.exposure_s / 60.0,
        "min",
        "RF exposure time",
    );
    rows.push(vec![
        Cell::text("Exposure"),
        Cell::text("RF exposure time"),
        Cell::q(&k),
    ]);
    let t = recipe.baseline_temperature();
    let (what, desc) = if recipe.baseline_temperature_c.is_some() {
        ("Baseline temperature (recipe)", "baseline temperature: CEM43 is computed from it")
    } else {
        (
            "Baseline temperature (default; [exposure] baseline_temperature_c)",
            "baseline temperature (default): CEM43 is computed from it",
        )
    };
    let k = r.quantity(keys::setup::BASELINE_TEMPERATURE, t, "°C", desc);
    rows.push(vec![Cell::text("Exposure"), Cell::text(what), Cell::q(&k)]);
}

/// How the recipe's coil model is named in the report.
fn model_words(m: crate::coil::run::DriveModel) -> &'static str {
    match m {
        crate::coil::run::DriveModel::Cosim => "co-simulated resonant coil",
        crate::coil::run::DriveModel::Ideal => "ideal drive",
    }
}

fn coil_rows(r: &mut Report, recipe: &Recipe, rows: &mut Vec<Vec<Cell>>) {
    let twin = &recipe.twin;
    let source = match twin {
        TwinSource::Dir(d) => format!("calibrated twin {}", recipe.display_path(d)),
        TwinSource::Model {
            measured: Some(m), model, ..
        } => format!("coil + phantom ({}) calibrated to {}", model_words(*model), recipe.display_path(m)),
        TwinSource::Model { measured: None, model, .. } => format!(
            "coil + phantom ({}), nominal quadrature drive (not calibrated)",
            model_words(*model)
        ),
    };
    rows.push(vec![
        Cell::text("Coil"),
        Cell::text("Source of the fields"),
        Cell::text(source),
    ]);
    if let TwinSource::Model { cell_m: Some(h), .. } = twin {
        let k = r.quantity(
            keys::setup::CELL_SIZE,
            h * 1e3,
            "mm",
            "coarse FDTD cell size of the coil model",
        );
        rows.push(vec![Cell::text("Coil"), Cell::text("Cell size"), Cell::q(&k)]);
    }
}

/// Implant `i` (0-based): position, then the orientation (axis direction and roll, or Euler angles).
fn implant_rows(r: &mut Report, i: usize, im: &ImplantPlacement, rows: &mut Vec<Vec<Cell>>) {
    let item = || Cell::text(format!("Implant {}", im.name));
    for (a, axis) in AXES.iter().enumerate() {
        let k = r.quantity(
            &SetupImplant::Position(axis).key(i),
            im.position_m[a] * 1e3,
            "mm",
            &format!("{}: position {axis} in the phantom frame", im.name),
        );
        rows.push(vec![item(), Cell::text(format!("Position {axis}")), Cell::q(&k)]);
    }
    let (label, last) = match &im.orientation {
        Orientation::Direction { direction: d, roll_deg } => {
            let k = r.quantity(
                &SetupImplant::Roll.key(i),
                *roll_deg,
                "°",
                &format!("{}: roll about its axis", im.name),
            );
            for (a, axis) in AXES.iter().enumerate() {
                let kk = r.quantity(
                    &SetupImplant::Direction(axis).key(i),
                    d[a],
                    "",
                    &format!("{}: axis direction {axis} (unit vector)", im.name),
                );
                rows.push(vec![item(), Cell::text(format!("Axis direction {axis}")), Cell::q(&kk)]);
            }
            ("Roll", k)
        }
        Orientation::EulerZyzDeg(e) => {
            let mut last = String::new();
            for (a, ang) in ["alpha", "beta", "gamma"].iter().enumerate() {
                last = r.quantity(
                    &SetupImplant::Euler(ang).key(i),
                    e[a],
                    "°",
                    &format!("{}: z-y-z Euler angle {ang}", im.name),
                );
                if a < 2 {
                    rows.push(vec![item(), Cell::text(format!("Euler {ang}")), Cell::q(&last)]);
                }
            }
            ("Euler gamma", last)
        }
    };
    rows.push(vec![item(), Cell::text(label), Cell::q(&last)]);
}
