//! PNG figures shared by every stage: 2-D scalar maps with physical axes and a colour bar
//! ([`slice_map`]), several maps side by side ([`panel`]) and line plots ([`line_plot`]).
//!
//! Inputs are SI (positions and spacings in metres); the axes are labelled in millimetres.
//! A map's data are indexed `[h, v]`: the first index runs along the horizontal axis, the second
//! along the vertical axis (upwards). Sample `[i, j]` sits at `origin + (i, j) * spacing` and is drawn
//! as a cell of one spacing centred there. Non-finite values (NaN, ±inf) are drawn in a neutral grey.
//!
//! Every writer renders in memory, writes a temporary file next to the target and renames it, so a
//! PNG is either complete or absent. Text uses DejaVu Sans (from the `dejavu` crate), registered
//! once per process, so µ, Δ, ° and other Unicode symbols render.
//!
//! ```no_run
//! use ndarray::Array3;
//! use rftwin::plot::{self, SliceMap};
//! let b1 = Array3::<f32>::zeros((40, 40, 30)); // [x, y, z], µT
//! let map = SliceMap::from_volume(b1.view(), 2, 15, [-0.2, -0.2, -0.15], [0.01; 3])?
//!     .title("|B1+| axial, z = 0 mm")
//!     .unit("|B1+| (µT)")
//!     .mark_peak("peak");
//! plot::slice_map(std::path::Path::new("b1_axial.png"), &map)?;
//! # Ok::<(), rftwin::error::Error>(())
//! ```

use std::error::Error as StdError;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use ndarray::{ArrayView2, ArrayView3, Axis};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::colors::colormaps::{ColorMap, ViridisRGB};
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{register_font, FontStyle, FontTransform};

use crate::error::{Error, Result};

type DrawResult<T = ()> = std::result::Result<T, Box<dyn StdError>>;
type Area<'a> = DrawingArea<BitMapBackend<'a>, Shift>;

const FONT: &str = "sans-serif";
/// Colour of non-finite (masked) values.
const NAN_GREY: RGBColor = RGBColor(175, 175, 175);
/// Largest figure side in pixels accepted by the writers.
const MAX_SIDE: u32 = 8192;

// ---------------------------------------------------------------------------------------------
// Fonts
// ---------------------------------------------------------------------------------------------

/// Registers DejaVu Sans (regular and bold) as plotters' "sans-serif" family, once per process.
/// Thread-safe and idempotent; every writer calls it. Public so that other plotters users
/// (e.g. custom figures in a report) can share the registration.
pub fn ensure_fonts() -> Result<()> {
    static FONTS: OnceLock<std::result::Result<(), String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            register_font(FONT, FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "DejaVu Sans regular".to_string())?;
            register_font(FONT, FontStyle::Bold, dejavu::sans::bold()).map_err(|_| "DejaVu Sans bold".to_string())
        })
        .clone()
        .map_err(|f| Error::Other(format!("plot: could not register font {f}")))
}

// ---------------------------------------------------------------------------------------------
// Colour maps
// ---------------------------------------------------------------------------------------------

/// Perceptually uniform colour maps.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Colormap {
    /// Dark blue → green → yellow (matplotlib's default; plotters' `ViridisRGB`).
    #[default]
    Viridis,
    /// Black → red → yellow → white: good for SAR and temperature.
    Inferno,
    /// Blue → light grey → red (Moreland's cool-warm) for signed data such as residuals.
    /// With no fixed range the range is made symmetric about zero.
    Diverging,
}

/// matplotlib's inferno sampled at 0, 0.1, ..., 1.
const INFERNO: [(u8, u8, u8); 11] = [
    (0, 0, 4),
    (22, 11, 57),
    (66, 10, 104),
    (106, 23, 110),
    (147, 38, 103),
    (188, 55, 84),
    (221, 81, 58),
    (243, 120, 25),
    (252, 165, 10),
    (246, 215, 70),
    (252, 255, 164),
];
/// Moreland's cool-warm diverging map at 0, 0.25, 0.5, 0.75, 1.
const COOLWARM: [(u8, u8, u8); 5] = [
    (59, 76, 192),
    (141, 176, 254),
    (221, 221, 221),
    (244, 154, 123),
    (180, 4, 38),
];

fn interp_table(table: &[(u8, u8, u8)], t: f64) -> RGBColor {
    let x = t * (table.len() - 1) as f64;
    let i = (x.floor() as usize).min(table.len() - 2);
    let f = x - i as f64;
    let (a, b) = (table[i], table[i + 1]);
    let m = |p: u8, q: u8| (p as f64 + (q as f64 - p as f64) * f).round().clamp(0.0, 255.0) as u8;
    RGBColor(m(a.0, b.0), m(a.1, b.1), m(a.2, b.2))
}

impl Colormap {
    /// Colour at `t` in [0, 1] (clamped; NaN gives the neutral grey).
    fn at(self, t: f64) -> RGBColor {
        if !t.is_finite() {
            return NAN_GREY;
        }
        let t = t.clamp(0.0, 1.0);
        match self {
            Colormap::Viridis => ColorMap::<RGBColor, f64>::get_color_normalized(&ViridisRGB, t, 0.0, 1.0),
            Colormap::Inferno => interp_table(&INFERNO, t),
            Colormap::Diverging => interp_table(&COOLWARM, t),
        }
    }
    fn value(self, v: f64, (lo, hi): (f64, f64)) -> RGBColor {
        if !v.is_finite() {
            return NAN_GREY;
        }
        self.at((v - lo) / (hi - lo))
    }
}

// ---------------------------------------------------------------------------------------------
// Slice maps
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Marker {
    pos_m: [f64; 2],
    label: String,
}

