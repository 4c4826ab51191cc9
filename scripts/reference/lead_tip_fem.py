#!/usr/bin/python3
"""Resolved-geometry reference for the near field of a lead's end (issue 18, item 2b): an axisymmetric
quasi-static finite-element solve (scikit-fem) of a bare tip electrode and of a sealed (insulated) end in
the ASTM gel, with the conductor and its insulation resolved by many elements.

Problem (cylindrical r, z; the lead on the axis, its end at z = 0, the lead running to z = -Z1):
  div( kappa grad phi ) = 0,  kappa = sigma + j w eps0 eps_r   (complex conductivity, e^{+jwt}, peak phasors)
  gel: sigma 0.47 S/m, eps_r 80; insulation (PTFE): sigma 0, eps_r 2.1, 0.25 mm thick;
  conductor (radius a = 0.5 mm): perfect, held at phi = V = 1 V (Dirichlet on every conductor node);
  phi = 0 on the outer boundary r = R, z = +Z2 (far gel); zero normal current on the axis and on z = -Z1.
  tip   : the conductor is bare for its last h = 1 cm (side and end face), insulated behind;
  sealed: insulated to the end, and the end face covered by a flat cap of the same insulation
          (r < b, 0 < z < t).
Outputs (per frequency, 64 and 128 MHz):
  tip: the electrode current I_e (current through the bare surface) and Z_e = V / I_e (compared with the
       slender-rod formula of scripts/reference/lead_tl.py); SAR = sigma |E|^2 / (2 rho), rho = 1000 kg/m^3,
       per |I_e|^2: the mean SAR of the gel within 2 mm of the electrode ("sar_2mm"), the SAR on the axis
       1 mm beyond the end, and the 1 g average: the mean SAR of the gel in a cube of 1 g of gel (side
       10.05 mm, faces parallel to the lead, centre on the axis, the largest over the centre's z);
  sealed: the same quantities per |V|^2 (the conductor potential), with "within 2 mm" measured from the
       conductor's last 1 cm (the same conductor surface as the tip electrode), the current through the
       cap and through the side wall of the last 1 cm;
  ratios: sealed-end over tip SAR (1 g, 2 mm) at the same conductor potential, at the same current in the
       conductor 1 cm from the end, and for the TL lead with a 1 cm bare tip and a sealed far end
       (tests/data/lead_tl: the ends' potentials), with the uniform incident field (1 V/m along the lead)
       added coherently to the near field.
Convergence: the mesh is refined three times (grading kept, every spacing halved); every level is stored.

usage: PYTHONPATH=<dir with scikit-fem> /usr/bin/python3 -s scripts/reference/lead_tip_fem.py
       [--out tests/data/lead_tip] [--tl tests/data/lead_tl/lead_tl.json] [--levels 3]
(scikit-fem 12 from PyPI, e.g. pip install --no-deps --target DIR scikit-fem; Debian's numpy/scipy)
"""
import argparse
import json
import math
import os
import time

import numpy as np
import scipy.sparse.linalg as spla
from skfem import Basis, BilinearForm, ElementQuad2, MeshQuad, asm

EPS0 = 8.8541878128e-12
SIGMA, EPS_GEL, RHO = 0.47, 80.0, 1000.0
A, T, EPS_INS = 0.5e-3, 0.25e-3, 2.1
B = A + T
H_E = 0.01  # electrode length
R_OUT, Z1, Z2 = 0.2, 0.2, 0.2
FREQS = [64e6, 128e6]


def graded(x0, x1, h0, growth, hmax):
    """Nodes from x0 to x1 (x1 > x0) starting with spacing h0, growing geometrically up to hmax."""
    xs = [x0]
    h = h0
    while xs[-1] + h < x1 - 0.5 * h:
        xs.append(xs[-1] + h)
        h = min(h * growth, hmax)
    xs.append(x1)
    return np.array(xs)


