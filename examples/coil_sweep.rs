//! Developer check: impedance seen by the rung-0 gap source of the ideal-drive mesh over frequency.
use rftwin::coil::{fdtd_model, CoilConfig};
use rftwin::fdtd::{LumpedSpec, Simulation, SimulationSpec, Waveform};
use std::path::Path;

fn main() {
    let coil = CoilConfig::load(Path::new("coils/body_1p5t_hp16.toml")).unwrap();
    let cell: f64 = std::env::var("CELL").ok().map_or(0.02, |v| v.parse().unwrap());
    let opts = fdtd_model::MeshOptions {
        cell_m: cell,
        ..Default::default()
    };
    let mesh = fdtd_model::mesh(
        &coil,
        None,
        fdtd_model::ModelKind::Resonant(fdtd_model::Gaps::Rungs),
        &opts,
    )
    .unwrap();
    let mut spec = SimulationSpec::new(mesh.model.clone());
    spec.boundaries = mesh.boundaries.clone();
    let freqs: Vec<f64> = (0..60).map(|i| 20e6 + 3e6 * i as f64).collect();
    spec.port_freqs_hz = freqs.clone();
    let wf = Waveform::GaussPulse {
        f0_hz: 110e6,
        bandwidth_hz: 200e6,
    };
    for (j, &(c, node)) in mesh.rung_gaps.iter().enumerate() {
        let mut l = LumpedSpec::current_source(&format!("r{j}"), c, node, if j == 0 { 1.0 } else { 0.0 }, wf.clone());
        if j != 0 {
            l.current = Some((0.0, wf.clone()));
        }
        spec.lumped.push(l);
    }
    if std::env::var("NOELEM").is_ok() {
        spec.lumped.clear();
    }
    if let Ok(a) = std::env::var("ALPHA") {
        let mut p = rftwin::fdtd::CpmlParams::layers(8);
        p.alpha_max_s_per_m = a.parse().unwrap();
        if let Ok(k) = std::env::var("KAPPA") {
            p.kappa_max = k.parse().unwrap();
        }
        spec.boundaries[2] = [rftwin::fdtd::Boundary::Cpml(p.clone()), rftwin::fdtd::Boundary::Cpml(p)];
    }
    if std::env::var("NOSHIELD").is_ok() {
        // strip every thin PEC edge outside radius 0.36 m
        let g = spec.model.grid.clone();
        let mut m2 = rftwin::grid::VoxelModel::new(g.clone(), rftwin::grid::Material::vacuum()).unwrap();
        let n = g.dims();
        for c in 0..3 {
            for i in 0..=n[0] {
                for j in 0..=n[1] {
                    for k in 0..=n[2] {
                        let cc = rftwin::grid::Comp::from_index(c);
                        let lim = rftwin::fdtd::Operator::comp_node_dims(n, c);
                        if i >= lim[0] || j >= lim[1] || k >= lim[2] {
                            continue;
                        }
                        if spec.model.is_thin_pec(cc, i, j, k) {
                            let p = g.node_pos(i, j, k);
                            if p[0].hypot(p[1]) < 0.36 {
                                m2.set_pec_edge(cc, i, j, k).unwrap();
                            }
                        }
                    }
                }
            }
        }
        spec.model = m2;
    }
    if std::env::var("NOPML").is_ok() {
        spec.boundaries[2] = [rftwin::fdtd::Boundary::Pec, rftwin::fdtd::Boundary::Pec];
    }
    let mut sim = Simulation::new(spec).unwrap();
    if std::env::var("NOELEM").is_ok() {
        let l = rftwin::fdtd::Layout::new(sim.cells());
        let mut st: u64 = 1;
        for c in 0..3 {
            for idx in 0..l.len {
                st = st.wrapping_mul(6364136223846793005).wrapping_add(1);
                sim.set_e(c, l.ijk(idx), ((st >> 40) as f32 / 16777216.0) - 0.5);
            }
        }
        // zero PEC edges
        for c in 0..3 {
            for idx in 0..l.len {
                let p = l.ijk(idx);
                let n = l.n;
                if sim.is_pec_edge(c, p) || (0..3).any(|a| p[a] == 0 || p[a] >= n[a]) {
                    sim.set_e(c, p, 0.0);
                }
            }
        }
    }
    if std::env::var("TRACE").is_ok() {
        for c in 0..60 {
            sim.run_steps(500, &mut []).unwrap();
            println!("step {} energy {:.4e}", (c + 1) * 500, sim.energy());
        }
        return;
    }
    let st = sim.run_until_decay(40.0, 200_000, &mut []).unwrap();
    println!("{:?}", st);
    let z = sim.lumped().impedance(0);
    for (f, z) in freqs.iter().zip(z) {
        println!(
            "{:6.1} MHz |Z| {:10.1} Re {:10.1} Im {:10.1}",
            f / 1e6,
            z.norm(),
            z.re,
            z.im
        );
    }
}
