//! B1 maps in HDF5.
//!
//! Layout (what [`write_h5_map`] writes and [`read_h5_map`] reads):
//! - dataset `NAME` (default `b1`): a 3-D array `[i][j][k]`, real (any integer or float type) or
//!   complex (h5py-style compound `r`/`i`; magnitude and phase are taken from it);
//! - its attributes: `unit` (`uT`, `deg`, `percent`, `fraction`), `nominal_flip_deg` and `flip_scale`
//!   for flip-angle maps, `frame` (`scanner_ras` or `simulation`, default `simulation`), and the
//!   placement: `affine` (4x4 or 3x4, voxel index → world, metres) or else `origin_m` (position of
//!   voxel `[0,0,0]`) and `spacing_m` (3 values, metres);
//! - optional datasets `NAME_phase_rad` (B1+ phase, rad) and `NAME_mask` (nonzero = use), same shape.

use std::path::Path;

use hdf5::types::{TypeDescriptor, VarLenAscii, VarLenUnicode};
use ndarray::{s, Array2, Array3, Ix3};
use num_complex::Complex32;

use super::affine::Affine;
use super::map::{B1Map, B1Unit, Frame, UnitKeys};
use crate::error::{Error, Result};
use crate::grid::RegularField;

/// How to name the map's dataset.
const DATASET_FIX: &str = "name the dataset that holds the B1 map: `--dataset NAME` (rftwin twin fit) or \
                           `measured_dataset = \"NAME\"` in the recipe's [twin] section";

/// `; hint` when the hint is not empty.
fn hint(h: &str) -> String {
    if h.is_empty() {
        String::new()
    } else {
        format!("; {h}")
    }
}

fn herr(path: &Path, key: &str, e: impl std::fmt::Display, fix: &str) -> Error {
    Error::input(&path.display().to_string(), key, format!("{e}"), fix)
}

fn read_str_attr(ds: &hdf5::Dataset, name: &str) -> Option<String> {
    let a = ds.attr(name).ok()?;
    if let Ok(v) = a.read_scalar::<VarLenUnicode>() {
        return Some(v.as_str().to_string());
    }
    if let Ok(v) = a.read_scalar::<VarLenAscii>() {
        return Some(v.as_str().to_string());
    }
    None
}

fn read_f64_attr(ds: &hdf5::Dataset, name: &str) -> Option<f64> {
    ds.attr(name).ok()?.read_scalar::<f64>().ok()
}

fn read_vec3_attr(path: &Path, ds: &hdf5::Dataset, name: &str) -> Result<Option<[f64; 3]>> {
    let Ok(a) = ds.attr(name) else { return Ok(None) };
    let v = a
        .read_raw::<f64>()
        .map_err(|e| herr(path, name, e, "write 3 numbers in metres"))?;
    if v.len() != 3 || v.iter().any(|x| !x.is_finite()) {
        return Err(Error::input(
            &path.display().to_string(),
            name,
            format!("expected 3 finite values, found {v:?}"),
            "write 3 numbers in metres",
        ));
    }
    Ok(Some([v[0], v[1], v[2]]))
}

/// The placement of a dataset: `affine` attribute, else `origin_m` + `spacing_m`.
fn read_affine(path: &Path, ds: &hdf5::Dataset) -> Result<Affine> {
    let name = path.display().to_string();
    if let Ok(a) = ds.attr("affine") {
        let v = a
            .read_raw::<f64>()
            .map_err(|e| herr(path, "affine", e, "write a 4x4 float array (m)"))?;
        if v.len() != 16 && v.len() != 12 {
            return Err(Error::input(
                &name,
                "affine",
                format!("affine has {} values, expected 16 (4x4) or 12 (3x4)", v.len()),
                "write the voxel-to-world affine as a 4x4 array in metres",
            ));
        }
        let mut m = Affine::identity().m;
        for r in 0..v.len() / 4 {
            for c in 0..4 {
                m[r][c] = v[4 * r + c];
            }
        }
        let aff = Affine { m };
        aff.inverse(&name)?;
        return Ok(aff);
    }
    match (
        read_vec3_attr(path, ds, "origin_m")?,
        read_vec3_attr(path, ds, "spacing_m")?,
    ) {
        (Some(o), Some(s)) => {
            let aff = Affine::from_origin_spacing(o, s);
            aff.inverse(&name)?;
            Ok(aff)
        }
        _ => Err(Error::input(
            &name,
            "affine",
            "the dataset has neither an `affine` attribute nor `origin_m` and `spacing_m`",
            "add attribute `affine` (4x4, voxel index -> world, m) or `origin_m` and `spacing_m` (m)",
        )),
    }
}