def sym_graded(x0, x1, h0, growth, hmax):
    """Nodes from x0 to x1 refined towards both ends."""
    mid = 0.5 * (x0 + x1)
    left = graded(x0, mid, h0, growth, hmax)
    right = x1 - graded(x0, mid, h0, growth, hmax)[::-1] + x0
    return np.unique(np.concatenate([left, right]))


def mesh_lines(level):
    s = 0.5 ** level
    h0 = 0.02e-3 * s
    g = 1.0 + 0.25 * s
    hm = 0.25e-3 * s
    # r: 0..a (refined at a), a..b (both ends), b..R (refined at b, growing)
    r = np.concatenate([
        a_to(0.0, A, h0, g, hm),
        sym_graded(A, B, h0, g, hm)[1:],
        graded(B, R_OUT, h0, g, 20e-3)[1:],
    ])
    # z: -Z1 .. -H_E (refined at -H_E), -H_E..0 (both), 0..T (both), T..Z2
    z = np.concatenate([
        -graded(H_E, Z1, h0, g, 20e-3)[::-1],
        sym_graded(-H_E, 0.0, h0, g, hm)[1:],
        sym_graded(0.0, T, h0, g, hm)[1:],
        graded(T, Z2, h0, g, 20e-3)[1:],
    ])
    return np.unique(r), np.unique(z)


def a_to(x0, x1, h0, g, hm):
    """0..a refined towards a only."""
    return x1 - graded(0.0, x1 - x0, h0, g, hm)[::-1]


