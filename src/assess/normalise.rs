//! Stage 2: the normalisation factor on power (fields scale by its square root), computed on the
//! twin's coarse grid; and the coarse grid's outputs after it (figure, `fields.h5` datasets).

use std::path::{Path, PathBuf};

use ndarray::Array3;

use super::twin::CoilTwin;
use super::Stage;
use crate::coil::b1_plus;
use crate::dosimetry::normalise::{normalise, Normalisation, NormaliseTarget};
use crate::dosimetry::run::NormaliseSpec;
use crate::dosimetry::sar::{point_sar, whole_phantom_sar, SarInput};
use crate::dosimetry::VoxelGrid;
use crate::error::Result;
use crate::grid::RegularField;
use crate::report::recipe::Recipe;
use crate::report::sections::normalisation::NormalisationFacts;
use crate::twin::TwinFields;

/// The normalisation and the coarse grid's SAR input after it.
pub(super) struct Normalised {
    pub normalisation: Normalisation,
    /// The twin's SAR input scaled by the normalisation.
    pub coarse_sar: SarInput,
    pub facts: NormalisationFacts,
}

/// The twin's dissipation at its cell centres (each E edge's loss shared by the cells around it in
/// proportion to their mass: [`crate::twin::TwinFields::power_density`]) with the densities there:
/// the coarse-grid SAR input.
fn twin_sar_input(tw: &TwinFields) -> Result<SarInput> {
    let g = tw.e.centre_grid()?;
    let mut rho = Array3::<f32>::zeros(g.dims);
    for ((i, j, k), r) in rho.indexed_iter_mut() {
        if let Some((_, _, d)) = tw.material_at(g.position(i, j, k)) {
            *r = d as f32;
        }
    }
    let p = tw.power_density(&g, &rho)?;
    let vg = VoxelGrid::new(g.spacing_m)?.with_origin([0, 1, 2].map(|a| g.origin_m[a] - 0.5 * g.spacing_m[a]));
    SarInput::from_power_density("coil twin fields", p, rho, vg)
}

/// Normalises the twin's fields to the recipe's target.
pub(super) fn run(recipe: &Recipe, twin: &CoilTwin) -> Result<Normalised> {
    normalise_fields(&twin.fields, recipe.normalisation)
}

/// Normalises twin fields to `spec` (whole-phantom SAR from the twin's own dissipation on its coarse
/// grid, B1+rms at the isocentre, input power or an operating mode): the one normalisation of
/// `assess` and `implant search`.
pub(super) fn normalise_fields(tw: &TwinFields, spec: NormaliseSpec) -> Result<Normalised> {
    let input = twin_sar_input(tw)?;
    let whole = whole_phantom_sar(&input)?;
    let target = match spec {
        NormaliseSpec::WholePhantom(s) => NormaliseTarget::WholePhantomSar { sar_w_per_kg: s },
        NormaliseSpec::Mode(mode) => NormaliseTarget::OperatingMode { mode },
        NormaliseSpec::B1RmsUt(b) => NormaliseTarget::B1PlusRms {
            b1_plus_rms_ut: b,
            solution_b1_plus_ut: tw.b1_plus_at([0.0; 3]).norm() * 1e6,
        },
        NormaliseSpec::PowerW(p) => NormaliseTarget::InputPower {
            input_power_w: p,
            solution_input_power_w: tw.input_power_w,
        },
    };
    let n = normalise(&whole, &target)?;
    let facts = NormalisationFacts {
        whole_phantom_sar_w_per_kg: n.whole_phantom_sar_w_per_kg,
        input_power_w: tw.input_power_w * n.power_factor,
        b1_plus_isocentre_ut: tw.b1_plus_at([0.0; 3]).norm() * 1e6 * n.field_factor,
        phantom_mass_kg: whole.total_mass_kg,
    };
    let coarse_sar = input.scaled(n.power_factor)?;
    Ok(Normalised {
        normalisation: n,
        coarse_sar,
        facts,
    })
}

/// The normalised twin on the coarse grid: |B1+| and point SAR, and their figure.
pub(super) struct CoarseFields {
    pub b1: RegularField<num_complex::Complex32>,
    /// |B1+| (µT) on the B1 grid.
    pub b1_abs_ut: Array3<f32>,
    /// Point SAR (W/kg) on the SAR grid, its first voxel's centre and voxel size.
    pub sar: Array3<f32>,
    pub sar_origin_m: [f64; 3],
    pub sar_voxel_m: [f64; 3],
    /// |E| (V/m, peak) at the coarse cell centres (the SAR grid).
    pub e_abs: Array3<f32>,
    /// `twin_fields.png`.
    pub figure: PathBuf,
    /// The implant positions in the figure's plane (coronal, through the isocentre): x, z (m).
    pub markers: Vec<[f64; 2]>,
}

/// |B1+| and point SAR of the normalised twin, with the implant positions to mark in its figure
/// ([`super::figures::coarse_fields_panel`]: the coronal plane through the isocentre).
pub(super) fn coarse_outputs(st: &Stage, twin: &CoilTwin, norm: &Normalised) -> Result<CoarseFields> {
    let tw = twin.fields.scaled(norm.normalisation.field_factor);
    let b1 = b1_plus(&tw.h)?;
    let b1_abs_ut = b1.data.mapv(|z| z.norm() * 1e6);
    let sar = point_sar(&norm.coarse_sar);
    let (_, e) = tw.e.at_centres()?;
    let mut e_abs = Array3::<f32>::zeros(sar.dim());
    ndarray::Zip::from(&mut e_abs)
        .and(&e[0])
        .and(&e[1])
        .and(&e[2])
        .for_each(|o, x, y, z| *o = (x.norm_sqr() + y.norm_sqr() + z.norm_sqr()).sqrt());
    let vg = norm.coarse_sar.grid();
    let c = twin.phantom.centre_m();
    let markers: Vec<[f64; 2]> = st
        .recipe
        .implants
        .iter()
        .map(|im| [c[0] + im.position_m[0], c[2] + im.position_m[2]])
        .collect();
    let out = CoarseFields {
        sar_origin_m: vg.centre_m([0, 0, 0]),
        sar_voxel_m: vg.voxel_size_m,
        b1,
        b1_abs_ut,
        sar,
        e_abs,
        figure: st.dir.path("twin_fields.png"),
        markers,
    };
    Ok(out)
}

/// The coarse datasets of `fields.h5` ([`write_coarse_fields`]).
pub(super) const COARSE_DATASETS: [&str; 3] = ["twin/b1_plus_abs", "twin/sar_point", "twin/e_abs"];

/// Writes the coarse |B1+| (µT), point SAR (W/kg, real) and |E| (V/m, peak, at the cell centres) into
/// `fields.h5` (`twin/b1_plus_abs`, `twin/sar_point`, `twin/e_abs`), each with its `unit` attribute.
pub(super) fn write_coarse_fields(h5: &hdf5::File, h5p: &Path, c: &CoarseFields) -> Result<()> {
    let b1 = &c.b1;
    let w = crate::dosimetry::io::write_h5_grid::<f32>;
    w(h5, h5p, COARSE_DATASETS[0], &c.b1_abs_ut, b1.origin_m, b1.spacing_m, "µT")?;
    w(h5, h5p, COARSE_DATASETS[1], &c.sar, c.sar_origin_m, c.sar_voxel_m, "W/kg")?;
    w(h5, h5p, COARSE_DATASETS[2], &c.e_abs, c.sar_origin_m, c.sar_voxel_m, "V/m")
}
