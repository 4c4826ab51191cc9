//! Where the assessment placed the phantom and the implants: a paragraph appended to the section
//! "Coil twin" (the phantom placement the twin's fields were computed with: a fitted offset and
//! rotation, relative to the phantom file) and one to each implant's section (its origin in the coil
//! frame, which follows that placement because implant positions are given in the phantom frame).

use crate::report::keys::PlacementUsed;
use crate::report::{Report, Section};

const AXES: [&str; 3] = ["x", "y", "z"];

/// The phantom placement of the twin's fields relative to the phantom file.
#[derive(Clone, Debug)]
pub struct PhantomPlacementFacts {
    /// Offset (m, coil frame) and rotation (rotation vector, degrees, about the phantom's centre).
    pub offset_m: [f64; 3],
    pub rotation_deg: [f64; 3],
    /// Where it came from, in words ("fitted to the measured map", "from the twin directory …").
    pub source: String,
}

/// One implant as placed: its position in the phantom frame (the recipe's) and where that lies in
/// the coil frame.
#[derive(Clone, Debug)]
pub struct ImplantPlacementFacts {
    /// 1-based.
    pub n: usize,
    pub position_m: [f64; 3],
    pub origin_coil_m: [f64; 3],
}

fn three(r: &mut Report, key: PlacementUsed, v: [f64; 3], scale: f64, unit: &str, what: &str) -> String {
    let k = [0, 1, 2].map(|a| r.quantity(&key.key(AXES[a]), v[a] * scale, unit, &format!("{what}, {}", AXES[a])));
    format!("({{{}}}, {{{}}}, {{{}}})", k[0], k[1], k[2])
}

/// Adds the phantom placement's quantities and its paragraph to the twin's section.
pub fn extend_twin_section(twin: Section, r: &mut Report, p: &PhantomPlacementFacts) -> Section {
    let off = three(
        r,
        PlacementUsed::PhantomOffset,
        p.offset_m,
        1e3,
        "mm",
        "phantom offset of the twin's fields from the phantom file",
    );
    let rot = three(
        r,
        PlacementUsed::PhantomRotation,
        p.rotation_deg,
        1.0,
        "deg",
        "phantom rotation of the twin's fields added to the phantom file's",
    );
    twin.paragraph(format!(
        "Phantom placement used for the twin's fields and the implants ({}): moved by {off} from the \
         phantom file's position and turned by {rot} about its centre. Implant positions are in the \
         phantom frame, so the implants move and turn with it.",
        p.source
    ))
}

/// Adds the implant's coil-frame origin and its paragraph to the implant's section.
pub fn extend_implant_section(implant: Section, r: &mut Report, p: &ImplantPlacementFacts) -> Section {
    let at = three(
        r,
        PlacementUsed::ImplantOrigin(p.n),
        p.origin_coil_m,
        1e3,
        "mm",
        "implant origin in the coil frame",
    );
    let pos = p.position_m.map(|v| format!("{:.1}", v * 1e3));
    implant.paragraph(format!(
        "Placed at ({}, {}, {}) mm in the phantom frame, i.e. at {at} in the coil frame (isocentre origin) \
         with the phantom as placed for the twin's fields.",
        pos[0], pos[1], pos[2]
    ))
}
