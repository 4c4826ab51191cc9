//! `rftwin bench fdtd | sar | heat | implant | twin`: the throughput benchmarks, as a line of text or JSON.

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
        /// A graded box instead (1 mm cells at the faces, 0.5 mm at the centre, growth 1.2): the
        /// graded update kernels' rate.
        #[arg(long)]
        graded: bool,
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
    /// The co-simulation twin (issue 16): all port runs of the 1.5 T high-pass 16-rung body coil
    /// with the ASTM phantom (target <= 5 min on 2 cores at 10 mm), of the 3 T low-pass 8-rung head
    /// coil (the openEMS reference coil, coils/ref_3t_lp8.toml) with its gel cylinder (<= 5 min at
    /// 5 mm), and the fit on the cached body-coil ports for a 64 x 64 x 32 map (<= 10 s).
    Twin {
        /// body, head, fit or fit-caps (the capacitor fit on the cached body ports; repeatable); default all four.
        #[arg(long = "case")]
        cases: Vec<String>,
        #[arg(long, default_value_t = 10.0)]
        body_cell_mm: f64,
        #[arg(long, default_value_t = 5.0)]
        head_cell_mm: f64,
        #[arg(long, default_value_t = 2)]
        threads: usize,
        /// Cache of the fit's body-coil basis (default: $RFTWIN_CACHE, else ~/.cache/rftwin).
        #[arg(long)]
        cache_dir: Option<std::path::PathBuf>,
        /// Also write the timings as JSON to this file.
        #[arg(long)]
        out: Option<std::path::PathBuf>,
        /// One JSON document on stdout instead of lines of text.
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
            graded,
            json,
        } => {
            let r = crate::bench::fdtd(cells, steps, threads, pml, repeat, graded)?;
            if json {
                println!("{}", serde_json::to_string(&r)?);
            } else {
                println!(
                    "rftwin FDTD{}: {} cells ({}^3, CPML {} layers), {} steps, {} thread(s): {:.1} Mcells/s median of {} (range {:.1}-{:.1}; {:.3} s), {:.1} bytes/cell core memory",
                    if r.graded { " (graded box)" } else { "" }, r.cells, r.side, r.cpml_layers, r.steps, r.threads, r.mcells_per_s, r.repeats, r.mcells_per_s_min, r.mcells_per_s_max, r.seconds, r.bytes_per_cell
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
        BenchCommand::Twin {
            cases,
            body_cell_mm,
            head_cell_mm,
            threads,
            cache_dir,
            out,
            json,
        } => {
            let o = crate::bench::TwinBenchOptions {
                cases,
                body_cell_mm,
                head_cell_mm,
                threads,
                cache_dir: cache_dir
                    .unwrap_or_else(|| crate::twin::basis::default_cache_dir(std::path::Path::new("."))),
            };
            let r = crate::bench::twin(&o, &mut |m: &str| eprintln!("bench twin: {m}"))?;
            if let Some(path) = &out {
                crate::io::write_json(path, &r)?;
            }
            if json {
                println!("{}", serde_json::to_string_pretty(&r)?);
            } else {
                if let Some(f) = &r.fit_caps {
                    println!(
                        "capacitor fit on cached ports ({} voxels, {} capacitors, basis {:.1} mm): {:.1} s with {} FDTD runs (target {:.0} s: {}); amplitude {:.4} (truth 1.05), phase {:.2} deg (truth 3)",
                        f.voxels, f.capacitors, f.cell_m * 1e3, f.seconds, f.fdtd_runs, f.target_s, if f.within_target { "met" } else { "MISSED" }, f.relative_amplitude, f.relative_phase_deg
                    );
                }
                for b in &r.bases {
                    if let (Some(cpu), Some([l0, l1])) = (b.cpu_s, b.load_average) {
                        println!(
                            "{}: {} cells, {:.1} CPU s in all ({:.1} s per thread), load average {:.1} -> {:.1} on this machine",
                            b.name,
                            b.cells,
                            cpu,
                            cpu / r.threads as f64,
                            l0,
                            l1
                        );
                    }
                    println!(
                        "{}: {} ports at {:.1} mm, port runs {:.1} s (target {:.0} s: {}), whole basis {:.1} s, {} FDTD runs, longest {} steps, {} thread(s)",
                        b.name, b.ports, b.cell_m * 1e3, b.port_runs_s, b.target_s, if b.within_target { "met" } else { "MISSED" }, b.basis_s, b.fdtd_runs, b.max_port_run_steps, r.threads
                    );
                }
                if let Some(f) = &r.fit {
                    println!(
                        "fit on cached ports ({} voxels, basis {:.1} mm): cache read {:.2} s + joint weight fit {:.2} s (target {:.0} s: {}); calibrate {:.2} s; amplitude {:.4} (truth 1.05), phase {:.2} deg (truth 3)",
                        f.voxels, f.cell_m * 1e3, f.basis_cache_read_s, f.joint_weight_fit_s, f.target_s, if f.within_target { "met" } else { "MISSED" }, f.calibrate_s, f.relative_amplitude, f.relative_phase_deg
                    );
                }
            }
            Ok(0)
        }
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
