//! Developer check: resonant coil CW convergence trace.
use rftwin::coil::run::{simulate_resonant, SimulateOptions};
use rftwin::coil::{CoilConfig, PhantomConfig};
use std::path::Path;

fn main() {
    let coil = CoilConfig::load(Path::new("coils/body_1p5t_hp16.toml")).unwrap();
    let ph = PhantomConfig::load(Path::new("phantoms/astm_f2182.toml")).unwrap();
    let mut o = SimulateOptions::default();
    o.mesh.cell_m = std::env::var("CELL").ok().map_or(0.02, |v| v.parse().unwrap());
    o.steady.max_periods = 150;
    let r = simulate_resonant(
        &coil,
        Some(&ph),
        &o,
        12000,
        0.005,
        Some(Box::new(|p| {
            if p.periods % 5 == 0 {
                eprintln!("period {} change {:.2e}", p.periods, p.measure)
            }
        })),
    );
    match r {
        Ok((f, t)) => println!(
            "ok: {:?} m1 {:.3} MHz, B1-/B1+ {:.3}",
            f.stats,
            t.homogeneous_hz / 1e6,
            f.b1_minus.sample([0.0; 3]).norm() / f.b1_plus.sample([0.0; 3]).norm()
        ),
        Err(e) => println!("err {e}"),
    }
}
