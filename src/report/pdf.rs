//! PDF rendering of a [`Report`] with krilla: A4 pages, DejaVu Sans embedded as subset fonts (so µ, Δ,
//! °C, ², ≤ print and the text is extractable), a title page with the coloured verdicts, the inputs
//! with their SHA-256 and the software version, then the sections (headings, wrapped paragraphs,
//! tables with automatic column widths that continue across pages with their header repeated, figures
//! scaled to the text width with captions), an appendix listing every quantity, and page numbers.
//!
//! Layout is done first into a list of pages of drawing operations (so the footer can say "page i of
//! N"), then emitted. Text widths come from the font's horizontal advances (ttf-parser); kerning,
//! which only narrows text, is ignored when measuring.

use std::sync::OnceLock;

use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect, Size, Transform};
use krilla::image::Image;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::text::{Font, TextDirection};
use krilla::{Data, Document};

use super::{format_number, Block, Report, Table, Verdict};
use crate::error::{Error, Result};

/// A4 in points (1/72 inch).
const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const MARGIN_X: f32 = 56.7;
const MARGIN_TOP: f32 = 60.0;
const MARGIN_BOTTOM: f32 = 64.0;
const TEXT_W: f32 = PAGE_W - 2.0 * MARGIN_X;
const BODY: f32 = 10.0;
const LEAD: f32 = 1.35;

type Rgb = (u8, u8, u8);
const BLACK: Rgb = (0, 0, 0);
const GREY: Rgb = (90, 90, 90);
const PASS_RGB: Rgb = (0, 122, 51);
const FAIL_RGB: Rgb = (190, 20, 20);
const NA_RGB: Rgb = (110, 110, 110);
const HEADER_BG: Rgb = (225, 230, 238);

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Face {
    Regular,
    Bold,
    Mono,
}

struct Fonts {
    regular: ttf_parser::Face<'static>,
    bold: ttf_parser::Face<'static>,
    mono: ttf_parser::Face<'static>,
}

fn fonts() -> &'static Fonts {
    static F: OnceLock<Fonts> = OnceLock::new();
    F.get_or_init(|| Fonts {
        // The dejavu crate ships valid TrueType files; a parse failure is a broken build, not input.
        regular: ttf_parser::Face::parse(dejavu::sans::regular(), 0).expect("DejaVu Sans parses"),
        bold: ttf_parser::Face::parse(dejavu::sans::bold(), 0).expect("DejaVu Sans Bold parses"),
        mono: ttf_parser::Face::parse(dejavu::sans_mono::regular(), 0).expect("DejaVu Sans Mono parses"),
    })
}

fn face_bytes(f: Face) -> &'static [u8] {
    match f {
        Face::Regular => dejavu::sans::regular(),
        Face::Bold => dejavu::sans::bold(),
        Face::Mono => dejavu::sans_mono::regular(),
    }
}

/// Width of `s` in points at `size`.
fn text_width(s: &str, face: Face, size: f32) -> f32 {
    let fs = fonts();
    let f = match face {
        Face::Regular => &fs.regular,
        Face::Bold => &fs.bold,
        Face::Mono => &fs.mono,
    };
    let upem = f.units_per_em() as f32;
    let units: f32 = s
        .chars()
        .map(|c| {
            f.glyph_index(c)
                .and_then(|g| f.glyph_hor_advance(g))
                .unwrap_or(upem as u16 / 2) as f32
        })
        .sum();
    units * size / upem
}

/// Greedy word wrap to `width`; words longer than a line are broken between characters.
/// Explicit newlines start new lines.
fn wrap(text: &str, face: Face, size: f32, width: f32) -> Vec<String> {
    let mut lines = Vec::new();
    for para in text.split('\n') {
        let mut line = String::new();
        for word in para.split(' ').filter(|w| !w.is_empty()) {
            let candidate = if line.is_empty() {
                word.to_string()
            } else {
                format!("{line} {word}")
            };
            if text_width(&candidate, face, size) <= width {
                line = candidate;
                continue;
            }
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            if text_width(word, face, size) <= width {
                line = word.to_string();
            } else {
                for c in word.chars() {
                    let mut t = line.clone();
                    t.push(c);
                    if text_width(&t, face, size) > width && !line.is_empty() {
                        lines.push(std::mem::take(&mut line));
                    }
                    line.push(c);
                }
            }
        }
        lines.push(line);
    }
    lines
}

