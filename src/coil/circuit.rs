//! Lumped-circuit (mesh) model of a birdcage: inductances from the geometry, the mode spectrum, and
//! the capacitance that puts the homogeneous mode at the Larmor frequency.
//!
//! # Method
//! After BirdcageBuilder (C.-L. Chin, C. M. Collins, S. Li, B. J. Dardzinski, M. B. Smith,
//! *Concepts Magn. Reson.* 15(2):156-163, 2002, doi:10.1002/cmr.10030) and the mesh-eigenvalue
//! method it cites (Joseph & Lu, IEEE TMI 8, 1989):
//!
//! 1. **Branches.** `N` rungs (straight strips along z at radius `R`, length `l` between the ring
//!    centrelines) and `2N` end-ring segments, each the straight chord between two neighbouring rung
//!    feet at `z = +-l/2`. Self inductance of every branch: Grover's thin-strip formula
//!    ([`inductance::strip_self`], the rung length for rungs, the arc length `2 pi R / N` for ring
//!    segments). Mutual inductance between every pair of branches: Neumann's formula on the centre
//!    filaments ([`inductance::mutual_filaments`]); rungs and ring chords are perpendicular, so their
//!    mutual inductance is exactly zero.
//! 2. **Shield.** A coaxial shield of radius `Rs` acts on each rung through its 2-D image: a rung of the
//!    same length at radius `Rs^2 / R`, same azimuth, opposite current (method of images for a line
//!    current inside a conducting cylinder), as BirdcageBuilder does. The shield's effect on the end
//!    rings is neglected (also as in BirdcageBuilder).
//! 3. **Loops.** `N` meshes (mesh `j`: up rung `j`, along top segment `j`, down rung `j+1`, back along
//!    bottom segment `j`) plus one loop around the top ring: `3N - 2N + 1 = N + 1` independent loops.
//!    With the branch-loop incidence `A`, the loop inductance is `L = A^T L_b A` and the loop elastance
//!    `S = A^T diag(1/C_b) A` (one capacitor per rung for low-pass, one per segment of each ring for
//!    high-pass, both for band-pass).
//! 4. **Modes.** Kirchhoff's voltage law for free oscillation, `(i w L + S / (i w)) J = 0`, is the
//!    generalised symmetric eigenproblem `S J = w^2 L J`, solved by Cholesky reduction and Jacobi
//!    rotations. Each mode is labelled by the dominant azimuthal order `m` of its rung currents
//!    (`m = 1` is the homogeneous mode); modes without rung current are end-ring modes (counter- or
//!    co-rotating ring currents). A rotationally symmetric `N`-rung birdcage has `N/2 + 1` distinct
//!    mesh modes `m = 0 .. N/2` (degenerate in pairs for `0 < m < N/2`), plus the co-rotating ring
//!    mode of the extra loop (Leifer's "Helmholtz" mode).
//! 5. **Tuning.** The loop matrices are circulant in the meshes, so the `m = 1` current pattern
//!    `J_j = cos(2 pi j / N)` is an exact eigenvector, and its Rayleigh quotient gives the capacitance
//!    in closed form: `w0^2 v^T L v = v^T S_rung v / C_rung + v^T S_ring v / C_ring`. This is
//!    BirdcageBuilder's "desired current pattern" method; for band-pass coils one capacitor is given and
//!    the other solved. The eigen-solve of the tuned circuit then checks that `m = 1` sits at `f0`.
//!
//! With mutual inductances off the spectrum reduces to the classic closed forms (Hayes et al.,
//! J. Magn. Reson. 63, 1985; Tropp, J. Magn. Reson. 82, 1989), used as checks:
//! low-pass `w_m^2 = 1 / (C [L_rung + L_seg / (2 sin^2(pi m / N))])`,
//! high-pass `w_m^2 = 1 / (C [L_seg + 2 L_rung sin^2(pi m / N)])`,
//! band-pass `w_m^2 = (4 s^2 / C_rung + 2 / C_ring) / (4 s^2 L_rung + 2 L_seg)`, `s = sin(pi m / N)`.
//!
//! Comparison with BirdcageBuilder (validation cases `coil_bb*`): with BirdcageBuilder's couplings
//! ([`CircuitOptions::birdcage_builder`]) the strip self inductances and the effective m = 1 rung
//! inductance reproduce its app to 1e-6, but our Neumann sum over the end-ring chords gives a larger
//! m = 1 ring inductance (68.9 vs 62.2 nH for the app's default coil): BirdcageBuilder appears to weight
//! the non-adjacent segment couplings by absolute current ratios, which flips their sign. That variant
//! then solves capacitances 5-8 % below the published ones. The full model (default) adds the coupling
//! between the two end rings, which BirdcageBuilder omits; it lands within 3 % of the published values
//! of Table 1 coils A, B, D, G, I, J, partly because the two differences offset each other.
//!
//! Limits: quasi-static (no wave effects, no capacitive coupling, no load), as BirdcageBuilder; the
//! filament approximation for strip mutual inductance needs the strip width well below the spacing.