/// A 2-D scalar map with physical axes, built with chained setters and written by [`slice_map`]
/// or combined with others in a [`Panel`].
#[derive(Clone, Debug)]
pub struct SliceMap<'a> {
    data: ArrayView2<'a, f32>,
    origin_m: [f64; 2],
    spacing_m: [f64; 2],
    axis_names: [String; 2],
    title: String,
    unit: String,
    range: Option<(f64, f64)>,
    colormap: Colormap,
    markers: Vec<Marker>,
    mask: Option<ArrayView2<'a, bool>>,
    size: Option<(u32, u32)>,
}

impl<'a> SliceMap<'a> {
    /// A map of `data[[h, v]]` with sample `[0, 0]` at `origin_m` and steps `spacing_m` (m).
    /// Axes are named "x" and "y" until [`SliceMap::axis_names`] says otherwise.
    pub fn new(data: ArrayView2<'a, f32>, origin_m: [f64; 2], spacing_m: [f64; 2]) -> Self {
        Self {
            data,
            origin_m,
            spacing_m,
            axis_names: ["x".into(), "y".into()],
            title: String::new(),
            unit: String::new(),
            range: None,
            colormap: Colormap::Viridis,
            markers: Vec::new(),
            mask: None,
            size: None,
        }
    }

    /// The slice `index` across `axis` (0 = x: sagittal, 1 = y: coronal, 2 = z: axial) of a volume
    /// indexed `[x, y, z]`. The remaining axes keep their order (axial: x horizontal, y vertical;
    /// coronal: x, z; sagittal: y, z) and are named accordingly. No copy is made.
    pub fn from_volume(
        volume: ArrayView3<'a, f32>,
        axis: usize,
        index: usize,
        origin_m: [f64; 3],
        spacing_m: [f64; 3],
    ) -> Result<Self> {
        if axis > 2 {
            return Err(Error::input(
                "plot",
                "axis",
                format!("axis {axis} is not 0, 1 or 2"),
                "use 0 (x), 1 (y) or 2 (z)",
            ));
        }
        let n = volume.shape()[axis];
        if index >= n {
            return Err(Error::input(
                "plot",
                "index",
                format!("slice index {index} is outside the volume's {n} planes along axis {axis}"),
                format!("use an index below {n}"),
            ));
        }
        let names = ["x", "y", "z"];
        let keep: Vec<usize> = (0..3).filter(|&a| a != axis).collect();
        let data = volume.index_axis_move(Axis(axis), index);
        Ok(Self::new(
            data,
            [origin_m[keep[0]], origin_m[keep[1]]],
            [spacing_m[keep[0]], spacing_m[keep[1]]],
        )
        .axis_names(names[keep[0]], names[keep[1]]))
    }

    /// Names of the horizontal and vertical axes; the labels read "NAME (mm)".
    pub fn axis_names(mut self, horizontal: &str, vertical: &str) -> Self {
        self.axis_names = [horizontal.into(), vertical.into()];
        self
    }
    /// Title above the map.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
    /// Colour-bar label with its unit, e.g. "|B1+| (µT)", "SAR (W/kg)", "ΔT (K)".
    pub fn unit(mut self, label: impl Into<String>) -> Self {
        self.unit = label.into();
        self
    }
    /// Fixed colour range; values outside take the end colours. Default: the finite data range.
    pub fn range(mut self, lo: f64, hi: f64) -> Self {
        self.range = Some((lo, hi));
        self
    }
    /// Colour map (default viridis).
    pub fn colormap(mut self, colormap: Colormap) -> Self {
        self.colormap = colormap;
        self
    }
    /// A labelled marker at `pos_m` = (horizontal, vertical) position in metres.
    pub fn marker(mut self, pos_m: [f64; 2], label: impl Into<String>) -> Self {
        self.markers.push(Marker {
            pos_m,
            label: label.into(),
        });
        self
    }
    /// A labelled marker at the largest finite value (none if there is no finite value).
    pub fn mark_peak(self, label: impl Into<String>) -> Self {
        let mut best: Option<((usize, usize), f32)> = None;
        for (ij, &v) in self.data.indexed_iter() {
            if v.is_finite() && best.is_none_or(|(_, b)| v > b) {
                best = Some((ij, v));
            }
        }
        match best {
            Some(((i, j), _)) => {
                let p = [
                    self.origin_m[0] + i as f64 * self.spacing_m[0],
                    self.origin_m[1] + j as f64 * self.spacing_m[1],
                ];
                self.marker(p, label)
            }
            None => self,
        }
    }
    /// Draws the outline of `mask` (same shape as the data; e.g. the phantom or the implant).
    pub fn mask_contour(mut self, mask: ArrayView2<'a, bool>) -> Self {
        self.mask = Some(mask);
        self
    }
    /// Image size in pixels when written alone (default: 640 wide, as tall as the map's aspect needs).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }

    fn check(&self) -> Result<()> {
        for (k, &d) in self.spacing_m.iter().enumerate() {
            if !(d > 0.0) || !d.is_finite() {
                return Err(Error::input(
                    "plot",
                    "spacing_m",
                    format!("spacing {d} along axis {k} is not a positive finite number"),
                    "pass the grid spacing in metres",
                ));
            }
        }
        if self.origin_m.iter().any(|o| !o.is_finite()) {
            return Err(Error::input(
                "plot",
                "origin_m",
                "origin is not finite",
                "pass the grid origin in metres",
            ));
        }
        if let Some(m) = &self.mask {
            if m.shape() != self.data.shape() {
                return Err(Error::input(
                    "plot",
                    "mask",
                    format!(
                        "mask shape {:?} differs from data shape {:?}",
                        m.shape(),
                        self.data.shape()
                    ),
                    "pass a mask of the same slice",
                ));
            }
        }
        if let Some(r) = self.range {
            check_range(r)?;
        }
        Ok(())
    }

