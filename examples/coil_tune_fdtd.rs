//! Developer check: FDTD tuning of the resonant model (sweeps, peaks, capacitors).
use rftwin::coil::{fdtd_model, resonant, CoilConfig, PhantomConfig};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let coil = CoilConfig::load(Path::new(
        args.get(1).map_or("coils/body_1p5t_hp16.toml", |s| s.as_str()),
    ))
    .unwrap();
    let phantom = args
        .get(2)
        .filter(|s| !s.is_empty())
        .map(|p| PhantomConfig::load(Path::new(p)).unwrap());
    let cell: f64 = std::env::var("CELL").ok().map_or(0.015, |v| v.parse().unwrap());
    let steps: usize = std::env::var("STEPS").ok().map_or(16000, |v| v.parse().unwrap());
    let opts = fdtd_model::MeshOptions {
        cell_m: cell,
        ..Default::default()
    };
    let mesh = fdtd_model::mesh(
        &coil,
        phantom.as_ref(),
        fdtd_model::ModelKind::Resonant(fdtd_model::Gaps::for_type(coil.coil_type)),
        &opts,
    )
    .unwrap();
    let t = resonant::tune_fdtd(&coil, &mesh, 0.005, 3, steps).unwrap();
    for s in &t.sweeps {
        println!(
            "sweep: caps {:?}, {} steps, {:.1} s, m1 {:.3} MHz, peaks MHz {:?}",
            s.capacitors,
            s.steps,
            s.seconds,
            s.homogeneous_hz / 1e6,
            s.peaks_hz.iter().map(|p| (p / 1e4).round() / 100.0).collect::<Vec<_>>()
        );
    }
    println!(
        "homogeneous {:.3} MHz, error {:.2e}, ordering ok {}",
        t.homogeneous_hz / 1e6,
        t.rel_error,
        t.ordering_matches_circuit
    );
}
