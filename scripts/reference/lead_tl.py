#!/usr/bin/python3
"""Transmission-line (TL) reference for RF currents on straight leads in a lossy medium (issue 18, item 2a).

In the manner of Acikel & Atalar, "Modeling of radio-frequency induced currents on lead wires during MR
imaging using a modified transmission line method", Med. Phys. 38(12) 6623 (2011) (MoTLiM): the lead is a
lossy TL whose per-unit-length parameters are those of King's insulated antenna in a dissipative medium,
driven by the tangential incident field as a distributed series voltage source, and terminated by lumped
loads at its ends (bare electrodes: their spreading impedance in the medium; sealed ends: the capacitance
of the insulating cap in series with the cap's spreading impedance).

Time factor e^{+j w t} (rftwin's convention; Im k < 0), peak phasors, SI units.

Per-unit-length parameters (King, Smith, Owens & Wu, "Antennas in Matter", MIT Press 1981, ch. 2;
King & Smith, "Antennas in Matter" eq. for the insulated antenna; the same forms as MoTLiM):
  F(x)  = H0^(2)(x) / (x H1^(2)(x)),                   x = k4 b  (outer radius b; bare wire: b = a)
  z     = j w mu0 / (2 pi) [ ln(b/a) + F ]                (series impedance, ohm/m)
  1/y   = ln(b/a) / (j w 2 pi eps2) + F / (j w 2 pi eps4) (shunt: insulation capacitance in series with
                                                          the medium's term, eps4 = eps0 eps_r - j sigma/w)
  gamma = sqrt(z y) = j k_L,   Zc = sqrt(z / y)
  bare wire (b = a): k_L = k4 (the medium's wavenumber), Zc = sqrt(mu0/eps4) F(k4 a) / (2 pi)
Excitation: uniform E_tan (1 V/m) along the whole lead: dV/dl = -z I + E_tan, dI/dl = -y V.
Ends (l = 0 the tip, l = L the far end): V(0) = -Z_tip I(0), V(L) = Z_far I(L) (I flows towards +l; the
current leaving the lead into the medium at the tip is -I(0), at the far end I(L)).

Loads:
  bare electrode of length h (conductor radius a): slender-rod spreading impedance in an infinite medium
      Z_e = (ln(2h/a) - 1) / (2 pi kappa h),   kappa = sigma + j w eps0 eps_r
      (Dwight 1936, "Calculation of resistances to ground", Electrical Engineering 55:1319, rod of length
      h/2 in a half space = rod of length h in full space, halved);
  sealed end (insulation thickness t, permittivity eps2, flat cap over the end face):
      Z_cap = t / (j w eps0 eps2 pi a^2) + 1 / (4 kappa b)   (parallel-plate cap + disc spreading
      impedance of a disc of radius b on one side, Holm/Newman 1/(4 sigma r));
  bare wire end face: disc spreading impedance 1 / (4 kappa a) (nearly open).

Lead configurations (conductor radius 0.5 mm, PTFE 0.25 mm eps_r 2.1, as phantoms/implants/insulated_wire_*):
  bare              : bare over its whole length (one bare TL section, end-face discs); the "electrode" of
                      a bare wire is taken as its last 1 cm: electrode current = I at 1 cm from the end;
  ins_both_bare     : insulated, 1 cm bare at both ends (the demo implant);
  ins_tip_sealed    : insulated, 1 cm bare tip, far end sealed;
  ins_both_sealed   : insulated, both ends sealed.
Electrodes are lumped (the insulated TL covers the insulated part, L - sum of bare lengths); the variant
"_cascade" models each bare end instead as a bare TL section of its length (driven by E_tan and leaking
through the bare-wire shunt admittance) ended by the end-face disc, as a check of the lumped model.

Heating proxies (relative; per (1 V/m)^2 of E_tan):
  electrode: P = 1/2 |I_e|^2 Re(Z_e)   (power dissipated in the medium by the electrode current);
  every end: |V_end| (conductor potential) is stored; the sealed-end-to-tip SAR ratio needs the near-field
  factors of the resolved tip problem (scripts/reference/lead_tip_fem.py), which combines them.

usage: lead_tl.py [--out tests/data/lead_tl]
"""
import argparse
import json
import math
import os

