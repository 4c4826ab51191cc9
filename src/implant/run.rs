//! The work behind `rftwin implant place | tf` (`search`: [`super::command`]): read the inputs, run,
//! and write every output atomically into one directory (formats documented on each function).
//! Returns the summary JSON that the command prints.

use std::path::Path;

use ndarray::{Array2, Array3};
use serde_json::json;

use super::model::Implant;
use super::placement::{place, wall_distance, LocalGridOptions, PlacedImplant, Placement};
use super::raster::local_model;
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
        "model": "wires as sub-cell thin wires (conductor radius, coating as first-ring permittivity, sealed ends, bare parts); solids as PEC cells (see implant::raster)",
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
