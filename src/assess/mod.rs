//! The end-to-end safety assessment (`rftwin assess`, `rftwin demo`): a recipe in, a report out.
//!
//! Stages, in pipeline order, each built on the modules before it:
//!
//! 1. **Coil twin** — a twin directory written by `rftwin twin fit`, or the coil + phantom of the
//!    recipe: ideal-drive basis runs on the coarse grid (cached on disk), calibrated to the measured
//!    |B1+| map when one is given (drive weights, and the phantom offset when asked), else driven in
//!    ideal quadrature;
//! 2. **Normalisation** — whole-phantom SAR, B1+rms at the isocentre, input power or an IEC 60601-2-33
//!    operating mode, computed on the twin's coarse grid; one factor scales every field after it;
//! 3. **Implant local fields** — for every implant: placement check, fine-grid FDTD box driven by the
//!    twin's field through a TF/SF surface (`implant::local`);
//! 4. **SAR** — point, 1 g and 10 g (IEC/IEEE 62704-1 cubes) with the implant and with it removed;
//! 5. **Heating** — Pennes bioheat on the local region for the exposure time, with and without the
//!    implant; probes at the conductor ends; CEM43;
//! 6. **Report** — quantities (the single source of every number in the PDF and `summary.json`),
//!    figures, the criteria and the verdict; `fields.h5` with the B1+, SAR and temperature fields for
//!    regression; everything written atomically.

pub mod command;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use ndarray::Array3;
use num_complex::Complex64;

use crate::b1::{b1_plus, B1Map, Placement as MapPlacement};
use crate::coil::{CoilConfig, PhantomConfig};
use crate::dosimetry::normalise::{normalise, Normalisation, NormaliseTarget};
use crate::dosimetry::run::NormaliseSpec;
use crate::dosimetry::sar::{mass_averaged_sar, point_sar, whole_phantom_sar, SarInput};
use crate::dosimetry::thermal::{Probe as ThermalProbe, ThermalSettings};
use crate::dosimetry::VoxelGrid;
use crate::error::{Error, Result};
use crate::implant::local::{run_local, LocalFields, LocalOptions, TwinIncident};
use crate::implant::placement::{place, PlacedImplant, Placement as ImplantPlacementSpec};
use crate::implant::Implant;
use crate::io::AtomicDir;
use crate::plot::{line_plot, panel, slice_map, Colormap, LinePlot, Panel, SliceMap};
use crate::report::assessment;
use crate::report::criteria::{KEY_CEM43, KEY_SAR_10G, KEY_SAR_1G, KEY_TEMPERATURE_RISE};
use crate::report::recipe::{Orientation, Recipe, TwinSource};
use crate::report::{Cell, Report, Section, Table, Verdict};
use crate::twin::TwinFields;

/// Settings of an assessment run that are not part of the recipe.
#[derive(Clone, Debug)]
pub struct AssessOptions {
    pub out: PathBuf,
    pub overwrite: bool,
    /// The command, recorded in the output's marker ("assess", "demo", "regress").
    pub command: String,
    /// Inputs besides the recipe's files and the cache that the output must not touch (e.g. the
    /// golden directory of `regress`); see [`crate::io::OutputPolicy`].
    pub extra_inputs: Vec<(String, PathBuf)>,
    /// Basis cache directory (None: no cache).
    pub cache_dir: Option<PathBuf>,
    /// Coarse twin cell (m) when the recipe gives none.
    pub coarse_cell_m: f64,
    /// Fine local cell (m).
    pub fine_cell_m: f64,
    /// Gel margin around each implant in the local box (m).
    pub local_pad_m: f64,
    /// Fit the phantom offset when calibrating to a measured map.
    pub fit_offset: bool,
    /// Thermal time step (s).
    pub thermal_dt_s: f64,
}

impl AssessOptions {
    pub fn new(out: &Path) -> Self {
        Self {
            out: out.to_path_buf(),
            overwrite: false,
            command: "assess".into(),
            extra_inputs: Vec::new(),
            cache_dir: None,
            coarse_cell_m: 0.01,
            fine_cell_m: 1e-3,
            local_pad_m: 0.025,
            fit_offset: false,
            thermal_dt_s: 5.0,
        }
    }
}

/// What an assessment produced.
pub struct Outcome {
    pub verdict: Verdict,
    pub out: PathBuf,
    pub report: Report,
    pub seconds: f64,
}

/// The coil twin as the pipeline uses it.
struct Twin {
    fields: TwinFields,
    phantom: PhantomConfig,
    section: Section,
}

fn sim_options(cell_m: f64) -> crate::b1::coil_maps::SimulateOptions {
    let mut o = crate::b1::coil_maps::SimulateOptions::default();
    o.mesh.cell_m = cell_m;
    o
}

