//! The co-simulated coil's spectrum over the port-run band (`coil tune --cosim`): the feeds'
//! S-parameters and input impedances, and the coil's modes.
//!
//! A mode of the loaded circuit is a frequency where `Z(f) + Z_load(f)` (the structure's impedance
//! matrix plus each port's capacitor or source impedance, see [`super::cosim`]) comes closest to
//! singular: a local minimum of its smallest singular value `sigma_min(f)` (Ohm), found on the band
//! and refined by a parabola through `log sigma_min`. Its near-null vector (the port currents the
//! mode carries) gives the mode's azimuthal order `m`: the largest `|m|` component of the discrete
//! Fourier transform of the capacitor currents around the coil (rung capacitors, else the ring
//! capacitors of one ring). Ring (m = 0) modes are "co-rotating" when both rings carry their
//! current the same way round, "counter-rotating" otherwise. The homogeneous mode is the one the
//! first feed drives at the isocentre ([`PortBasis::homogeneous_hz`]); after tuning it sits at Larmor.
//!
//! S-parameters are power waves referred to each feed's source impedance `R`: feed `p` driven by an
//! EMF `E` (the others terminated in theirs) sends `a_p = E / (2 sqrt R_p)`; feed `q` returns
//! `b_q = (V_q - R_q I_q) / (2 sqrt R_q)`; `S_qp = b_q / a_p`.

use num_complex::Complex64;
use serde::Serialize;

use super::cosim::{CapSite, Circuit, PortBasis};
use crate::error::{Error, Result};
use crate::numerics::complex_inverse;

/// One mode of the loaded circuit.
#[derive(Clone, Debug, Serialize)]
pub struct SpectrumMode {
    pub freq_hz: f64,
    /// Azimuthal order of the capacitor currents (0: a ring mode).
    pub m: usize,
    /// "homogeneous" (the mode the first feed drives at the isocentre), "m = k", or for m = 0
    /// "ring co-rotating" / "ring counter-rotating" (two rings) or "ring".
    pub kind: String,
    /// The smallest singular value of `Z + Z_load` there (Ohm): the lower, the sharper the mode.
    pub sigma_min_ohm: f64,
    /// `(f - f_Larmor) / f_Larmor`.
    pub offset_from_larmor: f64,
}

/// The spectrum of a tuned co-simulated coil over the band of its port runs.
#[derive(Clone, Debug, Serialize)]
pub struct Spectrum {
    pub larmor_hz: f64,
    pub freq_hz: Vec<f64>,
    /// Number of feeds (coil-file ports).
    pub feeds: usize,
    /// `|S_qp|` in dB, `s_db[q][p][band]` (feed `p` driven).
    pub s_db: Vec<Vec<Vec<f64>>>,
    /// Input impedance of each feed driven alone (others terminated), `[re, im]` Ohm per band frequency.
    pub zin_ohm: Vec<Vec<[f64; 2]>>,
    /// Smallest singular value of `Z + Z_load` per band frequency (Ohm).
    pub sigma_min_ohm: Vec<f64>,
    /// |transverse H| at the isocentre per volt of EMF at the first feed (A/m per V).
    pub h_iso_a_per_m_per_v: Vec<f64>,
    /// The modes found in the band, by frequency.
    pub modes: Vec<SpectrumMode>,
    /// The homogeneous mode (Hz), `None` when its peak lies at the band's edge.
    pub homogeneous_hz: Option<f64>,
}

/// The smallest singular value of the `n x n` matrix `a` and its right singular vector, by inverse
/// iteration on `(a^H a)^-1` (`None` when `a` is numerically singular).
pub fn smallest_singular(a: &[Complex64], n: usize) -> Option<(f64, Vec<Complex64>)> {
    let inv = complex_inverse(a, n)?;
    let norm = |x: &[Complex64]| x.iter().map(|z| z.norm_sqr()).sum::<f64>().sqrt();
    // A start with no symmetry that could make it orthogonal to the wanted vector.
    let mut x: Vec<Complex64> = (0..n)
        .map(|k| Complex64::new(1.0 + 0.37 * k as f64, 0.21 * (k as f64 * 1.3).sin()))
        .collect();
    let s = norm(&x);
    x.iter_mut().for_each(|z| *z /= s);
    let mut sigma = f64::INFINITY;
    for _ in 0..200 {
        // y = A^-1 x, z = A^-H y.
        let y: Vec<Complex64> = (0..n).map(|r| (0..n).map(|c| inv[r * n + c] * x[c]).sum()).collect();
        let z: Vec<Complex64> = (0..n)
            .map(|r| (0..n).map(|c| inv[c * n + r].conj() * y[c]).sum())
            .collect();
        let nz = norm(&z);
        if !(nz > 0.0) || !nz.is_finite() {
            return None;
        }
        let s_new = (1.0 / nz).sqrt();
        x = z.into_iter().map(|v| v / nz).collect();
        let done = (s_new - sigma).abs() <= 1e-10 * s_new;
        sigma = s_new;
        if done {
            break;
        }
    }
    Some((sigma, x))
}

