//! PNG figures: produced, right size, not blank, robust to NaN/constant/empty data, atomic.

use std::path::{Path, PathBuf};

use ndarray::{Array2, Array3};
use rftwin::error::Error;
use rftwin::plot::{self, Colormap, LinePlot, Panel, PanelScale, SliceMap};

fn out_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("rftwin-plot-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// (width, height, RGB bytes)
fn read_png(path: &Path) -> (u32, u32, Vec<u8>) {
    let dec = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = dec.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Rgb);
    buf.truncate(info.buffer_size());
    (info.width, info.height, buf)
}

fn variance(px: &[u8]) -> f64 {
    let n = px.len() as f64;
    let mean = px.iter().map(|&v| v as f64).sum::<f64>() / n;
    px.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / n
}

fn distinct_colours(px: &[u8]) -> usize {
    let mut set: Vec<[u8; 3]> = px.chunks(3).map(|c| [c[0], c[1], c[2]]).collect();
    set.sort();
    set.dedup();
    set.len()
}

fn count_colour(px: &[u8], c: [u8; 3]) -> usize {
    px.chunks(3).filter(|p| p == &c).count()
}

fn no_temp_files(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .unwrap()
        .all(|e| !e.unwrap().file_name().to_string_lossy().contains(".tmp-"))
}

/// A smooth bump on a 41 × 31 grid at 5 mm, like a |B1+| map.
fn bump() -> Array2<f32> {
    Array2::from_shape_fn((41, 31), |(i, j)| {
        let (x, y) = (i as f32 - 20.0, j as f32 - 15.0);
        10.0 * (-(x * x + y * y) / 200.0).exp()
    })
}

