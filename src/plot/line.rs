//! Line plots.

use super::*;

// ---------------------------------------------------------------------------------------------
// Line plots
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Debug)]
pub(super) struct Series<'a> {
    name: String,
    x: &'a [f64],
    y: &'a [f64],
    style: LineStyle,
}

/// A marker shape drawn at intervals along a series (and in its legend entry).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesMarker {
    Circle,
    FilledCircle,
    Triangle,
    FilledTriangle,
    Cross,
}

impl SeriesMarker {
    /// Every shape, in the order series take them.
    pub const ALL: [SeriesMarker; 5] = [
        SeriesMarker::Circle,
        SeriesMarker::Triangle,
        SeriesMarker::Cross,
        SeriesMarker::FilledCircle,
        SeriesMarker::FilledTriangle,
    ];
}

/// How a series is drawn: its colour (index into the series colours; default: its position), solid
/// or dashed, and an optional marker shape.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineStyle {
    pub colour: Option<usize>,
    pub dashed: bool,
    pub marker: Option<SeriesMarker>,
}

impl LineStyle {
    /// A dashed line in the series' default colour.
    pub fn dashed() -> Self {
        Self {
            dashed: true,
            ..Self::default()
        }
    }
}

macro_rules! marker_of {
    ($m:expr, $p:expr, $colour:expr) => {{
        let colour: RGBColor = $colour;
        let stroke = ShapeStyle::from(&colour).stroke_width(2);
        match $m {
            SeriesMarker::Circle => Circle::new($p, 5, stroke).into_dyn(),
            SeriesMarker::FilledCircle => Circle::new($p, 5, colour.filled()).into_dyn(),
            SeriesMarker::Triangle => TriangleMarker::new($p, 6, stroke).into_dyn(),
            SeriesMarker::FilledTriangle => TriangleMarker::new($p, 6, colour.filled()).into_dyn(),
            SeriesMarker::Cross => Cross::new($p, 5, stroke).into_dyn(),
        }
    }};
}

/// One or more named (x, y) series with axis labels and a legend, written by [`line_plot`].
#[derive(Clone, Debug)]
pub struct LinePlot<'a> {
    title: String,
    x_label: String,
    y_label: String,
    series: Vec<Series<'a>>,
    hlines: Vec<(f64, String)>,
    vlines: Vec<(f64, String)>,
    y_range: Option<(f64, f64)>,
    size: (u32, u32),
}

/// Tableau 10: distinguishable series colours.
pub(super) const SERIES_COLOURS: [RGBColor; 10] = [
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
            vlines: Vec::new(),
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
            style: LineStyle::default(),
        });
        self
    }
    /// Adds a series drawn in `style` (colour, dashes, marker shape), e.g. to keep curves that lie on
    /// one another distinguishable.
    pub fn series_styled(mut self, name: impl Into<String>, x: &'a [f64], y: &'a [f64], style: LineStyle) -> Self {
        self.series.push(Series {
            name: name.into(),
            x,
            y,
            style,
        });
        self
    }
    /// A dashed horizontal reference line, e.g. a limit ("limit 2 K").
    pub fn hline(mut self, y: f64, label: impl Into<String>) -> Self {
        self.hlines.push((y, label.into()));
        self
    }
    /// A dashed vertical marker at `x`, its label written at the top of the plot (e.g. a resonance).
    pub fn vline(mut self, x: f64, label: impl Into<String>) -> Self {
        self.vlines.push((x, label.into()));
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

pub(super) fn padded(mm: Option<(f64, f64)>, pad: f64) -> (f64, f64) {
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
pub(super) fn legend_corner(plot: &LinePlot, xr: (f64, f64), yr: (f64, f64)) -> SeriesLabelPosition {
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
            let colour = SERIES_COLOURS[s.style.colour.unwrap_or(k) % SERIES_COLOURS.len()];
            let style = colour.stroke_width(2);
            let dashed = s.style.dashed;
            let marker = s.style.marker;
            // Contiguous runs of finite points.
            let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
            for (&x, &y) in s.x.iter().zip(s.y) {
                if x.is_finite() && y.is_finite() {
                    runs.last_mut().expect("non-empty").push((x, y));
                } else if !runs.last().expect("non-empty").is_empty() {
                    runs.push(Vec::new());
                }
            }
            // SeriesMarkers at about 8 places per series, staggered between series so that they do not
            // sit on one another where the curves do.
            let n_points = s.x.len().max(1);
            let every = (n_points / 8).max(1);
            let offset = (k * every / plot.series.len().max(1)) % every;
            if let Some(m) = marker {
                let pts: Vec<(f64, f64)> = s
                    .x
                    .iter()
                    .zip(s.y)
                    .enumerate()
                    .filter(|(i, (x, y))| i % every == offset && x.is_finite() && y.is_finite())
                    .map(|(_, (x, y))| (*x, *y))
                    .collect();
                chart.draw_series(pts.into_iter().map(|p| marker_of!(m, p, colour)))?;
            }
            let mut first = true;
            for run in runs.into_iter().filter(|r| !r.is_empty()) {
                if run.len() == 1 {
                    chart.draw_series(std::iter::once(Circle::new(run[0], 3, colour.filled())))?;
                }
                let ann = if dashed {
                    chart.draw_series(DashedLineSeries::new(run, 9, 5, style))?
                } else {
                    chart.draw_series(LineSeries::new(run, style))?
                };
                if first && !s.name.is_empty() {
                    ann.label(s.name.as_str()).legend(move |(x, y)| {
                        let (a, b) = if dashed { ((0, 0), (8, 0)) } else { ((0, 0), (22, 0)) };
                        let rest = if dashed { vec![(13, 0), (22, 0)] } else { vec![(22, 0), (22, 0)] };
                        let line = EmptyElement::at((x, y))
                            + PathElement::new(vec![a, b], style)
                            + PathElement::new(rest, style);
                        let mark = match marker {
                            Some(m) => marker_of!(m, (11, 0), colour),
                            None => Circle::new((11, 0), 0, colour.mix(0.0).filled()).into_dyn(),
                        };
                        line + mark
                    });
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
        for (k, (x, label)) in plot.vlines.iter().enumerate() {
            if !x.is_finite() || *x < xr.0 || *x > xr.1 {
                continue;
            }
            let style = ShapeStyle::from(&RGBColor(90, 90, 90)).stroke_width(1);
            chart.draw_series(DashedLineSeries::new(vec![(*x, yr.0), (*x, yr.1)], 6, 4, style))?;
            if !label.is_empty() {
                // Staggered so that labels of close markers do not overlap.
                let y = yr.1 - (yr.1 - yr.0) * (0.03 + 0.06 * (k % 4) as f64);
                chart.draw_series(std::iter::once(Text::new(label.clone(), (*x, y), font(12.0, false))))?;
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
