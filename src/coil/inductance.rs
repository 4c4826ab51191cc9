//! Partial inductances of straight conductors (filaments and thin flat strips).
//!
//! Formulas (SI, mu0 = 4 pi 1e-7 H/m):
//!
//! * **Self inductance of a thin flat strip** of length `l` and width `w` (thickness -> 0), Grover's
//!   formula for a straight bar of rectangular section with `B + C = w`
//!   (F. W. Grover, *Inductance Calculations*, 1946, the straight bar of rectangular section;
//!   after E. B. Rosa, Bull. Bur. Stand. 4, 1908):
//!   `L = (mu0 l / 2 pi) [ln(2 l / w) + 1/2 + 0.2235 w / l]`, valid for `w << l`.
//!   BirdcageBuilder uses the same formula without the last term (Chin et al. 2002).
//! * **Mutual inductance of two parallel filaments** of equal length `l`, side by side at distance `d`
//!   (Grover 1946, equal parallel filaments):
//!   `M = (mu0 l / 2 pi) [asinh(l/d) - sqrt(1 + d^2/l^2) + d/l]`.
//! * **Two straight filaments in any position**: Neumann's formula
//!   `M = mu0/(4 pi) (t_a . t_b) int_a int_b ds ds' / |r - r'|`, with the inner integral done in closed
//!   form (`int ds'/sqrt((s'-u)^2 + rho^2) = asinh((l_b - u)/rho) + asinh(u/rho)`) and the outer one by
//!   Gauss-Legendre quadrature on panels graded geometrically towards both ends, which handles the
//!   logarithmic end singularity of filaments that meet at a point (adjacent end-ring chords).
//!   For two filaments meeting at a point with angle `eps` between them, the closed form
//!   `M = (mu0 / 4 pi) 2 cos(eps) [l atanh(m/(l+R)) + m atanh(l/(m+R))]` (Grover 1946, filaments
//!   meeting at a point; R the distance between the free ends) serves as the check in the tests.

use std::sync::OnceLock;

/// mu0 / (4 pi) in H/m (exactly 1e-7 in the pre-2019 SI; the 2019 value differs by 1e-10 relative).
pub const MU0_4PI: f64 = crate::grid::MU0 / (4.0 * std::f64::consts::PI);

/// A straight filament from `a` to `b` (metres).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Filament {
    pub a: [f64; 3],
    pub b: [f64; 3],
}

fn sub(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[0] - b[0], a[1] - b[1], a[2] - b[2]]
}
fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}
fn norm(a: [f64; 3]) -> f64 {
    dot(a, a).sqrt()
}

impl Filament {
    pub fn new(a: [f64; 3], b: [f64; 3]) -> Self {
        Self { a, b }
    }
    pub fn length(&self) -> f64 {
        norm(sub(self.b, self.a))
    }
    /// Unit vector from `a` to `b`.
    pub fn direction(&self) -> [f64; 3] {
        let d = sub(self.b, self.a);
        let l = norm(d);
        [d[0] / l, d[1] / l, d[2] / l]
    }
    fn point(&self, s: f64) -> [f64; 3] {
        let t = self.direction();
        [self.a[0] + s * t[0], self.a[1] + s * t[1], self.a[2] + s * t[2]]
    }
    /// `int_0^l ds' / |p - r(s')|` along this filament, in closed form.
    fn inverse_distance_integral(&self, p: [f64; 3]) -> f64 {
        let l = self.length();
        let t = self.direction();
        let q = sub(p, self.a);
        let u = dot(q, t);
        let qq = dot(q, q);
        let rho = (qq - u * u).max(0.0).sqrt();
        // Points on the filament's line (to rounding) take the logarithmic form.
        if rho > 1e-9 * qq.sqrt() {
            ((l - u) / rho).asinh() + (u / rho).asinh()
        } else if u < 0.0 {
            ((l - u) / -u).ln()
        } else if u > l {
            (u / (u - l)).ln()
        } else {
            f64::INFINITY
        }
    }
}

