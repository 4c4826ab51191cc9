//! Issue 18 item 4: grid robustness of the local implant runs.
//!
//! Two mirror-image placements of a shipped lead in a field that is symmetric about the mirror plane
//! must give the same tip temperature rise within 2 %: the tip probe, the wire and its bare parts
//! must sit where the placement puts them, not where the coil frame's grid lines happen to fall.
//!
//! The field: a 64 MHz plane wave in the ASTM gel travelling along x with E along z (100 V/m), which
//! does not depend on y or z, so every plane z = const and y = const is a mirror plane of it. The
//! lead (the shipped 10 cm insulated wire with 1 cm bare ends) lies along z, once pointing +z with its
//! tip at `z0 - L/2`, once pointing -z with its tip at `z0 + L/2` (the mirror image about z = z0),
//! with transverse offsets that are not multiples of the cell, and `z0` chosen so the two tips fall
//! at different fractions of a 2 mm cell of the coil frame's lattice (0.4 and 0.6 cell: before the
//! local box followed the wire, the two probes sat 0.4 cell and 0.6 cell off the wire's snapped end).

use std::sync::Arc;

use num_complex::Complex64;
use rftwin::coil::PhantomConfig;
use rftwin::dosimetry::thermal::ThermalSettings;
use rftwin::fdtd::PlaneWave;
use rftwin::implant::local::{end_probes, run_local, LocalOptions};
use rftwin::implant::placement::{place, Placement};
use rftwin::implant::Implant;

fn root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Tip probe rise (K) after 15 min, tip 1 g SAR peak within 15 mm of the tip (W/kg).
fn tip_heating(placement: &Placement, cell_m: f64) -> (f64, f64) {
    let ph = PhantomConfig::load(&root().join("phantoms/astm_f2182.toml")).unwrap();
    let implant = Implant::load(&root().join("phantoms/implants/insulated_wire_100mm.toml")).unwrap();
    let placed = place(&implant, &ph, placement).unwrap();
    let m = &ph.material;
    let e0 = [0.0, 0.0, 100.0].map(|v| Complex64::new(v, 0.0));
    let pw = Arc::new(PlaneWave::new(64e6, m.eps_r, m.sigma_s_per_m, [1.0, 0.0, 0.0], e0, ph.centre_m()).unwrap());
    let opt = LocalOptions {
        cell_m,
        pad_m: 0.01,
        ..LocalOptions::default()
    };
    let lf = run_local(&placed, &ph, pw, &opt).unwrap();
    let settings = ThermalSettings {
        duration_s: 900.0,
        dt_s: 10.0,
        initial_temperature_c: 22.0,
        cem43_map: false,
    };
    let probes = end_probes(&placed);
    let dose = lf.dosimetry(&probes, &settings).unwrap();
    let tip = placed.path_m[0];
    let g = &lf.cells;
    let mut sar = 0.0f64;
    for ((i, j, k), v) in dose.sar_1g[0].sar_w_per_kg.indexed_iter() {
        let q = g.position(i, j, k);
        if (0..3).map(|a| (q[a] - tip[a]).powi(2)).sum::<f64>() < 0.015f64.powi(2) {
            sar = sar.max(*v as f64);
        }
    }
    (dose.thermal[0].probes[0].final_rise_k, sar)
}

#[test]
fn mirror_placements_agree_in_tip_heating() {
    let d = 0.002;
    let ph = PhantomConfig::load(&root().join("phantoms/astm_f2182.toml")).unwrap();
    let c = ph.centre_m();
    let half = 0.05;
    // z0 (phantom frame) such that the +z lead's tip lies 0.4 cell above a coil-frame grid line.
    let frac = |z: f64| z / d - (z / d).floor();
    let mut z0 = 0.0;
    while (frac(c[2] + z0 - half) - 0.4).abs() > 1e-6 {
        z0 += 0.4 * d - frac(c[2] + z0 - half) * d;
    }
    assert!((frac(c[2] + z0 + half) - 0.4).abs() < 1e-6);
    let (dx, dy) = (0.0007, -0.0013);
    let up = Placement::new("up", [dx, dy, z0 - half], [0.0, 0.0, 1.0], 0.0).unwrap();
    let down = Placement::new("down", [dx, dy, z0 + half], [0.0, 0.0, -1.0], 0.0).unwrap();
    let (dt_up, sar_up) = tip_heating(&up, d);
    let (dt_down, sar_down) = tip_heating(&down, d);
    eprintln!("mirror placements at 2 mm: tip dT {dt_up:.4} / {dt_down:.4} K, tip 1 g SAR {sar_up:.3} / {sar_down:.3} W/kg");
    assert!(dt_up > 0.0 && dt_down > 0.0);
    let rel = (dt_up / dt_down - 1.0).abs();
    assert!(rel < 0.02, "tip dT {dt_up} vs {dt_down} K: {:.1} % apart", rel * 100.0);
    let rel_sar = (sar_up / sar_down - 1.0).abs();
    assert!(rel_sar < 0.02, "tip 1 g SAR {sar_up} vs {sar_down} W/kg: {:.1} % apart", rel_sar * 100.0);
}

/// A coating thicker than the first ring of lattice edges (issue 18 item 4: the same lead must run
/// at 2, 1 and 0.5 mm): an insulated wire (a = 1 mm, b = 4 mm, eps_r 3) in ASTM gel at 64 MHz,
/// centre-fed, 31 cm: the wavenumber of its current against King's insulated-wire formula (King,
/// Smith, Owens & Wu, Antennas in Matter, 1981, ch. 2), with 1 cm cells (the coating inside the first
/// ring, 0.4 cell) and with 2.5 mm cells (the coating spanning 1.6 cells: the first ring filled with
/// the coating, the edges beyond it coating and gel in series).
#[test]
fn thick_coating_matches_king_across_cells() {
    use rftwin::fdtd::thinwire::Insulation;
    use rftwin::fdtd::validation::{king_insulated_wavenumber, thin_wire_run, wire_wavenumber};
    use rftwin::grid::{Material, EPS0, MU0};
    let g = Material::astm_gel();
    let f = 64e6;
    let w = 2.0 * std::f64::consts::PI * f;
    let k4 = w * (MU0 * Complex64::new(EPS0 * g.eps_r, -g.sigma_s_per_m / w)).sqrt();
    let (a, b, ei) = (0.001, 0.004, 3.0);
    let king = king_insulated_wavenumber(f, a, b, ei, k4);
    let mut ks = Vec::new();
    for (d, edges) in [(0.01, 31usize), (0.0025, 125usize)] {
        let ins = Some(Insulation {
            outer_radius_m: b,
            eps_r: ei,
        });
        let o = thin_wire_run(g.clone(), f, d, edges, edges / 2, a, ins, 8).unwrap();
        let half = edges / 2;
        let lag = (0.03 / d).round() as usize;
        let k1 = wire_wavenumber(&o.current[..half], 1, half - 1, lag, d);
        let k2 = wire_wavenumber(&o.current[half + 1..], 1, half - 1, lag, d);
        let k = 0.5 * (k1 + k2);
        let err = (k - king).norm() / king.norm();
        eprintln!("d = {} mm: k = {k:.3} /m, King {king:.3} /m, error {:.1} %", d * 1e3, err * 100.0);
        assert!(err < 0.10, "d = {d} m: k {k} vs King {king}");
        ks.push(k);
    }
    let spread = (ks[1] - ks[0]).norm() / ks[0].norm();
    assert!(spread < 0.05, "1 cm {} vs 2.5 mm {}: {:.1} % apart", ks[0], ks[1], spread * 100.0);
}
