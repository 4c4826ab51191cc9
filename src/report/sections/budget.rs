//! Section "Uncertainty budget" (ISO/TR 21900 form) and the labelling conditions (ASTM F2503 style).
//!
//! **Budget.** For every criterion, rows of (component, standard uncertainty u_i of the input,
//! sensitivity c_i of the criterion to it, contribution |c_i u_i|, contribution relative to the value);
//! the combined standard uncertainty `u_c = sqrt(Σ (c_i u_i)²)` (root-sum-square: the components are
//! taken as uncorrelated) and the expanded uncertainty `U = k u_c` (coverage factor k, 2 by default).
//! A rectangular distribution of half-width a has `u = a / √3` (GUM 4.3.7). The stage measures the
//! sensitivities ([`BudgetFacts`]); this module turns them into rows ([`budget`]), quantities and prose.
//!
//! **Labelling.** Every field scales with the exposure's square root, so every SAR and (linear Pennes)
//! the temperature rise scale linearly with the whole-phantom SAR, and so do their budgets (each row is
//! relative to the value): the largest whole-phantom SAR at which a criterion still passes is
//! `S_wb · limit / assessed` and the largest B1+rms `B1 · sqrt(limit / assessed)`, where `assessed`
//! is value + U (or value × the recipe's uncertainty factor). CEM43 is not linear in the exposure: its
//! limit is found by bisection on the probe curves scaled by the exposure.

use super::super::criteria::{cem43_minutes, Criterion};
use super::super::keys;
use super::super::recipe::UncertaintySettings;
use super::super::{Cell, Report, Section, Table};
use crate::error::Result;

/// The convergence runs of the tip 1 g SAR that the grid component is keyed by: a 5 cm bare wire
/// (radius 0.2 mm) in ASTM gel, 64 MHz plane wave, at 2, 1 and 0.5 mm cells (`README.md`, validation
/// case `implant_tip_sar_grid_convergence`, `examples/tip_sar_convergence.rs`): (cell mm, W/kg).
pub const GRID_CONVERGENCE: [(f64, f64); 3] = [(2.0, 16.07), (1.0, 14.02), (0.5, 13.68)];

/// The discretisation error of the local run at fine cell `h` (m), relative to the grid-converged
/// value, and the order p: the three runs of [`GRID_CONVERGENCE`] fitted by `V(h) = V∞ + C h^p`
/// (Richardson: p from the ratio of the successive differences, V∞ extrapolated), `|V(h) − V∞| / V∞`.
/// 2 mm → 18.1 %, 1 mm → 3.0 %, 0.5 mm → 0.5 %; beyond 2 mm it is an extrapolation.
pub fn grid_relative_error(h_m: f64) -> (f64, f64) {
    let [(_, v2), (_, v1), (_, v05)] = GRID_CONVERGENCE;
    let ratio = (v2 - v1) / (v1 - v05);
    let p = ratio.log2();
    let v_inf = v05 - (v1 - v05) / (ratio - 1.0);
    let e1 = ((v1 - v_inf) / v_inf).abs();
    (e1 * (h_m * 1e3).powf(p), p)
}

/// A model error measured by a validation case against an independent reference: the case's
/// tolerance (a bound on the relative error of `what`) taken as the half-width of a rectangular
/// distribution, and the power of the field it scales with (2 for |E|-type errors on SAR).
#[derive(Clone, Copy, Debug)]
pub struct ModelError {
    pub name: &'static str,
    pub label: &'static str,
    pub case: &'static str,
    pub reference: &'static str,
    /// Relative tolerance of the case.
    pub tolerance: f64,
    /// d ln(criterion) / d ln(the compared quantity).
    pub power: f64,
    /// Whether it enters SAR criteria (else only the temperature criteria).
    pub sar: bool,
}

