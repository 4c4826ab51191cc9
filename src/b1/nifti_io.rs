//! NIfTI-1 and NIfTI-2 volumes (`.nii`, `.nii.gz`): reading with the sform/qform affine.
//!
//! Reading parses both header versions here (the `nifti` crate panics on complex and RGB data and
//! trusts the header's sizes): every field rftwin uses is checked before any voxel is read —
//! `sizeof_hdr` and `magic`, the datatype against the types rftwin reads, `bitpix` against the
//! datatype, the dimensions (`0 < dim[0] <= 7`, every dim >= 1, at most [`MAX_MAP_VOXELS`] voxels),
//! `vox_offset`, the affine fields that will be used, and the data size against the file (for
//! `.nii.gz` while decompressing, never more than the header describes). A 4-D file needs a volume
//! index. Only the selected volume is held in memory. `scl_slope` scales the data when it is finite
//! and nonzero (as nibabel does). Writing is in [`super::nifti_write`].
//!
//! The voxel affine follows the NIfTI-1 standard (nifti1.h): the sform (method 3) when
//! `sform_code > 0`, else the qform quaternion (method 2) when `qform_code > 0`, else the pixdim
//! diagonal (method 1, ANALYZE). The world frame is RAS+ in the unit of `xyzt_units` (mm when unset,
//! as dcm2niix writes); rftwin converts to metres.

use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

use ndarray::Array3;

use super::affine::Affine;
use super::map::{B1Map, B1Unit, Frame, UnitKeys};
use crate::error::{Error, Result};

/// The most voxels (all volumes together) rftwin reads from one NIfTI or HDF5 map: 2^31. A B1 map
/// has 10^4 to 10^7; a header beyond this is corrupt or not a B1 map.
pub const MAX_MAP_VOXELS: u64 = 1 << 31;

/// The largest `vox_offset` accepted (1 GiB of header extensions).
const MAX_VOX_OFFSET: f64 = (1u64 << 30) as f64;

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

/// Header fields rftwin uses, common to both versions (values widened to f64/i64).
struct Hdr {
    dim: [i64; 8],
    datatype: i16,
    bitpix: i16,
    pixdim: [f64; 8],
    vox_offset: f64,
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

/// What a checked NIfTI header says about its file (see [`read_nifti_header`]).
#[derive(Clone, Debug, PartialEq)]
pub struct NiftiHeaderInfo {
    /// 1 or 2.
    pub version: u8,
    pub little_endian: bool,
    /// `dim[1..=dim[0]]`.
    pub dims: Vec<usize>,
    /// The NIfTI datatype code and its name (e.g. 16, "float32").
    pub datatype: i16,
    pub datatype_name: &'static str,
    pub bytes_per_voxel: usize,
    /// Byte offset of the voxel data in the (decompressed) file.
    pub vox_offset: u64,
    /// Voxels of one 3-D volume (`dim[1] * dim[2] * dim[3]`).
    pub volume_voxels: u64,
    /// Volumes along `dim[4]` (1 for 2-D and 3-D files).
    pub volumes: usize,
    /// Bytes of voxel data the header describes (all volumes).
    pub data_bytes: u64,
}

pub(super) fn nerr(path: &Path, what: impl Into<String>, fix: &str) -> Error {
    Error::input(&path.display().to_string(), "nifti", what, fix)
}

fn nkey(path: &Path, key: &str, what: impl Into<String>, fix: impl Into<String>) -> Error {
    Error::input(&path.display().to_string(), key, what, fix)
}

pub(super) fn is_gz(path: &Path) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(".gz")
}

/// Opens a file, gunzipping when the name ends with `.gz` or the file starts with the gzip magic;
/// the flag says whether it is gzipped.
fn open_maybe_gz(path: &Path) -> Result<(Box<dyn Read>, bool)> {
    let io = |e| Error::Io {
        path: path.display().to_string(),
        err: e,
    };
    let mut f = File::open(path).map_err(io)?;
    let mut magic = [0u8; 2];
    let n = f.read(&mut magic).map_err(io)?;
    drop(f);
    let f = BufReader::new(File::open(path).map_err(io)?);
    if is_gz(path) || (n == 2 && magic == [0x1f, 0x8b]) {
        Ok((Box::new(flate2::read::GzDecoder::new(f)), true))
    } else {
        Ok((Box::new(f), false))
    }
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    n: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let k = self.inner.read(buf)?;
        self.n += k as u64;
        Ok(k)
    }
}

