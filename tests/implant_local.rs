//! Local fine-grid implant runs driven through the TF/SF surface (`implant::local`).

use std::sync::Arc;

use num_complex::Complex64;
use rftwin::coil::PhantomConfig;
use rftwin::dosimetry::sar::point_sar;
use rftwin::fdtd::PlaneWave;
use rftwin::implant::local::{run_local, LocalOptions};
use rftwin::implant::placement::{place, Placement};
use rftwin::implant::Implant;

fn setup(length_m: f64) -> (rftwin::implant::placement::PlacedImplant, PhantomConfig) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let phantom = PhantomConfig::load(&root.join("phantoms/astm_f2182.toml")).unwrap();
    let toml = format!(
        "name = \"w\"\nkind = \"bare_wire\"\nmaterial = \"ti6al4v\"\nlength_m = {length_m}\nradius_m = 0.0005\n"
    );
    let implant = Implant::from_toml_str(&toml, "test wire").unwrap();
    let placement = Placement::new("test", [0.1, 0.0, 0.0], [0.0, 0.0, 1.0], 0.0).unwrap();
    (place(&implant, &phantom, &placement).unwrap(), phantom)
}

fn opts(with_implant: bool) -> LocalOptions {
    LocalOptions {
        cell_m: 0.002,
        pad_m: 0.01,
        with_implant,
        ..LocalOptions::default()
    }
}

fn plane_wave(phantom: &PhantomConfig) -> Arc<PlaneWave> {
    let m = &phantom.material;
    let e0 = [0.0, 0.0, 100.0].map(|v| Complex64::new(v, 0.0));
    Arc::new(PlaneWave::new(64e6, m.eps_r, m.sigma_s_per_m, [1.0, 0.0, 0.0], e0, [0.1, 0.0, 0.0]).unwrap())
}

/// Without the implant the box must hold the incident field (issue: < 2 % error).
#[test]
fn incident_field_reproduced_without_implant() {
    let (placed, phantom) = setup(0.1);
    let lf = run_local(&placed, &phantom, plane_wave(&phantom), &opts(false)).unwrap();
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for c in 0..3 {
        for (a, b) in lf.e[c].iter().zip(lf.e_incident[c].iter()) {
            num += (a - b).norm_sqr() as f64;
            den += b.norm_sqr() as f64;
        }
    }
    let nrmse = (num / den).sqrt();
    eprintln!(
        "local box without implant: NRMSE vs incident {nrmse:.2e} ({} periods)",
        lf.stats.periods
    );
    assert!(nrmse < 0.02, "incident field not reproduced: NRMSE {nrmse}");
}

