//! Measured and simulated B1 maps.
//!
//! - [`B1Map`]: a measured map (magnitude, optional phase and mask) on a voxel grid with a voxel-index →
//!   world affine in metres, its [`Frame`] (scanner RAS+ for NIfTI from the scanner, or rftwin's
//!   simulation frame) and its [`B1Unit`] (µT, flip angle with nominal angle and storage scale,
//!   relative fraction or percent), with conversions (`α = γ ∫B1 dt` ⇒ relative B1 = α / α_nominal).
//! - Readers and writers: NIfTI-1/2 (`.nii`, `.nii.gz`; sform, else qform, else pixdim; mm → m) and
//!   HDF5 (dataset with `affine` or `origin_m`/`spacing_m`, `unit`, `frame` attributes); a reader of
//!   DICOM series (`dicom_io`: classic and enhanced multi-frame, with the dicom-rs crates).
//! - What a scanner's map is (`vendor`: Siemens tfl_b1map/rf_map, Philips, GE, BIDS TB1* from the
//!   dcm2niix sidecar or the DICOM attributes) and patient coordinates → the coil frame (`patient`:
//!   patient and table position; the coil frame's axes and B1+ rotation sense are written there).
//! - Masks from a file on the same grid or from the phantom [`Shape`](crate::grid::Shape) minus a border;
//!   the automatic mask, the background noise, the phantom coverage and the quality gates (`quality`).
//! - A measured map as the user names it (`read`: unit, nominal flip angle, scale, dataset, volume,
//!   mask options of `twin fit` and recipes), converted to µT or relative B1.
//! - Resampling of a simulated [`RegularField`](crate::grid::RegularField) onto a measured grid
//!   (trilinear, through the affine), with a [`RigidTransform`] of the phantom and analytic
//!   derivatives for the fit.
//!
//! The simulated maps come from the coil run ([`crate::coil::run`]; B1 algebra in
//! [`crate::coil::field`]). Depends on `grid`, `io`, `resources` and `error` only.

pub mod affine;
pub mod dicom_io;
pub mod h5_io;
pub mod map;
pub mod map_file;
pub mod mask;
pub mod nifti_io;
pub mod nifti_write;
pub mod patient;
pub mod quality;
pub mod read;
pub mod resample;
pub mod vendor;

pub use affine::{Affine, RigidTransform};
pub use h5_io::{read_h5_field, read_h5_map, write_h5_map, H5MapOptions};
pub use map::{nominal_b1_ut_rect, B1Map, B1Unit, Frame, RelativeScale, UnitKeys, GAMMA_BAR_PROTON_HZ_PER_T};
pub use mask::{dilated, eroded, mask_from_file, mask_from_shape, mask_from_shape_grid};
pub use quality::{MapQuality, NoiseEstimate};
pub use dicom_io::{is_dicom_input, read_dicom_series, DicomSeries};
pub use patient::{FrameChoice, PatientPosition};
pub use vendor::{recognise, Recognised, ScanInfo};
pub use read::{read_measured, MapReadOptions, MeasuredMap, OptionNames};
pub use nifti_io::{
    read_nifti_header, read_nifti_map, read_nifti_volume, sidecar_path, NiftiHeaderInfo, NiftiMapOptions,
    NiftiVolume, XformSource, MAX_MAP_VOXELS,
};
pub use nifti_write::{write_nifti_map, write_nifti_volume, NiftiVersion};
pub use resample::{resample, resample_with_jacobian, Placement, ResampledWithJacobian};

/// Reads a measured map by file name: `.nii`/`.nii.gz` as NIfTI, `.h5`/`.hdf5` as HDF5 (default dataset),
/// with an optional declared unit. A 4-D map is an error here (see [`read_map_volume`]).
pub fn read_map(path: &std::path::Path, unit: Option<B1Unit>) -> crate::error::Result<B1Map> {
    read_map_volume(path, unit, None)
}

/// [`read_map`] with a 0-based volume index for 4-D maps (NIfTI `dim[4]`, the last axis of an HDF5
/// dataset); `None` accepts only single-volume maps.
pub fn read_map_volume(
    path: &std::path::Path,
    unit: Option<B1Unit>,
    volume: Option<usize>,
) -> crate::error::Result<B1Map> {
    let lower = path.to_string_lossy().to_ascii_lowercase();
    if lower.ends_with(".h5") || lower.ends_with(".hdf5") {
        read_h5_map(
            path,
            &H5MapOptions {
                unit,
                volume,
                ..Default::default()
            },
        )
    } else if lower.ends_with(".nii") || lower.ends_with(".nii.gz") {
        read_nifti_map(
            path,
            &NiftiMapOptions {
                unit,
                volume,
                ..Default::default()
            },
        )
    } else {
        Err(crate::error::Error::input(
            &path.display().to_string(),
            "measured",
            "unknown map format",
            "give a .nii, .nii.gz, .h5 or .hdf5 file",
        ))
    }
}