/// The error for a read that failed after `got` (decompressed) bytes of the `need` the header
/// describes.
fn short_read(path: &Path, gz: bool, info: Option<&NiftiHeaderInfo>, got: u64, err: Option<std::io::Error>) -> Error {
    let fix = "the file is truncated or damaged: copy or export it again (a .nii.gz must be a complete gzip file)";
    let what = match (info, gz, err) {
        (Some(i), true, Some(e)) => format!(
            "gzip stream ends early or is corrupt after {got} decompressed bytes; the header says {} bytes of \
             voxel data from byte {} ({e})",
            i.data_bytes, i.vox_offset
        ),
        (Some(i), _, _) => format!(
            "truncated: the header says {} bytes of voxel data from byte {}, the file holds {}",
            i.data_bytes,
            i.vox_offset,
            got.saturating_sub(i.vox_offset)
        ),
        (None, true, Some(e)) => {
            format!("gzip stream ends early or is corrupt after {got} decompressed bytes, inside the header ({e})")
        }
        (None, _, _) => format!("the file ends after {got} bytes, inside the NIfTI header"),
    };
    nkey(path, "data", what, fix)
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
    fn f32(&self, o: usize) -> f64 {
        f32::from_le_bytes(self.arr(o)) as f64
    }
    fn f64(&self, o: usize) -> f64 {
        f64::from_le_bytes(self.arr(o))
    }
}

fn cstr(b: &[u8]) -> String {
    let end = b.iter().position(|c| *c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).trim().to_string()
}

/// Name and byte size of a NIfTI datatype code; the size is None for types rftwin cannot read.
fn datatype_info(code: i16) -> (&'static str, Option<usize>) {
    match code {
        2 => ("uint8", Some(1)),
        4 => ("int16", Some(2)),
        8 => ("int32", Some(4)),
        16 => ("float32", Some(4)),
        64 => ("float64", Some(8)),
        256 => ("int8", Some(1)),
        512 => ("uint16", Some(2)),
        768 => ("uint32", Some(4)),
        1024 => ("int64", Some(8)),
        1280 => ("uint64", Some(8)),
        0 => ("unknown", None),
        1 => ("binary", None),
        32 => ("complex64", None),
        128 => ("RGB24", None),
        1536 => ("float128", None),
        1792 => ("complex128", None),
        2048 => ("complex256", None),
        2304 => ("RGBA32", None),
        _ => ("not a NIfTI datatype", None),
    }
}