/// The azimuthal order of the capacitor currents `cur` (per basis port) and the mode's kind.
fn mode_order(pb: &PortBasis, cur: &[Complex64]) -> (usize, String) {
    // Currents in the coil's reference direction per site family.
    let mut rung: Vec<(usize, Complex64)> = Vec::new();
    let mut rings: [Vec<(usize, Complex64)>; 2] = [Vec::new(), Vec::new()];
    for (p, c) in pb.ports.iter().zip(cur) {
        let c = c * p.orient;
        match p.capacitor {
            Some(CapSite::Rung(j)) => rung.push((j, c)),
            Some(CapSite::Ring(r, j)) if r < 2 => rings[r].push((j, c)),
            _ => {}
        }
    }
    let power = |v: &[(usize, Complex64)]| v.iter().map(|x| x.1.norm_sqr()).sum::<f64>();
    let family = if power(&rung) >= power(&rings[0]).max(power(&rings[1])) && !rung.is_empty() {
        &rung
    } else if power(&rings[0]) >= power(&rings[1]) {
        &rings[0]
    } else {
        &rings[1]
    };
    let nr = family.iter().map(|x| x.0 + 1).max().unwrap_or(0);
    if nr == 0 {
        return (0, "unknown".into());
    }
    let coef = |m: i64| -> Complex64 {
        family
            .iter()
            .map(|&(j, c)| {
                c * Complex64::from_polar(1.0, -2.0 * std::f64::consts::PI * (m * j as i64) as f64 / nr as f64)
            })
            .sum()
    };
    let mut best = (0usize, -1.0f64);
    for m in 0..=nr / 2 {
        let mut p = coef(m as i64).norm_sqr();
        if m > 0 && 2 * m != nr {
            p += coef(-(m as i64)).norm_sqr();
        }
        if p > best.1 {
            best = (m, p);
        }
    }
    let m = best.0;
    if m > 0 {
        return (m, format!("m = {m}"));
    }
    if !rings[0].is_empty() && !rings[1].is_empty() {
        let s0: Complex64 = rings[0].iter().map(|x| x.1).sum();
        let s1: Complex64 = rings[1].iter().map(|x| x.1).sum();
        let kind = if (s0 * s1.conj()).re >= 0.0 {
            "ring co-rotating"
        } else {
            "ring counter-rotating"
        };
        return (0, kind.into());
    }
    if rings[0].is_empty() && rings[1].is_empty() {
        return (0, "m = 0".into());
    }
    (0, "ring".into())
}

