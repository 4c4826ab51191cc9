//! Criterion bench of the FDTD update loop (the same box as `rftwin bench fdtd`): one full step
//! (E pass, H pass, CPML, sources) of a lossy-gel cube with 8 CPML layers on every face.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};

fn step(c: &mut Criterion) {
    let mut g = c.benchmark_group("fdtd_step");
    g.sample_size(20);
    for cells in [262_144usize, 1_000_000] {
        let mut sim = rftwin::bench::fdtd_box(cells, 8).expect("bench box");
        let n = sim.cells();
        g.throughput(Throughput::Elements((n[0] * n[1] * n[2]) as u64));
        g.bench_function(format!("{}^3 cells, cpml 8", n[0]), |b| b.iter(|| sim.step(&mut [])));
    }
    g.finish();
}

criterion_group!(benches, step);
criterion_main!(benches);
