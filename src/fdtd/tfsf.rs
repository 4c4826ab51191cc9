//! Total-field / scattered-field (Huygens) surface: injects an incident field given as phasors.
//!
//! A box of node indices `lo..=hi` splits the grid: every field sample whose Yee position lies in
//! the closed box holds the *total* field, every other sample the *scattered* field (total minus
//! incident). The Yee update of a sample next to the surface reads neighbours of the other kind;
//! the mismatch is fixed by adding (or subtracting) the incident value of that neighbour times the
//! curl coefficient (Taflove & Hagness, *Computational Electrodynamics*, 3rd ed., ch. 5.9, the
//! "consistency conditions"). The corrections are found generically: for each E edge and H face
//! within one cell of the surface, each of its four curl neighbours of the other kind contributes one
//! term. The incident phasors at those exact Yee positions are evaluated once, when the extension is
//! built; each step then costs one multiply-add per term and no allocation.
//!
//! Timing with the fused step: after the step, E is at `(n+1) dt` but was advanced with uncorrected
//! H at `(n+1/2) dt`, so the E corrections use the incident H at `(n+1/2) dt`; their change is carried
//! into H as [`Operator::patch_h`] would do (precombined per H sample); then H (at `(n+3/2) dt`) gets its corrections with the incident
//! E at `(n+1) dt`. This is exactly the corrected split update, because the update is linear.
//!
//! The incident time signal is `Re(P e^{i w t})` times a smooth raised-cosine ramp, built from two
//! [`Waveform::Cw`] signals (phases 0 and pi/2), so the ramp leaves no DC.
//!
//! [`PlaneWave`] is a plane wave in a homogeneous, possibly lossy medium, with the analytic complex
//! wavenumber or with the wavenumber and impedance of the Yee scheme itself (then the injected wave
//! is an exact solution of the discrete equations in steady state and leakage is at rounding level).

use std::collections::BTreeMap;
use std::f64::consts::PI;
use std::sync::Arc;

use num_complex::Complex64;

use super::extension::{Extension, StepCtx};
use super::fields::Fields;
use super::operator::Operator;
use super::source::Waveform;
use crate::error::{Error, Result};
use crate::grid::{EPS0, MU0};

/// An incident field given as complex peak phasors (time factor `e^{+i w t}`).
pub trait IncidentField: Send + Sync {
    fn freq_hz(&self) -> f64;
    /// Complex peak phasor of E (V/m) at a physical point (m).
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3];
    /// Complex peak phasor of H (A/m) at a physical point (m).
    fn h(&self, p_m: [f64; 3]) -> [Complex64; 3];
}

/// A TF/SF box in a simulation spec.
#[derive(Clone)]
pub struct TfsfSpec {
    /// Lowest node index of the total-field box per axis.
    pub lo: [usize; 3],
    /// Highest node index of the total-field box per axis (inclusive).
    pub hi: [usize; 3],
    pub incident: Arc<dyn IncidentField>,
    /// Raised-cosine ramp length in periods (>= 0).
    pub ramp_periods: f64,
}

impl std::fmt::Debug for TfsfSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TfsfSpec")
            .field("lo", &self.lo)
            .field("hi", &self.hi)
            .field("freq_hz", &self.incident.freq_hz())
            .field("ramp_periods", &self.ramp_periods)
            .finish()
    }
}

impl TfsfSpec {
    /// A box `lo..=hi` (node indices) with a 3-period ramp.
    pub fn new(lo: [usize; 3], hi: [usize; 3], incident: Arc<dyn IncidentField>) -> Self {
        Self {
            lo,
            hi,
            incident,
            ramp_periods: 3.0,
        }
    }
}

/// One correction term: `field[comp][idx] += a w0(t) + b w90(t)`.
#[derive(Clone, Copy, Debug)]
struct Term {
    idx: u32,
    comp: u8,
    a: f64,
    b: f64,
}

/// The built TF/SF extension.
pub struct Tfsf {
    lo: [usize; 3],
    hi: [usize; 3],
    /// E corrections (driven by incident H), the H changes they cause (same time signal; what
    /// [`Operator::patch_h`] would do, precombined per H sample), then the H corrections (driven by
    /// incident E).
    e_terms: Vec<Term>,
    eh_terms: Vec<Term>,
    h_terms: Vec<Term>,
    w0: Waveform,
    w90: Waveform,
}