    /// Finite min and max, if any.
    fn finite_minmax(&self) -> Option<(f64, f64)> {
        let mut mm: Option<(f64, f64)> = None;
        for &v in self.data.iter() {
            if v.is_finite() {
                let v = v as f64;
                mm = Some(mm.map_or((v, v), |(a, b)| (a.min(v), b.max(v))));
            }
        }
        mm
    }

    /// Colour range actually used when the map is drawn alone.
    fn colour_range(&self) -> (f64, f64) {
        match self.range {
            Some(r) => r,
            None => auto_range(self.finite_minmax(), self.colormap),
        }
    }

    /// Extent in mm: (h_min, h_max, v_min, v_max) of the cell edges.
    fn extent_mm(&self) -> (f64, f64, f64, f64) {
        let n = self.data.shape();
        let e = |k: usize| {
            let (o, d) = (self.origin_m[k] * 1e3, self.spacing_m[k] * 1e3);
            (o - 0.5 * d, o + (n[k].max(1) as f64 - 0.5) * d)
        };
        let (a, b) = e(0);
        let (c, d) = e(1);
        (a, b, c, d)
    }
}

fn check_range((lo, hi): (f64, f64)) -> Result<()> {
    if !(lo < hi) || !lo.is_finite() || !hi.is_finite() {
        return Err(Error::input(
            "plot",
            "range",
            format!("colour range ({lo}, {hi}) is not an increasing pair of finite numbers"),
            "give lo < hi, or no range to use the data range",
        ));
    }
    Ok(())
}

/// A drawable range from the finite data range: constant data get a small band around the value,
/// no data get (0, 1), diverging maps are symmetric about zero.
fn auto_range(mm: Option<(f64, f64)>, cmap: Colormap) -> (f64, f64) {
    let (lo, hi) = mm.unwrap_or((0.0, 1.0));
    if cmap == Colormap::Diverging {
        let m = lo.abs().max(hi.abs());
        return if m > 0.0 { (-m, m) } else { (-1.0, 1.0) };
    }
    if hi > lo {
        (lo, hi)
    } else if lo == 0.0 {
        (0.0, 1.0)
    } else {
        let d = 0.1 * lo.abs();
        (lo - d, hi + d)
    }
}

/// Writes one map with its colour bar as a PNG.
pub fn slice_map(path: &Path, map: &SliceMap) -> Result<()> {
    map.check()?;
    let range = map.colour_range();
    let size = map.size.unwrap_or_else(|| {
        let w = 640;
        let s = estimate_scale(map, w, BAR_EST);
        (w as u32, natural_height(map, s))
    });
    write_png(path, size, |root| {
        draw_map(root, map, range, true, None)?;
        Ok(())
    })
}

/// How the maps of a [`Panel`] share their colours.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum PanelScale {
    /// Each map has its own range (or its fixed one) and its own colour bar, e.g. measured /
    /// simulated with a shared fixed range plus a diverging residual.
    #[default]
    Independent,
    /// One range over all maps (the union of their data, or of their fixed ranges) with one colour
    /// bar at the right, using the first map's colour map and unit label.
    Shared,
}

/// Several maps side by side in one PNG, e.g. axial / coronal / sagittal.
#[derive(Clone, Debug)]
pub struct Panel<'a> {
    maps: Vec<SliceMap<'a>>,
    title: String,
    scale: PanelScale,
    size: Option<(u32, u32)>,
}

impl<'a> Panel<'a> {
    /// A panel of `maps`, left to right. Each map's own `size` is ignored.
    pub fn new(maps: Vec<SliceMap<'a>>) -> Self {
        Self {
            maps,
            title: String::new(),
            scale: PanelScale::Independent,
            size: None,
        }
    }
    /// Overall title above the maps.
    pub fn title(mut self, title: impl Into<String>) -> Self {
        self.title = title.into();
        self
    }
    /// Independent (default) or shared colour scale.
    pub fn scale(mut self, scale: PanelScale) -> Self {
        self.scale = scale;
        self
    }
    /// Image size in pixels (default: 460 wide per map, plus room for a shared colour bar, and as
    /// tall as the maps' aspect needs).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = Some((width, height));
        self
    }
}

