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

mod draw;
mod line;
mod png_out;

use draw::*;
pub use line::{line_plot, LinePlot, LineStyle, SeriesMarker};
use png_out::*;

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
