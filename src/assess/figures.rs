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
use crate::coil::phantom::PhantomConfig;
use crate::plot::{line_plot, panel, slice_map, Colormap, LinePlot, LineStyle, SeriesMarker, Panel, SliceMap};

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

/// The name of the plane `axis = coord_m` (coil frame) as the report gives it: its coordinate in the
/// phantom frame (origin at the phantom's centre), e.g. "y = 0.000 m (phantom frame)".
pub(super) fn plane_name(phantom: &PhantomConfig, axis: usize, coord_m: f64) -> String {
    let name = ["x", "y", "z"][axis];
    let c = phantom.centre_m()[axis];
    if phantom.rotation().is_none() {
        format!("{name} = {:.3} m (phantom frame)", coord_m - c)
    } else {
        format!("{name} = {:.3} m (coil frame; the phantom is rotated)", coord_m)
    }
}

/// The largest finite value of `a` at the points of `grid` inside `phantom` (0 when none).
fn max_inside(a: &Array3<f32>, origin_m: [f64; 3], spacing_m: [f64; 3], phantom: &PhantomConfig) -> f64 {
    let shape = phantom.shape();
    let mut hi = 0.0f64;
    for ((i, j, k), v) in a.indexed_iter() {
        let p = [i, j, k];
        let x = [0, 1, 2].map(|ax| origin_m[ax] + p[ax] as f64 * spacing_m[ax]);
        if v.is_finite() && (*v as f64) > hi && shape.contains(x) {
            hi = *v as f64;
        }
    }
    hi
}

/// `twin_fields.png`: |B1+| and point SAR of the normalised twin in the coronal plane y = 0, with the
/// implants marked at `markers` (x, z). The colour ranges are those inside the phantom (the rungs'
/// near fields saturate rather than set the scale).
pub(super) fn coarse_fields_panel(c: &CoarseFields, markers: &[[f64; 2]], phantom: &PhantomConfig) -> Result<()> {
    let b1 = &c.b1;
    // Axes in the phantom frame (origin at its centre) unless the phantom is rotated.
    let shift = if phantom.rotation().is_none() { phantom.centre_m() } else { [0.0; 3] };
    let sh = |o: [f64; 3]| [0, 1, 2].map(|a| o[a] - shift[a]);
    let kb = plane_through_zero(b1.origin_m[1], b1.spacing_m[1], c.b1_abs_ut.dim().1);
    let b1_plane = plane_name(phantom, 1, b1.origin_m[1] + kb as f64 * b1.spacing_m[1]);
    let b1_hi = max_inside(&c.b1_abs_ut, b1.origin_m, b1.spacing_m, phantom);
    let mut b1map = SliceMap::from_volume(c.b1_abs_ut.view(), 1, kb, sh(b1.origin_m), b1.spacing_m)?
        .title(format!("|B1+|, {b1_plane}"))
        .unit("|B1+| (µT; scale: inside the phantom)");
    if b1_hi > 0.0 {
        b1map = b1map.range(0.0, b1_hi);
    }
    let mark = |m: &[f64; 2]| [m[0] - shift[0], m[1] - shift[2]];
    for (i, m) in markers.iter().enumerate() {
        b1map = b1map.marker(mark(m), format!("implant {}", i + 1));
    }
    let ks = plane_through_zero(c.sar_origin_m[1], c.sar_voxel_m[1], c.sar.dim().1);
    let sar_plane = plane_name(phantom, 1, c.sar_origin_m[1] + ks as f64 * c.sar_voxel_m[1]);
    let mut sarmap = SliceMap::from_volume(c.sar.view(), 1, ks, sh(c.sar_origin_m), c.sar_voxel_m)?
        .title(format!("point SAR, {sar_plane}"))
        .unit("SAR (W/kg)")
        .colormap(Colormap::Inferno);
    for (i, m) in markers.iter().enumerate() {
        sarmap = sarmap.marker(mark(m), format!("implant {}", i + 1));
    }
    panel(
        &c.figure,
        &Panel::new(vec![b1map, sarmap]).title("Normalised coil twin, coronal plane (axes: phantom frame)"),
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
    pub phantom: &'a PhantomConfig,
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

/// The conductor's ends and electrodes (coil frame) with their labels: "tip", "far end", "E1", ….
pub(super) fn conductor_marks(placed: &PlacedImplant) -> Vec<([f64; 3], String)> {
    let path = &placed.path_m;
    let mut v = vec![(path[0], "tip".to_string())];
    if let Some(last) = path.last() {
        v.push((*last, "far end".into()));
    }
    for (i, e) in placed.implant.electrodes.iter().enumerate() {
        let (p, _) = crate::implant::model::point_at(path, e.start_m + 0.5 * e.length_m);
        v.push((p, format!("E{}", i + 1)));
    }
    v
}

/// `map` with the conductor's ends and electrodes marked (projected onto the slice normal to `axis`;
/// `shift` is subtracted from every coordinate, as from the map's origin).
fn with_marks<'a>(mut map: SliceMap<'a>, marks: &[([f64; 3], String)], axis: usize, shift: [f64; 3]) -> SliceMap<'a> {
    let keep: Vec<usize> = (0..3).filter(|&a| a != axis).collect();
    for (p, label) in marks {
        map = map.marker([p[keep[0]] - shift[keep[0]], p[keep[1]] - shift[keep[1]]], label.clone());
    }
    map
}

