//! Renders one figure of each kind into a directory (default `target/plot_demo`) for the README:
//! `cargo run --release --example plot_demo -- DIR`.
//!
//! The data are synthetic stand-ins: a smooth |B1+|-like volume, a SAR-like hot spot near an
//! implant tip, and temperature-rise curves.

use std::path::PathBuf;

use ndarray::Array3;
use rftwin::plot::{self, Colormap, LinePlot, Panel, PanelScale, SliceMap};

fn main() -> rftwin::error::Result<()> {
    let dir = PathBuf::from(std::env::args().nth(1).unwrap_or_else(|| "target/plot_demo".into()));
    std::fs::create_dir_all(&dir).map_err(|err| rftwin::error::Error::Io {
        path: dir.display().to_string(),
        err,
    })?;

    // A 1.5 T-like |B1+| map in an ASTM-box-sized region at 5 mm: [x, y, z], origin at a corner.
    let (nx, ny, nz) = (130, 90, 60);
    let spacing = [0.005; 3];
    let origin = [-0.325, -0.225, -0.15];
    let b1 = Array3::from_shape_fn((nx, ny, nz), |(i, j, k)| {
        let x = origin[0] + i as f64 * spacing[0];
        let y = origin[1] + j as f64 * spacing[1];
        let z = origin[2] + k as f64 * spacing[2];
        let r2 = (x / 0.3).powi(2) + (y / 0.2).powi(2) + (z / 0.25).powi(2);
        (2.0 * (1.0 - 0.3 * r2) + 0.3 * (12.0 * x).cos()) as f32
    });
    // The gel box occupies |x| < 0.3, |y| < 0.2 (grey outside: NaN), with the implant tip at (0.1, 0, 0).
    let inside = |i: usize, j: usize| {
        let x = origin[0] + i as f64 * spacing[0];
        let y = origin[1] + j as f64 * spacing[1];
        x.abs() < 0.3 && y.abs() < 0.2
    };
    let sar = Array3::from_shape_fn((nx, ny, nz), |(i, j, k)| {
        if !inside(i, j) {
            return f32::NAN;
        }
        let x = origin[0] + i as f64 * spacing[0] - 0.1;
        let y = origin[1] + j as f64 * spacing[1];
        let z = origin[2] + k as f64 * spacing[2];
        (0.4 + 12.0 * (-(x * x + y * y + z * z) / 4e-4).exp()) as f32
    });

    let kz = nz / 2;
    let axial = SliceMap::from_volume(b1.view(), 2, kz, origin, spacing)?
        .title("|B1+| axial, z = 0 mm")
        .unit("|B1+| (µT)")
        .mark_peak("peak");
    plot::slice_map(&dir.join("map_b1_axial.png"), &axial)?;

    let mask = ndarray::Array2::from_shape_fn((nx, ny), |(i, j)| inside(i, j));
    let sar_axial = SliceMap::from_volume(sar.view(), 2, kz, origin, spacing)?
        .title("Local SAR, z = 0 mm")
        .unit("SAR (W/kg)")
        .colormap(Colormap::Inferno)
        .mask_contour(mask.view())
        .mark_peak("peak SAR");
    plot::slice_map(&dir.join("map_sar_axial.png"), &sar_axial)?;

    let orth: Vec<SliceMap> = [(2, nz / 2, "axial"), (1, ny / 2, "coronal"), (0, nx / 2, "sagittal")]
        .into_iter()
        .map(|(axis, idx, name)| {
            SliceMap::from_volume(b1.view(), axis, idx, origin, spacing).map(|m| m.title(name).unit("|B1+| (µT)"))
        })
        .collect::<rftwin::error::Result<_>>()?;
    plot::panel(
        &dir.join("panel_b1_orthogonal.png"),
        &Panel::new(orth)
            .title("|B1+| per µT at isocentre")
            .scale(PanelScale::Shared),
    )?;

    // Measured / simulated / residual.
    let sim = b1.index_axis(ndarray::Axis(2), kz).to_owned();
    let meas = sim.mapv(|v| v * 1.03)
        + &ndarray::Array2::from_shape_fn((nx, ny), |(i, j)| 0.05 * ((i * 7 + j * 3) % 11) as f32 / 11.0);
    let resid = &meas - &sim;
    let (o2, s2) = ([origin[0], origin[1]], [spacing[0], spacing[1]]);
    let hi = meas.iter().chain(sim.iter()).cloned().fold(f32::MIN, f32::max) as f64;
    plot::panel(
        &dir.join("panel_twin_residual.png"),
        &Panel::new(vec![
            SliceMap::new(meas.view(), o2, s2)
                .title("measured")
                .unit("|B1+| (µT)")
                .range(0.0, hi),
            SliceMap::new(sim.view(), o2, s2)
                .title("simulated")
                .unit("|B1+| (µT)")
                .range(0.0, hi),
            SliceMap::new(resid.view(), o2, s2)
                .title("measured − simulated")
                .unit("Δ|B1+| (µT)")
                .colormap(Colormap::Diverging),
        ])
        .title("Twin calibration, axial slice"),
    )?;

    let t: Vec<f64> = (0..=180).map(|i| i as f64 * 5.0).collect();
    let tip: Vec<f64> = t.iter().map(|t| 3.1 * (1.0 - (-t / 240.0).exp())).collect();
    let mid: Vec<f64> = t.iter().map(|t| 1.1 * (1.0 - (-t / 300.0).exp())).collect();
    let reference: Vec<f64> = t.iter().map(|t| 0.4 * (1.0 - (-t / 400.0).exp())).collect();
    plot::line_plot(
        &dir.join("line_temperature.png"),
        &LinePlot::new("Temperature rise at the probes", "time (s)", "ΔT (K)")
            .series("tip probe", &t, &tip)
            .series("shaft probe", &t, &mid)
            .series("reference probe", &t, &reference)
            .hline(2.0, "limit 2 °C"),
    )?;
    println!("figures written to {}", dir.display());
    Ok(())
}