use serde::Serialize;

use super::config::{CapSetting, CoilConfig, CoilType};
use super::inductance::{mutual_filaments, strip_self, Filament};
use crate::error::{Error, Result};
use crate::numerics::{Cholesky, NotPositiveDefinite};

/// Which couplings the circuit model includes. `Default` is the full model used by [`tune`].
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct CircuitOptions {
    /// Mutual inductances between different branches (off: each branch has only its self inductance).
    pub mutual: bool,
    /// Mutual inductances between the two end rings (BirdcageBuilder leaves them out).
    pub ring_to_ring: bool,
    /// The shield, through 2-D images of the rungs.
    pub shield_images: bool,
    /// Grover's `0.2235 w / l` term in the strip self inductance (BirdcageBuilder leaves it out).
    pub strip_width_term: bool,
}

impl Default for CircuitOptions {
    fn default() -> Self {
        Self {
            mutual: true,
            ring_to_ring: true,
            shield_images: true,
            strip_width_term: true,
        }
    }
}

impl CircuitOptions {
    /// The couplings BirdcageBuilder includes (no ring-to-ring mutual inductance, strip self
    /// inductance without the width term), for comparisons with its published values.
    pub fn birdcage_builder() -> Self {
        Self {
            mutual: true,
            ring_to_ring: false,
            shield_images: true,
            strip_width_term: false,
        }
    }
    /// Self inductances only: the textbook closed-form limit.
    pub fn self_only() -> Self {
        Self {
            mutual: false,
            ring_to_ring: false,
            shield_images: false,
            strip_width_term: true,
        }
    }
}

/// What kind of resonance a mode is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ModeKind {
    /// Rung currents ~ cos(m phi); `m = 1` is the homogeneous (imaging) mode.
    Azimuthal,
    /// No rung current; the two end rings carry opposite currents (the `m = 0` mesh mode).
    EndRingCounter,
    /// No rung current; both rings carry current in the same sense (the extra ring loop).
    EndRingCo,
    /// Zero frequency: a current loop without capacitors (the ring modes of a low-pass coil).
    Static,
}

/// One resonance of the coil.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mode {
    /// Azimuthal order (0 for ring and static modes).
    pub m: usize,
    pub kind: ModeKind,
    pub freq_hz: f64,
    /// Number of eigenvectors at this frequency (2 for 0 < m < N/2).
    pub degeneracy: usize,
}

/// The inductances behind the model (H). Index `k` is the offset from branch 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Inductances {
    pub rung_self_h: f64,
    pub ring_segment_self_h: f64,
    /// Mutual inductance of rung 0 and rung k (k = 0 .. N-1; entry 0 is 0).
    pub rung_mutual_h: Vec<f64>,
    /// Mutual inductance of rung 0 with the shield image of rung k (its sign included: the image
    /// carries the opposite current). Empty without shield.
    pub rung_shield_image_h: Vec<f64>,
    /// Mutual inductance of segment 0 and segment k of the same ring (entry 0 is 0).
    pub ring_mutual_h: Vec<f64>,
    /// Mutual inductance of top segment 0 and bottom segment k (same orientation).
    pub ring_to_ring_h: Vec<f64>,
    /// Effective rung inductance in the m = 1 pattern: sum_k L(rung 0, rung k) cos(2 pi k / N),
    /// images included (BirdcageBuilder's "leg mutual inductance").
    pub rung_effective_m1_h: f64,
    /// Effective ring-segment inductance in the m = 1 pattern (top ring with its own segments, minus
    /// the coupling to the oppositely flowing bottom ring).
    pub ring_effective_m1_h: f64,
}

