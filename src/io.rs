//! Output plumbing shared by the stages: atomic output directories (the output policy:
//! [`output`]), JSON, and HDF5 field datasets.
//! No physics here.

use std::path::Path;

use ndarray::Array3;
use num_complex::Complex32;

use crate::error::{Error, Result};

pub mod output;
pub use output::{AtomicDir, AtomicFile, OutputPolicy};


/// Writes pretty JSON.
pub fn write_json<T: serde::Serialize>(path: &Path, value: &T) -> Result<()> {
    let text = serde_json::to_string_pretty(value).map_err(|e| Error::Other(e.to_string()))?;
    std::fs::write(path, text + "\n").map_err(|e| Error::io(path, e))
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
    crate::error::write_error(path, e)
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
    // HDF5 writes much of the data only when the file is flushed or closed, and a failure on close
    // is lost: flush here so that a full disk is an error, not a silently truncated file.
    file.flush().map_err(|e| h5err(path, e))
}

pub(crate) fn write_str_attr(ds: &hdf5::Dataset, name: &str, value: &str) -> hdf5::Result<()> {
    let v: hdf5::types::VarLenUnicode = value
        .parse()
        .map_err(|e| hdf5::Error::from(format!("{e:?}").as_str()))?;
    ds.new_attr::<hdf5::types::VarLenUnicode>()
        .create(name)?
        .write_scalar(&v)
}

/// Escapes text for XML attribute values and character data.
fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// HDF5 path of the real-valued helper dataset `part` ("abs", "re" or "im") that [`write_xdmf`]
/// adds for the complex dataset `name`.
pub fn xdmf_helper_path(name: &str, part: &str) -> String {
    format!("xdmf/{}/{part}", name.trim_matches('/'))
}

/// Writes an XDMF 3 sidecar `path_xmf` so that ParaView (Xdmf3 reader) opens the complex datasets
/// that [`write_h5_fields`] wrote to `h5_file_name` (a file name relative to the `.xmf` file's
/// directory, which is how the XDMF file refers to it).
///
/// ParaView cannot read complex (compound) HDF5 datasets, so for each dataset this first adds three
/// real `f32` helper datasets to the HDF5 file: `xdmf/NAME/abs` (magnitude), `xdmf/NAME/re` and
/// `xdmf/NAME/im` (see [`xdmf_helper_path`]); an existing helper is replaced. The helpers are stored
/// transposed, as `[k][j][i]` with x fastest, which is XDMF's order (Dimensions, Origin and DxDyDz
/// are listed Z Y X, slowest first), so ParaView's x, y, z are the physical x, y, z in metres.
/// The complex datasets themselves keep rftwin's `[i(x)][j(y)][k(z)]` order with z fastest.
///
/// Datasets sharing shape, origin and spacing become attributes (`NAME_abs`, `NAME_re`,
/// `NAME_im`, node-centred, `/` in names replaced by `_`) of one `3DCoRectMesh` grid; datasets on
/// other grids (e.g. staggered Yee components) get grids of their own in a spatial collection.
/// The `.xmf` file is written to a temporary name and renamed.
pub fn write_xdmf(path_xmf: &Path, h5_file_name: &str, sets: &[FieldDataset]) -> Result<()> {
    if sets.is_empty() {
        return Err(Error::input(
            &path_xmf.display().to_string(),
            "datasets",
            "no datasets to describe",
            "pass the datasets written with write_h5_fields",
        ));
    }
    let dir = path_xmf
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let h5_path = dir.join(h5_file_name);
    write_xdmf_helpers(&h5_path, sets)?;

    // Group datasets by geometry, keeping first-seen order.
    type Geometry = ([usize; 3], [f64; 3], [f64; 3]);
    let mut grids: Vec<(Geometry, Vec<&FieldDataset>)> = Vec::new();
    for s in sets {
        let sh = s.data.shape();
        let g: Geometry = ([sh[0], sh[1], sh[2]], s.origin_m, s.spacing_m);
        match grids.iter_mut().find(|(k, _)| *k == g) {
            Some((_, v)) => v.push(s),
            None => grids.push((g, vec![s])),
        }
    }

    let h5_ref = xml_escape(h5_file_name);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<Xdmf xmlns:xi=\"http://www.w3.org/2001/XInclude\" Version=\"3.0\">\n  <Domain>\n");
    let collection = grids.len() > 1;
    let ind = if collection { "      " } else { "    " };
    if collection {
        x.push_str("    <Grid Name=\"fields\" GridType=\"Collection\" CollectionType=\"Spatial\">\n");
    }
    for (g, ((n, o, d), members)) in grids.iter().enumerate() {
        let dims = format!("{} {} {}", n[2], n[1], n[0]);
        x.push_str(&format!("{ind}<Grid Name=\"grid{g}\" GridType=\"Uniform\">\n"));
        x.push_str(&format!(
            "{ind}  <Topology TopologyType=\"3DCoRectMesh\" Dimensions=\"{dims}\"/>\n"
        ));
        x.push_str(&format!("{ind}  <Geometry GeometryType=\"ORIGIN_DXDYDZ\">\n"));
        x.push_str(&format!(
            "{ind}    <DataItem Name=\"Origin\" Format=\"XML\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"3\">{:e} {:e} {:e}</DataItem>\n",
            o[2], o[1], o[0]
        ));
        x.push_str(&format!(
            "{ind}    <DataItem Name=\"Spacing\" Format=\"XML\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"3\">{:e} {:e} {:e}</DataItem>\n",
            d[2], d[1], d[0]
        ));
        x.push_str(&format!("{ind}  </Geometry>\n"));
        for s in members {
            let base: String = s
                .name
                .trim_matches('/')
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                        c
                    } else {
                        '_'
                    }
                })
                .collect();
            for part in ["abs", "re", "im"] {
                x.push_str(&format!(
                    "{ind}  <Attribute Name=\"{}_{part}\" AttributeType=\"Scalar\" Center=\"Node\">\n",
                    xml_escape(&base)
                ));
                x.push_str(&format!(
                    "{ind}    <Information Name=\"unit\" Value=\"{}\"/>\n",
                    xml_escape(s.unit)
                ));
                x.push_str(&format!(
                    "{ind}    <Information Name=\"freq_hz\" Value=\"{:e}\"/>\n",
                    s.freq_hz
                ));
                x.push_str(&format!(
                    "{ind}    <Information Name=\"quantity\" Value=\"{}\"/>\n",
                    xml_escape(s.quantity)
                ));
                x.push_str(&format!(
                    "{ind}    <DataItem Format=\"HDF\" NumberType=\"Float\" Precision=\"4\" Dimensions=\"{dims}\">{h5_ref}:/{}</DataItem>\n",
                    xml_escape(&xdmf_helper_path(&s.name, part))
                ));
                x.push_str(&format!("{ind}  </Attribute>\n"));
            }
        }
        x.push_str(&format!("{ind}</Grid>\n"));
    }
    if collection {
        x.push_str("    </Grid>\n");
    }
    x.push_str("  </Domain>\n</Xdmf>\n");

    let name = path_xmf
        .file_name()
        .map(|s| s.to_string_lossy().to_string())
        .unwrap_or_else(|| "fields.xmf".into());
    let tmp = path_xmf.with_file_name(format!(".{name}.tmp-{}", std::process::id()));
    let res = std::fs::write(&tmp, x)
        .map_err(|e| Error::io(&tmp, e))
        .and_then(|_| std::fs::rename(&tmp, path_xmf).map_err(|e| Error::io(path_xmf, e)));
    if res.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    res
}

