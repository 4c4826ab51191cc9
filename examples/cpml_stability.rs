//! Developer check: long-time stability of the CPML with random initial fields.
use rftwin::fdtd::{Boundary, CpmlParams, Simulation, SimulationSpec};
use rftwin::grid::{Grid, Material, VoxelModel};

fn main() {
    let mode = std::env::args().nth(1).unwrap_or("zonly".into());
    let n = [20, 20, 40];
    let grid = Grid::uniform([0.0; 3], [0.02; 3], n).unwrap();
    let mut model = VoxelModel::new(grid, Material::vacuum()).unwrap();
    if std::env::var("WIRE").is_ok() {
        model.pec_wire([0.2, 0.2, 0.3], [0.2, 0.2, 0.5]).unwrap();
    }
    let mut spec = SimulationSpec::new(model);
    let mut p = CpmlParams::layers(8);
    if let Some(a) = std::env::args().nth(2) {
        p.alpha_max_s_per_m = a.parse().unwrap();
    }
    if let Some(k) = std::env::args().nth(3) {
        p.kappa_max = k.parse().unwrap();
    }
    let c = Boundary::Cpml(p);
    spec.boundaries = match mode.as_str() {
        "zonly" => [
            [Boundary::Pec, Boundary::Pec],
            [Boundary::Pec, Boundary::Pec],
            [c.clone(), c.clone()],
        ],
        "all" => [[c.clone(), c.clone()], [c.clone(), c.clone()], [c.clone(), c.clone()]],
        "xonly" => [
            [c.clone(), c.clone()],
            [Boundary::Pec, Boundary::Pec],
            [Boundary::Pec, Boundary::Pec],
        ],
        _ => panic!(),
    };
    let mut sim = Simulation::new(spec).unwrap();
    let l = rftwin::fdtd::Layout::new(sim.cells());
    let mut st: u64 = 1;
    for cc in 0..3 {
        for idx in 0..l.len {
            st = st.wrapping_mul(6364136223846793005).wrapping_add(1);
            let pp = l.ijk(idx);
            let lim = rftwin::fdtd::Operator::comp_node_dims(l.n, cc);
            let inside = (0..3).all(|a| {
                if a == cc {
                    pp[a] < lim[a]
                } else {
                    pp[a] > 0 && pp[a] < l.n[a]
                }
            });
            let v = if inside {
                ((st >> 40) as f32 / 16777216.0) - 0.5
            } else {
                0.0
            };
            sim.set_e(cc, pp, v);
        }
    }
    for c in 0..12 {
        sim.run_steps(2500, &mut []).unwrap();
        println!("step {} energy {:.4e}", (c + 1) * 2500, sim.energy());
    }
}