/// The result of tuning a coil.
#[derive(Clone, Debug, Serialize)]
pub struct Tuning {
    pub coil: String,
    pub coil_type: CoilType,
    pub rungs: usize,
    /// Larmor frequency the homogeneous mode is tuned to (Hz).
    pub target_freq_hz: f64,
    /// The capacitance the model solved for (F); `None` when every capacitor was given.
    pub capacitance_f: Option<f64>,
    /// Where the solved capacitor sits: "rung", "ring" or "none".
    pub solved: String,
    /// Capacitor in each rung (F), if any.
    pub rung_capacitance_f: Option<f64>,
    /// Capacitor in each end-ring segment of each ring (F), if any.
    pub ring_capacitance_f: Option<f64>,
    /// The homogeneous (m = 1) mode of the circuit with these capacitors (Hz), from the eigen-solve.
    pub homogeneous_mode_hz: f64,
    /// Every resonance, sorted by m then kind.
    pub modes: Vec<Mode>,
    pub inductances: Inductances,
    pub options: CircuitOptions,
}

/// The assembled loop matrices of one coil geometry.
#[derive(Clone, Debug)]
pub struct CircuitModel {
    n: usize,
    /// Loop inductance, (N+1)^2, row-major.
    l: Vec<f64>,
    /// Loop elastance of unit (1 F^-1) rung capacitors.
    s_rung: Vec<f64>,
    /// Loop elastance of unit ring-segment capacitors.
    s_ring: Vec<f64>,
    pub inductances: Inductances,
    pub options: CircuitOptions,
}

