//! Lumped elements on single E edges: series R-L-C branches, optionally with a voltage source
//! (a port), solved implicitly together with the edge's E update.
//!
//! Branch law (u = E dl, the line integral of E along the edge; I the current along the edge):
//! `u = R I + L dI/dt + v_C - V_s`, `dv_C/dt = I / C`. Discretised with the trapezoidal rule between
//! integer steps (I, v_C and E at `n dt`), and Ampère's law on the edge
//! `(eps/dt)(E' - E) + (sigma/2)(E' + E) = curl H - (I' + I) / (2 A)`, the pair (E', I') is solved in
//! closed form. Pure R reduces to an extra conductivity, pure C to extra permittivity, pure L to the
//! trapezoidal inductor; all are unconditionally stable. An ideal current source may sit in parallel
//! with the branch (or alone, on an open edge). A port's voltage is `V = -u` (potential of the
//! edge's end node minus its start node) and its current `I` is the current delivered to the structure.

use num_complex::Complex64;

use super::extension::{Extension, StepCtx};
use super::fields::{Fields, Window};
use super::operator::Operator;
use super::source::{check_edge, Waveform};
use crate::error::{Error, Result};
use crate::grid::EPS0;

/// One lumped element.
#[derive(Clone, Debug, PartialEq)]
pub struct LumpedSpec {
    pub name: String,
    /// Edge component (0 = x, 1 = y, 2 = z) and start node.
    pub comp: usize,
    pub node: [usize; 3],
    /// Series resistance (Ohm), >= 0.
    pub r_ohm: f64,
    /// Series inductance (H), >= 0.
    pub l_h: f64,
    /// Series capacitance (F); `None` = no capacitor (DC path).
    pub c_f: Option<f64>,
    /// Voltage source in the branch (makes the element a port with internal impedance R + jwL + 1/jwC).
    pub source: Option<(f64, Waveform)>,
    /// Ideal current source (A) in parallel with the branch. With `r_ohm = inf` the branch is open
    /// and the element is a pure current source (used to impose rung currents and to drive coils
    /// across their capacitors without loading them).
    pub current: Option<(f64, Waveform)>,
    /// Conductance (S) in parallel with the branch and the current source (0 = none): a Norton
    /// source with internal resistance 1/G when combined with `current`.
    pub parallel_g_s: f64,
}

impl LumpedSpec {
    pub fn resistor(name: &str, comp: usize, node: [usize; 3], r_ohm: f64) -> Self {
        Self {
            name: name.into(),
            comp,
            node,
            r_ohm,
            l_h: 0.0,
            c_f: None,
            source: None,
            current: None,
            parallel_g_s: 0.0,
        }
    }
    pub fn capacitor(name: &str, comp: usize, node: [usize; 3], c_f: f64) -> Self {
        Self {
            name: name.into(),
            comp,
            node,
            r_ohm: 0.0,
            l_h: 0.0,
            c_f: Some(c_f),
            source: None,
            current: None,
            parallel_g_s: 0.0,
        }
    }
    pub fn inductor(name: &str, comp: usize, node: [usize; 3], l_h: f64) -> Self {
        Self {
            name: name.into(),
            comp,
            node,
            r_ohm: 0.0,
            l_h,
            c_f: None,
            source: None,
            current: None,
            parallel_g_s: 0.0,
        }
    }
    pub fn series_rlc(name: &str, comp: usize, node: [usize; 3], r_ohm: f64, l_h: f64, c_f: f64) -> Self {
        Self {
            name: name.into(),
            comp,
            node,
            r_ohm,
            l_h,
            c_f: Some(c_f),
            source: None,
            current: None,
            parallel_g_s: 0.0,
        }
    }
    /// An ideal current source of `amps` on an otherwise open edge.
    pub fn current_source(name: &str, comp: usize, node: [usize; 3], amps: f64, waveform: Waveform) -> Self {
        Self {
            name: name.into(),
            comp,
            node,
            r_ohm: f64::INFINITY,
            l_h: 0.0,
            c_f: None,
            source: None,
            current: Some((amps, waveform)),
            parallel_g_s: 0.0,
        }
    }

    /// A port: voltage source of amplitude `volts` and waveform, with internal resistance `r_ohm`.
    pub fn port(name: &str, comp: usize, node: [usize; 3], r_ohm: f64, volts: f64, waveform: Waveform) -> Self {
        Self {
            name: name.into(),
            comp,
            node,
            r_ohm,
            l_h: 0.0,
            c_f: None,
            source: Some((volts, waveform)),
            current: None,
            parallel_g_s: 0.0,
        }
    }
}

