#!/usr/bin/env python3
"""Moment-method (Hallen) reference for a bare straight wire in the ASTM gel under a uniform
tangential field: the check of the transmission-line model's bare wire (lead_tl.py), issue 18.

A thin straight wire of radius a and length L = 2h in a homogeneous lossy medium (complex wavenumber
k, Im k < 0, exp(jwt)), incident E_z = E0 uniform along it. Hallen's equation with the reduced
kernel (current on the axis, field on the surface):

    int_{-h}^{h} I(z') e^{-jkR} / (4 pi R) dz' = C cos(kz) - j E0 / (w mu),   R = sqrt((z - z')^2 + a^2)

(the particular solution of (d^2/dz^2 + k^2) A = -j w eps E0 with A = int I G; the sin term drops by
symmetry). Unknowns: N pulse currents and C; match points: the N pulse centres and the wire's end
(the current vanishing there as the kernel's equation demands; the end-face current of a thin wire
is neglected, as in the TL's "bare" configuration whose end discs are nearly open). The 1/R part of
each pulse integral is analytic (asinh), the rest by 8-point Gauss. Converged when doubling N
moves the current 1 cm from the end by < 0.5 % (checked at every 10th length; the stored values
use 0.5 mm pulses).

Output: tests/data/lead_tl/bare_mom.json: the current 1 cm from the tip (A per V/m) against length
beside the TL's value for the same wire.
"""
import json
import math
import os
import sys

import numpy as np

EPS0 = 8.8541878128e-12
MU0 = 1.25663706212e-6
GEL = {"eps_r": 80.0, "sigma_s_per_m": 0.47}
A = 0.5e-3
ELECTRODE = 0.01


def k_medium(freq):
    w = 2 * math.pi * freq
    eps = EPS0 * GEL["eps_r"] - 1j * GEL["sigma_s_per_m"] / w
    k = w * np.sqrt(MU0 * eps)
    if k.imag > 0:
        k = -k
    return w, k


def hallen(freq, L, n, a=A, e0=1.0):
    w, k = k_medium(freq)
    h = 0.5 * L
    edges = np.linspace(-h, h, n + 1)
    zc = 0.5 * (edges[:-1] + edges[1:])
    zm = np.concatenate([zc, [h]])
    gx, gw = np.polynomial.legendre.leggauss(8)
    dz = edges[1] - edges[0]
    # quadrature points of every pulse
    zq = (zc[:, None] + 0.5 * dz * gx[None, :])  # (n, 8)
    wq = 0.5 * dz * gw[None, :]
    M = np.zeros((n + 1, n + 1), dtype=complex)
    for i, z in enumerate(zm):
        R = np.sqrt((z - zq) ** 2 + a * a)
        smooth = ((np.exp(-1j * k * R) - 1.0) / R * wq).sum(axis=1)
        sing = np.arcsinh((edges[1:] - z) / a) - np.arcsinh((edges[:-1] - z) / a)
        M[i, :n] = (smooth + sing) / (4 * math.pi)
        M[i, n] = -np.cos(k * z)
    rhs = np.full(n + 1, -1j * e0 / (w * MU0), dtype=complex)
    x = np.linalg.solve(M, rhs)
    return zc, x[:n]


def current_1cm(freq, L, n):
    zc, i = hallen(freq, L, n)
    s = zc + 0.5 * L  # arc from the tip
    return np.interp(ELECTRODE, s, i.real) + 1j * np.interp(ELECTRODE, s, i.imag)


def main():
    root = os.path.join(os.path.dirname(__file__), "..", "..")
    tl = json.load(open(os.path.join(root, "tests/data/lead_tl/lead_tl.json")))
    lengths = tl["lengths_m"]
    out = {"description": __doc__.strip().splitlines()[0], "conductor_radius_m": A, "medium": GEL,
           "e_tan_v_per_m": 1.0, "frequencies": []}
    for fr in tl["frequencies"]:
        f = fr["freq_hz"]
        tl_i = [complex(*v) for v in fr["configs"]["bare"]["i_tip_a"]]
        rows = []
        for li, L in enumerate(lengths):
            if li % 2:
                continue
            n = int(round(L / 0.5e-3))
            n += n % 2
            # 0.5 mm pulses; every 10th length also with 0.25 mm pulses (the convergence check).
            i2 = current_1cm(f, L, n)
            i1 = current_1cm(f, L, 2 * n) if li % 20 == 0 else None
            conv = abs(i1 / i2 - 1) if i1 is not None else None
            rows.append({"length_m": L, "i_1cm_a": [i2.real, i2.imag], "convergence": conv,
                         "tl_i_1cm_a": [tl_i[li].real, tl_i[li].imag], "tl_over_mom": abs(tl_i[li]) / abs(i2)})
            print(f"{f/1e6:.0f} MHz L={L:.3f} m |I_MoM|={abs(i2):.4e} |I_TL|={abs(tl_i[li]):.4e} "
                  f"TL/MoM={abs(tl_i[li])/abs(i2):.3f} conv={conv}", flush=True)
        out["frequencies"].append({"freq_hz": f, "rows": rows})
        if "--write" in sys.argv:
            with open(os.path.join(root, "tests/data/lead_tl/bare_mom.json"), "w") as fh:
                json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
