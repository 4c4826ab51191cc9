//! Dosimetry benchmarks (issue 5): 10 g averaging on 8 M voxels (target <= 10 s on 2 cores) and a
//! 15-minute bioheat exposure on 1 M voxels with a metal implant at 1 mm (target <= 30 s on 2 cores).
//!
//! `cargo bench --bench dosimetry` runs them under criterion (10 samples each: several minutes).
//! `RFTWIN_BENCH_ONCE=1 cargo bench --bench dosimetry` times each once and prints JSON.
//! `RFTWIN_BENCH_SMALL=1` uses 1/8-size grids (quick smoke run).

use criterion::Criterion;
use rftwin::dosimetry::bench;
use rftwin::dosimetry::sar;
use rftwin::dosimetry::thermal::ThermalSettings;

fn sizes() -> (usize, usize) {
    if std::env::var_os("RFTWIN_BENCH_SMALL").is_some() {
        (100, 50)
    } else {
        (200, 100)
    }
}

const DT_S: f64 = 5.0;

fn main() {
    let (n_sar, n_th) = sizes();
    if std::env::var_os("RFTWIN_BENCH_ONCE").is_some() {
        for r in [
            bench::bench_averaging_10g(n_sar),
            bench::bench_thermal_exposure(n_th, DT_S),
        ] {
            let r = r.expect("benchmark runs");
            println!("{}", serde_json::to_string(&r).unwrap());
        }
        return;
    }
    let mut c = Criterion::default()
        .sample_size(10)
        .without_plots()
        .configure_from_args();
    let input = bench::averaging_phantom(n_sar).expect("phantom");
    c.bench_function(&format!("sar_10g_averaging_{n_sar}cubed"), |b| {
        b.iter(|| sar::mass_averaged_sar(&input, sar::MASS_10G_KG).unwrap())
    });
    let (model, p, probes) = bench::thermal_phantom(n_th).expect("thermal phantom");
    let settings = ThermalSettings {
        duration_s: 900.0,
        dt_s: DT_S,
        initial_temperature_c: 22.0,
        cem43_map: false,
    };
    c.bench_function(&format!("thermal_15min_{n_th}cubed"), |b| {
        b.iter(|| model.run(&p, &probes, &settings).unwrap())
    });
    c.final_summary();
}
