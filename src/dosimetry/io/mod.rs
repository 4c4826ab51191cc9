//! Dosimetry file I/O: material label grids in HDF5, E phasors from `rftwin fdtd run` into a
//! [`SarInput`], the materials TOML of `rftwin sar` / `rftwin heat`, real-valued grid datasets and the
//! orthogonal-slice PNG panels.
//!
//! # Material grid (`materials/` group, written by `rftwin fdtd run` into `fields.h5`, and into `sar.h5`)
//! * `materials/label` (u8, `[nx, ny, nz]`, z fastest): material id per voxel; attributes `origin_m`
//!   (centre of voxel `[0, 0, 0]`, m), `spacing_m` (m), `unit` = "1";
//! * `materials/name` (variable-length UTF-8 strings, one per id), `materials/sigma_s_per_m` (f64, S/m;
//!   0 for PEC), `materials/density_kg_per_m3` (f64, kg/m^3; 0 = air/background), `materials/pec` (u8).
//!
//! Conductivity and density are per material (not per voxel) so that the materials TOML can override
//! them by name and give each material its thermal properties.
//!
//! # Grid datasets
//! Real 3-D datasets (f32 or u8) carry `origin_m` (position of element `[0, 0, 0]`, the voxel centre),
//! `spacing_m` and `unit` attributes, like the complex datasets of [`crate::io::write_h5_fields`].

use std::collections::BTreeMap;
use std::path::Path;

use hdf5::types::VarLenUnicode;
use ndarray::{s, Array1, Array3, Ix3};
use num_complex::Complex32;
use serde::Deserialize;

use super::sar::SarInput;
use super::thermal::{Boundaries, Boundary, Probe, ThermalMaterial};
use super::VoxelGrid;
use crate::b1::{RegularField, YeeVector};
use crate::error::{Error, Result};
use crate::fdtd::FieldKind;

fn h5e(path: &Path, key: &str, e: impl std::fmt::Display, fix: &str) -> Error {
    Error::input(&path.display().to_string(), key, format!("{e}"), fix)
}

fn h5w(path: &Path, e: hdf5::Error) -> Error {
    write_error(path, e)
}

pub use crate::error::write_error;

mod materials;

pub use materials::*;

// ---------------------------------------------------------------------------------------------------
// Material grids.

/// Electrical and mass properties per material id.
#[derive(Clone, Debug, PartialEq)]
pub struct MaterialTable {
    pub name: Vec<String>,
    pub sigma_s_per_m: Vec<f64>,
    pub density_kg_per_m3: Vec<f64>,
    pub pec: Vec<bool>,
}

impl MaterialTable {
    /// From the material list of an FDTD voxel model (PEC materials get conductivity 0: E vanishes there).
    pub fn from_materials(m: &[crate::grid::Material]) -> Self {
        Self {
            name: m.iter().map(|m| m.name.clone()).collect(),
            sigma_s_per_m: m.iter().map(|m| if m.pec { 0.0 } else { m.sigma_s_per_m }).collect(),
            density_kg_per_m3: m.iter().map(|m| m.density_kg_per_m3).collect(),
            pec: m.iter().map(|m| m.pec).collect(),
        }
    }
    pub fn len(&self) -> usize {
        self.name.len()
    }
    pub fn is_empty(&self) -> bool {
        self.name.is_empty()
    }
    /// Id of the material called `name`.
    pub fn id(&self, name: &str) -> Option<usize> {
        self.name.iter().position(|n| n == name)
    }
}

/// A material id per voxel centre and the material table.
#[derive(Clone, Debug)]
pub struct LabelGrid {
    pub labels: Array3<u8>,
    pub table: MaterialTable,
    /// Centre of voxel `[0, 0, 0]` (m).
    pub origin_m: [f64; 3],
    pub spacing_m: [f64; 3],
}

impl LabelGrid {
    /// Voxel count per material id.
    pub fn counts(&self) -> Vec<usize> {
        let mut c = vec![0usize; self.table.len().max(256)];
        for l in &self.labels {
            c[*l as usize] += 1;
        }
        c
    }
    /// The voxel geometry (origin at the low corner of voxel `[0, 0, 0]`).
    pub fn voxel_grid(&self) -> Result<VoxelGrid> {
        Ok(VoxelGrid::new(self.spacing_m)?
            .with_origin(std::array::from_fn(|a| self.origin_m[a] - 0.5 * self.spacing_m[a])))
    }
}

