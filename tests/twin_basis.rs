//! Twin basis runs: on-disk cache (hit, key change, corruption) and the fitted twin's fields
//! (superposition of the basis equals a direct FDTD run with the same drive; save/load round trip;
//! point queries at the Yee positions).

use num_complex::Complex64;
use rftwin::coil::run::{run_mesh, SimulateOptions};
use rftwin::coil::{CoilConfig, PhantomConfig};
use rftwin::twin::basis::{basis_mesh, cached_basis, BasisRequest, CacheOutcome};
use rftwin::twin::TwinFields;

fn inputs() -> (CoilConfig, PhantomConfig, SimulateOptions) {
    let coil = CoilConfig::from_toml_str(include_str!("../coils/body_1p5t_hp16.toml"), "body_1p5t_hp16.toml").unwrap();
    let ph = PhantomConfig::from_toml_str(include_str!("../phantoms/astm_f2182.toml"), "astm_f2182.toml").unwrap();
    let mut opt = SimulateOptions::default();
    opt.mesh.cell_m = 0.02;
    opt.steady.tol = 1e-5;
    (coil, ph, opt)
}

mod common;
use common::tmpdir;

/// Relative L2 difference of two complex arrays.
fn rel(a: &ndarray::Array3<num_complex::Complex32>, b: &ndarray::Array3<num_complex::Complex32>) -> f64 {
    assert_eq!(a.dim(), b.dim());
    let num: f64 = a.iter().zip(b).map(|(x, y)| (x - y).norm_sqr() as f64).sum();
    let den: f64 = b.iter().map(|y| y.norm_sqr() as f64).sum();
    (num / den).sqrt()
}