/// Stage 1: the coil twin.
fn twin_stage(
    recipe: &Recipe,
    opt: &AssessOptions,
    report: &mut Report,
    dir: &AtomicDir,
    log: &mut dyn FnMut(&str),
) -> Result<Twin> {
    match &recipe.twin {
        TwinSource::Dir(d) => {
            log("loading the twin");
            let crate::twin::LoadedTwin { fields, phantom, nrmse } = crate::twin::load_twin_dir(d)?;
            let mut section = Section::new("Coil twin").paragraph(format!(
                "The coil twin was loaded from {} (calibrated earlier by rftwin twin fit).",
                d.display()
            ));
            if let Some(n) = nrmse {
                let k = report.quantity("twin.nrmse", 100.0 * n, "%", "B1+ map matching NRMSE inside the mask");
                section = section.paragraph(format!("Map-matching NRMSE of that fit: {{{k}}}."));
            }
            Ok(Twin {
                fields,
                phantom,
                section,
            })
        }
        TwinSource::Model {
            coil,
            phantom,
            measured,
            measured_volume,
            cell_m,
            fit_offset,
            fit_rotation,
            fit_gel,
        } => {
            let c = CoilConfig::load(coil)?;
            let p = PhantomConfig::load(phantom)?;
            let cell = cell_m.unwrap_or(opt.coarse_cell_m);
            let sim = sim_options(cell);
            let t0 = Instant::now();
            let cell_key = report.quantity("twin.cell", cell * 1e3, "mm", "coarse FDTD cell of the coil twin");
            let freq_key = report.quantity("twin.frequency", c.freq_hz / 1e6, "MHz", "RF frequency (Larmor)");
            match measured {
                Some(mpath) => {
                    let map = crate::b1::read_map_volume(mpath, None, *measured_volume)?;
                    let fo = crate::twin::FullOptions {
                        joint: crate::twin::JointOptions {
                            fit_offset: opt.fit_offset || *fit_offset,
                            fit_rotation: *fit_rotation,
                            fit_gel: *fit_gel,
                            ..Default::default()
                        },
                        ..Default::default()
                    };
                    let mut tlog = |m: &str| log(&format!("twin: {m}"));
                    let (full, basis) = crate::twin::calibrate_full(
                        &c,
                        &p,
                        &map,
                        &MapPlacement::default(),
                        &sim,
                        &fo,
                        opt.cache_dir.as_deref(),
                        &mut tlog,
                    )?;
                    let f = &full.fit;
                    if !f.converged {
                        return Err(Error::Other(format!(
                            "the twin calibration did not converge (best NRMSE {:.4}); check the measured map {}",
                            f.nrmse,
                            mpath.display()
                        )));
                    }
                    let w = [
                        Complex64::new(f.weights[0][0], f.weights[0][1]),
                        Complex64::new(f.weights[1][0], f.weights[1][1]),
                    ];
                    let fields = TwinFields::from_basis(&basis, &w)?;
                    let mut phantom_eff = crate::twin::basis::shifted_phantom(&p, full.final_offset_m);
                    phantom_eff.material.sigma_s_per_m = full.final_sigma_s_per_m;
                    phantom_eff.material.eps_r = full.final_eps_r;
                    let q = |r: &mut Report, k: &str, v: f64, u: &str, d: &str| r.quantity(k, v, u, d);
                    let k_nrmse = q(
                        report,
                        "twin.nrmse",
                        100.0 * f.nrmse,
                        "%",
                        "B1+ map matching NRMSE inside the mask",
                    );
                    let k_corr = q(
                        report,
                        "twin.correlation",
                        f.correlation,
                        "",
                        "correlation of measured and twin |B1+|",
                    );
                    let k_p95 = q(
                        report,
                        "twin.p95_abs_residual",
                        f.p95_abs_residual,
                        map.unit.as_str(),
                        "95th percentile of |twin - measured|",
                    );
                    let k_amp = q(
                        report,
                        "twin.port2_relative_amplitude",
                        f.relative_amplitude.value,
                        "",
                        "fitted amplitude of the second quadrature channel relative to the first",
                    );
                    let k_amp_lo = q(
                        report,
                        "twin.port2_relative_amplitude_ci95_low",
                        f.relative_amplitude.ci95[0],
                        "",
                        "95 % interval, low",
                    );
                    let k_amp_hi = q(
                        report,
                        "twin.port2_relative_amplitude_ci95_high",
                        f.relative_amplitude.ci95[1],
                        "",
                        "95 % interval, high",
                    );
                    let k_ph = q(
                        report,
                        "twin.port2_phase_error",
                        f.relative_phase_deg.value,
                        "°",
                        "fitted phase error of the second channel",
                    );
                    let k_ph_lo = q(
                        report,
                        "twin.port2_phase_error_ci95_low",
                        f.relative_phase_deg.ci95[0],
                        "°",
                        "95 % interval, low",
                    );
                    let k_ph_hi = q(
                        report,
                        "twin.port2_phase_error_ci95_high",
                        f.relative_phase_deg.ci95[1],
                        "°",
                        "95 % interval, high",
                    );
                    let k_runs = q(
                        report,
                        "timing.twin_fdtd_runs",
                        full.fdtd_runs as f64,
                        "",
                        "FDTD basis runs made (not from the cache)",
                    );
                    let k_time = q(
                        report,
                        "timing.twin_calibration",
                        t0.elapsed().as_secs_f64(),
                        "s",
                        "wall time of the calibration",
                    );
                    let mut rows = vec![
                        vec![
                            Cell::text("Port-2 relative amplitude"),
                            Cell::q(&k_amp),
                            Cell::q(&k_amp_lo),
                            Cell::q(&k_amp_hi),
                        ],
                        vec![
                            Cell::text("Port-2 phase error"),
                            Cell::q(&k_ph),
                            Cell::q(&k_ph_lo),
                            Cell::q(&k_ph_hi),
                        ],
                    ];
                    let mut fitted = "drive weights (overall scale, second-channel amplitude and phase)".to_string();
                    if let (Some(sg), Some(ep)) = (&f.sigma_s_per_m, &f.eps_r) {
                        fitted += ", gel conductivity and permittivity";
                        let kv = q(report, "twin.gel_sigma", sg.value, "S/m", "fitted gel conductivity");
                        let kl = q(
                            report,
                            "twin.gel_sigma_ci95_low",
                            sg.ci95[0],
                            "S/m",
                            "95 % interval, low",
                        );
                        let kh = q(
                            report,
                            "twin.gel_sigma_ci95_high",
                            sg.ci95[1],
                            "S/m",
                            "95 % interval, high",
                        );
                        rows.push(vec![
                            Cell::text("Gel conductivity"),
                            Cell::q(&kv),
                            Cell::q(&kl),
                            Cell::q(&kh),
                        ]);
                        let kv = q(
                            report,
                            "twin.gel_eps_r",
                            ep.value,
                            "",
                            "fitted gel relative permittivity",
                        );
                        let kl = q(report, "twin.gel_eps_r_ci95_low", ep.ci95[0], "", "95 % interval, low");
                        let kh = q(
                            report,
                            "twin.gel_eps_r_ci95_high",
                            ep.ci95[1],
                            "",
                            "95 % interval, high",
                        );
                        rows.push(vec![
                            Cell::text("Gel permittivity"),
                            Cell::q(&kv),
                            Cell::q(&kl),
                            Cell::q(&kh),
                        ]);
                    }
                    // Placement estimates: (estimates, what, key, label, scale, unit, description).
                    let placement = [
                        (
                            &f.offset_m,
                            "phantom offset",
                            "phantom_offset",
                            "Phantom offset",
                            1e3,
                            "mm",
                            "fitted phantom offset",
                        ),
                        (
                            &f.rotation_deg,
                            "phantom rotation",
                            "phantom_rotation",
                            "Phantom rotation about",
                            1.0,
                            "deg",
                            "fitted phantom rotation (rotation vector about its centre)",
                        ),
                    ];
                    for (est, what, key, label, scale, unit, desc) in placement {
                        let Some(o) = est else { continue };
                        fitted += &format!(", {what}");
                        for (a, name) in ["x", "y", "z"].iter().enumerate() {
                            let kv = q(report, &format!("twin.{key}_{name}"), o[a].value * scale, unit, desc);
                            let kl = q(
                                report,
                                &format!("twin.{key}_{name}_ci95_low"),
                                o[a].ci95[0] * scale,
                                unit,
                                "95 % interval, low",
                            );
                            let kh = q(
                                report,
                                &format!("twin.{key}_{name}_ci95_high"),
                                o[a].ci95[1] * scale,
                                unit,
                                "95 % interval, high",
                            );
                            rows.push(vec![
                                Cell::text(format!("{label} {name}")),
                                Cell::q(&kv),
                                Cell::q(&kl),
                                Cell::q(&kh),
                            ]);
                        }
                    }
                    let png = dir.path("twin_fit.png");
                    twin_fit_panel(&png, &map, &full.measured, &full.simulated, f.nrmse)?;
                    let section = Section::new("Coil twin")
                        .paragraph(format!(
                            "Coil {} at {{{freq_key}}}, phantom {}, coarse cell {{{cell_key}}}. The twin was calibrated to the \
                             measured |B1+| map {} by superposition of the two ideal-drive basis fields (no new FDTD \
                             run per fit iteration). Fitted: {fitted}. Map matching: NRMSE {{{k_nrmse}}}, correlation \
                             {{{k_corr}}}, 95th-percentile residual {{{k_p95}}}. FDTD runs made: {{{k_runs}}} \
                             (the rest came from the basis cache); calibration time {{{k_time}}}.",
                            c.name,
                            p.name,
                            mpath.display()
                        ))
                        .table(Table {
                            caption: "Fitted twin parameters with 95 % intervals (Jacobian at the optimum)".into(),
                            header: vec!["Parameter".into(), "Value".into(), "95 % low".into(), "95 % high".into()],
                            rows,
                        })
                        .figure(&png, "twin_fit.png", "Measured |B1+|, twin |B1+| and residual (coronal slice through the map centre).");
                    Ok(Twin {
                        fields,
                        phantom: phantom_eff,
                        section,
                    })
                }
                None => {
                    log("twin: basis runs (ideal quadrature drive)");
                    let fields = crate::twin::ideal_drive_fields(&c, &p, &sim, opt.cache_dir.as_deref())?;
                    let section = Section::new("Coil twin").paragraph(format!(
                        "Coil {} at {{{freq_key}}}, phantom {}, coarse cell {{{cell_key}}}: ideal quadrature drive \
                         (no measured map given, so no calibration).",
                        c.name, p.name
                    ));
                    Ok(Twin {
                        fields,
                        phantom: p,
                        section,
                    })
                }
            }
        }
    }
}