/// Whether a Yee position given in half-cell units (`2 * node + offset`) lies in the closed box.
#[inline]
fn inside(x2: [i64; 3], lo: [usize; 3], hi: [usize; 3]) -> bool {
    (0..3).all(|a| x2[a] >= 2 * lo[a] as i64 && x2[a] <= 2 * hi[a] as i64)
}

/// Half-cell position of E component `c` at node `p`.
fn e_pos2(c: usize, p: [i64; 3]) -> [i64; 3] {
    std::array::from_fn(|a| 2 * p[a] + i64::from(a == c))
}

/// Half-cell position of H component `q` at node `p`.
fn h_pos2(q: usize, p: [i64; 3]) -> [i64; 3] {
    std::array::from_fn(|a| 2 * p[a] + i64::from(a != q))
}

/// The four H neighbours in the curl of E component `c` at node `p`: `(comp, node, weight)` with
/// `(curl H)_c = sum weight * H`.
fn e_neighbours(c: usize, p: [i64; 3], d: [f64; 3]) -> [(usize, [i64; 3], f64); 4] {
    let (a, b) = ((c + 1) % 3, (c + 2) % 3);
    let mut pa = p;
    pa[a] -= 1;
    let mut pb = p;
    pb[b] -= 1;
    [
        (b, p, 1.0 / d[a]),
        (b, pa, -1.0 / d[a]),
        (a, p, -1.0 / d[b]),
        (a, pb, 1.0 / d[b]),
    ]
}

/// The four E neighbours in the curl of H component `q` at node `p`: `(curl E)_q = sum weight * E`.
fn h_neighbours(q: usize, p: [i64; 3], d: [f64; 3]) -> [(usize, [i64; 3], f64); 4] {
    let (a, b) = ((q + 1) % 3, (q + 2) % 3);
    let mut pa = p;
    pa[a] += 1;
    let mut pb = p;
    pb[b] += 1;
    [
        (b, pa, 1.0 / d[a]),
        (b, p, -1.0 / d[a]),
        (a, pb, -1.0 / d[b]),
        (a, p, 1.0 / d[b]),
    ]
}