/// Writes a panel of maps as one PNG.
pub fn panel(path: &Path, panel: &Panel) -> Result<()> {
    let n = panel.maps.len();
    if n == 0 {
        return Err(Error::input(
            "plot",
            "maps",
            "a panel needs at least one map",
            "pass one or more SliceMaps",
        ));
    }
    for m in &panel.maps {
        m.check()?;
    }
    let shared = panel.scale == PanelScale::Shared;
    let bar_w = if shared { 110 } else { 0 };
    let size = panel.size.unwrap_or_else(|| {
        let cell_bar = if shared { 0 } else { BAR_EST };
        let scales: Vec<f64> = panel.maps.iter().map(|m| estimate_scale(m, 460, cell_bar)).collect();
        let lo = scales.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = scales.iter().cloned().fold(0.0, f64::max);
        let h = panel
            .maps
            .iter()
            .zip(&scales)
            .map(|(m, &s)| natural_height(m, if hi <= 4.0 * lo { lo } else { s }))
            .max()
            .unwrap_or(400);
        (460 * n as u32 + bar_w, h + if panel.title.is_empty() { 0 } else { 40 })
    });
    let shared_range = if shared {
        let mut mm: Option<(f64, f64)> = None;
        for m in &panel.maps {
            if let Some((a, b)) = m.range.or_else(|| m.finite_minmax()) {
                mm = Some(mm.map_or((a, b), |(p, q)| (p.min(a), q.max(b))));
            }
        }
        auto_range(mm, panel.maps[0].colormap)
    } else {
        (0.0, 1.0)
    };
    write_png(path, size, |root| {
        let body = if panel.title.is_empty() {
            root.clone()
        } else {
            let (top, body) = root.split_vertically(40);
            let (w, _) = top.dim_in_pixel();
            top.draw_text(
                &panel.title,
                &font(20.0, true).pos(Pos::new(HPos::Center, VPos::Center)),
                (w as i32 / 2, 22),
            )?;
            body
        };
        let maps_area = if shared {
            let (w, _) = body.dim_in_pixel();
            body.clone().split_horizontally(w.saturating_sub(bar_w)).0
        } else {
            body.clone()
        };
        let cells = maps_area.split_evenly((1, n));
        let range_of = |m: &SliceMap| if shared { shared_range } else { m.colour_range() };
        // One physical scale for all maps, so that equal lengths look equal, unless their sizes
        // differ so much (> 4×) that the smallest would shrink to a stamp.
        let mut scales = Vec::with_capacity(n);
        for (m, cell) in panel.maps.iter().zip(cells.iter()) {
            scales.push(fit_scale(cell, m, range_of(m), !shared)?);
        }
        let lo = scales.iter().cloned().fold(f64::INFINITY, f64::min);
        let hi = scales.iter().cloned().fold(0.0, f64::max);
        if hi <= 4.0 * lo {
            scales.iter_mut().for_each(|s| *s = lo);
        }
        let mut frames = Vec::new();
        for ((m, cell), s) in panel.maps.iter().zip(cells.iter()).zip(scales) {
            frames.push(draw_map(cell, m, range_of(m), !shared, Some(s))?);
        }
        if shared {
            // Right of the last map, spanning the vertical extent of the maps.
            let base = body.get_base_pixel();
            let top = frames.iter().map(|f| f.abs_top).min().unwrap_or(0) - base.1;
            let bottom = frames.iter().map(|f| f.abs_top + f.ph).max().unwrap_or(0) - base.1;
            let x = frames.last().map_or(0, |f| f.abs_right) - base.0 + 16;
            let m0 = &panel.maps[0];
            draw_colour_bar(&body, x, top, bottom - top, shared_range, m0.colormap, &m0.unit)?;
        }
        Ok(())
    })
}

/// Pixel placement of a drawn map.
struct Frame {
    /// Plot rectangle in the area's coordinates.
    px0: i32,
    py0: i32,
    pw: i32,
    ph: i32,
    /// Top and right edge of the plot in backend (absolute) pixels.
    abs_top: i32,
    abs_right: i32,
    ext: (f64, f64, f64, f64),
}

impl Frame {
    fn to_px(&self, h_mm: f64, v_mm: f64) -> (i32, i32) {
        let (a, b, c, d) = self.ext;
        let x = self.px0 as f64 + (h_mm - a) / (b - a) * self.pw as f64;
        let y = self.py0 as f64 + (d - v_mm) / (d - c) * self.ph as f64;
        (x.round() as i32, y.round() as i32)
    }
}

fn font(size: f64, bold: bool) -> TextStyle<'static> {
    let style = if bold { FontStyle::Bold } else { FontStyle::Normal };
    TextStyle::from((FONT, size, style).into_font()).color(&BLACK)
}

/// Number formatting for tick labels given the tick step.
fn fmt_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let mag = v.abs().max(step.abs());
    if !(1e-3..1e5).contains(&mag) {
        let s = format!("{v:.2e}");
        // 1.50e-4 → 1.5e-4, 2.00e6 → 2e6
        return match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        };
    }
    let dec = (-(step.abs().log10().floor()) as i32).max(0) as usize;
    let s = format!("{v:.*}", dec + 1);
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" {
        "0".into()
    } else {
        s
    }
}

/// "Nice" tick step (1, 2, 2.5 or 5 × 10^k) giving about `target` ticks over `span`.
fn nice_step(span: f64, target: usize) -> f64 {
    let raw = span / target.max(1) as f64;
    if !(raw > 0.0) || !raw.is_finite() {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    let m = raw / p;
    let nice = if m <= 1.0 {
        1.0
    } else if m <= 2.0 {
        2.0
    } else if m <= 2.5 {
        2.5
    } else if m <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * p
}

fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
    let step = nice_step(hi - lo, target);
    let mut t = (lo / step).ceil() * step;
    let mut out = Vec::new();
    let eps = 1e-9 * step;
    while t <= hi + eps && out.len() < 50 {
        out.push(if t.abs() < eps { 0.0 } else { t });
        t += step;
    }
    (out, step)
}

/// Colour bar at `x` (area coordinates), from `top` down `height` pixels, with ticks and the
/// rotated unit label to its right. Returns the width used.
fn draw_colour_bar(
    area: &Area,
    x: i32,
    top: i32,
    height: i32,
    range: (f64, f64),
    cmap: Colormap,
    unit: &str,
) -> DrawResult<i32> {
    const BAR_W: i32 = 18;
    let height = height.max(2);
    for r in 0..height {
        let t = 1.0 - (r as f64 + 0.5) / height as f64;
        let c = cmap.at(t);
        area.draw(&PathElement::new(vec![(x, top + r), (x + BAR_W - 1, top + r)], c))?;
    }
    area.draw(&Rectangle::new([(x, top), (x + BAR_W, top + height)], BLACK))?;
    let (lo, hi) = range;
    let (ts, step) = ticks(lo, hi, ((height / 45).clamp(3, 8)) as usize);
    let tick_font = font(13.0, false).pos(Pos::new(HPos::Left, VPos::Center));
    let mut max_w = 0;
    for t in ts {
        let y = top + ((hi - t) / (hi - lo) * height as f64).round() as i32;
        area.draw(&PathElement::new(vec![(x + BAR_W, y), (x + BAR_W + 5, y)], BLACK))?;
        let label = fmt_tick(t, step);
        let (w, _) = area.estimate_text_size(&label, &tick_font)?;
        max_w = max_w.max(w as i32);
        area.draw_text(&label, &tick_font, (x + BAR_W + 8, y))?;
    }
    let label_x = x + BAR_W + 8 + max_w + 10;
    if !unit.is_empty() {
        let style = font(14.0, false)
            .transform(FontTransform::Rotate270)
            .pos(Pos::new(HPos::Center, VPos::Top));
        area.draw_text(unit, &style, (label_x, top + height / 2))?;
    }
    Ok(label_x + 18 - x)
}

