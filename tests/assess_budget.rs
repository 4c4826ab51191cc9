//! Issue 20 items 1 and 2: the uncertainty budget (ISO/TR 21900 form) and the labelling conditions.
//! Library checks on a synthetic report (rows, root-sum-square, k, the verdict flipping where
//! value + U crosses the limit, the labelled exposure landing on the limit), a bad `[uncertainty]`
//! key (exit 2), and one small coil-only `rftwin assess` (20 mm ideal twin) re-run at its own
//! labelled whole-phantom SAR.

mod common;

use std::path::{Path, PathBuf};

use rftwin::report::criteria::{evaluate, Criterion};
use rftwin::report::keys;
use rftwin::report::recipe::UncertaintySettings;
use rftwin::report::sections::budget::{self, BudgetFacts, Cem43Curves, TwinPosteriorFacts};
use rftwin::report::{Report, Verdict};

fn criterion(id: &str, value_key: &str, unit: &str, limit: f64, factor: f64) -> Criterion {
    Criterion {
        id: id.into(),
        label: id.into(),
        value_key: value_key.into(),
        unit: unit.into(),
        limit,
        uncertainty_factor: factor,
    }
}

fn facts() -> BudgetFacts {
    BudgetFacts {
        response: "test response".into(),
        twin: Some(TwinPosteriorFacts {
            amplitude: 1.1,
            amplitude_se: 0.04,
            dln_per_amplitude: 0.8,
            phase_se_deg: 0.6,
            dln_per_deg: -0.02,
        }),
        twin_missing: String::new(),
        dln_per_mm: [0.03, -0.01, 0.002],
        sigma_s_per_m: 0.47,
        dln_per_sigma: -1.2,
        eps_r: 80.0,
        dln_per_eps_r: 0.004,
        gel_method: "test".into(),
        fine_cell_m: Some(1e-3),
        cem43: Some(Cem43Curves {
            baseline_c: 37.0,
            curves: vec![(vec![0.0, 300.0, 600.0, 900.0], vec![0.0, 2.0, 3.0, 3.5])],
        }),
    }
}

/// A report with a normalisation and the three linear criteria's values.
fn report(scale: f64) -> Report {
    let mut r = Report::new("budget test");
    r.quantity(keys::normalisation::WHOLE_PHANTOM_SAR, 2.0 * scale, "W/kg", "wb");
    r.quantity(keys::normalisation::B1_PLUS_ISOCENTRE, 2.3 * scale.sqrt(), "µT", "b1");
    r.quantity(keys::TEMPERATURE_RISE, 1.6 * scale, "K", "dT");
    r.quantity(keys::SAR_1G, 40.0 * scale, "W/kg", "1g");
    r.quantity(keys::SAR_10G, 9.0 * scale, "W/kg", "10g");
    r.quantity(keys::CEM43, 0.01 * scale, "min", "cem");
    r
}

fn value(r: &Report, k: &str) -> f64 {
    r.get(k).unwrap_or_else(|| panic!("no quantity {k}")).value
}

/// Budgets, section and verdict of `criteria` on `r`.
fn assess(r: &mut Report, criteria: &[Criterion], set: &UncertaintySettings) -> (Vec<budget::Budget>, Verdict) {
    let f = facts();
    let budgets: Vec<_> = criteria
        .iter()
        .map(|c| budget::budget(c, value(r, &c.value_key), &f, set).unwrap())
        .collect();
    let s = budget::section(r, &budgets, criteria);
    r.sections.push(s);
    let v = evaluate(r, criteria).unwrap();
    (budgets, v)
}