impl Tfsf {
    pub fn new(op: &Operator, spec: &TfsfSpec) -> Result<Self> {
        let n = op.layout.n;
        if op.graded.iter().any(|g| *g) {
            return Err(Error::input(
                "simulation",
                "tfsf",
                "a TF/SF box on a graded grid is not supported yet (the incident field is sampled at uniform Yee positions)",
                "use uniform axes (Axis::uniform) with a TF/SF box, or drive the graded grid with sources",
            ));
        }
        let (lo, hi) = (spec.lo, spec.hi);
        for a in 0..3 {
            let m0 = op.boundaries[a][0].cpml_layers() + 2;
            let m1 = op.boundaries[a][1].cpml_layers() + 2;
            if !(lo[a] < hi[a] && lo[a] >= m0 && hi[a] + m1 <= n[a]) {
                return Err(Error::input(
                    "simulation",
                    &format!("tfsf.lo/hi[{}]", ["x", "y", "z"][a]),
                    format!(
                        "TF/SF box nodes {}..={} along {} do not fit inside the domain ({} cells) with 2 cells clear of the boundary/CPML",
                        lo[a], hi[a], ["x", "y", "z"][a], n[a]
                    ),
                    format!("use lo >= {m0}, hi <= {}, lo < hi", n[a].saturating_sub(m1)),
                ));
            }
        }
        let f = spec.incident.freq_hz();
        if !(f > 0.0 && f.is_finite() && spec.ramp_periods >= 0.0 && spec.ramp_periods.is_finite()) {
            return Err(Error::input(
                "simulation",
                "tfsf.incident",
                format!(
                    "incident frequency {f} Hz or ramp {} periods invalid",
                    spec.ramp_periods
                ),
                "give a frequency > 0 and ramp_periods >= 0",
            ));
        }
        let grid = &op.model.grid;
        let origin = grid.node_pos(0, 0, 0);
        let d = op.d;
        let pos = |x2: [i64; 3]| -> [f64; 3] { std::array::from_fn(|a| origin[a] + 0.5 * x2[a] as f64 * d[a]) };
        let l = op.layout;
        let flat = |p: [i64; 3]| l.idx(p[0] as usize, p[1] as usize, p[2] as usize);
        // Accumulate per field sample (ordered, so the step order is deterministic).
        let mut e_acc: BTreeMap<(usize, usize), Complex64> = BTreeMap::new();
        let mut h_acc: BTreeMap<(usize, usize), Complex64> = BTreeMap::new();
        let lo_i = lo.map(|v| v as i64 - 1);
        let hi_i = hi.map(|v| v as i64 + 1);
        let inc = &spec.incident;
        for c in 0..3 {
            for i in lo_i[0]..=hi_i[0] {
                for j in lo_i[1]..=hi_i[1] {
                    for k in lo_i[2]..=hi_i[2] {
                        let p = [i, j, k];
                        // E edge c at p.
                        let ep = e_pos2(c, p);
                        let e_in = inside(ep, lo, hi);
                        let idx = flat(p);
                        let cb = op.edge_coef(c, idx).cb as f64;
                        if cb != 0.0 {
                            for (q, pn, w) in e_neighbours(c, p, d) {
                                let hp = h_pos2(q, pn);
                                if inside(hp, lo, hi) != e_in {
                                    let s = if e_in { 1.0 } else { -1.0 };
                                    let hv = inc.h(pos(hp))[q];
                                    *e_acc.entry((c, idx)).or_default() += s * cb * w * hv;
                                }
                            }
                        }
                        // H component c at p.
                        let hp = h_pos2(c, p);
                        let h_in = inside(hp, lo, hi);
                        for (q, pn, w) in h_neighbours(c, p, d) {
                            let ep = e_pos2(q, pn);
                            if inside(ep, lo, hi) != h_in {
                                let s = if h_in { -1.0 } else { 1.0 };
                                let ev = inc.e(pos(ep))[q];
                                *h_acc.entry((c, idx)).or_default() += s * op.ch * w * ev;
                            }
                        }
                    }
                }
            }
        }
        // H changes caused by the E corrections: E_c enters (curl E)_{c+1} as +dE_c/d(c+2) and
        // (curl E)_{c+2} as -dE_c/d(c+1); H -= ch curl E (as in `Operator::patch_h`).
        let mut eh_acc: BTreeMap<(usize, usize), Complex64> = BTreeMap::new();
        for (&(c, idx), &v) in &e_acc {
            for (q, a, sign) in [((c + 1) % 3, (c + 2) % 3, 1.0), ((c + 2) % 3, (c + 1) % 3, -1.0)] {
                let w = sign * op.ch / d[a] * v;
                *eh_acc.entry((q, idx)).or_default() += w;
                *eh_acc.entry((q, idx - l.stride(a))).or_default() -= w;
            }
        }
        let terms = |m: BTreeMap<(usize, usize), Complex64>| -> Vec<Term> {
            m.into_iter()
                .filter(|(_, v)| v.norm() > 0.0)
                .map(|((c, idx), v)| Term {
                    idx: idx as u32,
                    comp: c as u8,
                    a: v.re,
                    b: v.im,
                })
                .collect()
        };
        let w = |phase_rad: f64| Waveform::Cw {
            freq_hz: f,
            amplitude: 1.0,
            phase_rad,
            ramp_periods: spec.ramp_periods,
        };
        Ok(Self {
            lo,
            hi,
            e_terms: terms(e_acc),
            eh_terms: terms(eh_acc),
            h_terms: terms(h_acc),
            w0: w(0.0),
            w90: w(0.5 * PI),
        })
    }

    /// The total-field box (node indices, inclusive).
    pub fn bounds(&self) -> ([usize; 3], [usize; 3]) {
        (self.lo, self.hi)
    }
    /// Number of corrected (E, H) samples.
    pub fn terms(&self) -> (usize, usize) {
        (self.e_terms.len(), self.eh_terms.len() + self.h_terms.len())
    }
    /// Whether the Yee position of E component `c` at node `p` lies in the total-field box.
    pub fn e_is_total(&self, c: usize, p: [usize; 3]) -> bool {
        inside(e_pos2(c, p.map(|v| v as i64)), self.lo, self.hi)
    }
    /// Whether the Yee position of H component `c` at node `p` lies in the total-field box.
    pub fn h_is_total(&self, c: usize, p: [usize; 3]) -> bool {
        inside(h_pos2(c, p.map(|v| v as i64)), self.lo, self.hi)
    }
}

