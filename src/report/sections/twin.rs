//! Section "Coil twin": where the coil's fields come from (a twin directory, the ideal drive, or the
//! calibration to a measured map with its fitted parameters and their 95 % intervals). The
//! normalisation adds its paragraph and figure to this section (see [`super::normalisation`]).

use std::path::PathBuf;

use crate::report::keys::{self, Interval, Placement};
use crate::report::{Cell, Report, Section, Table};
use crate::twin::joint::Estimate;
use crate::twin::JointFit;

/// The coil and phantom of a model twin.
#[derive(Clone, Debug)]
pub struct ModelFacts {
    pub coil_name: String,
    pub phantom_name: String,
    /// Coarse FDTD cell (m).
    pub cell_m: f64,
    pub freq_hz: f64,
    /// The coil model of the basis fields.
    pub model: crate::coil::run::DriveModel,
}

/// A calibration of the model to a measured |B1+| map.
#[derive(Clone, Debug)]
pub struct CalibrationFacts {
    /// The measured map.
    pub measured: PathBuf,
    /// Unit of the fit's residuals ("uT", or "% of nominal" for a relative map) and the factor from
    /// the fit's values (µT or fraction) to it.
    pub map_unit: String,
    pub map_scale: f64,
    /// What the map's stored numbers were (e.g. "deg × 10, nominal 80°").
    pub stored_as: String,
    /// SNR, voxels used, coverage of the phantom, the mask.
    pub quality: crate::b1::MapQuality,
    pub fit: JointFit,
    /// FDTD basis runs made (not from the cache).
    pub fdtd_runs: usize,
    /// Wall time of the calibration (s).
    pub seconds: f64,
    /// The map-matching figure (measured, twin, residual).
    pub figure: PathBuf,
}

/// Where the twin's fields came from.
#[derive(Clone, Debug)]
pub enum TwinFacts {
    /// A twin directory written by `rftwin twin fit`, with its fit's NRMSE when recorded.
    Loaded { dir: PathBuf, nrmse: Option<f64> },
    /// The model driven in ideal quadrature (no measured map).
    Ideal(ModelFacts),
    /// The model calibrated to a measured map.
    Calibrated(ModelFacts, Box<CalibrationFacts>),
}

const TITLE: &str = "Coil twin";

/// Adds the twin's quantities to `r` and returns its section (without the normalisation).
pub fn section(r: &mut Report, t: &TwinFacts) -> Section {
    match t {
        TwinFacts::Loaded { dir, nrmse } => {
            let mut section = Section::new(TITLE).paragraph(format!(
                "The coil twin was loaded from {} (calibrated earlier by rftwin twin fit).",
                dir.display()
            ));
            if let Some(n) = nrmse {
                let k = r.quantity(keys::twin::NRMSE, 100.0 * n, "%", "B1+ map matching NRMSE inside the mask");
                section = section.paragraph(format!("Map-matching NRMSE of that fit: {{{k}}}."));
            }
            section
        }
        TwinFacts::Ideal(m) => {
            let (cell_key, freq_key) = model_quantities(r, m);
            let drive = match m.model {
                crate::coil::run::DriveModel::Ideal => "ideal quadrature drive",
                crate::coil::run::DriveModel::Cosim => {
                    "the co-simulated resonant coil (capacitors tuned to Larmor) driven at its two feeds in nominal quadrature"
                }
            };
            Section::new(TITLE).paragraph(format!(
                "Coil {} at {{{freq_key}}}, phantom {}, coarse cell {{{cell_key}}}: {drive} \
                 (no measured map given, so no calibration).",
                m.coil_name, m.phantom_name
            ))
        }
        TwinFacts::Calibrated(m, c) => calibrated_section(r, m, c),
    }
}

fn model_quantities(r: &mut Report, m: &ModelFacts) -> (String, String) {
    let cell_key = r.quantity(keys::twin::CELL, m.cell_m * 1e3, "mm", "coarse FDTD cell of the coil twin");
    let freq_key = r.quantity(keys::twin::FREQUENCY, m.freq_hz / 1e6, "MHz", "RF frequency (Larmor)");
    (cell_key, freq_key)
}

/// Adds a fitted value and its 95 % interval (each × `scale`); returns a table row.
fn estimate_row(r: &mut Report, label: String, key: &str, e: &Estimate, scale: f64, unit: &str, what: &str) -> Vec<Cell> {
    let kv = r.quantity(key, e.value * scale, unit, what);
    let kl = r.quantity(&Interval::Low.key(key), e.ci95[0] * scale, unit, "95 % interval, low");
    let kh = r.quantity(&Interval::High.key(key), e.ci95[1] * scale, unit, "95 % interval, high");
    vec![Cell::text(label), Cell::q(&kv), Cell::q(&kl), Cell::q(&kh)]
}

