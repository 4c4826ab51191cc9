//! Developer check: ideal-drive body coil, B1+ along x and y through the isocentre.
use rftwin::coil::{fdtd_model, CoilConfig, PhantomConfig};
use rftwin::fdtd::{FieldKind, Probe, Simulation, SteadyState};
use std::path::Path;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let coil = CoilConfig::load(Path::new(
        args.get(1).map_or("coils/body_1p5t_hp16.toml", |s| s.as_str()),
    ))
    .unwrap();
    let phantom = args.get(2).map(|p| PhantomConfig::load(Path::new(p)).unwrap());
    let t0 = std::time::Instant::now();
    let cell: f64 = std::env::var("CELL").ok().map_or(0.01, |v| v.parse().unwrap());
    let opts = fdtd_model::MeshOptions {
        cell_m: cell,
        ..Default::default()
    };
    let mesh = fdtd_model::mesh(&coil, phantom.as_ref(), fdtd_model::ModelKind::Ideal, &opts).unwrap();
    let w = fdtd_model::homogeneous_weights(&mesh, true, 0.0);
    let spec = mesh.ideal_drive(coil.freq_hz, &w).unwrap();
    let mut sim = Simulation::new(spec).unwrap();
    let n = sim.cells();
    println!(
        "grid {:?} = {} cells, dt {:.3e}, steps/period {:?}, setup {:.2}s",
        n,
        n[0] * n[1] * n[2],
        sim.dt(),
        sim.steps_per_period(),
        t0.elapsed().as_secs_f64()
    );
    let m = sim.steps_per_period().unwrap();
    let mut ph = sim
        .dft_probe(
            "h",
            FieldKind::H,
            &[0, 1, 2],
            mesh.interior.clone(),
            &[coil.freq_hz],
            m / 4,
        )
        .unwrap();
    sim.set_progress(Some(Box::new(|p| {
        eprintln!("period {} step {} change {:.2e}", p.periods, p.steps, p.measure)
    })));
    let maxp: usize = std::env::var("MAXP").ok().map_or(100, |v| v.parse().unwrap());
    let st = sim
        .run_cw(
            &SteadyState {
                tol: 1e-3,
                min_periods: 4,
                max_periods: maxp,
            },
            &mut [&mut ph as &mut dyn Probe],
        )
        .unwrap_or_else(|e| {
            eprintln!("{e}");
            Default::default()
        });
    println!("run: {} steps, {} periods, {:.1}s", st.steps, st.periods, st.seconds);
    let hx = ph.phasor(0, 0);
    let hy = ph.phasor(1, 0);
    let o = [mesh.interior[0].start, mesh.interior[1].start, mesh.interior[2].start];
    let c = [
        mesh.iso_node[0] - o[0],
        mesh.iso_node[1] - o[1],
        mesh.iso_node[2] - o[2],
    ];
    let mu0 = 1.256637e-6f32;
    let b1 = |i: usize, j: usize, k: usize| {
        // cell centre (i+1/2, j+1/2, k+1/2) in probe-local indices
        let bx = (hx[[i, j, k]] + hx[[i + 1, j, k]]) * 0.5 * mu0;
        let by = (hy[[i, j, k]] + hy[[i, j + 1, k]]) * 0.5 * mu0;
        let p = (bx + num_complex::Complex32::i() * by) * 0.5;
        let mm = (bx - num_complex::Complex32::i() * by).conj() * 0.5;
        (p.norm(), mm.norm())
    };
    let (p0, m0) = b1(c[0], c[1], c[2]);
    println!("centre |B1+| {:.3e} T, |B1-| {:.3e} T, ratio {:.4}", p0, m0, m0 / p0);
    let p_in: f64 = (0..sim.lumped().len())
        .map(|e| {
            let (v, i) = sim.lumped().phasors(e)[0];
            0.5 * (v * i.conj()).re
        })
        .sum();
    println!(
        "input power {:.4e} W for 1 A rung peak current ({} source edges)",
        p_in,
        sim.lumped().len()
    );
    let step = (0.05 / cell).round() as i64;
    for di in [-4i64, -3, -2, -1, 0, 1, 2, 3, 4].map(|x| x * step) {
        let (px, _) = b1((c[0] as i64 + di) as usize, c[1], c[2]);
        let (py, _) = b1(c[0], (c[1] as i64 + di) as usize, c[2]);
        println!(
            "offset {:4.0} mm: x {:.4}  y {:.4}",
            di as f64 * cell * 1e3,
            px / p0,
            py / p0
        );
    }
}
