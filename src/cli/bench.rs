//! `rftwin bench fdtd | sar | heat | implant`: the throughput benchmarks, as a line of text or JSON.

#[derive(clap::Subcommand)]
pub enum BenchCommand {
    /// FDTD update rate on a cube of lossy gel with CPML on all faces (openEMS-comparable).
    Fdtd {
        /// Total cells, CPML included (1000000 compares with openEMS N=100).
        #[arg(long, default_value_t = 1_000_000)]
        cells: usize,
        #[arg(long, default_value_t = 300)]
        steps: usize,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// CPML layers on every face (0 = PEC walls, as openEMS's PEC case).
        #[arg(long, default_value_t = 8)]
        pml: usize,
        /// Timed repeats of the steps; the median is reported.
        #[arg(long, default_value_t = 3)]
        repeat: usize,
        /// One line of JSON on stdout.
        #[arg(long)]
        json: bool,
    },
    /// 10 g SAR averaging (IEC/IEEE 62704-1) on a body-like phantom of about N voxels of 1 mm (target: 8 M in <= 10 s).
    Sar {
        #[arg(long, default_value_t = 8_000_000)]
        voxels: usize,
        #[arg(long)]
        json: bool,
    },
    /// 15-minute Pennes exposure, steel rod in gel, about N voxels of 1 mm (target: 1 M in <= 30 s).
    Heat {
        #[arg(long, default_value_t = 1_000_000)]
        voxels: usize,
        /// Time step (s).
        #[arg(long, default_value_t = 5.0)]
        dt_s: f64,
        #[arg(long)]
        json: bool,
    },
    /// Worst-case implant search: placements of a 200 mm wire in the ASTM gel ranked by the
    /// transfer-function estimate (target: 1000 placements in <= 10 s).
    Implant {
        #[arg(long)]
        json: bool,
    },
}

pub fn run(what: BenchCommand) -> anyhow::Result<i32> {
    match what {
        BenchCommand::Fdtd {
            cells,
            steps,
            threads,
            pml,
            repeat,
            json,
        } => {
            let r = crate::bench::fdtd(cells, steps, threads, pml, repeat)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "rftwin FDTD: {} cells ({}^3, CPML {} layers), {} steps, {} thread(s): {:.1} Mcells/s median of {} (range {:.1}-{:.1}; {:.3} s), {:.1} bytes/cell core memory",
                    r.cells, r.side, r.cpml_layers, r.steps, r.threads, r.mcells_per_s, r.repeats, r.mcells_per_s_min, r.mcells_per_s_max, r.seconds, r.bytes_per_cell
                );
            }
            Ok(0)
        }
        BenchCommand::Sar { voxels, json } => {
            print(crate::dosimetry::bench::bench_averaging_10g(cube_side(voxels)?)?, json)
        }
        BenchCommand::Heat { voxels, dt_s, json } => print(
            crate::dosimetry::bench::bench_thermal_exposure(cube_side(voxels)?, dt_s)?,
            json,
        ),
        BenchCommand::Implant { json } => print(crate::implant::search::bench_search()?, json),
    }
}

/// Side of the cube with about `voxels` voxels (at least 20).
fn cube_side(voxels: usize) -> anyhow::Result<usize> {
    let n = (voxels as f64).cbrt().round() as usize;
    if n < 20 {
        return Err(crate::error::Error::input(
            "bench",
            "--voxels",
            format!("{voxels} voxels is too few"),
            "give at least 8000",
        )
        .into());
    }
    Ok(n)
}

fn print(r: crate::dosimetry::bench::BenchTiming, json: bool) -> anyhow::Result<i32> {
    if json {
        println!("{}", serde_json::to_string(&r)?);
    } else {
        println!(
            "{}: {} voxels, {} thread(s): {:.3} s; {}",
            r.name, r.voxels, r.threads, r.seconds, r.detail
        );
    }
    Ok(0)
}