def solve_case(kind, freq, level):
    w = 2 * math.pi * freq
    kg = SIGMA + 1j * w * EPS0 * EPS_GEL
    ki = 1j * w * EPS0 * EPS_INS
    r, z = mesh_lines(level)
    m = MeshQuad.init_tensor(r, z)
    c = m.p[:, m.t].mean(axis=1)  # element centres (2, nel)
    rc, zc = c
    cond = (rc < A) & (zc < 0)
    if kind == "tip":
        ins = (rc > A) & (rc < B) & (zc < -H_E)
    else:
        ins = ((rc > A) & (rc < B) & (zc < 0)) | ((rc < B) & (zc > 0) & (zc < T))
    gel = ~cond & ~ins
    e = ElementQuad2()

    @BilinearForm
    def lap(u, v, wp):
        return (u.grad[0] * v.grad[0] + u.grad[1] * v.grad[1]) * wp.x[0]

    full = Basis(m, e, intorder=4)
    mats = {}
    for name, sel in (("gel", gel), ("ins", ins), ("cond", cond)):
        b = Basis(m, e, elements=np.nonzero(sel)[0], intorder=4)
        mats[name] = asm(lap, b)
    K = (kg * mats["gel"] + ki * mats["ins"] + mats["cond"]).tocsr()
    X = full.doflocs
    tol = 1e-12
    on_cond = (X[0] <= A + tol) & (X[1] <= tol)
    outer = (X[0] >= R_OUT - tol) | (X[1] >= Z2 - tol)
    D = np.nonzero(on_cond | outer)[0]
    phi = np.zeros(full.N, dtype=complex)
    phi[on_cond] = 1.0
    I_ = np.setdiff1d(np.arange(full.N), D)
    rhs = -K[I_][:, D] @ phi[D]
    phi[I_] = spla.spsolve(K[I_][:, I_].tocsc(), rhs)
    resid = 2 * math.pi * (K @ phi)  # current leaving the conductor at each Dirichlet dof (A)
    last = on_cond & (X[1] >= -H_E - tol)
    end_face = on_cond & (X[1] >= -tol)
    i_last = resid[last].sum()
    i_end_face = resid[end_face].sum()
    i_total = resid[on_cond].sum()
    # gel fields at quadrature points
    gb = Basis(m, e, elements=np.nonzero(gel)[0], intorder=6)
    gr = gb.interpolate(phi.real).grad
    gi = gb.interpolate(phi.imag).grad
    e2 = gr[0] ** 2 + gr[1] ** 2 + gi[0] ** 2 + gi[1] ** 2
    sar = SIGMA * e2 / (2 * RHO)
    xq = gb.global_coordinates().value  # (2, nel, nqp)
    rq, zq = xq[0], xq[1]
    dv = 2 * math.pi * rq * gb.dx  # volume weights
    # distance to the conductor's last H_E (side r = a, -H_E <= z <= 0; end face z = 0, r <= a)
    zc_ = np.clip(zq, -H_E, 0.0)
    d_side = np.hypot(np.maximum(rq - A, 0.0), zq - zc_)
    d_face = np.where(rq <= A, np.abs(zq), np.hypot(rq - A, zq))
    dist = np.minimum(d_side, d_face)
    near = dist <= 2e-3
    sar_2mm = float((sar * dv)[near].sum() / dv[near].sum())
    # 1 g cube of gel, centre on the axis at z0, side s (faces parallel to the lead)
    s = cube_side()
    lr = ring_in_square(rq, s)
    best = (0.0, 0.0)
    for z0 in np.arange(-H_E - 6e-3, 6e-3 + 1e-9, 0.1e-3):
        inz = np.abs(zq - z0) <= 0.5 * s
        wgt = lr * gb.dx * inz
        v = (sar * wgt).sum() / wgt.sum()
        if v > best[0]:
            best = (float(v), float(z0))
    # SAR on the axis 1 mm beyond the end (tip) or the cap (sealed: 1 mm beyond the cap's face)
    z_probe = 1e-3 + (T if kind == "sealed" else 0.0)
    sar_axis = float(point_sar(m, e, phi, 1e-6, z_probe))
    # field sums for the coherent incident-field combination: store the 1 g cube integrals of
    # |E_s|^2, E_s,z (complex), for the best cube of the scattered field alone
    inz = np.abs(zq - best[1]) <= 0.5 * s
    wgt = lr * gb.dx * inz
    ez = -(gr[1] + 1j * gi[1])  # E_z = -d phi / dz
    mean_e2 = float((e2 * wgt).sum() / wgt.sum())
    mean_ez = complex((ez * wgt).sum() / wgt.sum())
    return {
        "level": level,
        "elements": int(m.t.shape[1]),
        "dofs": int(full.N),
        "i_last_1cm_a": [i_last.real, i_last.imag],
        "i_end_face_a": [i_end_face.real, i_end_face.imag],
        "i_total_a": [i_total.real, i_total.imag],
        "sar_2mm_w_per_kg": sar_2mm,
        "sar_1g_w_per_kg": best[0],
        "sar_1g_cube_centre_z_m": best[1],
        "sar_axis_1mm_w_per_kg": sar_axis,
        "cube_mean_e2": mean_e2,
        "cube_mean_ez": [mean_ez.real, mean_ez.imag],
    }


def point_sar(m, e, phi, r0, z0):
    b = Basis(m, e)
    # gradient by central differences of the interpolant
    h = 1e-6
    pts = np.array([[r0, r0], [z0 - h, z0 + h]])
    pr = b.probes(pts)
    v = pr @ phi
    ez = -(v[1] - v[0]) / (2 * h)
    pts = np.array([[r0 + h, r0 + 2 * h], [z0, z0]])
    v2 = b.probes(pts) @ phi
    er = -(v2[1] - v2[0]) / h
    return SIGMA * (abs(ez) ** 2 + abs(er) ** 2) / (2 * RHO)


def cube_side():
    """Side of a cube holding 1 g of gel around a lead that runs through it (lead volume pi b^2 s)."""
    s = 0.01
    for _ in range(20):
        s = (1e-6 + math.pi * B * B * s) ** (1 / 3)
    return s


def ring_in_square(r, s):
    """Length of the circle of radius r (centred) inside a square of side s."""
    h = 0.5 * s
    out = 2 * math.pi * r
    mid = (r > h) & (r <= h * math.sqrt(2))
    with np.errstate(invalid="ignore"):
        cut = 8 * r * np.arccos(np.clip(h / np.where(r > 0, r, 1), -1, 1))
    out = np.where(mid, out - cut, out)
    out = np.where(r > h * math.sqrt(2), 0.0, out)
    return out


