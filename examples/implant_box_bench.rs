//! Benchmark of one fine-grid implant run (issue 6): a gel box at 1 mm with CPML, a TF/SF plane wave
//! at 64 MHz, an insulated 10 cm wire with a 50 Ohm load.
//! Usage: `implant_box_bench [size_x_cm size_y_cm size_z_cm cell_mm wire_cm [steps]]` (default
//! 20 10 10 1 10). With `steps`, only that many steps are timed (no steady-state run), once with the
//! step set by the fastest wave on the grid (the product's choice) and once by c0 (a box with air).
fn main() {
    let a: Vec<f64> = std::env::args().skip(1).map(|s| s.parse().expect("number")).collect();
    let (sx, sy, sz, dmm, wcm) = if a.len() >= 5 {
        (a[0], a[1], a[2], a[3], a[4])
    } else {
        (20.0, 10.0, 10.0, 1.0, 10.0)
    };
    let size = [sx / 100.0, sy / 100.0, sz / 100.0];
    let t0 = std::time::Instant::now();
    if let Some(&steps) = a.get(5) {
        use rftwin::fdtd::CourantReference;
        for reference in [CourantReference::FastestMedium, CourantReference::Vacuum] {
            let t0 = std::time::Instant::now();
            let (mut sim, _, cells) =
                rftwin::fdtd::validation::implant_box_sim_with(size, dmm / 1000.0, wcm / 100.0, reference)
                    .expect("build");
            let build = t0.elapsed().as_secs_f64();
            let st = sim.run_steps(steps as usize, &mut []).expect("run");
            let per = st.seconds / steps;
            let m = sim.steps_per_period().unwrap();
            println!(
            "{reference:?} step: {cells} cells, {} threads: build {build:.1} s; {} steps in {:.1} s = {:.2} ms/step ({:.0} Mcell-steps/s); {m} steps/period -> {:.0} s per period",
            rayon::current_num_threads(),
            st.steps,
            st.seconds,
            1e3 * per,
            cells as f64 / per / 1e6,
            per * m as f64
        );
        }
        return;
    }
    let o = rftwin::fdtd::validation::implant_box_run(size, dmm / 1000.0, wcm / 100.0).expect("run");
    let imax = o.wire_current.iter().map(|x| x.1.norm()).fold(0.0, f64::max);
    println!(
        "{} cells, {} threads: {} steps, {} periods, converged {} (change {:.1e}), run {:.1} s, total {:.1} s; max wire current {:.3e} A, load {:.3e} A",
        o.cells,
        rayon::current_num_threads(),
        o.stats.steps,
        o.stats.periods,
        o.stats.converged,
        o.stats.final_change,
        o.stats.seconds,
        t0.elapsed().as_secs_f64(),
        imax,
        o.load_current.norm()
    );
}