impl CircuitModel {
    /// Builds the branch inductances and loop matrices of `coil`.
    pub fn new(coil: &CoilConfig, options: CircuitOptions) -> Result<Self> {
        let n = coil.rungs;
        if n < 4 {
            return Err(Error::input(
                &coil.source_name,
                "rungs",
                format!("{n} rungs"),
                "give at least 4 rungs",
            ));
        }
        let hz = 0.5 * coil.rung_length_m;
        let arc = coil.ring_segment_arc_m();
        let nb = 3 * n;
        // Branch filaments: rungs, top segments, bottom segments.
        let mut fil = Vec::with_capacity(nb);
        for j in 0..n {
            fil.push(Filament::new(coil.rung_point(j, -hz), coil.rung_point(j, hz)));
        }
        for z in [hz, -hz] {
            for j in 0..n {
                fil.push(Filament::new(coil.rung_point(j, z), coil.rung_point(j + 1, z)));
            }
        }
        let rung_self = strip_self(coil.rung_length_m, coil.rung_width_m, options.strip_width_term);
        let seg_self = strip_self(arc, coil.ring_width_m, options.strip_width_term);
        let mut lb = vec![0.0; nb * nb];
        for i in 0..nb {
            lb[i * nb + i] = if i < n { rung_self } else { seg_self };
        }
        if options.mutual {
            for i in 0..nb {
                for k in (i + 1)..nb {
                    let (ti, tk) = (i / n, k / n);
                    if (ti == 0) != (tk == 0) {
                        continue; // rung vs ring chord: perpendicular, M = 0
                    }
                    if ti != tk && !options.ring_to_ring {
                        continue;
                    }
                    let m = mutual_filaments(&fil[i], &fil[k]);
                    lb[i * nb + k] = m;
                    lb[k * nb + i] = m;
                }
            }
        }
        let rung_mutual_row: Vec<f64> = (0..n).map(|k| if k == 0 { 0.0 } else { lb[k] }).collect();
        let mut images = Vec::new();
        if let (Some(sh), true) = (coil.shield, options.shield_images) {
            let ri = sh.radius_m * sh.radius_m / coil.rung_radius_m;
            let img: Vec<Filament> = (0..n)
                .map(|j| {
                    let a = coil.rung_angle_rad(j);
                    Filament::new([ri * a.cos(), ri * a.sin(), -hz], [ri * a.cos(), ri * a.sin(), hz])
                })
                .collect();
            for i in 0..n {
                for k in 0..n {
                    let m = mutual_filaments(&fil[i], &img[k]);
                    lb[i * nb + k] -= m;
                    if i == 0 {
                        images.push(-m);
                    }
                }
            }
        }
        // Incidence: branch b gets current sum_l A[b][l] J_l.
        let nl = n + 1;
        let mut a = vec![0.0; nb * nl];
        for j in 0..n {
            a[j * nl + j] += 1.0; // rung j: mesh j up
            a[((j + 1) % n) * nl + j] -= 1.0; // rung j+1: mesh j down
            a[(n + j) * nl + j] = 1.0; // top segment j
            a[(n + j) * nl + n] = 1.0; // top ring loop
            a[(2 * n + j) * nl + j] = -1.0; // bottom segment j, mesh j flows back
        }
        // A is sparse (at most two loops per branch): L = A^T (D A) in O(nb^2).
        let rows: Vec<Vec<(usize, f64)>> = (0..nb)
            .map(|b| {
                (0..nl)
                    .filter(|&q| a[b * nl + q] != 0.0)
                    .map(|q| (q, a[b * nl + q]))
                    .collect()
            })
            .collect();
        let congruence = |d: &dyn Fn(usize, usize) -> f64| {
            let mut da = vec![0.0; nb * nl];
            for b in 0..nb {
                for (c, row) in rows.iter().enumerate() {
                    let dbc = d(b, c);
                    if dbc != 0.0 {
                        for &(q, acq) in row {
                            da[b * nl + q] += dbc * acq;
                        }
                    }
                }
            }
            let mut out = vec![0.0; nl * nl];
            for (b, row) in rows.iter().enumerate() {
                for &(p, abp) in row {
                    for q in 0..nl {
                        out[p * nl + q] += abp * da[b * nl + q];
                    }
                }
            }
            out
        };
        let l = congruence(&|b, c| lb[b * nb + c]);
        let s_rung = congruence(&|b, c| if b == c && b < n { 1.0 } else { 0.0 });
        let s_ring = congruence(&|b, c| if b == c && b >= n { 1.0 } else { 0.0 });

        let th = |k: usize| (2.0 * std::f64::consts::PI * k as f64 / n as f64).cos();
        let rung_eff: f64 = (0..n).map(|k| lb[k] * th(k)).sum();
        let ring_eff: f64 = (0..n)
            .map(|k| (lb[n * nb + n + k] - lb[n * nb + 2 * n + k]) * th(k))
            .sum();
        let inductances = Inductances {
            rung_self_h: rung_self,
            ring_segment_self_h: seg_self,
            rung_mutual_h: rung_mutual_row,
            rung_shield_image_h: images,
            ring_mutual_h: (0..n).map(|k| if k == 0 { 0.0 } else { lb[n * nb + n + k] }).collect(),
            ring_to_ring_h: (0..n).map(|k| lb[n * nb + 2 * n + k]).collect(),
            rung_effective_m1_h: rung_eff,
            ring_effective_m1_h: ring_eff,
        };
        Ok(Self {
            n,
            l,
            s_rung,
            s_ring,
            inductances,
            options,
        })
    }

    /// Number of rungs.
    pub fn rungs(&self) -> usize {
        self.n
    }

    /// Loop inductance matrix ((N+1) x (N+1), row-major; loops 0..N-1 are the meshes, N the top ring).
    pub fn loop_inductance(&self) -> &[f64] {
        &self.l
    }

    fn quad(&self, m: &[f64], v: &[f64]) -> f64 {
        let nl = self.n + 1;
        let mut s = 0.0;
        for p in 0..nl {
            for q in 0..nl {
                s += v[p] * m[p * nl + q] * v[q];
            }
        }
        s
    }

    /// The m = 1 mesh-current pattern `cos(2 pi j / N)` (zero on the ring loop).
    fn m1_pattern(&self) -> Vec<f64> {
        let mut v: Vec<f64> = (0..self.n)
            .map(|j| (2.0 * std::f64::consts::PI * j as f64 / self.n as f64).cos())
            .collect();
        v.push(0.0);
        v
    }