/// Width a colour bar needs (bar, ticks, labels, unit) for the given range.
fn colour_bar_width(area: &Area, range: (f64, f64), unit: &str) -> DrawResult<i32> {
    // The most ticks draw_colour_bar may use, hence the most decimals.
    let (ts, step) = ticks(range.0, range.1, 8);
    let tick_font = font(13.0, false);
    let mut max_w = 0;
    for t in ts {
        max_w = max_w.max(area.estimate_text_size(&fmt_tick(t, step), &tick_font)?.0 as i32);
    }
    Ok(12 + 18 + 8 + max_w + 10 + if unit.is_empty() { 0 } else { 20 } + 6)
}

// Map layout (pixels): title strip, y-label area, x-label area, colour-bar estimate, tallest plot.
const YLAB: i32 = 64;
const XLAB: i32 = 50;
const BAR_EST: i32 = 110;
const MAX_PLOT_H: f64 = 620.0;

fn title_height(map: &SliceMap) -> i32 {
    if map.title.is_empty() {
        10
    } else {
        34
    }
}

/// Pixels per mm that fill a cell `width` wide (no taller than `MAX_PLOT_H`).
fn estimate_scale(map: &SliceMap, width: i32, bar_w: i32) -> f64 {
    let ext = map.extent_mm();
    let (ew, eh) = (ext.1 - ext.0, ext.3 - ext.2);
    ((width - YLAB - bar_w - 16).max(20) as f64 / ew).min(MAX_PLOT_H / eh)
}

/// Figure height that fits `map` at `scale` pixels per mm.
fn natural_height(map: &SliceMap, scale: f64) -> u32 {
    let ext = map.extent_mm();
    let ph = ((ext.3 - ext.2) * scale).round() as i32;
    (title_height(map) + ph + XLAB + 8 + 12).clamp(200, 1000) as u32
}

/// Pixels per mm that fit `map` (and its colour bar) into `area`.
fn fit_scale(area: &Area, map: &SliceMap, range: (f64, f64), with_bar: bool) -> DrawResult<f64> {
    let (w, h) = area.dim_in_pixel();
    let bar_w = if with_bar {
        colour_bar_width(area, range, &map.unit)?
    } else {
        0
    };
    let avail_w = (w as i32 - YLAB - bar_w - 16).max(20);
    let avail_h = (h as i32 - title_height(map) - XLAB - 8).max(20);
    let ext = map.extent_mm();
    Ok((avail_w as f64 / (ext.1 - ext.0)).min(avail_h as f64 / (ext.3 - ext.2)))
}