struct Element {
    idx: usize,
    comp: usize,
    dl: f64,
    area: f64,
    /// Ampère coefficients: `lhs E' = rhs_e E + curl H - (h + I) / (2 A)`, see `post_e`.
    lhs: f64,
    rhs_e: f64,
    alpha: f64,
    beta: f64,
    g: f64,
    inv_2c: f64,
    /// Open branch (no branch current; only the parallel current source).
    open: bool,
    source: Option<(f64, Waveform)>,
    current: Option<(f64, Waveform)>,
    parallel_g: f64,
    e_old: f64,
    /// curl H^(n+1/2) at the edge, saved before the step.
    curl: f64,
    i: f64,
    v_c: f64,
}

/// All lumped elements, with on-the-fly DFT of their voltage and current.
pub struct Lumped {
    specs: Vec<LumpedSpec>,
    elems: Vec<Element>,
    freqs: Vec<f64>,
    /// Per element, per frequency: (sum V e^{-iwt}, sum I e^{-iwt}).
    dft: Vec<Vec<(Complex64, Complex64)>>,
    samples: usize,
    dt: f64,
    /// Latest (t, V, I) per element.
    last: Vec<(f64, f64, f64)>,
    /// `e^{-i w t}` per frequency at the current step (scratch).
    twiddle: Vec<Complex64>,
}

impl Lumped {
    pub fn new(op: &Operator, specs: &[LumpedSpec], freqs: &[f64]) -> Result<Self> {
        let dt = op.dt;
        let mut elems = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for (ei, s) in specs.iter().enumerate() {
            let item = format!("lumped[{ei}] ({})", s.name);
            check_edge(op, &item, s.comp, s.node)?;
            let c = s.comp;
            let idx = op.layout.idx(s.node[0], s.node[1], s.node[2]);
            if !seen.insert((c, idx)) {
                return Err(Error::input(
                    "elements",
                    &item,
                    "two lumped elements on the same edge",
                    "combine them into one series R-L-C element",
                ));
            }
            if op.mat[c][idx] == 0 {
                return Err(Error::input(
                    "elements",
                    &item,
                    "the element's edge is PEC (it would be shorted)",
                    "leave a one-edge gap in the conductor for the element",
                ));
            }
            if !(s.r_ohm >= 0.0) || !(s.l_h >= 0.0) || s.c_f.is_some_and(|c| !(c > 0.0)) || !s.l_h.is_finite() {
                return Err(Error::input(
                    "elements",
                    &item,
                    "R, L must be >= 0 and C > 0",
                    "fix the element values",
                ));
            }
            let open = s.r_ohm.is_infinite();
            if open && (s.source.is_some() || s.current.is_none()) {
                return Err(Error::input(
                    "elements",
                    &item,
                    "an open element (r_ohm = inf) needs a current source and no voltage source",
                    "give a finite r_ohm, or make it a current source",
                ));
            }
            for (v, w) in s.source.iter().chain(s.current.iter()) {
                w.validate(&item)?;
                if !v.is_finite() {
                    return Err(Error::input(
                        "elements",
                        &item,
                        "source amplitude not finite",
                        "give a finite voltage",
                    ));
                }
            }
            let inv_2c = s.c_f.map_or(0.0, |c| 1.0 / (2.0 * c));
            let alpha = s.l_h / dt + s.r_ohm / 2.0 + dt * inv_2c / 2.0;
            let beta = s.l_h / dt - s.r_ohm / 2.0 - dt * inv_2c / 2.0;
            if !open && !(alpha > 0.0) {
                return Err(Error::input(
                    "elements",
                    &item,
                    "element with R = L = 0 and no capacitor is a short",
                    "use a thin PEC edge instead, or give R, L or C",
                ));
            }
            let coef = op.table[op.mat[c][idx] as usize];
            let eps = EPS0 * coef.eps_r;
            let dl = op.dp[c][s.node[c]];
            let area = op.dual_area(c, s.node);
            let g = if open { 0.0 } else { dl / (2.0 * alpha) };
            if !(s.parallel_g_s >= 0.0) || !s.parallel_g_s.is_finite() {
                return Err(Error::input(
                    "elements",
                    &item,
                    "parallel conductance must be finite and >= 0",
                    "fix parallel_g_s",
                ));
            }
            // The parallel conductance acts as an extra conductivity G dl / A on the edge.
            let sg = s.parallel_g_s * dl / area;
            let lhs = eps / dt + (coef.sigma + sg) / 2.0 + g / (2.0 * area);
            let rhs_e = eps / dt - (coef.sigma + sg) / 2.0 - g / (2.0 * area);
            elems.push(Element {
                idx,
                comp: c,
                dl,
                area,
                lhs,
                rhs_e,
                alpha,
                beta,
                g,
                inv_2c,
                open,
                source: s.source.clone(),
                current: s.current.clone(),
                parallel_g: s.parallel_g_s,
                e_old: 0.0,
                curl: 0.0,
                i: 0.0,
                v_c: 0.0,
            });
        }
        for f in freqs {
            if !(*f > 0.0) {
                return Err(Error::input(
                    "elements",
                    "port frequencies",
                    format!("frequency {f} is not positive"),
                    "give frequencies > 0",
                ));
            }
        }
        Ok(Self {
            specs: specs.to_vec(),
            dft: vec![vec![(Complex64::default(), Complex64::default()); freqs.len()]; elems.len()],
            last: vec![(0.0, 0.0, 0.0); elems.len()],
            elems,
            freqs: freqs.to_vec(),
            samples: 0,
            dt,
            twiddle: Vec::with_capacity(freqs.len()),
        })
    }

