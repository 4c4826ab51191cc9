//! The work behind `rftwin implant place | tf | search`: read the inputs, run, and write every
//! output atomically into one directory (formats documented on each function). Returns the
//! summary JSON that the command prints.

use std::path::Path;

use ndarray::{Array2, Array3};
use serde_json::json;

use super::local::TwinIncident;
use super::model::Implant;
use super::placement::{place, wall_distance, LocalGridOptions, PlacedImplant, Placement};
use super::raster::local_model;
use super::search::{
    confirm_top, search, write_confirm_png, write_map_png, write_search_h5, ConfirmOptions, SearchOptions,
};
use super::tf::{compute_tf, TfOptions, TransferFunction};
use crate::coil::phantom::PhantomConfig;
use crate::error::{Error, Result};
use crate::io::{AtomicDir, OutputPolicy};

/// Where the placement comes from.
pub enum PlacementInput<'a> {
    File(&'a Path),
    Values {
        position_m: [f64; 3],
        direction: [f64; 3],
        roll_deg: f64,
    },
}

/// `rftwin implant place`: checks the placement and writes into `out`:
/// `geometry.json` (the placed implant in the coil frame: path, radii, bare parts, wall distance,
/// and the raster summary), `placement.png` (xz view of the phantom's gel and the implant at the
/// implant's height), `local_model.h5` (the fine local voxel model: `materials/` group as written by
/// `fdtd run`, plus `implant/wire_edges` rows `[comp, i, j, k]` of the thin-PEC wire edges).
pub fn place_command(
    implant_path: &Path,
    phantom_path: &Path,
    placement: PlacementInput,
    min_wall_m: Option<f64>,
    grid: &LocalGridOptions,
    out: &Path,
    force: bool,
) -> Result<serde_json::Value> {
    let implant = Implant::load(implant_path)?;
    let phantom = PhantomConfig::load(phantom_path)?;
    let placement_file = match &placement {
        PlacementInput::File(p) => Some(*p),
        PlacementInput::Values { .. } => None,
    };
    let mut pl = match placement {
        PlacementInput::File(p) => Placement::load(p)?,
        PlacementInput::Values {
            position_m,
            direction,
            roll_deg,
        } => Placement::new("command line (--position/--direction)", position_m, direction, roll_deg)?,
    };
    if let Some(m) = min_wall_m {
        if !(m >= 0.0) || !m.is_finite() {
            return Err(Error::input(
                "command line",
                "--min-wall-m",
                format!("{m} m is not a finite distance >= 0"),
                "give the smallest distance to the walls in metres, e.g. 0.02",
            ));
        }
        pl.min_wall_distance_m = m;
    }
    let policy = OutputPolicy::new("implant place", force)
        .input("implant", implant_path)
        .input("phantom", phantom_path)
        .input_opt("placement", placement_file);
    let dir = AtomicDir::new(out, &policy)?;
    let placed = place(&implant, &phantom, &pl)?;
    let (spec, raster) = local_model(&placed, &phantom, grid)?;
    // Local voxel model.
    let model = &spec.model;
    let [nx, ny, nz] = model.grid.dims();
    let labels = Array3::from_shape_vec((nx, ny, nz), model.cells().to_vec())
        .map_err(|e| Error::Other(format!("label grid: {e}")))?;
    let d = grid.cell_m;
    let o = model.grid.node_pos(0, 0, 0);
    let lg = crate::dosimetry::io::LabelGrid {
        labels,
        table: crate::dosimetry::io::MaterialTable::from_materials(model.materials()),
        origin_m: [o[0] + 0.5 * d, o[1] + 0.5 * d, o[2] + 0.5 * d],
        spacing_m: [d; 3],
    };
    let h5path = dir.path("local_model.h5");
    let h5 = |e: hdf5::Error| crate::error::write_error(&h5path, e);
    {
        let file = hdf5::File::create(&h5path).map_err(h5)?;
        crate::dosimetry::io::write_h5_materials(&file, &h5path, &lg)?;
        let mut edges = Array2::<u32>::zeros((raster.edges.len(), 4));
        for (r, e) in raster.edges.iter().enumerate() {
            edges[[r, 0]] = e.comp as u32;
            for a in 0..3 {
                edges[[r, a + 1]] = e.node[a] as u32;
            }
        }
        let grp = file.create_group("implant").map_err(h5)?;
        if !raster.edges.is_empty() {
            grp.new_dataset_builder()
                .with_data(&edges)
                .create("wire_edges")
                .map_err(h5)?;
        }
        file.flush().map_err(h5)?;
    }
    placement_png(&placed, &phantom, &dir.path("placement.png"))?;
    let summary = json!({
        "implant": implant.name,
        "implant_file": implant_path.display().to_string(),
        "phantom": phantom.name,
        "placed": placed,
        "length_m": placed.length_m(),
        "wall_distance_m": placed.wall_distance_m,
        "local_grid": {
            "cell_m": d,
            "cells": [nx, ny, nz],
            "node_origin_m": o,
            "wire_edges": raster.edges.len(),
            "metal_cells": raster.metal_cells,
            "insulation_cells": raster.insulation_cells,
            "tip_node": raster.tip_node,
        },
        "model": "wires as thin PEC edges (one-cell insulation); solids as PEC cells (see implant::raster)",
    });
    crate::io::write_json(&dir.path("geometry.json"), &summary)?;
    dir.commit()?;
    Ok(summary)
}