/// Adds (or replaces) the real helper datasets `xdmf/NAME/{abs,re,im}`, stored `[k][j][i]`.
fn write_xdmf_helpers(h5_path: &Path, sets: &[FieldDataset]) -> Result<()> {
    if !h5_path.is_file() {
        return Err(Error::input(
            &h5_path.display().to_string(),
            "h5_file_name",
            "HDF5 file not found next to the XDMF file",
            "write the fields with write_h5_fields first, in the same directory",
        ));
    }
    let file = hdf5::File::open_rw(h5_path).map_err(|e| h5err(h5_path, e))?;
    for s in sets {
        let t = s.data.view().reversed_axes(); // [k][j][i]
        let parts: [(&str, ndarray::Array3<f32>); 3] = [
            ("abs", t.mapv(|c| c.norm())),
            ("re", t.mapv(|c| c.re)),
            ("im", t.mapv(|c| c.im)),
        ];
        for (part, arr) in parts {
            let full = xdmf_helper_path(&s.name, part);
            let (group, leaf) = full.rsplit_once('/').expect("helper path has a group");
            let grp = match file.group(group) {
                Ok(g) => g,
                Err(_) => file.create_group(group).map_err(|e| h5err(h5_path, e))?,
            };
            if grp.link_exists(leaf) {
                grp.unlink(leaf).map_err(|e| h5err(h5_path, e))?;
            }
            let arr = arr.as_standard_layout();
            grp.new_dataset_builder()
                .with_data(&arr)
                .create(leaf)
                .map_err(|e| h5err(h5_path, e))?;
        }
    }
    file.flush().map_err(|e| h5err(h5_path, e))
}

