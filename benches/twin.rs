//! Twin calibration speed (issue 4): the weight fit on cached basis fields for a 64 x 64 x 32
//! measured map (target < 2 s on 2 cores): resampling of the two basis maps onto the measured voxels
//! plus the magnitude fit (phase retrieval start, Levenberg–Marquardt, Jacobian errors).
//!
//! The basis (10 mm cells, body coil 1.5 T + ASTM phantom) comes from the basis cache in
//! `target/rftwin-bench-cache` (computed on the first run: two FDTD runs, about 1-2 min).
//! `cargo bench --bench twin` runs criterion (10 samples); `RFTWIN_BENCH_ONCE=1 cargo bench --bench
//! twin` times it once and prints JSON. `RFTWIN_BENCH_CELL_MM=20` uses a coarser basis (quick).

use criterion::Criterion;
use ndarray::Array3;
use num_complex::Complex64;
use rftwin::b1::{Affine, B1Map, B1Unit, Frame, Placement};
use rftwin::coil::run::SimulateOptions;
use rftwin::coil::{CoilConfig, PhantomConfig};
use rftwin::twin::joint::{fit_joint, JointModel, Samples};
use rftwin::twin::{cached_basis, Basis, BasisRequest, JointOptions};

fn basis() -> Basis {
    let coil = CoilConfig::from_toml_str(include_str!("../coils/body_1p5t_hp16.toml"), "body_1p5t_hp16.toml").unwrap();
    let ph = PhantomConfig::from_toml_str(include_str!("../phantoms/astm_f2182.toml"), "astm_f2182.toml").unwrap();
    let mut opt = SimulateOptions::default();
    let mm: f64 = std::env::var("RFTWIN_BENCH_CELL_MM")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    opt.mesh.cell_m = mm * 1e-3;
    let cache = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/rftwin-bench-cache");
    let req = BasisRequest {
        coil: &coil,
        phantom: Some(&ph),
        opt: &opt,
        offset_m: [0.0; 3],
    };
    cached_basis(&req, Some(&cache), None).unwrap().0
}

/// A 64 x 64 x 32 map over the gel (6 x 1 x 19 mm voxels), port-2 amplitude 1.05, phase 3 deg, 2 % noise.
fn map(b: &Basis) -> B1Map {
    let dims = [64, 64, 32];
    let sp = [0.006, 0.001, 0.019];
    let origin = [0, 1, 2].map(|a| -0.5 * (dims[a] - 1) as f64 * sp[a]);
    let w = [
        Complex64::new(1.0, 0.0),
        -Complex64::i() * Complex64::from_polar(1.05, 3f64.to_radians()),
    ];
    let mut state = 12345u64;
    let mut noise = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.07
    };
    let m = Array3::from_shape_fn(dims, |(i, j, k)| {
        let p = [
            origin[0] + i as f64 * sp[0],
            origin[1] + j as f64 * sp[1],
            origin[2] + k as f64 * sp[2],
        ];
        let v: Complex64 = (0..2)
            .map(|q| {
                let z = b.fields[q].sample(p);
                w[q] * Complex64::new(z.re as f64, z.im as f64) * 1e6
            })
            .sum();
        (v.norm() + noise()) as f32
    });
    B1Map::new(
        m,
        Affine::from_origin_spacing(origin, sp),
        Frame::Simulation,
        B1Unit::MicroTesla,
        "bench",
    )
    .unwrap()
}

fn weight_fit(b: &Basis, m: &B1Map) -> f64 {
    let model = JointModel::weights_only(b, [0.0; 3]);
    let s = Samples::from_map(m, &Placement::default(), &model).unwrap();
    let f = fit_joint(
        &model,
        &s,
        &JointOptions::default(),
        [1.0, 0.0, -1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0],
    )
    .unwrap();
    assert!(f.converged && (f.relative_amplitude.value / 1.05 - 1.0).abs() < 0.01);
    f.relative_amplitude.value
}

fn main() {
    let t0 = std::time::Instant::now();
    let b = basis();
    let basis_s = t0.elapsed().as_secs_f64();
    let m = map(&b);
    if std::env::var_os("RFTWIN_BENCH_ONCE").is_some() {
        let t = std::time::Instant::now();
        let a = weight_fit(&b, &m);
        let fit_s = t.elapsed().as_secs_f64();
        let t = std::time::Instant::now();
        let cal = rftwin::twin::calibrate(&b, &m, &Placement::default()).unwrap();
        let cal_s = t.elapsed().as_secs_f64();
        println!(
            "{}",
            serde_json::json!({
                "bench": "twin_weight_fit_64x64x32", "voxels": 64 * 64 * 32, "cell_m": b.cell_m,
                "threads": rayon::current_num_threads(), "basis_load_or_compute_s": basis_s,
                "joint_weight_fit_s": fit_s, "relative_amplitude": a,
                "calibrate_s": cal_s, "calibrate_relative_amplitude": cal.relative_amplitude,
                "target_s": 2.0,
            })
        );
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .without_plots()
        .configure_from_args();
    c.bench_function("twin_weight_fit_64x64x32", |bch| bch.iter(|| weight_fit(&b, &m)));
    c.bench_function("twin_calibrate_64x64x32", |bch| {
        bch.iter(|| {
            rftwin::twin::calibrate(&b, &m, &Placement::default())
                .unwrap()
                .relative_amplitude
        })
    });
    c.final_summary();
}