/// Writes `tf.json`, `tf.h5` (see [`TransferFunction::save`]) and `tf_magnitude.png`,
/// `tf_phase.png` (|S| and arg S against the distance from the tip).
pub fn write_tf_dir(tf: &TransferFunction, dir: &Path) -> Result<()> {
    tf.save(dir)?;
    let l_mm: Vec<f64> = tf.l_m.iter().map(|l| l * 1e3).collect();
    let mag: Vec<f64> = (0..tf.l_m.len()).map(|i| tf.s(i).norm()).collect();
    let ph: Vec<f64> = (0..tf.l_m.len()).map(|i| tf.s(i).arg().to_degrees()).collect();
    let title = format!("{}: transfer function at {:.2} MHz", tf.implant, tf.freq_hz / 1e6);
    crate::plot::line_plot(
        &dir.join("tf_magnitude.png"),
        &crate::plot::LinePlot::new(&title, "distance from the tip l (mm)", "|S(l)| (1/m)").series("|S|", &l_mm, &mag),
    )?;
    crate::plot::line_plot(
        &dir.join("tf_phase.png"),
        &crate::plot::LinePlot::new(&title, "distance from the tip l (mm)", "arg S(l) (°)").series("arg S", &l_mm, &ph),
    )
}

/// `rftwin implant tf`: computes the transfer function and writes `out` (see [`write_tf_dir`]).
/// `phantom_path` is the phantom file the medium came from (an input the output must not touch).
pub fn tf_command(
    implant_path: &Path,
    phantom_path: Option<&Path>,
    opt: &TfOptions,
    out: &Path,
    force: bool,
) -> Result<serde_json::Value> {
    let implant = Implant::load(implant_path)?;
    let policy = OutputPolicy::new("implant tf", force)
        .input("implant", implant_path)
        .input_opt("phantom", phantom_path);
    let dir = AtomicDir::new(out, &policy)?;
    let tf = compute_tf(&implant, opt)?;
    write_tf_dir(&tf, &dir.path(""))?;
    dir.commit()?;
    Ok(json!({
        "implant": tf.implant,
        "freq_hz": tf.freq_hz,
        "length_m": tf.length_m,
        "samples": tf.l_m.len(),
        "integral_s_dl": [tf.integral().re, tf.integral().im],
        "abs_integral_s_dl": tf.integral().norm(),
        "converged": tf.converged,
        "periods": tf.periods,
        "steps": tf.steps,
        "seconds": tf.seconds,
    }))
}

/// Inputs of `rftwin implant search`.
pub struct SearchInputs<'a> {
    /// Coil and phantom (the ideal quadrature drive), or `twin`.
    pub coil: Option<&'a Path>,
    pub phantom: Option<&'a Path>,
    /// A calibrated twin directory (`rftwin twin fit`); it names its phantom.
    pub twin: Option<&'a Path>,
    pub implant: &'a Path,
    /// A cached transfer function (directory or tf.json); computed when absent.
    pub tf: Option<&'a Path>,
    pub coil_cell_m: f64,
    pub tf_cell_m: f64,
    /// `b1-ut` (fields per µT of B1+ at the isocentre) or `per-watt`.
    pub normalise: &'a str,
    /// Where the coil's basis runs are cached (`None`: no cache).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Confirm the best candidates with full fine-grid runs and a thermal solve.
    pub confirm: Option<ConfirmOptions>,
}

