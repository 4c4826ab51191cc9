//! A B1 map as a DICOM series (`--measured DIR`, or one enhanced multi-frame file), read with the
//! dicom-rs crates.
//!
//! - Classic single-frame files (one slice each) or enhanced multi-frame files (the frames'
//!   geometry from the shared and per-frame functional groups); uncompressed transfer syntaxes
//!   (implicit or explicit VR little endian); 8-, 16- or 32-bit integer, one sample per pixel.
//! - Stored values × `RescaleSlope` + `RescaleIntercept` (per frame for enhanced files).
//! - Voxel `[i, j, k]` = column `i`, row `j` of slice `k`, slices sorted along the normal
//!   (`row direction × column direction` of `ImageOrientationPatient`); the affine from
//!   `ImagePositionPatient`, `ImageOrientationPatient`, `PixelSpacing` and the slices' spacing, in
//!   LPS mm, is returned in RAS metres (the frame NIfTI maps have) for [`super::patient`].
//! - Refused with the file and the fix: files of more than one series, slices with another
//!   orientation, size or pixel spacing, two slices at one position, a gap in the slice positions
//!   (missing slices), slices not stacked along their normal, compressed or colour images.
//! - The attributes that say what the map is ([`ScanInfo`]: manufacturer, sequence, image type and
//!   comments, patient position) for [`super::vendor::recognise`].

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use dicom_dictionary_std::tags;
use dicom_object::InMemDicomObject;
use ndarray::Array3;

use super::affine::Affine;
use super::vendor::ScanInfo;
use crate::error::{Error, Result};

/// A series as read (see the module documentation).
#[derive(Clone, Debug)]
pub struct DicomSeries {
    /// Rescaled values, `[column, row, slice]`.
    pub data: Array3<f32>,
    /// Voxel index → patient RAS (m).
    pub affine_ras: Affine,
    pub info: ScanInfo,
    /// Files read.
    pub files: usize,
}

/// Whether `path` names DICOM input: a directory, a `.dcm`/`.ima` file, or a file with the DICOM
/// preamble (`DICM` at byte 128).
pub fn is_dicom_input(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    let lower = path.to_string_lossy().to_ascii_lowercase();
    lower.ends_with(".dcm") || lower.ends_with(".ima") || has_preamble(path)
}

fn has_preamble(path: &Path) -> bool {
    use std::io::Read;
    let mut b = [0u8; 132];
    match std::fs::File::open(path) {
        Ok(mut f) => f.read_exact(&mut b).is_ok() && &b[128..132] == b"DICM",
        Err(_) => false,
    }
}

const UNCOMPRESSED: [&str; 2] = ["1.2.840.10008.1.2", "1.2.840.10008.1.2.1"];

/// One 2-D image of the series.
struct Slice {
    file: String,
    frame: Option<usize>,
    ipp: [f64; 3],
    iop: [f64; 6],
    /// PixelSpacing: between rows, between columns (mm).
    spacing: [f64; 2],
    rows: usize,
    cols: usize,
    values: Vec<f32>,
    thickness: Option<f64>,
}

impl Slice {
    fn name(&self) -> String {
        match self.frame {
            Some(f) => format!("{} (frame {})", self.file, f + 1),
            None => self.file.clone(),
        }
    }
}

fn err(file: &str, key: &str, what: impl Into<String>, fix: impl Into<String>) -> Error {
    Error::input(file, key, what, fix)
}

fn opt_str(o: &InMemDicomObject, tag: dicom_object::Tag) -> Option<String> {
    let e = o.element_opt(tag).ok().flatten()?;
    let s = e.to_str().ok()?.trim().trim_end_matches('\0').trim().to_string();
    (!s.is_empty()).then_some(s)
}

fn opt_floats(o: &InMemDicomObject, tag: dicom_object::Tag) -> Option<Vec<f64>> {
    let e = o.element_opt(tag).ok().flatten()?;
    e.to_multi_float64().ok().filter(|v| !v.is_empty())
}

fn opt_int(o: &InMemDicomObject, tag: dicom_object::Tag) -> Option<i64> {
    let e = o.element_opt(tag).ok().flatten()?;
    e.to_int::<i64>().ok()
}

/// The first item of sequence `seq` in `o`.
fn item(o: &InMemDicomObject, seq: dicom_object::Tag) -> Option<&InMemDicomObject> {
    o.element_opt(seq).ok().flatten()?.items()?.first()
}