/// Writes a real 3-D dataset `name` (groups created as needed) with `origin_m`, `spacing_m`, `unit`.
pub fn write_h5_grid<T: hdf5::H5Type>(
    file: &hdf5::File,
    path: &Path,
    name: &str,
    data: &Array3<T>,
    origin_m: [f64; 3],
    spacing_m: [f64; 3],
    unit: &str,
) -> Result<()> {
    let ds = builder(file, path, name)?
        .with_data(data)
        .create(leaf(name))
        .map_err(|e| h5w(path, e))?;
    for (n, v) in [("origin_m", origin_m), ("spacing_m", spacing_m)] {
        ds.new_attr::<f64>()
            .shape([3])
            .create(n)
            .and_then(|a| a.write(&v))
            .map_err(|e| h5w(path, e))?;
    }
    crate::io::write_str_attr(&ds, "unit", unit).map_err(|e| h5w(path, e))
}

fn leaf(name: &str) -> &str {
    name.rsplit_once('/').map_or(name, |(_, l)| l)
}

fn builder(file: &hdf5::File, path: &Path, name: &str) -> Result<hdf5::DatasetBuilder> {
    Ok(match name.rsplit_once('/') {
        Some((g, _)) => {
            let grp = match file.group(g) {
                Ok(x) => x,
                Err(_) => file.create_group(g).map_err(|e| h5w(path, e))?,
            };
            grp.new_dataset_builder()
        }
        None => file.new_dataset_builder(),
    })
}

fn write_1d<T: hdf5::H5Type + Clone>(file: &hdf5::File, path: &Path, name: &str, data: &[T]) -> Result<()> {
    builder(file, path, name)?
        .with_data(&Array1::from_iter(data.iter().cloned()))
        .create(leaf(name))
        .map_err(|e| h5w(path, e))?;
    Ok(())
}

/// Writes a scalar f64 attribute on the file's root group.
pub fn write_root_attr(file: &hdf5::File, path: &Path, name: &str, v: f64) -> Result<()> {
    file.new_attr::<f64>()
        .create(name)
        .and_then(|a| a.write_scalar(&v))
        .map_err(|e| h5w(path, e))
}

/// Writes the `materials/` group (see the module docs).
pub fn write_h5_materials(file: &hdf5::File, path: &Path, g: &LabelGrid) -> Result<()> {
    write_h5_grid(file, path, "materials/label", &g.labels, g.origin_m, g.spacing_m, "1")?;
    let names: Vec<VarLenUnicode> = g
        .table
        .name
        .iter()
        .map(|n| {
            n.parse()
                .map_err(|e| Error::Other(format!("material name {n:?}: {e:?}")))
        })
        .collect::<Result<_>>()?;
    write_1d(file, path, "materials/name", &names)?;
    write_1d(file, path, "materials/sigma_s_per_m", &g.table.sigma_s_per_m)?;
    write_1d(file, path, "materials/density_kg_per_m3", &g.table.density_kg_per_m3)?;
    let pec: Vec<u8> = g.table.pec.iter().map(|p| *p as u8).collect();
    write_1d(file, path, "materials/pec", &pec)
}

fn read_vec3(path: &Path, ds: &hdf5::Dataset, name: &str, key: &str) -> Result<[f64; 3]> {
    let v = ds
        .attr(name)
        .and_then(|a| a.read_raw::<f64>())
        .map_err(|e| h5e(path, &format!("{key}@{name}"), e, "write the file with rftwin"))?;
    if v.len() != 3 || v.iter().any(|x| !x.is_finite()) {
        return Err(Error::input(
            &path.display().to_string(),
            &format!("{key}@{name}"),
            format!("expected 3 finite values, found {v:?}"),
            "write the file with rftwin",
        ));
    }
    Ok([v[0], v[1], v[2]])
}