/// One drawing operation; y is the baseline for text and the top edge for boxes (origin top left).
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        face: Face,
        rgb: Rgb,
        s: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        rgb: Rgb,
    },
    Line {
        x1: f32,
        x2: f32,
        y: f32,
        width: f32,
        rgb: Rgb,
    },
    Image {
        idx: usize,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
    },
}

/// A table cell ready for layout.
#[derive(Clone)]
struct TCell {
    s: String,
    face: Face,
    rgb: Rgb,
}

impl TCell {
    fn plain(s: String) -> Self {
        Self {
            s,
            face: Face::Regular,
            rgb: BLACK,
        }
    }
}

struct Layout {
    pages: Vec<Vec<Op>>,
    y: f32,
    images: Vec<Image>,
}

impl Layout {
    fn new() -> Self {
        Self {
            pages: vec![Vec::new()],
            y: MARGIN_TOP,
            images: Vec::new(),
        }
    }
    fn bottom() -> f32 {
        PAGE_H - MARGIN_BOTTOM
    }
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        self.y = MARGIN_TOP;
    }
    /// Starts a new page unless `h` points fit below the cursor.
    fn ensure(&mut self, h: f32) {
        if self.y + h > Self::bottom() && self.y > MARGIN_TOP + 1.0 {
            self.new_page();
        }
    }
    fn op(&mut self, op: Op) {
        self.pages.last_mut().expect("a page").push(op);
    }
    fn text(&mut self, x: f32, y: f32, size: f32, face: Face, rgb: Rgb, s: &str) {
        if !s.is_empty() {
            self.op(Op::Text {
                x,
                y,
                size,
                face,
                rgb,
                s: s.to_string(),
            });
        }
    }
    /// Wrapped text block at the cursor, across pages if needed.
    fn paragraph(&mut self, s: &str, size: f32, face: Face, rgb: Rgb, indent: f32) {
        let lh = size * LEAD;
        for line in wrap(s, face, size, TEXT_W - indent) {
            self.ensure(lh);
            self.y += lh;
            self.text(MARGIN_X + indent, self.y - 0.25 * size, size, face, rgb, &line);
        }
        self.y += 0.5 * size;
    }
    fn heading(&mut self, s: &str, size: f32) {
        // Keep a heading with at least three lines of what follows.
        self.ensure(size * 1.6 + 3.0 * BODY * LEAD);
        self.y += 0.6 * size;
        self.paragraph(s, size, Face::Bold, BLACK, 0.0);
    }

    /// Column widths: natural widths if they fit; else columns narrower than a fair share keep their
    /// width and the rest share what is left equally (their text wraps).
    fn column_widths(natural: &[f32], avail: f32) -> Vec<f32> {
        if natural.iter().sum::<f32>() <= avail {
            return natural.to_vec();
        }
        let mut w = vec![0.0f32; natural.len()];
        let mut open: Vec<usize> = (0..natural.len()).collect();
        let mut left = avail;
        loop {
            let share = left / open.len() as f32;
            let (fit, rest): (Vec<usize>, Vec<usize>) = open.iter().partition(|&&i| natural[i] <= share);
            if fit.is_empty() {
                for &i in &rest {
                    w[i] = share;
                }
                return w;
            }
            for &i in &fit {
                w[i] = natural[i];
                left -= natural[i];
            }
            if rest.is_empty() {
                return w;
            }
            open = rest;
        }
    }

    /// A table with a shaded bold header that repeats on each page; rows never split across pages.
    fn table(&mut self, caption: &str, header: &[String], rows: &[Vec<TCell>], size: f32) {
        let pad = 3.0;
        let lh = size * LEAD;
        let ncol = header.len().max(1);
        let mut natural = vec![0.0f32; ncol];
        for (i, h) in header.iter().enumerate() {
            natural[i] = natural[i].max(text_width(h, Face::Bold, size) + 2.0 * pad);
        }
        for r in rows {
            for (i, c) in r.iter().enumerate().take(ncol) {
                natural[i] = natural[i].max(text_width(&c.s, c.face, size) + 2.0 * pad);
            }
        }
        let widths = Self::column_widths(&natural, TEXT_W);
        let xs: Vec<f32> = widths
            .iter()
            .scan(MARGIN_X, |x, w| {
                let x0 = *x;
                *x += w;
                Some(x0)
            })
            .collect();
        let total_w: f32 = widths.iter().sum();
        let wrap_row = |cells: &[TCell]| -> Vec<Vec<String>> {
            cells
                .iter()
                .enumerate()
                .take(ncol)
                .map(|(i, c)| wrap(&c.s, c.face, size, widths[i] - 2.0 * pad))
                .collect()
        };
        let header_cells: Vec<TCell> = header
            .iter()
            .map(|h| TCell {
                s: h.clone(),
                face: Face::Bold,
                rgb: BLACK,
            })
            .collect();
        let header_lines = wrap_row(&header_cells);
        let header_h = header_lines.iter().map(|l| l.len()).max().unwrap_or(1) as f32 * lh + 2.0 * pad;

        if !caption.is_empty() {
            self.ensure(BODY * LEAD + header_h + lh + 2.0 * pad);
            self.paragraph(caption, size + 0.5, Face::Bold, GREY, 0.0);
        }
        let draw_header = |l: &mut Layout| {
            l.op(Op::Rect {
                x: MARGIN_X,
                y: l.y,
                w: total_w,
                h: header_h,
                rgb: HEADER_BG,
            });
            for (i, lines) in header_lines.iter().enumerate() {
                for (k, s) in lines.iter().enumerate() {
                    l.text(
                        xs[i] + pad,
                        l.y + pad + (k as f32 + 1.0) * lh - 0.3 * size,
                        size,
                        Face::Bold,
                        BLACK,
                        s,
                    );
                }
            }
            l.y += header_h;
        };
        self.ensure(header_h + lh + 2.0 * pad);
        draw_header(self);
        for r in rows {
            let lines = wrap_row(r);
            let h = lines.iter().map(|l| l.len()).max().unwrap_or(1) as f32 * lh + 2.0 * pad;
            if self.y + h > Self::bottom() {
                self.new_page();
                draw_header(self);
            }
            for (i, ls) in lines.iter().enumerate() {
                for (k, s) in ls.iter().enumerate() {
                    let c = &r[i];
                    self.text(
                        xs[i] + pad,
                        self.y + pad + (k as f32 + 1.0) * lh - 0.3 * size,
                        size,
                        c.face,
                        c.rgb,
                        s,
                    );
                }
            }
            self.y += h;
            self.op(Op::Line {
                x1: MARGIN_X,
                x2: MARGIN_X + total_w,
                y: self.y,
                width: 0.4,
                rgb: (170, 170, 170),
            });
        }
        self.y += BODY;
    }

    /// An image scaled to the text width (or less, to fit a page), then its caption.
    fn figure(&mut self, img: Image, caption: &str) {
        let (pw, ph) = img.size();
        let aspect = ph.max(1) as f32 / pw.max(1) as f32;
        let cap_lines = wrap(caption, Face::Regular, BODY - 1.0, TEXT_W).len() as f32;
        let cap_h = cap_lines * (BODY - 1.0) * LEAD + BODY;
        let max_h = Self::bottom() - MARGIN_TOP - cap_h - 4.0;
        let mut w = TEXT_W;
        let mut h = w * aspect;
        if h > max_h {
            h = max_h;
            w = h / aspect;
        }
        self.ensure(h + cap_h);
        let idx = self.images.len();
        self.images.push(img);
        self.op(Op::Image {
            idx,
            x: MARGIN_X + 0.5 * (TEXT_W - w),
            y: self.y,
            w,
            h,
        });
        self.y += h + 4.0;
        self.paragraph(caption, BODY - 1.0, Face::Regular, GREY, 0.0);
    }
}