#[test]
fn budget_rows_combine_by_root_sum_square_and_expand_by_k() {
    let set = UncertaintySettings {
        coverage_factor: 2.0,
        ..Default::default()
    };
    let crit = [
        criterion("temperature_rise", keys::TEMPERATURE_RISE, "K", 100.0, 1.0),
        criterion("sar_1g", keys::SAR_1G, "W/kg", 1000.0, 1.0),
        criterion("sar_10g", keys::SAR_10G, "W/kg", 1000.0, 1.0),
    ];
    let mut r = report(1.0);
    let (budgets, v) = assess(&mut r, &crit, &set);
    assert_eq!(v, Verdict::Pass);
    for (b, c) in budgets.iter().zip(&crit) {
        let id = &c.id;
        let names: Vec<&str> = b.components.iter().map(|x| x.name.as_str()).collect();
        for want in ["twin_amplitude", "twin_phase", "grid", "gel_sigma", "gel_eps_r", "placement", "model_coil", "model_local_field", "model_implant"] {
            assert!(names.contains(&want), "{id}: no row {want} in {names:?}");
        }
        assert_eq!(names.contains(&"thermal_properties"), id == "temperature_rise", "{id}: {names:?}");
        // Every row in the report: contribution = |c u|, and the combined value is their RSS.
        let mut ss = 0.0;
        for x in &b.components {
            let k = |w: keys::Uncertainty| value(&r, &w.key(id));
            let contrib = k(keys::Uncertainty::Contribution(&x.name));
            let u = k(keys::Uncertainty::StandardUncertainty(&x.name));
            let cs = k(keys::Uncertainty::Sensitivity(&x.name));
            assert!((contrib - (u * cs).abs()).abs() <= 1e-12 * contrib.max(1.0), "{id}/{}", x.name);
            ss += contrib * contrib;
        }
        let uc = value(&r, &keys::Uncertainty::Combined.key(id));
        assert!((uc - ss.sqrt()).abs() <= 1e-12 * uc, "{id}: {uc} vs {}", ss.sqrt());
        let big_u = value(&r, &keys::Uncertainty::Expanded.key(id));
        assert!((big_u - 2.0 * uc).abs() <= 1e-12 * big_u, "{id}");
        assert!(uc > 0.0);
        // The verdict used value + U, and says so.
        let val = value(&r, &c.value_key);
        assert!((value(&r, &keys::Criterion::Assessed.key(id)) - (val + big_u)).abs() <= 1e-12 * (val + big_u));
        assert_eq!(value(&r, &keys::Criterion::ExpandedUncertainty.key(id)), big_u);
    }
    // A rectangular row: the placement's u is a/√3.
    let pl = value(&r, &keys::Uncertainty::StandardUncertainty("placement").key("sar_1g"));
    assert!((pl - 2.0 / 3f64.sqrt()).abs() < 1e-12, "{pl}");
    // The grid row follows the fine cell's table (1 mm: 3.0 %).
    let g = value(&r, &keys::Uncertainty::StandardUncertainty("grid").key("sar_1g"));
    assert!((g - 2.99).abs() < 0.02, "{g}");
    // k = 3 triples u_c.
    let set3 = UncertaintySettings {
        coverage_factor: 3.0,
        ..Default::default()
    };
    let mut r3 = report(1.0);
    assess(&mut r3, &crit[..1], &set3);
    let id = "temperature_rise";
    assert!(
        (value(&r3, &keys::Uncertainty::Expanded.key(id)) - 3.0 * value(&r3, &keys::Uncertainty::Combined.key(id))).abs() < 1e-12
    );
    r.validate().unwrap();
}