/// Reads a real 3-D grid dataset as f32 with its `origin_m` and `spacing_m`.
/// The resource guard of a dataset read: its element count (from the file's header, checked
/// arithmetic) times `bytes_per_element` must fit in the memory available.
fn check_dataset_size(path: &Path, name: &str, ds: &hdf5::Dataset, bytes_per_element: u64) -> Result<()> {
    let shape = ds.shape();
    let count = shape.iter().try_fold(1u64, |acc, &d| acc.checked_mul(d as u64));
    crate::resources::check_bytes(
        &path.display().to_string(),
        name,
        &format!("reading a dataset of shape {shape:?}"),
        crate::resources::bytes_of(count, bytes_per_element),
        |_| "check the file (a damaged header claims a huge size), or use a coarser grid or a smaller field box".into(),
    )
}

pub fn read_h5_grid_f32(path: &Path, name: &str) -> Result<(Array3<f32>, [f64; 3], [f64; 3])> {
    let file = hdf5::File::open(path).map_err(|e| h5e(path, "file", e, "give an existing HDF5 file"))?;
    let ds = file
        .dataset(name)
        .map_err(|e| h5e(path, name, e, "give a file written by rftwin sar"))?;
    check_dataset_size(path, name, &ds, 4)?;
    let data = ds
        .read::<f32, Ix3>()
        .map_err(|e| h5e(path, name, e, "give a 3-D real dataset"))?;
    Ok((
        data,
        read_vec3(path, &ds, "origin_m", name)?,
        read_vec3(path, &ds, "spacing_m", name)?,
    ))
}

/// Reads the `materials/` group.
pub fn read_h5_materials(path: &Path) -> Result<LabelGrid> {
    let file = hdf5::File::open(path).map_err(|e| h5e(path, "file", e, "give an existing HDF5 file"))?;
    let fix = "re-run `rftwin fdtd run` (it writes the materials/ group next to the fields)";
    let ds = file
        .dataset("materials/label")
        .map_err(|e| h5e(path, "materials/label", e, fix))?;
    check_dataset_size(path, "materials/label", &ds, 1)?;
    let labels = ds.read::<u8, Ix3>().map_err(|e| h5e(path, "materials/label", e, fix))?;
    let origin_m = read_vec3(path, &ds, "origin_m", "materials/label")?;
    let spacing_m = read_vec3(path, &ds, "spacing_m", "materials/label")?;
    let f64s = |n: &str| -> Result<Vec<f64>> {
        file.dataset(n)
            .and_then(|d| d.read_raw::<f64>())
            .map_err(|e| h5e(path, n, e, fix))
    };
    let name: Vec<String> = file
        .dataset("materials/name")
        .and_then(|d| d.read_raw::<VarLenUnicode>())
        .map_err(|e| h5e(path, "materials/name", e, fix))?
        .iter()
        .map(|s| s.as_str().to_string())
        .collect();
    let sigma = f64s("materials/sigma_s_per_m")?;
    let rho = f64s("materials/density_kg_per_m3")?;
    let pec: Vec<bool> = file
        .dataset("materials/pec")
        .and_then(|d| d.read_raw::<u8>())
        .map_err(|e| h5e(path, "materials/pec", e, fix))?
        .iter()
        .map(|p| *p != 0)
        .collect();
    let n = name.len();
    if sigma.len() != n || rho.len() != n || pec.len() != n {
        return Err(Error::input(
            &path.display().to_string(),
            "materials",
            "the material table's datasets have different lengths",
            fix,
        ));
    }
    if let Some(((i, j, k), l)) = labels.indexed_iter().find(|(_, l)| **l as usize >= n) {
        return Err(Error::input(
            &path.display().to_string(),
            &format!("materials/label[{i}, {j}, {k}]"),
            format!("material id {l} is not in the table of {n} materials"),
            fix,
        ));
    }
    Ok(LabelGrid {
        labels,
        table: MaterialTable {
            name,
            sigma_s_per_m: sigma,
            density_kg_per_m3: rho,
            pec,
        },
        origin_m,
        spacing_m,
    })
}

// ---------------------------------------------------------------------------------------------------
// Field files.

