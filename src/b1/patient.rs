//! Patient coordinates → the coil frame.
//!
//! **The coil frame** (rftwin's simulation frame, metres): origin at the magnet isocentre; +z along
//! the bore, pointing from the patient table into the magnet (the direction the head of a
//! head-first patient travels); +y vertical, pointing down (toward the floor: posterior of a
//! supine patient); +x = y × z, horizontal (the left of a head-first supine patient). For a
//! head-first supine patient at table position 0 the coil frame is the DICOM patient frame (LPS).
//!
//! **B1+ in the coil frame**: `B1+ = (Bx + i By)/2` (`e^{+iωt}` phasors, [`crate::coil::field`]) is
//! the field rotating from +x to +y, right-handed about +z; it is the component that excites
//! protons (γ > 0) when B0 points along −z (out of the bore toward the table). A scanner measures
//! its B1+ map relative to its own B0, whatever the patient position, so a map's magnitude and its
//! phase (when it has one) are scalar fields: they are moved to the coil frame's positions and not
//! changed. Every patient-to-coil transform here is a proper rotation (determinant +1: FFS is a
//! half turn about y, HFP a half turn about z, the decubitus positions quarter turns about z), so no
//! transform flips handedness and no phase is conjugated. (A left-handed voxel grid, e.g. a NIfTI
//! stored in radiological order, is a property of the index → position affine only and changes no
//! field value either.)
//!
//! **Patient coordinates**: DICOM LPS (+x toward the patient's left, +y posterior, +z head) and
//! NIfTI RAS (+x right, +y anterior, +z head; RAS = diag(−1, −1, 1) · LPS). The patient position
//! (DICOM (0018,5100) `PatientPosition`, the dcm2niix sidecar's `PatientPosition`) says how the
//! patient lies in the magnet ([`PatientPosition::rotation`]); the table position `T` (m) puts the
//! patient frame's origin at coil-frame z = `T` (0: the landmark at the isocentre, the scanners'
//! convention for images taken at the landmark).
//!
//! `x_coil = R(position) · x_LPS + (0, 0, T)`.

use super::affine::Affine;
use crate::error::{Error, Result};

/// How the patient lies in the magnet (DICOM PS3.3 C.7.3.1.1.2: head or feet first, supine,
/// prone, decubitus right or left = lying on the right or left side).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PatientPosition {
    Hfs,
    Ffs,
    Hfp,
    Ffp,
    Hfdr,
    Hfdl,
    Ffdr,
    Ffdl,
}

/// All positions, as `HFS` … strings.
pub const POSITIONS: &str = "HFS, FFS, HFP, FFP, HFDR, HFDL, FFDR, FFDL";

impl PatientPosition {
    /// Parses `HFS` … (any case, surrounding blanks ignored); `key`, `source` name it in errors.
    pub fn parse(text: &str, source: &str, key: &str) -> Result<PatientPosition> {
        Ok(match text.trim().to_ascii_uppercase().as_str() {
            "HFS" => PatientPosition::Hfs,
            "FFS" => PatientPosition::Ffs,
            "HFP" => PatientPosition::Hfp,
            "FFP" => PatientPosition::Ffp,
            "HFDR" => PatientPosition::Hfdr,
            "HFDL" => PatientPosition::Hfdl,
            "FFDR" => PatientPosition::Ffdr,
            "FFDL" => PatientPosition::Ffdl,
            _ => {
                return Err(Error::input(
                    source,
                    key,
                    format!("unknown patient position '{text}'"),
                    format!("use one of {POSITIONS}"),
                ))
            }
        })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            PatientPosition::Hfs => "HFS",
            PatientPosition::Ffs => "FFS",
            PatientPosition::Hfp => "HFP",
            PatientPosition::Ffp => "FFP",
            PatientPosition::Hfdr => "HFDR",
            PatientPosition::Hfdl => "HFDL",
            PatientPosition::Ffdr => "FFDR",
            PatientPosition::Ffdl => "FFDL",
        }
    }

    /// The rotation `R` from patient LPS to the coil frame: its rows are the coil axes x, y, z
    /// written in LPS. Head first: coil z = head (S); feet first: coil z = feet (I). Coil y (down)
    /// is the patient's posterior (supine), anterior (prone), right side (decubitus right: lying on
    /// the right side) or left side (decubitus left); coil x = y × z.
    pub fn rotation(&self) -> [[f64; 3]; 3] {
        const L: [f64; 3] = [1.0, 0.0, 0.0];
        const R: [f64; 3] = [-1.0, 0.0, 0.0];
        const P: [f64; 3] = [0.0, 1.0, 0.0];
        const A: [f64; 3] = [0.0, -1.0, 0.0];
        const S: [f64; 3] = [0.0, 0.0, 1.0];
        const I: [f64; 3] = [0.0, 0.0, -1.0];
        match self {
            PatientPosition::Hfs => [L, P, S],
            PatientPosition::Ffs => [R, P, I],
            PatientPosition::Hfp => [R, A, S],
            PatientPosition::Ffp => [L, A, I],
            PatientPosition::Hfdr => [P, R, S],
            PatientPosition::Hfdl => [A, L, S],
            PatientPosition::Ffdr => [A, R, I],
            PatientPosition::Ffdl => [P, L, I],
        }
    }

    /// Patient RAS (m) → coil frame (m) for table position `table_m`.
    pub fn ras_to_coil(&self, table_m: f64) -> Affine {
        let r = self.rotation();
        // x_LPS = diag(-1, -1, 1) x_RAS: negate the first two columns.
        let m = [0, 1, 2].map(|a| [-r[a][0], -r[a][1], r[a][2]]);
        Affine::from_linear(m, [0.0, 0.0, table_m])
    }

    /// Patient LPS (m) → coil frame (m).
    pub fn lps_to_coil(&self, table_m: f64) -> Affine {
        Affine::from_linear(self.rotation(), [0.0, 0.0, table_m])
    }
}