/// `rftwin implant search`: the coil field (a calibrated twin, or the coil's ideal quadrature drive
/// from cached basis runs), the transfer function (cached or computed in the phantom's medium at the
/// coil frequency), the sweep, and optionally the confirmation of the best candidates by full
/// fine-grid runs; writes `ranking.json` (the [`super::search::SearchResult`] without the map, and
/// the [`super::search::ConfirmResult`]), `map.png`, `confirm.png` when confirmed, and `tf/` when
/// computed.
pub fn search_command(
    inp: &SearchInputs,
    opt: &SearchOptions,
    out: &Path,
    force: bool,
    log: &mut dyn FnMut(&str),
) -> Result<serde_json::Value> {
    use crate::b1::coil_maps::SimulateOptions;
    let implant = Implant::load(inp.implant)?;
    if !(inp.coil_cell_m > 0.0) || !(inp.tf_cell_m > 0.0) {
        return Err(Error::input(
            "command line",
            "--cell-mm / --tf-cell-mm",
            "must be > 0",
            "e.g. --cell-mm 10 --tf-cell-mm 2",
        ));
    }
    let normalise = inp.normalise;
    if normalise != "b1-ut" && normalise != "per-watt" {
        return Err(Error::input(
            "command line",
            "--normalise",
            format!("unknown normalisation '{normalise}'"),
            "use b1-ut (per µT of B1+ at the isocentre) or per-watt",
        ));
    }
    let mut policy = OutputPolicy::new("implant search", force)
        .input("implant", inp.implant)
        .input_opt("coil", inp.coil)
        .input_opt("phantom", inp.phantom)
        .input_opt("transfer function", inp.tf)
        .input_opt("basis cache", inp.cache_dir.as_deref());
    if let Some(t) = inp.twin {
        policy = policy.inputs(crate::io::output::twin_dir_inputs(t));
    }
    let dir = AtomicDir::new(out, &policy)?;
    // The coil field: a calibrated twin, or the coil's ideal drive (basis runs made below, after the
    // cheap input checks).
    enum Source {
        Twin(Box<crate::twin::LoadedTwin>, String),
        Coil(Box<(crate::coil::CoilConfig, PhantomConfig)>),
    }
    let src = match (inp.twin, inp.coil, inp.phantom) {
        (Some(t), None, None) => Source::Twin(Box::new(crate::twin::load_twin_dir(t)?), t.display().to_string()),
        (Some(_), _, _) => {
            return Err(Error::input(
                "command line",
                "--twin",
                "--twin was given with --coil or --phantom",
                "give either --twin DIR (it names its phantom) or --coil and --phantom",
            ))
        }
        (None, Some(c), Some(p)) => {
            Source::Coil(Box::new((crate::coil::CoilConfig::load(c)?, PhantomConfig::load(p)?)))
        }
        _ => {
            return Err(Error::input(
                "command line",
                "--coil / --phantom",
                "the coil field needs --coil and --phantom (or --twin)",
                "give --coil C.toml --phantom P.toml, or --twin DIR",
            ))
        }
    };
    let freq_hz = match &src {
        Source::Twin(t, _) => t.fields.freq_hz,
        Source::Coil(cp) => cp.0.freq_hz,
    };
    // The sweep's size, refused now rather than after the coil and transfer-function runs.
    let per_pos = super::search::directions(opt.directions)?.len() * opt.roll_deg.len().max(1);
    super::search::check_candidates(
        match &src {
            Source::Twin(t, _) => &t.phantom,
            Source::Coil(cp) => &cp.1,
        },
        opt,
        per_pos,
    )?;
    let cached = match inp.tf {
        Some(p) => {
            let tf = TransferFunction::load(p)?;
            if (tf.freq_hz / freq_hz - 1.0).abs() > 1e-3 {
                return Err(Error::input(
                    &p.display().to_string(),
                    "freq_hz",
                    format!(
                        "the transfer function is for {:.4} MHz but the coil runs at {:.4} MHz",
                        tf.freq_hz / 1e6,
                        freq_hz / 1e6
                    ),
                    "compute it at the coil frequency (rftwin implant tf --freq-hz)",
                ));
            }
            if (tf.length_m / implant.length_m() - 1.0).abs() > 0.02 {
                return Err(Error::input(
                    &p.display().to_string(),
                    "length_m",
                    format!(
                        "the transfer function is for a {:.4} m lead, the implant is {:.4} m",
                        tf.length_m,
                        implant.length_m()
                    ),
                    "give the transfer function of this implant",
                ));
            }
            Some(tf)
        }
        None => None,
    };
    let (fields, phantom, coil_name, source) = match src {
        Source::Twin(lt, name) => {
            let lt = *lt;
            (lt.fields, lt.phantom, format!("twin {name}"), "calibrated twin")
        }
        Source::Coil(cp) => {
            let (coil, phantom) = *cp;
            let mut so = SimulateOptions::default();
            so.mesh.cell_m = inp.coil_cell_m;
            log("coil field: basis runs (ideal quadrature drive)");
            let f = crate::twin::ideal_drive_fields(&coil, &phantom, &so, inp.cache_dir.as_deref())?;
            (f, phantom, coil.name.clone(), "ideal quadrature drive")
        }
    };
    let scale = if normalise == "b1-ut" {
        fields.per_microtesla()
    } else {
        fields.per_watt()
    };
    if !scale.is_finite() {
        return Err(Error::Other(format!(
            "the coil field cannot be normalised {}: no B1+ at the isocentre or no input power",
            if normalise == "b1-ut" { "per µT" } else { "per W" }
        )));
    }
    let tf = match cached {
        Some(tf) => tf,
        None => {
            log("transfer function");
            let to = TfOptions {
                freq_hz,
                cell_m: inp.tf_cell_m,
                eps_r: phantom.material.eps_r,
                sigma_s_per_m: phantom.material.sigma_s_per_m,
                ..TfOptions::default()
            };
            let tf = compute_tf(&implant, &to)?;
            let tfdir = dir.path("tf");
            std::fs::create_dir_all(&tfdir).map_err(|err| Error::Io {
                path: tfdir.display().to_string(),
                err,
            })?;
            write_tf_dir(&tf, &tfdir)?;
            tf
        }
    };
    let incident = std::sync::Arc::new(TwinIncident::new(fields.scaled(scale)));
    log("sweep");
    let result = search(&implant, &phantom, &tf, &*incident, opt)?;
    write_map_png(&result, &dir.path("map.png"))?;
    let confirmation = match &inp.confirm {
        Some(c) if c.count > 0 => {
            let r = confirm_top(&implant, &phantom, incident.clone(), &result.ranking, c, log)?;
            write_confirm_png(&r, &dir.path("confirm.png"))?;
            Some(r)
        }
        _ => None,
    };
    write_search_h5(&result, confirmation.as_ref(), &dir.path("search.h5"))?;
    let note = if confirmation.is_some() {
        "ranked by the transfer-function estimate |E_tip|² = |∫ S E_tan dl|² (or A |E_tip|² when the TF is calibrated); \
         the best candidates were confirmed by full fine-grid runs (TF/SF box driven by the coil field) and a Pennes exposure"
    } else {
        "ranked by the transfer-function estimate |E_tip|² = |∫ S E_tan dl|² (or A |E_tip|² when the TF is calibrated); \
         not confirmed by full runs (use --confirm N)"
    };
    let summary = json!({
        "implant": implant.name,
        "coil": coil_name,
        "coil_field": source,
        "phantom": phantom.name,
        "freq_hz": freq_hz,
        "normalisation": if normalise == "b1-ut" { "incident E per µT of B1+ at the isocentre" } else { "incident E per W of input power" },
        "options": opt,
        "search": result,
        "confirmation": confirmation,
        "note": note,
    });
    crate::io::write_json(&dir.path("ranking.json"), &summary)?;
    dir.commit()?;
    Ok(summary)
}