/// `<id>_sar.png`, `<id>_temperature.png` and `<id>_probes.png` of one implant: the paths
/// `(sar, temperature, probes)`. Axes are in the phantom frame (origin at the phantom's centre) when
/// the phantom is not rotated; the conductor's ends and electrodes are marked in every map.
pub(super) fn implant_figures(dir: &crate::io::AtomicDir, id: &str, p: &ImplantPlots) -> Result<[PathBuf; 3]> {
    let g = &p.lf.cells;
    let shift = if p.phantom.rotation().is_none() { p.phantom.centre_m() } else { [0.0; 3] };
    let corner = [0, 1, 2].map(|a| g.origin_m[a] - shift[a]);
    let (axis, idx) = implant_slice(p.lf, p.placed);
    let plane = plane_name(p.phantom, axis, g.origin_m[axis] + idx as f64 * g.spacing_m[axis]);
    let marks = conductor_marks(p.placed);
    let sar_png = dir.path(&format!("{id}_sar.png"));
    let hi = p.peak_sar.max(1e-12);
    let m = |map| with_marks(map, &marks, axis, shift);
    let panel_maps = vec![
        m(SliceMap::from_volume(p.point_sar.view(), axis, idx, corner, g.spacing_m)?
            .title("point SAR")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .range(0.0, hi)
            .mark_peak("peak")),
        m(SliceMap::from_volume(p.sar_1g.view(), axis, idx, corner, g.spacing_m)?
            .title("1 g SAR (grey: cube cut by the box)")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .mark_peak("peak")),
        m(SliceMap::from_volume(p.sar_10g.view(), axis, idx, corner, g.spacing_m)?
            .title("10 g SAR (grey: cube cut by the box)")
            .unit("SAR (W/kg)")
            .colormap(Colormap::Inferno)
            .mark_peak("peak")),
    ];
    panel(
        &sar_png,
        &Panel::new(panel_maps).title(format!("{}: SAR in the plane {plane} (axes: phantom frame)", p.label)),
    )?;
    let t_png = dir.path(&format!("{id}_temperature.png"));
    slice_map(
        &t_png,
        &m(SliceMap::from_volume(p.rise.view(), axis, idx, corner, g.spacing_m)?
            .title(format!("{}: temperature rise at the end of the exposure, {plane}", p.label))
            .unit("ΔT (K)")
            .colormap(Colormap::Inferno)
            .mark_peak("max")),
    )?;
    let curves_png = dir.path(&format!("{id}_probes.png"));
    probe_curves(&curves_png, p)?;
    Ok([sar_png, t_png, curves_png])
}

/// `<id>_etan.png`: the tangential component of the normalised incident (twin) field along the
/// conductor, |E_tan| against the arc length from the tip, with the bare parts and electrodes marked.
pub(super) fn e_tan_figure(png: &Path, label: &str, placed: &PlacedImplant, e_at: &dyn Fn([f64; 3]) -> [num_complex::Complex64; 3]) -> Result<()> {
    let len = placed.length_m();
    let n = ((len / 1e-3).ceil() as usize).clamp(2, 2000);
    let s: Vec<f64> = (0..=n).map(|i| len * i as f64 / n as f64).collect();
    let mut mag = Vec::with_capacity(s.len());
    let mut re = Vec::with_capacity(s.len());
    for &si in &s {
        let (p, t) = crate::implant::model::point_at(&placed.path_m, si);
        let e = e_at(p);
        let et = e[0] * t[0] + e[1] * t[1] + e[2] * t[2];
        mag.push(et.norm());
        re.push(et.re);
    }
    let s_mm: Vec<f64> = s.iter().map(|x| x * 1e3).collect();
    let mut lp = LinePlot::new(
        format!("{label}: incident E along the conductor (normalised twin field)"),
        "arc length from the tip (mm)",
        "E_tan (V/m, peak)",
    )
    .series("|E_tan|", &s_mm, &mag)
    .series_styled("Re E_tan", &s_mm, &re, LineStyle::dashed());
    for b in &placed.implant.bare_m {
        lp = lp.vline(0.5 * (b[0] + b[1]) * 1e3, "bare");
    }
    line_plot(png, &lp)
}

/// The temperature rise at the probes over time, with and without the implant: one colour per probe,
/// solid with the implant and dashed with it removed, each with its own marker shape, so that curves
/// lying on one another stay distinguishable.
fn probe_curves(png: &Path, p: &ImplantPlots) -> Result<()> {
    let t_init = p.initial_temperature_c;
    let mut lp = LinePlot::new(
        format!("{}: temperature rise at the probes", p.label),
        "time (min)",
        "ΔT (K)",
    );
    // (name, minutes, rise, style) per probe: with the implant first, then with it removed.
    let mut curves = Vec::new();
    for (w, (th, how)) in p.thermal.iter().zip(["with implant", "implant removed"]).enumerate() {
        let minutes: Vec<f64> = th.times_s.iter().map(|t| t / 60.0).collect();
        for (k, probe) in th.probes.iter().enumerate() {
            let rise: Vec<f64> = probe.temperature_c.iter().map(|t| t - t_init).collect();
            let style = LineStyle {
                colour: Some(k),
                dashed: w == 1,
                marker: Some(SeriesMarker::ALL[(2 * k + w) % SeriesMarker::ALL.len()]),
            };
            curves.push((format!("{} ({how})", probe.name), minutes.clone(), rise, style));
        }
    }
    for (name, minutes, rise, style) in &curves {
        lp = lp.series_styled(name.clone(), minutes, rise, *style);
    }
    line_plot(png, &lp)
}