/// The spectrum of circuit `circ` (usually the tuned one) over the band of `pb`.
pub fn spectrum(pb: &PortBasis, circ: &Circuit) -> Result<Spectrum> {
    let n = pb.n();
    let nb = pb.band_hz.len();
    let nf = pb.ports.iter().filter_map(|p| p.feed).max().map_or(0, |m| m + 1);
    let r0: Vec<f64> = (0..nf)
        .map(|fp| {
            pb.ports
                .iter()
                .zip(&circ.source_ohm)
                .find(|(p, _)| p.feed == Some(fp))
                .and_then(|(_, r)| *r)
                .unwrap_or(50.0)
        })
        .collect();
    let mut s_db = vec![vec![vec![f64::NAN; nb]; nf]; nf];
    let mut zin_ohm = vec![vec![[f64::NAN; 2]; nb]; nf];
    let mut sigma = vec![f64::NAN; nb];
    let mut vecs: Vec<Vec<Complex64>> = vec![Vec::new(); nb];
    for f in 0..nb {
        for p in 0..nf {
            let mut emf = vec![Complex64::default(); nf];
            emf[p] = Complex64::new(1.0, 0.0);
            let s = pb.solve_band(circ, f, &emf)?;
            let a = 1.0 / (2.0 * r0[p].sqrt());
            for q in 0..nf {
                let (v, i) = s.feed_vi[q];
                let b = (v - r0[q] * i) / (2.0 * r0[q].sqrt());
                s_db[q][p][f] = 20.0 * (b.norm() / a).max(1e-12).log10();
            }
            let (v, i) = s.feed_vi[p];
            let z = v / i;
            zin_ohm[p][f] = [z.re, z.im];
        }
        let a = pb.loaded_matrix(circ, f);
        if let Some((s, x)) = smallest_singular(&a, n) {
            sigma[f] = s;
            vecs[f] = x;
        }
    }
    let h_iso = if nf > 0 {
        let mut emf = vec![Complex64::default(); nf];
        emf[0] = Complex64::new(1.0, 0.0);
        pb.h_iso_response(circ, &emf)?
    } else {
        vec![f64::NAN; nb]
    };
    let homogeneous_hz = if nf > 0 { pb.homogeneous_hz(circ, 0)? } else { None };
    let mut modes = find_modes(pb, &sigma, &vecs);
    if let Some(fh) = homogeneous_hz {
        // The homogeneous mode: the m = 1 mode nearest the isocentre peak (within two band steps).
        let step = (pb.band_hz[nb - 1] - pb.band_hz[0]) / (nb - 1) as f64;
        if let Some(k) = (0..modes.len())
            .filter(|&k| modes[k].m == 1 && (modes[k].freq_hz - fh).abs() <= 2.0 * step)
            .min_by(|&a, &b| (modes[a].freq_hz - fh).abs().total_cmp(&(modes[b].freq_hz - fh).abs()))
        {
            modes[k].kind = "homogeneous (m = 1)".into();
        }
    }
    for m in &mut modes {
        m.offset_from_larmor = (m.freq_hz - pb.freq_hz) / pb.freq_hz;
    }
    Ok(Spectrum {
        larmor_hz: pb.freq_hz,
        freq_hz: pb.band_hz.clone(),
        feeds: nf,
        s_db,
        zin_ohm,
        sigma_min_ohm: sigma,
        h_iso_a_per_m_per_v: h_iso,
        modes,
        homogeneous_hz,
    })
}

/// The local minima of `sigma` with a prominence of at least 1.25 (the lower of the highest values
/// between it and the neighbouring minima on each side, over the minimum), refined by a parabola.
fn find_modes(pb: &PortBasis, sigma: &[f64], vecs: &[Vec<Complex64>]) -> Vec<SpectrumMode> {
    let nb = sigma.len();
    let mins: Vec<usize> = (1..nb.saturating_sub(1))
        .filter(|&k| sigma[k].is_finite() && sigma[k] < sigma[k - 1] && sigma[k] <= sigma[k + 1])
        .collect();
    let mut out = Vec::new();
    for (q, &k) in mins.iter().enumerate() {
        let lo = if q > 0 { mins[q - 1] } else { 0 };
        let hi = if q + 1 < mins.len() { mins[q + 1] } else { nb - 1 };
        let left = sigma[lo..=k]
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        let right = sigma[k..=hi]
            .iter()
            .copied()
            .filter(|x| x.is_finite())
            .fold(0.0, f64::max);
        if left.min(right) < 1.25 * sigma[k] {
            continue;
        }
        let (a, b, c) = (sigma[k - 1].ln(), sigma[k].ln(), sigma[k + 1].ln());
        let den = a - 2.0 * b + c;
        let off = if den.abs() > 0.0 {
            (0.5 * (a - c) / den).clamp(-1.0, 1.0)
        } else {
            0.0
        };
        let f = if off >= 0.0 {
            pb.band_hz[k] + off * (pb.band_hz[k + 1] - pb.band_hz[k])
        } else {
            pb.band_hz[k] + off * (pb.band_hz[k] - pb.band_hz[k - 1])
        };
        let (m, kind) = mode_order(pb, &vecs[k]);
        out.push(SpectrumMode {
            freq_hz: f,
            m,
            kind,
            sigma_min_ohm: (b - 0.25 * (a - c) * off).exp(),
            offset_from_larmor: 0.0,
        });
    }
    out
}

