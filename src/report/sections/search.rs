//! The sections of a worst-case search report (`rftwin implant search`): what was searched and how
//! the field was normalised, the ranking by the transfer-function estimate (mirror images merged),
//! the candidates confirmed by full fine-grid runs with heating, the worst confirmed values that the
//! criteria read ([`keys::SAR_1G`] …), and the transfer function along the lead.

use std::path::PathBuf;

use super::normalisation::{self, NormalisationFacts};
use crate::implant::model::Implant;
use crate::implant::search::{ConfirmResult, SearchOptions, SearchResult};
use crate::implant::tf::TransferFunction;
use crate::report::keys::{self, search as key};
use crate::report::{Cell, Report, Section, Table};

/// The figures of a search (PNG files written by the command).
#[derive(Clone, Debug)]
pub struct SearchFigures {
    pub map: PathBuf,
    pub confirm: Option<PathBuf>,
    pub tf_magnitude: PathBuf,
    pub tf_phase: PathBuf,
}

/// What a search computed.
pub struct SearchFacts<'a> {
    pub implant: &'a Implant,
    pub coil: &'a str,
    /// Where the coil field came from ("ideal quadrature drive", "calibrated twin", …).
    pub coil_field: &'a str,
    pub phantom: &'a str,
    pub freq_hz: f64,
    pub normalisation: &'a NormalisationFacts,
    /// The normalisation target in words.
    pub normalisation_target: String,
    pub exposure_s: f64,
    pub baseline_c: f64,
    pub options: &'a SearchOptions,
    pub result: &'a SearchResult,
    pub confirm: Option<&'a ConfirmResult>,
    pub tf: &'a TransferFunction,
    pub figures: SearchFigures,
}

const AXES: [&str; 3] = ["x", "y", "z"];