/// The stage model errors the budget carries (each case's tolerance, from its definition in the
/// module's `validation.rs`; the measured error in the README is below it).
pub const MODEL_ERRORS: [ModelError; 4] = [
    ModelError {
        name: "model_coil",
        label: "Coil field model (co-simulation)",
        case: "cosim_openems_lp8_b1_nrmse",
        reference: "openEMS LP8 coil, |B1+| pattern NRMSE ≤ 3 % (tests/data/openems_lp8); taken for |E| at the implant",
        tolerance: 0.03,
        power: 2.0,
        sar: true,
    },
    ModelError {
        name: "model_local_field",
        label: "Local TF/SF field in the gel",
        case: "tfsf_gel_64mhz_interior",
        reference: "analytic plane wave in ASTM gel at 64 MHz, interior field NRMSE ≤ 2 %",
        tolerance: 0.02,
        power: 2.0,
        sar: true,
    },
    ModelError {
        name: "model_implant",
        label: "Implant tip SAR model",
        case: "lead_tip_sar_1g",
        reference: "axisymmetric FEM of the tip × TL tip potential (tests/data/lead_tip, tests/data/lead_tl), tip 1 g SAR within 20 % (−6 % measured)",
        tolerance: 0.20,
        power: 1.0,
        sar: true,
    },
    ModelError {
        name: "model_thermal",
        label: "Bioheat solver",
        case: "thermal_gaussian_transient",
        reference: "analytic 3-D heat kernel, ≤ 1 % of the peak rise",
        tolerance: 0.01,
        power: 1.0,
        sar: false,
    },
];

/// The twin's posterior: the fitted port-2 drive relative to port 1 (amplitude and phase, Jacobian
/// standard errors) and the relative change of the response per unit of each.
#[derive(Clone, Debug, PartialEq)]
pub struct TwinPosteriorFacts {
    pub amplitude: f64,
    pub amplitude_se: f64,
    /// d ln(response) / d(amplitude).
    pub dln_per_amplitude: f64,
    pub phase_se_deg: f64,
    /// d ln(response) / d(phase) (1/deg).
    pub dln_per_deg: f64,
}

/// Probe temperature curves (for CEM43): times (s) and the rise over the baseline (K) of each probe.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Cem43Curves {
    pub baseline_c: f64,
    pub curves: Vec<(Vec<f64>, Vec<f64>)>,
}

impl Cem43Curves {
    /// The largest CEM43 (min) over the probes with every rise multiplied by `s` (the exposure's
    /// power scale).
    pub fn cem43(&self, s: f64) -> Result<f64> {
        let mut best = 0.0f64;
        for (t, rise) in &self.curves {
            let temp: Vec<f64> = rise.iter().map(|r| self.baseline_c + s * r).collect();
            let v = cem43_minutes(t, &temp)?;
            // A dose beyond f64 (inf − inf in a piece gives NaN) is infinite.
            best = if v.is_finite() { best.max(v) } else { f64::INFINITY };
        }
        Ok(best)
    }
    /// d ln CEM43 / d ln s at `s` (central difference over ±1 %).
    pub fn log_slope(&self, s: f64) -> Result<f64> {
        let (a, b) = (self.cem43(s * 1.01)?, self.cem43(s / 1.01)?);
        if a > 0.0 && b > 0.0 {
            Ok((a / b).ln() / (1.01f64 * 1.01).ln())
        } else {
            Ok(0.0)
        }
    }
}

/// What the stages measured for the budget of one implant (or of the coil-only grid).
#[derive(Clone, Debug, PartialEq)]
pub struct BudgetFacts {
    /// What the response is (the quantity whose relative changes stand for the criterion's).
    pub response: String,
    /// None: no posterior at hand (why: `twin_missing`).
    pub twin: Option<TwinPosteriorFacts>,
    pub twin_missing: String,
    /// d ln(response) / d(position) per axis of the coil frame (1/mm).
    pub dln_per_mm: [f64; 3],
    /// The gel's modelled conductivity (S/m) and permittivity, and d ln(criterion) / d of each.
    pub sigma_s_per_m: f64,
    pub dln_per_sigma: f64,
    pub eps_r: f64,
    pub dln_per_eps_r: f64,
    /// How the gel sensitivities were found.
    pub gel_method: String,
    /// The local run's fine cell (m); None: coil-only (no local run).
    pub fine_cell_m: Option<f64>,
    /// The probe curves (CEM43 criterion).
    pub cem43: Option<Cem43Curves>,
}

/// One row of a budget.
#[derive(Clone, Debug, PartialEq)]
pub struct Component {
    /// Key slug, e.g. `gel_sigma`.
    pub name: String,
    pub label: String,
    /// Standard uncertainty of the input, in `u_unit`.
    pub u: f64,
    pub u_unit: String,
    /// Sensitivity: criterion unit per `u_unit`.
    pub c: f64,
    /// Distribution and where the input's uncertainty and the sensitivity come from.
    pub source: String,
}

impl Component {
    /// |c_i u_i| in the criterion's unit.
    pub fn contribution(&self) -> f64 {
        (self.c * self.u).abs()
    }
}