import numpy as np
from scipy.special import hankel2

EPS0 = 8.8541878128e-12
MU0 = 1.25663706212e-6

GEL = {"eps_r": 80.0, "sigma_s_per_m": 0.47}
A = 0.5e-3  # conductor radius (m)
T_INS = 0.25e-3  # insulation thickness (m)
EPS_INS = 2.1
BARE_LEN = 0.01  # electrode length (m)
FREQS = [64e6, 128e6]
TI_RESISTIVITY = 178e-8  # ohm m (Ti-6Al-4V, src/implant/model.rs)


def medium(freq):
    w = 2 * math.pi * freq
    eps4 = EPS0 * GEL["eps_r"] - 1j * GEL["sigma_s_per_m"] / w
    k4 = w * np.sqrt(MU0 * eps4)
    if k4.imag > 0:
        k4 = -k4
    kappa = GEL["sigma_s_per_m"] + 1j * w * EPS0 * GEL["eps_r"]
    return w, eps4, k4, kappa


def king_F(x):
    return hankel2(0, x) / (x * hankel2(1, x))


def line_params(freq, a, b, eps2, z_int=0.0):
    """(gamma, Zc, z, y) of a wire of radius a with insulation to radius b (b = a: bare)."""
    w, eps4, k4, _ = medium(freq)
    F = king_F(k4 * b)
    lg = math.log(b / a)
    z = 1j * w * MU0 / (2 * math.pi) * (lg + F) + z_int
    inv_y = (lg / (1j * w * 2 * math.pi * EPS0 * eps2) if b > a else 0.0) + F / (1j * w * 2 * math.pi * eps4)
    y = 1.0 / inv_y
    g = np.sqrt(z * y)
    if g.real < 0:
        g = -g
    return g, np.sqrt(z / y), z, y


def internal_impedance(freq, a, rho):
    """Skin-effect internal impedance per metre of a round conductor, (1 + j) Rs / (2 pi a)."""
    w = 2 * math.pi * freq
    rs = math.sqrt(w * MU0 * rho / 2)
    return (1 + 1j) * rs / (2 * math.pi * a)


def z_rod(freq, h, a):
    _, _, _, kappa = medium(freq)
    return (math.log(2 * h / a) - 1) / (2 * math.pi * kappa * h)


def z_disc(freq, r):
    _, _, _, kappa = medium(freq)
    return 1.0 / (4 * kappa * r)


def z_cap(freq, a, b, t, eps2):
    w = 2 * math.pi * freq
    return t / (1j * w * EPS0 * eps2 * math.pi * a * a) + z_disc(freq, b)


def section_step(g, zc, ell, e):
    """ABCD matrix and source vector of a uniform section of length ell driven by E_tan = e."""
    ch, sh = np.cosh(g * ell), np.sinh(g * ell)
    phi = np.array([[ch, -zc * sh], [-sh / zc, ch]])
    src = e * np.array([sh / g, -(ch - 1) / (g * zc)])
    return phi, src


