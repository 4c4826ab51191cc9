//! Waveforms and soft current sources.

use super::extension::{Extension, StepCtx};
use super::fields::Fields;
use super::operator::Operator;
use crate::error::{Error, Result};

/// A source time function.
#[derive(Clone, Debug, PartialEq)]
pub enum Waveform {
    /// Gaussian-modulated cosine for broadband sweeps: `exp(-((t-t0)/tau)^2) [cos(2 pi f0 (t-t0)) - c]`,
    /// with `tau` set so the spectrum is 20 dB down at `f0 +- bandwidth_hz/2`, `t0 = 4 tau`, and `c`
    /// removing the mean (no DC). With `f0 = 0`: the unit-peak derivative of a Gaussian.
    GaussPulse { f0_hz: f64, bandwidth_hz: f64 },
    /// Ramped continuous wave, `A cos(2 pi f t + phase)` once ramped, complex phasor `A e^{i phase}`
    /// (time factor e^{+i omega t}). It is the time derivative of `r(t) sin(..)/w`, `r` rising as a
    /// raised cosine over `ramp_periods` periods, so the ramp leaves no DC offset.
    Cw {
        freq_hz: f64,
        amplitude: f64,
        phase_rad: f64,
        ramp_periods: f64,
    },
}

impl Waveform {
    pub fn cw(freq_hz: f64) -> Self {
        Waveform::Cw {
            freq_hz,
            amplitude: 1.0,
            phase_rad: 0.0,
            ramp_periods: 3.0,
        }
    }
    fn tau(bandwidth_hz: f64) -> f64 {
        2.0 * (10f64.ln()).sqrt() / (std::f64::consts::PI * bandwidth_hz)
    }
    /// Value at time `t` (s).
    #[inline]
    pub fn at(&self, t: f64) -> f64 {
        use std::f64::consts::PI;
        match *self {
            Waveform::GaussPulse { f0_hz, bandwidth_hz } => {
                let tau = Self::tau(bandwidth_hz);
                let t0 = 4.0 * tau;
                let x = (t - t0) / tau;
                if f0_hz > 0.0 {
                    // Minus its own mean, so the pulse carries no DC: no net charge is left on
                    // floating conductors by current sources.
                    let w0t = 2.0 * PI * f0_hz * tau;
                    (-x * x).exp() * ((2.0 * PI * f0_hz * (t - t0)).cos() - (-0.25 * w0t * w0t).exp())
                } else {
                    // Unit-peak derivative of a Gaussian (zero mean).
                    -x * (-x * x).exp() * (2.0 * std::f64::consts::E).sqrt()
                }
            }
            Waveform::Cw {
                freq_hz,
                amplitude,
                phase_rad,
                ramp_periods,
            } => {
                if t <= 0.0 {
                    return 0.0;
                }
                // d/dt [r(t) sin(w t + phase)] / w: the steady state is A cos(w t + phase), and the
                // integral (charge moved by a current source) is A r sin(..)/w, with no DC offset.
                let tr = ramp_periods / freq_hz;
                let w = 2.0 * PI * freq_hz;
                let (r, dr) = if t < tr {
                    (0.5 * (1.0 - (PI * t / tr).cos()), 0.5 * PI / tr * (PI * t / tr).sin())
                } else {
                    (1.0, 0.0)
                };
                let arg = w * t + phase_rad;
                amplitude * (r * arg.cos() + dr * arg.sin() / w)
            }
        }
    }
    /// Time after which the source is (numerically) off; `None` for CW.
    pub fn end_time(&self) -> Option<f64> {
        match *self {
            Waveform::GaussPulse { bandwidth_hz, .. } => Some(8.0 * Self::tau(bandwidth_hz)),
            Waveform::Cw { .. } => None,
        }
    }
    /// Time when the CW ramp is complete (0 for pulses).
    pub fn ramp_end(&self) -> f64 {
        match *self {
            Waveform::Cw {
                freq_hz, ramp_periods, ..
            } => ramp_periods / freq_hz,
            _ => 0.0,
        }
    }
    pub fn validate(&self, item: &str) -> Result<()> {
        let ok = match *self {
            Waveform::GaussPulse { f0_hz, bandwidth_hz } => {
                f0_hz >= 0.0 && bandwidth_hz > 0.0 && f0_hz.is_finite() && bandwidth_hz.is_finite()
            }
            Waveform::Cw {
                freq_hz,
                amplitude,
                ramp_periods,
                ..
            } => freq_hz > 0.0 && amplitude.is_finite() && ramp_periods >= 0.0,
        };
        if ok {
            Ok(())
        } else {
            Err(Error::input(
                "sources",
                item,
                format!("invalid waveform {self:?}"),
                "use f0 >= 0, bandwidth > 0, frequency > 0, ramp_periods >= 0",
            ))
        }
    }
}

/// Where a soft current source acts.
#[derive(Clone, Debug, PartialEq)]
pub enum SourceSpec {
    /// Ideal current source of `current_a` amperes on one E edge (component `comp`, start node `node`).
    EdgeCurrent {
        comp: usize,
        node: [usize; 3],
        current_a: f64,
        waveform: Waveform,
    },
    /// A sheet of surface current density `amps_per_m` (A/m) along `comp`, in the node plane
    /// `index` normal to axis `normal`, over all active edges of that plane.
    CurrentSheet {
        comp: usize,
        normal: usize,
        index: usize,
        amps_per_m: f64,
        waveform: Waveform,
    },
}