/// The budget of one criterion.
#[derive(Clone, Debug, PartialEq)]
pub struct Budget {
    pub criterion_id: String,
    pub value: f64,
    pub unit: String,
    pub components: Vec<Component>,
    pub coverage_factor: f64,
}

impl Budget {
    /// Combined standard uncertainty: root-sum-square of the contributions (uncorrelated).
    pub fn combined(&self) -> f64 {
        self.components.iter().map(|c| c.contribution().powi(2)).sum::<f64>().sqrt()
    }
    /// Expanded uncertainty U = k u_c.
    pub fn expanded(&self) -> f64 {
        self.coverage_factor * self.combined()
    }
}

const SQRT3: f64 = 1.732_050_807_568_877_2;

/// The budget of `criterion` at `value` from the stage's `facts` and the recipe's `settings`.
/// SAR criteria carry the field, gel, grid, placement and model rows; the temperature rise also the
/// thermal properties and the bioheat solver; CEM43 every row of the temperature rise times
/// d ln CEM43 / d ln ΔT from the probe curves.
pub fn budget(criterion: &Criterion, value: f64, facts: &BudgetFacts, settings: &UncertaintySettings) -> Result<Budget> {
    let thermal = criterion.id == "temperature_rise" || criterion.id == "cem43";
    // d ln(criterion) / d ln(rise-or-SAR): 1, or CEM43's slope.
    let chain = if criterion.id == "cem43" {
        match &facts.cem43 {
            Some(c) => c.log_slope(1.0)?,
            None => 0.0,
        }
    } else {
        1.0
    };
    let v = value * chain;
    let unit = criterion.unit.clone();
    let mut rows = Vec::new();
    let resp = &facts.response;
    match &facts.twin {
        Some(t) => {
            rows.push(Component {
                name: "twin_amplitude".into(),
                label: "Twin posterior: port-2 amplitude".into(),
                u: t.amplitude_se,
                u_unit: "1".into(),
                c: v * t.dln_per_amplitude,
                source: format!(
                    "normal; Jacobian standard error of the fitted amplitude {:.4}; sensitivity by re-normalising the twin's fields at ±1σ (superposition of the basis, no new FDTD run): {resp}",
                    t.amplitude
                ),
            });
            rows.push(Component {
                name: "twin_phase".into(),
                label: "Twin posterior: port-2 phase".into(),
                u: t.phase_se_deg,
                u_unit: "deg".into(),
                c: v * t.dln_per_deg,
                source: format!("normal; Jacobian standard error of the fitted phase; sensitivity as for the amplitude: {resp}"),
            });
        }
        None => rows.push(Component {
            name: "twin_posterior".into(),
            label: "Twin posterior (not available)".into(),
            u: 0.0,
            u_unit: "1".into(),
            c: 0.0,
            source: format!("{}: not covered (the coil model row stands for the drive's error)", facts.twin_missing),
        }),
    }
    let (grid_pct, grid_src) = match (settings.grid_percent, facts.fine_cell_m) {
        (Some(g), _) => (g, "the recipe's [uncertainty] grid_percent".to_string()),
        (None, Some(h)) => {
            let (e, p) = grid_relative_error(h);
            let beyond = if h > 2.0e-3 + 1e-12 { "; extrapolated beyond the 2 mm run" } else { "" };
            (
                e * 100.0,
                format!(
                    "table keyed by the fine cell ({:.3} mm): the discretisation error |V(h) − V∞|/V∞ of the tip 1 g SAR convergence runs (16.07, 14.02, 13.68 W/kg at 2, 1, 0.5 mm; validation case implant_tip_sar_grid_convergence), V(h) = V∞ + C h^p with p = {p:.2}, taken as the standard uncertainty{beyond}",
                    h * 1e3
                ),
            )
        }
        (None, None) => (
            0.0,
            "coil-only assessment: no local run (the coarse grid's own error is in the coil model row)".to_string(),
        ),
    };
    rows.push(Component {
        name: "grid".into(),
        label: "Grid (local fine cell)".into(),
        u: grid_pct,
        u_unit: "%".into(),
        c: v / 100.0,
        source: grid_src,
    });
    let [s0, s1] = settings.gel_sigma_s_per_m;
    rows.push(Component {
        name: "gel_sigma".into(),
        label: "Gel conductivity σ".into(),
        u: 0.5 * (s1 - s0) / SQRT3,
        u_unit: "S/m".into(),
        c: v * facts.dln_per_sigma,
        source: format!(
            "rectangular over [{s0}, {s1}] S/m (ASTM F2182 as quoted by test labs; [uncertainty] gel_sigma_s_per_m), u = half-width/√3; model σ {} S/m; {}",
            facts.sigma_s_per_m, facts.gel_method
        ),
    });
    let [e0, e1] = settings.gel_eps_r;
    rows.push(Component {
        name: "gel_eps_r".into(),
        label: "Gel permittivity εr".into(),
        u: 0.5 * (e1 - e0) / SQRT3,
        u_unit: "1".into(),
        c: v * facts.dln_per_eps_r,
        source: format!(
            "rectangular over [{e0}, {e1}] (assumed 80 ± 10 %, the phantom's εr is UNCONFIRMED; [uncertainty] gel_eps_r); model εr {}; {}",
            facts.eps_r, facts.gel_method
        ),
    });
    let g = facts.dln_per_mm;
    rows.push(Component {
        name: "placement".into(),
        label: "Implant placement".into(),
        u: settings.placement_mm / SQRT3,
        u_unit: "mm".into(),
        c: v * (g[0] * g[0] + g[1] * g[1] + g[2] * g[2]).sqrt(),
        source: format!(
            "rectangular ±{} mm in each axis ([uncertainty] placement_mm), u = a/√3 per axis; sensitivity: the gradient of the response along x, y, z ({:.3e}, {:.3e}, {:.3e} per mm, central differences of the normalised incident field), root-sum-square over the axes: {resp}",
            settings.placement_mm, g[0], g[1], g[2]
        ),
    });
    if thermal {
        rows.push(Component {
            name: "thermal_properties".into(),
            label: "Thermal properties (k, c, perfusion)".into(),
            u: settings.thermal_percent / SQRT3,
            u_unit: "%".into(),
            c: v / 100.0,
            source: format!(
                "rectangular ±{} % ([uncertainty] thermal_percent; the phantom's k and c are UNCONFIRMED values); ΔT ∝ SAR / k at steady state (Pennes), so |d ln ΔT / d ln k| = 1",
                settings.thermal_percent
            ),
        });
    }
    for m in MODEL_ERRORS {
        if !m.sar && !thermal {
            continue;
        }
        if m.name == "model_implant" && facts.fine_cell_m.is_none() {
            continue;
        }
        rows.push(Component {
            name: m.name.into(),
            label: m.label.into(),
            u: 100.0 * m.tolerance / SQRT3,
            u_unit: "%".into(),
            c: v * m.power / 100.0,
            source: format!(
                "validation case {}: {}; its tolerance {} % as the half-width of a rectangular distribution, u = a/√3; the criterion goes as the power {} of the compared quantity",
                m.case,
                m.reference,
                m.tolerance * 100.0,
                m.power
            ),
        });
    }
    Ok(Budget {
        criterion_id: criterion.id.clone(),
        value,
        unit,
        components: rows,
        coverage_factor: settings.coverage_factor,
    })
}

