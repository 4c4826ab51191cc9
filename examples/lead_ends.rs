//! Diagnostic: SAR next to a straight wire implant (any implant TOML) centred in the ASTM gel along z,
//! 64 MHz plane wave with E = 100 V/m along the wire, local TF/SF run with the thin wire.
//! Prints the point SAR at the first, second and third cell ring around the wire along z, and the
//! peak 1 g SAR within 15 mm of each end.
//!
//! `cargo run --release --example lead_ends -- IMPLANT.toml CELL_M`
use std::sync::Arc;

use num_complex::Complex64;
use rftwin::coil::PhantomConfig;
use rftwin::dosimetry::sar::{mass_averaged_sar, point_sar};
use rftwin::implant::local::{run_local, LocalOptions};
use rftwin::implant::model::Implant;
use rftwin::implant::placement::{place, Placement};

fn main() -> rftwin::error::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let implant = Implant::load(std::path::Path::new(&args[0]))?;
    let cell: f64 = args[1].parse().unwrap();
    let phantom = PhantomConfig::load(std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/phantoms/astm_f2182.toml")))?;
    let placed = place(&implant, &phantom, &Placement::new("diag", [0.0; 3], [0.0, 0.0, 1.0], 0.0)?)?;
    let m = &phantom.material;
    let e0 = [0.0, 0.0, 100.0].map(|v| Complex64::new(v, 0.0));
    let pw = Arc::new(rftwin::fdtd::PlaneWave::new(64e6, m.eps_r, m.sigma_s_per_m, [1.0, 0.0, 0.0], e0, [0.0; 3])?);
    let opt = LocalOptions { cell_m: cell, pad_m: 0.01, ..LocalOptions::default() };
    let t0 = std::time::Instant::now();
    let lf = run_local(&placed, &phantom, pw, &opt)?;
    eprintln!("run {:.1} s", t0.elapsed().as_secs_f64());
    let sar_in = lf.sar_input(true)?;
    let p = point_sar(&sar_in);
    let g = &lf.cells;
    let idx = |x: f64, a: usize| ((x - g.origin_m[a]) / g.spacing_m[a]).floor() as isize;
    let (tip, far) = (placed.path_m[0], *placed.path_m.last().unwrap());
    let (ix, iy) = (idx(tip[0] + 1e-9, 0), idx(tip[1] + 1e-9, 1));
    let (k0, k1) = (idx(tip[2], 2) - 6, idx(far[2], 2) + 6);
    println!("z_mm ring1 ring2 ring3 (W/kg)");
    for k in k0.max(0)..=k1.min(g.dims[2] as isize - 1) {
        let at = |i: isize, j: isize| p[[i as usize, j as usize, k as usize]];
        let r1 = at(ix, iy).max(at(ix - 1, iy)).max(at(ix, iy - 1)).max(at(ix - 1, iy - 1));
        let z = g.origin_m[2] + (k as f64) * g.spacing_m[2];
        println!("{:7.1} {:10.2} {:10.2} {:10.2}", z * 1e3, r1, at(ix + 1, iy), at(ix + 2, iy));
    }
    let s1 = mass_averaged_sar(&sar_in, 1e-3)?;
    for (name, e) in [("tip", tip), ("far", far)] {
        let mut best = 0.0f32;
        for ((i, j, k), v) in s1.sar_w_per_kg.indexed_iter() {
            let c = g.position(i, j, k);
            let d2: f64 = (0..3).map(|a| (c[a] - e[a]).powi(2)).sum();
            if d2 < 0.015f64.powi(2) {
                best = best.max(*v);
            }
        }
        println!("{name}: peak 1 g SAR within 15 mm: {best:.2} W/kg");
    }
    Ok(())
}