def solve(sections, z_tip, z_far, e=1.0, samples_per_m=0):
    """sections: list of (length, gamma, Zc). Returns dict with V, I at both ends and optional samples.

    Z = inf gives an open end."""
    # X(l) = M X(0) + s, X(0) = I0 [-z_tip, 1] (or [1, 0] V0 for an open tip)
    m = np.eye(2, dtype=complex)
    s = np.zeros(2, dtype=complex)
    for ell, g, zc in sections:
        phi, src = section_step(g, zc, ell, e)
        m = phi @ m
        s = phi @ s + src
    x0dir = np.array([1.0 + 0j, 0.0]) if np.isinf(z_tip) else np.array([-z_tip, 1.0 + 0j])
    xl_dir = m @ x0dir
    # condition at L: V - z_far I = 0 (open: I = 0)
    if np.isinf(z_far):
        c = np.array([0.0, 1.0])
    else:
        c = np.array([1.0, -z_far])
    alpha = -(c @ s) / (c @ xl_dir)
    x0 = alpha * x0dir
    xl = m @ x0 + s
    out = {"V0": x0[0], "I0": x0[1], "VL": xl[0], "IL": xl[1]}
    if samples_per_m:
        ls, vs, is_ = [0.0], [x0[0]], [x0[1]]
        x = x0.copy()
        pos = 0.0
        for ell, g, zc in sections:
            n = max(2, int(math.ceil(ell * samples_per_m)))
            for k in range(1, n + 1):
                phi, src = section_step(g, zc, ell * k / n, e)
                xk = phi @ x + src
                ls.append(pos + ell * k / n)
                vs.append(xk[0])
                is_.append(xk[1])
            phi, src = section_step(g, zc, ell, e)
            x = phi @ x + src
            pos += ell
        out["l_m"], out["V"], out["I"] = ls, vs, is_
    return out


def current_at(sections, z_tip, z_far, l):
    """Current at arc length l (m from the tip)."""
    r = solve(sections, z_tip, z_far, samples_per_m=0)
    x = np.array([r["V0"], r["I0"]])
    pos = 0.0
    for ell, g, zc in sections:
        if l <= pos + ell + 1e-15:
            phi, src = section_step(g, zc, l - pos, 1.0)
            return (phi @ x + src)[1]
        phi, src = section_step(g, zc, ell, 1.0)
        x = phi @ x + src
        pos += ell
    return x[1]


def config(name, freq, L, z_int=0.0):
    """(sections, z_tip, z_far, electrode lengths (tip, far) or None for sealed/none, kind)."""
    b = A + T_INS
    gi, zci, _, _ = line_params(freq, A, b, EPS_INS, z_int)
    gb, zcb, _, _ = line_params(freq, A, A, 1.0, z_int)
    ze = z_rod(freq, BARE_LEN, A)
    zs = z_cap(freq, A, b, T_INS, EPS_INS)
    zd = z_disc(freq, A)
    if name == "bare":
        return [(L, gb, zcb)], zd, zd
    if name == "ins_both_bare":
        return [(L - 2 * BARE_LEN, gi, zci)], ze, ze
    if name == "ins_tip_sealed":
        return [(L - BARE_LEN, gi, zci)], ze, zs
    if name == "ins_both_sealed":
        return [(L, gi, zci)], zs, zs
    if name == "ins_both_bare_cascade":
        return [(BARE_LEN, gb, zcb), (L - 2 * BARE_LEN, gi, zci), (BARE_LEN, gb, zcb)], zd, zd
    if name == "ins_tip_sealed_cascade":
        return [(BARE_LEN, gb, zcb), (L - BARE_LEN, gi, zci)], zd, zs
    raise ValueError(name)


CONFIGS = ["bare", "ins_both_bare", "ins_tip_sealed", "ins_both_sealed", "ins_both_bare_cascade",
           "ins_tip_sealed_cascade"]


def electrode_currents(name, freq, L, z_int=0.0):
    """(I_tip_electrode, I_far_end, V_tip, V_far): the current the tip electrode passes into the medium
    (bare wire: the current 1 cm from the tip; cascade: the current at the bare/insulated junction), the
    current through the far end (electrode or cap), and the conductor potentials at the ends."""
    secs, zt, zf = config(name, freq, L, z_int)
    r = solve(secs, zt, zf)
    if name == "bare" or name.endswith("_cascade"):
        it = current_at(secs, zt, zf, BARE_LEN)
        i_far = current_at(secs, zt, zf, L - BARE_LEN) if name != "ins_tip_sealed_cascade" else r["IL"]
        if name == "bare":
            i_far = current_at(secs, zt, zf, L - BARE_LEN)
    else:
        it = -r["I0"]
        i_far = r["IL"]
    return it, i_far, r["V0"], r["VL"]


