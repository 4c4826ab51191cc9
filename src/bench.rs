//! Benchmark workloads shared by `rftwin bench` and the criterion benches.

use serde::Serialize;

use crate::error::{Error, Result};
use crate::fdtd::{Boundary, Simulation, SimulationSpec, SourceSpec, Waveform};
use crate::grid::{Grid, Material, VoxelModel};

/// Result of an FDTD throughput run.
#[derive(Clone, Debug, Serialize)]
pub struct FdtdBench {
    pub cells: usize,
    pub side: usize,
    pub steps: usize,
    pub threads: usize,
    pub cpml_layers: usize,
    /// Repeats timed; `mcells_per_s` is their median, `seconds` the median time.
    pub repeats: usize,
    pub seconds: f64,
    pub mcells_per_s: f64,
    pub mcells_per_s_min: f64,
    pub mcells_per_s_max: f64,
    /// Core memory (fields, material indices, segments, CPML) per cell.
    pub bytes_per_cell: f64,
}

/// The benchmark box: a cube of about `cells` 1 mm cells of ASTM gel, CPML of `layers` on every
/// face counted inside the cube (as openEMS counts its PML; 0 layers = PEC), and a soft point source at the centre.
pub fn fdtd_box(cells: usize, layers: usize) -> Result<Simulation> {
    let side = (cells as f64).cbrt().round() as usize;
    crate::resources::check_bytes(
        "bench fdtd",
        "--cells",
        &format!("a box of {side}^3 cells"),
        crate::resources::fdtd_bytes([side; 3], 0),
        |r| {
            let fit = (cells as f64 / (r * 1.1)).floor().max(1.0);
            format!("use --cells {fit:.0} or fewer")
        },
    )?;
    if side < 2 * layers + 4 {
        return Err(Error::input(
            "bench",
            "cells",
            format!("{cells} cells is too small for {layers} CPML layers per face"),
            format!("use at least {} cells", (2 * layers + 4).pow(3)),
        ));
    }
    let grid = Grid::uniform([0.0; 3], [1e-3; 3], [side; 3])?;
    let model = VoxelModel::new(grid, Material::astm_gel())?;
    let b = if layers == 0 {
        Boundary::Pec
    } else {
        Boundary::cpml(layers)
    };
    let mut spec = SimulationSpec::new(model).all_boundaries(b);
    // A throughput benchmark: the 17.5 GHz pulse is not resolved by 1 mm cells in gel, on purpose.
    spec.allow_coarse_grid = true;
    let c = side / 2;
    spec.sources.push(SourceSpec::EdgeCurrent {
        comp: 2,
        node: [c, c, c],
        current_a: 1e-3,
        waveform: Waveform::GaussPulse {
            f0_hz: 10e9,
            bandwidth_hz: 15e9,
        },
    });
    Simulation::new(spec)
}

/// Runs `steps` steps of [`fdtd_box`] with `layers` CPML layers (0 = PEC) on `threads` threads,
/// `repeats` times, and reports the median cell-update rate (machines are noisy).
pub fn fdtd(cells: usize, steps: usize, threads: usize, layers: usize, repeats: usize) -> Result<FdtdBench> {
    let repeats = repeats.max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| Error::Other(e.to_string()))?;
    pool.install(|| {
        let mut sim = fdtd_box(cells, layers)?;
        let n = sim.cells();
        let total = n[0] * n[1] * n[2];
        sim.run_steps(5, &mut [])?; // warm-up (page faults, caches)
        let mut times = Vec::with_capacity(repeats);
        for _ in 0..repeats {
            let t0 = std::time::Instant::now();
            for _ in 0..steps {
                sim.step(&mut []);
            }
            times.push(t0.elapsed().as_secs_f64());
        }
        times.sort_by(|a, b| a.total_cmp(b));
        let seconds = times[times.len() / 2];
        let rate = |t: f64| total as f64 * steps as f64 / t / 1e6;
        let w = sim.energy();
        if !w.is_finite() {
            return Err(Error::Unstable {
                step: sim.steps(),
                what: "benchmark fields became NaN/Inf".into(),
                fix: "report this as a bug".into(),
            });
        }
        Ok(FdtdBench {
            cells: total,
            side: n[0],
            steps,
            threads: threads.max(1),
            cpml_layers: layers,
            repeats,
            seconds,
            mcells_per_s: rate(seconds),
            mcells_per_s_min: rate(times[times.len() - 1]),
            mcells_per_s_max: rate(times[0]),
            bytes_per_cell: sim.core_bytes() as f64 / total as f64,
        })
    })
}