/// What `rftwin sar` / `rftwin heat` read from a `fields.h5` of `rftwin fdtd run`.
#[derive(Clone, Debug)]
pub struct FieldsFile {
    pub path: String,
    /// E probe name (HDF5 group).
    pub probe: String,
    pub e: YeeVector,
    /// The first H probe (group name) recorded at the same frequency index, when any (for B1+
    /// normalisation; read only when needed).
    pub h_probe: Option<String>,
    /// Frequency index read.
    pub freq_index: usize,
    pub materials: LabelGrid,
    /// Power delivered by the ports of the CW run (W), root attribute `input_power_w`, when written.
    pub input_power_w: Option<f64>,
}

fn probe_groups(file: &hdf5::File, kind: &str, fi: usize) -> Vec<String> {
    let mut out: Vec<String> = file
        .member_names()
        .unwrap_or_default()
        .into_iter()
        .filter(|g| g != "materials" && g != "xdmf")
        .filter(|g| file.dataset(&format!("{g}/{kind}x_f{fi}")).is_ok())
        .collect();
    out.sort();
    out
}

fn read_yee(path: &Path, group: &str, kind: FieldKind, fi: usize) -> Result<YeeVector> {
    let letter = if kind == FieldKind::E { "E" } else { "H" };
    let file = hdf5::File::open(path).map_err(|e| h5e(path, "file", e, "give an existing HDF5 file"))?;
    let comps: Vec<RegularField<Complex32>> = ["x", "y", "z"]
        .iter()
        .map(|c| {
            let name = format!("{group}/{letter}{c}_f{fi}");
            let ds = file
                .dataset(&name)
                .map_err(|e| h5e(path, &name, e, "record all three components"))?;
            let unit = ds
                .attr("unit")
                .and_then(|a| a.read_scalar::<VarLenUnicode>())
                .map(|u| u.as_str().to_string())
                .unwrap_or_default();
            let want = if kind == FieldKind::E { "V/m" } else { "A/m" };
            if unit != want {
                return Err(Error::input(
                    &path.display().to_string(),
                    &format!("{name}@unit"),
                    format!("unit is {unit:?}, expected {want:?} (a CW peak phasor)"),
                    "use the fields of a CW run (`[run] mode = \"cw\"`); pulse runs store spectra",
                ));
            }
            // The three complex components, |E|^2, sigma and density come next: ~40 B per voxel.
            check_dataset_size(path, &name, &ds, 40)?;
            let f = crate::b1::read_h5_field(path, &name)?;
            if let Some(((i, j, k), v)) = f
                .data
                .indexed_iter()
                .find(|(_, v)| !(v.re.is_finite() && v.im.is_finite()))
            {
                return Err(Error::input(
                    &path.display().to_string(),
                    &format!("{name}[{i}, {j}, {k}]"),
                    format!("field value {v} is NaN or infinite"),
                    "recompute or repair the field solution (a diverged FDTD run gives NaN)",
                ));
            }
            Ok(f)
        })
        .collect::<Result<_>>()?;
    check_component_shapes(path, group, letter, fi, &comps)?;
    let [x, y, z]: [RegularField<Complex32>; 3] = comps.try_into().expect("three components");
    YeeVector::new(kind, [x, y, z])
}

/// The three components of one Yee probe cover the same box: their shapes differ by at most the one
/// node of the staggering along an axis. A component with another extent would crop the common grid
/// (and so the whole-phantom SAR) silently.
fn check_component_shapes(
    path: &Path,
    group: &str,
    letter: &str,
    fi: usize,
    comps: &[RegularField<Complex32>],
) -> Result<()> {
    let name = |c: usize| format!("{group}/{letter}{}_f{fi}", ["x", "y", "z"][c]);
    for a in 0..3 {
        for c in 1..3 {
            let (d0, dc) = (comps[0].dims(), comps[c].dims());
            let d = comps[0].spacing_m[a];
            let (o0, oc) = (comps[0].origin_m[a], comps[c].origin_m[a]);
            if d0[a].abs_diff(dc[a]) > 1 || (o0 - oc).abs() > 0.5 * d * (1.0 + 1e-6) {
                return Err(Error::input(
                    &path.display().to_string(),
                    &name(c),
                    format!(
                        "shape {dc:?} (origin {:?} m) does not cover the box of {} with shape {d0:?} (origin {:?} m): the components differ by more than the Yee staggering along axis {a}",
                        comps[c].origin_m,
                        name(0),
                        comps[0].origin_m
                    ),
                    "give the three components of one probe of one `rftwin fdtd run` (re-run it rather than editing the datasets)",
                ));
            }
        }
    }
    Ok(())
}