/// Draws `map` into `area` keeping 1 mm = 1 mm on both axes, optionally with its colour bar.
/// With `scale` (pixels per mm, shared by the maps of a panel) the map is top-aligned;
/// without, it is fitted and centred.
fn draw_map(area: &Area, map: &SliceMap, range: (f64, f64), with_bar: bool, scale: Option<f64>) -> DrawResult<Frame> {
    let (w, h) = area.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let title_h = title_height(map);
    let (ylab, xlab) = (YLAB, XLAB);
    let bar_w = if with_bar {
        colour_bar_width(area, range, &map.unit)?
    } else {
        0
    };
    let avail_w = (w - ylab - bar_w - 16).max(20);
    let avail_h = (h - title_h - xlab - 8).max(20);
    let ext = map.extent_mm();
    let (ew, eh) = (ext.1 - ext.0, ext.3 - ext.2);
    let fitted = (avail_w as f64 / ew).min(avail_h as f64 / eh);
    let s = scale.unwrap_or(fitted).min(fitted);
    let pw = ((ew * s).round() as i32).clamp(10, avail_w);
    let ph = ((eh * s).round() as i32).clamp(10, avail_h);
    let x0 = ((w - (ylab + pw + bar_w)) / 2).max(0);
    let py0 = if scale.is_some() {
        title_h
    } else {
        title_h + (avail_h - ph) / 2
    };
    let chart_area = area.clone().shrink((x0, py0), ((ylab + pw) as u32, (ph + xlab) as u32));
    let mut chart = ChartBuilder::on(&chart_area)
        .x_label_area_size(xlab)
        .y_label_area_size(ylab)
        .build_cartesian_2d(ext.0..ext.1, ext.2..ext.3)?;
    let xstep = nice_step(ew, ((pw / 70).clamp(3, 8)) as usize);
    let ystep = nice_step(eh, ((ph / 50).clamp(2, 8)) as usize);
    let xfmt = move |v: &f64| fmt_tick(*v, xstep);
    let yfmt = move |v: &f64| fmt_tick(*v, ystep);
    let x_desc = format!("{} (mm)", map.axis_names[0]);
    let y_desc = format!("{} (mm)", map.axis_names[1]);
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(((pw / 70).clamp(3, 8)) as usize)
        .y_labels(((ph / 50).clamp(2, 8)) as usize)
        .x_label_formatter(&xfmt)
        .y_label_formatter(&yfmt)
        .label_style(font(13.0, false))
        .axis_desc_style(font(14.0, false))
        .x_desc(x_desc)
        .y_desc(y_desc)
        .draw()?;

    // Cells, one backend pixel at a time (nearest sample; exact for any data/pixel ratio).
    let (xr, yr) = chart.plotting_area().get_pixel_range();
    let base = area.get_base_pixel();
    let frame = Frame {
        px0: xr.start - base.0,
        py0: yr.start - base.1,
        pw: xr.end - xr.start,
        ph: yr.end - yr.start,
        abs_top: yr.start,
        abs_right: xr.end,
        ext,
    };
    let n = map.data.shape();
    let (dh, dv) = (map.spacing_m[0] * 1e3, map.spacing_m[1] * 1e3);
    let (oh, ov) = (map.origin_m[0] * 1e3, map.origin_m[1] * 1e3);
    for py in 0..frame.ph {
        let v = ext.3 - (py as f64 + 0.5) / frame.ph as f64 * (ext.3 - ext.2);
        let j = ((v - ov) / dv + 0.5).floor();
        for px in 0..frame.pw {
            let u = ext.0 + (px as f64 + 0.5) / frame.pw as f64 * (ext.1 - ext.0);
            let i = ((u - oh) / dh + 0.5).floor();
            let value = if i >= 0.0 && j >= 0.0 && (i as usize) < n[0] && (j as usize) < n[1] {
                map.data[[i as usize, j as usize]] as f64
            } else {
                f64::NAN
            };
            area.draw_pixel((frame.px0 + px, frame.py0 + py), &map.colormap.value(value, range))?;
        }
    }
    area.draw(&Rectangle::new(
        [
            (frame.px0 - 1, frame.py0 - 1),
            (frame.px0 + frame.pw, frame.py0 + frame.ph),
        ],
        BLACK,
    ))?;

    if !map.data.iter().any(|v| v.is_finite()) {
        let style = font(15.0, false).pos(Pos::new(HPos::Center, VPos::Center));
        area.draw_text(
            "no finite data",
            &style,
            (frame.px0 + frame.pw / 2, frame.py0 + frame.ph / 2),
        )?;
    }

    // Mask outline along cell edges where the mask changes (or meets the border).
    if let Some(mask) = &map.mask {
        let at = |i: isize, j: isize| -> bool {
            i >= 0 && j >= 0 && (i as usize) < n[0] && (j as usize) < n[1] && mask[[i as usize, j as usize]]
        };
        let style = ShapeStyle::from(&WHITE).stroke_width(2);
        for i in -1..n[0] as isize {
            for j in -1..n[1] as isize {
                let (hi, vj) = (oh + (i as f64 + 0.5) * dh, ov + (j as f64 + 0.5) * dv);
                if at(i, j) != at(i + 1, j) && j >= 0 {
                    let seg = vec![frame.to_px(hi, vj - dv), frame.to_px(hi, vj)];
                    area.draw(&PathElement::new(seg, style))?;
                }
                if at(i, j) != at(i, j + 1) && i >= 0 {
                    let seg = vec![frame.to_px(hi - dh, vj), frame.to_px(hi, vj)];
                    area.draw(&PathElement::new(seg, style))?;
                }
            }
        }
    }

    // Markers: a black cross on a white ring, the label in a white box.
    for m in &map.markers {
        let (x, y) = frame.to_px(m.pos_m[0] * 1e3, m.pos_m[1] * 1e3);
        area.draw(&Circle::new((x, y), 7, ShapeStyle::from(&WHITE).stroke_width(3)))?;
        area.draw(&PathElement::new(vec![(x - 5, y), (x + 5, y)], BLACK.stroke_width(2)))?;
        area.draw(&PathElement::new(vec![(x, y - 5), (x, y + 5)], BLACK.stroke_width(2)))?;
        if !m.label.is_empty() {
            let style = font(13.0, false).pos(Pos::new(HPos::Left, VPos::Center));
            let (tw, th) = area.estimate_text_size(&m.label, &style)?;
            let (tw, th) = (tw as i32, th as i32);
            let right_fits = x + 10 + tw + 6 <= frame.px0 + frame.pw;
            let lx = if right_fits { x + 12 } else { x - 12 - tw };
            let ly = (y - 12).clamp(frame.py0 + th / 2 + 2, frame.py0 + frame.ph - th / 2 - 2);
            area.draw(&Rectangle::new(
                [(lx - 3, ly - th / 2 - 3), (lx + tw + 3, ly + th / 2 + 3)],
                WHITE.mix(0.85).filled(),
            ))?;
            area.draw_text(&m.label, &style, (lx, ly))?;
        }
    }

    if !map.title.is_empty() {
        let style = font(16.0, false).pos(Pos::new(HPos::Center, VPos::Bottom));
        area.draw_text(&map.title, &style, (frame.px0 + frame.pw / 2, frame.py0 - 10))?;
    }
    if with_bar {
        draw_colour_bar(
            area,
            frame.px0 + frame.pw + 12,
            frame.py0,
            frame.ph,
            range,
            map.colormap,
            &map.unit,
        )?;
    }
    Ok(frame)
}

// ---------------------------------------------------------------------------------------------
// Line plots
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
struct Series<'a> {
    name: String,
    x: &'a [f64],
    y: &'a [f64],
}

/// One or more named (x, y) series with axis labels and a legend, written by [`line_plot`].
#[derive(Clone, Debug)]
pub struct LinePlot<'a> {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series<'a>>,
    hlines: Vec<(f64, String)>,
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
}

