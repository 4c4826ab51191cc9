//! B1+ / B1− algebra and Yee-to-centre interpolation.

// Index loops over the three axes read better than iterator chains (as in the library).
#![allow(clippy::needless_range_loop)]

use ndarray::Array3;
use num_complex::Complex32;
use rftwin::b1::*;
use rftwin::fdtd::FieldKind;
use rftwin::grid::MU0;

/// Yee components of a field `f(comp, position)` on an `n`-cell grid of spacing `d` whose node (0,0,0)
/// is at `o`, laid out as `rftwin fdtd run` writes a full probe: `n+1` samples per axis, E half a
/// cell along its own axis, H half a cell along the other two.
fn yee(kind: FieldKind, n: [usize; 3], d: f64, o: [f64; 3], f: impl Fn(usize, [f64; 3]) -> Complex32) -> YeeVector {
    let comps = [0, 1, 2].map(|c| {
        let mut org = o;
        for a in 0..3 {
            let half = match kind {
                FieldKind::E => a == c,
                FieldKind::H => a != c,
            };
            if half {
                org[a] += 0.5 * d;
            }
        }
        let data = Array3::from_shape_fn((n[0] + 1, n[1] + 1, n[2] + 1), |(i, j, k)| {
            f(c, [org[0] + i as f64 * d, org[1] + j as f64 * d, org[2] + k as f64 * d])
        });
        RegularField::new(data, org, [d; 3]).unwrap()
    });
    YeeVector::new(kind, comps).unwrap()
}

#[test]
fn circular_polarisation_sign_convention() {
    let h0 = 2.5f32;
    let i = Complex32::i();
    // H = H0 (1, -i, 0): b(t) = µ0 H0 (cos ωt, sin ωt, 0), turning +x -> +y.
    let h = yee(FieldKind::H, [4, 4, 4], 0.01, [0.0; 3], |c, _| match c {
        0 => Complex32::new(h0, 0.0),
        1 => -i * h0,
        _ => Complex32::new(0.0, 0.0),
    });
    let bp = b1_plus(&h).unwrap();
    let bm = b1_minus(&h).unwrap();
    let want = (MU0 * h0 as f64) as f32;
    assert_eq!(bp.dims(), [4, 4, 4], "one value per cell centre");
    assert_eq!(bp.origin_m, [0.005; 3]);
    for v in bp.data.iter() {
        assert!((v - want).norm() < 1e-6 * want, "B1+ = {v}, want {want}");
    }
    for v in bm.data.iter() {
        assert!(v.norm() < 1e-6 * want, "B1- = {v}, want 0");
    }
    // The reverse rotation H = H0 (1, +i, 0).
    let h = yee(FieldKind::H, [3, 3, 3], 0.01, [0.0; 3], |c, _| match c {
        0 => Complex32::new(h0, 0.0),
        1 => i * h0,
        _ => Complex32::new(0.0, 0.0),
    });
    for v in b1_plus(&h).unwrap().data.iter() {
        assert!(v.norm() < 1e-6 * want, "B1+ = {v}, want 0");
    }
    for v in b1_minus(&h).unwrap().data.iter() {
        assert!((v - want).norm() < 1e-6 * want, "B1- = {v}, want {want}");
    }
    // Passing E where H is needed is an error.
    let e = yee(FieldKind::E, [2, 2, 2], 0.01, [0.0; 3], |_, _| Complex32::new(1.0, 0.0));
    assert!(b1_plus(&e).is_err());
    assert!(e_magnitude(&h).is_err());
}

/// A smooth analytic field with a different profile per component.
fn analytic(c: usize, p: [f64; 3]) -> Complex32 {
    let k = 2.0 * std::f64::consts::PI / 0.3; // 30 cm wavelength (gel at 128 MHz: ~26 cm)
    let v = match c {
        0 => Complex32::new((k * p[1]).cos() as f32, (k * p[2]).sin() as f32),
        1 => Complex32::new((k * p[0]).sin() as f32 * (k * p[2]).cos() as f32, 0.3),
        _ => Complex32::new((k * (p[0] + p[1])).cos() as f32, (k * p[2]).cos() as f32),
    };
    v * (1.0 + 0.5 * (k * p[0]).cos() as f32)
}

/// Largest error of the centre-interpolated components against the analytic values, relative to 1.
fn centre_error(kind: FieldKind, d: f64) -> f64 {
    let n = (0.1 / d).round() as usize;
    let v = yee(kind, [n; 3], d, [-0.05, -0.04, -0.06], analytic);
    let (g, comps) = v.at_centres().unwrap();
    assert_eq!(g.dims, [n; 3]);
    let mut e: f64 = 0.0;
    for c in 0..3 {
        for ((i, j, k), val) in comps[c].indexed_iter() {
            let want = analytic(c, g.position(i, j, k));
            e = e.max((val - want).norm() as f64);
        }
    }
    e
}