def c_(x):
    return complex(x[0], x[1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="tests/data/lead_tip")
    ap.add_argument("--tl", default="tests/data/lead_tl/lead_tl.json")
    ap.add_argument("--levels", type=int, default=3)
    ap.add_argument("--domain-m", type=float, default=0.2,
                    help="outer radius and half length of the gel domain (sensitivity check)")
    args = ap.parse_args()
    global R_OUT, Z1, Z2
    R_OUT = Z1 = Z2 = args.domain_m
    os.makedirs(args.out, exist_ok=True)
    tl = json.load(open(args.tl))
    result = {
        "description": "axisymmetric quasi-static FEM (scikit-fem, quadratic quads) of a lead's end in ASTM gel: "
                       "1 cm bare tip electrode vs sealed (insulated, capped) end; made by "
                       "scripts/reference/lead_tip_fem.py",
        "conductor_radius_m": A, "insulation_thickness_m": T, "insulation_eps_r": EPS_INS,
        "electrode_length_m": H_E, "gel": {"sigma_s_per_m": SIGMA, "eps_r": EPS_GEL, "density_kg_per_m3": RHO},
        "domain_m": {"r_max": R_OUT, "z_min": -Z1, "z_max": Z2},
        "cube_side_m": cube_side(),
        "frequencies": [],
    }
    for f in FREQS:
        fr = {"freq_hz": f, "levels": []}
        for lev in range(args.levels):
            t0 = time.time()
            tip = solve_case("tip", f, lev)
            sealed = solve_case("sealed", f, lev)
            ie = c_(tip["i_last_1cm_a"])
            fr["levels"].append({"tip": tip, "sealed": sealed, "seconds": time.time() - t0})
            print(f"{f/1e6:.0f} MHz level {lev}: {tip['dofs']} dofs, Z_e = {1/ie:.2f} ohm, "
                  f"tip 1 g {tip['sar_1g_w_per_kg']/abs(ie)**2:.4g} W/kg/A^2, "
                  f"2 mm {tip['sar_2mm_w_per_kg']/abs(ie)**2:.4g}, sealed 1 g {sealed['sar_1g_w_per_kg']:.4g} W/kg/V^2, "
                  f"({time.time()-t0:.1f} s)", flush=True)
        fine = fr["levels"][-1]
        tip, sealed = fine["tip"], fine["sealed"]
        ie = c_(tip["i_last_1cm_a"])
        i_s = c_(sealed["i_last_1cm_a"])
        conv = {}
        for key in ("sar_1g_w_per_kg", "sar_2mm_w_per_kg"):
            vals_t = [lv["tip"][key] / abs(c_(lv["tip"]["i_last_1cm_a"])) ** 2 for lv in fr["levels"]]
            vals_s = [lv["sealed"][key] for lv in fr["levels"]]
            conv[key] = {"tip_per_a2": vals_t, "sealed_per_v2": vals_s,
                         "tip_change_last_refinement": abs(vals_t[-1] / vals_t[-2] - 1) if len(vals_t) > 1 else None,
                         "sealed_change_last_refinement": abs(vals_s[-1] / vals_s[-2] - 1) if len(vals_s) > 1 else None}
        conv["z_e_ohm"] = [[(1 / c_(lv["tip"]["i_last_1cm_a"])).real, (1 / c_(lv["tip"]["i_last_1cm_a"])).imag]
                           for lv in fr["levels"]]
        fr["convergence"] = conv
        ze = 1 / ie
        fr["tip"] = {
            "z_e_ohm": [ze.real, ze.imag],
            "sar_1g_w_per_kg_per_a2": tip["sar_1g_w_per_kg"] / abs(ie) ** 2,
            "sar_2mm_w_per_kg_per_a2": tip["sar_2mm_w_per_kg"] / abs(ie) ** 2,
            "sar_axis_1mm_w_per_kg_per_a2": tip["sar_axis_1mm_w_per_kg"] / abs(ie) ** 2,
            "sar_1g_w_per_kg_per_v2": tip["sar_1g_w_per_kg"],
        }
        fr["sealed"] = {
            "i_last_1cm_a_per_v": [i_s.real, i_s.imag],
            "i_cap_a_per_v": sealed["i_end_face_a"],
            "sar_1g_w_per_kg_per_v2": sealed["sar_1g_w_per_kg"],
            "sar_2mm_w_per_kg_per_v2": sealed["sar_2mm_w_per_kg"],
            "sar_axis_1mm_beyond_cap_w_per_kg_per_v2": sealed["sar_axis_1mm_w_per_kg"],
        }
        fr["ratios"] = {
            "sealed_over_tip_sar_1g_same_potential": sealed["sar_1g_w_per_kg"] / tip["sar_1g_w_per_kg"],
            "sealed_over_tip_sar_2mm_same_potential": sealed["sar_2mm_w_per_kg"] / tip["sar_2mm_w_per_kg"],
            "sealed_over_tip_sar_1g_same_current_1cm_from_end":
                (sealed["sar_1g_w_per_kg"] / abs(i_s) ** 2) / (tip["sar_1g_w_per_kg"] / abs(ie) ** 2),
        }
        # the TL lead with a 1 cm bare tip and a sealed far end: 1 g SAR at each end per (V/m)^2,
        # near field scaled by the end's potential, incident field (1 V/m along the lead) added coherently
        tlf = next(x for x in tl["frequencies"] if abs(x["freq_hz"] - f) < 1)
        cfg = tlf["configs"]["ins_tip_sealed"]
        rows = []
        inc = SIGMA * 1.0 / (2 * RHO)
        for j, L in enumerate(tl["lengths_m"]):
            vt, vf = c_(cfg["v_tip_v"][j]), c_(cfg["v_far_v"][j])
            # at the tip the lead runs towards -z of the FEM frame: E_inc,z = -1; at the far end +1
            s_tip = near_plus_incident(tip, vt, -1.0)
            s_far = near_plus_incident(sealed, vf, +1.0)
            rows.append({"length_m": L, "tip_sar_1g_w_per_kg": s_tip, "far_sar_1g_w_per_kg": s_far,
                         "ratio": s_far / s_tip,
                         "tip_sar_1g_near_only": tip["sar_1g_w_per_kg"] * abs(vt) ** 2,
                         "far_sar_1g_near_only": sealed["sar_1g_w_per_kg"] * abs(vf) ** 2})
        fr["tl_lead_tip_sealed"] = rows
        fr["incident_sar_w_per_kg"] = inc
        # same for the demo lead (both ends bare) and tip SAR vs length
        cfg2 = tlf["configs"]["ins_both_bare"]
        fr["tl_lead_both_bare"] = [
            {"length_m": L, "tip_sar_1g_w_per_kg": near_plus_incident(tip, c_(cfg2["v_tip_v"][j]), -1.0)}
            for j, L in enumerate(tl["lengths_m"])]
        result["frequencies"].append(fr)
        print(json.dumps({"tip": fr["tip"], "sealed": fr["sealed"], "ratios": fr["ratios"]}, indent=1))
    with open(os.path.join(args.out, "lead_tip.json"), "w") as fh:
        json.dump(result, fh, indent=1)
        fh.write("\n")


def near_plus_incident(case, v, ez_inc):
    """1 g SAR (W/kg) in the best cube of the near field scaled to potential v, with a uniform incident
    E_z = ez_inc (1 V/m) added coherently: mean |v E_s + E_inc|^2 = |v|^2 <|E_s|^2> + 2 Re(v <E_s,z> conj(E_inc)) + |E_inc|^2."""
    e2 = case["cube_mean_e2"]
    ez = c_(case["cube_mean_ez"])
    tot = abs(v) ** 2 * e2 + 2 * (v * ez * ez_inc).real + ez_inc ** 2
    return SIGMA * tot / (2 * RHO)


if __name__ == "__main__":
    main()