fn fmt_dir(d: [f64; 3]) -> String {
    format!(
        "({})",
        d.iter()
            .map(|v| crate::report::format_number(if v.abs() < 1e-12 { 0.0 } else { *v }))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Adds the search's quantities and sections to `r` (after the coil twin's section, when the field
/// came from a recipe's twin), and the worst confirmed values under the keys the criteria read.
pub fn add_sections(r: &mut Report, twin_section: Option<Section>, f: &SearchFacts) {
    normalisation::add_quantities(r, f.normalisation);
    let setup = setup_section(r, f);
    r.sections.push(setup);
    if let Some(t) = twin_section {
        r.sections.push(t);
    }
    let ranking = ranking_section(r, f);
    r.sections.push(ranking);
    if let Some(c) = f.confirm {
        let s = confirmed_section(r, f, c);
        r.sections.push(s);
    } else {
        r.sections.push(Section::new("Confirmation").paragraph(
            "No candidate was confirmed by a full run (--confirm 0): the ranking is an estimate and gives no \
             temperature or SAR, so no criterion is evaluated.",
        ));
    }
    let tf = tf_section(r, f);
    r.sections.push(tf);
}

fn setup_section(r: &mut Report, f: &SearchFacts) -> Section {
    let o = f.options;
    let res = f.result;
    r.quantity(key::PLACEMENTS_TRIED, res.tried as f64, "", "placements tried");
    r.quantity(
        key::PLACEMENTS_EVALUATED,
        res.evaluated as f64,
        "",
        "placements inside the gel with the wall margin",
    );
    let step = r.quantity(key::STEP, o.step_m[0] * 1e3, "mm", "position grid step");
    let exp = r.quantity(keys::setup::EXPOSURE_TIME, f.exposure_s, "s", "exposure (RF on)");
    let base = r.quantity(
        keys::setup::BASELINE_TEMPERATURE,
        f.baseline_c,
        "°C",
        "baseline temperature the CEM43 starts from",
    );
    let (wb, b1, p, m) = (
        keys::normalisation::WHOLE_PHANTOM_SAR,
        keys::normalisation::B1_PLUS_ISOCENTRE,
        keys::normalisation::INPUT_POWER,
        keys::normalisation::PHANTOM_MASS,
    );
    Section::new("Search set-up")
        .paragraph(format!(
            "Implant {} ({}) in the phantom {}, coil field: {} of {} at {:.3} MHz. The implant was swept over a \
         position grid of step {{{step}}} over the gel (at least {} mm from the walls), {} directions and {} roll \
         angle(s): {} placements tried, {} inside the gel. Each is ranked by the transfer-function \
         estimate |E_tip|² = |∫ S(l) E_tan(l) dl|² in the normalised incident field.",
            f.implant.name,
            f.implant.source_name,
            f.phantom,
            f.coil_field,
            f.coil,
            f.freq_hz / 1e6,
            crate::report::format_number(o.min_wall_distance_m * 1e3),
            o.directions,
            o.roll_deg.len().max(1),
            res.tried,
            res.evaluated,
        ))
        .paragraph(format!(
            "The fields are normalised as rftwin assess normalises them, to {}: whole-phantom SAR {{{wb}}} \
         (phantom mass {{{m}}} on the coarse grid), |B1+| at the isocentre {{{b1}}}, coil input power {{{p}}}. \
         Confirmation runs: exposure {{{exp}}} from the baseline {{{base}}} (the temperature rise does not \
         depend on the baseline; CEM43 does).",
            f.normalisation_target
        ))
}

fn ranking_section(r: &mut Report, f: &SearchFacts) -> Section {
    let res = f.result;
    let merged: usize = res.ranking.iter().map(|c| c.equivalent.len()).sum();
    r.quantity(
        key::MIRROR_IMAGES_MERGED,
        merged as f64,
        "",
        "mirror-image placements merged into a ranked candidate",
    );
    let tol = r.quantity(
        key::MIRROR_TOLERANCE,
        f.options.mirror_tolerance * 100.0,
        "%",
        "largest relative difference of a merged mirror image's estimate",
    );
    let unit = match &res.estimate_quantity {
        Some(q) => q.clone(),
        None => "V²/m²".into(),
    };
    let mut rows = Vec::new();
    for (i, c) in res.ranking.iter().enumerate() {
        let n = i + 1;
        let v = r.quantity(
            &key::rank(n, "value"),
            c.value(),
            &unit,
            "ranking value (transfer-function estimate)",
        );
        let e = r.quantity(&key::rank(n, "e_tip"), c.e_tip_v_per_m, "V/m", "|E_tip|");
        let pos: Vec<String> = (0..3)
            .map(|a| {
                r.quantity(
                    &key::rank(n, &format!("position_{}", AXES[a])),
                    c.position_m[a] * 1e3,
                    "mm",
                    "implant origin, phantom frame",
                )
            })
            .collect();
        r.quantity(
            &key::rank(n, "equivalents"),
            c.equivalent.len() as f64,
            "",
            "mirror images merged into this candidate",
        );
        let images = c
            .equivalent
            .iter()
            .map(|q| {
                let ax: String = q
                    .reflected
                    .iter()
                    .zip(AXES)
                    .filter(|(f, _)| **f)
                    .map(|(_, a)| a)
                    .collect();
                format!("-{ax}")
            })
            .collect::<Vec<_>>()
            .join(" ");
        rows.push(vec![
            Cell::text(n.to_string()),
            Cell::num(&pos[0]),
            Cell::num(&pos[1]),
            Cell::num(&pos[2]),
            Cell::text(fmt_dir(c.direction)),
            Cell::text(crate::report::format_number(c.roll_deg)),
            Cell::num(&e),
            Cell::num(&v),
            Cell::text(if images.is_empty() {
                "-".to_string()
            } else {
                format!("{} ({images})", c.equivalent.len())
            }),
        ]);
    }
    Section::new("Ranking")
        .paragraph(format!(
            "The best distinct placements by the estimate, worst first. A placement that is the mirror image of a \
             better-ranked one (x → −x, y → −y, z → −z or a combination: the phantom and the coil share these planes) \
             and whose estimate agrees within {{{tol}}} is listed as its equivalent, not ranked again \
             ({merged} merged). Positions are of the implant's origin in the phantom frame."
        ))
        .table(Table {
            caption: "Ranking by the transfer-function estimate (mirror images merged).".into(),
            header: vec![
                "rank".into(),
                "x (mm)".into(),
                "y (mm)".into(),
                "z (mm)".into(),
                "direction".into(),
                "roll (°)".into(),
                "|E_tip| (V/m)".into(),
                format!("estimate ({unit})"),
                "equivalent mirror images".into(),
            ],
            rows,
        })
        .figure(
            &f.figures.map,
            "map.png",
            "Worst-case estimate per (x, z) position over y, directions and roll angles.",
        )
}

fn confirmed_section(r: &mut Report, f: &SearchFacts, c: &ConfirmResult) -> Section {
    let n_conf = c.confirmations.len();
    r.quantity(
        key::CONFIRMED,
        n_conf as f64,
        "",
        "candidates confirmed by full fine-grid runs",
    );
    let cell = r.quantity(
        key::FINE_CELL,
        c.options.cell_m * 1e3,
        "mm",
        "fine cell of the confirmation runs",
    );
    let mut rows = Vec::new();
    // Worst over the confirmed candidates: 1 g, 10 g, ΔT, CEM43, and which candidate gave each.
    let mut worst = [(0.0f64, 0usize); 4];
    for (i, x) in c.confirmations.iter().enumerate() {
        let n = i + 1;
        let mut q = |what: &str, v: f64, unit: &str, d: &str| r.quantity(&key::confirmed(n, what), v, unit, d);
        let dt = q(
            "max_temperature_rise",
            x.max_delta_t_k,
            "K",
            "largest temperature rise in the box",
        );
        let tip_dt = q(
            "tip_temperature_rise",
            x.tip_delta_t_k,
            "K",
            "temperature rise at the tip probe",
        );
        let s1 = q(
            "sar_1g",
            x.peak_sar_1g_w_per_kg,
            "W/kg",
            "peak 1 g SAR with the implant",
        );
        let s10 = q(
            "sar_10g",
            x.peak_sar_10g_w_per_kg,
            "W/kg",
            "peak 10 g SAR with the implant",
        );
        let _ = q(
            "sar_point",
            x.peak_point_sar_w_per_kg,
            "W/kg",
            "peak point SAR with the implant",
        );
        let _ = q(
            "tip_sar_1g",
            x.tip_sar_1g_w_per_kg,
            "W/kg",
            "largest 1 g SAR near the tip",
        );
        let cem = q("cem43", x.cem43_min, "min", "largest CEM43 at the end probes");
        for a in 0..3 {
            let _ = q(
                &format!("tip_{}", AXES[a]),
                x.tip_m[a] * 1e3,
                "mm",
                "tip position, phantom frame",
            );
        }
        for (w, v) in worst.iter_mut().zip([
            x.peak_sar_1g_w_per_kg,
            x.peak_sar_10g_w_per_kg,
            x.max_delta_t_k,
            x.cem43_min,
        ]) {
            if v > w.0 || w.1 == 0 {
                *w = (v, n);
            }
        }
        rows.push(vec![
            Cell::text(x.estimate_rank.to_string()),
            Cell::text(x.direct_rank.to_string()),
            Cell::num(&dt),
            Cell::num(&tip_dt),
            Cell::num(&s1),
            Cell::num(&s10),
            Cell::num(&cem),
        ]);
    }
    r.quantity(
        keys::SAR_1G,
        worst[0].0,
        "W/kg",
        "peak 1 g SAR, worst confirmed candidate",
    );
    r.quantity(
        keys::SAR_10G,
        worst[1].0,
        "W/kg",
        "peak 10 g SAR, worst confirmed candidate",
    );
    r.quantity(
        keys::TEMPERATURE_RISE,
        worst[2].0,
        "K",
        "largest temperature rise, worst confirmed candidate",
    );
    r.quantity(
        keys::CEM43,
        worst[3].0,
        "min",
        "largest CEM43 at the probes, worst confirmed candidate",
    );
    r.quantity(
        key::WORST_RANK,
        (c.worst + 1) as f64,
        "",
        "estimate rank of the candidate with the largest tip rise",
    );
    let mut quality = format!(
        "The candidate with the largest direct tip rise is estimate rank {} of {n_conf}.",
        c.worst + 1
    );
    if let Some(s) = c.spearman {
        let k = r.quantity(
            key::SPEARMAN,
            s,
            "",
            "Spearman rank correlation, estimate vs direct tip rise",
        );
        quality.push_str(&format!(
            " Spearman rank correlation of the estimate with the direct tip rise: {{{k}}}."
        ));
    }
    if c.implied_a_spread.is_finite() {
        let k = r.quantity(
            key::IMPLIED_A_SPREAD,
            c.implied_a_spread,
            "",
            "largest / smallest implied calibration constant A over the candidates",
        );
        quality.push_str(&format!(
            " The implied constant A = ΔT_tip / |E_tip|² spreads by a factor {{{k}}} over them (1: the estimate \
             predicts the direct rise up to one constant)."
        ));
    }
    let more = f.result.ranking.len() > n_conf;
    if n_conf > 1 && c.worst + 1 == n_conf && more {
        quality.push_str(
            " The worst direct case is the last one confirmed: unconfirmed candidates further down the ranking may \
             heat more; confirm more candidates (--confirm) before relying on a pass.",
        );
    }
    let which = |w: (f64, usize)| format!("candidate {}", w.1);
    let mut s = Section::new("Confirmed candidates and verdict")
        .paragraph(format!(
            "The best {n_conf} distinct candidate(s) were confirmed by full fine-grid runs ({{{cell}}} cells, a TF/SF \
             box driven by the normalised coil field) and a Pennes exposure, with the same SAR averaging and probes \
             as rftwin assess. The criteria read the worst confirmed values: 1 g SAR {{{}}} ({}), 10 g SAR {{{}}} ({}), \
             temperature rise {{{}}} ({}), CEM43 {{{}}} ({}). The verdict covers these candidates; the ranking \
             that chose them is an estimate.",
            keys::SAR_1G,
            which(worst[0]),
            keys::SAR_10G,
            which(worst[1]),
            keys::TEMPERATURE_RISE,
            which(worst[2]),
            keys::CEM43,
            which(worst[3]),
        ))
        .paragraph(quality)
        .table(Table {
            caption: "Confirmed candidates (full fine-grid runs with heating).".into(),
            header: vec![
                "estimate rank".into(),
                "direct rank".into(),
                "max ΔT (K)".into(),
                "tip ΔT (K)".into(),
                "1 g SAR (W/kg)".into(),
                "10 g SAR (W/kg)".into(),
                "CEM43 (min)".into(),
            ],
            rows,
        });
    if let Some(p) = &f.figures.confirm {
        s = s.figure(
            p,
            "confirm.png",
            "Transfer-function estimate against the full runs' tip ΔT and tip 1 g SAR, each relative to its largest.",
        );
    }
    s
}

fn tf_section(r: &mut Report, f: &SearchFacts) -> Section {
    let k = r.quantity(
        key::TF_INTEGRAL,
        f.tf.integral().norm(),
        "",
        "|∫ S(l) dl| of the transfer function",
    );
    Section::new("Transfer function")
        .paragraph(format!(
            "The transfer function S(l) of {} at {:.3} MHz in the phantom's medium (ε_r {}, σ {} S/m), l the distance \
             from the tip along the lead; |∫ S dl| = {{{k}}}.",
            f.tf.implant,
            f.tf.freq_hz / 1e6,
            crate::report::format_number(f.tf.eps_r),
            crate::report::format_number(f.tf.sigma_s_per_m),
        ))
        .figure(&f.figures.tf_magnitude, "tf_magnitude.png", "|S(l)| along the lead.")
        .figure(&f.figures.tf_phase, "tf_phase.png", "arg S(l) along the lead.")
}