    pub fn len(&self) -> usize {
        self.elems.len()
    }
    pub fn is_empty(&self) -> bool {
        self.elems.is_empty()
    }
    pub fn specs(&self) -> &[LumpedSpec] {
        &self.specs
    }
    pub fn freqs(&self) -> &[f64] {
        &self.freqs
    }
    /// Clears the DFT accumulators.
    pub fn reset_dft(&mut self) {
        for d in &mut self.dft {
            d.iter_mut().for_each(|x| *x = Default::default());
        }
        self.samples = 0;
    }
    /// Fourier transforms (V(f), I(f)) of element `e` at every DFT frequency (V s and A s).
    pub fn spectrum(&self, e: usize) -> Vec<(Complex64, Complex64)> {
        self.dft[e].iter().map(|(v, i)| (v * self.dt, i * self.dt)).collect()
    }
    /// Complex peak phasors (V, I) of element `e`, for a window of whole periods.
    pub fn phasors(&self, e: usize) -> Vec<(Complex64, Complex64)> {
        let s = 2.0 / self.samples.max(1) as f64;
        self.dft[e].iter().map(|(v, i)| (v * s, i * s)).collect()
    }
    /// Impedance V/I seen by element `e` (the structure's input impedance at a port), per frequency.
    pub fn impedance(&self, e: usize) -> Vec<Complex64> {
        self.dft[e].iter().map(|(v, i)| v / i).collect()
    }
    /// Latest (time, voltage, current) of element `e`.
    pub fn latest(&self, e: usize) -> (f64, f64, f64) {
        self.last[e]
    }
}

impl Extension for Lumped {
    /// Latest time at which a source is on (`None` if CW; `Some(0)` without sources).
    fn end_time(&self) -> Option<f64> {
        let mut t: f64 = 0.0;
        for e in &self.elems {
            for (_, w) in e.source.iter().chain(e.current.iter()) {
                t = t.max(w.end_time()?);
            }
        }
        Some(t)
    }
    fn ramp_end(&self) -> f64 {
        self.elems
            .iter()
            .flat_map(|e| e.source.iter().chain(e.current.iter()).map(|(_, w)| w.ramp_end()))
            .fold(0.0, f64::max)
    }
    fn name(&self) -> &str {
        "lumped"
    }
    fn pre_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        let h = Window::all(&f.h);
        for e in &mut self.elems {
            e.e_old = f.e[e.comp][e.idx] as f64;
            let p = ctx.op.layout.ijk(e.idx);
            e.curl = ctx.op.curl_h_at(&h, e.comp, p[0], p[1], p[2]);
        }
    }
    fn post_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        let op = ctx.op;
        let (t_old, t_new) = (ctx.t_e_old(), ctx.t_e());
        // The DFT kernel at the new time, once for every element.
        self.twiddle.clear();
        self.twiddle.extend(
            self.freqs
                .iter()
                .map(|&fr| Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * fr * t_new)),
        );
        for (k, e) in self.elems.iter_mut().enumerate() {
            let curl = e.curl;
            let vs = e
                .source
                .as_ref()
                .map_or(0.0, |(a, w)| a * 0.5 * (w.at(t_old) + w.at(t_new)));
            // Parallel source current at the E-update time (n+1/2) and at the new time (n+1).
            let (is_half, is_new) = e
                .current
                .as_ref()
                .map_or((0.0, 0.0), |(a, w)| (a * w.at(ctx.t_j()), a * w.at(t_new)));
            let h = if e.open {
                0.0
            } else {
                (-e.v_c + vs + e.beta * e.i) / e.alpha
            };
            let e_new = (e.rhs_e * e.e_old + curl - (h + e.i) / (2.0 * e.area) - is_half / e.area) / e.lhs;
            let i_new = e.g * (e_new + e.e_old) + h;
            if !e.open {
                e.v_c += self.dt * (i_new + e.i) * e.inv_2c;
                e.i = i_new;
            }
            // Current delivered to the structure: branch, parallel conductance and source.
            let i_new = i_new + e.parallel_g * e_new * e.dl + is_new;
            let delta = e_new as f32 - f.e[e.comp][e.idx];
            f.e[e.comp][e.idx] = e_new as f32;
            op.patch_h(&mut f.h, e.comp, e.idx, delta as f64);
            let v = -e_new * e.dl;
            self.last[k] = (t_new, v, i_new);
            for (d, &w) in self.dft[k].iter_mut().zip(&self.twiddle) {
                d.0 += w * v;
                d.1 += w * i_new;
            }
        }
        self.samples += 1;
    }
}