/// Parses the raw NIfTI-1 (348 bytes) or NIfTI-2 (540 bytes) header at the start of `head`.
fn parse_raw(path: &Path, head: &[u8]) -> Result<(Hdr, u8, bool)> {
    if head.len() < 4 {
        return Err(short_read(path, false, None, head.len() as u64, None));
    }
    let w = [head[0], head[1], head[2], head[3]];
    let (sz_le, sz_be) = (i32::from_le_bytes(w), i32::from_be_bytes(w));
    let (version, le) = match (sz_le, sz_be) {
        (348, _) => (1u8, true),
        (_, 348) => (1, false),
        (540, _) => (2, true),
        (_, 540) => (2, false),
        _ => {
            return Err(nkey(
                path,
                "sizeof_hdr",
                format!("header size {sz_le} is neither 348 (NIfTI-1) nor 540 (NIfTI-2): not a NIfTI file"),
                "give a .nii or .nii.gz file",
            ))
        }
    };
    let need = if version == 1 { 348 } else { 540 };
    if head.len() < need {
        return Err(nkey(
            path,
            "sizeof_hdr",
            format!(
                "the file ends after {} bytes, inside the {need}-byte NIfTI-{version} header",
                head.len()
            ),
            "the file is truncated: copy or export it again",
        ));
    }
    let r = Bytes { b: head, le };
    let magic = if version == 1 { &head[344..348] } else { &head[4..8] };
    let (single, pair): (&[u8], &[u8]) = if version == 1 {
        (b"n+1\0", b"ni1\0")
    } else {
        (b"n+2\0", b"ni2\0")
    };
    if magic == pair {
        return Err(nkey(
            path,
            "magic",
            format!("a NIfTI-{version} header of a .hdr/.img pair (magic '{}')", cstr(pair)),
            "convert to a single .nii or .nii.gz file (e.g. fslchfiletype NIFTI_GZ)",
        ));
    }
    if magic != single {
        return Err(nkey(
            path,
            "magic",
            format!("magic {:?} is not '{}'", String::from_utf8_lossy(magic), cstr(single)),
            format!("give a single-file NIfTI-{version} image (.nii or .nii.gz)"),
        ));
    }
    let mut dim = [0i64; 8];
    let mut pixdim = [0f64; 8];
    let mut srow = [[0f64; 4]; 3];
    let hdr = if version == 1 {
        for a in 0..8 {
            dim[a] = r.i16(40 + 2 * a) as i64;
            pixdim[a] = r.f32(76 + 4 * a);
        }
        for (row, s) in srow.iter_mut().enumerate() {
            for (c, v) in s.iter_mut().enumerate() {
                *v = r.f32(280 + 16 * row + 4 * c);
            }
        }
        Hdr {
            dim,
            datatype: r.i16(70),
            bitpix: r.i16(72),
            pixdim,
            vox_offset: r.f32(108),
            scl_slope: r.f32(112),
            scl_inter: r.f32(116),
            qform_code: r.i16(252) as i32,
            sform_code: r.i16(254) as i32,
            quatern: [r.f32(256), r.f32(260), r.f32(264)],
            qoffset: [r.f32(268), r.f32(272), r.f32(276)],
            srow,
            xyzt_units: head[123] as i32,
            descrip: cstr(&head[148..228]),
        }
    } else {
        for a in 0..8 {
            dim[a] = r.i64(16 + 8 * a);
            pixdim[a] = r.f64(104 + 8 * a);
        }
        for (row, s) in srow.iter_mut().enumerate() {
            for (c, v) in s.iter_mut().enumerate() {
                *v = r.f64(400 + 32 * row + 8 * c);
            }
        }
        Hdr {
            dim,
            datatype: r.i16(12),
            bitpix: r.i16(14),
            pixdim,
            vox_offset: r.i64(168) as f64,
            scl_slope: r.f64(176),
            scl_inter: r.f64(184),
            qform_code: r.i32(344),
            sform_code: r.i32(348),
            quatern: [r.f64(352), r.f64(360), r.f64(368)],
            qoffset: [r.f64(376), r.f64(384), r.f64(392)],
            srow,
            xyzt_units: r.i32(500),
            descrip: cstr(&head[240..320]),
        }
    };
    Ok((hdr, version, le))
}