/// Tableau 10: distinguishable series colours.
const SERIES_COLOURS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

impl<'a> LinePlot<'a> {
    /// A plot with axis labels including units, e.g. ("Time (s)", "ΔT (K)").
    pub fn new(title: impl Into<String>, x_label: impl Into<String>, y_label: impl Into<String>) -> Self {
        Self {
            title: title.into(),
            x_label: x_label.into(),
            y_label: y_label.into(),
            series: Vec::new(),
            hlines: Vec::new(),
            y_range: None,
            size: (800, 500),
        }
    }
    /// Adds a series; `x` and `y` must have the same length. Non-finite points break the line.
    /// An empty name keeps it out of the legend.
    pub fn series(mut self, name: impl Into<String>, x: &'a [f64], y: &'a [f64]) -> Self {
        self.series.push(Series {
            name: name.into(),
            x,
            y,
        });
        self
    }
    /// A dashed horizontal reference line, e.g. a limit ("limit 2 K").
    pub fn hline(mut self, y: f64, label: impl Into<String>) -> Self {
        self.hlines.push((y, label.into()));
        self
    }
    /// Fixed y range. Default: the finite data (and reference lines) with 5 % margins.
    pub fn y_range(mut self, lo: f64, hi: f64) -> Self {
        self.y_range = Some((lo, hi));
        self
    }
    /// Image size in pixels (default 800 × 500).
    pub fn size(mut self, width: u32, height: u32) -> Self {
        self.size = (width, height);
        self
    }
}

fn padded(mm: Option<(f64, f64)>, pad: f64) -> (f64, f64) {
    match mm {
        None => (0.0, 1.0),
        Some((a, b)) if b > a => {
            let d = (b - a) * pad;
            (a - d, b + d)
        }
        Some((a, _)) => {
            let d = if a == 0.0 { 1.0 } else { 0.1 * a.abs() };
            (a - d, a + d)
        }
    }
}

/// The corner of the plot whose quarter holds the fewest data points, for the legend.
fn legend_corner(plot: &LinePlot, xr: (f64, f64), yr: (f64, f64)) -> SeriesLabelPosition {
    let corners = [
        (SeriesLabelPosition::UpperRight, true, true),
        (SeriesLabelPosition::UpperLeft, false, true),
        (SeriesLabelPosition::LowerRight, true, false),
        (SeriesLabelPosition::LowerLeft, false, false),
    ];
    let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
    for (pos, right, upper) in corners {
        let mut count = 0;
        for s in &plot.series {
            for (&x, &y) in s.x.iter().zip(s.y) {
                let u = (x - xr.0) / (xr.1 - xr.0);
                let v = (y - yr.0) / (yr.1 - yr.0);
                let in_x = if right { u > 0.55 } else { u < 0.45 };
                let in_y = if upper { v > 0.6 } else { v < 0.4 };
                count += usize::from(in_x && in_y);
            }
        }
        for (y, _) in &plot.hlines {
            let v = (y - yr.0) / (yr.1 - yr.0);
            count += 50 * usize::from(if upper { v > 0.6 } else { v < 0.4 });
        }
        if count < best.0 {
            best = (count, pos);
        }
    }
    best.1
}

/// Writes a line plot as a PNG.
pub fn line_plot(path: &Path, plot: &LinePlot) -> Result<()> {
    for s in &plot.series {
        if s.x.len() != s.y.len() {
            return Err(Error::input(
                "plot",
                &format!("series '{}'", s.name),
                format!("x has {} values but y has {}", s.x.len(), s.y.len()),
                "pass x and y of the same length",
            ));
        }
    }
    if let Some(r) = plot.y_range {
        check_range(r)?;
    }
    let grow = |mm: Option<(f64, f64)>, v: f64| {
        if v.is_finite() {
            Some(mm.map_or((v, v), |(a, b): (f64, f64)| (a.min(v), b.max(v))))
        } else {
            mm
        }
    };
    let (mut xmm, mut ymm) = (None, None);
    for s in &plot.series {
        for (&x, &y) in s.x.iter().zip(s.y) {
            if x.is_finite() && y.is_finite() {
                xmm = grow(xmm, x);
                ymm = grow(ymm, y);
            }
        }
    }
    for (y, _) in &plot.hlines {
        ymm = grow(ymm, *y);
    }
    let xr = padded(xmm, 0.0);
    let yr = plot.y_range.unwrap_or_else(|| padded(ymm, 0.05));
    let any_data = xmm.is_some();

    write_png(path, plot.size, |root| {
        let (w, h) = root.dim_in_pixel();
        let xstep = nice_step(xr.1 - xr.0, (w / 90).clamp(2, 10) as usize);
        let ystep = nice_step(yr.1 - yr.0, (h / 60).clamp(2, 10) as usize);
        let xfmt = move |v: &f64| fmt_tick(*v, xstep);
        let yfmt = move |v: &f64| fmt_tick(*v, ystep);
        let mut builder = ChartBuilder::on(root);
        builder
            .margin(14)
            .margin_right(24)
            .x_label_area_size(52)
            .y_label_area_size(76);
        if !plot.title.is_empty() {
            builder.caption(&plot.title, font(18.0, false));
        }
        let mut chart = builder.build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)?;
        chart
            .configure_mesh()
            .x_labels((w / 90).clamp(2, 10) as usize)
            .y_labels((h / 60).clamp(2, 10) as usize)
            .x_label_formatter(&xfmt)
            .y_label_formatter(&yfmt)
            .max_light_lines(1)
            .light_line_style(RGBColor(240, 240, 240))
            .bold_line_style(RGBColor(215, 215, 215))
            .label_style(font(13.0, false))
            .axis_desc_style(font(14.0, false))
            .x_desc(plot.x_label.as_str())
            .y_desc(plot.y_label.as_str())
            .draw()?;
        let mut labelled = false;
        for (k, s) in plot.series.iter().enumerate() {
            let colour = SERIES_COLOURS[k % SERIES_COLOURS.len()];
            let style = colour.stroke_width(2);
            // Contiguous runs of finite points.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (&x, &y) in s.x.iter().zip(s.y) {
                if x.is_finite() && y.is_finite() {
                    runs.last_mut().expect("non-empty").push((x, y));
                } else if !runs.last().expect("non-empty").is_empty() {
                    runs.push(Vec::new());
                }
            }
            let mut first = true;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                if run.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(run[0], 3, colour.filled())))?;
                }
                let ann = chart.draw_series(LineSeries::new(run, style))?;
                if first && !s.name.is_empty() {
                    ann.label(s.name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 22, y)], style));
                    labelled = true;
                }
                first = false;
            }
        }
        for (y, label) in &plot.hlines {
            if !y.is_finite() {
                continue;
            }
            let style = ShapeStyle::from(&BLACK).stroke_width(1);
            let ann = chart.draw_series(DashedLineSeries::new(vec![(xr.0, *y), (xr.1, *y)], 8, 5, style))?;
            if !label.is_empty() {
                ann.label(label.as_str()).legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new(vec![(0, 0), (8, 0)], style)
                        + PathElement::new(vec![(13, 0), (21, 0)], style)
                });
                labelled = true;
            }
        }
        if labelled {
            chart
                .configure_series_labels()
                .position(legend_corner(plot, xr, yr))
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(150, 150, 150))
                .label_font(font(13.0, false))
                .draw()?;
        }
        if !any_data {
            let (xr, yr) = chart.plotting_area().get_pixel_range();
            let style = font(15.0, false).pos(Pos::new(HPos::Center, VPos::Center));
            let base = root.get_base_pixel();
            root.draw_text(
                "no finite data",
                &style,
                ((xr.start + xr.end) / 2 - base.0, (yr.start + yr.end) / 2 - base.1),
            )?;
        }
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Atomic PNG writing
// ---------------------------------------------------------------------------------------------