/// Writes `path_xmf`, an XDMF 3 description for ParaView of real scalar grids already stored in the
/// HDF5 file `h5_file_name` (same directory) as `[nx][ny][nz]` f32 datasets with the attributes
/// `origin_m` and `spacing_m` (the first sample's position and the spacing, m) and `unit` (as
/// `dosimetry::io::write_h5_grid` writes them). The samples are the points `origin + index ·
/// spacing` (cell centres for SAR and temperature). For each dataset a copy stored `[k][j][i]`
/// (x fastest, as XDMF's 3DCoRectMesh reads it) is added as `xdmf/NAME/value`; datasets on the same
/// grid share one `Grid`. Each attribute carries its unit (`Information Name="unit"`) and its name
/// ends with it, e.g. `implant1_sar_10g [W/kg]`.
pub fn write_xdmf_for_grids(path_xmf: &Path, h5_file_name: &str, names: &[&str]) -> Result<()> {
    let dir = path_xmf
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let h5_path = dir.join(h5_file_name);
    let file = hdf5::File::open_rw(&h5_path).map_err(|e| h5err(&h5_path, e))?;
    type Geometry = ([usize; 3], [f64; 3], [f64; 3]);
    let mut grids: Vec<(Geometry, Vec<(String, String)>)> = Vec::new();
    for name in names {
        let ds = file.dataset(name).map_err(|e| h5err(&h5_path, e))?;
        let data: Array3<f32> = ds.read::<f32, ndarray::Ix3>().map_err(|e| h5err(&h5_path, e))?;
        let vec3 = |attr: &str| -> Result<[f64; 3]> {
            let v: Vec<f64> = ds
                .attr(attr)
                .and_then(|a| a.read_raw::<f64>())
                .map_err(|e| h5err(&h5_path, e))?;
            if v.len() != 3 {
                return Err(Error::input(
                    &h5_path.display().to_string(),
                    &format!("{name}: {attr}"),
                    format!("{} values, not 3", v.len()),
                    "write the grid with dosimetry::io::write_h5_grid",
                ));
            }
            Ok([v[0], v[1], v[2]])
        };
        let (origin, spacing) = (vec3("origin_m")?, vec3("spacing_m")?);
        let unit = ds
            .attr("unit")
            .and_then(|a| a.read_scalar::<hdf5::types::VarLenUnicode>())
            .map(|u| u.as_str().to_string())
            .unwrap_or_default();
        let helper = format!("xdmf/{}/value", name.trim_matches('/'));
        let (group, leaf) = helper.rsplit_once('/').expect("helper path has a group");
        let grp = match file.group(group) {
            Ok(g) => g,
            Err(_) => file.create_group(group).map_err(|e| h5err(&h5_path, e))?,
        };
        if grp.link_exists(leaf) {
            grp.unlink(leaf).map_err(|e| h5err(&h5_path, e))?;
        }
        let t = data.view().reversed_axes();
        let t = t.as_standard_layout();
        grp.new_dataset_builder()
            .with_data(&t)
            .create(leaf)
            .map_err(|e| h5err(&h5_path, e))?;
        let sh = data.shape();
        let g: Geometry = ([sh[0], sh[1], sh[2]], origin, spacing);
        match grids.iter_mut().find(|(k, _)| *k == g) {
            Some((_, v)) => v.push((name.to_string(), unit)),
            None => grids.push((g, vec![(name.to_string(), unit)])),
        }
    }
    file.flush().map_err(|e| h5err(&h5_path, e))?;
    drop(file);

    let h5_ref = xml_escape(h5_file_name);
    let mut x = String::new();
    x.push_str("<?xml version=\"1.0\" encoding=\"utf-8\"?>\n");
    x.push_str("<Xdmf xmlns:xi=\"http://www.w3.org/2001/XInclude\" Version=\"3.0\">\n  <Domain>\n");
    x.push_str("    <Grid Name=\"fields\" GridType=\"Collection\" CollectionType=\"Spatial\">\n");
    for (g, ((n, o, d), members)) in grids.iter().enumerate() {
        let dims = format!("{} {} {}", n[2], n[1], n[0]);
        x.push_str(&format!("      <Grid Name=\"grid{g}\" GridType=\"Uniform\">\n"));
        x.push_str(&format!("        <Topology TopologyType=\"3DCoRectMesh\" Dimensions=\"{dims}\"/>\n"));
        x.push_str("        <Geometry GeometryType=\"ORIGIN_DXDYDZ\">\n");
        x.push_str(&format!(
            "          <DataItem Name=\"Origin\" Format=\"XML\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"3\">{:e} {:e} {:e}</DataItem>\n",
            o[2], o[1], o[0]
        ));
        x.push_str(&format!(
            "          <DataItem Name=\"Spacing\" Format=\"XML\" NumberType=\"Float\" Precision=\"8\" Dimensions=\"3\">{:e} {:e} {:e}</DataItem>\n",
            d[2], d[1], d[0]
        ));
        x.push_str("        </Geometry>\n");
        for (name, unit) in members {
            let base: String = name
                .trim_matches('/')
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() || c == '_' || c == '-' { c } else { '_' })
                .collect();
            let label = if unit.is_empty() { base } else { format!("{base} [{unit}]") };
            x.push_str(&format!(
                "        <Attribute Name=\"{}\" AttributeType=\"Scalar\" Center=\"Node\">\n",
                xml_escape(&label)
            ));
            x.push_str(&format!("          <Information Name=\"unit\" Value=\"{}\"/>\n", xml_escape(unit)));
            x.push_str(&format!(
                "          <DataItem Format=\"HDF\" NumberType=\"Float\" Precision=\"4\" Dimensions=\"{dims}\">{h5_ref}:/xdmf/{}/value</DataItem>\n",
                xml_escape(name.trim_matches('/'))
            ));
            x.push_str("        </Attribute>\n");
        }
        x.push_str("      </Grid>\n");
    }
    x.push_str("    </Grid>\n  </Domain>\n</Xdmf>\n");
    std::fs::write(path_xmf, x).map_err(|e| Error::io(path_xmf, e))
}