/// Checks the header fields rftwin uses; returns what they say about the file.
fn check_header(path: &Path, h: &Hdr, version: u8, le: bool) -> Result<NiftiHeaderInfo> {
    let nd = h.dim[0];
    if !(1..=7).contains(&nd) {
        return Err(nkey(
            path,
            "dim[0]",
            format!("dim[0] = {nd} is not a rank between 1 and 7"),
            "check the file is an intact NIfTI image",
        ));
    }
    let nd = nd as usize;
    let raw = &h.dim[1..=nd];
    if let Some(a) = raw.iter().position(|v| *v < 1) {
        return Err(nkey(
            path,
            "dim",
            format!(
                "dim[{}] = {} (dims {raw:?}): every dimension must be at least 1",
                a + 1,
                raw[a]
            ),
            "check the file (a zero or negative size is not an image)",
        ));
    }
    let dims: Vec<usize> = raw.iter().map(|v| *v as usize).collect();
    if nd < 2 {
        return Err(nkey(
            path,
            "dim[0]",
            format!("rank {nd} image ({dims:?}); a B1 map needs 2-D (one slice) or 3-D"),
            "give a 3-D map",
        ));
    }
    if dims.iter().skip(4).any(|v| *v != 1) {
        return Err(nkey(
            path,
            "dim",
            format!("rank {nd} image {dims:?}: dims beyond the 4th must be 1"),
            "extract the 3-D B1 map (e.g. fslroi)",
        ));
    }
    let total = dims.iter().try_fold(1u64, |acc, d| acc.checked_mul(*d as u64));
    match total {
        Some(t) if t <= MAX_MAP_VOXELS => {}
        _ => {
            let n = total.map(|t| t.to_string()).unwrap_or_else(|| "more than 2^64".into());
            return Err(nkey(
                path,
                "dim",
                format!("dims {dims:?} make {n} voxels, above rftwin's limit of 2^31 voxels per map"),
                "a B1 map has 10^4 to 10^7 voxels: check the header is intact, or crop/downsample the map",
            ));
        }
    }
    let (dname, size) = datatype_info(h.datatype);
    let Some(size) = size else {
        let code = h.datatype;
        let (what, fix) = match code {
            32 | 1792 | 2048 => (
                format!("datatype {code} ({dname}) holds complex values; rftwin reads real B1 magnitude maps"),
                "store the magnitude as float32 (e.g. nibabel: abs(data).astype('float32'); fslcomplex -realabs)",
            ),
            128 | 2304 => (
                format!("datatype {code} ({dname}) is a colour image, not a B1 map"),
                "store the B1 magnitude as float32",
            ),
            _ => (
                format!("datatype {code} ({dname}) is not one rftwin reads"),
                "store the map as float32 (or float64 or an integer type)",
            ),
        };
        return Err(nkey(path, "datatype", what, fix));
    };
    if h.bitpix as i64 != 8 * size as i64 {
        return Err(nkey(
            path,
            "bitpix",
            format!(
                "bitpix {} does not match datatype {} ({dname}, {} bits)",
                h.bitpix,
                h.datatype,
                8 * size
            ),
            "rewrite the file with a consistent header",
        ));
    }
    let hdr_len = if version == 1 { 348.0 } else { 540.0 };
    let vo = h.vox_offset;
    if !(vo.is_finite() && vo >= hdr_len && vo <= MAX_VOX_OFFSET && vo.fract() == 0.0) {
        return Err(nkey(
            path,
            "vox_offset",
            format!("vox_offset {vo} is not a byte offset between the end of the {hdr_len}-byte header and 1 GiB"),
            "rewrite the file (vox_offset is 352 for NIfTI-1 and 544 for NIfTI-2 without extensions)",
        ));
    }
    check_xform(path, h)?;
    let volume_voxels = dims.iter().take(3).map(|d| *d as u64).product::<u64>();
    let total = total.unwrap_or(0);
    Ok(NiftiHeaderInfo {
        version,
        little_endian: le,
        volumes: if nd >= 4 { dims[3] } else { 1 },
        dims,
        datatype: h.datatype,
        datatype_name: dname,
        bytes_per_voxel: size,
        vox_offset: vo as u64,
        volume_voxels,
        data_bytes: total * size as u64,
    })
}