impl Extension for Tfsf {
    fn name(&self) -> &str {
        "tfsf"
    }
    fn ramp_end(&self) -> f64 {
        self.w0.ramp_end()
    }
    /// The incident field is CW: it never ends.
    fn end_time(&self) -> Option<f64> {
        None
    }
    fn post_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        // E^{n+1} was advanced with H^{n+1/2}: correct with the incident H at (n+1/2) dt, and carry
        // the change into H^{n+3/2} (advanced with the uncorrected E).
        let t = ctx.t_j();
        let (c0, c90) = (self.w0.at(t), self.w90.at(t));
        if c0 != 0.0 || c90 != 0.0 {
            for term in &self.e_terms {
                f.e[term.comp as usize][term.idx as usize] += (term.a * c0 + term.b * c90) as f32;
            }
            for term in &self.eh_terms {
                f.h[term.comp as usize][term.idx as usize] += (term.a * c0 + term.b * c90) as f32;
            }
        }
        // H^{n+3/2} was advanced with E^{n+1}: correct with the incident E at (n+1) dt.
        let t = ctx.t_e();
        let (c0, c90) = (self.w0.at(t), self.w90.at(t));
        if c0 != 0.0 || c90 != 0.0 {
            for term in &self.h_terms {
                let delta = term.a * c0 + term.b * c90;
                f.h[term.comp as usize][term.idx as usize] += delta as f32;
            }
        }
    }
    fn bytes(&self) -> usize {
        (self.e_terms.capacity() + self.eh_terms.capacity() + self.h_terms.capacity()) * std::mem::size_of::<Term>()
    }
}

/// Time step the operator will use for cells `d`, Courant number `courant` (vacuum reference) and an
/// optional CW frequency ([`super::operator::time_step`]). Needed to build a dispersion-matched
/// [`PlaneWave`] before the simulation exists; after it, `op.dt` is the step.
pub fn yee_time_step(d: [f64; 3], courant: f64, cw_freq_hz: Option<f64>) -> f64 {
    super::operator::time_step(d, courant, cw_freq_hz).0
}

/// A plane wave `E = E0 exp(-i k u.(x - x0))` in a homogeneous medium (eps_r, sigma), time factor
/// `e^{+i w t}`, with `k = w sqrt(mu0 eps_c)`, `eps_c = eps0 eps_r - i sigma / w` (Im k < 0: decay
/// along u) and `H = k u x E / (w mu0)`.
#[derive(Clone, Debug)]
pub struct PlaneWave {
    pub freq_hz: f64,
    pub eps_r: f64,
    pub sigma_s_per_m: f64,
    /// Unit propagation direction.
    pub direction: [f64; 3],
    /// E phasor at the reference point (perpendicular to the direction, or to the discrete wave
    /// vector when dispersion-matched).
    pub e0: [Complex64; 3],
    /// H phasor at the reference point.
    pub h0: [Complex64; 3],
    /// Reference point of the phase (m).
    pub origin_m: [f64; 3],
    /// Complex wavenumber along `direction` (1/m).
    pub k: Complex64,
}

fn cross(a: [Complex64; 3], b: [Complex64; 3]) -> [Complex64; 3] {
    [
        a[1] * b[2] - a[2] * b[1],
        a[2] * b[0] - a[0] * b[2],
        a[0] * b[1] - a[1] * b[0],
    ]
}