#[test]
fn verdict_flips_where_value_plus_u_crosses_the_limit() {
    let set = UncertaintySettings::default();
    let c = |limit| [criterion("sar_10g", keys::SAR_10G, "W/kg", limit, 1.0)];
    let mut r = report(1.0);
    let (b, _) = assess(&mut r, &c(1000.0), &set);
    let edge = 9.0 + b[0].expanded();
    assert!(b[0].expanded() > 0.0);
    for (limit, want) in [(edge * (1.0 + 1e-9), Verdict::Pass), (edge * (1.0 - 1e-9), Verdict::Fail)] {
        let mut r = report(1.0);
        let (_, v) = assess(&mut r, &c(limit), &set);
        assert_eq!(v, want, "limit {limit} vs value + U {edge}");
    }
    // Between value and value + U: a bare comparison would pass, the budget fails it.
    let mut r = report(1.0);
    let (_, v) = assess(&mut r, &c(9.0 + 0.5 * b[0].expanded()), &set);
    assert_eq!(v, Verdict::Fail);
    // A recipe's factor > 1 replaces the budget, stated as such (no expanded_uncertainty quantity).
    let mut r = report(1.0);
    let (_, v) = assess(&mut r, &[criterion("sar_10g", keys::SAR_10G, "W/kg", 9.0 * 1.5 * (1.0 + 1e-9), 1.5)], &set);
    assert_eq!(v, Verdict::Pass);
    assert!(r.get(&keys::Criterion::ExpandedUncertainty.key("sar_10g")).is_none());
    assert!((value(&r, &keys::Criterion::Assessed.key("sar_10g")) - 13.5).abs() < 1e-12);
}