/// Checks that the header fields which give the affine (sform, else qform, else pixdim) are finite and
/// usable, naming the field.
fn check_xform(path: &Path, h: &Hdr) -> Result<()> {
    let fin = |v: &[f64]| v.iter().all(|x| x.is_finite());
    if h.sform_code > 0 {
        for (r, name) in ["srow_x", "srow_y", "srow_z"].iter().enumerate() {
            if !fin(&h.srow[r]) {
                return Err(nkey(
                    path,
                    name,
                    format!(
                        "sform row {name} = {:?} is not finite (sform_code {})",
                        h.srow[r], h.sform_code
                    ),
                    "rewrite the file with a valid sform, or set sform_code = 0 to use the qform",
                ));
            }
        }
        return Ok(());
    }
    let spacing = &h.pixdim[1..4];
    if spacing.iter().any(|v| !(v.is_finite() && *v > 0.0)) {
        let used = if h.qform_code > 0 {
            "qform"
        } else {
            "pixdim affine (no sform or qform)"
        };
        return Err(nkey(
            path,
            "pixdim",
            format!("voxel size pixdim[1..4] = {spacing:?} is not finite and positive (used by the {used})"),
            "rewrite the file with the voxel sizes in pixdim[1..4] (mm), or with a valid sform",
        ));
    }
    if h.qform_code > 0 {
        let q2: f64 = h.quatern.iter().map(|v| v * v).sum();
        if !fin(&h.quatern) || !fin(&h.qoffset) || q2 > 1.0 + 1e-3 {
            return Err(nkey(
                path,
                "quatern_b",
                format!(
                    "qform quaternion (b, c, d) = {:?} / offset {:?} is not finite or not a unit quaternion",
                    h.quatern, h.qoffset
                ),
                "rewrite the file with a valid qform, or set qform_code = 0",
            ));
        }
    }
    Ok(())
}

/// Reads and checks the header of a NIfTI-1 or NIfTI-2 file (`.nii` or `.nii.gz`) without reading
/// the voxel data; for an uncompressed file it also checks the data size against the file length.
pub fn read_nifti_header(path: &Path) -> Result<NiftiHeaderInfo> {
    Ok(header(path)?.1)
}

fn header(path: &Path) -> Result<(Hdr, NiftiHeaderInfo)> {
    let (rd, gz) = open_maybe_gz(path)?;
    let mut rd = Counting { inner: rd, n: 0 };
    let mut head = Vec::with_capacity(540);
    if let Err(e) = rd.by_ref().take(540).read_to_end(&mut head) {
        return Err(if gz {
            short_read(path, gz, None, rd.n, Some(e))
        } else {
            Error::Io {
                path: path.display().to_string(),
                err: e,
            }
        });
    }
    let (hdr, version, le) = parse_raw(path, &head)?;
    let info = check_header(path, &hdr, version, le)?;
    if !gz {
        let len = std::fs::metadata(path)
            .map_err(|e| Error::Io {
                path: path.display().to_string(),
                err: e,
            })?
            .len();
        if len < info.vox_offset + info.data_bytes {
            return Err(short_read(path, false, Some(&info), len, None));
        }
    }
    Ok((hdr, info))
}

/// Decodes one voxel of `raw` at byte `o` (file byte order) as f64.
fn voxel(r: &Bytes, datatype: i16, o: usize) -> f64 {
    match datatype {
        2 => r.b[o] as f64,
        256 => r.b[o] as i8 as f64,
        4 => r.i16(o) as f64,
        512 => u16::from_le_bytes(r.arr(o)) as f64,
        8 => r.i32(o) as f64,
        768 => u32::from_le_bytes(r.arr(o)) as f64,
        16 => r.f32(o),
        64 => r.f64(o),
        1024 => r.i64(o) as f64,
        _ => u64::from_le_bytes(r.arr(o)) as f64,
    }
}