    /// Rayleigh quotients of the m = 1 pattern: `(v^T L v, v^T S_rung v, v^T S_ring v)`.
    pub fn m1_quotients(&self) -> (f64, f64, f64) {
        let v = self.m1_pattern();
        (
            self.quad(&self.l, &v),
            self.quad(&self.s_rung, &v),
            self.quad(&self.s_ring, &v),
        )
    }

    /// Frequency (Hz) of the m = 1 mode with the given capacitors (closed form from the exact
    /// eigenvector of the symmetric coil).
    pub fn m1_freq_hz(&self, rung_c: Option<f64>, ring_c: Option<f64>) -> f64 {
        let (l, sr, sg) = self.m1_quotients();
        let s = rung_c.map_or(0.0, |c| sr / c) + ring_c.map_or(0.0, |c| sg / c);
        (s / l).sqrt() / (2.0 * std::f64::consts::PI)
    }

    /// Every resonance with the given capacitors (`None`: no capacitor at that position).
    pub fn spectrum(&self, rung_c: Option<f64>, ring_c: Option<f64>) -> Result<Vec<Mode>> {
        let nl = self.n + 1;
        let s: Vec<f64> = self
            .s_rung
            .iter()
            .zip(&self.s_ring)
            .map(|(sr, sg)| rung_c.map_or(0.0, |c| sr / c) + ring_c.map_or(0.0, |c| sg / c))
            .collect();
        let (lam, vecs) = generalized_eigen(&s, &self.l, nl)?;
        let lam_max = lam.iter().cloned().fold(0.0, f64::max);
        let n = self.n;
        let mut raw: Vec<(usize, ModeKind, f64)> = Vec::new();
        for (e, lam_e) in lam.iter().enumerate() {
            let x: Vec<f64> = (0..nl).map(|p| vecs[p * nl + e]).collect();
            let f = if *lam_e <= 1e-12 * lam_max {
                0.0
            } else {
                lam_e.sqrt() / (2.0 * std::f64::consts::PI)
            };
            let rung_i: Vec<f64> = (0..n).map(|j| x[j] - x[(j + n - 1) % n]).collect();
            let top: Vec<f64> = (0..n).map(|j| x[j] + x[n]).collect();
            let p_rung: f64 = rung_i.iter().map(|v| v * v).sum();
            let p_ring: f64 = top.iter().map(|v| v * v).sum::<f64>() + x[..n].iter().map(|v| v * v).sum::<f64>();
            let (m, kind) = if f == 0.0 {
                (0, ModeKind::Static)
            } else if p_rung <= 1e-9 * (p_rung + p_ring) {
                let top_sum: f64 = top.iter().sum();
                let bottom_sum: f64 = -x[..n].iter().sum::<f64>();
                (
                    0,
                    if top_sum * bottom_sum > 0.0 {
                        ModeKind::EndRingCo
                    } else {
                        ModeKind::EndRingCounter
                    },
                )
            } else {
                let mut best = (0, -1.0);
                for m in 1..=n / 2 {
                    let (mut c, mut sn) = (0.0, 0.0);
                    for (j, v) in rung_i.iter().enumerate() {
                        let ph = 2.0 * std::f64::consts::PI * (m * j) as f64 / n as f64;
                        c += v * ph.cos();
                        sn += v * ph.sin();
                    }
                    let pw = c * c + sn * sn;
                    if pw > best.1 {
                        best = (m, pw);
                    }
                }
                (best.0, ModeKind::Azimuthal)
            };
            raw.push((m, kind, f));
        }
        // Group degenerate eigenvalues of the same label.
        let mut modes: Vec<Mode> = Vec::new();
        for (m, kind, f) in raw {
            if let Some(md) = modes.iter_mut().find(|md| {
                md.m == m
                    && md.kind == kind
                    && ((md.freq_hz - f).abs() <= 1e-6 * md.freq_hz.max(f) || (md.freq_hz == 0.0 && f == 0.0))
            }) {
                md.freq_hz = (md.freq_hz * md.degeneracy as f64 + f) / (md.degeneracy + 1) as f64;
                md.degeneracy += 1;
            } else {
                modes.push(Mode {
                    m,
                    kind,
                    freq_hz: f,
                    degeneracy: 1,
                });
            }
        }
        let rank = |k: ModeKind| match k {
            ModeKind::Azimuthal => 0,
            ModeKind::EndRingCounter => 1,
            ModeKind::EndRingCo => 2,
            ModeKind::Static => 3,
        };
        modes.sort_by(|a, b| {
            a.m.cmp(&b.m)
                .then(rank(a.kind).cmp(&rank(b.kind)))
                .then(a.freq_hz.total_cmp(&b.freq_hz))
        });
        Ok(modes)
    }
}