/// Reads a 3-D dataset, or volume `volume` (along the last axis) of a 4-D one, as f32 (real) or as
/// magnitude + phase (complex). The size is checked before anything is allocated.
fn read_3d(
    path: &Path,
    ds: &hdf5::Dataset,
    key: &str,
    volume: Option<usize>,
) -> Result<(Array3<f32>, Option<Array3<f32>>)> {
    let name = path.display().to_string();
    let shape = ds.shape();
    if ds.ndim() != 3 && ds.ndim() != 4 {
        return Err(Error::input(
            &name,
            key,
            format!(
                "dataset has rank {} (shape {shape:?}), a B1 map needs 3 (or 4 with a volume index)",
                ds.ndim()
            ),
            "store the map as a 3-D array [i][j][k] (a single slice as [nx][ny][1])",
        ));
    }
    let n = shape.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d as u64));
    if !matches!(n, Some(n) if (1..=super::nifti_io::MAX_MAP_VOXELS).contains(&n)) {
        return Err(Error::input(
            &name,
            key,
            format!(
                "dataset shape {shape:?} holds {} voxels; a B1 map needs between 1 and 2^31",
                n.map(|n| n.to_string()).unwrap_or_else(|| "more than 2^64".into())
            ),
            "store a non-empty map of at most 2^31 voxels (crop or downsample it)",
        ));
    }
    let nt = if ds.ndim() == 4 { shape[3] } else { 1 };
    // One volume read (complex: 8 bytes) and what a fit keeps of it: ~24 bytes a voxel.
    crate::resources::check_bytes(
        &name,
        key,
        &format!("the map dataset of shape {shape:?}"),
        crate::resources::bytes_of(n.map(|n| n / nt.max(1) as u64), 24),
        |_| "crop or downsample the map to the phantom's region before fitting".into(),
    )?;
    let v = match volume {
        Some(v) if v >= nt => {
            return Err(Error::input(
                &name,
                key,
                format!("volume {v} requested but the dataset holds {nt} volume(s) (shape {shape:?})"),
                format!("choose a 0-based volume index below {nt}"),
            ))
        }
        Some(v) => v,
        None if nt > 1 => return Err(Error::input(
            &name,
            key,
            format!(
                "the dataset is 4-D with {nt} volumes along its last axis (shape {shape:?}) and no volume was chosen"
            ),
            format!(
                "choose one, 0-based (0 to {}): `--volume N` (rftwin twin fit) or `measured_volume = N` in the \
                     recipe's [twin] section",
                nt - 1
            ),
        )),
        None => 0,
    };
    let dt = ds
        .dtype()
        .and_then(|t| t.to_descriptor())
        .map_err(|e| herr(path, key, e, "store float or integer data"))?;
    let four = ds.ndim() == 4;
    match dt {
        TypeDescriptor::Compound(_) => {
            let c = if four {
                ds.read_slice::<Complex32, _, Ix3>(s![.., .., .., v])
            } else {
                ds.read::<Complex32, Ix3>()
            }
            .map_err(|e| herr(path, key, e, "store complex data as an h5py-style compound (r, i)"))?;
            Ok((c.mapv(|z| z.norm()), Some(c.mapv(|z| z.arg()))))
        }
        TypeDescriptor::Integer(_) | TypeDescriptor::Unsigned(_) | TypeDescriptor::Float(_) => Ok((
            if four {
                ds.read_slice::<f32, _, Ix3>(s![.., .., .., v])
            } else {
                ds.read::<f32, Ix3>()
            }
            .map_err(|e| herr(path, key, e, "store float or integer data"))?,
            None,
        )),
        other => Err(Error::input(
            &name,
            key,
            format!("unsupported data type {other:?}"),
            "store float, integer or complex data",
        )),
    }
}

/// Options for reading a map from HDF5.
#[derive(Clone, Debug, Default)]
pub struct H5MapOptions {
    /// Dataset path; default `b1`, or the only 3-D dataset at the root.
    pub dataset: Option<String>,
    /// Unit declared by the user; overrides the `unit` attribute.
    pub unit: Option<B1Unit>,
    /// World frame; overrides the `frame` attribute.
    pub frame: Option<Frame>,
    /// 0-based volume index along the last axis of a 4-D dataset (needed when it holds more than
    /// one volume); the phase and mask datasets, when 4-D, give the same volume.
    pub volume: Option<usize>,
    /// Nominal flip angle (degrees) and stored units per degree of a flip-angle map; override the
    /// attributes `nominal_flip_deg` and `flip_scale` (not used with `unit`).
    pub nominal_flip_deg: Option<f64>,
    pub flip_scale: Option<f64>,
    /// The options that declare the unit and name the dataset where the map was named, appended to
    /// the fixes of unit and dataset errors; empty: none.
    pub options_hint: String,
}