#[test]
fn slice_map_png_has_size_and_content() {
    let d = out_dir("map");
    let data = bump();
    let p = d.join("b1.png");
    let map = SliceMap::new(data.view(), [-0.1, -0.075], [0.005, 0.005])
        .title("|B1+| axial")
        .unit("|B1+| (µT)")
        .size(700, 520);
    plot::slice_map(&p, &map).unwrap();
    let (w, h, px) = read_png(&p);
    assert_eq!((w, h), (700, 520));
    assert!(variance(&px) > 100.0);
    // A colour-mapped smooth field gives many colours, not a handful.
    assert!(distinct_colours(&px) > 50, "{}", distinct_colours(&px));
    assert!(no_temp_files(&d));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn unit_label_with_micro_sign_renders() {
    let d = out_dir("font");
    let data = bump();
    let base = SliceMap::new(data.view(), [0.0, 0.0], [0.005, 0.005]);
    plot::slice_map(&d.join("with.png"), &base.clone().unit("|B1+| (µT)")).unwrap();
    plot::slice_map(&d.join("without.png"), &base).unwrap();
    let (_, _, a) = read_png(&d.join("with.png"));
    let (_, _, b) = read_png(&d.join("without.png"));
    let changed = a.chunks(3).zip(b.chunks(3)).filter(|(p, q)| p != q).count();
    // The rotated label draws a few hundred anti-aliased glyph pixels.
    assert!(changed > 100, "{changed} pixels changed");
    // Δ and ° too, in a line plot title and labels.
    let t = [0.0, 60.0, 120.0];
    let y = [0.0, 0.5, 0.8];
    let lp = LinePlot::new("ΔT at the tip (°C)", "t (s)", "ΔT (K)").series("tip", &t, &y);
    plot::line_plot(&d.join("dt.png"), &lp).unwrap();
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn nan_only_constant_and_empty_maps_do_not_panic() {
    let d = out_dir("degenerate");
    let nan = Array2::<f32>::from_elem((20, 20), f32::NAN);
    plot::slice_map(
        &d.join("nan.png"),
        &SliceMap::new(nan.view(), [0.0; 2], [0.01; 2]).unit("SAR (W/kg)"),
    )
    .unwrap();
    let (_, _, px) = read_png(&d.join("nan.png"));
    // The whole plot area is the neutral grey.
    assert!(count_colour(&px, [175, 175, 175]) > 50_000);

    let c = Array2::<f32>::from_elem((20, 10), 3.0);
    for cm in [Colormap::Viridis, Colormap::Inferno, Colormap::Diverging] {
        plot::slice_map(
            &d.join("const.png"),
            &SliceMap::new(c.view(), [0.0; 2], [0.01; 2]).colormap(cm),
        )
        .unwrap();
        assert!(variance(&read_png(&d.join("const.png")).2) > 0.0);
    }
    let zero = Array2::<f32>::zeros((5, 5));
    plot::slice_map(&d.join("zero.png"), &SliceMap::new(zero.view(), [0.0; 2], [0.01; 2])).unwrap();

    let empty = Array2::<f32>::zeros((0, 7));
    plot::slice_map(
        &d.join("empty.png"),
        &SliceMap::new(empty.view(), [0.0; 2], [0.01; 2]).mark_peak("peak"),
    )
    .unwrap();

    let mut inf = bump();
    inf[[3, 3]] = f32::INFINITY;
    inf[[4, 4]] = f32::NAN;
    plot::slice_map(&d.join("inf.png"), &SliceMap::new(inf.view(), [0.0; 2], [0.01; 2])).unwrap();

    let no: [f64; 0] = [];
    plot::line_plot(
        &d.join("empty_line.png"),
        &LinePlot::new("", "x", "y").series("none", &no, &no),
    )
    .unwrap();
    let nan_y = [f64::NAN; 4];
    let x = [0.0, 1.0, 2.0, 3.0];
    plot::line_plot(
        &d.join("nan_line.png"),
        &LinePlot::new("t", "x", "y").series("nan", &x, &nan_y),
    )
    .unwrap();
    let flat = [2.0; 4];
    plot::line_plot(
        &d.join("flat_line.png"),
        &LinePlot::new("t", "x", "y").series("flat", &x, &flat),
    )
    .unwrap();
    assert!(variance(&read_png(&d.join("flat_line.png")).2) > 0.0);
    assert!(no_temp_files(&d));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn markers_and_mask_contour_are_drawn() {
    let d = out_dir("marks");
    let data = bump();
    let mask = data.mapv(|v| v > 3.0);
    let base = SliceMap::new(data.view(), [-0.1, -0.075], [0.005, 0.005]);
    plot::slice_map(&d.join("plain.png"), &base).unwrap();
    plot::slice_map(&d.join("marked.png"), &base.clone().mark_peak("peak 10 µT")).unwrap();
    plot::slice_map(&d.join("mask.png"), &base.clone().mask_contour(mask.view())).unwrap();
    let plain = read_png(&d.join("plain.png")).2;
    let white = |px: &[u8]| count_colour(px, [255, 255, 255]);
    // The marker ring and the contour are white lines drawn over the coloured plot area.
    assert!(white(&read_png(&d.join("marked.png")).2) > white(&plain) + 30);
    assert!(white(&read_png(&d.join("mask.png")).2) > white(&plain) + 100);
    let bad = Array2::from_elem((3, 3), true);
    assert!(matches!(
        plot::slice_map(&d.join("bad.png"), &base.clone().mask_contour(bad.view())),
        Err(Error::Input { .. })
    ));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn volume_slices_and_panels() {
    let d = out_dir("panel");
    let vol = Array3::from_shape_fn((30, 24, 20), |(i, j, k)| (i + 2 * j + 3 * k) as f32);
    let o = [-0.15, -0.12, -0.1];
    let s = [0.01; 3];
    let maps: Vec<SliceMap> = (0..3)
        .map(|axis| {
            let n = vol.shape()[axis];
            SliceMap::from_volume(vol.view(), axis, n / 2, o, s)
                .unwrap()
                .title(format!("axis {axis}"))
                .unit("|E| (V/m)")
        })
        .collect();
    // A sagittal slice is (y, z) = 24 × 20 and holds vol[15, j, k].
    assert!(SliceMap::from_volume(vol.view(), 3, 0, o, s).is_err());
    assert!(SliceMap::from_volume(vol.view(), 2, 20, o, s).is_err());

    let p = d.join("orth.png");
    plot::panel(&p, &Panel::new(maps.clone()).title("|E| orthogonal slices")).unwrap();
    let (w, h, px) = read_png(&p);
    // 460 px per map; the height follows the maps' aspect (≤ 300 mm tall at the width's scale).
    assert_eq!(w, 3 * 460);
    assert!((250..600).contains(&h), "{h}");
    assert!(variance(&px) > 100.0);

    plot::panel(
        &d.join("shared.png"),
        &Panel::new(maps).scale(PanelScale::Shared).size(1200, 450),
    )
    .unwrap();
    let (w, h, _) = read_png(&d.join("shared.png"));
    assert_eq!((w, h), (1200, 450));

    assert!(matches!(
        plot::panel(&d.join("none.png"), &Panel::new(vec![])),
        Err(Error::Input { .. })
    ));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn line_plot_draws_each_series() {
    let d = out_dir("line");
    let t: Vec<f64> = (0..=90).map(|i| i as f64 * 10.0).collect();
    let a: Vec<f64> = t.iter().map(|t| 2.0 * (1.0 - (-t / 300.0).exp())).collect();
    let b: Vec<f64> = t.iter().map(|t| 1.2 * (1.0 - (-t / 200.0).exp())).collect();
    let p = d.join("dt.png");
    let lp = LinePlot::new("Temperature rise", "time (s)", "ΔT (K)")
        .series("tip", &t, &a)
        .series("shaft", &t, &b)
        .hline(2.0, "limit 2 K");
    plot::line_plot(&p, &lp).unwrap();
    let (w, h, px) = read_png(&p);
    assert_eq!((w, h), (800, 500));
    // Tableau blue and orange lines.
    assert!(count_colour(&px, [31, 119, 180]) > 300);
    assert!(count_colour(&px, [255, 127, 14]) > 300);
    let short = [1.0];
    assert!(matches!(
        plot::line_plot(&p, &LinePlot::new("", "x", "y").series("bad", &t, &short)),
        Err(Error::Input { .. })
    ));
    assert!(matches!(
        plot::line_plot(&p, &lp.clone().y_range(1.0, 1.0)),
        Err(Error::Input { .. })
    ));
    assert!(matches!(
        plot::line_plot(&p, &lp.size(10, 10)),
        Err(Error::Input { .. })
    ));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn failed_write_leaves_no_temp_file_and_keeps_old_file() {
    let d = out_dir("atomic");
    let data = bump();
    let map = SliceMap::new(data.view(), [0.0; 2], [0.005; 2]);
    // The target is a non-empty directory: the rename fails after the temp file was written.
    let target = d.join("fig.png");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"x").unwrap();
    let err = plot::slice_map(&target, &map).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err}");
    assert!(no_temp_files(&d));
    assert!(target.join("keep").exists());
    // A missing parent directory is an I/O error too, not a panic.
    assert!(matches!(
        plot::slice_map(&d.join("missing/fig.png"), &map),
        Err(Error::Io { .. })
    ));
    // A good write replaces an older file whole.
    let p = d.join("ok.png");
    std::fs::write(&p, b"old").unwrap();
    plot::slice_map(&p, &map).unwrap();
    assert_eq!(read_png(&p).0, 640);
    assert!(no_temp_files(&d));
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn writers_are_thread_safe() {
    let d = out_dir("threads");
    let handles: Vec<_> = (0..4)
        .map(|k| {
            let d = d.clone();
            std::thread::spawn(move || {
                let data = bump();
                let map = SliceMap::new(data.view(), [0.0; 2], [0.005; 2]).unit("ΔT (K)");
                plot::slice_map(&d.join(format!("t{k}.png")), &map)
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
    assert_eq!(std::fs::read_dir(&d).unwrap().count(), 4);
    let _ = std::fs::remove_dir_all(&d);
}