impl SourceSpec {
    /// The source's waveform.
    pub fn waveform(&self) -> &Waveform {
        match self {
            SourceSpec::EdgeCurrent { waveform, .. } | SourceSpec::CurrentSheet { waveform, .. } => waveform,
        }
    }
}

struct Active {
    /// (flat index, J (A/m^2) per unit waveform) per edge.
    edges: Vec<(u32, f32)>,
    comp: usize,
    waveform: Waveform,
}

/// Soft current sources: after the E update, `E -= cb J(t_{n+1/2})` (carried into H).
pub struct Sources {
    active: Vec<Active>,
}

impl Sources {
    pub fn new(op: &Operator, specs: &[SourceSpec]) -> Result<Self> {
        let n = op.layout.n;
        let mut active = Vec::new();
        for (si, s) in specs.iter().enumerate() {
            let item = format!("sources[{si}]");
            match s {
                SourceSpec::EdgeCurrent {
                    comp,
                    node,
                    current_a,
                    waveform,
                } => {
                    waveform.validate(&item)?;
                    let c = *comp;
                    check_edge(op, &item, c, *node)?;
                    let idx = op.layout.idx(node[0], node[1], node[2]);
                    if op.mat[c][idx] == 0 {
                        return Err(Error::input(
                            "sources",
                            &item,
                            "the source edge is PEC (it would be shorted)",
                            "move the source off PEC or remove the PEC there",
                        ));
                    }
                    let area = op.dual_area(c, *node);
                    active.push(Active {
                        edges: vec![(idx as u32, (*current_a / area) as f32)],
                        comp: c,
                        waveform: waveform.clone(),
                    });
                }
                SourceSpec::CurrentSheet {
                    comp,
                    normal,
                    index,
                    amps_per_m,
                    waveform,
                } => {
                    waveform.validate(&item)?;
                    let (c, a) = (*comp, *normal);
                    if c > 2 || a > 2 || c == a || *index > n[a] {
                        return Err(Error::input(
                            "sources",
                            &item,
                            "sheet component/normal/index invalid",
                            "comp and normal must differ, index <= cells along normal",
                        ));
                    }
                    let mut r = op.e_active_range(c);
                    if !r[a].contains(index) {
                        return Err(Error::input(
                            "sources",
                            &item,
                            format!("sheet plane {index} is on a PEC face or outside"),
                            "move the sheet inside the domain",
                        ));
                    }
                    r[a] = *index..*index + 1;
                    // J = K / d_normal (half cell on a PMC face plane).
                    let mut edges = Vec::new();
                    for i in r[0].clone() {
                        for j in r[1].clone() {
                            for k in r[2].clone() {
                                let p = [i, j, k];
                                let idx = op.layout.idx(i, j, k);
                                // Skip PEC edges and edges inside a CPML (no source in the absorber).
                                if op.mat[c][idx] == 0 || op.in_cpml(p) {
                                    continue;
                                }
                                let mut dn = op.dd[a][p[a]];
                                if p[a] == 0 || p[a] == n[a] {
                                    dn *= 0.5;
                                }
                                edges.push((idx as u32, (*amps_per_m / dn) as f32));
                            }
                        }
                    }
                    active.push(Active {
                        edges,
                        comp: c,
                        waveform: waveform.clone(),
                    });
                }
            }
        }
        Ok(Self { active })
    }

    pub fn is_empty(&self) -> bool {
        self.active.is_empty()
    }
}

/// Checks that an E edge exists, is not on a PEC face and not in the CPML.
pub(crate) fn check_edge(op: &Operator, item: &str, c: usize, p: [usize; 3]) -> Result<()> {
    let n = op.layout.n;
    let lim = Operator::comp_node_dims(n, c);
    if c > 2 || (0..3).any(|a| p[a] >= lim[a]) {
        return Err(Error::input(
            "elements",
            item,
            format!("edge {c}@{p:?} lies outside the grid"),
            format!("keep node indices below {lim:?}"),
        ));
    }
    if op.on_pec_face(c, p) {
        return Err(Error::input(
            "elements",
            item,
            format!("edge {c}@{p:?} lies on a PEC boundary face"),
            "move it at least one cell inside the domain",
        ));
    }
    if op.in_cpml(p) {
        return Err(Error::input(
            "elements",
            item,
            format!("edge {c}@{p:?} lies inside the CPML"),
            "move it out of the absorbing layers",
        ));
    }
    Ok(())
}

impl Extension for Sources {
    /// Latest time any source is on (`None` if some source is CW).
    fn end_time(&self) -> Option<f64> {
        let mut t: f64 = 0.0;
        for a in &self.active {
            t = t.max(a.waveform.end_time()?);
        }
        Some(t)
    }
    fn ramp_end(&self) -> f64 {
        self.active.iter().map(|a| a.waveform.ramp_end()).fold(0.0, f64::max)
    }
    fn name(&self) -> &str {
        "sources"
    }
    fn post_step(&mut self, f: &mut Fields, ctx: &StepCtx) {
        let t = ctx.t_j();
        let op = ctx.op;
        for a in &self.active {
            let w = a.waveform.at(t) as f32;
            if w == 0.0 {
                continue;
            }
            let mat = &op.mat[a.comp];
            for &(idx, j) in &a.edges {
                let idx = idx as usize;
                let delta = -op.table[mat[idx] as usize].cb * j * w;
                f.e[a.comp][idx] += delta;
                op.patch_h(&mut f.h, a.comp, idx, delta as f64);
            }
        }
    }
    fn bytes(&self) -> usize {
        self.active.iter().map(|a| a.edges.capacity() * 8).sum()
    }
}