/// Reads a B1 map (and its phase and mask when present) from HDF5; see the module docs for the layout.
pub fn read_h5_map(path: &Path, opts: &H5MapOptions) -> Result<B1Map> {
    let name = path.display().to_string();
    let file = hdf5::File::open(path).map_err(|e| herr(path, "file", e, "give an existing HDF5 file"))?;
    let dname = match &opts.dataset {
        Some(d) => d.clone(),
        None if file.link_exists("b1") => "b1".to_string(),
        None => {
            let cands: Vec<String> = file
                .member_names()
                .unwrap_or_default()
                .into_iter()
                .filter(|n| file.dataset(n).map(|d| d.ndim() == 3 || d.ndim() == 4).unwrap_or(false))
                .filter(|n| !n.ends_with("_phase_rad") && !n.ends_with("_mask"))
                .collect();
            if cands.len() != 1 {
                return Err(Error::input(
                    &name,
                    "dataset",
                    format!(
                        "no dataset `b1` and {} candidate 3-D datasets at the root: {cands:?}",
                        cands.len()
                    ),
                    DATASET_FIX,
                ));
            }
            cands[0].clone()
        }
    };
    let ds = file.dataset(&dname).map_err(|e| {
        let names = file.member_names().unwrap_or_default();
        Error::input(
            &name,
            &dname,
            format!("cannot open dataset: {e} (the file's root holds {names:?})"),
            DATASET_FIX,
        )
    })?;
    let (mag, mut phase) = read_3d(path, &ds, &dname, opts.volume)?;
    let affine = read_affine(path, &ds)?;
    let unit =
        match (opts.unit, read_str_attr(&ds, "unit")) {
            (Some(u), _) => u,
            (None, Some(text)) => B1Unit::parse_keyed(
                &text,
                opts.nominal_flip_deg.or_else(|| read_f64_attr(&ds, "nominal_flip_deg")),
                opts.flip_scale.or_else(|| read_f64_attr(&ds, "flip_scale")),
                &name,
                &UnitKeys::h5_attributes(&dname).with_options(&opts.options_hint),
            )?,
            (None, None) => return Err(Error::input(
                &name,
                &format!("{dname}.unit"),
                "the units of the B1 map are not given (no `unit` attribute, none declared)",
                format!(
                    "add the string attribute unit = uT | percent | fraction | deg to dataset {dname} (deg also needs nominal_flip_deg and flip_scale){}",
                    hint(&opts.options_hint)
                ),
            )),
        };
    let frame = match (opts.frame, read_str_attr(&ds, "frame")) {
        (Some(f), _) => f,
        (None, Some(t)) => Frame::parse(&t, &name)?,
        (None, None) => Frame::Simulation,
    };
    let pname = format!("{dname}_phase_rad");
    if file.link_exists(&pname) {
        let pds = file
            .dataset(&pname)
            .map_err(|e| herr(path, &pname, e, "check the phase dataset"))?;
        phase = Some(read_3d(path, &pds, &pname, opts.volume)?.0);
    }
    let mname = format!("{dname}_mask");
    let mask = if file.link_exists(&mname) {
        let mds = file
            .dataset(&mname)
            .map_err(|e| herr(path, &mname, e, "check the mask dataset"))?;
        Some(
            read_3d(path, &mds, &mname, opts.volume)?
                .0
                .mapv(|v| v != 0.0 && v.is_finite()),
        )
    } else {
        None
    };
    let map = B1Map {
        magnitude: mag,
        phase_rad: phase,
        affine,
        frame,
        unit,
        mask,
        source: name,
    };
    map.validate()?;
    Ok(map)
}

fn h5w(path: &Path, e: hdf5::Error) -> Error {
    crate::error::write_error(path, e)
}

fn write_str(ds: &hdf5::Dataset, name: &str, value: &str) -> hdf5::Result<()> {
    let v: VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e:?}").as_str()))?;
    ds.new_attr::<VarLenUnicode>().create(name)?.write_scalar(&v)
}

