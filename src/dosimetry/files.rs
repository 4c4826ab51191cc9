//! The layouts of `sar.h5` and `heat.h5`: the one place that writes and reads them.
//!
//! # `sar.h5` (written by `rftwin sar`)
//! Every 3-D dataset is on the voxel-centre grid of the E probe (`[nx, ny, nz]`, z fastest) with
//! attributes `origin_m` (centre of voxel `[0, 0, 0]`), `spacing_m` and `unit`:
//! * `point_sar_w_per_kg`, `sar_1g_w_per_kg`, `sar_10g_w_per_kg` (f32, W/kg, after normalisation);
//! * `sar_1g_status`, `sar_10g_status` (u8, [`super::sar::VoxelStatus`]: 0 air, 1 valid, 2 used,
//!   3 unused, 4 unassigned);
//! * `power_density_w_per_m3` (f32, `sigma |E|^2 / 2` after normalisation: the heat source of `rftwin heat`),
//!   `density_kg_per_m3` (f32);
//! * the `materials/` group of [`super::io`] (labels on this grid, table with the TOML overrides);
//! * root attributes `power_factor` (normalisation factor on powers, 1 without) and `source` (field file).
//!
//! # `heat.h5` (written by `rftwin heat`)
//! `temperature_end_c` and `temperature_rise_end_k` (f32, on the SAR grid, attributes as in
//! `sar.h5`), `cem43_min` (when `[exposure] cem43_map = true`), `background_temperature_rise_end_k` (with
//! `[implant]`), and `probes/time_s` (f64 `[nt]`), `probes/temperature_c` (f64 `[n_probes, nt]`),
//! `probes/name` (strings).

use std::path::Path;

use ndarray::Array3;

use super::io::{self as dio, LabelGrid};
use super::sar::{AveragedSar, SarInput};
use super::thermal::ThermalResult;
use crate::error::{Error, Result};

/// What `sar.h5` holds.
pub struct SarH5<'a> {
    pub point: &'a Array3<f32>,
    pub sar_1g: &'a AveragedSar,
    pub sar_10g: &'a AveragedSar,
    pub input: &'a SarInput,
    pub labels: &'a LabelGrid,
    pub power_factor: f64,
    /// The field file the SAR came from.
    pub source: &'a str,
}

/// Writes `sar.h5` at `h5` (flushed before close, so a full disk is an error).
pub fn write_sar_h5(h5: &Path, s: &SarH5) -> Result<()> {
    let (o, d) = (s.labels.origin_m, s.labels.spacing_m);
    let (a1, a10, input) = (s.sar_1g, s.sar_10g, s.input);
    let file = hdf5::File::create(h5).map_err(|e| dio::write_error(h5, e))?;
    dio::write_h5_grid(&file, h5, "point_sar_w_per_kg", s.point, o, d, "W/kg")?;
    dio::write_h5_grid(&file, h5, "sar_1g_w_per_kg", &a1.sar_w_per_kg, o, d, "W/kg")?;
    dio::write_h5_grid(&file, h5, "sar_10g_w_per_kg", &a10.sar_w_per_kg, o, d, "W/kg")?;
    dio::write_h5_grid(&file, h5, "sar_1g_status", &a1.status, o, d, "1")?;
    dio::write_h5_grid(&file, h5, "sar_10g_status", &a10.status, o, d, "1")?;
    dio::write_h5_grid(&file, h5, "power_density_w_per_m3", input.power_density_w_per_m3(), o, d, "W/m^3")?;
    dio::write_h5_grid(&file, h5, "density_kg_per_m3", input.density_kg_per_m3(), o, d, "kg/m^3")?;
    dio::write_h5_materials(&file, h5, s.labels)?;
    dio::write_root_attr(&file, h5, "power_factor", s.power_factor)?;
    let src: hdf5::types::VarLenUnicode = s.source.parse().map_err(|e| Error::Other(format!("{e:?}")))?;
    file.new_attr::<hdf5::types::VarLenUnicode>()
        .create("source")
        .and_then(|a| a.write_scalar(&src))
        .map_err(|e| dio::write_error(h5, e))?;
    // HDF5 writes may sit in its cache until the file closes, where a failure (a full disk) would
    // go unreported: flush here so that it becomes an error.
    file.flush().map_err(|e| dio::write_error(h5, e))
}

