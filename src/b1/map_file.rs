//! Writing a B1 map to a file whose format follows its name (`.nii`/`.nii.gz`: NIfTI-1 with a JSON
//! sidecar for the unit; `.h5`/`.hdf5`: HDF5, dataset `b1`), under a temporary name beside the
//! target and then renamed: never a half-written map, never over one of the run's inputs.

use std::path::{Path, PathBuf};

use super::B1Map;
use crate::error::{Error, Result};
use crate::io::{AtomicFile, OutputPolicy};

/// The file format of a map, from its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapFormat {
    Nifti,
    Hdf5,
}

impl MapFormat {
    /// `.nii`/`.nii.gz` or `.h5`/`.hdf5` (any case); None otherwise.
    pub fn of(path: &Path) -> Option<MapFormat> {
        let lower = path.display().to_string().to_ascii_lowercase();
        if lower.ends_with(".nii") || lower.ends_with(".nii.gz") {
            Some(MapFormat::Nifti)
        } else if lower.ends_with(".h5") || lower.ends_with(".hdf5") {
            Some(MapFormat::Hdf5)
        } else {
            None
        }
    }
}

/// A map file being written (see the module documentation): made before the work, so that a bad
/// name or a refused target is an error before anything is computed.
pub struct MapOutput {
    file: AtomicFile,
    format: MapFormat,
    target: PathBuf,
}

impl MapOutput {
    /// Checks the name (`option` is the command-line option that gave it) and the output policy
    /// (the NIfTI sidecar is an output too).
    pub fn create(target: &Path, option: &str, policy: &OutputPolicy) -> Result<MapOutput> {
        let format = MapFormat::of(target).ok_or_else(|| {
            Error::input(
                "command line",
                option,
                format!("unknown map format '{}'", target.display()),
                "use .nii.gz, .nii or .h5",
            )
        })?;
        if format == MapFormat::Nifti {
            AtomicFile::check_extra(&super::sidecar_path(target), policy)?;
        }
        Ok(MapOutput {
            file: AtomicFile::new(target, policy)?,
            format,
            target: target.to_path_buf(),
        })
    }

    /// Writes the map (and its sidecar) and renames them into place.
    pub fn write(mut self, map: &B1Map) -> Result<()> {
        match self.format {
            MapFormat::Nifti => {
                super::write_nifti_map(self.file.path(), map, super::NiftiVersion::V1)?;
                let side = super::sidecar_path(self.file.path());
                self.file.sidecar(side, super::sidecar_path(&self.target));
            }
            MapFormat::Hdf5 => super::write_h5_map(self.file.path(), map, "b1")?,
        }
        self.file.commit().map(|_| ())
    }
}