impl PlaneWave {
    /// The analytic plane wave. `direction` is normalised; the part of `e0` along it is removed.
    pub fn new(
        freq_hz: f64,
        eps_r: f64,
        sigma_s_per_m: f64,
        direction: [f64; 3],
        e0: [Complex64; 3],
        origin_m: [f64; 3],
    ) -> Result<Self> {
        let norm = direction.iter().map(|v| v * v).sum::<f64>().sqrt();
        let valid = freq_hz > 0.0
            && freq_hz.is_finite()
            && eps_r >= 1.0
            && eps_r.is_finite()
            && sigma_s_per_m >= 0.0
            && sigma_s_per_m.is_finite()
            && norm > 0.0
            && norm.is_finite();
        if !valid {
            return Err(Error::input(
                "incident field",
                "plane_wave",
                format!("invalid plane wave (f = {freq_hz} Hz, eps_r = {eps_r}, sigma = {sigma_s_per_m} S/m, |direction| = {norm})"),
                "give f > 0, eps_r >= 1, sigma >= 0 and a non-zero direction",
            ));
        }
        let u = direction.map(|v| v / norm);
        let w = 2.0 * PI * freq_hz;
        let eps_c = Complex64::new(EPS0 * eps_r, -sigma_s_per_m / w);
        let k = w * (MU0 * eps_c).sqrt();
        let uc = u.map(|v| Complex64::new(v, 0.0));
        let dot: Complex64 = (0..3).map(|a| e0[a] * u[a]).sum();
        let e0: [Complex64; 3] = std::array::from_fn(|a| e0[a] - dot * u[a]);
        let kv = uc.map(|v| v * k);
        let h0 = cross(kv, e0).map(|v| v / (w * MU0));
        Ok(Self {
            freq_hz,
            eps_r,
            sigma_s_per_m,
            direction: u,
            e0,
            h0,
            origin_m,
            k,
        })
    }

    /// The same wave with the wavenumber and impedance of the Yee scheme with cells `d` and time
    /// step `dt` (see [`yee_time_step`]): `sum_a (2/d_a sin(k u_a d_a/2))^2 = w~ mu0 (w~ eps -
    /// i sigma cos(w dt/2))`, `w~ = 2 sin(w dt/2)/dt`, solved for complex k by Newton's method from
    /// the analytic k; `H = k~ x E / (w~ mu0)` with the discrete wave vector `k~_a = 2/d_a sin(k u_a
    /// d_a/2)`, and E made perpendicular to `k~`.
    pub fn yee_matched(mut self, d: [f64; 3], dt: f64) -> Result<Self> {
        let w = 2.0 * PI * self.freq_hz;
        let wt = 2.0 * (0.5 * w * dt).sin() / dt;
        let rhs = wt * MU0 * Complex64::new(wt * EPS0 * self.eps_r, -self.sigma_s_per_m * (0.5 * w * dt).cos());
        let u = self.direction;
        let mut k = self.k;
        for _ in 0..50 {
            let mut f = -rhs;
            let mut df = Complex64::default();
            for a in 0..3 {
                let x = k * (0.5 * u[a] * d[a]);
                let g = x.sin() * (2.0 / d[a]);
                f += g * g;
                df += 2.0 * g * u[a] * x.cos();
            }
            let step = f / df;
            k -= step;
            if step.norm() < 1e-14 * k.norm() {
                break;
            }
        }
        if !(k.re.is_finite() && k.im.is_finite()) || k.re <= 0.0 {
            return Err(Error::Other(format!(
                "no Yee dispersion solution for the plane wave (cells {d:?}, dt {dt}): the grid is too coarse"
            )));
        }
        let kt: [Complex64; 3] = std::array::from_fn(|a| (k * (0.5 * u[a] * d[a])).sin() * (2.0 / d[a]));
        let kk: Complex64 = kt.iter().map(|v| v * v).sum();
        let dot: Complex64 = (0..3).map(|a| self.e0[a] * kt[a]).sum();
        let e0: [Complex64; 3] = std::array::from_fn(|a| self.e0[a] - dot * kt[a] / kk);
        self.h0 = cross(kt, e0).map(|v| v / (wt * MU0));
        self.e0 = e0;
        self.k = k;
        Ok(self)
    }

    #[inline]
    fn phase(&self, p: [f64; 3]) -> Complex64 {
        let s: f64 = (0..3).map(|a| self.direction[a] * (p[a] - self.origin_m[a])).sum();
        (Complex64::new(0.0, -1.0) * self.k * s).exp()
    }
}

impl IncidentField for PlaneWave {
    fn freq_hz(&self) -> f64 {
        self.freq_hz
    }
    fn e(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        let ph = self.phase(p_m);
        self.e0.map(|v| v * ph)
    }
    fn h(&self, p_m: [f64; 3]) -> [Complex64; 3] {
        let ph = self.phase(p_m);
        self.h0.map(|v| v * ph)
    }
}