/// A value of a functional group: in the frame's group, else in the shared one.
fn group_floats(
    frame: Option<&InMemDicomObject>,
    shared: Option<&InMemDicomObject>,
    seq: dicom_object::Tag,
    tag: dicom_object::Tag,
) -> Option<Vec<f64>> {
    frame
        .and_then(|f| item(f, seq))
        .and_then(|i| opt_floats(i, tag))
        .or_else(|| shared.and_then(|s| item(s, seq)).and_then(|i| opt_floats(i, tag)))
}

fn need_floats(v: Option<Vec<f64>>, n: usize, file: &str, key: &str) -> Result<Vec<f64>> {
    match v {
        Some(v) if v.len() >= n && v.iter().take(n).all(|x| x.is_finite()) => Ok(v),
        Some(v) => Err(err(
            file,
            key,
            format!("has {} values ({v:?}), not {n} finite numbers", v.len()),
            "check the file is an image of a 3-D MR series (a localizer or a report is not)",
        )),
        None => Err(err(
            file,
            key,
            "is missing",
            "give the image files of a 3-D MR series (with ImagePositionPatient, ImageOrientationPatient, \
             PixelSpacing), or convert it with dcm2niix and give the .nii.gz",
        )),
    }
}

fn decode_pixels(
    obj: &InMemDicomObject,
    file: &str,
    ts: &str,
    n_frames: usize,
    rows: usize,
    cols: usize,
) -> Result<Vec<Vec<f64>>> {
    if !UNCOMPRESSED.contains(&ts) {
        return Err(err(
            file,
            "TransferSyntaxUID",
            format!("the pixel data are encoded with transfer syntax {ts} (compressed or big endian)"),
            "decompress the series first (e.g. `gdcmconv --raw IN OUT` or `dcmdjpeg IN OUT`), or convert it \
             with dcm2niix and give the .nii.gz",
        ));
    }
    let spp = opt_int(obj, tags::SAMPLES_PER_PIXEL).unwrap_or(1);
    if spp != 1 {
        return Err(err(
            file,
            "SamplesPerPixel",
            format!("{spp} samples per pixel (a colour image)"),
            "give the series of the B1 map itself (one value per voxel), not a colour rendering of it",
        ));
    }
    let bits = opt_int(obj, tags::BITS_ALLOCATED).unwrap_or(16);
    let signed = opt_int(obj, tags::PIXEL_REPRESENTATION).unwrap_or(0) == 1;
    let bytes = obj
        .element_opt(tags::PIXEL_DATA)
        .ok()
        .flatten()
        .and_then(|e| e.to_bytes().ok())
        .ok_or_else(|| {
            err(
                file,
                "PixelData",
                "no pixel data (or float pixel data, which rftwin does not read)",
                "give the image files of the map (integer pixel data)",
            )
        })?;
    let bpp = match bits {
        8 => 1,
        16 => 2,
        32 => 4,
        b => {
            return Err(err(
                file,
                "BitsAllocated",
                format!("{b} bits per pixel"),
                "give a map stored with 8, 16 or 32 bits per pixel, or convert it with dcm2niix",
            ))
        }
    };
    let per = rows * cols;
    if bytes.len() < per * bpp * n_frames {
        return Err(err(
            file,
            "PixelData",
            format!(
                "{} bytes of pixel data, but {n_frames} frame(s) of {rows} × {cols} × {bpp} bytes need {}",
                bytes.len(),
                per * bpp * n_frames
            ),
            "the file is truncated or damaged: copy it again from the scanner or PACS",
        ));
    }
    let value = |i: usize| -> f64 {
        let b = &bytes[i * bpp..(i + 1) * bpp];
        match (bpp, signed) {
            (1, false) => b[0] as f64,
            (1, true) => b[0] as i8 as f64,
            (2, false) => u16::from_le_bytes([b[0], b[1]]) as f64,
            (2, true) => i16::from_le_bytes([b[0], b[1]]) as f64,
            (_, false) => u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
            (_, true) => i32::from_le_bytes([b[0], b[1], b[2], b[3]]) as f64,
        }
    };
    Ok((0..n_frames)
        .map(|f| (0..per).map(|i| value(f * per + i)).collect())
        .collect())
}

