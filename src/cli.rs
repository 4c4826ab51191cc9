//! The command-line interface: a thin clap layer over the library.
//! Exit codes: 0 success / all criteria pass, 1 a check or criterion failed, 2 an error.

use clap::{Parser, Subcommand};

use crate::validate;

#[derive(Parser)]
#[command(
    name = "rftwin",
    version,
    about = "Digital twin of an MRI birdcage RF coil for implant RF-heating safety"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the physics validation suite (analytic references with stated tolerances).
    Validate {
        /// Print one JSON document ({"cases": [...]}) instead of a table.
        #[arg(long)]
        json: bool,
        /// Run only the case with this name (or every case whose name contains it).
        #[arg(long)]
        only: Option<String>,
    },
    /// Run a simulation described in TOML (see README: "fdtd run").
    Fdtd {
        #[command(subcommand)]
        what: FdtdCommand,
    },
    /// Birdcage coils: circuit-model tuning.
    Coil {
        #[command(subcommand)]
        what: CoilCommand,
    },
    /// Point, 1 g and 10 g SAR (IEC/IEEE 62704-1) from the E phasors of `fdtd run`: sar.h5, PNG maps, summary.json.
    Sar {
        /// fields.h5 of `rftwin fdtd run` (CW, with an E probe and the materials/ group).
        fields: std::path::PathBuf,
        #[command(flatten)]
        field: FieldArgs,
        /// TOML overriding conductivity/density per material name (format: docs of `dosimetry::io::MaterialsFile`).
        #[arg(long)]
        materials: Option<std::path::PathBuf>,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// Do not print the summary.
        #[arg(long)]
        quiet: bool,
    },
    /// Pennes bioheat: the ASTM F2182 exposure from sar.h5 (or fields.h5 + --normalise): heat.h5, PNGs, summary.json.
    Heat {
        /// sar.h5 of `rftwin sar`, or fields.h5 of `rftwin fdtd run`.
        input: std::path::PathBuf,
        #[command(flatten)]
        field: FieldArgs,
        /// TOML with thermal properties per material name, probes, exposure, boundaries, implant
        /// (format: docs of `dosimetry::io::MaterialsFile`).
        #[arg(long)]
        materials: Option<std::path::PathBuf>,
        /// Temperature probe NAME:X,Y,Z or NAME:X,Y,Z:RADIUS (m); repeatable.
        #[arg(long = "probe", value_name = "NAME:X,Y,Z[:R]")]
        probes: Vec<String>,
        /// Exposure length (s); default 900 (ASTM F2182) or [exposure] duration_s.
        #[arg(long)]
        duration_s: Option<f64>,
        /// Time step (s; accuracy only, any value is stable); default 5.
        #[arg(long)]
        dt_s: Option<f64>,
        /// Uniform starting temperature (°C); default 22.
        #[arg(long)]
        initial_temperature_c: Option<f64>,
        #[arg(long)]
        out: std::path::PathBuf,
        #[arg(long)]
        force: bool,
        #[arg(long)]
        quiet: bool,
    },
    /// Throughput benchmarks.
    Bench {
        #[command(subcommand)]
        what: BenchCommand,
    },
}

#[derive(Subcommand)]
enum FdtdCommand {
    /// Run FILE.toml and write summary.json (+ fields.h5 when it has probes) into --out.
    Run {
        file: std::path::PathBuf,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Replace --out if it exists.
        #[arg(long)]
        force: bool,
        /// No progress bar.
        #[arg(long)]
        quiet: bool,
    },
}

/// Field selection and normalisation shared by `sar` and `heat`.
#[derive(clap::Args)]
struct FieldArgs {
    /// whole-phantom=W_PER_KG | b1rms-ut=MICROTESLA | power-w=WATTS | mode=normal|first-level.
    #[arg(long)]
    normalise: Option<crate::dosimetry::run::NormaliseSpec>,
    /// E probe (HDF5 group) to use; default: the only one.
    #[arg(long = "e-probe")]
    e_probe: Option<String>,
    /// Frequency index of the phasors.
    #[arg(long, default_value_t = 0)]
    freq_index: usize,
    /// Isocentre X,Y,Z (m) for b1rms-ut; default: centre of the grid.
    #[arg(long, value_parser = crate::dosimetry::run::parse_point_m)]
    isocentre_m: Option<[f64; 3]>,
}