#[test]
fn labelled_exposure_lands_on_the_limit() {
    let set = UncertaintySettings::default();
    let crit = [
        criterion("temperature_rise", keys::TEMPERATURE_RISE, "K", 2.0, 1.0),
        criterion("sar_1g", keys::SAR_1G, "W/kg", 100.0, 1.0),
        criterion("sar_10g", keys::SAR_10G, "W/kg", 10.0, 1.0),
        criterion("cem43", keys::CEM43, "min", 2.0, 1.0),
    ];
    let mut r = report(1.0);
    // CEM43 of the synthetic curve as the value (so that its labelling is consistent).
    let f = facts();
    let curves = f.cem43.clone().unwrap();
    r.quantity(keys::CEM43, curves.cem43(1.0).unwrap(), "min", "cem");
    let (budgets, _) = assess(&mut r, &crit, &set);
    let cb = budgets.iter().find(|b| b.criterion_id == "cem43").unwrap();
    let slope = curves.log_slope(1.0).unwrap();
    assert!(slope > 1.0, "CEM43 grows faster than the rise: {slope}");
    let u_rel = cb.expanded() / (cb.value * slope);
    let s = budget::labelling_section(&mut r, &crit, Some((&curves, u_rel))).unwrap();
    r.sections.push(s);
    r.validate().unwrap();
    let s0 = value(&r, keys::normalisation::WHOLE_PHANTOM_SAR);
    let mut smallest = f64::INFINITY;
    for c in &crit {
        let sar = value(&r, &keys::Labelling::MaxWholePhantomSar.key(&c.id));
        let b1 = value(&r, &keys::Labelling::MaxB1Rms.key(&c.id));
        let scale = sar / s0;
        assert!((b1 / value(&r, keys::normalisation::B1_PLUS_ISOCENTRE) - scale.sqrt()).abs() < 1e-9);
        smallest = smallest.min(sar);
        // Re-assess at the labelled exposure: value + U equals the limit.
        let mut r2 = report(scale);
        if c.id == "cem43" {
            // The probe curves at the labelled exposure: every rise times `scale`.
            let scaled = Cem43Curves {
                baseline_c: curves.baseline_c,
                curves: curves
                    .curves
                    .iter()
                    .map(|(t, rise)| (t.clone(), rise.iter().map(|x| x * scale).collect()))
                    .collect(),
            };
            let mut f2 = facts();
            f2.cem43 = Some(scaled.clone());
            let b = budget::budget(c, scaled.cem43(1.0).unwrap(), &f2, &set).unwrap();
            let assessed = b.value + b.expanded();
            assert!((assessed / c.limit - 1.0).abs() < 1e-6, "cem43 at its label: {assessed} vs {}", c.limit);
            continue;
        }
        let (_, _) = assess(&mut r2, std::slice::from_ref(c), &set);
        let assessed = value(&r2, &keys::Criterion::Assessed.key(&c.id));
        assert!((assessed / c.limit - 1.0).abs() < 1e-6, "{}: {assessed} vs {}", c.id, c.limit);
    }
    assert!((value(&r, keys::Labelling::MAX_WHOLE_PHANTOM_SAR) - smallest).abs() < 1e-12);
}

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A coil-only recipe (20 mm ideal twin: the SAR criterion reads the coarse-grid 10 g SAR).
fn coil_recipe(dir: &Path, name: &str, wb_sar: f64, extra: &str) -> PathBuf {
    let r = root();
    let text = format!(
        "title = \"budget test\"\n\n[twin]\ncoil = \"{}\"\nphantom = \"{}\"\ncell_m = 0.02\n\n[normalisation]\nwhole_phantom_sar_w_per_kg = {wb_sar}\n\n[exposure]\nduration_s = 60.0\n\n[criteria]\nsar_10g = {{ limit_w_per_kg = 10.0 }}\n{extra}",
        r.join("coils/body_1p5t_hp16.toml").display(),
        r.join("phantoms/astm_f2182.toml").display()
    );
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

#[test]
fn bad_uncertainty_key_exits_2() {
    let d = common::tmpdir("bad");
    for (extra, needle) in [
        ("[uncertainty]\nplacement_mm = -1\n", "uncertainty.placement_mm"),
        ("[uncertainty]\ncoverage_factor = 0.5\n", "uncertainty.coverage_factor"),
        ("[uncertainty]\ngel_sigma_s_per_m = [0.5, 0.45]\n", "uncertainty.gel_sigma_s_per_m"),
        ("[uncertainty]\nplacement = 2\n", "placement"),
    ] {
        let p = coil_recipe(&d, "bad.toml", 2.0, extra);
        let out = d.join("out");
        let o = common::bin()
            .args(["assess", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
        assert_eq!(o.status.code(), Some(2), "{extra}: {text}");
        assert!(text.contains(needle) && text.contains("bad.toml"), "{extra}: {text}");
        assert!(!out.exists());
    }
}

fn summary(out: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap()
}

fn q(s: &serde_json::Value, key: &str) -> f64 {
    s["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|q| q["key"] == key)
        .unwrap_or_else(|| panic!("no quantity {key}"))["value"]
        .as_f64()
        .unwrap()
}

/// End to end (issue 20's check): the summary holds the budget and the labelling, and the labelled
/// whole-phantom SAR re-run as the normalisation target lands on the limit within 1 %.
#[test]
fn assess_writes_the_budget_and_its_label_reruns_onto_the_limit() {
    let d = common::tmpdir("e2e");
    let run = |name: &str, wb: f64| {
        let p = coil_recipe(&d, &format!("{name}.toml"), wb, "");
        let out = d.join(name);
        let o = common::bin()
            .args(["assess", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--quiet"])
            .output()
            .unwrap();
        let code = o.status.code();
        assert!(matches!(code, Some(0) | Some(1)), "{}", String::from_utf8_lossy(&o.stderr));
        summary(&out)
    };
    let s = run("first", 2.0);
    let id = "sar_10g";
    let comps = s["quantities"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|x| {
            let k = x["key"].as_str().unwrap();
            k.starts_with(&format!("uncertainty.{id}.component.")) && k.matches('.').count() == 3
        })
        .count();
    assert!(comps >= 5, "{comps} components");
    let u = q(&s, &format!("uncertainty.{id}.expanded"));
    let v = q(&s, "sar.peak_10g");
    assert!(u > 0.0 && u < v, "U {u} for value {v}");
    assert!((q(&s, &format!("criteria.{id}.assessed")) - (v + u)).abs() < 1e-9 * (v + u));
    let label = q(&s, &format!("labelling.{id}.max_whole_phantom_sar"));
    assert!(q(&s, &format!("labelling.{id}.max_b1rms")) > 0.0);
    assert!((label - 2.0 * 10.0 / (v + u)).abs() < 1e-9 * label);
    let s2 = run("label", label);
    let a2 = q(&s2, &format!("criteria.{id}.assessed"));
    assert!((a2 / 10.0 - 1.0).abs() < 0.01, "value + U at the labelled SAR: {a2} W/kg vs the limit 10");
}