/// Reads the E phasors of `probe` (or of the only E probe) at frequency index `fi`, the first H probe if
/// any, the material grid and the input power. NaN/Inf values are reported with dataset and index.
pub fn read_fields(path: &Path, probe: Option<&str>, fi: usize) -> Result<FieldsFile> {
    let pname = path.display().to_string();
    let file = hdf5::File::open(path).map_err(|e| h5e(path, "file", e, "give the fields.h5 of `rftwin fdtd run`"))?;
    let e_groups = probe_groups(&file, "E", fi);
    let probe = match probe {
        Some(p) if e_groups.iter().any(|g| g == p) => p.to_string(),
        Some(p) => {
            return Err(Error::input(
                &pname,
                "--probe",
                format!("no E probe '{p}' with frequency index {fi} (E probes: {e_groups:?})"),
                "name an E-field probe of the run",
            ))
        }
        None => match e_groups.as_slice() {
            [one] => one.clone(),
            [] => {
                return Err(Error::input(
                    &pname,
                    &format!("Ex_f{fi}"),
                    "the file holds no E-field probe at this frequency index",
                    "add a `[[probes]] field = \"E\"` covering the phantom to the simulation and re-run it",
                ))
            }
            many => {
                return Err(Error::input(
                    &pname,
                    "--probe",
                    format!("several E probes: {many:?}"),
                    "choose one with --probe NAME",
                ))
            }
        },
    };
    let e = read_yee(path, &probe, FieldKind::E, fi)?;
    let h_probe = probe_groups(&file, "H", fi).first().cloned();
    let input_power_w = file.attr("input_power_w").and_then(|a| a.read_scalar::<f64>()).ok();
    let materials = read_h5_materials(path)?;
    Ok(FieldsFile {
        path: pname,
        probe,
        e,
        h_probe,
        freq_index: fi,
        materials,
        input_power_w,
    })
}

/// The part of `g` covering `n` voxels from the voxel centred at `origin_m` (m). Errors name `what`.
pub fn sub_labels(g: &LabelGrid, origin_m: [f64; 3], n: [usize; 3], source: &str, what: &str) -> Result<Array3<u8>> {
    let dims = g.labels.dim();
    let dims = [dims.0, dims.1, dims.2];
    let mut off = [0usize; 3];
    for a in 0..3 {
        let u = (origin_m[a] - g.origin_m[a]) / g.spacing_m[a];
        let r = u.round();
        if (u - r).abs() > 1e-3 || r < 0.0 || r as usize + n[a] > dims[a] {
            return Err(Error::input(
                source,
                what,
                format!(
                    "the field's cell centres (from {origin_m:?} m, {n:?} voxels) do not lie on the material grid (from {:?} m, {dims:?} voxels, spacing {:?} m)",
                    g.origin_m, g.spacing_m
                ),
                "use fields and materials of the same `rftwin fdtd run`",
            ));
        }
        off[a] = r as usize;
    }
    Ok(g.labels
        .slice(s![off[0]..off[0] + n[0], off[1]..off[1] + n[1], off[2]..off[2] + n[2]])
        .to_owned())
}

/// Per-material checks before SAR: every material present with conductivity > 0 needs a density > 0,
/// and no density may be negative. `source` names where the table came from (file or TOML).
pub fn check_sar_table(table: &MaterialTable, counts: &[usize], source: &str) -> Result<()> {
    for id in 0..table.len() {
        if counts[id] == 0 {
            continue;
        }
        let (n, sig, rho) = (&table.name[id], table.sigma_s_per_m[id], table.density_kg_per_m3[id]);
        if !(rho >= 0.0) || !rho.is_finite() {
            return Err(Error::input(
                source,
                &format!("materials.{n}.density_kg_per_m3"),
                format!(
                    "density {rho} kg/m^3 of material '{n}' ({} voxels) is negative or not finite",
                    counts[id]
                ),
                "give a density >= 0 kg/m^3 (0 only for air/background without conductivity)",
            ));
        }
        if sig > 0.0 && !(rho > 0.0) {
            return Err(Error::input(
                source,
                &format!("materials.{n}.density_kg_per_m3"),
                format!(
                    "material '{n}' ({} voxels) conducts (sigma = {sig} S/m) but has density {rho} kg/m^3: SAR is undefined there",
                    counts[id]
                ),
                "give the material its mass density (kg/m^3), e.g. 1000 for gel",
            ));
        }
        if !(sig >= 0.0) || !sig.is_finite() {
            return Err(Error::input(
                source,
                &format!("materials.{n}.sigma_s_per_m"),
                format!("conductivity {sig} S/m of material '{n}' is negative or not finite"),
                "give a conductivity >= 0 S/m",
            ));
        }
    }
    Ok(())
}