fn calibrated_section(r: &mut Report, m: &ModelFacts, c: &CalibrationFacts) -> Section {
    let (cell_key, freq_key) = model_quantities(r, m);
    let f = &c.fit;
    let k_nrmse = r.quantity(
        keys::twin::NRMSE,
        100.0 * f.nrmse,
        "%",
        "B1+ map matching NRMSE inside the mask",
    );
    let k_corr = r.quantity(
        keys::twin::CORRELATION,
        f.correlation,
        "",
        "correlation of measured and twin |B1+|",
    );
    let k_p95 = r.quantity(
        keys::twin::P95_ABS_RESIDUAL,
        f.p95_abs_residual * c.map_scale,
        &c.map_unit,
        "95th percentile of |twin - measured|",
    );
    let mut rows = vec![
        estimate_row(
            r,
            "Port-2 relative amplitude".into(),
            keys::twin::PORT2_RELATIVE_AMPLITUDE,
            &f.relative_amplitude,
            1.0,
            "",
            "fitted amplitude of the second quadrature channel relative to the first",
        ),
        estimate_row(
            r,
            "Port-2 phase error".into(),
            keys::twin::PORT2_PHASE_ERROR,
            &f.relative_phase_deg,
            1.0,
            "°",
            "fitted phase error of the second channel",
        ),
    ];
    let k_runs = r.quantity(
        keys::twin::FDTD_RUNS,
        c.fdtd_runs as f64,
        "",
        "FDTD basis runs made (not from the cache)",
    );
    let k_time = r.quantity(keys::twin::CALIBRATION_TIME, c.seconds, "s", "wall time of the calibration");
    let q = &c.quality;
    let k_snr = r.quantity(
        keys::twin::MAP_SNR,
        q.snr,
        "",
        &format!("signal-to-noise ratio of the measured map (noise from the {})", q.noise_from),
    );
    let k_used = r.quantity(keys::twin::MAP_VOXELS_USED, q.voxels_used as f64, "", "measured voxels fitted");
    let k_cov = r.quantity(
        keys::twin::MAP_PHANTOM_COVERAGE,
        100.0 * q.phantom_fraction_covered,
        "%",
        "fraction of the phantom (eroded by the partial-volume margin) the fitted voxels cover",
    );
    let fitted = fitted_rows(r, f, &mut rows);
    Section::new(TITLE)
        .paragraph(format!(
            "Coil {} at {{{freq_key}}}, phantom {}, coarse cell {{{cell_key}}}. The twin was calibrated to the \
             measured |B1+| map {} by superposition of the two {} basis fields (no new FDTD \
             run per fit iteration). Fitted: {fitted}. Map matching: NRMSE {{{k_nrmse}}}, correlation \
             {{{k_corr}}}, 95th-percentile residual {{{k_p95}}}. FDTD runs made: {{{k_runs}}} \
             (the rest came from the basis cache); calibration time {{{k_time}}}.",
            m.coil_name,
            m.phantom_name,
            c.measured.display(),
            match m.model {
                crate::coil::run::DriveModel::Ideal => "ideal-drive",
                crate::coil::run::DriveModel::Cosim => "feed (co-simulated resonant coil)",
            }
        ))
        .paragraph(format!(
            "The map ({}) was fitted on {{{k_used}}} voxels (mask: {}; the automatic mask keeps the voxels \
             inside the phantom at its fitted placement, {:.1} mm from its walls, above the background's noise \
             floor), covering {{{k_cov}}} of the phantom; its signal-to-noise ratio is {{{k_snr}}}.",
            c.stored_as,
            q.mask,
            q.margin_m * 1e3
        ))
        .table(Table {
            caption: "Fitted twin parameters with 95 % intervals (Jacobian at the optimum)".into(),
            header: vec!["Parameter".into(), "Value".into(), "95 % low".into(), "95 % high".into()],
            rows,
        })
        .figure(
            &c.figure,
            "twin_fit.png",
            "Measured map with the outline of the voxels fitted, twin |B1+| and residual (coronal slice through the map centre).",
        )
}

/// The optional fitted parameters (gel, phantom offset and rotation): their rows, and what was fitted.
fn fitted_rows(r: &mut Report, f: &JointFit, rows: &mut Vec<Vec<Cell>>) -> String {
    let mut fitted = "drive weights (overall scale, second-channel amplitude and phase)".to_string();
    if let (Some(sg), Some(ep)) = (&f.sigma_s_per_m, &f.eps_r) {
        fitted += ", gel conductivity and permittivity";
        let gel_sigma = "fitted gel conductivity";
        rows.push(estimate_row(r, "Gel conductivity".into(), keys::twin::GEL_SIGMA, sg, 1.0, "S/m", gel_sigma));
        let gel_eps = "fitted gel relative permittivity";
        rows.push(estimate_row(r, "Gel permittivity".into(), keys::twin::GEL_EPS_R, ep, 1.0, "", gel_eps));
    }
    // Placement estimates: (estimates, what, key, label, scale, unit, description).
    let placement = [
        (
            &f.offset_m,
            "phantom offset",
            Placement::Offset,
            "Phantom offset",
            1e3,
            "mm",
            "fitted phantom offset",
        ),
        (
            &f.rotation_deg,
            "phantom rotation",
            Placement::Rotation,
            "Phantom rotation about",
            1.0,
            "deg",
            "fitted phantom rotation (rotation vector about its centre)",
        ),
    ];
    for (est, what, key, label, scale, unit, desc) in placement {
        let Some(o) = est else { continue };
        fitted += &format!(", {what}");
        for (a, name) in ["x", "y", "z"].iter().enumerate() {
            rows.push(estimate_row(r, format!("{label} {name}"), &key.key(name), &o[a], scale, unit, desc));
        }
    }
    fitted
}
