//! Output plumbing shared by the stages: atomic output directories, JSON, and HDF5 field datasets.
//! No physics here.

use std::path::{Path, PathBuf};

use ndarray::Array3;
use num_complex::Complex32;

use crate::error::{Error, Result};

fn io_err(path: &Path, err: std::io::Error) -> Error {
    Error::Io {
        path: path.display().to_string(),
        err,
    }
}

/// An output directory written under a temporary name and renamed into place by [`AtomicDir::commit`].
/// Dropped without commit (error, panic), the temporary directory is removed: never a half output.
pub struct AtomicDir {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl AtomicDir {
    /// Starts writing `target` (which must not exist, unless `overwrite`).
    pub fn new(target: &Path, overwrite: bool) -> Result<Self> {
        if target.exists() && !overwrite {
            return Err(Error::input(
                &target.display().to_string(),
                "--out",
                "output directory already exists",
                "choose a new directory or pass --force",
            ));
        }
        let parent = target
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| io_err(parent, e))?;
        let name = target
            .file_name()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_else(|| "out".into());
        let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp).map_err(|e| io_err(&tmp, e))?;
        }
        std::fs::create_dir(&tmp).map_err(|e| io_err(&tmp, e))?;
        Ok(Self {
            tmp,
            target: target.to_path_buf(),
            done: false,
        })
    }
    /// Path of a file inside the (temporary) directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }
    /// Renames the finished directory into place.
    pub fn commit(mut self) -> Result<PathBuf> {
        if self.target.exists() {
            std::fs::remove_dir_all(&self.target).map_err(|e| io_err(&self.target, e))?;
        }
        std::fs::rename(&self.tmp, &self.target).map_err(|e| io_err(&self.target, e))?;
        self.done = true;
        Ok(self.target.clone())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// Writes pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| io_err(path, e))
}

/// One complex 3-D dataset with its placement on the grid.
pub struct FieldDataset<'a> {
    /// Path inside the file, e.g. `e/x`.
    pub name: String,
    pub data: &'a Array3<Complex32>,
    /// Position of element [0,0,0] (m).
    pub origin_m: [f64; 3],
    pub spacing_m: [f64; 3],
    pub unit: &'a str,
    pub freq_hz: f64,
    /// What the values are, e.g. "complex peak phasor, e^{+i w t}".
    pub quantity: &'a str,
}

fn h5err(path: &Path, e: hdf5::Error) -> Error {
    Error::Other(format!("HDF5 error writing {}: {e}", path.display()))
}

/// Writes complex datasets to a new HDF5 file, each with `origin_m`, `spacing_m`, `unit`,
/// `freq_hz` and `quantity` attributes.
pub fn write_h5_fields(path: &Path, sets: &[FieldDataset]) -> Result<()> {
    let file = hdf5::File::create(path).map_err(|e| h5err(path, e))?;
    for s in sets {
        let (group, leaf) = match s.name.rsplit_once('/') {
            Some((g, l)) => (Some(g), l),
            None => (None, s.name.as_str()),
        };
        let ds = match group {
            Some(g) => {
                let grp = match file.group(g) {
                    Ok(x) => x,
                    Err(_) => file.create_group(g).map_err(|e| h5err(path, e))?,
                };
                grp.new_dataset_builder()
                    .with_data(s.data)
                    .create(leaf)
                    .map_err(|e| h5err(path, e))?
            }
            None => file
                .new_dataset_builder()
                .with_data(s.data)
                .create(leaf)
                .map_err(|e| h5err(path, e))?,
        };
        ds.new_attr::<f64>()
            .shape([3])
            .create("origin_m")
            .and_then(|a| a.write(&s.origin_m))
            .map_err(|e| h5err(path, e))?;
        ds.new_attr::<f64>()
            .shape([3])
            .create("spacing_m")
            .and_then(|a| a.write(&s.spacing_m))
            .map_err(|e| h5err(path, e))?;
        ds.new_attr::<f64>()
            .create("freq_hz")
            .and_then(|a| a.write_scalar(&s.freq_hz))
            .map_err(|e| h5err(path, e))?;
        write_str_attr(&ds, "unit", s.unit).map_err(|e| h5err(path, e))?;
        write_str_attr(&ds, "quantity", s.quantity).map_err(|e| h5err(path, e))?;
    }
    Ok(())
}

fn write_str_attr(ds: &hdf5::Dataset, name: &str, value: &str) -> hdf5::Result<()> {
    let v: hdf5::types::VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e:?}").as_str()))?;
    ds.new_attr::<hdf5::types::VarLenUnicode>()
        .create(name)?
        .write_scalar(&v)
}