/// Tunes `coil` with the full circuit model ([`CircuitOptions::default`]).
pub fn tune(coil: &CoilConfig) -> Result<Tuning> {
    tune_with(coil, CircuitOptions::default())
}

/// Tunes `coil`: solves the `"auto"` capacitor so that the homogeneous mode sits at the coil's Larmor
/// frequency, then computes the whole spectrum. With every capacitor given it only analyses.
pub fn tune_with(coil: &CoilConfig, options: CircuitOptions) -> Result<Tuning> {
    let model = CircuitModel::new(coil, options)?;
    let w0 = 2.0 * std::f64::consts::PI * coil.freq_hz;
    let (l1, sr1, sg1) = model.m1_quotients();
    let src = &coil.source_name;
    let (mut rung_c, mut ring_c) = (coil.rung_capacitor.fixed(), coil.ring_capacitor.fixed());
    let mut solved = "none";
    let mut capacitance_f = None;
    match (coil.rung_capacitor, coil.ring_capacitor) {
        (CapSetting::Auto, other) => {
            // w0^2 L1 = Sr1 / C + Sg1 / C_ring
            let rest = w0 * w0 * l1 - other.fixed().map_or(0.0, |c| sg1 / c);
            if !(rest > 0.0) {
                return Err(Error::input(
                    src,
                    "ring_capacitance_f",
                    format!("with ring capacitors of {:.4e} F alone the homogeneous mode is already above {:.4} MHz; no rung capacitance can bring it down to the Larmor frequency", other.fixed().unwrap_or(f64::NAN), coil.freq_hz / 1e6),
                    "give a larger ring_capacitance_f",
                ));
            }
            let c = sr1 / rest;
            rung_c = Some(c);
            capacitance_f = Some(c);
            solved = "rung";
        }
        (other, CapSetting::Auto) => {
            let rest = w0 * w0 * l1 - other.fixed().map_or(0.0, |c| sr1 / c);
            if !(rest > 0.0) {
                return Err(Error::input(
                    src,
                    "rung_capacitance_f",
                    format!("with rung capacitors of {:.4e} F alone the homogeneous mode is already above {:.4} MHz; no ring capacitance can bring it down to the Larmor frequency", other.fixed().unwrap_or(f64::NAN), coil.freq_hz / 1e6),
                    "give a larger rung_capacitance_f",
                ));
            }
            let c = sg1 / rest;
            ring_c = Some(c);
            capacitance_f = Some(c);
            solved = "ring";
        }
        _ => {}
    }
    if let Some(c) = capacitance_f {
        if !(c >= MIN_SOLVED_CAPACITANCE_F) || !c.is_finite() {
            return Err(Error::input(
                src,
                if solved == "rung" { "rung_capacitance_f" } else { "ring_capacitance_f" },
                format!(
                    "the capacitance that tunes the coil to {:.4} MHz is {} F ({}), below the {} pF of a real capacitor (stray capacitances dominate): the frequency is beyond the circuit model for this geometry",
                    coil.freq_hz / 1e6,
                    c,
                    format_farads(c),
                    MIN_SOLVED_CAPACITANCE_F * 1e12
                ),
                "check freq_hz (or field_t/nucleus) and the coil size: the Larmor frequency of a coil this size needs a larger capacitance",
            ));
        }
    }
    let modes = model.spectrum(rung_c, ring_c)?;
    let homogeneous_mode_hz = modes
        .iter()
        .find(|m| m.m == 1 && m.kind == ModeKind::Azimuthal)
        .map(|m| m.freq_hz)
        .ok_or_else(|| Error::Other(format!("{src}: the circuit model found no m = 1 mode")))?;
    Ok(Tuning {
        coil: coil.name.clone(),
        coil_type: coil.coil_type,
        rungs: coil.rungs,
        target_freq_hz: coil.freq_hz,
        capacitance_f,
        solved: solved.into(),
        rung_capacitance_f: rung_c,
        ring_capacitance_f: ring_c,
        homogeneous_mode_hz,
        modes,
        inductances: model.inductances.clone(),
        options,
    })
}

