//! The stored openEMS reference of coils/ref_3t_lp8.toml with phantoms/ref_gel_cylinder.toml
//! (tests/data/openems_lp8/reference.h5, made by scripts/reference/openems_lp8.py; see the README
//! there). These tests check the stored data itself: shapes, finite values, the normalisation of each
//! run, passivity and reciprocity of its port network, and that it describes the coil and phantom
//! files. The validation cases that compare rftwin with it live elsewhere.

use std::path::PathBuf;

use hdf5::File;
use ndarray::{Array1, Array3, Array4, Ix1, Ix3, Ix4};
use num_complex::{Complex32, Complex64};
use rftwin::coil::PhantomConfig;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn reference() -> File {
    File::open(root().join("tests/data/openems_lp8/reference.h5")).expect("tests/data/openems_lp8/reference.h5 opens")
}

fn attr_f64(f: &File, name: &str) -> f64 {
    f.attr(name)
        .unwrap_or_else(|e| panic!("attribute {name}: {e}"))
        .read_scalar::<f64>()
        .unwrap()
}

fn read_c64_1(f: &File, name: &str) -> Array1<Complex64> {
    f.dataset(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read::<Complex64, Ix1>()
        .unwrap()
}

fn read_c64_3(f: &File, name: &str) -> Array3<Complex64> {
    f.dataset(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read::<Complex64, Ix3>()
        .unwrap()
}

fn read_f64_1(f: &File, name: &str) -> Array1<f64> {
    f.dataset(name)
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .read::<f64, Ix1>()
        .unwrap()
}

/// Z (2x2) at band index `n`.
fn z_at(z: &Array3<Complex64>, n: usize) -> [[Complex64; 2]; 2] {
    [[z[[n, 0, 0]], z[[n, 0, 1]]], [z[[n, 1, 0]], z[[n, 1, 1]]]]
}

#[test]
fn fields_have_the_grid_shape_and_are_finite() {
    let f = reference();
    let x = read_f64_1(&f, "grid/x_m");
    let y = read_f64_1(&f, "grid/y_m");
    let z = read_f64_1(&f, "grid/z_m");
    let g = f.group("grid").unwrap();
    let origin = g.attr("origin_m").unwrap().read_raw::<f64>().unwrap();
    let spacing = g.attr("spacing_m").unwrap().read_raw::<f64>().unwrap();
    for (a, axis) in [&x, &y, &z].into_iter().enumerate() {
        assert!(axis.len() >= 10, "axis {a} has {} points", axis.len());
        assert!(
            (axis[0] - origin[a]).abs() < 1e-9,
            "origin_m[{a}] {} vs first sample {}",
            origin[a],
            axis[0]
        );
        for w in axis.windows(2) {
            assert!((w[1] - w[0] - spacing[a]).abs() < 1e-9, "axis {a} not regular: {:?}", w);
        }
    }
    let shape = (3, x.len(), y.len(), z.len());
    // the sample grid covers the phantom (r 75 mm, |z| <= 100 mm) and the coil interior
    let r = attr_f64(&f, "phantom_radius_m");
    let h = 0.5 * attr_f64(&f, "phantom_length_m");
    assert!(x[0] < -r && x[x.len() - 1] > r && y[0] < -r && y[y.len() - 1] > r);
    assert!(z[0] < -h && z[z.len() - 1] > h);
    let mask = f.dataset("grid/phantom_mask").unwrap().read::<u8, Ix3>().unwrap();
    assert_eq!(mask.dim(), (x.len(), y.len(), z.len()));
    let inside = mask.iter().filter(|&&m| m != 0).count() as f64;
    let expect = std::f64::consts::PI * r * r * 2.0 * h / spacing.iter().product::<f64>();
    assert!(
        (inside / expect - 1.0).abs() < 0.1,
        "phantom mask has {inside} samples, the cylinder {expect:.0}"
    );
    for run in ["port1", "port2"] {
        for name in ["E_v_per_m", "H_a_per_m"] {
            let v: Array4<Complex32> = f
                .dataset(&format!("{run}/{name}"))
                .unwrap()
                .read::<Complex32, Ix4>()
                .unwrap();
            assert_eq!(v.dim(), shape, "{run}/{name}");
            assert!(
                v.iter().all(|c| c.re.is_finite() && c.im.is_finite()),
                "{run}/{name} not finite"
            );
            let max = v.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
            assert!(max > 0.0, "{run}/{name} is zero");
        }
    }
}

#[test]
fn each_run_is_normalised_to_its_source_and_loads_the_other_port() {
    let f = reference();
    let z0 = attr_f64(&f, "port_impedance_ohm");
    for (k, run) in ["port1", "port2"].into_iter().enumerate() {
        let v = read_c64_1(&f, &format!("{run}/V_v"));
        let i = read_c64_1(&f, &format!("{run}/I_a"));
        assert_eq!((v.len(), i.len()), (2, 2));
        // a 1 V peak EMF behind z0 at the excited port
        let emf = v[k] + i[k] * z0;
        assert!(
            (emf - Complex64::new(1.0, 0.0)).norm() < 1e-9,
            "{run}: source EMF {emf}"
        );
        // the other port is its z0 termination: V = -z0 I (V across the gap, I along +z)
        let o = 1 - k;
        let zt = -v[o] / i[o];
        assert!((zt - z0).norm() / z0 < 0.02, "{run}: terminated port reads {zt} ohm");
        let g = f.group(run).unwrap();
        let p_acc = g.attr("p_accepted_w").unwrap().read_scalar::<f64>().unwrap();
        let p_av = g.attr("p_available_w").unwrap().read_scalar::<f64>().unwrap();
        let p_term = g.attr("p_terminated_port_w").unwrap().read_scalar::<f64>().unwrap();
        assert!((p_acc - 0.5 * (v[k] * i[k].conj()).re).abs() < 1e-12 * p_av.max(1.0));
        assert!(
            p_acc > 0.0 && p_acc <= p_av * (1.0 + 1e-9),
            "{run}: accepted {p_acc} W of {p_av} W available"
        );
        assert!(
            p_term >= 0.0 && p_term < p_acc,
            "{run}: terminated port takes {p_term} W of {p_acc} W"
        );
    }
}

#[test]
fn port_network_is_reciprocal_and_passive() {
    let f = reference();
    let z0 = attr_f64(&f, "port_impedance_ohm");
    let freq = read_f64_1(&f, "band/freq_hz");
    let z = read_c64_3(&f, "band/Z_ohm");
    let s = read_c64_3(&f, "band/S");
    assert_eq!(z.dim(), (freq.len(), 2, 2));
    assert_eq!(s.dim(), (freq.len(), 2, 2));
    let f0 = attr_f64(&f, "freq_hz");
    assert!(freq[0] < f0 && freq[freq.len() - 1] > f0);
    for n in 0..freq.len() {
        let m = z_at(&z, n);
        assert!(m.iter().flatten().all(|c| c.re.is_finite() && c.im.is_finite()));
        let (a, b) = (m[0][1], m[1][0]);
        assert!(
            (a - b).norm() <= 0.05 * 0.5 * (a.norm() + b.norm()),
            "{} MHz: Z12 {a} vs Z21 {b}",
            freq[n] / 1e6
        );
        // passive: the Hermitian part of Z is positive semidefinite
        let (h11, h22) = (m[0][0].re, m[1][1].re);
        let h12 = 0.5 * (m[0][1] + m[1][0].conj());
        assert!(
            h11 > 0.0 && h22 > 0.0 && h11 * h22 - h12.norm_sqr() > -1e-6 * h11 * h22,
            "{} MHz: Z {m:?} not passive",
            freq[n] / 1e6
        );
        // no column of S returns more power than it gets
        for c in 0..2 {
            let p: f64 = (0..2).map(|r| s[[n, r, c]].norm_sqr()).sum();
            assert!(p <= 1.0 + 1e-6, "{} MHz: column {c} of S has power {p}", freq[n] / 1e6);
        }
        // S is Z's: (Z - z0)(Z + z0)^-1, checked as S (Z + z0) = Z - z0
        for r in 0..2 {
            for c in 0..2 {
                let lhs: Complex64 = (0..2)
                    .map(|k| s[[n, r, k]] * (m[k][c] + if k == c { z0 } else { 0.0 }))
                    .sum();
                let rhs = m[r][c] - if r == c { z0 } else { 0.0 };
                assert!(
                    (lhs - rhs).norm() < 1e-6 * (z0 + m[r][c].norm()),
                    "S and Z disagree at {} MHz",
                    freq[n] / 1e6
                );
            }
        }
    }
    // the stored port V and I of both runs follow V = Z I at Larmor
    let zl = f
        .dataset("larmor/Z_ohm")
        .unwrap()
        .read::<Complex64, ndarray::Ix2>()
        .unwrap();
    for run in ["port1", "port2"] {
        let v = read_c64_1(&f, &format!("{run}/V_v"));
        let i = read_c64_1(&f, &format!("{run}/I_a"));
        for r in 0..2 {
            let zi = zl[[r, 0]] * i[0] + zl[[r, 1]] * i[1];
            assert!(
                (zi - v[r]).norm() < 1e-6 * v[r].norm().max(1e-3),
                "{run}: V{r} {} vs (Z I){r} {zi}",
                v[r]
            );
        }
    }
}

#[test]
fn reference_describes_the_coil_and_phantom_files() {
    let f = reference();
    let coil: toml::Value =
        toml::from_str(&std::fs::read_to_string(root().join("coils/ref_3t_lp8.toml")).unwrap()).unwrap();
    let num = |k: &str| {
        coil.get(k)
            .and_then(|v| v.as_float().or(v.as_integer().map(|i| i as f64)))
            .unwrap_or_else(|| panic!("coil key {k}"))
    };
    for (key, attr) in [
        ("rungs", "rungs"),
        ("rung_radius_m", "rung_radius_m"),
        ("rung_length_m", "rung_length_m"),
        ("rung_angle_offset_deg", "rung_angle_offset_deg"),
        ("shield_radius_m", "shield_radius_m"),
        ("shield_length_m", "shield_length_m"),
        ("freq_hz", "freq_hz"),
    ] {
        let a = f.attr(attr).unwrap();
        let v = a
            .read_scalar::<f64>()
            .or_else(|_| a.read_scalar::<i64>().map(|i| i as f64))
            .unwrap();
        assert!(
            (num(key) - v).abs() <= 1e-9 * v.abs().max(1.0),
            "{key}: coil file {} vs reference {v}",
            num(key)
        );
    }
    let ports = coil.get("ports").and_then(|p| p.as_array()).expect("[[ports]]");
    assert_eq!(ports.len(), 2);
    let rungs = f.attr("port_rungs").unwrap().read_raw::<i64>().unwrap();
    for (p, rung) in ports.iter().zip(&rungs) {
        let angle = p.get("angle_deg").and_then(|v| v.as_float()).unwrap();
        assert!(
            (angle - 45.0 * *rung as f64).abs() < 1e-9,
            "port at {angle} deg, reference port on rung {rung}"
        );
        assert_eq!(
            p.get("impedance_ohm").and_then(|v| v.as_float()),
            Some(attr_f64(&f, "port_impedance_ohm"))
        );
    }
    let ph = PhantomConfig::from_toml_str(
        &std::fs::read_to_string(root().join("phantoms/ref_gel_cylinder.toml")).unwrap(),
        "ref_gel_cylinder.toml",
    )
    .unwrap();
    let h = ph.bounding_half_m();
    assert!((h[0] - attr_f64(&f, "phantom_radius_m")).abs() < 1e-12);
    assert!((2.0 * h[2] - attr_f64(&f, "phantom_length_m")).abs() < 1e-12);
    assert_eq!(ph.centre_m(), [0.0; 3]);
}
