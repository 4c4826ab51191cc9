//! Times the E and H passes of the benchmark box with and without the CPML plane hooks
//! (developer tool: `cargo run --release --example phase_timing -- 1000000`).
use rftwin::fdtd::{cpml::Cpml, engine, engine::PlaneHook};

fn main() {
    let cells: usize = std::env::args().nth(1).map_or(1_000_000, |s| s.parse().expect("cells"));
    let sim = rftwin::bench::fdtd_box(cells, 8).expect("bench box");
    let op = &sim.op;
    let cpml = Cpml::new(op).expect("cpml");
    let steps = 50;
    for (label, hooks) in [
        ("core only", Vec::<&dyn PlaneHook>::new()),
        ("core + cpml", vec![&cpml as &dyn PlaneHook]),
    ] {
        let mut f = sim.fields.clone();
        let c = op.layout.n.map(|v| v / 2);
        f.e[2][op.layout.idx(c[0], c[1], c[2])] = 1.0;
        let (mut te, mut th) = (0.0, 0.0);
        for _ in 0..steps {
            let t0 = std::time::Instant::now();
            engine::update_e(op, &mut f, &hooks);
            let t1 = std::time::Instant::now();
            engine::update_h(op, &mut f, &hooks);
            te += (t1 - t0).as_secs_f64();
            th += t1.elapsed().as_secs_f64();
        }
        println!(
            "{label:>12}: E {:.3} ms/step, H {:.3} ms/step",
            te / steps as f64 * 1e3,
            th / steps as f64 * 1e3
        );
    }
}
