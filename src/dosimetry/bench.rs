//! The two dosimetry speed benchmarks as library functions (for `rftwin bench` and `benches/dosimetry.rs`).
//!
//! * [`bench_averaging_10g`]: 10 g IEC/IEEE 62704-1 averaging on an `n^3` grid (target: n = 200, 8 M
//!   voxels, <= 10 s on 2 cores);
//! * [`bench_thermal_exposure`]: a 15-minute Pennes exposure on an `n^3` grid (target: n = 100, 1 M voxels,
//!   1 mm voxels with a metal implant, <= 30 s on 2 cores).

use std::time::Instant;

use ndarray::Array3;
use serde::Serialize;

use super::sar::{self, SarInput};
use super::thermal::{Boundaries, Boundary, Probe, ThermalMaterial, ThermalModel, ThermalSettings};
use super::VoxelGrid;
use crate::error::Result;

/// One benchmark measurement.
#[derive(Clone, Debug, Serialize)]
pub struct BenchTiming {
    pub name: String,
    /// Grid voxels.
    pub voxels: usize,
    /// Wall time of the measured call (s).
    pub seconds: f64,
    /// rayon threads available.
    pub threads: usize,
    /// What was run and a result, in words.
    pub detail: String,
}

/// A body-like test phantom on an `n^3` grid of 1 mm voxels: an ellipsoid of muscle-like tissue
/// (1050 kg/m^3) with a fat-like shell (910 kg/m^3), two air-filled "lungs", air around, and a smooth
/// loss density with a hot spot (peak point SAR about 20 W/kg).
pub fn averaging_phantom(n: usize) -> Result<SarInput> {
    let d = 1e-3;
    let c = (n as f64 - 1.0) / 2.0;
    let mut rho = Array3::<f32>::zeros((n, n, n));
    let mut p = Array3::<f32>::zeros((n, n, n));
    let (ax, ay, az) = (0.47 * n as f64, 0.40 * n as f64, 0.47 * n as f64);
    ndarray::Zip::indexed(&mut rho)
        .and(&mut p)
        .par_for_each(|(i, j, k), r, pw| {
            let (x, y, z) = ((i as f64 - c) / ax, (j as f64 - c) / ay, (k as f64 - c) / az);
            let q = x * x + y * y + z * z;
            if q > 1.0 {
                return;
            }
            let lung = |xc: f64| {
                let (u, v, w) = ((x - xc) / 0.25, y / 0.35, (z - 0.2) / 0.4);
                u * u + v * v + w * w < 1.0
            };
            if lung(-0.4) || lung(0.4) {
                return;
            }
            let dens = if q > 0.85 { 910.0 } else { 1050.0 };
            *r = dens as f32;
            let hot = (-((x - 0.6).powi(2) + (y + 0.1).powi(2) + z * z) / 0.01).exp();
            let sar = 0.5 + 2.0 * q + 18.0 * hot + 0.3 * ((i * 7 + j * 3 + k) % 11) as f64 / 11.0;
            *pw = (sar * dens) as f32;
        });
    SarInput::from_power_density("benchmark phantom", p, rho, VoxelGrid::new([d; 3])?)
}

/// Times 10 g averaging on [`averaging_phantom`]`(n)`.
pub fn bench_averaging_10g(n: usize) -> Result<BenchTiming> {
    let input = averaging_phantom(n)?;
    let t0 = Instant::now();
    let a = sar::mass_averaged_sar(&input, sar::MASS_10G_KG)?;
    let seconds = t0.elapsed().as_secs_f64();
    Ok(BenchTiming {
        name: "sar_10g_averaging".into(),
        voxels: n * n * n,
        seconds,
        threads: rayon::current_num_threads(),
        detail: format!(
            "10 g averaging, {n}^3 voxels of 1 mm: psSAR10g {:.3} W/kg at {:?}; valid {}, used {}, unused {}, unassigned {}, air {}",
            a.peak.sar_w_per_kg, a.peak.index, a.counts.valid, a.counts.used, a.counts.unused, a.counts.unassigned, a.counts.air
        ),
    })
}

/// The thermal benchmark model: an ASTM F2182-like gel box filling an `n^3` grid of 1 mm voxels
/// (convective top, insulating elsewhere), a 1 mm x 1 mm stainless-steel rod of length `0.6 n` mm along x
/// through the centre, and a loss density with hot spots (about 40 W/kg) at both rod tips on a 2 W/kg
/// background. Returns the model, the loss density (W/m^3) and two tip probes.
pub fn thermal_phantom(n: usize) -> Result<(ThermalModel, Array3<f32>, Vec<Probe>)> {
    let d = 1e-3;
    let gel = ThermalMaterial::astm_gel();
    let steel = ThermalMaterial::stainless_steel();
    let c = n / 2;
    let (x0, x1) = (n / 5, n / 5 + (3 * n) / 5);
    let mut labels = Array3::<u8>::zeros((n, n, n));
    for i in x0..x1 {
        labels[[i, c, c]] = 1;
    }
    let grid = VoxelGrid::new([d; 3])?;
    let mut b = Boundaries::uniform(Boundary::Insulating);
    b.faces[3] = Boundary::Convective {
        h_w_per_m2_k: 10.0,
        ambient_c: 22.0,
    };
    let model = ThermalModel::from_labels("benchmark phantom", &labels, &[Some(gel.clone()), Some(steel)], grid, b)?;
    let mut p = Array3::<f32>::zeros((n, n, n));
    let tip = |i: usize, j: usize, k: usize, xt: usize| {
        let r2 =
            ((i as f64 - xt as f64).powi(2) + (j as f64 - c as f64).powi(2) + (k as f64 - c as f64).powi(2)) * d * d;
        (-r2 / (2.0 * (2e-3f64).powi(2))).exp()
    };
    ndarray::Zip::indexed(&mut p)
        .and(&labels)
        .par_for_each(|(i, j, k), p, l| {
            if *l == 0 {
                let sar = 2.0 + 38.0 * (tip(i, j, k, x0 - 1) + tip(i, j, k, x1));
                *p = (sar * gel.density_kg_per_m3) as f32;
            }
        });
    let probes = vec![
        Probe::point("tip_low", grid.centre_m([x0 - 1, c, c])),
        Probe::sphere("tip_high_1mm", grid.centre_m([x1, c, c]), 1e-3),
        Probe::point("background", grid.centre_m([c, c / 3, c])),
    ];
    Ok((model, p, probes))
}

/// Times a 15-minute exposure (time step `dt_s`) on [`thermal_phantom`]`(n)`.
pub fn bench_thermal_exposure(n: usize, dt_s: f64) -> Result<BenchTiming> {
    let (model, p, probes) = thermal_phantom(n)?;
    let settings = ThermalSettings {
        duration_s: 900.0,
        dt_s,
        initial_temperature_c: 22.0,
        ..ThermalSettings::default()
    };
    let t0 = Instant::now();
    let r = model.run(&p, &probes, &settings)?;
    let seconds = t0.elapsed().as_secs_f64();
    Ok(BenchTiming {
        name: "thermal_15min_exposure".into(),
        voxels: n * n * n,
        seconds,
        threads: rayon::current_num_threads(),
        detail: format!(
            "15 min Pennes exposure, {n}^3 voxels of 1 mm, stainless rod, dt {dt_s} s ({} steps x {} RKL2 stages): peak rise {:.3} K, tip probe rise {:.3} K, energy imbalance {:.2e}",
            r.steps,
            r.stages_per_step,
            r.peak_rise_k,
            r.probes.first().map_or(0.0, |p| p.peak_rise_k),
            r.energy.relative_imbalance
        ),
    })
}