/// Which frame a measured map's positions are in, as the user says (`--frame`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameChoice {
    /// Already in the coil frame: used as it is.
    Coil,
    /// Patient coordinates (RAS for NIfTI and HDF5 `scanner_ras`, LPS in DICOM files): moved to
    /// the coil frame by the patient and table positions.
    Patient,
}

impl FrameChoice {
    pub fn parse(text: &str, source: &str, key: &str) -> Result<FrameChoice> {
        match text.trim().to_ascii_lowercase().as_str() {
            "coil" | "simulation" => Ok(FrameChoice::Coil),
            "patient" | "scanner" | "scanner_ras" => Ok(FrameChoice::Patient),
            _ => Err(Error::input(
                source,
                key,
                format!("unknown frame '{text}'"),
                "use coil (the map is already in the coil frame) or patient (scanner patient coordinates)",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn det(r: [[f64; 3]; 3]) -> f64 {
        r[0][0] * (r[1][1] * r[2][2] - r[1][2] * r[2][1]) - r[0][1] * (r[1][0] * r[2][2] - r[1][2] * r[2][0])
            + r[0][2] * (r[1][0] * r[2][1] - r[1][1] * r[2][0])
    }

    #[test]
    fn every_position_is_a_proper_rotation_with_x_equal_y_cross_z() {
        for p in POSITIONS.split(", ") {
            let pp = PatientPosition::parse(p, "t", "k").unwrap();
            assert_eq!(pp.as_str(), p);
            let r = pp.rotation();
            assert!((det(r) - 1.0).abs() < 1e-12, "{p}");
            let [_, y, z] = r;
            let cross = [
                y[1] * z[2] - y[2] * z[1],
                y[2] * z[0] - y[0] * z[2],
                y[0] * z[1] - y[1] * z[0],
            ];
            assert_eq!(cross, r[0], "{p}");
        }
        assert!(PatientPosition::parse("HFX", "t", "k")
            .unwrap_err()
            .to_string()
            .contains("FFDL"));
    }

    #[test]
    fn head_and_feet_first() {
        // HFS: LPS is the coil frame; the head (+S) points into the bore (+z).
        let a = PatientPosition::Hfs.lps_to_coil(0.0);
        assert_eq!(a.apply([0.01, 0.02, 0.03]), [0.01, 0.02, 0.03]);
        // RAS (0.01 right ...) is LPS x = -0.01.
        let a = PatientPosition::Hfs.ras_to_coil(0.0);
        assert_eq!(a.apply([0.01, 0.02, 0.03]), [-0.01, -0.02, 0.03]);
        // FFS: the head points out of the bore (−z), the patient's left is −x; posterior stays down.
        let a = PatientPosition::Ffs.lps_to_coil(0.1);
        assert_eq!(a.apply([0.01, 0.02, 0.03]), [-0.01, 0.02, 0.1 - 0.03]);
        // HFDR: lying on the right side, the right (−x LPS) is down (+y).
        let a = PatientPosition::Hfdr.lps_to_coil(0.0);
        assert_eq!(a.apply([-1.0, 0.0, 0.0]), [0.0, 1.0, 0.0]);
    }
}