/// Whether `path` is a `sar.h5` (it holds `power_density_w_per_m3`); an unreadable file is an error.
pub fn is_sar_h5(path: &Path) -> Result<bool> {
    hdf5::File::open(path)
        .map(|f| f.dataset("power_density_w_per_m3").is_ok())
        .map_err(|e| {
            Error::input(
                &path.display().to_string(),
                "file",
                format!("{e}"),
                "give a sar.h5 of `rftwin sar` or a fields.h5 of `rftwin fdtd run`",
            )
        })
}

/// The heat source stored in a `sar.h5`: the loss density with the density of its materials, the
/// material labels, and its `power_factor` (when present).
pub fn read_sar_h5_loss(path: &Path) -> Result<(SarInput, LabelGrid, Option<f64>)> {
    let name = path.display().to_string();
    let (p, _, _) = dio::read_h5_grid_f32(path, "power_density_w_per_m3")?;
    let labels = dio::read_h5_materials(path)?;
    let rho = labels
        .labels
        .mapv(|l| labels.table.density_kg_per_m3[l as usize] as f32);
    let input = SarInput::from_power_density(&name, p, rho, labels.voxel_grid()?)?;
    let pf = hdf5::File::open(path)
        .and_then(|f| f.attr("power_factor"))
        .and_then(|a| a.read_scalar::<f64>())
        .ok();
    Ok((input, labels, pf))
}

/// What `heat.h5` holds.
pub struct HeatH5<'a> {
    pub result: &'a ThermalResult,
    /// The background run's temperature rise at the end (with `[implant]`).
    pub background: Option<&'a Array3<f32>>,
    pub rise_end: &'a Array3<f32>,
    pub origin_m: [f64; 3],
    pub spacing_m: [f64; 3],
}

/// Writes `heat.h5` at `h5` (flushed before close).
pub fn write_heat_h5(h5: &Path, s: &HeatH5) -> Result<()> {
    let (o, d, result) = (s.origin_m, s.spacing_m, s.result);
    let herr = |e: hdf5::Error| dio::write_error(h5, e);
    let file = hdf5::File::create(h5).map_err(herr)?;
    let t_end = result.final_temperature_c.mapv(|t| t as f32);
    dio::write_h5_grid(&file, h5, "temperature_end_c", &t_end, o, d, "degC")?;
    dio::write_h5_grid(&file, h5, "temperature_rise_end_k", s.rise_end, o, d, "K")?;
    if let Some(c) = &result.cem43_map_min {
        dio::write_h5_grid(&file, h5, "cem43_min", c, o, d, "min")?;
    }
    if let Some(b) = s.background {
        dio::write_h5_grid(&file, h5, "background_temperature_rise_end_k", b, o, d, "K")?;
    }
    if !result.probes.is_empty() {
        let g = file.create_group("probes").map_err(herr)?;
        g.new_dataset_builder()
            .with_data(&ndarray::Array1::from(result.times_s.clone()))
            .create("time_s")
            .map_err(herr)?;
        let nt = result.times_s.len();
        let tc = ndarray::Array2::from_shape_fn((result.probes.len(), nt), |(i, j)| result.probes[i].temperature_c[j]);
        g.new_dataset_builder()
            .with_data(&tc)
            .create("temperature_c")
            .map_err(herr)?;
        let names: Vec<hdf5::types::VarLenUnicode> = result
            .probes
            .iter()
            .map(|p| {
                p.name
                    .parse()
                    .map_err(|e| Error::Other(format!("probe name {:?}: {e:?}", p.name)))
            })
            .collect::<Result<_>>()?;
        g.new_dataset_builder()
            .with_data(&ndarray::Array1::from(names))
            .create("name")
            .map_err(herr)?;
    }
    file.flush().map_err(herr)
}