/// A bare wire along E concentrates the field at its ends: the peak point SAR near the tips is many
/// times the background, and the background SAR (incident field) is sigma |E|^2 / (2 rho) exactly.
#[test]
fn bare_wire_tip_enhancement() {
    let (placed, phantom) = setup(0.1);
    let lf = run_local(&placed, &phantom, plane_wave(&phantom), &opts(true)).unwrap();
    let with = point_sar(&lf.sar_input(true).unwrap());
    let without = point_sar(&lf.sar_input(false).unwrap());
    let m = &phantom.material;
    // Background (incident field only) at the voxel nearest the plane wave's origin, where |E| = 100 V/m.
    let g = &lf.cells;
    let near =
        [0, 1, 2].map(|a| ((placed.placement.position_m[a] + 0.0 - g.origin_m[a]) / g.spacing_m[a]).round() as usize);
    let bg_origin = without[near] as f64;
    let c = g.position(near[0], near[1], near[2]);
    let pw = plane_wave(&phantom);
    let e_here: f64 = rftwin::fdtd::IncidentField::e(&*pw, c)
        .iter()
        .map(|z| z.norm_sqr())
        .sum();
    let expect = m.sigma_s_per_m * e_here / (2.0 * m.density_kg_per_m3);
    eprintln!("background SAR {bg_origin:.4} W/kg, analytic {expect:.4} W/kg");
    assert!(
        (bg_origin / expect - 1.0).abs() < 0.02,
        "background SAR {bg_origin} vs {expect}"
    );
    let bg_max = without.iter().cloned().fold(0.0f32, f32::max) as f64;
    let peak = with.iter().cloned().fold(0.0f32, f32::max) as f64;
    let (idx, _) = with
        .indexed_iter()
        .max_by(|a, b| a.1.partial_cmp(b.1).unwrap())
        .unwrap();
    let p = lf.cells.position(idx.0, idx.1, idx.2);
    let tip_dist = placed
        .path_m
        .iter()
        .map(|q| ((p[0] - q[0]).powi(2) + (p[1] - q[1]).powi(2) + (p[2] - q[2]).powi(2)).sqrt())
        .fold(f64::INFINITY, f64::min);
    eprintln!(
        "peak point SAR {peak:.3} W/kg = {:.1} x background, {:.1} mm from a tip",
        peak / bg_max,
        tip_dist * 1e3
    );
    assert!(peak > 5.0 * bg_max, "no tip enhancement: {peak} vs {bg_max}");
    assert!(tip_dist < 0.006, "peak SAR {tip_dist} m from the nearest tip");
    // Thermal model builds with the wire as metal.
    let tm = lf.thermal_model(true).unwrap();
    assert_eq!(tm.dims(), [lf.cells.dims[0], lf.cells.dims[1], lf.cells.dims[2]]);
}

/// The local box's boundary (issue 19 item 2: the CPML no thicker than its reflection budget needs):
/// the default CPML gives the same fields near the wire as an 8-layer CPML with a wider gap, to
/// 0.5 % in the peak point SAR near the tips and the mean |E| in the total-field box (the study behind
/// the default: `examples/local_boundary_study.rs`, its numbers at `LocalOptions::default`).
#[test]
fn default_cpml_matches_a_thicker_one() {
    let (placed, phantom) = setup(0.1);
    let thick = LocalOptions {
        cpml_layers: 8,
        gap_cells: 4,
        ..opts(true)
    };
    assert!(
        LocalOptions::default().cpml_layers < thick.cpml_layers,
        "the default CPML is no thinner than the reference one: nothing to check"
    );
    let a = run_local(&placed, &phantom, plane_wave(&phantom), &opts(true)).unwrap();
    let b = run_local(&placed, &phantom, plane_wave(&phantom), &thick).unwrap();
    let pa = point_sar(&a.sar_input(true).unwrap());
    let pb = point_sar(&b.sar_input(true).unwrap());
    let peak = |p: &ndarray::Array3<f32>| p.iter().cloned().fold(0.0f32, f32::max) as f64;
    let (sa, sb) = (peak(&pa), peak(&pb));
    eprintln!("peak point SAR: default CPML {sa:.4} W/kg, 8 layers {sb:.4} W/kg");
    assert!((sa / sb - 1.0).abs() < 0.005, "peak SAR {sa} vs {sb}");
    assert!(a.fdtd_cells < b.fdtd_cells, "the thinner CPML did not shrink the box");
    // The same total-field box in both (same cell, pad and implant lattice): E agrees everywhere in it.
    assert_eq!(a.cells.dims, b.cells.dims);
    let (mut num, mut den) = (0.0f64, 0.0f64);
    for c in 0..3 {
        for (x, y) in a.e[c].iter().zip(b.e[c].iter()) {
            num += (x - y).norm_sqr() as f64;
            den += y.norm_sqr() as f64;
        }
    }
    let nrmse = (num / den).sqrt();
    eprintln!("E in the box: NRMSE {nrmse:.2e} between the default and the 8-layer CPML ({} vs {} cells)", a.fdtd_cells, b.fdtd_cells);
    assert!(nrmse < 0.005, "E differs by {nrmse} (NRMSE) with the thinner CPML");
}