/// Two-/four-point averages have error ≈ (k d)²/8 per averaged axis times the field amplitude (here
/// up to 1.5 · √2 ≈ 2.1, and 2 averaged axes for the 4-point components): at d = 5 mm, k d = 0.105,
/// the bound is 2.1 · 2 · (kd)²/8 ≈ 5.8e-3 (tolerance 6e-3; measured ~4.8e-3). Halving d must cut
/// the error about 4x (second order).
#[test]
fn yee_to_centre_interpolation_error() {
    for kind in [FieldKind::E, FieldKind::H] {
        let e5 = centre_error(kind, 0.005);
        let e25 = centre_error(kind, 0.0025);
        assert!(e5 < 6e-3, "{kind:?}: error {e5:e} at 5 mm");
        assert!(e5 > 1e-5, "{kind:?}: suspiciously exact ({e5:e})");
        let order = (e5 / e25).log2();
        assert!(
            (1.8..2.3).contains(&order),
            "{kind:?}: convergence order {order} ({e5:e} -> {e25:e})"
        );
    }
}

#[test]
fn e_magnitude_at_centres() {
    // Uniform E = (3, 4i, 0) V/m: |E| = 5.
    let e = yee(FieldKind::E, [3, 2, 2], 0.01, [0.0; 3], |c, _| match c {
        0 => Complex32::new(3.0, 0.0),
        1 => Complex32::new(0.0, 4.0),
        _ => Complex32::new(0.0, 0.0),
    });
    let m = e_magnitude(&e).unwrap();
    assert_eq!(m.dims(), [3, 2, 2]);
    assert!(m.data.iter().all(|v| (v - 5.0).abs() < 1e-6));
    // A linear Ex(y, z) is averaged exactly at the centre.
    let e = yee(FieldKind::E, [3, 3, 3], 0.01, [0.0; 3], |c, p| {
        if c == 0 {
            Complex32::new((1.0 + 10.0 * p[1] + 20.0 * p[2]) as f32, 0.0)
        } else {
            Complex32::new(0.0, 0.0)
        }
    });
    let (g, comps) = e.at_centres().unwrap();
    let p = g.position(1, 2, 0);
    assert!((comps[0][[1, 2, 0]].re as f64 - (1.0 + 10.0 * p[1] + 20.0 * p[2])).abs() < 1e-5);
}

/// `YeeVector::from_probe` places the components as `rftwin fdtd run` writes them (cli.rs `fdtd_run`):
/// from the probe's first node, half a cell along the other two axes for H, along its own for E.
#[test]
fn from_probe_placement() {
    use rftwin::fdtd::{Simulation, SimulationSpec};
    use rftwin::grid::{Grid, Material, VoxelModel};
    let grid = Grid::uniform([-0.05, -0.04, -0.03], [0.005; 3], [12, 10, 8]).unwrap();
    let model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    let sim = Simulation::new(SimulationSpec::new(model)).unwrap();
    let d = sim.cell_size_m();
    let o = sim.model().grid.node_pos(0, 0, 0);
    for kind in [FieldKind::H, FieldKind::E] {
        let probe = sim
            .dft_probe("p", kind, &[0, 1, 2], [2..9, 1..8, 3..7], &[64e6], 1)
            .unwrap();
        let v = YeeVector::from_probe(&probe, 0, o, d).unwrap();
        for c in 0..3 {
            for a in 0..3 {
                let start = [2.0, 1.0, 3.0][a];
                let half = match kind {
                    FieldKind::H => a != c,
                    FieldKind::E => a == c,
                };
                let want = o[a] + d[a] * (start + if half { 0.5 } else { 0.0 });
                assert!(
                    (v.comps[c].origin_m[a] - want).abs() < 1e-12,
                    "{kind:?} comp {c} axis {a}"
                );
            }
            assert_eq!(v.comps[c].dims(), [7, 7, 4]);
        }
        // 7 nodes per axis span 6 cells; the centres of those cells (6, 6, 3) are common to all.
        let g = v.centre_grid().unwrap();
        assert_eq!(g.dims, [6, 6, 3], "{kind:?}");
        for a in 0..3 {
            let start = [2.0, 1.0, 3.0][a];
            assert!((g.origin_m[a] - (o[a] + d[a] * (start + 0.5))).abs() < 1e-12);
        }
        // A component subset is refused.
        let part = sim
            .dft_probe("p", kind, &[0, 1], [2..9, 1..8, 3..7], &[64e6], 1)
            .unwrap();
        assert!(YeeVector::from_probe(&part, 0, o, d).is_err());
    }
}
