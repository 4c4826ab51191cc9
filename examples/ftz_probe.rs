//! The FDTD bench box's step rate per block of steps (`ftz_probe [blocks] [steps]`, 2 threads): shows
//! whether the rate collapses while the wavefront crosses the box (subnormal f32 values ahead of the
//! front, slow on some CPUs; `fdtd::engine::flush_subnormals` flushes them).
fn main() {
    let a: Vec<usize> = std::env::args().skip(1).map(|s| s.parse().expect("numbers")).collect();
    let blocks = a.first().copied().unwrap_or(12);
    let steps = a.get(1).copied().unwrap_or(100);
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    pool.install(|| {
        let mut sim = rftwin::bench::fdtd_box(1_000_000, 8).expect("bench box");
        let mut line = String::new();
        for _ in 0..blocks {
            let t0 = std::time::Instant::now();
            for _ in 0..steps {
                sim.step(&mut []);
            }
            line += &format!("{:.0} ", steps as f64 / t0.elapsed().as_secs_f64());
        }
        println!("Mcells/s per block of {steps} steps (1 M cells): {line}");
    });
}