/// Gauss-Legendre nodes and weights on [-1, 1] (Newton iteration on P_n).
fn gauss_legendre(n: usize) -> (Vec<f64>, Vec<f64>) {
    let mut x = vec![0.0; n];
    let mut w = vec![0.0; n];
    for i in 0..n.div_ceil(2) {
        let mut z = (std::f64::consts::PI * (i as f64 + 0.75) / (n as f64 + 0.5)).cos();
        let mut dp = 0.0;
        for _ in 0..100 {
            let (mut p0, mut p1) = (1.0, z);
            for k in 2..=n {
                let p2 = ((2 * k - 1) as f64 * z * p1 - (k - 1) as f64 * p0) / k as f64;
                p0 = p1;
                p1 = p2;
            }
            dp = n as f64 * (z * p1 - p0) / (z * z - 1.0);
            let dz = p1 / dp;
            z -= dz;
            if dz.abs() < 1e-15 {
                break;
            }
        }
        x[i] = -z;
        x[n - 1 - i] = z;
        w[i] = 2.0 / ((1.0 - z * z) * dp * dp);
        w[n - 1 - i] = w[i];
    }
    (x, w)
}

/// Quadrature nodes and weights on [0, 1], graded geometrically towards both ends
/// (panels [0, q^K], ..., [q^2, q], [q, 1/2] and mirrored; 10-point Gauss-Legendre per panel).
fn graded_rule() -> &'static (Vec<f64>, Vec<f64>) {
    static RULE: OnceLock<(Vec<f64>, Vec<f64>)> = OnceLock::new();
    RULE.get_or_init(|| {
        let (gx, gw) = gauss_legendre(10);
        let q: f64 = 0.2;
        let levels: i32 = 14;
        let mut breaks = vec![0.0];
        for k in (1..=levels).rev() {
            breaks.push(0.5 * q.powi(k));
        }
        breaks.push(0.5);
        let half = breaks.clone();
        for b in half.iter().rev().skip(1) {
            breaks.push(1.0 - b);
        }
        let (mut xs, mut ws) = (Vec::new(), Vec::new());
        for p in breaks.windows(2) {
            let (a, b) = (p[0], p[1]);
            for (x, w) in gx.iter().zip(&gw) {
                xs.push(0.5 * (a + b) + 0.5 * (b - a) * x);
                ws.push(0.5 * (b - a) * w);
            }
        }
        (xs, ws)
    })
}

/// Mutual inductance (H) of two straight filaments by Neumann's formula (see the module docs).
/// Perpendicular filaments give exactly 0. The filaments must not overlap.
pub fn mutual_filaments(fa: &Filament, fb: &Filament) -> f64 {
    let c = dot(fa.direction(), fb.direction());
    if c.abs() < 1e-14 {
        return 0.0;
    }
    let la = fa.length();
    let (xs, ws) = graded_rule();
    let mut acc = 0.0;
    for (x, w) in xs.iter().zip(ws) {
        acc += w * fb.inverse_distance_integral(fa.point(x * la));
    }
    MU0_4PI * c * la * acc
}

/// Grover's closed form for two parallel filaments of equal length `l` side by side at distance `d` (H).
pub fn mutual_parallel_equal(l: f64, d: f64) -> f64 {
    2.0 * MU0_4PI * l * ((l / d).asinh() - (1.0 + (d / l).powi(2)).sqrt() + d / l)
}

/// Grover's closed form for two filaments of lengths `l` and `m` that meet at a point, with angle
/// `eps` (rad) between their directions when both point away from the common point (H).
pub fn mutual_meeting_at_point(l: f64, m: f64, eps: f64) -> f64 {
    let r = (l * l + m * m - 2.0 * l * m * eps.cos()).sqrt();
    2.0 * MU0_4PI * eps.cos() * (l * (m / (l + r)).atanh() + m * (l / (m + r)).atanh())
}

/// Self inductance (H) of a thin flat strip, Grover's formula with the `0.2235 w/l` term
/// (`with_width_term = false` gives the form BirdcageBuilder uses).
pub fn strip_self(l: f64, w: f64, with_width_term: bool) -> f64 {
    let extra = if with_width_term { 0.2235 * w / l } else { 0.0 };
    2.0 * MU0_4PI * l * ((2.0 * l / w).ln() + 0.5 + extra)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gauss_legendre_integrates_polynomials() {
        let (x, w) = gauss_legendre(10);
        // exact for degree <= 19: int_{-1}^{1} x^18 dx = 2/19
        let s: f64 = x.iter().zip(&w).map(|(x, w)| w * x.powi(18)).sum();
        assert!((s - 2.0 / 19.0).abs() < 1e-13, "{s}");
        let (x, w) = graded_rule();
        let s: f64 = x.iter().zip(w).map(|(x, w)| w * x.sqrt().ln()).sum();
        // int_0^1 ln(sqrt x) dx = -1/2
        assert!((s + 0.5).abs() < 1e-9, "{s}");
    }
}
