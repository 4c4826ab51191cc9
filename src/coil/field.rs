//! B1 field algebra on FDTD phasors ([`YeeVector`] at the cell centres): B1+ and B1−, |E|.
//!
//! Phasors are complex peak values with time factor `e^{+iωt}`: `b(t) = Re(B e^{iωt})` (what
//! [`DftProbe::phasor`](crate::fdtd::DftProbe::phasor) returns). With `B = µ0 H` (non-magnetic media),
//!
//! `B1+ = (Bx + i By) / 2`, `B1− = conj(Bx − i By) / 2`.
//!
//! Sign convention, checked by `tests/b1_field.rs`: `H = H0 (1, −i, 0)` gives `b(t) = µ0 H0 (cos ωt,
//! sin ωt, 0)`, a field turning from +x to +y (counter-clockwise seen from +z, right-handed about
//! +z); it has `B1+ = µ0 H0`, `B1− = 0`. `H = H0 (1, +i, 0)` turns clockwise and has `B1+ = 0`,
//! `B1− = µ0 H0`. Protons (γ > 0) precess clockwise about B0, so with this formula B1+ is the
//! exciting component when B0 points along −z of the simulation frame; with B0 along +z the roles of
//! `b1_plus` and `b1_minus` swap. The coil model must drive its quadrature ports accordingly.

use ndarray::{Array3, Zip};
use num_complex::Complex32;

use crate::error::{Error, Result};
use crate::fdtd::{FieldKind, YeeVector};
use crate::grid::{GridPlacement, RegularField, MU0};

fn need(v: &YeeVector, kind: FieldKind, what: &str) -> Result<()> {
    if v.kind != kind {
        return Err(Error::input(
            "field",
            "kind",
            format!("{what} needs the {kind:?} field, got {:?}", v.kind),
            format!("pass the {kind:?} probe"),
        ));
    }
    Ok(())
}

fn to_field(g: GridPlacement, data: Array3<Complex32>) -> Result<RegularField<Complex32>> {
    RegularField::new(data, g.origin_m, g.spacing_m)
}

/// B1+ = (Bx + i By)/2 with B = µ0 H, in tesla (complex peak phasor, `e^{+iωt}`), at the cell centres.
pub fn b1_plus(h: &YeeVector) -> Result<RegularField<Complex32>> {
    need(h, FieldKind::H, "B1+")?;
    let (g, [hx, hy, _]) = h.at_centres()?;
    let s = 0.5 * MU0 as f32;
    let i = Complex32::i();
    let mut out = hx;
    Zip::from(&mut out).and(&hy).for_each(|a, &b| *a = (*a + i * b) * s);
    to_field(g, out)
}

/// B1− = conj(Bx − i By)/2 with B = µ0 H, in tesla, at the cell centres.
pub fn b1_minus(h: &YeeVector) -> Result<RegularField<Complex32>> {
    need(h, FieldKind::H, "B1−")?;
    let (g, [hx, hy, _]) = h.at_centres()?;
    let s = 0.5 * MU0 as f32;
    let i = Complex32::i();
    let mut out = hx;
    Zip::from(&mut out)
        .and(&hy)
        .for_each(|a, &b| *a = (*a - i * b).conj() * s);
    to_field(g, out)
}

/// |E| = sqrt(|Ex|² + |Ey|² + |Ez|²) (peak, V/m) at the cell centres; SAR = σ |E|² / (2ρ).
pub fn e_magnitude(e: &YeeVector) -> Result<RegularField<f32>> {
    need(e, FieldKind::E, "|E|")?;
    let (g, [ex, ey, ez]) = e.at_centres()?;
    let mut out = Array3::<f32>::zeros(g.dims);
    Zip::from(&mut out)
        .and(&ex)
        .and(&ey)
        .and(&ez)
        .for_each(|o, a, b, c| *o = (a.norm_sqr() + b.norm_sqr() + c.norm_sqr()).sqrt());
    RegularField::new(out, g.origin_m, g.spacing_m)
}
