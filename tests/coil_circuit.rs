//! Hand-computable inductances and properties of the circuit model, with stated tolerances.

use rftwin::coil::inductance::{mutual_filaments, mutual_parallel_equal, strip_self, Filament};
use rftwin::coil::{circuit, CircuitModel, CircuitOptions, CoilConfig, ModeKind};

fn coil(name: &str) -> CoilConfig {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("coils")
        .join(name);
    CoilConfig::load(&path).unwrap()
}

#[test]
fn grover_strip_self_inductance_by_hand() {
    // l = 0.25 m, w = 0.01 m: (mu0 l / 2 pi)[ln(2l/w) + 1/2 + 0.2235 w/l]
    //   = 2e-7 * 0.25 * (ln 50 + 0.5 + 0.00894) = 5e-8 * 4.420963 = 221.048 nH (by hand, 6 digits).
    let l = strip_self(0.25, 0.01, true);
    assert!((l - 221.048e-9).abs() / 221.048e-9 < 5e-6, "{l:e}");
    // BirdcageBuilder form (no width term): l = 0.1, w = 0.02: 2e-8 (ln 10 + 0.5) = 56.0517 nH.
    let l = strip_self(0.10, 0.02, false);
    assert!((l - 56.0517e-9).abs() / 56.0517e-9 < 2e-6, "{l:e}");
}

#[test]
fn parallel_filaments_by_hand_and_by_quadrature() {
    // l = 1 m, d = 0.1 m: 2e-7 [asinh 10 - sqrt(1.01) + 0.1] = 2e-7 * (2.998223 - 1.004988 + 0.1)
    //   = 418.647 nH (by hand).
    let exact = mutual_parallel_equal(1.0, 0.1);
    assert!((exact - 418.647e-9).abs() / 418.647e-9 < 5e-6, "{exact:e}");
    let a = Filament::new([0.0, 0.0, 0.0], [0.0, 0.0, 1.0]);
    let b = Filament::new([0.1, 0.0, 0.0], [0.1, 0.0, 1.0]);
    let num = mutual_filaments(&a, &b);
    assert!((num - exact).abs() / exact < 1e-9, "{num:e} vs {exact:e}");
    // Antiparallel: the sign flips. Perpendicular: zero.
    let b_rev = Filament::new([0.1, 0.0, 1.0], [0.1, 0.0, 0.0]);
    assert!((mutual_filaments(&a, &b_rev) + exact).abs() / exact < 1e-9);
    let c = Filament::new([0.1, 0.0, 0.5], [0.3, 0.0, 0.5]);
    assert_eq!(mutual_filaments(&a, &c), 0.0);
}

#[test]
fn skew_filaments_against_brute_force_double_integral() {
    // Two non-parallel, non-coplanar filaments far apart (smooth integrand): midpoint rule with
    // 2000 x 2000 points converges to ~1e-7 relative; the semi-analytic quadrature must agree.
    let a = Filament::new([0.0, 0.0, 0.0], [0.3, 0.1, 0.0]);
    let b = Filament::new([0.05, 0.2, 0.15], [0.35, 0.25, 0.05]);
    let n = 2000;
    let (ta, tb) = (a.direction(), b.direction());
    let (la, lb) = (a.length(), b.length());
    let mut sum = 0.0;
    for i in 0..n {
        let s = (i as f64 + 0.5) / n as f64 * la;
        let p = [a.a[0] + s * ta[0], a.a[1] + s * ta[1], a.a[2] + s * ta[2]];
        for j in 0..n {
            let t = (j as f64 + 0.5) / n as f64 * lb;
            let q = [b.a[0] + t * tb[0], b.a[1] + t * tb[1], b.a[2] + t * tb[2]];
            sum += 1.0 / ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt();
        }
    }
    let cos = ta[0] * tb[0] + ta[1] * tb[1] + ta[2] * tb[2];
    let brute = 1e-7 * cos * sum * (la / n as f64) * (lb / n as f64);
    let num = mutual_filaments(&a, &b);
    assert!((num - brute).abs() / brute.abs() < 1e-5, "{num:e} vs {brute:e}");
}

#[test]
fn tuning_is_consistent_and_monotonic() {
    let c = coil("body_1p5t_hp16.toml");
    let t = circuit::tune(&c).unwrap();
    let cap = t.capacitance_f.unwrap();
    // HP: doubling the ring capacitance lowers m = 1 by sqrt 2 (L fixed), exactly.
    let m = CircuitModel::new(&c, CircuitOptions::default()).unwrap();
    let f2 = m
        .spectrum(None, Some(2.0 * cap))
        .unwrap()
        .iter()
        .find(|x| x.m == 1 && x.kind == ModeKind::Azimuthal)
        .unwrap()
        .freq_hz;
    assert!((f2 * 2f64.sqrt() - c.freq_hz).abs() / c.freq_hz < 1e-9, "{f2}");
    // The 3 T coil of the same geometry needs (63.866/127.7)^2 of the 1.5 T capacitance.
    let t3 = circuit::tune(&coil("body_3t_hp16.toml")).unwrap();
    let ratio = t3.capacitance_f.unwrap() / cap;
    let expect = (c.freq_hz / 127.7e6).powi(2);
    assert!((ratio - expect).abs() / expect < 1e-9, "{ratio} vs {expect}");
    // A shield lowers the rung inductance, so an LP coil needs more capacitance with it.
    let lp = coil("head_3t_lp8.toml");
    let with = circuit::tune(&lp).unwrap().capacitance_f.unwrap();
    let without = circuit::tune_with(
        &lp,
        CircuitOptions {
            shield_images: false,
            ..Default::default()
        },
    )
    .unwrap()
    .capacitance_f
    .unwrap();
    assert!(with > without, "{with:e} vs {without:e}");
}

#[test]
fn band_pass_solves_the_missing_capacitor() {
    let c = coil("head_3t_bp12.toml");
    let t = circuit::tune(&c).unwrap();
    assert_eq!(t.solved, "rung");
    assert_eq!(t.ring_capacitance_f, Some(33e-12));
    assert!((t.homogeneous_mode_hz - 127.7e6).abs() / 127.7e6 < 1e-9);
    // Fixing the solved rung value and solving the ring instead returns the 33 pF (round trip).
    let mut c2 = c.clone();
    c2.rung_capacitor = rftwin::coil::CapSetting::Fixed(t.rung_capacitance_f.unwrap());
    c2.ring_capacitor = rftwin::coil::CapSetting::Auto;
    let t2 = circuit::tune(&c2).unwrap();
    assert!(
        (t2.capacitance_f.unwrap() - 33e-12).abs() / 33e-12 < 1e-9,
        "{:e}",
        t2.capacitance_f.unwrap()
    );
}

#[test]
fn tuning_serialises_to_json() {
    let t = circuit::tune(&coil("head_3t_lp8.toml")).unwrap();
    let v: serde_json::Value = serde_json::to_value(&t).unwrap();
    assert!(v["capacitance_f"].as_f64().unwrap() > 0.0);
    assert_eq!(v["modes"].as_array().unwrap().len(), t.modes.len());
    assert!(v["inductances"]["rung_self_h"].as_f64().unwrap() > 0.0);
}
