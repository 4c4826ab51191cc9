//! On-the-fly DFT probes of E or H over a box of nodes, one or several frequencies, with f64
//! accumulators. With a decimation `every`, the probe samples every `every`-th step; for a
//! steady-state window of whole periods with `every` dividing the steps per period into >= 4
//! samples, the phasor of a sinusoid at that frequency is exact.

use std::ops::Range;

use ndarray::Array3;
use num_complex::{Complex32, Complex64};
use rayon::prelude::*;

use super::extension::{Extension, Probe, StepCtx};
use super::fields::Fields;
use super::operator::Operator;
use crate::error::{Error, Result};

/// Which field a probe records.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldKind {
    E,
    H,
}

/// A DFT probe over a box of node indices `[i0, i1) x [j0, j1) x [k0, k1)`. Values are recorded
/// at each component's own Yee position, indexed by the node the component starts from.
pub struct DftProbe {
    pub kind: FieldKind,
    pub comps: Vec<usize>,
    pub region: [Range<usize>; 3],
    pub freqs: Vec<f64>,
    every: usize,
    dims: [usize; 3],
    /// `[comp][freq][i][j][k]` sums of x(t) e^{-i w t}.
    data: Vec<Complex64>,
    samples: usize,
    dt: f64,
}

impl DftProbe {
    /// A probe of `kind` components `comps` over node box `region` at `freqs`, sampling every `every` steps.
    pub fn new(
        op: &Operator,
        name: &str,
        kind: FieldKind,
        comps: &[usize],
        region: [Range<usize>; 3],
        freqs: &[f64],
        every: usize,
    ) -> Result<Self> {
        let n = op.layout.n;
        for a in 0..3 {
            if region[a].start >= region[a].end || region[a].end > n[a] + 1 {
                return Err(Error::input(
                    "probes",
                    name,
                    format!(
                        "probe box {:?} lies outside the grid ({} x {} x {} cells)",
                        region, n[0], n[1], n[2]
                    ),
                    format!("keep node ranges within 0..={} x 0..={} x 0..={}", n[0], n[1], n[2]),
                ));
            }
        }
        if comps.is_empty() || comps.iter().any(|c| *c > 2) {
            return Err(Error::input(
                "probes",
                name,
                "components must be a non-empty subset of 0, 1, 2",
                "e.g. [0, 1, 2]",
            ));
        }
        if freqs.is_empty() || freqs.iter().any(|f| !(*f > 0.0)) {
            return Err(Error::input(
                "probes",
                name,
                "frequencies must be > 0",
                "give at least one positive frequency",
            ));
        }
        if every == 0 {
            return Err(Error::input(
                "probes",
                name,
                "sampling interval is 0",
                "sample every >= 1 steps",
            ));
        }
        let dims = [region[0].len(), region[1].len(), region[2].len()];
        let len = comps.len() * freqs.len() * dims.iter().product::<usize>();
        Ok(Self {
            kind,
            comps: comps.to_vec(),
            region,
            freqs: freqs.to_vec(),
            every,
            dims,
            data: vec![Complex64::default(); len],
            samples: 0,
            dt: op.dt,
        })
    }