/// Smallest capacitance a tuning may solve (F): below 0.1 pF the stray capacitances of the strips
/// and the capacitor pads dominate and the lumped model is meaningless.
pub const MIN_SOLVED_CAPACITANCE_F: f64 = 0.1e-12;

/// A capacitance with an SI prefix and 4 significant digits (`8.110 pF`, `1.234 nF`, `2.5e-17 F`).
pub fn format_farads(c: f64) -> String {
    if !c.is_finite() || c == 0.0 {
        return format!("{c} F");
    }
    for (scale, unit) in [(1e-3, "mF"), (1e-6, "µF"), (1e-9, "nF"), (1e-12, "pF"), (1e-15, "fF")] {
        if c.abs() >= scale {
            let v = c / scale;
            let decimals = 3usize.saturating_sub(v.abs().log10().floor().max(0.0) as usize);
            return format!("{v:.decimals$} {unit}");
        }
    }
    format!("{c:.3e} F")
}

/// A human-readable report of a tuning: the capacitance and the mode spectrum.
pub fn format_tuning(t: &Tuning) -> String {
    use std::fmt::Write;
    let mut o = String::new();
    let pf = |c: Option<f64>| c.map_or("-".to_string(), format_farads);
    let _ = writeln!(
        o,
        "coil {} ({:?}, {} rungs), homogeneous mode tuned to {:.4} MHz",
        t.coil,
        t.coil_type,
        t.rungs,
        t.target_freq_hz / 1e6
    );
    match t.capacitance_f {
        Some(c) => {
            let _ = writeln!(
                o,
                "capacitance_f = {:.6e}  ({}, solved in each {})",
                c,
                format_farads(c),
                if t.solved == "rung" {
                    "rung"
                } else {
                    "end-ring segment of each ring"
                }
            );
        }
        None => {
            let _ = writeln!(o, "all capacitors given (nothing solved)");
        }
    }
    let _ = writeln!(
        o,
        "rung capacitors: {}   ring capacitors: {}",
        pf(t.rung_capacitance_f),
        pf(t.ring_capacitance_f)
    );
    let i = &t.inductances;
    let _ = writeln!(
        o,
        "inductances: rung self {:.3} nH, ring segment self {:.3} nH, effective m=1 rung {:.3} nH, ring {:.3} nH",
        i.rung_self_h * 1e9,
        i.ring_segment_self_h * 1e9,
        i.rung_effective_m1_h * 1e9,
        i.ring_effective_m1_h * 1e9
    );
    let _ = writeln!(o, "{:>4}  {:<18} {:>14}  {:>4}", "m", "kind", "freq_MHz", "deg");
    let mut modes = t.modes.clone();
    modes.sort_by(|a, b| a.freq_hz.total_cmp(&b.freq_hz));
    for m in &modes {
        let kind = match m.kind {
            ModeKind::Azimuthal if m.m == 1 => "homogeneous",
            ModeKind::Azimuthal => "azimuthal",
            ModeKind::EndRingCounter => "end_ring_counter",
            ModeKind::EndRingCo => "end_ring_co",
            ModeKind::Static => "static (0 Hz)",
        };
        let _ = writeln!(
            o,
            "{:>4}  {:<18} {:>14.4}  {:>4}",
            m.m,
            kind,
            m.freq_hz / 1e6,
            m.degeneracy
        );
    }
    o
}