impl FieldArgs {
    fn options(self, fields: &std::path::Path) -> crate::dosimetry::run::FieldOptions {
        crate::dosimetry::run::FieldOptions {
            fields: fields.to_path_buf(),
            probe: self.e_probe,
            freq_index: self.freq_index,
            normalise: self.normalise,
            isocentre_m: self.isocentre_m,
        }
    }
}

#[derive(Subcommand)]
enum CoilCommand {
    /// Solve the capacitance that puts the homogeneous (m = 1) mode at the Larmor frequency and print the mode spectrum.
    Tune {
        /// Coil definition (TOML), e.g. coils/body_1p5t_hp16.toml.
        file: std::path::PathBuf,
        /// Print one JSON document (the whole tuning, inductances included) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum BenchCommand {
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
}

/// Runs the CLI and returns the process exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return code;
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            e.downcast_ref::<crate::error::Error>().map_or(2, |e| e.exit_code())
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<i32> {
    match cli.command {
        Command::Validate { json, only } => {
            let all = validate::all_cases();
            // --only: the exact case if one has that name, else every case containing the text.
            let exact = only.as_deref().is_some_and(|o| all.iter().any(|c| c.name == o));
            let cases: Vec<_> = all
                .into_iter()
                .filter(|c| match only.as_deref() {
                    None => true,
                    Some(o) if exact => c.name == o,
                    Some(o) => c.name.contains(o),
                })
                .collect();
            if cases.is_empty() {
                return Err(crate::error::Error::input(
                    "validate",
                    "--only",
                    "no case matches",
                    "run `rftwin validate` without --only to see the case names",
                )
                .into());
            }
            let mut results = Vec::new();
            if !json {
                println!(
                    "{:<30} {:>14} {:>14} {:>10} {:>10} {:>6} {:>7}  unit",
                    "case", "reference", "measured", "error", "tolerance", "pass", "time_s"
                );
            }
            for c in &cases {
                let r = validate::run_case(c);
                if !json {
                    println!(
                        "{:<30} {:>14.6e} {:>14.6e} {:>10.3e} {:>10.3e} {:>6} {:>7.2}  {}",
                        r.case,
                        r.reference,
                        r.measured,
                        r.error,
                        r.tolerance,
                        if r.pass { "PASS" } else { "FAIL" },
                        r.seconds,
                        r.unit
                    );
                    println!(
                        "    {} [{}; error: {}]",
                        r.description, r.reference_source, r.error_kind
                    );
                }
                results.push(r);
            }
            let failed = results.iter().filter(|r| !r.pass).count();
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({ "cases": results }))?
                );
            } else {
                println!("{} passed, {} failed", results.len() - failed, failed);
            }
            Ok(if failed == 0 { 0 } else { 1 })
        }
        Command::Fdtd {
            what:
                FdtdCommand::Run {
                    file,
                    out,
                    force,
                    quiet,
                },
        } => {
            let summary = fdtd_run(&file, &out, force, quiet)?;
            println!("{}", serde_json::to_string_pretty(&summary)?);
            Ok(0)
        }
        Command::Coil {
            what: CoilCommand::Tune { file, json },
        } => {
            let coil = crate::coil::CoilConfig::load(&file)?;
            let t = crate::coil::tune(&coil)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&t)?);
            } else {
                print!("{}", crate::coil::circuit::format_tuning(&t));
            }
            Ok(0)
        }
        Command::Bench {
            what:
                BenchCommand::Fdtd {
                    cells,
                    steps,
                    threads,
                    pml,
                    repeat,
                    json,
                },
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
        Command::Bench {
            what: BenchCommand::Sar { voxels, json },
        } => bench_print(crate::dosimetry::bench::bench_averaging_10g(cube_side(voxels)?)?, json),
        Command::Bench {
            what: BenchCommand::Heat { voxels, dt_s, json },
        } => bench_print(
            crate::dosimetry::bench::bench_thermal_exposure(cube_side(voxels)?, dt_s)?,
            json,
        ),
        Command::Sar {
            fields,
            field,
            materials,
            out,
            force,
            quiet,
        } => {
            let v = crate::dosimetry::run::run_sar(&crate::dosimetry::run::SarOptions {
                field: field.options(&fields),
                materials,
                out,
                force,
            })?;
            if !quiet {
                println!("{}", serde_json::to_string_pretty(&v)?);
            }
            Ok(0)
        }
        Command::Heat {
            input,
            field,
            materials,
            probes,
            duration_s,
            dt_s,
            initial_temperature_c,
            out,
            force,
            quiet,
        } => {
            let v = crate::dosimetry::run::run_heat(&crate::dosimetry::run::HeatOptions {
                field: field.options(&input),
                input,
                materials,
                probes: probes
                    .iter()
                    .map(|p| crate::dosimetry::io::parse_probe_arg(p))
                    .collect::<crate::error::Result<_>>()?,
                duration_s,
                dt_s,
                initial_temperature_c,
                out,
                force,
            })?;
            if !quiet {
                println!("{}", serde_json::to_string_pretty(&v)?);
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

fn bench_print(r: crate::dosimetry::bench::BenchTiming, json: bool) -> anyhow::Result<i32> {
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

/// `rftwin fdtd run`: parse, build, run, write (atomically).
fn fdtd_run(
    file: &std::path::Path,
    out: &std::path::Path,
    force: bool,
    quiet: bool,
) -> anyhow::Result<serde_json::Value> {
    use crate::fdtd::config::{self, RunMode};
    use crate::fdtd::{FieldKind, Probe};
    use num_complex::Complex64;

    let name = file.display().to_string();
    let parsed = config::load(file)?;
    let (mut sim, mut probes) = config::build(&parsed, &name)?;
    let dir = crate::io::AtomicDir::new(out, force)?;
    let bar = if quiet {
        indicatif::ProgressBar::hidden()
    } else {
        indicatif::ProgressBar::new_spinner()
    };
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {elapsed} {msg}").expect("template"));
    {
        let bar = bar.clone();
        sim.set_progress(Some(Box::new(move |p: crate::fdtd::Progress| {
            bar.set_message(if p.periods > 0 {
                format!(
                    "period {} (step {}): phasor change {:.2e} -> {:.1e}",
                    p.periods, p.steps, p.measure, p.target
                )
            } else {
                format!("step {}: energy {:.1} dB -> {:.0} dB", p.steps, p.measure, p.target)
            });
            bar.tick();
        })));
    }
    let mut refs: Vec<&mut dyn Probe> = probes.iter_mut().map(|p| p as &mut dyn Probe).collect();
    let stats = match &parsed.mode {
        RunMode::Cw { steady, .. } => sim.run_cw(steady, &mut refs)?,
        RunMode::Pulse {
            decay_db, max_steps, ..
        } => sim.run_until_decay(*decay_db, *max_steps, &mut refs)?,
    };
    bar.finish_and_clear();
    let cw = matches!(parsed.mode, RunMode::Cw { .. });
    let freqs: Vec<f64> = match &parsed.mode {
        RunMode::Cw { freq_hz, .. } => vec![*freq_hz],
        RunMode::Pulse { freqs_hz, .. } => freqs_hz.clone(),
    };

    // Element results (ports: impedance and S11 against their internal resistance).
    let mut elements = Vec::new();
    for (e, spec) in sim.lumped.specs().iter().enumerate() {
        let z = sim.lumped.impedance(e);
        let vi = if cw {
            sim.lumped.phasors(e)
        } else {
            sim.lumped.spectrum(e)
        };
        let r0 = parsed.ports.iter().find(|(n, _)| *n == spec.name).map(|(_, r)| *r);
        let rows: Vec<serde_json::Value> = freqs
            .iter()
            .enumerate()
            .map(|(fi, f)| {
                let (v, i) = vi[fi];
                let mut row = serde_json::json!({
                    "freq_hz": f,
                    "z_ohm": [z[fi].re, z[fi].im],
                    "v": [v.re, v.im],
                    "i": [i.re, i.im],
                });
                if let Some(r0) = r0 {
                    let s11: Complex64 = (z[fi] - r0) / (z[fi] + r0);
                    row["s11"] = serde_json::json!([s11.re, s11.im]);
                    row["s11_db"] = serde_json::json!(20.0 * s11.norm().log10());
                    if cw {
                        row["power_into_structure_w"] = serde_json::json!(0.5 * (v * i.conj()).re);
                    }
                }
                row
            })
            .collect();
        elements.push(serde_json::json!({ "name": spec.name, "port": r0.is_some(), "results": rows }));
    }

    // CW input power: sum over ports of 0.5 Re(V I*) (for `rftwin sar --normalise power-w=...`).
    let input_power_w: Option<f64> = elements
        .iter()
        .filter_map(|e| e["results"][0]["power_into_structure_w"].as_f64())
        .fold(None, |acc, p| Some(acc.unwrap_or(0.0) + p));
    let d = sim.op.d;
    let origin = sim.op.model.grid.node_pos(0, 0, 0);
    let mut arrays = Vec::new();
    for (p, req) in probes.iter().zip(&parsed.probes) {
        for (ci, comp) in ["x", "y", "z"].iter().enumerate() {
            for (fi, f) in freqs.iter().enumerate() {
                let data = if cw {
                    p.phasor(ci, fi)
                } else {
                    p.spectrum(ci, fi)
                        .mapv(|c| num_complex::Complex32::new(c.re as f32, c.im as f32))
                };
                // Yee position of this component: half a cell along its own axis for E, along the other two for H.
                let mut o = [0.0; 3];
                for a in 0..3 {
                    let half = match req.kind {
                        FieldKind::E => a == ci,
                        FieldKind::H => a != ci,
                    };
                    o[a] = origin[a] + d[a] * (req.region[a].start as f64 + if half { 0.5 } else { 0.0 });
                }
                arrays.push((
                    format!(
                        "{}/{}{}_f{}",
                        req.name,
                        if req.kind == FieldKind::E { "E" } else { "H" },
                        comp,
                        fi
                    ),
                    data,
                    o,
                    *f,
                    req.kind,
                ));
            }
        }
    }
    if !arrays.is_empty() {
        let sets: Vec<crate::io::FieldDataset> = arrays
            .iter()
            .map(|(n, data, o, f, kind)| crate::io::FieldDataset {
                name: n.clone(),
                data,
                origin_m: *o,
                spacing_m: d,
                unit: match (kind, cw) {
                    (FieldKind::E, true) => "V/m",
                    (FieldKind::H, true) => "A/m",
                    (FieldKind::E, false) => "V s/m",
                    (FieldKind::H, false) => "A s/m",
                },
                freq_hz: *f,
                quantity: if cw {
                    "complex peak phasor, time factor exp(+i w t)"
                } else {
                    "Fourier transform, exp(-i w t)"
                },
            })
            .collect();
        let h5 = dir.path("fields.h5");
        crate::io::write_h5_fields(&h5, &sets)?;
        // Material grid (cell centres) and the ports' input power, for `rftwin sar` / `rftwin heat`.
        let model = &sim.op.model;
        let labels = ndarray::Array3::from_shape_vec(model.grid.dims(), model.cells().to_vec())?;
        let grid = crate::dosimetry::io::LabelGrid {
            labels,
            table: crate::dosimetry::io::MaterialTable::from_materials(model.materials()),
            origin_m: model.grid.cell_centre(0, 0, 0),
            spacing_m: d,
        };
        let file = hdf5::File::append(&h5).map_err(|e| crate::error::Error::Other(format!("{}: {e}", h5.display())))?;
        crate::dosimetry::io::write_h5_materials(&file, &h5, &grid)?;
        if let Some(p) = input_power_w {
            crate::dosimetry::io::write_root_attr(&file, &h5, "input_power_w", p)?;
        }
    }
    let summary = serde_json::json!({
        "file": name,
        "mode": if cw { "cw" } else { "pulse" },
        "cells": sim.op.layout.n,
        "cell_size_m": d,
        "dt_s": sim.dt(),
        "courant": sim.op.courant,
        "run": stats,
        "elements": elements,
        "probes": parsed.probes.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
        "fields_h5": if arrays.is_empty() { None } else { Some("fields.h5") },
    });
    crate::io::write_json(&dir.path("summary.json"), &summary)?;
    dir.commit()?;
    Ok(summary)
}
