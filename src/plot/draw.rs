//! Drawing one map into an area: frame, ticks, colour bar, markers.

use super::*;

/// Pixel placement of a drawn map.
pub(super) struct Frame {
    /// Plot rectangle in the area's coordinates.
    px0: i32,
    py0: i32,
    pub(super) pw: i32,
    pub(super) ph: i32,
    /// Top and right edge of the plot in backend (absolute) pixels.
    pub(super) abs_top: i32,
    pub(super) abs_right: i32,
    pub(super) ext: (f64, f64, f64, f64),
}

impl Frame {
    fn to_px(&self, h_mm: f64, v_mm: f64) -> (i32, i32) {
        let (a, b, c, d) = self.ext;
        let x = self.px0 as f64 + (h_mm - a) / (b - a) * self.pw as f64;
        let y = self.py0 as f64 + (d - v_mm) / (d - c) * self.ph as f64;
        (x.round() as i32, y.round() as i32)
    }
}

pub(super) fn font(size: f64, bold: bool) -> TextStyle<'static> {
    let style = if bold { FontStyle::Bold } else { FontStyle::Normal };
    TextStyle::from((FONT, size, style).into_font()).color(&BLACK)
}

/// Number formatting for tick labels given the tick step.
pub(super) fn fmt_tick(v: f64, step: f64) -> String {
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
pub(super) fn nice_step(span: f64, target: usize) -> f64 {
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

pub(super) fn ticks(lo: f64, hi: f64, target: usize) -> (Vec<f64>, f64) {
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
pub(super) fn draw_colour_bar(
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
pub(super) fn colour_bar_width(area: &Area, range: (f64, f64), unit: &str) -> DrawResult<i32> {
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
pub(super) const YLAB: i32 = 64;
pub(super) const XLAB: i32 = 50;
pub(super) const BAR_EST: i32 = 110;
pub(super) const MAX_PLOT_H: f64 = 620.0;

pub(super) fn title_height(map: &SliceMap) -> i32 {
    if map.title.is_empty() {
        10
    } else {
        34
    }
}

/// Pixels per mm that fill a cell `width` wide (no taller than `MAX_PLOT_H`).
pub(super) fn estimate_scale(map: &SliceMap, width: i32, bar_w: i32) -> f64 {
    let ext = map.extent_mm();
    let (ew, eh) = (ext.1 - ext.0, ext.3 - ext.2);
    ((width - YLAB - bar_w - 16).max(20) as f64 / ew).min(MAX_PLOT_H / eh)
}

/// Figure height that fits `map` at `scale` pixels per mm.
pub(super) fn natural_height(map: &SliceMap, scale: f64) -> u32 {
    let ext = map.extent_mm();
    let ph = ((ext.3 - ext.2) * scale).round() as i32;
    (title_height(map) + ph + XLAB + 8 + 12).clamp(200, 1000) as u32
}

/// Pixels per mm that fit `map` (and its colour bar) into `area`.
pub(super) fn fit_scale(area: &Area, map: &SliceMap, range: (f64, f64), with_bar: bool) -> DrawResult<f64> {
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
pub(super) fn draw_map(area: &Area, map: &SliceMap, range: (f64, f64), with_bar: bool, scale: Option<f64>) -> DrawResult<Frame> {
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
    draw_cells(area, map, &frame, range)?;
    draw_mask_outline(area, map, &frame)?;
    draw_markers(area, map, &frame)?;

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

/// The map's cells, one backend pixel at a time (nearest sample; exact for any data/pixel ratio),
/// the frame, and a note when no value is finite.
fn draw_cells(area: &Area, map: &SliceMap, frame: &Frame, range: (f64, f64)) -> DrawResult {
    let ext = frame.ext;
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

    Ok(())
}

/// The mask outline along cell edges where the mask changes (or meets the border).
fn draw_mask_outline(area: &Area, map: &SliceMap, frame: &Frame) -> DrawResult {
    let n = map.data.shape();
    let (dh, dv) = (map.spacing_m[0] * 1e3, map.spacing_m[1] * 1e3);
    let (oh, ov) = (map.origin_m[0] * 1e3, map.origin_m[1] * 1e3);
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

    Ok(())
}

/// Markers: a black cross on a white ring, the label in a white box.
fn draw_markers(area: &Area, map: &SliceMap, frame: &Frame) -> DrawResult {
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

    Ok(())
}