fn scan_info(o: &InMemDicomObject, name: &str) -> ScanInfo {
    let image_type = o
        .element_opt(tags::IMAGE_TYPE)
        .ok()
        .flatten()
        .and_then(|e| {
            e.to_str()
                .ok()
                .map(|s| s.split('\\').map(|t| t.trim().to_string()).collect())
        })
        .unwrap_or_default();
    let mut s = ScanInfo {
        manufacturer: opt_str(o, tags::MANUFACTURER),
        sequence_name: opt_str(o, tags::SEQUENCE_NAME).or_else(|| opt_str(o, tags::PULSE_SEQUENCE_NAME)),
        protocol_name: opt_str(o, tags::PROTOCOL_NAME),
        series_description: opt_str(o, tags::SERIES_DESCRIPTION),
        pulse_sequence_details: None,
        image_type,
        image_comments: opt_str(o, tags::IMAGE_COMMENTS),
        patient_position: opt_str(o, tags::PATIENT_POSITION),
        tx_ref_amp_v: None,
        units: None,
        file_name: name.to_ascii_lowercase(),
    };
    s.fill_tx_ref_from_comments();
    s
}

/// The files of `path` (a directory: its files, sorted, not `DICOMDIR`, not hidden; one file:
/// itself) that are DICOM.
fn dicom_files(path: &Path) -> Result<Vec<PathBuf>> {
    let name = path.display().to_string();
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let rd = std::fs::read_dir(path).map_err(|e| {
        err(
            &name,
            "measured",
            format!("cannot list the directory: {e}"),
            "check the path and its permissions",
        )
    })?;
    let mut files: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| {
            let f = p
                .file_name()
                .map(|f| f.to_string_lossy().to_string())
                .unwrap_or_default();
            !f.starts_with('.') && !f.eq_ignore_ascii_case("DICOMDIR")
        })
        .filter(|p| has_preamble(p))
        .collect();
    files.sort();
    if files.is_empty() {
        return Err(err(
            &name,
            "measured",
            "the directory holds no DICOM file (none with the DICM preamble)",
            "give the directory of the map's DICOM series, or a .nii/.nii.gz (dcm2niix) or .h5 map file",
        ));
    }
    Ok(files)
}