    /// A probe of the whole grid.
    pub fn full(op: &Operator, name: &str, kind: FieldKind, freqs: &[f64], every: usize) -> Result<Self> {
        let n = op.layout.n;
        Self::new(
            op,
            name,
            kind,
            &[0, 1, 2],
            [0..n[0] + 1, 0..n[1] + 1, 0..n[2] + 1],
            freqs,
            every,
        )
    }

    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }

    /// Position (m) of element [0,0,0] of component `comp` (0 = x, 1 = y, 2 = z) on a uniform grid
    /// with node (0,0,0) at `node_origin_m`: the Yee position is half a cell along the component's
    /// own axis for E, along the other two axes for H.
    pub fn component_origin(&self, comp: usize, node_origin_m: [f64; 3], spacing_m: [f64; 3]) -> [f64; 3] {
        std::array::from_fn(|a| {
            let half = match self.kind {
                FieldKind::E => a == comp,
                FieldKind::H => a != comp,
            };
            node_origin_m[a] + spacing_m[a] * (self.region[a].start as f64 + if half { 0.5 } else { 0.0 })
        })
    }
    pub fn samples(&self) -> usize {
        self.samples
    }

    fn block(&self, ci: usize, fi: usize) -> &[Complex64] {
        let m = self.dims.iter().product::<usize>();
        let o = (ci * self.freqs.len() + fi) * m;
        &self.data[o..o + m]
    }

    /// Complex peak phasor of component `comps[ci]` at `freqs[fi]`, for a window of whole periods.
    pub fn phasor(&self, ci: usize, fi: usize) -> Array3<Complex32> {
        let s = 2.0 / self.samples.max(1) as f64;
        let v: Vec<Complex32> = self
            .block(ci, fi)
            .iter()
            .map(|x| Complex32::new((x.re * s) as f32, (x.im * s) as f32))
            .collect();
        Array3::from_shape_vec(self.dims, v).expect("shape")
    }

    /// Fourier transform (field unit x s) of component `comps[ci]` at `freqs[fi]` (broadband runs).
    pub fn spectrum(&self, ci: usize, fi: usize) -> Array3<Complex64> {
        let s = self.dt * self.every as f64;
        let v: Vec<Complex64> = self.block(ci, fi).iter().map(|x| x * s).collect();
        Array3::from_shape_vec(self.dims, v).expect("shape")
    }

    /// Raw f64 phasor at one node of the box (for convergence checks and tests).
    pub fn phasor_at(&self, ci: usize, fi: usize, p: [usize; 3]) -> Complex64 {
        let s = 2.0 / self.samples.max(1) as f64;
        let q = [
            p[0] - self.region[0].start,
            p[1] - self.region[1].start,
            p[2] - self.region[2].start,
        ];
        self.block(ci, fi)[(q[0] * self.dims[1] + q[1]) * self.dims[2] + q[2]] * s
    }

    fn sample(&mut self, f: &Fields, op: &Operator, t: f64) {
        let src = match self.kind {
            FieldKind::E => &f.e,
            FieldKind::H => &f.h,
        };
        let [d0, d1, d2] = self.dims;
        let plane = d1 * d2;
        let m = d0 * plane;
        let r = self.region.clone();
        let l = op.layout;
        for (ci, &c) in self.comps.iter().enumerate() {
            let field = &src[c];
            for (fi, &fr) in self.freqs.iter().enumerate() {
                let w = Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * fr * t);
                let o = (ci * self.freqs.len() + fi) * m;
                self.data[o..o + m]
                    .par_chunks_mut(plane)
                    .enumerate()
                    .for_each(|(ii, chunk)| {
                        let i = r[0].start + ii;
                        for (jj, j) in r[1].clone().enumerate() {
                            let base = l.idx(i, j, r[2].start);
                            let row = &field[base..base + d2];
                            let out = &mut chunk[jj * d2..(jj + 1) * d2];
                            for (acc, &x) in out.iter_mut().zip(row) {
                                *acc += w * x as f64;
                            }
                        }
                    });
            }
        }
        self.samples += 1;
    }
}

impl Extension for DftProbe {
    fn name(&self) -> &str {
        "dft_probe"
    }
    fn post_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        if (ctx.n + 1).is_multiple_of(self.every) {
            let t = match self.kind {
                FieldKind::E => ctx.t_e(),
                FieldKind::H => ctx.t_h(),
            };
            self.sample(f, ctx.op, t);
        }
    }
    fn bytes(&self) -> usize {
        self.data.len() * 16
    }
}

impl Probe for DftProbe {
    fn reset(&mut self) {
        self.data.par_iter_mut().for_each(|x| *x = Complex64::default());
        self.samples = 0;
    }
}

/// Records the time series of single field values (pre-allocated; stops recording when full).
pub struct TimeProbe {
    points: Vec<(FieldKind, usize, usize)>,
    /// `[step][point]`.
    pub data: Vec<f64>,
    pub times_e: Vec<f64>,
    cap: usize,
}

impl TimeProbe {
    /// Records `(kind, comp, node)` points for up to `max_steps` steps.
    pub fn new(op: &Operator, points: &[(FieldKind, usize, [usize; 3])], max_steps: usize) -> Result<Self> {
        let n = op.layout.n;
        let mut pts = Vec::new();
        for (pi, &(kind, c, p)) in points.iter().enumerate() {
            if c > 2 || (0..3).any(|a| p[a] > n[a]) {
                return Err(Error::input(
                    "probes",
                    &format!("time_probe[{pi}]"),
                    format!("point {p:?} lies outside the grid"),
                    "use node indices within the grid",
                ));
            }
            pts.push((kind, c, op.layout.idx(p[0], p[1], p[2])));
        }
        Ok(Self {
            data: Vec::with_capacity(max_steps * pts.len()),
            times_e: Vec::with_capacity(max_steps),
            points: pts,
            cap: max_steps,
        })
    }
    /// Number of recorded steps.
    pub fn len(&self) -> usize {
        self.times_e.len()
    }
    pub fn is_empty(&self) -> bool {
        self.times_e.is_empty()
    }
    /// Series of point `p`.
    pub fn series(&self, p: usize) -> Vec<f64> {
        let np = self.points.len();
        (0..self.len()).map(|s| self.data[s * np + p]).collect()
    }
}

impl Extension for TimeProbe {
    fn name(&self) -> &str {
        "time_probe"
    }
    // A step's row holds E at (n+1) dt and H at (n+3/2) dt.
    fn post_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        if self.times_e.len() >= self.cap {
            return;
        }
        for &(kind, c, idx) in &self.points {
            let v = match kind {
                FieldKind::E => f.e[c][idx],
                FieldKind::H => f.h[c][idx],
            };
            self.data.push(v as f64);
        }
        self.times_e.push(ctx.t_e());
    }
}

impl Probe for TimeProbe {
    fn reset(&mut self) {
        self.data.clear();
        self.times_e.clear();
    }
}