/// Picture of a placed implant in its phantom: the xz plane at the implant's mean height, about 1 mm
/// pixels over the phantom (+1 cm), labels 0 air, 1 gel, 2 implant, the tip marked.
pub fn placement_png(placed: &PlacedImplant, phantom: &PhantomConfig, png: &Path) -> Result<()> {
    // Picture: xz plane at the implant's mean height, 1 mm pixels over the phantom (+1 cm).
    let ymean = placed.path_m.iter().map(|p| p[1]).sum::<f64>() / placed.path_m.len() as f64;
    let c = phantom.centre_m();
    let h = phantom.size_m.map(|s| 0.5 * s + 0.01);
    let px = 1e-3f64.max(2.0 * h[0].max(h[2]) / 600.0);
    let (mx, mz) = ((2.0 * h[0] / px) as usize, (2.0 * h[2] / px) as usize);
    let mut img = Array2::<f32>::zeros((mx, mz));
    let vis = placed.implant.outer_radius_m().max(1.5 * px) + 0.5 * placed.implant.width_m;
    for i in 0..mx {
        for k in 0..mz {
            let p = [
                c[0] - h[0] + (i as f64 + 0.5) * px,
                ymean,
                c[2] - h[2] + (k as f64 + 0.5) * px,
            ];
            let mut v = if wall_distance(phantom, p) > 0.0 { 1.0 } else { 0.0 };
            let q = [p[0], p[1], p[2]];
            let near = placed.path_m.windows(2).any(|w| {
                let mut a = w[0];
                let mut b = w[1];
                a[1] = ymean;
                b[1] = ymean;
                super::model::segment_distance(a, b, q, q) <= vis
            });
            if near {
                v = 2.0;
            }
            img[[i, k]] = v;
        }
    }
    let t = placed.path_m[0];
    let map = crate::plot::SliceMap::new(img.view(), [c[0] - h[0] + 0.5 * px, c[2] - h[2] + 0.5 * px], [px, px])
        .axis_names("x", "z")
        .title(format!(
            "{} in {} (y = {:.0} mm): 0 air, 1 gel, 2 implant",
            placed.implant.name,
            phantom.name,
            ymean * 1e3
        ))
        .unit("label")
        .marker([t[0], t[2]], "tip");
    crate::plot::slice_map(png, &map)
}
