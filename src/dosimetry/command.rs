//! Command glue of the dosimetry module: the materials group that `rftwin fdtd run` writes into its
//! `fields.h5` (the label grid and material table that `rftwin sar` / `rftwin heat` read back, in
//! [`super::io`]'s layout).

use std::path::Path;

use crate::error::{Error, Result};
use crate::grid::VoxelModel;

/// The [`crate::fdtd::run_file::MaterialsWriter`] of `fdtd run`: the model's material label per cell
/// centre (spacing `spacing_m`) and material table, and the ports' CW input power when known.
pub fn write_fdtd_materials(
    file: &hdf5::File,
    path: &Path,
    model: &VoxelModel,
    spacing_m: [f64; 3],
    input_power_w: Option<f64>,
) -> Result<()> {
    let labels = ndarray::Array3::from_shape_vec(model.grid.dims(), model.cells().to_vec())
        .map_err(|e| Error::Other(e.to_string()))?;
    let grid = super::io::LabelGrid {
        labels,
        table: super::io::MaterialTable::from_materials(model.materials()),
        origin_m: model.grid.cell_centre(0, 0, 0),
        spacing_m,
    };
    super::io::write_h5_materials(file, path, &grid)?;
    if let Some(p) = input_power_w {
        super::io::write_root_attr(file, path, "input_power_w", p)?;
    }
    Ok(())
}
