//! Writing NIfTI-1 and NIfTI-2 volumes and B1 maps (`.nii`, `.nii.gz`) with the sform and qform
//! affine and the JSON sidecar, through the `nifti` crate (NIfTI-1) or here (NIfTI-2); reading is in
//! [`super::nifti_io`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;

use ndarray::Array3;

use super::affine::{det3, Affine};
use super::map::{B1Map, B1Unit, Frame};
use super::nifti_io::{is_gz, nerr, sidecar_path};
use crate::error::{Error, Result};

/// Which NIfTI version to write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NiftiVersion {
    V1,
    V2,
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

/// Writes a map's magnitude as NIfTI (version by `version`, gzip when the name ends with `.gz`) and its
/// unit and frame to the JSON sidecar (see [`read_nifti_map`](super::nifti_io::read_nifti_map)). Phase and mask are not written.
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
