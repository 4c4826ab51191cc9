//! Resampling a simulated map onto a measured grid: exactness for linear fields through a rotated

// Index loops over the three axes read better than iterator chains (as in the library).
#![allow(clippy::needless_range_loop)]
//! affine, rigid offsets, derivatives, and recovery of a 2 mm shift.

use ndarray::Array3;
use rftwin::b1::*;
use rftwin::grid::RegularField;

/// Simulation grid: 41 x 37 x 33 samples, 5 mm, origin at (-0.1, -0.09, -0.08) m.
fn sim_of(f: impl Fn([f64; 3]) -> f64) -> RegularField<f64> {
    let origin = [-0.1, -0.09, -0.08];
    let d = [0.005; 3];
    let data = Array3::from_shape_fn((41, 37, 33), |(i, j, k)| {
        f([
            origin[0] + i as f64 * d[0],
            origin[1] + j as f64 * d[1],
            origin[2] + k as f64 * d[2],
        ])
    });
    RegularField::new(data, origin, d).unwrap()
}

fn linear(p: [f64; 3]) -> f64 {
    1.5 + 20.0 * p[0] - 7.0 * p[1] + 3.0 * p[2]
}

/// Measured grid: 3 mm voxels rotated 25° about z and 15° about y, centred near the origin.
fn measured_affine() -> Affine {
    let rig = RigidTransform {
        rotation_rad: [0.0, 15f64.to_radians(), 25f64.to_radians()],
        ..Default::default()
    };
    let r = rig.rotation();
    let s = [0.003, 0.0035, 0.004];
    let mut lin = [[0.0; 3]; 3];
    for a in 0..3 {
        for b in 0..3 {
            lin[a][b] = r[a][b] * s[b];
        }
    }
    Affine::from_linear(lin, [-0.03, -0.04, -0.02])
}

const DIMS: [usize; 3] = [20, 18, 12];

#[test]
fn trilinear_is_exact_for_linear_fields_through_a_rotated_affine() {
    let sim = sim_of(linear);
    let aff = measured_affine();
    // A non-trivial world -> simulation transform as well (scanner to coil frame).
    let w2s = Affine::from_linear(
        [[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]],
        [0.004, -0.002, 0.01],
    );
    let pl = Placement {
        world_to_sim: w2s,
        rigid: RigidTransform::default(),
    };
    let out = resample(&sim, DIMS, &aff, &pl);
    let mut max_err: f64 = 0.0;
    let mut n = 0;
    for ((i, j, k), v) in out.indexed_iter() {
        let x = w2s.apply(aff.apply([i as f64, j as f64, k as f64]));
        assert!(v.is_finite(), "voxel ({i},{j},{k}) at {x:?} should be inside");
        max_err = max_err.max((v - linear(x)).abs());
        n += 1;
    }
    assert_eq!(n, DIMS.iter().product::<usize>());
    assert!(max_err < 1e-12, "max error {max_err:e} for a linear field");
    // A quadratic field is NOT reproduced exactly (the test can fail): error ~ d²/8 · f''.
    let quad = sim_of(|p| 100.0 * p[0] * p[0]);
    let out = resample(&quad, DIMS, &aff, &pl);
    let e = out
        .indexed_iter()
        .map(|((i, j, k), v)| {
            let x = w2s.apply(aff.apply([i as f64, j as f64, k as f64]));
            (v - 100.0 * x[0] * x[0]).abs()
        })
        .fold(0.0, f64::max);
    assert!(
        e > 1e-6 && e <= 100.0 * 0.005f64.powi(2) / 4.0 + 1e-12,
        "quadratic error {e:e}"
    );
}

#[test]
fn outside_points_are_nan() {
    let sim = sim_of(linear);
    let aff = Affine::from_origin_spacing([0.05, 0.0, 0.0], [0.01, 0.01, 0.01]);
    let out = resample(&sim, [10, 1, 1], &aff, &Placement::default());
    // x = 0.05..0.14; the sim grid ends at x = 0.1.
    for (i, v) in out.iter().enumerate() {
        let x = 0.05 + 0.01 * i as f64;
        assert_eq!(v.is_nan(), x > 0.1 + 1e-9, "x = {x}: {v}");
    }
}