/// Reads volume `volume` of a checked file in row-major order: skips to it, reads it, and reads on
/// to the end of the data the header describes (so a truncated file is an error whichever volume is
/// chosen).
fn read_volume_data(path: &Path, info: &NiftiHeaderInfo, volume: usize) -> Result<Vec<f32>> {
    let (rd, gz) = open_maybe_gz(path)?;
    let mut rd = Counting { inner: rd, n: 0 };
    let vol_bytes = info.volume_voxels * info.bytes_per_voxel as u64;
    let start = info.vox_offset + volume as u64 * vol_bytes;
    let end = info.vox_offset + info.data_bytes;
    let fail = |n: u64, e: Option<std::io::Error>| short_read(path, gz, Some(info), n, e);
    let skipped = std::io::copy(&mut rd.by_ref().take(start), &mut std::io::sink()).map_err(|e| fail(rd.n, Some(e)));
    if skipped? < start {
        return Err(fail(rd.n, None));
    }
    // The volume, decoded in chunks straight into row-major order ([i][j][k], k fastest; the file
    // is i fastest): the f32 output is the only allocation of the volume's size.
    let d = &info.dims;
    let (nx, ny, nz) = (d[0], d[1], if d.len() >= 3 { d[2] } else { 1 });
    let nvox = nx * ny * nz;
    // The volume and what a fit keeps of it (mask, resampled and masked copies): ~16 bytes a voxel.
    crate::resources::check_bytes(
        &path.display().to_string(),
        "dim",
        &format!("the map volume of dims {:?}", info.dims),
        crate::resources::bytes_of(Some(nvox as u64), 16),
        |_| "crop or downsample the map to the phantom's region before fitting".into(),
    )?;
    let mut out: Vec<f32> = Vec::new();
    out.try_reserve_exact(nvox).map_err(|_| {
        nkey(
            path,
            "dim",
            format!(
                "cannot allocate {} bytes for one volume of dims {:?}",
                4 * nvox,
                info.dims
            ),
            "crop or downsample the map",
        )
    })?;
    out.resize(nvox, 0.0);
    let size = info.bytes_per_voxel;
    let mut chunk = vec![0u8; size * 16384];
    let mut done = 0usize; // voxels decoded (file order)
    while done < nvox {
        let n = (nvox - done).min(16384);
        if let Err(e) = rd.read_exact(&mut chunk[..n * size]) {
            // A plain end of data (std's own UnexpectedEof, no inner error) is a short file; an
            // inner error (e.g. flate2's "incomplete deflate stream") is reported with its text.
            return Err(
                if e.kind() == std::io::ErrorKind::UnexpectedEof && e.get_ref().is_none() {
                    fail(rd.n, None)
                } else {
                    fail(rd.n, Some(e))
                },
            );
        }
        let r = Bytes {
            b: &chunk[..n * size],
            le: info.little_endian,
        };
        for q in 0..n {
            let f = done + q;
            let (i, j, k) = (f % nx, (f / nx) % ny, f / (nx * ny));
            out[(i * ny + j) * nz + k] = voxel(&r, info.datatype, q * size) as f32;
        }
        done += n;
    }
    let rest = end - rd.n;
    match std::io::copy(&mut rd.by_ref().take(rest), &mut std::io::sink()) {
        Err(e) => return Err(fail(rd.n, Some(e))),
        Ok(k) if k < rest => return Err(fail(rd.n, None)),
        Ok(_) => {}
    }
    Ok(out)
}