def resonant_length(name, freq, lo=0.05, hi=1.5, step=0.001, z_int=0.0):
    ls = np.arange(lo, hi + 1e-12, step)
    g = np.array([abs(electrode_currents(name, freq, L, z_int)[0]) for L in ls])
    i = int(np.argmax(g))
    if i == 0 or i == len(ls) - 1:
        return float("nan"), float(g[i])
    # parabola through the peak and its neighbours
    y0, y1, y2 = g[i - 1] ** 2, g[i] ** 2, g[i + 1] ** 2
    peak = ls[i] + 0.5 * step * (y0 - y2) / (y0 - 2 * y1 + y2)
    return float(peak), float(g[i])


def g7(x):
    return float(f"{float(x):.7g}")


def cplx(z):
    return [g7(np.real(z)), g7(np.imag(z))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/lead_tl")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    lengths = [round(0.10 + 0.005 * i, 3) for i in range(101)]
    result = {
        "description": "transmission-line (MoTLiM-style) reference: straight leads in ASTM gel under a uniform "
                       "tangential field E_tan = 1 V/m (peak phasor), e^{+jwt}; made by scripts/reference/lead_tl.py",
        "medium": {"eps_r": GEL["eps_r"], "sigma_s_per_m": GEL["sigma_s_per_m"]},
        "conductor_radius_m": A,
        "insulation_thickness_m": T_INS,
        "insulation_eps_r": EPS_INS,
        "electrode_length_m": BARE_LEN,
        "e_tan_v_per_m": 1.0,
        "lengths_m": lengths,
        "frequencies": [],
    }
    summary_lines = []
    for f in FREQS:
        w, eps4, k4, kappa = medium(f)
        b = A + T_INS
        gi, zci, zi, yi = line_params(f, A, b, EPS_INS)
        gb, zcb, zb, yb = line_params(f, A, A, 1.0)
        fr = {
            "freq_hz": f,
            "k_medium_per_m": cplx(k4),
            "half_wave_medium_m": math.pi / k4.real,
            "insulated": {"k_l_per_m": cplx(-1j * gi), "zc_ohm": cplx(zci), "z_ohm_per_m": cplx(zi),
                          "y_s_per_m": cplx(yi), "half_wave_m": math.pi / (-1j * gi).real},
            "bare": {"k_l_per_m": cplx(-1j * gb), "zc_ohm": cplx(zcb), "z_ohm_per_m": cplx(zb),
                     "y_s_per_m": cplx(yb), "half_wave_m": math.pi / (-1j * gb).real},
            "loads_ohm": {"electrode_rod_1cm": cplx(z_rod(f, BARE_LEN, A)),
                          "sealed_cap": cplx(z_cap(f, A, b, T_INS, EPS_INS)),
                          "bare_end_disc": cplx(z_disc(f, A))},
            "configs": {},
        }
        ze_re = z_rod(f, BARE_LEN, A).real
        for name in CONFIGS:
            it, ifar, vt, vf = [], [], [], []
            for L in lengths:
                a_, b_, c_, d_ = electrode_currents(name, f, L)
                it.append(a_), ifar.append(b_), vt.append(c_), vf.append(d_)
            it, ifar = np.array(it), np.array(ifar)
            res, imax = resonant_length(name, f)
            zint = internal_impedance(f, A, TI_RESISTIVITY)
            res_ti, _ = resonant_length(name, f, z_int=zint)
            c = {
                "i_tip_a": [cplx(x) for x in it],
                "i_far_a": [cplx(x) for x in ifar],
                "v_tip_v": [cplx(x) for x in vt],
                "v_far_v": [cplx(x) for x in vf],
                "resonant_length_m": res,
                "resonant_length_ti_conductor_m": res_ti,
                "i_tip_at_resonance_a": imax,
            }
            if name in ("ins_both_bare", "ins_tip_sealed"):
                c["p_tip_w"] = [g7(0.5 * abs(x) ** 2 * ze_re) for x in it]
            if name == "ins_both_bare":
                c["p_far_w"] = [g7(0.5 * abs(x) ** 2 * ze_re) for x in ifar]
            if name == "bare":
                c["p_tip_w"] = [g7(0.5 * abs(x) ** 2 * ze_re) for x in it]
            # current along the lead for a few lengths
            c["profiles"] = []
            for L in (0.2, 0.3, 0.4):
                secs, zt, zf = config(name, f, L)
                r = solve(secs, zt, zf, samples_per_m=200)
                off = BARE_LEN if name in ("ins_both_bare", "ins_tip_sealed") else 0.0
                c["profiles"].append({"length_m": L, "l_m": [g7(x + off) for x in r["l_m"]],
                                      "i_a": [cplx(x) for x in r["I"]]})
            fr["configs"][name] = c
            summary_lines.append(f"{f/1e6:.0f} MHz {name:24s} resonant length {res*100:6.1f} cm "
                                 f"(Ti conductor {res_ti*100:6.1f} cm) |I_tip|max {imax*1e3:7.3f} mA per V/m")
        result["frequencies"].append(fr)
        summary_lines.append(f"{f/1e6:.0f} MHz k4 = {k4:.3f} /m (pi/Re k4 = {math.pi/k4.real*100:.1f} cm), "
                             f"insulated k_L = {-1j*gi:.3f} /m (pi/Re k_L = {math.pi/(-1j*gi).real*100:.1f} cm), "
                             f"Zc_ins = {zci:.1f} ohm, Zc_bare = {zcb:.1f} ohm, Z_rod(1 cm) = {z_rod(f, BARE_LEN, A):.1f}, "
                             f"Z_cap = {z_cap(f, A, b, T_INS, EPS_INS):.0f} ohm")
    # Known limits
    checks = {}
    for fr in result["frequencies"]:
        f = fr["freq_hz"]
        _, _, k4, _ = medium(f)
        kb = complex(*fr["bare"]["k_l_per_m"])
        checks[f"bare_k_equals_medium_k_{f/1e6:.0f}mhz"] = abs(kb - k4) / abs(k4)
        # open-ended bare wire in uniform field: |I(L/2)| peaks near argmax |tan(kL/2)/k|... the
        # resonant length of the tip current vs lambda_medium/2 (lossless) is recorded:
        checks[f"bare_resonance_over_half_wave_{f/1e6:.0f}mhz"] = \
            fr["configs"]["bare"]["resonant_length_m"] / fr["half_wave_medium_m"]
        # the open-circuit tip-gap response of a bare wire, |tan(kL/2)/k|^2, peaks at (analytic, 0.1 mm scan):
        ls = np.arange(0.02, 1.0, 1e-4)
        g = np.abs(np.tan(k4 * ls / 2) / k4)
        checks[f"bare_tan_peak_m_{f/1e6:.0f}mhz"] = float(ls[int(np.argmax(g))])
        checks[f"bare_resonance_over_tan_peak_{f/1e6:.0f}mhz"] = \
            fr["configs"]["bare"]["resonant_length_m"] / float(ls[int(np.argmax(g))])
    result["checks"] = checks
    with open(os.path.join(args.out, "lead_tl.json"), "w") as fh:
        json.dump(result, fh, separators=(",", ":"))
        fh.write("\n")
    summary = "\n".join(summary_lines)
    with open(os.path.join(args.out, "summary.txt"), "w") as fh:
        fh.write(summary + "\n")
        for k, v in checks.items():
            fh.write(f"{k}: {v:.4f}\n")
    print(summary)
    for k, v in checks.items():
        print(k, round(v, 4))


if __name__ == "__main__":
    main()