fn twin_fit_panel(png: &Path, map: &B1Map, measured: &Array3<f32>, simulated: &Array3<f32>, nrmse: f64) -> Result<()> {
    let k = map.dims()[1] / 2;
    let aff = map.affine.m;
    let origin = [aff[0][3], aff[1][3], aff[2][3]];
    let sp = [aff[0][0].abs(), aff[1][1].abs(), aff[2][2].abs()];
    let resid = simulated - measured;
    let hi = measured
        .iter()
        .cloned()
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max) as f64;
    let unit = format!("|B1+| ({})", map.unit.as_str());
    let maps = vec![
        SliceMap::from_volume(measured.view(), 1, k, origin, sp)?
            .title("measured")
            .unit(unit.clone())
            .range(0.0, hi),
        SliceMap::from_volume(simulated.view(), 1, k, origin, sp)?
            .title("twin")
            .unit(unit)
            .range(0.0, hi),
        SliceMap::from_volume(resid.view(), 1, k, origin, sp)?
            .title("twin − measured")
            .unit(format!("residual ({})", map.unit.as_str()))
            .colormap(Colormap::Diverging),
    ];
    panel(
        png,
        &Panel::new(maps).title(format!("B1+ map matching, NRMSE {:.2} %", 100.0 * nrmse)),
    )
}