impl Spectrum {
    /// The CSV table: one row per band frequency.
    pub fn to_csv(&self) -> String {
        use std::fmt::Write;
        let mut o = String::from("freq_mhz");
        for q in 0..self.feeds {
            for p in 0..self.feeds {
                let _ = write!(o, ",s{}{}_db", q + 1, p + 1);
            }
        }
        for p in 0..self.feeds {
            let _ = write!(o, ",zin{0}_re_ohm,zin{0}_im_ohm", p + 1);
        }
        o.push_str(",sigma_min_ohm,h_iso_a_per_m_per_v\n");
        for f in 0..self.freq_hz.len() {
            let _ = write!(o, "{:.6}", self.freq_hz[f] / 1e6);
            for q in 0..self.feeds {
                for p in 0..self.feeds {
                    let _ = write!(o, ",{:.4}", self.s_db[q][p][f]);
                }
            }
            for p in 0..self.feeds {
                let _ = write!(o, ",{:.6e},{:.6e}", self.zin_ohm[p][f][0], self.zin_ohm[p][f][1]);
            }
            let _ = writeln!(o, ",{:.6e},{:.6e}", self.sigma_min_ohm[f], self.h_iso_a_per_m_per_v[f]);
        }
        o
    }

    /// The modes as a text table, the homogeneous mode marked.
    pub fn format_modes(&self) -> String {
        use std::fmt::Write;
        let mut o = String::new();
        let _ = writeln!(
            o,
            "co-simulated modes in {:.2}-{:.2} MHz (minima of the smallest singular value of Z + Z_load):",
            self.freq_hz[0] / 1e6,
            self.freq_hz[self.freq_hz.len() - 1] / 1e6
        );
        let _ = writeln!(
            o,
            "  {:>10}  {:>9}  {:>10}  kind",
            "f (MHz)", "vs Larmor", "sigma (Ohm)"
        );
        for m in &self.modes {
            let _ = writeln!(
                o,
                "  {:>10.4}  {:>+8.2}%  {:>10.3}  {}",
                m.freq_hz / 1e6,
                m.offset_from_larmor * 100.0,
                m.sigma_min_ohm,
                m.kind
            );
        }
        if self.modes.is_empty() {
            let _ = writeln!(o, "  (no mode in the band)");
        }
        if let Some(f) = self.homogeneous_hz {
            let _ = writeln!(
                o,
                "  the homogeneous mode peaks at the isocentre at {:.4} MHz ({:+.2} % from Larmor); its sigma_min minimum differs by the feeds' loading",
                f / 1e6,
                (f - self.larmor_hz) / self.larmor_hz * 100.0
            );
        }
        o
    }

    /// `spectrum.png`: |S_qp| (dB) of the feeds over the band, and `modes.png`: the smallest singular
    /// value of `Z + Z_load` with the modes and Larmor marked.
    pub fn plot(&self, s_path: &std::path::Path, modes_path: &std::path::Path, coil: &str) -> Result<()> {
        use crate::plot::{line_plot, LinePlot};
        let x: Vec<f64> = self.freq_hz.iter().map(|f| f / 1e6).collect();
        let names: Vec<(String, &[f64])> = (0..self.feeds)
            .flat_map(|q| (0..self.feeds).map(move |p| (q, p)))
            .map(|(q, p)| (format!("|S{}{}|", q + 1, p + 1), self.s_db[q][p].as_slice()))
            .collect();
        if names.is_empty() {
            return Err(Error::input(
                coil,
                "ports",
                "the coil has no feeds: no S-parameters to plot",
                "give the coil [[ports]]",
            ));
        }
        let mut plot = LinePlot::new(
            format!("{coil}: feed S-parameters (co-simulation, tuned)"),
            "Frequency (MHz)",
            "|S| (dB)",
        )
        .vline(self.larmor_hz / 1e6, "Larmor");
        for (name, y) in &names {
            plot = plot.series(name.clone(), &x, y);
        }
        line_plot(s_path, &plot)?;
        let mut plot = LinePlot::new(
            format!("{coil}: modes (minima of the smallest singular value of Z + Z_load)"),
            "Frequency (MHz)",
            "sigma_min (Ohm)",
        )
        .series("", &x, &self.sigma_min_ohm);
        // Larmor and the homogeneous mode coincide after tuning: one label for both.
        let hom = self.modes.iter().any(|m| m.kind.starts_with("homogeneous"));
        plot = plot.vline(self.larmor_hz / 1e6, if hom { "" } else { "Larmor" });
        for m in &self.modes {
            let label = if m.kind.starts_with("homogeneous") {
                "m = 1 (homogeneous) / Larmor".to_string()
            } else {
                m.kind.clone()
            };
            plot = plot.vline(m.freq_hz / 1e6, label);
        }
        line_plot(modes_path, &plot)
    }
}
