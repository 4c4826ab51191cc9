//! The three Yee components of a phasor field from a DFT probe, each on its own staggered grid, and
//! their interpolation to the common cell centres (B1 and |E| from them: `coil::field`).
//!
//! Phasors are complex peak values with time factor `e^{+iωt}` (what [`DftProbe::phasor`] returns).

use ndarray::Array3;
use num_complex::Complex32;

use super::dft::{DftProbe, FieldKind};
use crate::error::{Error, Result};
use crate::grid::{sample_on, GridPlacement, RegularField};

/// The three Yee components of E or H, each on its own staggered grid (same spacing).
#[derive(Clone, Debug)]
pub struct YeeVector {
    pub kind: FieldKind,
    pub comps: [RegularField<Complex32>; 3],
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