/// The twin's E at its cell centres with the materials there: the coarse-grid SAR input.
fn twin_sar_input(tw: &TwinFields) -> Result<SarInput> {
    let (g, e) = tw.e.at_centres()?;
    let mut sigma = Array3::<f32>::zeros(g.dims);
    let mut rho = Array3::<f32>::zeros(g.dims);
    for ((i, j, k), s) in sigma.indexed_iter_mut() {
        if let Some((sg, _, d)) = tw.material_at(g.position(i, j, k)) {
            *s = sg as f32;
            rho[[i, j, k]] = d as f32;
        }
    }
    let vg = VoxelGrid::new(g.spacing_m)?.with_origin([0, 1, 2].map(|a| g.origin_m[a] - 0.5 * g.spacing_m[a]));
    SarInput::from_phasors("coil twin fields", [&e[0], &e[1], &e[2]], &sigma, rho, vg)
}

/// Stage 2: the normalisation factor on power (fields scale by its square root).
fn normalisation_stage(recipe: &Recipe, tw: &TwinFields, report: &mut Report) -> Result<(Normalisation, SarInput)> {
    let input = twin_sar_input(tw)?;
    let whole = whole_phantom_sar(&input)?;
    let target = match recipe.normalisation {
        NormaliseSpec::WholePhantom(s) => NormaliseTarget::WholePhantomSar { sar_w_per_kg: s },
        NormaliseSpec::Mode(mode) => NormaliseTarget::OperatingMode { mode },
        NormaliseSpec::B1RmsUt(b) => NormaliseTarget::B1PlusRms {
            b1_plus_rms_ut: b,
            solution_b1_plus_ut: tw.b1_plus_at([0.0; 3]).norm() * 1e6,
        },
        NormaliseSpec::PowerW(p) => NormaliseTarget::InputPower {
            input_power_w: p,
            solution_input_power_w: tw.input_power_w,
        },
    };
    let n = normalise(&whole, &target)?;
    report.quantity(
        "normalisation.whole_phantom_sar",
        n.whole_phantom_sar_w_per_kg,
        "W/kg",
        "whole-phantom SAR after normalisation",
    );
    report.quantity(
        "normalisation.input_power",
        tw.input_power_w * n.power_factor,
        "W",
        "coil input power after normalisation (ideal drive, lossless coil)",
    );
    report.quantity(
        "normalisation.b1_plus_isocentre",
        tw.b1_plus_at([0.0; 3]).norm() * 1e6 * n.field_factor,
        "µT",
        "|B1+| (peak) at the isocentre after normalisation",
    );
    report.quantity(
        "normalisation.phantom_mass",
        whole.total_mass_kg,
        "kg",
        "mass of the phantom on the coarse grid",
    );
    let scaled = input.scaled(n.power_factor)?;
    Ok((n, scaled))
}

/// Picks the slice through the implant: the axis along which the implant extends least, at the index of
/// its midpoint.
fn implant_slice(lf: &LocalFields, placed: &PlacedImplant) -> (usize, usize) {
    let p0 = placed.path_m[0];
    let p1 = *placed.path_m.last().unwrap_or(&p0);
    let ext: Vec<f64> = (0..3)
        .map(|a| {
            placed.path_m.iter().map(|p| p[a]).fold(f64::MIN, f64::max)
                - placed.path_m.iter().map(|p| p[a]).fold(f64::MAX, f64::min)
        })
        .collect();
    let axis = (0..3)
        .min_by(|&a, &b| ext[a].partial_cmp(&ext[b]).unwrap())
        .unwrap_or(1);
    let mid = 0.5 * (p0[axis] + p1[axis]);
    let g = &lf.cells;
    let idx = ((mid - g.origin_m[axis]) / g.spacing_m[axis])
        .round()
        .clamp(0.0, (g.dims[axis] - 1) as f64) as usize;
    (axis, idx)
}