fn verdict_rgb(v: Verdict) -> Rgb {
    match v {
        Verdict::Pass => PASS_RGB,
        Verdict::Fail => FAIL_RGB,
        Verdict::NotAssessed => NA_RGB,
    }
}

fn load_png(path: &std::path::Path) -> Result<Image> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        err: e,
    })?;
    Image::from_png(Data::from(bytes), true).map_err(|e| {
        Error::input(
            &path.display().to_string(),
            "figure",
            format!("not a readable PNG: {e}"),
            "write the figure with rftwin::plot or give a PNG file",
        )
    })
}

fn cells(r: &Report, t: &Table) -> Result<Vec<Vec<TCell>>> {
    t.rows
        .iter()
        .map(|row| row.iter().map(|c| r.cell_text(c).map(TCell::plain)).collect())
        .collect()
}

/// Lays out the title page: title, overall verdict banner, criteria table, inputs, version, date.
fn title_page(l: &mut Layout, r: &Report) -> Result<()> {
    l.y += 20.0;
    l.paragraph(&r.title, 22.0, Face::Bold, BLACK, 0.0);
    if !r.subtitle.is_empty() {
        l.paragraph(&r.subtitle, 13.0, Face::Regular, GREY, 0.0);
    }
    l.y += 10.0;
    let v = r.verdict();
    let banner_h = 44.0;
    l.op(Op::Rect {
        x: MARGIN_X,
        y: l.y,
        w: TEXT_W,
        h: banner_h,
        rgb: verdict_rgb(v),
    });
    let label = format!("Overall verdict: {}", v.as_str());
    let size = 20.0;
    let tw = text_width(&label, Face::Bold, size);
    l.text(
        MARGIN_X + 0.5 * (TEXT_W - tw),
        l.y + 0.5 * banner_h + 0.35 * size,
        size,
        Face::Bold,
        (255, 255, 255),
        &label,
    );
    l.y += banner_h + 14.0;

    if !r.criteria.is_empty() {
        let header: Vec<String> = [
            "Criterion",
            "Computed value",
            "Expanded uncertainty U",
            "Uncertainty factor",
            "Assessed",
            "Limit",
            "Verdict",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let mut rows = Vec::new();
        for c in &r.criteria {
            let t = |k: &str| r.get(k).map(|q| q.text()).unwrap_or_default();
            rows.push(vec![
                TCell::plain(c.label.clone()),
                TCell::plain(t(&c.value_key)),
                TCell::plain(
                    r.get(&super::keys::Criterion::ExpandedUncertainty.key(&c.id))
                        .map_or("not used".into(), |q| format!("+ {}", q.text())),
                ),
                TCell::plain(
                    r.get(&c.factor_key())
                        .map(|q| format_number(q.value))
                        .unwrap_or_default(),
                ),
                TCell::plain(t(&c.assessed_key())),
                TCell::plain(t(&c.limit_key())),
                TCell {
                    s: c.verdict.as_str().into(),
                    face: Face::Bold,
                    rgb: verdict_rgb(c.verdict),
                },
            ]);
        }
        l.table(
            "Criteria (PASS when value + U ≤ limit, U the expanded uncertainty of the budget; with an uncertainty factor > 1 set in the recipe instead, when value × factor ≤ limit)",
            &header,
            &rows,
            9.0,
        );
        labelling_table(l, r);
    }

    l.heading("Inputs", 12.0);
    if r.inputs.is_empty() {
        l.paragraph("No input files recorded.", BODY, Face::Regular, GREY, 0.0);
    }
    for inp in &r.inputs {
        l.paragraph(
            &format!("{}: {} ({} bytes)", inp.role, inp.path, inp.bytes),
            9.0,
            Face::Regular,
            BLACK,
            0.0,
        );
        l.y -= 4.0;
        l.paragraph(&format!("SHA-256 {}", inp.sha256), 7.5, Face::Mono, GREY, 10.0);
    }
    if !r.unconfirmed.is_empty() {
        l.heading("Unconfirmed input values", 12.0);
        l.paragraph(
            "These input values are marked UNCONFIRMED in their files: the results rest on them as given.",
            9.0,
            Face::Regular,
            BLACK,
            0.0,
        );
        for u in &r.unconfirmed {
            l.paragraph(&format!("{} ({}), line {}:", u.role, u.path, u.line), 9.0, Face::Regular, BLACK, 0.0);
            l.y -= 4.0;
            l.paragraph(&u.text, 7.5, Face::Mono, GREY, 10.0);
        }
    }
    l.heading("Software and date", 12.0);
    l.paragraph(
        &format!("Software: {}", r.software.text()),
        9.0,
        Face::Regular,
        BLACK,
        0.0,
    );
    l.paragraph(&format!("Date (UTC): {}", r.date_utc), 9.0, Face::Regular, BLACK, 0.0);
    if let Some(inv) = &r.invocation {
        l.heading("Command line and options", 12.0);
        l.paragraph(&inv.command_line.join(" "), 8.0, Face::Mono, BLACK, 0.0);
        let opts: Vec<String> = inv.options.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        l.paragraph(&opts.join("; "), 8.0, Face::Mono, GREY, 0.0);
    }
    Ok(())
}

/// The labelling conditions on the title page (ASTM F2503 style): per criterion the largest
/// whole-phantom SAR and B1+rms at which it passes, its uncertainty included
/// (`labelling.<id>.…`, from [`super::sections::budget::labelling_section`]); nothing without them.
fn labelling_table(l: &mut Layout, r: &Report) {
    use super::keys::Labelling;
    let mut rows = Vec::new();
    for c in &r.criteria {
        let (Some(s), Some(b)) = (
            r.get(&Labelling::MaxWholePhantomSar.key(&c.id)),
            r.get(&Labelling::MaxB1Rms.key(&c.id)),
        ) else {
            continue;
        };
        rows.push(vec![TCell::plain(c.label.clone()), TCell::plain(s.text()), TCell::plain(b.text())]);
    }
    if let (Some(s), Some(b)) = (r.get(Labelling::MAX_WHOLE_PHANTOM_SAR), r.get(Labelling::MAX_B1RMS)) {
        rows.push(vec![
            TCell {
                s: "All criteria (label)".into(),
                face: Face::Bold,
                rgb: BLACK,
            },
            TCell {
                s: s.text(),
                face: Face::Bold,
                rgb: BLACK,
            },
            TCell {
                s: b.text(),
                face: Face::Bold,
                rgb: BLACK,
            },
        ]);
    }
    if rows.is_empty() {
        return;
    }
    let header: Vec<String> = ["Criterion", "Max whole-phantom SAR", "Max B1+rms (isocentre)"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    l.table(
        "Labelling conditions (MR Conditional, ASTM F2503 style): the largest exposure at which each criterion passes, uncertainty included",
        &header,
        &rows,
        9.0,
    );
}

/// Renders the report to PDF bytes. The report should have passed [`Report::validate`].
pub fn render(r: &Report) -> Result<Vec<u8>> {
    let mut l = Layout::new();
    title_page(&mut l, r)?;
    for (si, s) in r.sections.iter().enumerate() {
        l.new_page();
        l.heading(&format!("{} {}", si + 1, s.title), 15.0);
        for b in &s.blocks {
            match b {
                Block::Paragraph(p) => {
                    let text = r.expand(p)?;
                    l.paragraph(&text, BODY, Face::Regular, BLACK, 0.0);
                }
                Block::Table(t) => {
                    let rows = cells(r, t)?;
                    l.table(&t.caption, &t.header, &rows, 9.0);
                }
                Block::Figure(f) => {
                    let img = load_png(&f.png)?;
                    l.figure(img, &f.caption);
                }
            }
        }
    }
    // Appendix: every number of summary.json, so the PDF and the JSON can be compared line by line.
    l.new_page();
    l.heading("Appendix: all quantities", 15.0);
    l.paragraph(
        "Every number of this report, as stored in summary.json (value shown with 4 significant digits).",
        BODY,
        Face::Regular,
        BLACK,
        0.0,
    );
    let header = vec!["Key".to_string(), "Value".to_string(), "Description".to_string()];
    let rows: Vec<Vec<TCell>> = r
        .quantities
        .iter()
        .map(|q| {
            vec![
                TCell {
                    s: q.key.clone(),
                    face: Face::Mono,
                    rgb: BLACK,
                },
                TCell::plain(q.text()),
                TCell::plain(q.description.clone()),
            ]
        })
        .collect();
    l.table("", &header, &rows, 8.0);

    emit(l, r)
}

fn fill(rgb: Rgb) -> Fill {
    Fill {
        paint: rgb::Color::new(rgb.0, rgb.1, rgb.2).into(),
        ..Default::default()
    }
}

fn emit(l: Layout, r: &Report) -> Result<Vec<u8>> {
    let kfont = |f: Face| {
        Font::new(Data::from(face_bytes(f)), 0).ok_or_else(|| Error::Other("DejaVu font rejected by krilla".into()))
    };
    let (fr, fb, fm) = (kfont(Face::Regular)?, kfont(Face::Bold)?, kfont(Face::Mono)?);
    let font_of = |f: Face| match f {
        Face::Regular => fr.clone(),
        Face::Bold => fb.clone(),
        Face::Mono => fm.clone(),
    };
    let mut doc = Document::new();
    doc.set_metadata(
        Metadata::new()
            .title(r.title.clone())
            .creator(r.software.text())
            .producer(format!("rftwin {} (krilla)", r.software.version)),
    );
    let n = l.pages.len();
    for (pi, ops) in l.pages.iter().enumerate() {
        let mut page = doc.start_page_with(PageSettings::from_wh(PAGE_W, PAGE_H).expect("A4 is a valid size"));
        let mut s = page.surface();
        for op in ops {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    face,
                    rgb,
                    s: t,
                } => {
                    s.set_fill(Some(fill(*rgb)));
                    s.draw_text(
                        Point::from_xy(*x, *y),
                        font_of(*face),
                        *size,
                        t,
                        false,
                        TextDirection::Auto,
                    );
                }
                Op::Rect { x, y, w, h, rgb } => {
                    if let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) {
                        let mut pb = PathBuilder::new();
                        pb.push_rect(rect);
                        if let Some(path) = pb.finish() {
                            s.set_stroke(None);
                            s.set_fill(Some(fill(*rgb)));
                            s.draw_path(&path);
                        }
                    }
                }
                Op::Line { x1, x2, y, width, rgb } => {
                    let mut pb = PathBuilder::new();
                    pb.move_to(*x1, *y);
                    pb.line_to(*x2, *y);
                    if let Some(path) = pb.finish() {
                        s.set_fill(None);
                        s.set_stroke(Some(Stroke {
                            paint: rgb::Color::new(rgb.0, rgb.1, rgb.2).into(),
                            width: *width,
                            ..Default::default()
                        }));
                        s.draw_path(&path);
                        s.set_stroke(None);
                    }
                }
                Op::Image { idx, x, y, w, h } => {
                    if let Some(size) = Size::from_wh(*w, *h) {
                        s.push_transform(&Transform::from_translate(*x, *y));
                        s.draw_image(l.images[*idx].clone(), size);
                        s.pop();
                    }
                }
            }
        }
        // Footer: title on the left, page number on the right.
        let foot_y = PAGE_H - 0.5 * MARGIN_BOTTOM;
        s.set_fill(Some(fill(GREY)));
        let mut title = r.title.clone();
        while text_width(&title, Face::Regular, 8.0) > 0.7 * TEXT_W && title.chars().count() > 1 {
            title.pop();
        }
        s.draw_text(
            Point::from_xy(MARGIN_X, foot_y),
            fr.clone(),
            8.0,
            &title,
            false,
            TextDirection::Auto,
        );
        let pn = format!("page {} of {}", pi + 1, n);
        let pw = text_width(&pn, Face::Regular, 8.0);
        s.draw_text(
            Point::from_xy(PAGE_W - MARGIN_X - pw, foot_y),
            fr.clone(),
            8.0,
            &pn,
            false,
            TextDirection::Auto,
        );
        s.finish();
        page.finish();
    }
    doc.finish()
        .map_err(|e| Error::Other(format!("PDF writer (krilla) failed: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wrap_respects_width_and_keeps_words() {
        let text = "The quick brown fox jumps over the lazy dog ΔT ≤ 2 K at 37 °C and 1 µT";
        let lines = wrap(text, Face::Regular, 10.0, 100.0);
        assert!(lines.len() > 2);
        for l in &lines {
            assert!(text_width(l, Face::Regular, 10.0) <= 100.0, "{l}");
        }
        assert_eq!(lines.join(" "), text);
        // A word longer than the line is broken between characters, nothing lost.
        let long = "a".repeat(200);
        let ls = wrap(&long, Face::Mono, 10.0, 50.0);
        assert_eq!(ls.concat(), long);
        assert!(ls.len() >= 200 * 6 / 50);
    }

    #[test]
    fn mono_width_is_constant_per_char() {
        // DejaVu Sans Mono advance is 1233/2048 em.
        let w = text_width("0123456789abcdef", Face::Mono, 10.0);
        assert!((w - 16.0 * 10.0 * 1233.0 / 2048.0).abs() < 1e-3, "{w}");
    }

    #[test]
    fn column_widths_fit_and_share_fairly() {
        let w = Layout::column_widths(&[50.0, 400.0, 300.0], 450.0);
        assert!((w.iter().sum::<f32>() - 450.0).abs() < 1e-3);
        assert_eq!(w[0], 50.0);
        assert!((w[1] - 200.0).abs() < 1e-3 && (w[2] - 200.0).abs() < 1e-3);
        assert_eq!(Layout::column_widths(&[10.0, 20.0], 100.0), vec![10.0, 20.0]);
    }
}