/// Writes a map to a new HDF5 file as dataset `dataset` (plus `_phase_rad` and `_mask` when present),
/// with the `affine`, `unit` and `frame` attributes (and `origin_m`/`spacing_m` when the affine is
/// axis-aligned).
pub fn write_h5_map(path: &Path, map: &B1Map, dataset: &str) -> Result<()> {
    map.validate()?;
    let file = hdf5::File::create(path).map_err(|e| h5w(path, e))?;
    let ds = file
        .new_dataset_builder()
        .with_data(&map.magnitude)
        .create(dataset)
        .map_err(|e| h5w(path, e))?;
    let aff = Array2::from_shape_fn((4, 4), |(r, c)| map.affine.m[r][c]);
    ds.new_attr::<f64>()
        .shape([4, 4])
        .create("affine")
        .and_then(|a| a.write(&aff))
        .map_err(|e| h5w(path, e))?;
    let lin = map.affine.linear();
    let axis_aligned = (0..3).all(|a| (0..3).all(|b| a == b || lin[a][b] == 0.0)) && (0..3).all(|a| lin[a][a] > 0.0);
    if axis_aligned {
        let o = map.affine.offset();
        let s = [lin[0][0], lin[1][1], lin[2][2]];
        ds.new_attr::<f64>()
            .shape([3])
            .create("origin_m")
            .and_then(|a| a.write(&o))
            .map_err(|e| h5w(path, e))?;
        ds.new_attr::<f64>()
            .shape([3])
            .create("spacing_m")
            .and_then(|a| a.write(&s))
            .map_err(|e| h5w(path, e))?;
    }
    write_str(&ds, "unit", map.unit.as_str()).map_err(|e| h5w(path, e))?;
    write_str(&ds, "frame", map.frame.as_str()).map_err(|e| h5w(path, e))?;
    if let B1Unit::FlipAngleDeg { nominal_deg, scale } = map.unit {
        for (k, v) in [("nominal_flip_deg", nominal_deg), ("flip_scale", scale)] {
            ds.new_attr::<f64>()
                .create(k)
                .and_then(|a| a.write_scalar(&v))
                .map_err(|e| h5w(path, e))?;
        }
    }
    if let Some(p) = &map.phase_rad {
        file.new_dataset_builder()
            .with_data(p)
            .create(format!("{dataset}_phase_rad").as_str())
            .map_err(|e| h5w(path, e))?;
    }
    if let Some(m) = &map.mask {
        file.new_dataset_builder()
            .with_data(&m.mapv(|b| b as u8))
            .create(format!("{dataset}_mask").as_str())
            .map_err(|e| h5w(path, e))?;
    }
    file.flush().map_err(|e| h5w(path, e))
}

/// Reads one complex field dataset written by `rftwin fdtd run` (`PROBE/Hx_f0` etc., attributes
/// `origin_m`, `spacing_m`), as a regular field in the simulation frame.
pub fn read_h5_field(path: &Path, dataset: &str) -> Result<RegularField<Complex32>> {
    let file = hdf5::File::open(path).map_err(|e| herr(path, "file", e, "give an existing HDF5 file"))?;
    let ds = file.dataset(dataset).map_err(|e| {
        herr(
            path,
            dataset,
            format!("cannot open dataset: {e}"),
            "name an existing field dataset",
        )
    })?;
    if ds.ndim() != 3 {
        return Err(Error::input(
            &path.display().to_string(),
            dataset,
            format!("rank {} dataset, expected 3", ds.ndim()),
            "name a 3-D field dataset",
        ));
    }
    let n = ds.shape().iter().try_fold(1u64, |acc, d| acc.checked_mul(*d as u64));
    if !matches!(n, Some(n) if n <= super::nifti_io::MAX_MAP_VOXELS) {
        return Err(Error::input(
            &path.display().to_string(),
            dataset,
            format!("dataset shape {:?} holds more than 2^31 values", ds.shape()),
            "give a field file written by rftwin (its header may be damaged)",
        ));
    }
    let data = ds
        .read::<Complex32, Ix3>()
        .map_err(|e| herr(path, dataset, e, "name a complex field dataset"))?;
    let o = read_vec3_attr(path, &ds, "origin_m")?;
    let s = read_vec3_attr(path, &ds, "spacing_m")?;
    match (o, s) {
        (Some(o), Some(s)) => RegularField::new(data, o, s),
        _ => Err(Error::input(
            &path.display().to_string(),
            dataset,
            "missing `origin_m`/`spacing_m` attributes",
            "write the field with rftwin (io::write_h5_fields)",
        )),
    }
}