fn peak_of(a: &Array3<f32>) -> (f64, [usize; 3]) {
    let mut best = (f32::MIN, [0usize; 3]);
    for ((i, j, k), v) in a.indexed_iter() {
        if v.is_finite() && *v > best.0 {
            best = (*v, [i, j, k]);
        }
    }
    (best.0 as f64, best.1)
}

struct ImplantResult {
    sar_1g: f64,
    sar_10g: f64,
    rise: f64,
    cem43: f64,
    sections: Vec<Section>,
}

/// Stages 3–5 for one implant.
#[allow(clippy::too_many_arguments)]
fn implant_stage(
    n: usize,
    spec: &crate::report::recipe::ImplantPlacement,
    twin: &Twin,
    norm: &Normalisation,
    recipe: &Recipe,
    opt: &AssessOptions,
    report: &mut Report,
    dir: &AtomicDir,
    h5: &hdf5::File,
    log: &mut dyn FnMut(&str),
) -> Result<ImplantResult> {
    let id = format!("implant{n}");
    let implant = Implant::load(&spec.file)?;
    let src = recipe.path.display().to_string();
    let mut pl = match &spec.orientation {
        Orientation::Direction { direction, roll_deg } => {
            ImplantPlacementSpec::new(&src, spec.position_m, *direction, *roll_deg)?
        }
        Orientation::EulerZyzDeg(e) => {
            let r = e.map(f64::to_radians);
            let mut p = ImplantPlacementSpec::new(&src, spec.position_m, [0.0, 0.0, 1.0], 0.0)?;
            p.rotation = crate::implant::placement::rotation_from_euler_zyz(r[0], r[1], r[2]);
            p
        }
    };
    if let Some(m) = spec.min_wall_distance_m {
        pl.min_wall_distance_m = m;
    }
    let placed = place(&implant, &twin.phantom, &pl)?;
    log(&format!(
        "{}: fine-grid fields ({} mm cells)",
        spec.name,
        opt.fine_cell_m * 1e3
    ));
    let incident = Arc::new(TwinIncident::new(twin.fields.scaled(norm.field_factor)));
    let lopt = LocalOptions {
        cell_m: opt.fine_cell_m,
        pad_m: opt.local_pad_m,
        ..LocalOptions::default()
    };
    let t0 = Instant::now();
    let lf = run_local(&placed, &twin.phantom, incident, &lopt)?;
    let fdtd_s = t0.elapsed().as_secs_f64();
    log(&format!("{}: SAR and heating ({} s)", spec.name, recipe.exposure_s));
    let t_init = recipe.baseline_temperature_c.unwrap_or(22.0);
    let settings = ThermalSettings {
        duration_s: recipe.exposure_s,
        dt_s: opt.thermal_dt_s.min(recipe.exposure_s / 4.0),
        initial_temperature_c: t_init,
        cem43_map: false,
    };
    let mut probes = vec![ThermalProbe::point("tip", placed.path_m[0])];
    if let Some(last) = placed.path_m.last() {
        if !implant.is_solid() || placed.path_m.len() > 1 {
            probes.push(ThermalProbe::point("far end", *last));
        }
    }
    let dose = lf.dosimetry(&probes, &settings)?;
    let [psar, psar_bg] = &dose.point;
    let [a1, b1g] = &dose.sar_1g;
    let [a10, b10] = &dose.sar_10g;
    let [th, th_bg] = &dose.thermal;
    let (pk, pk_idx) = peak_of(psar);
    let (pk_bg, _) = peak_of(psar_bg);
    let cem43 = th.probes.iter().map(|p| p.cem43_min).fold(0.0, f64::max);

    // Quantities.
    let r = report;
    let k_len = r.quantity(
        &format!("{id}.length"),
        placed.length_m() * 1e3,
        "mm",
        "conductor length",
    );
    let k_wall = r.quantity(
        &format!("{id}.wall_distance"),
        placed.wall_distance_m * 1e3,
        "mm",
        "smallest distance to the phantom surface",
    );
    let k_cell = r.quantity(
        &format!("{id}.fine_cell"),
        opt.fine_cell_m * 1e3,
        "mm",
        "fine FDTD cell",
    );
    let k_cells = r.quantity(
        &format!("{id}.fdtd_cells"),
        lf.fdtd_cells as f64,
        "",
        "cells of the local FDTD box (CPML included)",
    );
    let k_periods = r.quantity(
        &format!("{id}.fdtd_periods"),
        lf.stats.periods as f64,
        "",
        "RF periods to steady state",
    );
    let k_fdtd_s = r.quantity(
        &format!("timing.{id}_fdtd"),
        fdtd_s,
        "s",
        "wall time of the local FDTD run",
    );
    let k_pk = r.quantity(
        &format!("{id}.sar_point_peak"),
        pk,
        "W/kg",
        "peak point SAR with the implant",
    );
    let k_pk_bg = r.quantity(
        &format!("{id}.sar_point_peak_background"),
        pk_bg,
        "W/kg",
        "peak point SAR, implant removed",
    );
    let k_1g = r.quantity(
        &format!("{id}.sar_1g_peak"),
        a1.peak.sar_w_per_kg,
        "W/kg",
        "peak 1 g SAR with the implant",
    );
    let k_10g = r.quantity(
        &format!("{id}.sar_10g_peak"),
        a10.peak.sar_w_per_kg,
        "W/kg",
        "peak 10 g SAR with the implant",
    );
    let k_1g_bg = r.quantity(
        &format!("{id}.sar_1g_peak_background"),
        b1g.peak.sar_w_per_kg,
        "W/kg",
        "peak 1 g SAR, implant removed",
    );
    let k_10g_bg = r.quantity(
        &format!("{id}.sar_10g_peak_background"),
        b10.peak.sar_w_per_kg,
        "W/kg",
        "peak 10 g SAR, implant removed",
    );
    let k_rise = r.quantity(
        &format!("{id}.max_temperature_rise"),
        th.peak_rise_k,
        "K",
        "largest temperature rise in the local region with the implant",
    );
    let k_rise_bg = r.quantity(
        &format!("{id}.max_temperature_rise_background"),
        th_bg.peak_rise_k,
        "K",
        "largest temperature rise, implant removed",
    );
    let k_excess = r.quantity(
        &format!("{id}.implant_excess_rise"),
        th.peak_rise_k - th_bg.peak_rise_k,
        "K",
        "rise due to the implant (with minus without)",
    );
    let mut probe_rows = Vec::new();
    for (p, pb) in th.probes.iter().zip(&th_bg.probes) {
        let slug = p.name.replace(' ', "_");
        let kp = r.quantity(
            &format!("{id}.probe_{slug}.final_rise"),
            p.final_rise_k,
            "K",
            &format!("temperature rise at the {} at the end", p.name),
        );
        let kb = r.quantity(
            &format!("{id}.probe_{slug}.final_rise_background"),
            pb.final_rise_k,
            "K",
            &format!("rise at the {} position, implant removed", p.name),
        );
        let kc = r.quantity(
            &format!("{id}.probe_{slug}.cem43"),
            p.cem43_min,
            "min",
            &format!("CEM43 at the {}", p.name),
        );
        probe_rows.push(vec![
            Cell::text(p.name.clone()),
            Cell::q(&kp),
            Cell::q(&kb),
            Cell::q(&kc),
        ]);
    }
    let pkpos = lf.cells.position(pk_idx[0], pk_idx[1], pk_idx[2]);

    // Figures.
    let place_png = dir.path(&format!("{id}_placement.png"));
    crate::implant::run::placement_png(&placed, &twin.phantom, &place_png)?;
    let g = &lf.cells;
    let corner = g.origin_m;
    let (axis, idx) = implant_slice(&lf, &placed);
    let sar_png = dir.path(&format!("{id}_sar.png"));
    let hi = pk.max(1e-12);
    let panel_maps = vec![
        SliceMap::from_volume(psar.view(), axis, idx, corner, g.spacing_m)?
            .title("point SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .range(0.0, hi)
            .mark_peak("peak"),
        SliceMap::from_volume(a1.sar_w_per_kg.view(), axis, idx, corner, g.spacing_m)?
            .title("1 g SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .mark_peak("peak"),
        SliceMap::from_volume(a10.sar_w_per_kg.view(), axis, idx, corner, g.spacing_m)?
            .title("10 g SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .mark_peak("peak"),
    ];
    panel(
        &sar_png,
        &Panel::new(panel_maps).title(format!("{}: SAR in the plane through the implant", spec.name)),
    )?;
    let rise = th.final_temperature_c.mapv(|t| (t - t_init) as f32);
    let t_png = dir.path(&format!("{id}_temperature.png"));
    slice_map(
        &t_png,
        &SliceMap::from_volume(rise.view(), axis, idx, corner, g.spacing_m)?
            .title(format!("{}: temperature rise at the end of the exposure", spec.name))
            .unit("ΔT (K)")
            .colormap(Colormap::Inferno)
            .mark_peak("max"),
    )?;
    let curves_png = dir.path(&format!("{id}_probes.png"));
    let minutes: Vec<f64> = th.times_s.iter().map(|t| t / 60.0).collect();
    let minutes_bg: Vec<f64> = th_bg.times_s.iter().map(|t| t / 60.0).collect();
    let rises: Vec<Vec<f64>> = th
        .probes
        .iter()
        .map(|p| p.temperature_c.iter().map(|t| t - t_init).collect())
        .collect();
    let rises_bg: Vec<Vec<f64>> = th_bg
        .probes
        .iter()
        .map(|p| p.temperature_c.iter().map(|t| t - t_init).collect())
        .collect();
    let names: Vec<String> = th.probes.iter().map(|p| format!("{} (with implant)", p.name)).collect();
    let names_bg: Vec<String> = th_bg
        .probes
        .iter()
        .map(|p| format!("{} (implant removed)", p.name))
        .collect();
    let mut lp = LinePlot::new(
        format!("{}: temperature rise at the probes", spec.name),
        "time (min)",
        "ΔT (K)",
    );
    for (i, r) in rises.iter().enumerate() {
        lp = lp.series(names[i].clone(), &minutes, r);
    }
    for (i, r) in rises_bg.iter().enumerate() {
        lp = lp.series(names_bg[i].clone(), &minutes_bg, r);
    }
    line_plot(&curves_png, &lp)?;

    // Fields for regression.
    let vg = lf.voxel_grid()?;
    let org = g.origin_m;
    let sp = g.spacing_m;
    let h5p = dir.path("fields.h5");
    crate::dosimetry::io::write_h5_grid(h5, &h5p, &format!("{id}/sar_point"), psar, org, sp, "W/kg")?;
    crate::dosimetry::io::write_h5_grid(h5, &h5p, &format!("{id}/sar_10g"), &a10.sar_w_per_kg, org, sp, "W/kg")?;
    crate::dosimetry::io::write_h5_grid(h5, &h5p, &format!("{id}/temperature_rise"), &rise, org, sp, "K")?;
    let _ = vg;

    let section = Section::new(&format!("Implant {n}: {}", spec.name))
        .paragraph(format!(
            "{} ({}), conductor length {{{k_len}}}, placed at ({:.1}, {:.1}, {:.1}) mm in the phantom frame; smallest \
             distance to the phantom surface {{{k_wall}}}. Local fields: FDTD box of {{{k_cells}}} cells of {{{k_cell}}} \
             driven by the normalised twin field through a total-field/scattered-field surface, steady after \
             {{{k_periods}}} periods ({{{k_fdtd_s}}}).",
            implant.name,
            implant.description,
            spec.position_m[0] * 1e3,
            spec.position_m[1] * 1e3,
            spec.position_m[2] * 1e3,
        ))
        .figure(
            &place_png,
            &format!("{id}_placement.png"),
            "Implant geometry and placement: the phantom (gel) in the plane of the implant, the implant and its tip.",
        )
        .table(Table {
            caption: "SAR with the implant and with it removed".into(),
            header: vec!["Quantity".into(), "With implant".into(), "Implant removed".into()],
            rows: vec![
                vec![Cell::text("Peak point SAR"), Cell::q(&k_pk), Cell::q(&k_pk_bg)],
                vec![Cell::text("Peak 1 g SAR"), Cell::q(&k_1g), Cell::q(&k_1g_bg)],
                vec![Cell::text("Peak 10 g SAR"), Cell::q(&k_10g), Cell::q(&k_10g_bg)],
                vec![Cell::text("Largest temperature rise"), Cell::q(&k_rise), Cell::q(&k_rise_bg)],
            ],
        })
        .paragraph(format!(
            "Peak point SAR at ({:.1}, {:.1}, {:.1}) mm (coil frame). Temperature rise due to the implant: {{{k_excess}}}.",
            pkpos[0] * 1e3,
            pkpos[1] * 1e3,
            pkpos[2] * 1e3
        ))
        .figure(&sar_png, &format!("{id}_sar.png"), "Point, 1 g and 10 g SAR in the plane through the implant; the peak is marked.")
        .table(Table {
            caption: "Temperature probes at the conductor ends".into(),
            header: vec!["Probe".into(), "ΔT at the end".into(), "ΔT, implant removed".into(), "CEM43".into()],
            rows: probe_rows,
        })
        .figure(&curves_png, &format!("{id}_probes.png"), "Temperature rise at the probes during the exposure, with and without the implant.")
        .figure(&t_png, &format!("{id}_temperature.png"), "Temperature rise at the end of the exposure in the plane through the implant.");
    Ok(ImplantResult {
        sar_1g: a1.peak.sar_w_per_kg,
        sar_10g: a10.peak.sar_w_per_kg,
        rise: th.peak_rise_k,
        cem43,
        sections: vec![section],
    })
}

/// What the assessment's output must not touch: the recipe, every file it names (a twin directory
/// with the files its `twin.toml` names), the basis cache and `opt.extra_inputs`.
pub fn output_policy(recipe: &Recipe, opt: &AssessOptions) -> crate::io::OutputPolicy {
    let mut p = crate::io::OutputPolicy::new(&opt.command, opt.overwrite);
    for (role, f) in recipe.input_files() {
        p = if role == "twin directory" {
            p.inputs(crate::twin::file::dir_inputs(&f))
        } else {
            p.input(&role, f)
        };
    }
    p.input_opt("basis cache", opt.cache_dir.as_deref())
        .inputs(opt.extra_inputs.clone())
}

/// Runs the whole assessment of `recipe` into `opt.out` (atomically).
pub fn assess(recipe: &Recipe, opt: &AssessOptions, log: &mut dyn FnMut(&str)) -> Result<Outcome> {
    let t0 = Instant::now();
    recipe.check_files()?;
    let mut report = assessment::start(recipe)?;
    let dir = AtomicDir::new(&opt.out, &output_policy(recipe, opt))?;
    let twin = twin_stage(recipe, opt, &mut report, &dir, log)?;
    log("normalisation");
    let (norm, coarse_sar) = normalisation_stage(recipe, &twin.fields, &mut report)?;
    // Coarse-grid figures: |B1+| and point SAR in the coronal plane through the isocentre.
    let tw = twin.fields.scaled(norm.field_factor);
    let b1 = b1_plus(&tw.h)?;
    let b1_abs = b1.data.mapv(|z| z.norm() * 1e6);
    let kb = ((0.0 - b1.origin_m[1]) / b1.spacing_m[1])
        .round()
        .clamp(0.0, (b1_abs.dim().1 - 1) as f64) as usize;
    let mut b1map = SliceMap::from_volume(b1_abs.view(), 1, kb, b1.origin_m, b1.spacing_m)?
        .title("|B1+| of the normalised twin (coronal, y = 0)")
        .unit("|B1+| (µT)");
    for (i, im) in recipe.implants.iter().enumerate() {
        let c = twin.phantom.centre_m();
        b1map = b1map.marker(
            [c[0] + im.position_m[0], c[2] + im.position_m[2]],
            format!("implant {}", i + 1),
        );
    }
    let csar = point_sar(&coarse_sar);
    let vg = coarse_sar.grid();
    let corig = vg.centre_m([0, 0, 0]);
    let ks = ((0.0 - corig[1]) / vg.voxel_size_m[1])
        .round()
        .clamp(0.0, (csar.dim().1 - 1) as f64) as usize;
    let sarmap = SliceMap::from_volume(csar.view(), 1, ks, corig, vg.voxel_size_m)?
        .title("point SAR of the normalised twin (coronal, y = 0)")
        .unit("SAR (W/kg)")
        .colormap(Colormap::Inferno);
    let coil_png = dir.path("twin_fields.png");
    panel(
        &coil_png,
        &Panel::new(vec![b1map, sarmap]).title("Coil twin fields after normalisation"),
    )?;
    let k_wb = "normalisation.whole_phantom_sar";
    let k_b1 = "normalisation.b1_plus_isocentre";
    let k_p = "normalisation.input_power";
    let twin_section = twin.section.clone().paragraph(format!(
        "Normalised to whole-phantom SAR {{{k_wb}}}: |B1+| at the isocentre {{{k_b1}}}, coil input power {{{k_p}}}."
    ));
    let twin_section = twin_section.figure(
        &coil_png,
        "twin_fields.png",
        "|B1+| and point SAR of the normalised twin on the coarse grid; implant positions marked.",
    );
    report.sections.push(twin_section);

    let h5p = dir.path("fields.h5");
    let h5 = hdf5::File::create(&h5p).map_err(|e| Error::Other(format!("{}: {e}", h5p.display())))?;
    let b1_ut = b1.data.mapv(|z| z.norm() * 1e6);
    crate::dosimetry::io::write_h5_grid(&h5, &h5p, "twin/b1_plus_abs", &b1_ut, b1.origin_m, b1.spacing_m, "µT")?;
    crate::dosimetry::io::write_h5_grid(&h5, &h5p, "twin/sar_point", &csar, corig, vg.voxel_size_m, "W/kg")?;

    let mut worst = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    for (i, im) in recipe.implants.iter().enumerate() {
        let r = implant_stage(i + 1, im, &twin, &norm, recipe, opt, &mut report, &dir, &h5, log)?;
        worst.0 = worst.0.max(r.sar_1g);
        worst.1 = worst.1.max(r.sar_10g);
        worst.2 = worst.2.max(r.rise);
        worst.3 = worst.3.max(r.cem43);
        report.sections.extend(r.sections);
    }
    drop(h5);
    if !recipe.implants.is_empty() {
        report.quantity(KEY_SAR_1G, worst.0, "W/kg", "peak 1 g SAR over all implants");
        report.quantity(KEY_SAR_10G, worst.1, "W/kg", "peak 10 g SAR over all implants");
        report.quantity(
            KEY_TEMPERATURE_RISE,
            worst.2,
            "K",
            "largest temperature rise over all implants",
        );
        report.quantity(
            KEY_CEM43,
            worst.3,
            "min",
            "largest CEM43 at the probes over all implants",
        );
    } else {
        let wb = whole_phantom_sar(&coarse_sar)?;
        report.quantity(
            KEY_SAR_1G,
            mass_averaged_sar(&coarse_sar, 1e-3)?.peak.sar_w_per_kg,
            "W/kg",
            "peak 1 g SAR (coarse grid, no implant)",
        );
        report.quantity(
            KEY_SAR_10G,
            mass_averaged_sar(&coarse_sar, 10e-3)?.peak.sar_w_per_kg,
            "W/kg",
            "peak 10 g SAR (coarse grid, no implant)",
        );
        let _ = wb;
    }
    report.quantity(
        "timing.run",
        t0.elapsed().as_secs_f64(),
        "s",
        "wall time of the assessment",
    );
    report.sections.push(assessment::methods_section());
    let verdict = assessment::finish(&mut report, &recipe.criteria)?;
    crate::report::write_into(&dir, &report)?;
    let out = dir.commit()?;
    Ok(Outcome {
        verdict,
        out,
        report,
        seconds: t0.elapsed().as_secs_f64(),
    })
}