/// The unit of a sensitivity: criterion unit per input unit.
fn sensitivity_unit(unit: &str, u_unit: &str) -> String {
    match u_unit {
        "1" => unit.to_string(),
        "%" => format!("{unit}/%"),
        u if u.contains('/') => format!("{unit}/({u})"),
        u => format!("{unit}/{u}"),
    }
}

/// Adds every budget's quantities (`uncertainty.<id>.…`, see [`keys::Uncertainty`]) and returns the
/// section "Uncertainty budget".
pub fn section(r: &mut Report, budgets: &[Budget], criteria: &[Criterion]) -> Section {
    let mut s = Section::new("Uncertainty budget").paragraph(
        "Per criterion, in the form of ISO/TR 21900: each component's standard uncertainty u_i (in the \
         input's unit), the criterion's sensitivity c_i to it, the contribution |c_i u_i| and its share of \
         the value. The components are taken as uncorrelated: the combined standard uncertainty is the \
         root-sum-square of the contributions, and the expanded uncertainty U = k u_c. A criterion passes \
         when value + U ≤ limit, unless the recipe sets an uncertainty factor > 1 instead (then value × \
         factor ≤ limit, stated in the criteria table). Every SAR and the temperature rise scale with the \
         exposure, so every contribution is proportional to the value.",
    );
    let mut sources: Vec<(String, String)> = Vec::new();
    for b in budgets {
        let id = &b.criterion_id;
        let label = criteria
            .iter()
            .find(|c| &c.id == id)
            .map_or(id.clone(), |c| c.label.clone());
        let mut rows = Vec::new();
        for c in &b.components {
            let k = |w: keys::Uncertainty| w.key(id);
            let contrib = r.quantity(
                &k(keys::Uncertainty::Contribution(&c.name)),
                c.contribution(),
                &b.unit,
                &format!("{}: contribution |c u| to {id}", c.label),
            );
            let uu = if c.u_unit == "1" { "" } else { c.u_unit.as_str() };
            let u = r.quantity(
                &k(keys::Uncertainty::StandardUncertainty(&c.name)),
                c.u,
                uu,
                &format!("{}: standard uncertainty of the input", c.label),
            );
            let cs = r.quantity(
                &k(keys::Uncertainty::Sensitivity(&c.name)),
                c.c,
                &sensitivity_unit(&b.unit, &c.u_unit),
                &format!("{}: sensitivity of {id}", c.label),
            );
            let rel = r.quantity(
                &k(keys::Uncertainty::Relative(&c.name)),
                if b.value != 0.0 { 100.0 * c.contribution() / b.value.abs() } else { 0.0 },
                "%",
                &format!("{}: contribution relative to the value", c.label),
            );
            rows.push(vec![Cell::text(&c.label), Cell::q(&u), Cell::q(&cs), Cell::q(&contrib), Cell::q(&rel)]);
            if !sources.iter().any(|(n, _)| n == &c.label) {
                sources.push((c.label.clone(), c.source.clone()));
            }
        }
        let uc = r.quantity(
            &keys::Uncertainty::Combined.key(id),
            b.combined(),
            &b.unit,
            &format!("combined standard uncertainty of {id} (root-sum-square)"),
        );
        let kq = r.quantity(&keys::Uncertainty::CoverageFactor.key(id), b.coverage_factor, "", "coverage factor k");
        let big_u = r.quantity(
            &keys::Uncertainty::Expanded.key(id),
            b.expanded(),
            &b.unit,
            &format!("expanded uncertainty of {id}, U = k u_c"),
        );
        let rel_u = r.quantity(
            &keys::Uncertainty::RelativeExpanded.key(id),
            if b.value != 0.0 { 100.0 * b.expanded() / b.value.abs() } else { 0.0 },
            "%",
            &format!("expanded uncertainty of {id} relative to the value"),
        );
        rows.push(vec![Cell::text("Combined standard uncertainty u_c"), Cell::text(""), Cell::text(""), Cell::q(&uc), Cell::text("")]);
        rows.push(vec![Cell::text("Coverage factor k"), Cell::q(&kq), Cell::text(""), Cell::text(""), Cell::text("")]);
        rows.push(vec![Cell::text("Expanded uncertainty U = k u_c"), Cell::text(""), Cell::text(""), Cell::q(&big_u), Cell::q(&rel_u)]);
        s = s.table(Table {
            caption: format!("Uncertainty budget: {label}"),
            header: ["Component", "u_i", "c_i", "|c_i u_i|", "of value"].map(String::from).to_vec(),
            rows,
        });
    }
    for (label, src) in sources {
        s = s.paragraph(format!("{label}: {src}.").replace('{', "{{").replace('}', "}}"));
    }
    s
}