/// E at the voxel centres of the field file, with conductivity and density from `table` (the field
/// file's own table, possibly with TOML overrides): the [`SarInput`] and the labels on its grid.
/// `table_source` names where `table` came from in errors.
pub fn sar_input_from_fields(
    f: &FieldsFile,
    table: &MaterialTable,
    table_source: &str,
) -> Result<(SarInput, LabelGrid)> {
    let (g, [ex, ey, ez]) = f.e.at_centres()?;
    let labels = sub_labels(&f.materials, g.origin_m, g.dims, &f.path, &format!("{}/Ex_f0", f.probe))?;
    let lg = LabelGrid {
        labels,
        table: table.clone(),
        origin_m: g.origin_m,
        spacing_m: g.spacing_m,
    };
    check_sar_table(table, &lg.counts(), table_source)?;
    let sigma = lg.labels.mapv(|l| table.sigma_s_per_m[l as usize] as f32);
    let rho = lg.labels.mapv(|l| table.density_kg_per_m3[l as usize] as f32);
    let input = SarInput::from_phasors(&f.path, [&ex, &ey, &ez], &sigma, rho, lg.voxel_grid()?)?;
    Ok((input, lg))
}

/// `|B1+|` (µT, peak phasor magnitude) of the file's H probe at `point_m`.
pub fn b1_plus_ut_at(f: &FieldsFile, point_m: [f64; 3]) -> Result<f64> {
    let g = f.h_probe.as_ref().ok_or_else(|| {
        Error::input(
            &f.path,
            "Hx_f0",
            "B1+rms normalisation needs an H-field probe and the file has none",
            "add a `[[probes]] field = \"H\"` through the isocentre and re-run, or normalise otherwise",
        )
    })?;
    let h = read_yee(Path::new(&f.path), g, FieldKind::H, f.freq_index)?;
    let b = crate::b1::b1_plus(&h)?.sample(point_m).norm() as f64 * 1e6;
    if !b.is_finite() {
        return Err(Error::input(
            &f.path,
            "--isocentre-m",
            format!("the isocentre {point_m:?} m is outside the H probe"),
            "give an isocentre inside the H probe region",
        ));
    }
    Ok(b)
}

// ---------------------------------------------------------------------------------------------------
// Figures.

/// Axial, coronal and sagittal slices of `volume` through voxel `at`, side by side in one PNG, each with
/// its peak marked. `origin_m` is the centre of voxel `[0, 0, 0]`.
pub fn orthogonal_panel(
    path: &Path,
    volume: &Array3<f32>,
    at: [usize; 3],
    origin_m: [f64; 3],
    spacing_m: [f64; 3],
    title: &str,
    unit: &str,
) -> Result<()> {
    use crate::plot::{self, Panel, SliceMap};
    let names = ["sagittal", "coronal", "axial"];
    let mut maps = Vec::new();
    for axis in [2usize, 1, 0] {
        let pos_mm = (origin_m[axis] + at[axis] as f64 * spacing_m[axis]) * 1e3;
        maps.push(
            SliceMap::from_volume(volume.view(), axis, at[axis], origin_m, spacing_m)?
                .title(format!("{} {} = {:.1} mm", names[axis], ["x", "y", "z"][axis], pos_mm))
                .unit(unit)
                .mark_peak("peak"),
        );
    }
    plot::panel(path, &Panel::new(maps).title(title))
}
