//! Times the E and H passes of the benchmark box with and without the CPML plane hooks
//! (developer tool: `cargo run --release --example phase_timing -- 1000000`).

fn main() {
    let cells: usize = std::env::args().nth(1).map_or(1_000_000, |s| s.parse().expect("cells"));
    let sim = rftwin::bench::fdtd_box(cells, 8).expect("bench box");
    let steps = 50;
    for (label, with_hooks) in [("core only", false), ("core + cpml", true)] {
        let (te, th) = sim.time_two_pass(steps, with_hooks);
        println!(
            "{label:>12}: E {:.3} ms/step, H {:.3} ms/step",
            te / steps as f64 * 1e3,
            th / steps as f64 * 1e3
        );
    }
}