/// The labelling conditions: for each evaluated criterion the largest whole-phantom SAR and B1+rms
/// at which it still passes (value + U, or value × factor, equal to the limit), and over all
/// criteria the smallest of each. Reads the criteria's `assessed` and `limit` quantities and the
/// normalisation's whole-phantom SAR and B1+ at the isocentre; adds `labelling.<id>.…` and
/// `labelling.…` quantities and returns the section. `cem43` (with the CEM43 budget's relative
/// expanded uncertainty of ΔT, `u_rel_rise_expanded`) solves CEM43's non-linear case.
pub fn labelling_section(
    r: &mut Report,
    criteria: &[Criterion],
    cem43: Option<(&Cem43Curves, f64)>,
) -> Result<Section> {
    let get = |r: &Report, k: &str| r.get(k).map(|q| q.value);
    let (Some(s0), Some(b0)) = (
        get(r, keys::normalisation::WHOLE_PHANTOM_SAR),
        get(r, keys::normalisation::B1_PLUS_ISOCENTRE),
    ) else {
        return Ok(Section::new("Labelling conditions").paragraph("No normalisation: no labelling conditions."));
    };
    let mut rows = Vec::new();
    let mut worst: Option<(f64, String)> = None;
    for c in criteria {
        let (Some(assessed), Some(limit)) = (
            get(r, &keys::Criterion::Assessed.key(&c.id)),
            get(r, &keys::Criterion::Limit.key(&c.id)),
        ) else {
            continue;
        };
        let scale = if c.id == "cem43" {
            match cem43 {
                Some((curves, u_rel)) => cem43_scale(curves, u_rel, c.uncertainty_factor, limit)?,
                None => continue,
            }
        } else if assessed > 0.0 {
            limit / assessed
        } else {
            f64::INFINITY
        };
        if !scale.is_finite() {
            continue;
        }
        let sar = r.quantity(
            &keys::Labelling::MaxWholePhantomSar.key(&c.id),
            s0 * scale,
            "W/kg",
            &format!("largest whole-phantom SAR at which {} passes (uncertainty included)", c.id),
        );
        let b1 = r.quantity(
            &keys::Labelling::MaxB1Rms.key(&c.id),
            b0 * scale.sqrt(),
            "µT",
            &format!("largest B1+rms at the isocentre at which {} passes (uncertainty included)", c.id),
        );
        rows.push(vec![Cell::text(&c.label), Cell::q(&sar), Cell::q(&b1)]);
        if worst.as_ref().is_none_or(|(w, _)| scale < *w) {
            worst = Some((scale, c.id.clone()));
        }
    }
    let mut s = Section::new("Labelling conditions");
    if let Some((scale, id)) = worst {
        let sar = r.quantity(
            keys::Labelling::MAX_WHOLE_PHANTOM_SAR,
            s0 * scale,
            "W/kg",
            &format!("largest whole-phantom SAR at which every criterion passes (set by {id})"),
        );
        let b1 = r.quantity(
            keys::Labelling::MAX_B1RMS,
            b0 * scale.sqrt(),
            "µT",
            &format!("largest B1+rms at the isocentre at which every criterion passes (set by {id})"),
        );
        rows.push(vec![Cell::text("All criteria"), Cell::q(&sar), Cell::q(&b1)]);
        s = s.paragraph(format!(
            "MR Conditional labelling (ASTM F2503 style): every criterion passes, its uncertainty included, up to a whole-phantom SAR of {{{sar}}} or a B1+rms of {{{b1}}} at the isocentre, for the exposure time of the recipe. Each SAR and the temperature rise scale linearly with the whole-phantom SAR (fields with its square root); CEM43 is solved on the probe curves. B1+rms is the isocentre |B1+| of the normalisation (the quantity the recipe's b1_plus_rms_ut sets)."
        ));
    }
    Ok(s.table(Table {
        caption: "Largest exposure at which each criterion passes".into(),
        header: ["Criterion", "Max whole-phantom SAR", "Max B1+rms"].map(String::from).to_vec(),
        rows,
    }))
}

