//! Mass-averaged SAR on a box cut out of a larger body (the local fine-grid box of an implant).
//!
//! IEC/IEEE 62704-1's rules for voxels that are not valid cube centres ("used": the largest average of
//! the valid cubes containing them; "unused": cubes anchored on a face) are meant for voxels near the
//! body's surface. At the faces of a local box that cuts through the gel the tissue does not end: the
//! gel beyond the box is simply not computed. There the standard's cube centred on the voxel exists in
//! the real phantom but cannot be evaluated, and the "used" rule gives such a voxel the average of a
//! valid cube reaching deeper into the box, towards the implant — a bright frame along the box's edge.
//!
//! [`mass_averaged_sar_in_cut_box`] therefore marks them honestly: a tissue voxel that is not a valid
//! centre and whose centred cube (edge `(m/rho)^(1/3)` at its own density) would cross a box face at
//! which the tissue continues (the outermost layer on that side, on the voxel's line, holds tissue)
//! gets [`VoxelStatus::Truncated`] and SAR NaN ("not evaluated"), and it is left out of the peak.

use super::averaging::finish;
use super::{mass_averaged_sar, AveragedSar, SarInput, VoxelStatus};
use crate::error::Result;

/// Mass-averaged SAR (IEC/IEEE 62704-1) on a box whose faces cut through the tissue: as
/// [`mass_averaged_sar`], with the voxels whose averaging cube the box truncates marked
/// [`VoxelStatus::Truncated`] (SAR NaN) and excluded from the peak (see the module documentation).
pub fn mass_averaged_sar_in_cut_box(input: &SarInput, mass_kg: f64) -> Result<AveragedSar> {
    let a = mass_averaged_sar(input, mass_kg)?;
    Ok(mask_truncated(input, a))
}

/// Marks the voxels of `a` whose centred cube the box's tissue-cutting faces truncate (see the module
/// documentation) and recomputes the counts and the peak.
pub fn mask_truncated(input: &SarInput, a: AveragedSar) -> AveragedSar {
    let rho = input.density_kg_per_m3();
    let dims = input.dims();
    let d = input.grid().voxel_size_m;
    let mass_kg = a.mass_kg;
    let (mut sar, mut status) = (a.sar_w_per_kg, a.status);
    for ((i, j, k), st) in status.indexed_iter_mut() {
        let r = rho[[i, j, k]] as f64;
        if !(r > 0.0) || *st == VoxelStatus::Valid as u8 {
            continue;
        }
        let half = 0.5 * (mass_kg / r).cbrt();
        let idx = [i, j, k];
        let cut = (0..3).any(|ax| {
            let n = dims[ax];
            let lo = (idx[ax] as f64 + 0.5) * d[ax];
            let hi = (n as f64 - idx[ax] as f64 - 0.5) * d[ax];
            let tissue_at = |at: usize| {
                let mut q = idx;
                q[ax] = at;
                rho[q] > 0.0
            };
            (lo < half && tissue_at(0)) || (hi < half && tissue_at(n - 1))
        });
        if cut {
            *st = VoxelStatus::Truncated as u8;
            sar[[i, j, k]] = f32::NAN;
        }
    }
    finish(input, mass_kg, sar, status)
}