/// Reads the DICOM series at `path` (see the module documentation).
pub fn read_dicom_series(path: &Path) -> Result<DicomSeries> {
    let name = path.display().to_string();
    let files = dicom_files(path)?;
    let mut series: BTreeMap<String, (Option<String>, Option<String>, usize)> = BTreeMap::new();
    let mut slices: Vec<Slice> = Vec::new();
    let mut info: Option<ScanInfo> = None;
    let mut first_uid: Option<String> = None;
    for f in &files {
        let fname = f.display().to_string();
        let obj = dicom_object::open_file(f).map_err(|e| {
            err(
                &fname,
                "dicom",
                format!("not a readable DICOM file: {e}"),
                "remove it from the directory or copy it again from the scanner",
            )
        })?;
        let uid = opt_str(&obj, tags::SERIES_INSTANCE_UID).unwrap_or_default();
        let entry = series.entry(uid.clone()).or_insert((
            opt_str(&obj, tags::SERIES_NUMBER),
            opt_str(&obj, tags::SERIES_DESCRIPTION),
            0,
        ));
        entry.2 += 1;
        if first_uid.is_none() {
            first_uid = Some(uid.clone());
        }
        if first_uid.as_deref() != Some(uid.as_str()) {
            continue;
        }
        if info.is_none() {
            let dir_name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            info = Some(scan_info(&obj, &dir_name));
        }
        let ts = obj.meta().transfer_syntax().trim_end_matches('\0').trim().to_string();
        let rows = opt_int(&obj, tags::ROWS).unwrap_or(0).max(0) as usize;
        let cols = opt_int(&obj, tags::COLUMNS).unwrap_or(0).max(0) as usize;
        if rows == 0 || cols == 0 {
            return Err(err(
                &fname,
                "Rows/Columns",
                "no image size",
                "give the image files of the map's series only",
            ));
        }
        let n_frames = opt_int(&obj, tags::NUMBER_OF_FRAMES).unwrap_or(1).max(1) as usize;
        let pixels = decode_pixels(&obj, &fname, &ts, n_frames, rows, cols)?;
        let shared = item(&obj, tags::SHARED_FUNCTIONAL_GROUPS_SEQUENCE);
        let per_frame: Vec<&InMemDicomObject> = obj
            .element_opt(tags::PER_FRAME_FUNCTIONAL_GROUPS_SEQUENCE)
            .ok()
            .flatten()
            .and_then(|e| e.items())
            .map(|v| v.iter().collect())
            .unwrap_or_default();
        let enhanced = shared.is_some() || !per_frame.is_empty();
        if enhanced && per_frame.len() != n_frames {
            return Err(err(
                &fname,
                "PerFrameFunctionalGroupsSequence",
                format!("{} per-frame items for {n_frames} frames", per_frame.len()),
                "the enhanced file is damaged or incomplete: export the series again",
            ));
        }
        for (fi, values) in pixels.into_iter().enumerate() {
            let (pf, frame) = if enhanced {
                (Some(per_frame[fi]), Some(fi))
            } else {
                (None, None)
            };
            let g = |seq, tag| {
                if enhanced {
                    group_floats(pf, shared, seq, tag)
                } else {
                    opt_floats(&obj, tag)
                }
            };
            let label = match frame {
                Some(k) => format!("{fname} (frame {})", k + 1),
                None => fname.clone(),
            };
            let ipp = need_floats(
                g(tags::PLANE_POSITION_SEQUENCE, tags::IMAGE_POSITION_PATIENT),
                3,
                &label,
                "ImagePositionPatient",
            )?;
            let iop = need_floats(
                g(tags::PLANE_ORIENTATION_SEQUENCE, tags::IMAGE_ORIENTATION_PATIENT),
                6,
                &label,
                "ImageOrientationPatient",
            )?;
            let ps = need_floats(
                g(tags::PIXEL_MEASURES_SEQUENCE, tags::PIXEL_SPACING),
                2,
                &label,
                "PixelSpacing",
            )?;
            if !(ps[0] > 0.0 && ps[1] > 0.0) {
                return Err(err(
                    &label,
                    "PixelSpacing",
                    format!("{ps:?} is not positive"),
                    "check the file",
                ));
            }
            let slope = g(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE, tags::RESCALE_SLOPE)
                .map(|v| v[0])
                .unwrap_or(1.0);
            let inter = g(tags::PIXEL_VALUE_TRANSFORMATION_SEQUENCE, tags::RESCALE_INTERCEPT)
                .map(|v| v[0])
                .unwrap_or(0.0);
            if !(slope.is_finite() && inter.is_finite()) || slope == 0.0 {
                return Err(err(
                    &label,
                    "RescaleSlope",
                    format!("slope {slope}, intercept {inter}"),
                    "check the file: the slope must be a nonzero finite number",
                ));
            }
            let thickness = g(tags::PIXEL_MEASURES_SEQUENCE, tags::SLICE_THICKNESS)
                .map(|v| v[0])
                .or_else(|| opt_floats(&obj, tags::SPACING_BETWEEN_SLICES).map(|v| v[0]));
            slices.push(Slice {
                file: fname.clone(),
                frame,
                ipp: [ipp[0], ipp[1], ipp[2]],
                iop: [iop[0], iop[1], iop[2], iop[3], iop[4], iop[5]],
                spacing: [ps[0], ps[1]],
                rows,
                cols,
                values: values.iter().map(|v| (v * slope + inter) as f32).collect(),
                thickness,
            });
        }
    }
    if series.len() > 1 {
        let list: Vec<String> = series
            .iter()
            .map(|(uid, (num, desc, n))| {
                format!(
                    "series {} \"{}\" ({n} files, {uid})",
                    num.clone().unwrap_or_else(|| "?".into()),
                    desc.clone().unwrap_or_default()
                )
            })
            .collect();
        return Err(err(
            &name,
            "SeriesInstanceUID",
            format!("the directory holds {} series: {}", series.len(), list.join("; ")),
            "put the files of the B1 map's series alone into a directory (a Siemens tfl_b1map gives two series: \
             give the one whose ImageComments say \"flip angle map\")",
        ));
    }
    assemble(&name, slices, info.unwrap_or_default(), files.len())
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

fn assemble(name: &str, mut slices: Vec<Slice>, info: ScanInfo, files: usize) -> Result<DicomSeries> {
    let first = &slices[0];
    let (rows, cols, iop, ps) = (first.rows, first.cols, first.iop, first.spacing);
    let ref_name = first.name();
    for s in &slices[1..] {
        if s.rows != rows || s.cols != cols {
            return Err(err(
                &s.name(),
                "Rows/Columns",
                format!("{} × {} pixels, but {ref_name} has {rows} × {cols}", s.rows, s.cols),
                "give one stack of slices of one size (move other series or reformats out of the directory)",
            ));
        }
        let d = (0..6).map(|a| (s.iop[a] - iop[a]).abs()).fold(0.0, f64::max);
        if d > 1e-4 {
            return Err(err(
                &s.name(),
                "ImageOrientationPatient",
                format!("inconsistent orientation: {:?}, but {ref_name} has {:?}", s.iop, iop),
                "give one stack of parallel slices with one orientation (move localizers, other stacks and \
                 reformats out of the directory)",
            ));
        }
        if (s.spacing[0] - ps[0]).abs() > 1e-4 * ps[0] || (s.spacing[1] - ps[1]).abs() > 1e-4 * ps[1] {
            return Err(err(
                &s.name(),
                "PixelSpacing",
                format!("{:?} mm, but {ref_name} has {:?} mm", s.spacing, ps),
                "give one stack of slices with one pixel spacing",
            ));
        }
    }
    let row_dir = [iop[0], iop[1], iop[2]];
    let col_dir = [iop[3], iop[4], iop[5]];
    let normal = cross(row_dir, col_dir);
    let nn = dot(normal, normal).sqrt();
    if !(nn > 0.99 && nn < 1.01) || dot(row_dir, col_dir).abs() > 1e-3 {
        return Err(err(
            &ref_name,
            "ImageOrientationPatient",
            format!("{iop:?} are not two orthogonal unit vectors"),
            "check the file (or convert the series with dcm2niix and give the .nii.gz)",
        ));
    }
    slices.sort_by(|a, b| dot(a.ipp, normal).total_cmp(&dot(b.ipp, normal)));
    let n = slices.len();
    let pos: Vec<f64> = slices.iter().map(|s| dot(s.ipp, normal)).collect();
    let step = if n > 1 {
        let gaps: Vec<f64> = pos.windows(2).map(|w| w[1] - w[0]).collect();
        for (k, g) in gaps.iter().enumerate() {
            if *g < 1e-3 {
                return Err(err(
                    &slices[k + 1].name(),
                    "ImagePositionPatient",
                    format!(
                        "lies at the same position as {} (two images of one slice)",
                        slices[k].name()
                    ),
                    "give one image per slice: a series with several echoes, phases or repetitions must be split \
                     (keep the B1 map's images only)",
                ));
            }
        }
        let smallest = gaps.iter().cloned().fold(f64::INFINITY, f64::min);
        for (k, g) in gaps.iter().enumerate() {
            if (g - smallest).abs() > 0.01 * smallest.max(1e-3) + 1e-3 {
                let missing = (g / smallest).round() as i64 - 1;
                return Err(err(
                    name,
                    "ImagePositionPatient",
                    format!(
                        "missing slices: {g:.3} mm between {} and {} but {smallest:.3} mm between other neighbours \
                         (about {} slice(s) missing, or unevenly spaced slices)",
                        slices[k].name(),
                        slices[k + 1].name(),
                        missing.max(1)
                    ),
                    "copy the complete series (every slice) into the directory, or convert it with dcm2niix and \
                     give the .nii.gz",
                ));
            }
        }
        let d = [0, 1, 2].map(|a| (slices[n - 1].ipp[a] - slices[0].ipp[a]) / (n - 1) as f64);
        // Slices must stack along their normal (no shear, e.g. gantry tilt).
        let along = dot(d, normal);
        let perp = [0, 1, 2].map(|a| d[a] - along * normal[a]);
        if dot(perp, perp).sqrt() > 0.01 * along.abs() + 1e-3 {
            return Err(err(
                name,
                "ImagePositionPatient",
                "the slices are not stacked along their normal (a sheared or tilted stack)",
                "reformat the series to a stack of parallel slices, or convert it with dcm2niix and give the .nii.gz",
            ));
        }
        d
    } else {
        let t = slices[0].thickness.filter(|t| *t > 0.0).ok_or_else(|| {
            err(
                &slices[0].name(),
                "SliceThickness",
                "a single slice with no SliceThickness or SpacingBetweenSlices",
                "give the whole 3-D series",
            )
        })?;
        normal.map(|c| c * t)
    };
    // Voxel [i, j, k]: column i (along the row direction, PixelSpacing[1]), row j (along the
    // column direction, PixelSpacing[0]), slice k.
    let p0 = slices[0].ipp;
    let lps = [0, 1, 2].map(|a| [row_dir[a] * ps[1], col_dir[a] * ps[0], step[a], p0[a]]);
    let sign = [-1.0, -1.0, 1.0];
    let rows_ras = [0, 1, 2].map(|a| lps[a].map(|v| v * sign[a] * 1e-3));
    let affine_ras = Affine::from_rows(rows_ras);
    let mut data = Array3::<f32>::zeros((cols, rows, n));
    for (k, s) in slices.iter().enumerate() {
        for j in 0..rows {
            for i in 0..cols {
                data[[i, j, k]] = s.values[j * cols + i];
            }
        }
    }
    Ok(DicomSeries {
        data,
        affine_ras,
        info,
        files,
    })
}