#[test]
fn cache_hit_key_change_and_corruption() {
    let (coil, ph, mut opt) = inputs();
    opt.steady.tol = 1e-3;
    let dir = tmpdir("cache");
    let req = BasisRequest {
        coil: &coil,
        phantom: Some(&ph),
        opt: &opt,
        offset_m: [0.0; 3],
    };
    let (b1, o1) = cached_basis(&req, Some(&dir), None).unwrap();
    let path = match o1 {
        CacheOutcome::Stored(p) => p,
        o => panic!("expected Stored, got {o:?}"),
    };
    // Second call: a hit with identical numbers, and no FDTD run (much faster).
    let t0 = std::time::Instant::now();
    let (b2, o2) = cached_basis(&req, Some(&dir), None).unwrap();
    let hit_s = t0.elapsed().as_secs_f64();
    assert_eq!(o2, CacheOutcome::Hit(path.clone()));
    assert!(hit_s < 1.0, "cache hit took {hit_s} s");
    for k in 0..2 {
        assert_eq!(b1.fields[k].data, b2.fields[k].data);
        for c in 0..3 {
            assert_eq!(b1.e[k].comps[c].data, b2.e[k].comps[c].data);
            assert_eq!(b1.h[k].comps[c].origin_m, b2.h[k].comps[c].origin_m);
        }
        assert_eq!(b1.input_power_w[k], b2.input_power_w[k]);
    }
    // Anything that changes the result changes the key: conductivity, offset, cell size.
    let mut ph2 = ph.clone();
    ph2.material.sigma_s_per_m *= 1.1;
    let mut opt2 = opt.clone();
    opt2.mesh.cell_m = 0.021;
    let names = [
        req.cache_file(),
        BasisRequest {
            phantom: Some(&ph2),
            ..req.clone()
        }
        .cache_file(),
        BasisRequest {
            offset_m: [0.001, 0.0, 0.0],
            ..req.clone()
        }
        .cache_file(),
        BasisRequest {
            opt: &opt2,
            ..req.clone()
        }
        .cache_file(),
    ];
    for i in 0..names.len() {
        for j in 0..i {
            assert_ne!(names[i], names[j]);
        }
    }
    // The file's path is not part of the key (same content from another file name).
    let mut ph3 = ph.clone();
    ph3.source_name = "elsewhere/astm.toml".into();
    assert_eq!(
        BasisRequest {
            phantom: Some(&ph3),
            ..req.clone()
        }
        .cache_file(),
        names[0]
    );

    // Corrupt one stored number far inside the file (flip a byte in the last quarter): detected
    // (checksum or HDF5 error), recomputed and replaced.
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    for q in [n * 3 / 4, n * 3 / 4 + 101, n * 3 / 4 + 977] {
        bytes[q] ^= 0x5A;
    }
    std::fs::write(&path, &bytes).unwrap();
    let (b3, o3) = cached_basis(&req, Some(&dir), None).unwrap();
    assert!(matches!(o3, CacheOutcome::Replaced(..)), "{o3:?}");
    assert_eq!(b3.fields[0].data, b1.fields[0].data);
    // Truncated file: also replaced.
    std::fs::write(&path, &bytes[..n / 2]).unwrap();
    let (_, o4) = cached_basis(&req, Some(&dir), None).unwrap();
    assert!(matches!(o4, CacheOutcome::Replaced(..)), "{o4:?}");
    // And afterwards a clean hit again.
    let (_, o5) = cached_basis(&req, Some(&dir), None).unwrap();
    assert!(matches!(o5, CacheOutcome::Hit(..)), "{o5:?}");
    // A sound file made for another key (as one made by an older build, whose model stamp differs,
    // would be) under this request's name: not served, recomputed and replaced.
    let other = BasisRequest {
        offset_m: [0.001, 0.0, 0.0],
        ..req.clone()
    };
    let (_, o6) = cached_basis(&other, Some(&dir), None).unwrap();
    let other_path = match o6 {
        CacheOutcome::Stored(p) => p,
        o => panic!("expected Stored, got {o:?}"),
    };
    std::fs::copy(&other_path, &path).unwrap();
    let (b7, o7) = cached_basis(&req, Some(&dir), None).unwrap();
    assert!(matches!(o7, CacheOutcome::Replaced(..)), "{o7:?}");
    assert_eq!(b7.fields[0].data, b1.fields[0].data);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn superposed_twin_fields_equal_a_direct_run() {
    let (coil, ph, opt) = inputs();
    let req = BasisRequest {
        coil: &coil,
        phantom: Some(&ph),
        opt: &opt,
        offset_m: [0.0; 3],
    };
    let (basis, _) = cached_basis(&req, None, None).unwrap();
    // A drive with a 10 % port imbalance and 5 degree phase error, scaled by 1.7.
    let w = [
        Complex64::new(1.7, 0.0),
        -Complex64::i() * Complex64::from_polar(1.7 * 1.1, 5f64.to_radians()),
    ];
    let tw = TwinFields::from_basis(&basis, &w).unwrap();
    // Direct FDTD run with rung currents w_cos cos(phi_j) + w_sin sin(phi_j).
    let mesh = basis_mesh(&req).unwrap();
    let rung: Vec<Complex64> = mesh
        .rung_angles_rad
        .iter()
        .map(|&p| w[0] * p.cos() + w[1] * p.sin())
        .collect();
    let direct = run_mesh(
        &mesh,
        basis.freq_hz,
        &rung,
        &opt.steady,
        None,
        std::time::Instant::now(),
    )
    .unwrap();
    let mut worst: f64 = 0.0;
    for c in 0..3 {
        let re = rel(&tw.e.comps[c].data, &direct.e_yee.comps[c].data);
        let rh = rel(&tw.h.comps[c].data, &direct.h_yee.comps[c].data);
        println!("component {c}: E rel {re:.2e}, H rel {rh:.2e}");
        assert_eq!(tw.e.comps[c].origin_m, direct.e_yee.comps[c].origin_m);
        worst = worst.max(re).max(rh);
    }
    assert!(worst < 1e-3, "superposition vs direct run: {worst:.2e}");
    let pr = (tw.input_power_w / direct.input_power_w - 1.0).abs();
    println!(
        "input power: twin {} W, direct {} W (rel {pr:.2e})",
        tw.input_power_w, direct.input_power_w
    );
    assert!(pr < 1e-3, "power {} vs {}", tw.input_power_w, direct.input_power_w);

    // Point queries: at a Yee position the value is the stored sample; B1+ at a cell centre equals
    // the B1+ map of the direct run there (both average H to the centre from its own lattice).
    let ex = &tw.e.comps[0];
    let (i, j, k) = (ex.dims()[0] / 2, ex.dims()[1] / 2 + 1, ex.dims()[2] / 2 - 1);
    let v = tw.e_at(ex.position(i, j, k))[0];
    let s = ex.data[[i, j, k]];
    assert!((v.re - s.re as f64).abs() + (v.im - s.im as f64).abs() <= 1e-6 * s.norm() as f64 + 1e-12);
    let bp = &direct.b1_plus;
    let p = bp.position(bp.dims()[0] / 2 + 2, bp.dims()[1] / 2, bp.dims()[2] / 2 + 3);
    let a = tw.b1_plus_at(p);
    let b = bp.sample(p);
    let d = (a - Complex64::new(b.re as f64, b.im as f64)).norm() / a.norm();
    assert!(d < 2e-3, "B1+ at a centre: {a} vs {b} ({d:.2e})");
    // Gel material at the isocentre.
    let (sig, eps, rho) = tw.material_at([0.0, 0.0, 0.0]).unwrap();
    assert!((sig - 0.47).abs() < 1e-6 && (eps - 80.0).abs() < 1e-4 && (rho - 1000.0).abs() < 1e-3);

    // Save / load round trip, and scaling.
    let dir = tmpdir("fields");
    tw.save(&dir).unwrap();
    tw.write_xdmf(&dir).unwrap();
    let back = TwinFields::load(&dir).unwrap();
    assert_eq!(back.freq_hz, tw.freq_hz);
    assert_eq!(back.input_power_w, tw.input_power_w);
    for c in 0..3 {
        assert_eq!(back.e.comps[c].data, tw.e.comps[c].data);
        assert_eq!(back.h.comps[c].origin_m, tw.h.comps[c].origin_m);
    }
    assert_eq!(back.eps_r, tw.eps_r);
    assert_eq!(back.b1_plus_at(p), tw.b1_plus_at(p));
    let one_watt = back.scaled(1.0 / back.input_power_w.sqrt());
    assert!((one_watt.input_power_w - 1.0).abs() < 1e-12);
    let r = one_watt.b1_plus_at(p).norm() / back.b1_plus_at(p).norm();
    assert!((r * back.input_power_w.sqrt() - 1.0).abs() < 1e-6);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The cache key carries the model stamp, and the binary's stamp is the hash of the source it was
/// built from: an edit to any model source (here one byte of the coil circuit model, in a copy of the
/// tree) changes the stamp, so no basis made by other code is ever served.
#[test]
fn cache_key_carries_the_model_stamp_of_the_source() {
    use rftwin::twin::basis::MODEL_STAMP;
    use rftwin::twin::stamp::{model_stamp_of, MODEL_SOURCES};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    assert_eq!(MODEL_STAMP.len(), 16);
    assert_eq!(model_stamp_of(root), MODEL_STAMP, "binary stamp differs from its source tree");
    let (coil, ph, opt) = inputs();
    let req = BasisRequest {
        coil: &coil,
        phantom: Some(&ph),
        opt: &opt,
        offset_m: [0.0; 3],
    };
    assert!(req.key().contains(&format!("model {MODEL_STAMP}")), "{}", req.key());

    fn copy_tree(from: &std::path::Path, to: &std::path::Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).unwrap();
            for e in std::fs::read_dir(from).unwrap() {
                let e = e.unwrap();
                copy_tree(&e.path(), &to.join(e.file_name()));
            }
        } else {
            std::fs::copy(from, to).unwrap();
        }
    }
    let copy = tmpdir("stamp-tree");
    for s in MODEL_SOURCES {
        let from = root.join(s);
        if from.exists() {
            std::fs::create_dir_all(copy.join(s).parent().unwrap()).unwrap();
            copy_tree(&from, &copy.join(s));
        }
    }
    assert_eq!(model_stamp_of(&copy), MODEL_STAMP, "the copy hashes as the original");
    let f = copy.join("src/coil/circuit.rs");
    let mut text = std::fs::read(&f).unwrap();
    text.push(b' ');
    std::fs::write(&f, text).unwrap();
    assert_ne!(model_stamp_of(&copy), MODEL_STAMP, "an edit to the coil model must change the stamp");
    // Files outside the model sources (report prose, the CLI) do not invalidate the cache.
    std::fs::create_dir_all(copy.join("src/report")).unwrap();
    let edited = model_stamp_of(&copy);
    std::fs::write(copy.join("src/report/mod.rs"), "// changed").unwrap();
    assert_eq!(model_stamp_of(&copy), edited);
    let _ = std::fs::remove_dir_all(&copy);
}
