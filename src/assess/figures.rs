//! The assessment's figures: map matching of the calibration, the normalised coarse fields, and per
//! implant the SAR and temperature slices and the probe curves. Each is a PNG in the output directory.

use std::path::{Path, PathBuf};


use super::normalise::CoarseFields;
use ndarray::Array3;

use crate::b1::B1Map;
use crate::twin::FullCalibration;
use crate::dosimetry::thermal::ThermalResult;
use crate::error::Result;
use crate::implant::local::LocalFields;
use crate::implant::placement::PlacedImplant;
use crate::plot::{line_plot, panel, slice_map, Colormap, LinePlot, Panel, SliceMap};

pub(super) fn twin_fit_panel(png: &Path, map: &B1Map, full: &FullCalibration, nrmse: f64) -> Result<()> {
    let k = map.dims()[1] / 2;
    let aff = map.affine.m;
    let origin = [aff[0][3], aff[1][3], aff[2][3]];
    let sp = [aff[0][0].abs(), aff[1][1].abs(), aff[2][2].abs()];
    let (label, factor) = crate::b1::read::value_label(map);
    let measured = full.measured.mapv(|v| v * factor);
    let simulated = full.simulated.mapv(|v| v * factor);
    let own = map.magnitude.mapv(|v| v * factor);
    let resid = &simulated - &measured;
    let hi = measured
        .iter()
        .cloned()
        .filter(|v| v.is_finite())
        .fold(0.0f32, f32::max) as f64;
    let maps = vec![
        SliceMap::from_volume(own.view(), 1, k, origin, sp)?
            .title("map (outline: voxels fitted)")
            .unit(label)
            .range(0.0, hi)
            .mask_contour(full.used.index_axis(ndarray::Axis(1), k)),
        SliceMap::from_volume(simulated.view(), 1, k, origin, sp)?
            .title("twin")
            .unit(label)
            .range(0.0, hi),
        SliceMap::from_volume(resid.view(), 1, k, origin, sp)?
            .title("twin − measured")
            .unit(format!("residual, {label}"))
            .colormap(Colormap::Diverging),
    ];
    panel(
        png,
        &Panel::new(maps).title(format!("B1+ map matching, NRMSE {:.2} %", 100.0 * nrmse)),
    )
}

/// Index along `axis` of the plane through coordinate 0 (the isocentre), clamped to the grid.
fn plane_through_zero(origin_m: f64, spacing_m: f64, n: usize) -> usize {
    ((0.0 - origin_m) / spacing_m).round().clamp(0.0, (n - 1) as f64) as usize
}

/// `twin_fields.png`: |B1+| and point SAR of the normalised twin in the coronal plane y = 0, with the
/// implants marked at `markers` (x, z).
pub(super) fn coarse_fields_panel(c: &CoarseFields, markers: &[[f64; 2]]) -> Result<()> {
    let b1 = &c.b1;
    let kb = plane_through_zero(b1.origin_m[1], b1.spacing_m[1], c.b1_abs_ut.dim().1);
    let mut b1map = SliceMap::from_volume(c.b1_abs_ut.view(), 1, kb, b1.origin_m, b1.spacing_m)?
        .title("|B1+| of the normalised twin (coronal, y = 0)")
        .unit("|B1+| (µT)");
    for (i, m) in markers.iter().enumerate() {
        b1map = b1map.marker(*m, format!("implant {}", i + 1));
    }
    let ks = plane_through_zero(c.sar_origin_m[1], c.sar_voxel_m[1], c.sar.dim().1);
    let sarmap = SliceMap::from_volume(c.sar.view(), 1, ks, c.sar_origin_m, c.sar_voxel_m)?
        .title("point SAR of the normalised twin (coronal, y = 0)")
        .unit("SAR (W/kg)")
        .colormap(Colormap::Inferno);
    panel(
        &c.figure,
        &Panel::new(vec![b1map, sarmap]).title("Coil twin fields after normalisation"),
    )
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

/// The fields one implant's figures show (on the local grid `lf.cells`).
pub(super) struct ImplantPlots<'a> {
    /// The recipe's label of the implant.
    pub label: &'a str,
    pub lf: &'a LocalFields,
    pub placed: &'a PlacedImplant,
    pub point_sar: &'a Array3<f32>,
    pub sar_1g: &'a Array3<f32>,
    pub sar_10g: &'a Array3<f32>,
    /// Peak point SAR (W/kg): the top of the point-SAR colour scale.
    pub peak_sar: f64,
    /// Temperature rise at the end of the exposure (K).
    pub rise: &'a Array3<f32>,
    /// With the implant and with it removed.
    pub thermal: [&'a ThermalResult; 2],
    pub initial_temperature_c: f64,
}

/// `<id>_sar.png`, `<id>_temperature.png` and `<id>_probes.png` of one implant: the paths
/// `(sar, temperature, probes)`.
pub(super) fn implant_figures(dir: &crate::io::AtomicDir, id: &str, p: &ImplantPlots) -> Result<[PathBuf; 3]> {
    let g = &p.lf.cells;
    let corner = g.origin_m;
    let (axis, idx) = implant_slice(p.lf, p.placed);
    let sar_png = dir.path(&format!("{id}_sar.png"));
    let hi = p.peak_sar.max(1e-12);
    let panel_maps = vec![
        SliceMap::from_volume(p.point_sar.view(), axis, idx, corner, g.spacing_m)?
            .title("point SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .range(0.0, hi)
            .mark_peak("peak"),
        SliceMap::from_volume(p.sar_1g.view(), axis, idx, corner, g.spacing_m)?
            .title("1 g SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .mark_peak("peak"),
        SliceMap::from_volume(p.sar_10g.view(), axis, idx, corner, g.spacing_m)?
            .title("10 g SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .mark_peak("peak"),
    ];
    panel(
        &sar_png,
        &Panel::new(panel_maps).title(format!("{}: SAR in the plane through the implant", p.label)),
    )?;
    let t_png = dir.path(&format!("{id}_temperature.png"));
    slice_map(
        &t_png,
        &SliceMap::from_volume(p.rise.view(), axis, idx, corner, g.spacing_m)?
            .title(format!("{}: temperature rise at the end of the exposure", p.label))
            .unit("ΔT (K)")
            .colormap(Colormap::Inferno)
            .mark_peak("max"),
    )?;
    let curves_png = dir.path(&format!("{id}_probes.png"));
    probe_curves(&curves_png, p)?;
    Ok([sar_png, t_png, curves_png])
}

/// The temperature rise at the probes over time, with and without the implant.
fn probe_curves(png: &Path, p: &ImplantPlots) -> Result<()> {
    let t_init = p.initial_temperature_c;
    let mut lp = LinePlot::new(
        format!("{}: temperature rise at the probes", p.label),
        "time (min)",
        "ΔT (K)",
    );
    // (name, minutes, rise) per probe: with the implant first, then with it removed.
    let mut curves = Vec::new();
    for (th, how) in p.thermal.iter().zip(["with implant", "implant removed"]) {
        let minutes: Vec<f64> = th.times_s.iter().map(|t| t / 60.0).collect();
        for probe in &th.probes {
            let rise: Vec<f64> = probe.temperature_c.iter().map(|t| t - t_init).collect();
            curves.push((format!("{} ({how})", probe.name), minutes.clone(), rise));
        }
    }
    for (name, minutes, rise) in &curves {
        lp = lp.series(name.clone(), minutes, rise);
    }
    line_plot(png, &lp)
}