#[test]
fn rigid_shift_moves_the_field_with_the_phantom() {
    let sim = sim_of(linear);
    let aff = measured_affine();
    let t = [0.002, -0.001, 0.0005];
    let pl = Placement {
        world_to_sim: Affine::identity(),
        rigid: RigidTransform::shift(t),
    };
    let out = resample(&sim, DIMS, &aff, &pl);
    for ((i, j, k), v) in out.indexed_iter() {
        let p = aff.apply([i as f64, j as f64, k as f64]);
        let want = linear([p[0] - t[0], p[1] - t[1], p[2] - t[2]]);
        assert!((v - want).abs() < 1e-12);
    }
    // forward ∘ inverse = identity for a general rigid transform.
    let rig = RigidTransform {
        translation_m: [0.01, -0.02, 0.003],
        rotation_rad: [0.05, -0.03, 0.2],
        centre_m: [0.01, 0.02, -0.03],
    };
    let id = rig.forward().compose(&rig.inverse());
    assert!(id.max_abs_diff(&Affine::identity()) < 1e-14);
}

fn smooth(p: [f64; 3]) -> f64 {
    // A Gaussian bump plus a gradient: smooth, non-linear, with structure in all directions.
    let r2 = (p[0] - 0.01).powi(2) / 0.04f64.powi(2)
        + (p[1] + 0.005).powi(2) / 0.05f64.powi(2)
        + (p[2] - 0.003).powi(2) / 0.03f64.powi(2);
    1.0 + 0.8 * (-r2).exp() + 2.0 * p[0] - 1.0 * p[2]
}

#[test]
fn jacobian_matches_finite_differences() {
    let sim = sim_of(smooth);
    let aff = measured_affine();
    let rig = RigidTransform {
        translation_m: [0.0012, -0.0007, 0.0004],
        rotation_rad: [0.02, -0.015, 0.03],
        centre_m: [0.0, 0.0, 0.0],
    };
    let pl = Placement {
        world_to_sim: Affine::identity(),
        rigid: rig,
    };
    let r = resample_with_jacobian(&sim, DIMS, &aff, &pl);
    let base = resample(&sim, DIMS, &aff, &pl);
    for (a, b) in r.values.iter().zip(base.iter()) {
        assert!((a - b).abs() < 1e-12);
    }
    // Central differences of the trilinear model; steps small against a cell (5 mm) so that most
    // voxels do not cross a cell face. Compare in the RMS sense over the grid.
    let steps = [1e-6, 1e-6, 1e-6, 1e-5, 1e-5, 1e-5];
    for q in 0..6 {
        let mut pp = rig.params();
        let mut pm = rig.params();
        pp[q] += steps[q];
        pm[q] -= steps[q];
        let fp = resample(
            &sim,
            DIMS,
            &aff,
            &Placement {
                world_to_sim: Affine::identity(),
                rigid: RigidTransform::from_params(pp, rig.centre_m),
            },
        );
        let fm = resample(
            &sim,
            DIMS,
            &aff,
            &Placement {
                world_to_sim: Affine::identity(),
                rigid: RigidTransform::from_params(pm, rig.centre_m),
            },
        );
        let (mut num, mut den, mut bad) = (0.0, 0.0, 0usize);
        for ((j, p), m) in r.jacobian[q].iter().zip(fp.iter()).zip(fm.iter()) {
            let fd = (p - m) / (2.0 * steps[q]);
            num += (j - fd).powi(2);
            den += fd * fd;
            if (j - fd).abs() > 1e-3 * (1.0 + fd.abs()) {
                bad += 1;
            }
        }
        let rel = (num / den).sqrt();
        assert!(rel < 0.02, "parameter {q}: RMS relative Jacobian error {rel}");
        assert!(bad * 50 < r.values.len(), "parameter {q}: {bad} voxels disagree");
    }
}