/// The exposure scale s at which CEM43(s) × (1 + k u_rel slope(s)) (budget) or CEM43(s) × factor
/// reaches `limit`, by bisection in log s.
fn cem43_scale(curves: &Cem43Curves, u_rel_expanded: f64, factor: f64, limit: f64) -> Result<f64> {
    let assessed = |s: f64| -> Result<f64> {
        let v = curves.cem43(s)?;
        let a = if factor > 1.0 {
            v * factor
        } else {
            v * (1.0 + u_rel_expanded * curves.log_slope(s)?)
        };
        // Beyond f64's range the dose is above any limit.
        Ok(if a.is_finite() { a } else { f64::INFINITY })
    };
    let (mut lo, mut hi) = (1e-6f64.ln(), 1e6f64.ln());
    if assessed(lo.exp())? > limit {
        return Ok(0.0);
    }
    if assessed(hi.exp())? <= limit {
        return Ok(f64::INFINITY);
    }
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if assessed(mid.exp())? <= limit {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    Ok(lo.exp())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grid_table_reproduces_the_convergence_runs() {
        let (e2, p) = grid_relative_error(2e-3);
        let (e1, _) = grid_relative_error(1e-3);
        let (e05, _) = grid_relative_error(0.5e-3);
        // V(h)/V∞ − 1 from the runs themselves.
        let v_inf = 13.68 - 0.34 / ((2.05f64 / 0.34) - 1.0);
        assert!((e2 - (16.07 / v_inf - 1.0)).abs() < 1e-9, "{e2}");
        assert!((e1 - (14.02 / v_inf - 1.0)).abs() < 1e-9, "{e1}");
        assert!((e05 - (13.68 / v_inf - 1.0)).abs() < 1e-9, "{e05}");
        assert!((p - 2.592).abs() < 1e-3, "{p}");
    }
}
