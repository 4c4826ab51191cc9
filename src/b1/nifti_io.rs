//! NIfTI-1 and NIfTI-2 volumes (`.nii`, `.nii.gz`): reading with the sform/qform affine and writing.
//!
//! NIfTI-1 goes through the `nifti` crate (0.18); NIfTI-2 (540-byte header, 64-bit fields), which that
//! crate does not read, is parsed here. The voxel affine follows the NIfTI-1 standard (nifti1.h):
//! the sform (method 3) when `sform_code > 0`, else the qform quaternion (method 2) when
//! `qform_code > 0`, else the pixdim diagonal (method 1, ANALYZE). The world frame is RAS+ in the unit
//! of `xyzt_units` (mm when unset, as dcm2niix writes); rftwin converts to metres.

use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::Path;

use ndarray::{Array3, ArrayD, Axis, IxDyn, ShapeBuilder};

use super::affine::{det3, Affine};
use super::map::{B1Map, B1Unit, Frame};
use crate::error::{Error, Result};

/// Which header field gave the affine.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XformSource {
    Sform,
    Qform,
    Pixdim,
}

/// A 3-D volume read from NIfTI.
#[derive(Clone, Debug)]
pub struct NiftiVolume {
    /// Values after `scl_slope`/`scl_inter`, indexed `[i, j, k]`, standard (row-major) layout.
    pub data: Array3<f32>,
    /// Voxel index → RAS+ world (m).
    pub affine: Affine,
    pub xform: XformSource,
    /// 1 or 2.
    pub version: u8,
    /// The header's `descrip` text.
    pub description: String,
}

/// Which NIfTI version to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NiftiVersion {
    V1,
    V2,
}

/// Header fields rftwin uses, common to both versions (values widened to f64/i64).
struct Hdr {
    dim: [i64; 8],
    datatype: i16,
    pixdim: [f64; 8],
    scl_slope: f64,
    scl_inter: f64,
    qform_code: i32,
    sform_code: i32,
    quatern: [f64; 3],
    qoffset: [f64; 3],
    srow: [[f64; 4]; 3],
    xyzt_units: i32,
    descrip: String,
}

fn nerr(path: &Path, what: impl Into<String>, fix: &str) -> Error {
    Error::input(&path.display().to_string(), "nifti", what, fix)
}

fn is_gz(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// Opens a file, gunzipping when the name ends with `.gz` or the file starts with the gzip magic.
fn open_maybe_gz(path: &Path) -> Result<Box<dyn Read>> {
    let mut f = File::open(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        err: e,
    })?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(|e| Error::Io {
        path: path.display().to_string(),
        err: e,
    })?;
    drop(f);
    let f = BufReader::new(File::open(path).map_err(|e| Error::Io {
        path: path.display().to_string(),
        err: e,
    })?);
    if is_gz(path) || (n == 2 && magic == [0x1f, 0x8b]) {
        Ok(Box::new(flate2::read::GzDecoder::new(f)))
    } else {
        Ok(Box::new(f))
    }
}

/// Reads the whole (decompressed) file.
fn read_all(path: &Path) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    open_maybe_gz(path)?.read_to_end(&mut buf).map_err(|e| Error::Io {
        path: path.display().to_string(),
        err: e,
    })?;
    Ok(buf)
}

/// Little/big-endian field reader over a byte slice.
struct Bytes<'a> {
    b: &'a [u8],
    le: bool,
}

