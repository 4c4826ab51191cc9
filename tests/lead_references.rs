//! The stored lead references of issue 18 (tests/data/lead_tl, tests/data/lead_tip): consistency with
//! each other and with what rftwin derives independently, and the physics they must show. Fast (reads
//! JSON); the comparisons of rftwin's FDTD with them are `rftwin validate`'s `lead_*` cases.

use num_complex::Complex64;
use rftwin::implant::lead_validation::{
    tip_sar_reference_curve, tip_sealed_reference, tl_curve, LeadKind, LEAD_TIP_JSON,
};
use rftwin::implant::tf::medium_wavenumber;
use rftwin::implant::validation::tl_resonant_length;

#[test]
fn tl_bare_resonance_matches_the_open_wire_formula() {
    // Two derivations: the TL file's tip-current peak of a bare wire with end-face loads, and rftwin's
    // peak of |tan(kL/2)/k|^2 of an open-ended wire with the gel's k.
    for f in [64e6, 128e6] {
        let tl = tl_curve(LeadKind::Bare, f).unwrap().resonant_length_m;
        let own = tl_resonant_length(medium_wavenumber(f, 80.0, 0.47));
        assert!((tl / own - 1.0).abs() < 0.01, "{f} Hz: TL {tl} m vs {own} m");
    }
}

#[test]
fn insulated_leads_resonate_longer_than_bare_wires() {
    for f in [64e6, 128e6] {
        let b = tl_curve(LeadKind::Bare, f).unwrap().resonant_length_m;
        let i = tl_curve(LeadKind::BothBare, f).unwrap().resonant_length_m;
        let s = tl_curve(LeadKind::TipSealed, f).unwrap().resonant_length_m;
        assert!(i > 1.5 * b && s > i, "{f} Hz: bare {b}, both bare {i}, tip+sealed {s}");
    }
    // 64 MHz: insulated leads in gel resonate in the 25-50 cm range quoted for them.
    let i = tl_curve(LeadKind::BothBare, 64e6).unwrap().resonant_length_m;
    assert!((0.25..0.50).contains(&i), "{i}");
}

fn fem() -> serde_json::Value {
    serde_json::from_str(LEAD_TIP_JSON).unwrap()
}

#[test]
fn fem_tip_impedance_agrees_with_the_tl_electrode_load() {
    // The TL's 1 cm electrode load is the slender-rod formula (ln(2h/a) - 1) / (2 pi kappa h); the
    // resolved FEM must give the same spreading impedance within 10 %.
    let root = fem();
    for fr in root["frequencies"].as_array().unwrap() {
        let f = fr["freq_hz"].as_f64().unwrap();
        let z = Complex64::new(
            fr["tip"]["z_e_ohm"][0].as_f64().unwrap(),
            fr["tip"]["z_e_ohm"][1].as_f64().unwrap(),
        );
        let w = 2.0 * std::f64::consts::PI * f;
        let kappa = Complex64::new(0.47, w * 8.8541878128e-12 * 80.0);
        let (h, a): (f64, f64) = (0.01, 0.0005);
        let rod = ((2.0 * h / a).ln() - 1.0) / (2.0 * std::f64::consts::PI * kappa * h);
        assert!((z / rod - 1.0).norm() < 0.10, "{f} Hz: FEM {z} vs rod {rod}");
    }
}

#[test]
fn fem_converged_under_refinement() {
    let root = fem();
    for fr in root["frequencies"].as_array().unwrap() {
        for key in ["sar_1g_w_per_kg", "sar_2mm_w_per_kg"] {
            let c = &fr["convergence"][key];
            for side in ["tip_change_last_refinement", "sealed_change_last_refinement"] {
                let v = c[side].as_f64().unwrap();
                assert!(v < 0.02, "{key} {side}: {v}");
            }
        }
    }
}

#[test]
fn sealed_end_heats_far_less_than_the_bare_tip() {
    for f in [64e6, 128e6] {
        for l in [0.10, 0.20, 0.30, 0.40, 0.50] {
            let (tip, far) = tip_sealed_reference(f, l).unwrap();
            assert!(
                tip > 0.0 && far > 0.0 && far < 0.5 * tip,
                "{f} Hz {l} m: tip {tip}, far {far}"
            );
        }
    }
    // The tip heating of the insulated lead peaks at the TL's resonant length (within 5 mm samples).
    let (l, s) = tip_sar_reference_curve(LeadKind::TipSealed, 64e6).unwrap();
    let i = (0..s.len()).max_by(|a, b| s[*a].total_cmp(&s[*b])).unwrap();
    let res = tl_curve(LeadKind::TipSealed, 64e6).unwrap().resonant_length_m;
    assert!((l[i] - res).abs() < 0.03, "SAR peak {} m vs TL resonance {res} m", l[i]);
}

#[test]
fn the_reference_leads_are_valid_implants() {
    for k in [LeadKind::Bare, LeadKind::BothBare, LeadKind::TipSealed] {
        let imp = k.implant(0.2).unwrap();
        assert!((imp.length_m() - 0.2).abs() < 1e-12);
    }
}
