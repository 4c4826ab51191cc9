//! B1 field algebra from FDTD phasors: Yee components → cell centres, B1+ and B1−, |E|.
//!
//! Phasors are complex peak values with time factor `e^{+iωt}`: `b(t) = Re(B e^{iωt})` (what
//! [`DftProbe::phasor`] returns). With `B = µ0 H` (non-magnetic media),
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

use super::resample::{Interp, RegularField};
use crate::error::{Error, Result};
use crate::fdtd::dft::{DftProbe, FieldKind};
use crate::grid::MU0;

/// The three Yee components of E or H, each on its own staggered grid (same spacing).
#[derive(Clone, Debug)]
pub struct YeeVector {
    pub kind: FieldKind,
    pub comps: [RegularField<Complex32>; 3],
}

/// Regular grid placement: element `[i, j, k]` at `origin_m + (i, j, k) * spacing_m`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridPlacement {
    pub origin_m: [f64; 3],
    pub spacing_m: [f64; 3],
    pub dims: [usize; 3],
}

impl GridPlacement {
    /// The cell centres of a uniform grid whose node `(0,0,0)` is at `node_origin_m`.
    pub fn cell_centres(node_origin_m: [f64; 3], spacing_m: [f64; 3], cells: [usize; 3]) -> Self {
        Self {
            origin_m: [
                node_origin_m[0] + 0.5 * spacing_m[0],
                node_origin_m[1] + 0.5 * spacing_m[1],
                node_origin_m[2] + 0.5 * spacing_m[2],
            ],
            spacing_m,
            dims: cells,
        }
    }
    pub fn position(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        [
            self.origin_m[0] + i as f64 * self.spacing_m[0],
            self.origin_m[1] + j as f64 * self.spacing_m[1],
            self.origin_m[2] + k as f64 * self.spacing_m[2],
        ]
    }
}

/// Trilinear samples of `f` at every point of `g`.
pub fn sample_on<T: Interp>(f: &RegularField<T>, g: &GridPlacement) -> Array3<T> {
    let mut out = Array3::from_elem(g.dims, T::zero());
    Zip::indexed(&mut out).par_for_each(|(i, j, k), o| *o = f.sample(g.position(i, j, k)));
    out
}

impl YeeVector {
    /// The three components of `kind` from a DFT probe that recorded components `[0, 1, 2]`, at
    /// frequency index `fi`. `node_origin_m` is the position of grid node `(0,0,0)` and `spacing_m`
    /// the cell size (uniform grid). Placement as `rftwin fdtd run` writes it: half a cell along the
    /// component's own axis for E, along the other two axes for H, from the probe's first node.
    pub fn from_probe(probe: &DftProbe, fi: usize, node_origin_m: [f64; 3], spacing_m: [f64; 3]) -> Result<Self> {
        if probe.comps != [0, 1, 2] {
            return Err(Error::input(
                "probes",
                "comps",
                format!("the probe records components {:?}; B1 needs all three", probe.comps),
                "record components [0, 1, 2]",
            ));
        }
        if fi >= probe.freqs.len() {
            return Err(Error::input(
                "probes",
                "freqs",
                format!(
                    "frequency index {fi} but the probe has {} frequencies",
                    probe.freqs.len()
                ),
                "choose a recorded frequency",
            ));
        }
        let comps = [0, 1, 2].map(|c| {
            RegularField::new(
                probe.phasor(c, fi),
                probe.component_origin(c, node_origin_m, spacing_m),
                spacing_m,
            )
        });
        let [x, y, z] = comps;
        Self::new(probe.kind, [x?, y?, z?])
    }

    /// From three component fields; checks that the spacings agree.
    pub fn new(kind: FieldKind, comps: [RegularField<Complex32>; 3]) -> Result<Self> {
        let s = comps[0].spacing_m;
        for c in &comps[1..] {
            if (0..3).any(|a| (c.spacing_m[a] - s[a]).abs() > 1e-9 * s[a]) {
                return Err(Error::input(
                    "field",
                    "spacing_m",
                    format!("component spacings differ: {:?} vs {:?}", s, c.spacing_m),
                    "give the three components of one run",
                ));
            }
        }
        Ok(Self { kind, comps })
    }

    /// The cell centres where all three components can be interpolated (two- or four-point averages):
    /// along axis `a` the centres lie on the half-cell lattice of the components staggered along `a`
    /// (E: component `a`; H: the two others), limited to the span common to all three components.
    pub fn centre_grid(&self) -> Result<GridPlacement> {
        let d = self.comps[0].spacing_m;
        let mut origin = [0.0; 3];
        let mut dims = [0usize; 3];
        for a in 0..3 {
            let lattice = match self.kind {
                FieldKind::E => self.comps[a].origin_m[a],
                FieldKind::H => self.comps[(a + 1) % 3].origin_m[a],
            };
            let lo = self.comps.iter().map(|c| c.origin_m[a]).fold(f64::MIN, f64::max);
            let hi = self
                .comps
                .iter()
                .map(|c| c.origin_m[a] + (c.dims()[a] as f64 - 1.0) * d[a])
                .fold(f64::MAX, f64::min);
            let first = ((lo - lattice) / d[a] - 1e-6).ceil();
            let start = lattice + first * d[a];
            let n = ((hi - start) / d[a] + 1e-6).floor() + 1.0;
            if !(n >= 1.0) {
                return Err(Error::input(
                    "field",
                    "dims",
                    format!("the components share no cell centre along axis {a}"),
                    "record the field over at least 2 nodes per axis",
                ));
            }
            origin[a] = start;
            dims[a] = n as usize;
        }
        Ok(GridPlacement {
            origin_m: origin,
            spacing_m: d,
            dims,
        })
    }

    /// The three components interpolated to the common cell centres.
    pub fn at_centres(&self) -> Result<(GridPlacement, [Array3<Complex32>; 3])> {
        let g = self.centre_grid()?;
        let c = [0, 1, 2].map(|a| sample_on(&self.comps[a], &g));
        Ok((g, c))
    }
}

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