/// A "measured" map made by shifting the phantom 2 mm (plus small offsets and a rotation) is matched
/// back by Gauss-Newton on the rigid parameters using the analytic Jacobian: recovered within 0.02 mm
/// and 0.01°.
#[test]
fn two_mm_shift_is_recovered() {
    let sim = sim_of(smooth);
    let aff = measured_affine();
    let truth = RigidTransform {
        translation_m: [0.002, -0.0008, 0.0012],
        rotation_rad: [0.0, 0.0, 0.5f64.to_radians()],
        centre_m: [0.0; 3],
    };
    // Measured = the sim map sampled densely at the true placement (its own trilinear model).
    let meas = resample(
        &sim,
        DIMS,
        &aff,
        &Placement {
            world_to_sim: Affine::identity(),
            rigid: truth,
        },
    );
    let mut p = [0.0; 6];
    for _ in 0..20 {
        let r = resample_with_jacobian(
            &sim,
            DIMS,
            &aff,
            &Placement {
                world_to_sim: Affine::identity(),
                rigid: RigidTransform::from_params(p, [0.0; 3]),
            },
        );
        // Normal equations JᵀJ δ = Jᵀ (meas - model), with columns scaled (m vs rad).
        let mut jtj = [[0.0; 6]; 6];
        let mut jtr = [0.0; 6];
        for (idx, (m, v)) in meas.iter().zip(r.values.iter()).enumerate() {
            if !m.is_finite() || !v.is_finite() {
                continue;
            }
            let res = m - v;
            let (i, rem) = (idx / (DIMS[1] * DIMS[2]), idx % (DIMS[1] * DIMS[2]));
            let (j, k) = (rem / DIMS[2], rem % DIMS[2]);
            let jrow: Vec<f64> = (0..6).map(|q| r.jacobian[q][[i, j, k]]).collect();
            for a in 0..6 {
                jtr[a] += jrow[a] * res;
                for b in 0..6 {
                    jtj[a][b] += jrow[a] * jrow[b];
                }
            }
        }
        let delta = solve6(jtj, jtr);
        for q in 0..6 {
            p[q] += delta[q];
        }
        if delta.iter().map(|d| d.abs()).fold(0.0, f64::max) < 1e-10 {
            break;
        }
    }
    let tp = truth.params();
    for q in 0..3 {
        assert!((p[q] - tp[q]).abs() < 2e-5, "translation {q}: {} vs {} m", p[q], tp[q]);
    }
    for q in 3..6 {
        assert!(
            (p[q] - tp[q]).abs() < 0.01f64.to_radians(),
            "rotation {q}: {} vs {} rad",
            p[q],
            tp[q]
        );
    }
}

/// Gaussian elimination with partial pivoting (6x6).
fn solve6(mut a: [[f64; 6]; 6], mut b: [f64; 6]) -> [f64; 6] {
    for c in 0..6 {
        let piv = (c..6).max_by(|&x, &y| a[x][c].abs().total_cmp(&a[y][c].abs())).unwrap();
        a.swap(c, piv);
        b.swap(c, piv);
        for r in c + 1..6 {
            let f = a[r][c] / a[c][c];
            for k in c..6 {
                a[r][k] -= f * a[c][k];
            }
            b[r] -= f * b[c];
        }
    }
    let mut x = [0.0; 6];
    for r in (0..6).rev() {
        x[r] = (b[r] - (r + 1..6).map(|k| a[r][k] * x[k]).sum::<f64>()) / a[r][r];
    }
    x
}

#[test]
fn complex_fields_resample_too() {
    let origin = [0.0; 3];
    let d = [0.01; 3];
    let data = Array3::from_shape_fn((5, 5, 5), |(i, j, k)| {
        num_complex::Complex32::new(i as f32 + 0.5 * k as f32, -(j as f32))
    });
    let f = RegularField::new(data, origin, d).unwrap();
    let v = f.sample([0.015, 0.025, 0.005]);
    assert!((v.re - (1.5 + 0.25)).abs() < 1e-6 && (v.im + 2.5).abs() < 1e-6, "{v}");
}