impl Bytes<'_> {
    fn arr<const N: usize>(&self, o: usize) -> [u8; N] {
        let mut a = [0u8; N];
        a.copy_from_slice(&self.b[o..o + N]);
        if !self.le {
            a.reverse();
        }
        a
    }
    fn i16(&self, o: usize) -> i16 {
        i16::from_le_bytes(self.arr(o))
    }
    fn i32(&self, o: usize) -> i32 {
        i32::from_le_bytes(self.arr(o))
    }
    fn i64(&self, o: usize) -> i64 {
        i64::from_le_bytes(self.arr(o))
    }
    fn f64(&self, o: usize) -> f64 {
        f64::from_le_bytes(self.arr(o))
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Parses a NIfTI-2 header; returns it with the data offset and endianness.
fn parse_v2(path: &Path, buf: &[u8]) -> Result<(Hdr, usize, bool)> {
    if buf.len() < 540 {
        return Err(nerr(
            path,
            "file shorter than a NIfTI-2 header",
            "check the file is complete",
        ));
    }
    let le = i32::from_le_bytes([buf[0], buf[1], buf[2], buf[3]]) == 540;
    let r = Bytes { b: buf, le };
    if &buf[4..8] != b"n+2\0" {
        return Err(nerr(
            path,
            "NIfTI-2 header without the single-file magic 'n+2' (a .hdr/.img pair?)",
            "convert to a single .nii/.nii.gz file",
        ));
    }
    let mut dim = [0i64; 8];
    let mut pixdim = [0f64; 8];
    for a in 0..8 {
        dim[a] = r.i64(16 + 8 * a);
        pixdim[a] = r.f64(104 + 8 * a);
    }
    let mut srow = [[0f64; 4]; 3];
    for (row, s) in srow.iter_mut().enumerate() {
        for (c, v) in s.iter_mut().enumerate() {
            *v = r.f64(400 + 32 * row + 8 * c);
        }
    }
    let hdr = Hdr {
        dim,
        datatype: r.i16(12),
        pixdim,
        scl_slope: r.f64(176),
        scl_inter: r.f64(184),
        qform_code: r.i32(344),
        sform_code: r.i32(348),
        quatern: [r.f64(352), r.f64(360), r.f64(368)],
        qoffset: [r.f64(376), r.f64(384), r.f64(392)],
        srow,
        xyzt_units: r.i32(500),
        descrip: cstr(&buf[240..320]),
    };
    let off = r.i64(168);
    if off < 540 || off as usize > buf.len() {
        return Err(nerr(
            path,
            format!("vox_offset {off} is invalid"),
            "check the file is complete",
        ));
    }
    Ok((hdr, off as usize, le))
}

/// Decodes NIfTI-2 voxel data as f32 (Fortran order in the file).
fn decode_v2(path: &Path, hdr: &Hdr, buf: &[u8], off: usize, le: bool, n: usize) -> Result<Vec<f32>> {
    let size = match hdr.datatype {
        2 | 256 => 1,
        4 | 512 => 2,
        8 | 16 | 768 => 4,
        64 | 1024 | 1280 => 8,
        t => {
            return Err(nerr(
                path,
                format!("NIfTI datatype code {t} is not supported for B1 maps"),
                "store the map as an integer or float32/float64 volume",
            ))
        }
    };
    let data = &buf[off..];
    if data.len() < n * size {
        return Err(nerr(
            path,
            format!("data holds {} bytes, the header needs {}", data.len(), n * size),
            "check the file is complete",
        ));
    }
    let r = Bytes { b: data, le };
    let out = (0..n)
        .map(|i| {
            let o = i * size;
            (match hdr.datatype {
                2 => data[o] as f64,
                256 => data[o] as i8 as f64,
                4 => r.i16(o) as f64,
                512 => u16::from_le_bytes(r.arr(o)) as f64,
                8 => r.i32(o) as f64,
                768 => u32::from_le_bytes(r.arr(o)) as f64,
                16 => f32::from_le_bytes(r.arr(o)) as f64,
                64 => r.f64(o),
                1024 => r.i64(o) as f64,
                _ => u64::from_le_bytes(r.arr(o)) as f64,
            }) as f32
        })
        .collect();
    Ok(out)
}

fn hdr_from_v1(h: &nifti::NiftiHeader) -> Hdr {
    let mut dim = [0i64; 8];
    let mut pixdim = [0f64; 8];
    for a in 0..8 {
        dim[a] = h.dim[a] as i64;
        pixdim[a] = h.pixdim[a] as f64;
    }
    let row = |r: [f32; 4]| [r[0] as f64, r[1] as f64, r[2] as f64, r[3] as f64];
    Hdr {
        dim,
        datatype: h.datatype,
        pixdim,
        scl_slope: h.scl_slope as f64,
        scl_inter: h.scl_inter as f64,
        qform_code: h.qform_code as i32,
        sform_code: h.sform_code as i32,
        quatern: [h.quatern_b as f64, h.quatern_c as f64, h.quatern_d as f64],
        qoffset: [h.quatern_x as f64, h.quatern_y as f64, h.quatern_z as f64],
        srow: [row(h.srow_x), row(h.srow_y), row(h.srow_z)],
        xyzt_units: h.xyzt_units as i32,
        descrip: cstr(&h.descrip),
    }
}

/// Metres per stored spatial unit (`xyzt_units & 7`: 1 m, 2 mm, 3 µm; 0 = unknown, taken as mm).
fn space_scale(path: &Path, xyzt_units: i32) -> Result<f64> {
    match xyzt_units & 7 {
        0 | 2 => Ok(1e-3),
        1 => Ok(1.0),
        3 => Ok(1e-6),
        u => Err(nerr(
            path,
            format!("spatial unit code {u} in xyzt_units is not a length"),
            "set xyzt_units to mm (2)",
        )),
    }
}

/// The voxel → world (m) affine from the header (sform, else qform, else pixdim).
fn header_affine(path: &Path, h: &Hdr) -> Result<(Affine, XformSource)> {
    let s = space_scale(path, h.xyzt_units)?;
    let (mut aff, src) = if h.sform_code > 0 {
        (Affine::from_rows(h.srow), XformSource::Sform)
    } else if h.qform_code > 0 {
        let [b, c, d] = h.quatern;
        let a = (1.0 - (b * b + c * c + d * d)).max(0.0).sqrt();
        let r = [
            [
                a * a + b * b - c * c - d * d,
                2.0 * (b * c - a * d),
                2.0 * (b * d + a * c),
            ],
            [
                2.0 * (b * c + a * d),
                a * a + c * c - b * b - d * d,
                2.0 * (c * d - a * b),
            ],
            [
                2.0 * (b * d - a * c),
                2.0 * (c * d + a * b),
                a * a + d * d - c * c - b * b,
            ],
        ];
        let qfac = if h.pixdim[0] < 0.0 { -1.0 } else { 1.0 };
        let scale = [h.pixdim[1], h.pixdim[2], qfac * h.pixdim[3]];
        let mut m = [[0.0; 3]; 3];
        for i in 0..3 {
            for j in 0..3 {
                m[i][j] = r[i][j] * scale[j];
            }
        }
        (Affine::from_linear(m, h.qoffset), XformSource::Qform)
    } else {
        (
            Affine::from_origin_spacing([0.0; 3], [h.pixdim[1], h.pixdim[2], h.pixdim[3]]),
            XformSource::Pixdim,
        )
    };
    for row in aff.m.iter_mut().take(3) {
        for v in row.iter_mut() {
            *v *= s;
        }
    }
    Ok((aff, src))
}

/// Checks the dimensions: 2-D (one slice), 3-D, or 4-D and up where `volume` selects one volume of
/// dim[4] and the higher dims are 1. Returns the 3-D shape and the number of voxels in the file.
fn spatial_dims(path: &Path, h: &Hdr, volume: usize) -> Result<([usize; 3], usize)> {
    let nd = h.dim[0];
    if !(1..=7).contains(&nd) {
        return Err(nerr(
            path,
            format!("dim[0] = {nd} is not a valid rank"),
            "check the file is a NIfTI image",
        ));
    }
    let nd = nd as usize;
    let d: Vec<usize> = (1..=nd).map(|a| h.dim[a].max(0) as usize).collect();
    if d.contains(&0) {
        return Err(nerr(path, format!("a dimension is zero: {d:?}"), "check the file"));
    }
    if nd < 2 {
        return Err(nerr(
            path,
            format!("rank {nd} image ({d:?}); a B1 map needs 2-D (one slice) or 3-D"),
            "give a 3-D map",
        ));
    }
    let nt = if nd >= 4 { d[3] } else { 1 };
    if d.iter().skip(4).any(|v| *v != 1) {
        return Err(nerr(
            path,
            format!("rank {nd} image {d:?}: dims beyond the 4th must be 1"),
            "extract the 3-D B1 map (e.g. fslroi)",
        ));
    }
    if volume >= nt {
        return Err(nerr(
            path,
            format!("volume {volume} requested but the file holds {nt} volume(s) ({d:?})"),
            "choose a volume index below the 4th dimension",
        ));
    }
    let s = [d[0], d[1], if nd >= 3 { d[2] } else { 1 }];
    Ok((s, d.iter().product()))
}

/// Reads volume `volume` (0 for a 3-D file) of a NIfTI-1 or NIfTI-2 file (`.nii` or `.nii.gz`).
pub fn read_nifti_volume(path: &Path, volume: usize) -> Result<NiftiVolume> {
    let name = path.display().to_string();
    // The first 4 bytes tell the version (348 or 540, either byte order).
    let mut head = [0u8; 4];
    open_maybe_gz(path)?.read_exact(&mut head).map_err(|e| {
        nerr(
            path,
            format!("cannot read the header: {e}"),
            "check the file is a NIfTI image",
        )
    })?;
    let sz_le = i32::from_le_bytes(head);
    let sz_be = i32::from_be_bytes(head);
    let (hdr, flat, version) = if sz_le == 540 || sz_be == 540 {
        let buf = read_all(path)?;
        let (hdr, off, le) = parse_v2(path, &buf)?;
        let (_, n) = spatial_dims(path, &hdr, volume)?;
        let mut v = decode_v2(path, &hdr, &buf, off, le, n)?;
        if hdr.scl_slope != 0.0 && hdr.scl_slope.is_finite() {
            for x in v.iter_mut() {
                *x = (*x as f64 * hdr.scl_slope + hdr.scl_inter) as f32;
            }
        }
        let d: Vec<usize> = (1..=hdr.dim[0] as usize).map(|a| hdr.dim[a] as usize).collect();
        let arr = ArrayD::from_shape_vec(IxDyn(&d).f(), v)
            .map_err(|e| nerr(path, format!("data shape: {e}"), "check the file"))?;
        (hdr, arr, 2u8)
    } else if sz_le == 348 || sz_be == 348 {
        use nifti::{IntoNdArray, NiftiObject};
        let obj = nifti::ReaderOptions::new().read_file(path).map_err(|e| {
            nerr(
                path,
                format!("cannot read NIfTI-1: {e}"),
                "check the file is a NIfTI-1 image",
            )
        })?;
        let hdr = hdr_from_v1(obj.header());
        spatial_dims(path, &hdr, volume)?;
        let arr = obj.into_volume().into_ndarray::<f32>().map_err(|e| {
            nerr(
                path,
                format!("cannot convert the voxel data: {e}"),
                "store the map as an integer or float volume",
            )
        })?;
        (hdr, arr, 1u8)
    } else {
        return Err(nerr(
            path,
            format!("header size {sz_le} is neither 348 (NIfTI-1) nor 540 (NIfTI-2)"),
            "give a .nii or .nii.gz file",
        ));
    };
    // Drop the time axis (select `volume`) and any trailing singleton axes, then go row-major.
    let mut a = flat;
    while a.ndim() > 3 {
        let last = a.ndim() - 1;
        let idx = if last == 3 { volume } else { 0 };
        a = a.index_axis_move(Axis(last), idx);
    }
    if a.ndim() == 2 {
        a = a.insert_axis(Axis(2));
    }
    let a3 = a
        .into_dimensionality::<ndarray::Ix3>()
        .map_err(|e| nerr(path, format!("{e}"), "check the dimensions"))?
        .as_standard_layout()
        .into_owned();
    let (affine, xform) = header_affine(path, &hdr)?;
    affine.inverse(&name)?;
    Ok(NiftiVolume {
        data: a3,
        affine,
        xform,
        version,
        description: hdr.descrip,
    })
}

/// Quaternion (b, c, d), qfac and voxel sizes of an affine whose linear part is a rotation (possibly
/// with a reflection) times positive scales; None when it has shear.
fn quaternion_of(aff: &Affine) -> Option<([f64; 3], f64, [f64; 3])> {
    let lin = aff.linear();
    let vs = aff.voxel_size();
    if vs.iter().any(|v| !(*v > 0.0)) {
        return None;
    }
    let mut r = [[0.0; 3]; 3];
    for i in 0..3 {
        for j in 0..3 {
            r[i][j] = lin[i][j] / vs[j];
        }
    }
    let mut qfac = 1.0;
    if det3(&r) < 0.0 {
        qfac = -1.0;
        for row in r.iter_mut() {
            row[2] = -row[2];
        }
    }
    // Orthogonality check.
    for i in 0..3 {
        for j in 0..3 {
            let d: f64 = (0..3).map(|k| r[k][i] * r[k][j]).sum();
            if (d - if i == j { 1.0 } else { 0.0 }).abs() > 1e-6 {
                return None;
            }
        }
    }
    let tr = r[0][0] + r[1][1] + r[2][2];
    let (a, b, c, d);
    if tr > 0.0 {
        let s = (tr + 1.0).sqrt() * 2.0;
        a = 0.25 * s;
        b = (r[2][1] - r[1][2]) / s;
        c = (r[0][2] - r[2][0]) / s;
        d = (r[1][0] - r[0][1]) / s;
    } else if r[0][0] > r[1][1] && r[0][0] > r[2][2] {
        let s = (1.0 + r[0][0] - r[1][1] - r[2][2]).sqrt() * 2.0;
        a = (r[2][1] - r[1][2]) / s;
        b = 0.25 * s;
        c = (r[0][1] + r[1][0]) / s;
        d = (r[0][2] + r[2][0]) / s;
    } else if r[1][1] > r[2][2] {
        let s = (1.0 + r[1][1] - r[0][0] - r[2][2]).sqrt() * 2.0;
        a = (r[0][2] - r[2][0]) / s;
        b = (r[0][1] + r[1][0]) / s;
        c = 0.25 * s;
        d = (r[1][2] + r[2][1]) / s;
    } else {
        let s = (1.0 + r[2][2] - r[0][0] - r[1][1]).sqrt() * 2.0;
        a = (r[1][0] - r[0][1]) / s;
        b = (r[0][2] + r[2][0]) / s;
        c = (r[1][2] + r[2][1]) / s;
        d = 0.25 * s;
    }
    // NIfTI stores b, c, d with a >= 0.
    let sg = if a < 0.0 { -1.0 } else { 1.0 };
    Some(([sg * b, sg * c, sg * d], qfac, vs))
}

/// Writes a 3-D float32 volume as NIfTI-1 or NIfTI-2 (`.nii`, or gzip-compressed when the name ends
/// with `.gz`), with `affine` (voxel → world, m) stored in mm as the sform (code `sform_code`, e.g.
/// 1 scanner or 2 aligned) and, when the affine has no shear, as the qform too. `description` (up to
/// 79 bytes) goes into `descrip`.
pub fn write_nifti_volume(
    path: &Path,
    data: &Array3<f32>,
    affine: &Affine,
    version: NiftiVersion,
    sform_code: i16,
    description: &str,
) -> Result<()> {
    let name = path.display().to_string();
    affine.inverse(&name)?;
    let dims = data.shape();
    let mm = 1e3;
    let mut srow = [[0f64; 4]; 3];
    for (a, row) in srow.iter_mut().enumerate() {
        for (b, v) in row.iter_mut().enumerate() {
            *v = affine.m[a][b] * mm;
        }
    }
    let q = quaternion_of(affine);
    let vs = affine.voxel_size();
    let pixdim = [
        q.map(|x| x.1).unwrap_or(1.0),
        vs[0] * mm,
        vs[1] * mm,
        vs[2] * mm,
        1.0,
        1.0,
        1.0,
        1.0,
    ];
    let mut descrip = description.as_bytes().to_vec();
    descrip.truncate(79);
    descrip.resize(80, 0);
    match version {
        NiftiVersion::V1 => {
            if dims.iter().any(|d| *d > i16::MAX as usize) {
                return Err(nerr(path, "a dimension exceeds 32767 (NIfTI-1 limit)", "write NIfTI-2"));
            }
            let f4 = |r: [f64; 4]| [r[0] as f32, r[1] as f32, r[2] as f32, r[3] as f32];
            let mut h = nifti::NiftiHeader {
                pixdim: pixdim.map(|v| v as f32),
                xyzt_units: 2, // mm
                sform_code,
                srow_x: f4(srow[0]),
                srow_y: f4(srow[1]),
                srow_z: f4(srow[2]),
                descrip,
                ..Default::default()
            };
            if let Some((bcd, _, _)) = q {
                h.qform_code = sform_code;
                h.quatern_b = bcd[0] as f32;
                h.quatern_c = bcd[1] as f32;
                h.quatern_d = bcd[2] as f32;
                h.quatern_x = srow[0][3] as f32;
                h.quatern_y = srow[1][3] as f32;
                h.quatern_z = srow[2][3] as f32;
            } else {
                h.qform_code = 0;
            }
            // The crate derives .nii/.nii.gz from `compress`.
            nifti::writer::WriterOptions::new(path)
                .reference_header(&h)
                .compress(is_gz(path))
                .write_nifti(data)
                .map_err(|e| Error::Other(format!("writing NIfTI-1 {name}: {e}")))
        }
        NiftiVersion::V2 => {
            let mut h = vec![0u8; 544];
            let put = |h: &mut Vec<u8>, o: usize, b: &[u8]| h[o..o + b.len()].copy_from_slice(b);
            put(&mut h, 0, &540i32.to_le_bytes());
            put(&mut h, 4, b"n+2\0\r\n\x1a\n");
            put(&mut h, 12, &16i16.to_le_bytes());
            put(&mut h, 14, &32i16.to_le_bytes());
            let d = [3i64, dims[0] as i64, dims[1] as i64, dims[2] as i64, 1, 1, 1, 1];
            for a in 0..8 {
                put(&mut h, 16 + 8 * a, &d[a].to_le_bytes());
                put(&mut h, 104 + 8 * a, &pixdim[a].to_le_bytes());
            }
            put(&mut h, 168, &544i64.to_le_bytes());
            put(&mut h, 176, &1f64.to_le_bytes());
            put(&mut h, 240, &descrip);
            let qcode = if q.is_some() { sform_code as i32 } else { 0 };
            put(&mut h, 344, &qcode.to_le_bytes());
            put(&mut h, 348, &(sform_code as i32).to_le_bytes());
            if let Some((bcd, _, _)) = q {
                for a in 0..3 {
                    put(&mut h, 352 + 8 * a, &bcd[a].to_le_bytes());
                    put(&mut h, 376 + 8 * a, &srow[a][3].to_le_bytes());
                }
            }
            for (r, row) in srow.iter().enumerate() {
                for (c, v) in row.iter().enumerate() {
                    put(&mut h, 400 + 32 * r + 8 * c, &v.to_le_bytes());
                }
            }
            put(&mut h, 500, &2i32.to_le_bytes());
            // Bytes 540..544: extension flag 0 (no extensions).
            let mut body = h;
            body.reserve(data.len() * 4);
            // Fortran order: i fastest.
            for v in data.t().as_standard_layout().iter() {
                body.extend_from_slice(&v.to_le_bytes());
            }
            let file = File::create(path).map_err(|e| Error::Io {
                path: name.clone(),
                err: e,
            })?;
            let io = |e| Error::Io {
                path: name.clone(),
                err: e,
            };
            if is_gz(path) {
                let mut enc = flate2::write::GzEncoder::new(BufWriter::new(file), flate2::Compression::default());
                enc.write_all(&body).map_err(io)?;
                enc.finish().map_err(io)?.flush().map_err(io)?;
            } else {
                let mut w = BufWriter::new(file);
                w.write_all(&body).map_err(io)?;
                w.flush().map_err(io)?;
            }
            Ok(())
        }
    }
}

/// Path of the JSON sidecar of a NIfTI file: `map.nii.gz` → `map.json` (the BIDS/dcm2niix convention).
pub fn sidecar_path(path: &Path) -> std::path::PathBuf {
    let s = path.to_string_lossy();
    let lower = s.to_ascii_lowercase();
    let stem = if lower.ends_with(".nii.gz") {
        &s[..s.len() - 7]
    } else if lower.ends_with(".nii") {
        &s[..s.len() - 4]
    } else {
        &s[..]
    };
    std::path::PathBuf::from(format!("{stem}.json"))
}

/// Options for reading a measured map from NIfTI.
#[derive(Clone, Debug, Default)]
pub struct NiftiMapOptions {
    /// Unit declared by the user; overrides the sidecar.
    pub unit: Option<B1Unit>,
    /// Volume index along the 4th dimension (0 for 3-D files).
    pub volume: usize,
    /// World frame; default from the sidecar key `RftwinFrame`, else scanner RAS.
    pub frame: Option<Frame>,
}

/// Reads a B1 magnitude map from NIfTI-1/2. The unit comes from `opts.unit`, else from the JSON
/// sidecar (`map.json` next to `map.nii[.gz]`) keys `B1Unit` (`uT`, `deg`, `percent`, `fraction`),
/// `B1NominalFlipAngleDeg` and `B1FlipAngleScale` (stored units per degree, 10 for Siemens);
/// without either it is an error.
pub fn read_nifti_map(path: &Path, opts: &NiftiMapOptions) -> Result<B1Map> {
    let name = path.display().to_string();
    let vol = read_nifti_volume(path, opts.volume)?;
    let side = sidecar_path(path);
    let sidecar: Option<serde_json::Value> = if side.exists() {
        let text = crate::error::read_text(&side)?;
        Some(serde_json::from_str(&text).map_err(|e| {
            Error::input(
                &side.display().to_string(),
                "json",
                format!("sidecar is not valid JSON: {e}"),
                "fix or remove the sidecar",
            )
        })?)
    } else {
        None
    };
    let side_name = side.display().to_string();
    let unit = match (opts.unit, &sidecar) {
        (Some(u), _) => u,
        (None, Some(js)) if js.get("B1Unit").is_some() => {
            let text = js["B1Unit"].as_str().ok_or_else(|| {
                Error::input(
                    &side_name,
                    "B1Unit",
                    "B1Unit is not a string",
                    "write e.g. \"B1Unit\": \"deg\"",
                )
            })?;
            B1Unit::parse(
                text,
                js.get("B1NominalFlipAngleDeg").and_then(|v| v.as_f64()),
                js.get("B1FlipAngleScale").and_then(|v| v.as_f64()),
                &side_name,
                "B1Unit",
            )?
        }
        _ => {
            return Err(Error::input(
                &name,
                "unit",
                "the units of the B1 map are not given (no unit declared and no B1Unit in the sidecar)",
                format!(
                    "declare the unit (uT, deg with the nominal flip angle and scale, percent, fraction) or write \
                     {} with \"B1Unit\"",
                    side.display()
                ),
            ))
        }
    };
    let frame = match (opts.frame, &sidecar) {
        (Some(f), _) => f,
        (None, Some(js)) if js.get("RftwinFrame").and_then(|v| v.as_str()).is_some() => {
            Frame::parse(js["RftwinFrame"].as_str().unwrap_or_default(), &side_name)?
        }
        _ => Frame::ScannerRas,
    };
    B1Map::new(vol.data, vol.affine, frame, unit, &name)
}

/// Writes a map's magnitude as NIfTI (version by `version`, gzip when the name ends with `.gz`) and its
/// unit and frame to the JSON sidecar (see [`read_nifti_map`]). Phase and mask are not written.
pub fn write_nifti_map(path: &Path, map: &B1Map, version: NiftiVersion) -> Result<()> {
    let code = match map.frame {
        Frame::ScannerRas => 1,
        Frame::Simulation => 2,
    };
    write_nifti_volume(
        path,
        &map.magnitude,
        &map.affine,
        version,
        code,
        &format!("rftwin B1 map unit={}", map.unit.as_str()),
    )?;
    let mut js = serde_json::json!({
        "B1Unit": map.unit.as_str(),
        "RftwinFrame": map.frame.as_str(),
    });
    if let B1Unit::FlipAngleDeg { nominal_deg, scale } = map.unit {
        js["B1NominalFlipAngleDeg"] = serde_json::json!(nominal_deg);
        js["B1FlipAngleScale"] = serde_json::json!(scale);
    }
    crate::io::write_json(&sidecar_path(path), &js)
}