/// Metres per stored spatial unit (`xyzt_units & 7`: 1 m, 2 mm, 3 µm; 0 = unknown, taken as mm).
fn space_scale(path: &Path, xyzt_units: i32) -> Result<f64> {
    match xyzt_units & 7 {
        0 | 2 => Ok(1e-3),
        1 => Ok(1.0),
        3 => Ok(1e-6),
        u => Err(nkey(
            path,
            "xyzt_units",
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

/// Reads volume `volume` (0 for a 3-D file) of a NIfTI-1 or NIfTI-2 file (`.nii` or `.nii.gz`).
pub fn read_nifti_volume(path: &Path, volume: usize) -> Result<NiftiVolume> {
    read_volume(path, Some(volume))
}

/// Reads one volume; `None` accepts only a file with one volume (a 4-D file needs an index).
pub(super) fn read_volume(path: &Path, volume: Option<usize>) -> Result<NiftiVolume> {
    let name = path.display().to_string();
    let (hdr, info) = header(path)?;
    let nt = info.volumes;
    let volume = match volume {
        Some(v) if v >= nt => {
            return Err(nkey(
                path,
                "volume",
                format!(
                    "volume {v} requested but the file holds {nt} volume(s) (dims {:?})",
                    info.dims
                ),
                format!("choose a 0-based volume index below {nt}"),
            ))
        }
        Some(v) => v,
        None if nt > 1 => {
            return Err(nkey(
                path,
                "volume",
                format!(
                    "the map is 4-D with {nt} volumes (dims {:?}) and no volume was chosen",
                    info.dims
                ),
                format!(
                    "choose one, 0-based (0 to {}): `--volume N` (rftwin twin fit) or `measured_volume = N` \
                     in the recipe's [twin] section",
                    nt - 1
                ),
            ))
        }
        None => 0,
    };
    let mut v = read_volume_data(path, &info, volume)?;
    if hdr.scl_slope.is_finite() && hdr.scl_slope != 0.0 {
        let inter = if hdr.scl_inter.is_finite() { hdr.scl_inter } else { 0.0 };
        for x in v.iter_mut() {
            *x = (*x as f64 * hdr.scl_slope + inter) as f32;
        }
    }
    let d = &info.dims;
    let shape = (d[0], d[1], if d.len() >= 3 { d[2] } else { 1 });
    let a3 = Array3::from_shape_vec(shape, v).map_err(|e| nerr(path, format!("data shape: {e}"), "check the file"))?;
    let (affine, xform) = header_affine(path, &hdr)?;
    affine.inverse(&name)?;
    Ok(NiftiVolume {
        data: a3,
        affine,
        xform,
        version: info.version,
        description: hdr.descrip,
    })
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
    /// 0-based volume index along the 4th dimension; needed when the file holds more than one
    /// volume (a 4-D map without it is an error, never silently its first volume).
    pub volume: Option<usize>,
    /// World frame; default from the sidecar key `RftwinFrame`, else scanner RAS.
    pub frame: Option<Frame>,
    /// Nominal flip angle (degrees) and stored units per degree of a flip-angle map; override the
    /// sidecar's `B1NominalFlipAngleDeg` and `B1FlipAngleScale` (not used with `unit`).
    pub nominal_flip_deg: Option<f64>,
    pub flip_scale: Option<f64>,
    /// The options that declare the unit where the map was named (e.g. "or give `--unit ...`"),
    /// appended to the fixes of unit errors; empty: none.
    pub options_hint: String,
}

/// Reads a B1 magnitude map from NIfTI-1/2. The unit comes from `opts.unit`, else from the JSON
/// sidecar (`map.json` next to `map.nii[.gz]`) keys `B1Unit` (`uT`, `deg`, `percent`, `fraction`),
/// `B1NominalFlipAngleDeg` and `B1FlipAngleScale` (stored units per degree, 10 for Siemens);
/// without either it is an error.
pub fn read_nifti_map(path: &Path, opts: &NiftiMapOptions) -> Result<B1Map> {
    let name = path.display().to_string();
    let vol = read_volume(path, opts.volume)?;
    let side = sidecar_path(path);
    let sidecar: Option<serde_json::Value> = if side.exists() {
        let text = crate::spec::read_text(&side)?;
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
            let keys = UnitKeys::sidecar().with_options(&opts.options_hint);
            let num = |k: &str| -> Result<Option<f64>> {
                match js.get(k) {
                    None | Some(serde_json::Value::Null) => Ok(None),
                    Some(v) => v.as_f64().map(Some).ok_or_else(|| {
                        Error::input(
                            &side_name,
                            k,
                            format!("{k} = {v} is not a number"),
                            format!("write it as a JSON number: {}", keys.fix_flip()),
                        )
                    }),
                }
            };
            let nominal = match opts.nominal_flip_deg {
                Some(v) => Some(v),
                None => num(&keys.nominal)?,
            };
            let scale = match opts.flip_scale {
                Some(v) => Some(v),
                None => num(&keys.scale)?,
            };
            B1Unit::parse_keyed(text, nominal, scale, &side_name, &keys)?
        }
        _ => {
            return Err(Error::input(
                &name,
                "unit",
                format!(
                    "the unit of the B1 map is not given (no \"B1Unit\" in a JSON sidecar {})",
                    side.display()
                ),
                format!(
                    "write {} with \"B1Unit\": \"uT\", \"percent\", \"fraction\" or \"deg\" (a flip-angle map \
                     also needs \"B1NominalFlipAngleDeg\" and \"B1FlipAngleScale\"){}",
                    side.display(),
                    if opts.options_hint.is_empty() {
                        String::new()
                    } else {
                        format!("; {}", opts.options_hint)
                    }
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