fn io_err(path: &Path, err: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        err,
    }
}

fn temp_path(path: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "figure.png".into());
    let k = COUNTER.fetch_add(1, Ordering::Relaxed);
    path.with_file_name(format!(".{name}.tmp-{}-{k}", std::process::id()))
}

/// Renders with `draw` into an RGB buffer of `size`, encodes it as PNG into a temporary file next
/// to `path` and renames it into place. On any error the temporary file is removed.
fn write_png(path: &Path, size: (u32, u32), draw: impl FnOnce(&Area) -> DrawResult) -> Result<()> {
    let (w, h) = size;
    if !(160..=MAX_SIDE).contains(&w) || !(120..=MAX_SIDE).contains(&h) {
        return Err(Error::input(
            &path.display().to_string(),
            "size",
            format!("figure size {w} × {h} px is outside 160..{MAX_SIDE} × 120..{MAX_SIDE}"),
            "choose a size such as 640 × 560",
        ));
    }
    ensure_fonts()?;
    let mut buf = vec![255u8; 3 * w as usize * h as usize];
    {
        let root = BitMapBackend::with_buffer(&mut buf, size).into_drawing_area();
        let drawn = draw(&root).and_then(|_| root.present().map_err(|e| e.into()));
        drawn.map_err(|e| Error::Other(format!("plotting {}: {e}", path.display())))?;
    }
    let tmp = temp_path(path);
    let written = (|| -> std::io::Result<()> {
        let file = std::fs::File::create(&tmp)?;
        let mut out = std::io::BufWriter::new(file);
        let mut enc = png::Encoder::new(&mut out, w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let mut writer = enc.write_header().map_err(std::io::Error::other)?;
        writer.write_image_data(&buf).map_err(std::io::Error::other)?;
        writer.finish().map_err(std::io::Error::other)?;
        out.flush()?;
        out.get_ref().sync_all()
    })()
    .map_err(|e| io_err(&tmp, e))
    .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| io_err(path, e)));
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_are_nice_and_formatted() {
        let (t, s) = ticks(0.0, 1.0, 5);
        assert_eq!(s, 0.2);
        assert_eq!(t.len(), 6);
        assert_eq!(fmt_tick(0.6000000000000001, s), "0.6");
        assert_eq!(fmt_tick(-150.0, 50.0), "-150");
        assert_eq!(fmt_tick(1.5e-4, 1e-4), "1.5e-4");
        assert_eq!(fmt_tick(2.5, 0.5), "2.5");
    }

    #[test]
    fn ranges_for_degenerate_data() {
        assert_eq!(auto_range(None, Colormap::Viridis), (0.0, 1.0));
        assert_eq!(auto_range(Some((0.0, 0.0)), Colormap::Viridis), (0.0, 1.0));
        let (a, b) = auto_range(Some((2.0, 2.0)), Colormap::Inferno);
        assert!(a < 2.0 && b > 2.0);
        assert_eq!(auto_range(Some((-1.0, 3.0)), Colormap::Diverging), (-3.0, 3.0));
    }

    #[test]
    fn colormaps_span_dark_to_light() {
        for c in [Colormap::Viridis, Colormap::Inferno] {
            let lum = |c: RGBColor| 0.3 * c.0 as f64 + 0.59 * c.1 as f64 + 0.11 * c.2 as f64;
            assert!(lum(c.at(0.0)) + 100.0 < lum(c.at(1.0)), "{c:?}");
        }
        assert_eq!(Colormap::Viridis.value(f64::NAN, (0.0, 1.0)), NAN_GREY);
    }
}