/// Solves `S x = lambda L x` for symmetric `S` and symmetric positive definite `L` (n x n,
/// row-major). Returns eigenvalues (ascending) and eigenvectors as the columns of an n x n matrix.
pub fn generalized_eigen(s: &[f64], l: &[f64], n: usize) -> Result<(Vec<f64>, Vec<f64>)> {
    // Cholesky L = G G^T.
    let g = Cholesky::factor(l, n, 0.0).map_err(|NotPositiveDefinite { pivot: i, value: sum }| {
        Error::Other(format!("loop inductance matrix is not positive definite (pivot {i}: {sum:e}); the geometry is unphysical (strips too wide or too close?)"))
    })?;
    // C = G^-1 S G^-T: solve G Y = S, then G C^T = Y^T.
    let y = g.forward_columns(s);
    let mut yt = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            yt[j * n + i] = y[i * n + j];
        }
    }
    let mut c = g.forward_columns(&yt);
    for i in 0..n {
        for j in (i + 1)..n {
            let avg = 0.5 * (c[i * n + j] + c[j * n + i]);
            c[i * n + j] = avg;
            c[j * n + i] = avg;
        }
    }
    let (lam, z) = jacobi_eigen(&mut c, n);
    // x = G^-T z
    let x = g.backward_columns(&z);
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| lam[a].total_cmp(&lam[b]));
    let lam_sorted = order.iter().map(|&i| lam[i]).collect();
    let mut xs = vec![0.0; n * n];
    for (newc, &oldc) in order.iter().enumerate() {
        for r in 0..n {
            xs[r * n + newc] = x[r * n + oldc];
        }
    }
    Ok((lam_sorted, xs))
}

/// Cyclic Jacobi eigenvalue algorithm for a symmetric matrix (destroyed). Returns eigenvalues and
/// eigenvectors (columns).
fn jacobi_eigen(a: &mut [f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut v = vec![0.0; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt();
    for _sweep in 0..100 {
        let off: f64 = (0..n)
            .flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * n + j] * a[i * n + j])
            .sum::<f64>()
            .sqrt();
        if off <= 1e-15 * scale {
            break;
        }
        for p in 0..n {
            for q in (p + 1)..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let akp = a[k * n + p];
                    let akq = a[k * n + q];
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let apk = a[p * n + k];
                    let aqk = a[q * n + k];
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let vkp = v[k * n + p];
                    let vkq = v[k * n + q];
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..n).map(|i| a[i * n + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn farads_print_with_a_prefix_and_four_digits() {
        assert_eq!(format_farads(3.205376e-12), "3.205 pF");
        assert_eq!(format_farads(33e-12), "33.00 pF");
        assert_eq!(format_farads(269.54e-12), "269.5 pF");
        assert_eq!(format_farads(1.5e-9), "1.500 nF");
        assert_eq!(format_farads(5.2e-20), "5.200e-20 F");
        assert_eq!(format_farads(0.25e-12), "250.0 fF");
    }

    #[test]
    fn jacobi_and_generalized_eigen_on_a_known_pencil() {
        // S = diag(2, 8), L = diag(1, 2) -> lambda = 2, 4
        let (lam, _) = generalized_eigen(&[2.0, 0.0, 0.0, 8.0], &[1.0, 0.0, 0.0, 2.0], 2).unwrap();
        assert!((lam[0] - 2.0).abs() < 1e-12 && (lam[1] - 4.0).abs() < 1e-12, "{lam:?}");
        // symmetric 3x3 with known eigenvalues 1, 2, 4 (Q diag Q^T with a rotation)
        let s = [3.0, -1.0, 0.0, -1.0, 3.0, 0.0, 0.0, 0.0, 1.0];
        let id = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];
        let (lam, x) = generalized_eigen(&s, &id, 3).unwrap();
        assert!(
            (lam[0] - 1.0).abs() < 1e-12 && (lam[1] - 2.0).abs() < 1e-12 && (lam[2] - 4.0).abs() < 1e-12,
            "{lam:?}"
        );
        // eigenvector of 4: (1, -1, 0)/sqrt 2
        assert!((x[2].abs() - 0.5f64.sqrt()).abs() < 1e-12 && (x[2] + x[3 + 2]).abs() < 1e-12);
    }
}
