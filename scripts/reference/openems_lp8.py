#!/usr/bin/python3
"""Independent openEMS reference of coils/ref_3t_lp8.toml loaded with phantoms/ref_gel_cylinder.toml.

The result the tests use is stored in tests/data/openems_lp8/ (reference.h5, summary.json, README.md);
this script is how it was made. It does not run in CI. It needs Debian's openEMS and its Python modules
(apt-get install openems python3-openems python3-h5py python3-numpy) and runs with /usr/bin/python3.

Model (millimetre drawing units, all lengths below in mm):
- rectilinear mesh of at most CELL mm (default 10) with mesh lines on every conductor and gap: the rung
  positions (x, y) = 120 (cos 45j, sin 45j) (rounded to 1 um), the ring planes z = +-125, the capacitor
  gap z = -5..5, the port gap z = 95..105 (and its mirror -105..-95), the phantom surfaces (x, y = +-75,
  z = +-100), the shield ends z = +-225 and the shield radius on the axes (x, y = +-170);
- 8 rungs: zero-thickness PEC lines along z from ring to ring, cut by a one-cell gap at z = -5..5 that holds
  the rung capacitor (lumped C, no metal caps); rungs 0 and 2 also have a one-cell (10 mm = two 5 mm
  edges) gap at z = 95..105 holding their 50 ohm lumped port (resistor + soft voltage source, no caps);
- 2 end rings: PEC curves (720-point circles of radius 120 at z = +-125) that openEMS turns into a
  connected staircase of mesh edges through the rung nodes;
- shield: PEC cylindrical shell from r = 170 to r = 280 (it fills the space up to the lateral walls, as
  rftwin does) over |z| <= 225; lateral walls of the box (x, y = +-190) PEC; PML_8 at both z ends of the
  box (|z| <= 365);
- phantom: gel cylinder r = 75, |z| <= 100, eps_r 80, 0.47 S/m.

usage:
  openems_lp8.py run --out DIR --cap-pf C --excite 1|2 [--cell-mm 10] [--dumps] [--detune RUNG:FRAC]
  openems_lp8.py assemble --runs DIR1 DIR2 --out tests/data/openems_lp8 [--extra NAME=DIR ...]
"""
import argparse
import json
import math
import os
import re
import subprocess
import sys
import time

import numpy as np

F0 = 127.7e6
Z0 = 50.0
R_RUNG = 120.0
RING_Z = 125.0
CAP_GAP = (-5.0, 5.0)
PORT_GAP = (95.0, 105.0)
PORT_RUNGS = (0, 2)
SHIELD_R = 170.0
SHIELD_HALF = 225.0
SHIELD_FILL_TO = 280.0
BOX_XY = 190.0
BOX_Z = 365.0
PH_R = 75.0
PH_HALF = 100.0
GEL_EPS = 80.0
GEL_SIGMA = 0.47
EXC_F0, EXC_FC = 130e6, 50e6          # Gaussian pulse covering ~80-180 MHz (-20 dB edges)
BAND = np.linspace(100e6, 160e6, 121)
FINE = np.linspace(80e6, 180e6, 2001)
# sample grid of the stored fields (mm)
SAMPLE_STEP = 5.0
SAMPLE_XY = 115.0
SAMPLE_Z = 140.0


def rung_xy(j):
    a = math.radians(45.0 * j)
    return (round(R_RUNG * math.cos(a), 3) + 0.0, round(R_RUNG * math.sin(a), 3) + 0.0)


def axis_lines(fixed, maxres):
    """Mesh lines through every fixed coordinate, each interval split evenly into cells <= maxres."""
    pts = sorted(set(round(v, 3) for v in fixed))
    lines = [pts[0]]
    for a, b in zip(pts[:-1], pts[1:]):
        n = max(1, math.ceil((b - a) / maxres - 1e-9))
        for i in range(1, n + 1):
            lines.append(round(a + (b - a) * i / n, 3))
    return np.array(lines)


def mesh(cell):
    xy_fixed = [0.0, PH_R, -PH_R, SHIELD_R, -SHIELD_R, BOX_XY, -BOX_XY]
    for j in range(8):
        x, y = rung_xy(j)
        xy_fixed += [x, y]
    z_fixed = [-BOX_Z, BOX_Z, -SHIELD_HALF, SHIELD_HALF, -RING_Z, RING_Z, CAP_GAP[0], CAP_GAP[1],
               -PH_HALF, PH_HALF, PORT_GAP[0], PORT_GAP[1], -PORT_GAP[0], -PORT_GAP[1]]
    # PML: 8 cells of exactly `cell` at each z end
    zl = axis_lines(z_fixed, cell)
    return axis_lines(xy_fixed, cell), axis_lines(xy_fixed, cell), zl


def build(args, sim_dir):
    from CSXCAD import ContinuousStructure
    cell = args.cell_mm
    xl, yl, zl = mesh(cell)
    csx = ContinuousStructure()
    g = csx.GetGrid()
    g.SetDeltaUnit(1e-3)
    g.AddLine('x', xl)
    g.AddLine('y', yl)
    g.AddLine('z', zl)

    gel = csx.AddMaterial('gel', epsilon=GEL_EPS, kappa=GEL_SIGMA)
    gel.AddCylinder([0, 0, -PH_HALF], [0, 0, PH_HALF], PH_R, priority=10)

    shield = csx.AddMetal('shield')
    shield.AddCylindricalShell([0, 0, -SHIELD_HALF], [0, 0, SHIELD_HALF],
                               0.5 * (SHIELD_R + SHIELD_FILL_TO), SHIELD_FILL_TO - SHIELD_R, priority=100)

    coil = csx.AddMetal('coil')
    for zr in (-RING_Z, RING_Z):
        a = np.linspace(0, 2 * np.pi, 721)
        coil.AddCurve([R_RUNG * np.cos(a), R_RUNG * np.sin(a), np.full_like(a, zr)], priority=100)
    caps = []
    detune = {}
    if args.detune:
        r, f = args.detune.split(':')
        detune[int(r)] = float(f)
    for j in range(8):
        x, y = rung_xy(j)
        cuts = [(-RING_Z, CAP_GAP[0])]
        if j in PORT_RUNGS:
            cuts += [(CAP_GAP[1], PORT_GAP[0]), (PORT_GAP[1], RING_Z)]
        else:
            cuts += [(CAP_GAP[1], RING_Z)]
        for z0, z1 in cuts:
            coil.AddBox([x, y, z0], [x, y, z1], priority=100)
        c = args.cap_pf * 1e-12 * (1.0 + detune.get(j, 0.0))
        caps.append(c)
        # R = -1: "no resistor" to openEMS 0.0.35 (an unset R is written as "nan", which its parser
        # reads as 0, and R = 0 turns the element into a PEC short)
        le = csx.AddLumpedElement('cap%d' % j, ny='z', caps=False, C=c, R=-1)
        le.AddBox([x, y, CAP_GAP[0]], [x, y, CAP_GAP[1]], priority=200)

    # lumped ports built as openEMS's LumpedPort does, but without its metal caps (which would add
    # one-cell PEC stubs in +x and +y at both ends of a zero-width port)
    for k, j in enumerate(PORT_RUNGS, start=1):
        x, y = rung_xy(j)
        start, stop = [x, y, PORT_GAP[0]], [x, y, PORT_GAP[1]]
        res = csx.AddLumpedElement('port_resist_%d' % k, ny='z', caps=False, R=Z0)
        res.AddBox(start, stop, priority=200)
        if args.excite == k:
            exc = csx.AddExcitation('port_excite_%d' % k, exc_type=0, exc_val=[0, 0, -1.0])
            exc.AddBox(start, stop, priority=200)
        u = csx.AddProbe('port_ut%d' % k, p_type=0, weight=-1)
        u.AddBox(start, stop)
        zm = 0.5 * (PORT_GAP[0] + PORT_GAP[1])
        i = csx.AddProbe('port_it%d' % k, p_type=1, weight=1, norm_dir=2)
        i.AddBox([x, y, zm], [x, y, zm])
    # the capacitor of rung 0: voltage and current (for the lumped-element check)
    x, y = rung_xy(0)
    csx.AddProbe('cap_ut0', p_type=0, weight=-1).AddBox([x, y, CAP_GAP[0]], [x, y, CAP_GAP[1]])
    csx.AddProbe('cap_it0', p_type=1, weight=1, norm_dir=2).AddBox([x, y, 0.0], [x, y, 0.0])

    if args.dumps:
        m = SAMPLE_STEP + 1.5 * cell
        lo = [-SAMPLE_XY - m, -SAMPLE_XY - m, -SAMPLE_Z - m]
        hi = [SAMPLE_XY + m, SAMPLE_XY + m, SAMPLE_Z + m]
        # E without interpolation (each component at its own Yee edge: exact across the gel
        # surface, where node interpolation would mix the normal E of gel and air); H interpolated by
        # openEMS to the mesh nodes (mu is uniform, so that is exact to second order)
        for name, t, mode in (('Ef', 10, 0), ('Hf', 11, 1)):
            d = csx.AddDump(name, dump_type=t, dump_mode=mode, file_type=1, frequency=[F0])
            d.AddBox(lo, hi)

    csx.Write2XML(os.path.join(sim_dir, 'geom.csx'))
    body = open(os.path.join(sim_dir, 'geom.csx')).read().split('?>', 1)[1]
    fdtd = ('<FDTD NumberOfTimesteps="%d" endCriteria="%g" f_max="%g">\n'
            '  <Excitation Type="0" f0="%g" fc="%g"/>\n'
            '  <BoundaryCond xmin="PEC" xmax="PEC" ymin="PEC" ymax="PEC" zmin="PML_8" zmax="PML_8"/>\n'
            '</FDTD>\n') % (args.max_steps, args.end_criteria, EXC_F0 + EXC_FC, EXC_F0, EXC_FC)
    xml = os.path.join(sim_dir, 'model.xml')
    open(xml, 'w').write('<?xml version="1.0" encoding="UTF-8" standalone="yes" ?>\n<openEMS>\n'
                         + fdtd + body + '</openEMS>\n')
    return xml, (xl, yl, zl), caps


def read_probe(path):
    d = np.loadtxt(path, comments='%')
    return d[:, 0], d[:, 1]


def dft(t, v, freqs):
    """openEMS's DFT_time2freq (pulse): 2 dt sum v(t) exp(-j 2 pi f t), i.e. phasors of exp(+j w t)."""
    dt = t[1] - t[0]
    out = np.empty(len(freqs), complex)
    for n, f in enumerate(freqs):
        out[n] = 2 * dt * np.sum(v * np.exp(-2j * np.pi * f * t))
    return out


def yee_positions(lines):
    """Primary node and dual (half-cell) coordinates of one axis (dual: midpoints, last = last node)."""
    mid = 0.5 * (lines[1:] + lines[:-1])
    return lines, np.append(mid, lines[-1])


def read_fd_dump(path):
    import h5py
    with h5py.File(path, 'r') as h:
        mesh = [np.array(h['Mesh'][a]) for a in ('x', 'y', 'z')]
        fd = h['FieldData']['FD']
        keys = sorted(fd.keys())
        re_ = np.array(fd['f0_real'])
        im_ = np.array(fd['f0_imag'])
        attrs = {k: fd['f0_real'].attrs[k] for k in fd['f0_real'].attrs}
    return mesh, re_ + 1j * im_, keys, attrs


def interp_axis(src, dst):
    """Linear interpolation weights from sample positions src (sorted) to dst: (i0, w) with
    value = (1 - w) v[i0] + w v[i0 + 1]."""
    i0 = np.clip(np.searchsorted(src, dst) - 1, 0, len(src) - 2)
    w = (dst - src[i0]) / (src[i0 + 1] - src[i0])
    if np.any(w < -1e-9) or np.any(w > 1 + 1e-9):
        raise SystemExit('sample grid outside the dump')
    return i0, w


def trilinear(v, pos, dst, src_in=None, dst_in=None):
    """v[ix, iy, iz] sampled at pos = (px, py, pz); returns values on the grid dst = (gx, gy, gz).
    With src_in (bool, shape of v) and dst_in (bool, shape of the grid): a sample takes only the
    source values of its own medium (inside/outside the phantom), weights renormalised; where
    none of its 8 neighbours is in its medium, it takes all 8. This keeps the normal E, which
    jumps by eps_r = 80 at the gel surface, from leaking across it."""
    idx = []
    for ax in range(3):
        i0, w = interp_axis(pos[ax], dst[ax])
        idx.append((i0, w))
    (ix, wx), (iy, wy), (iz, wz) = idx
    num = np.zeros((len(wx), len(wy), len(wz)), complex)
    den = np.zeros(num.shape)
    num_all = np.zeros(num.shape, complex)
    for a in (0, 1):
        for b in (0, 1):
            for c in (0, 1):
                w = ((wx if a else 1 - wx)[:, None, None] * (wy if b else 1 - wy)[None, :, None]
                     * (wz if c else 1 - wz)[None, None, :])
                sel = np.ix_(ix + a, iy + b, iz + c)
                val = v[sel]
                num_all += w * val
                if src_in is not None:
                    same = (src_in[sel] == dst_in)
                    num += w * same * val
                    den += w * same
    if src_in is None:
        return num_all
    ok = den > 1e-6
    out = num_all.copy()
    out[ok] = num[ok] / den[ok]
    return out


def in_phantom(x, y, z):
    """Inside the gel cylinder (mm coordinates, broadcast)."""
    return (np.hypot(x, y) <= PH_R) & (np.abs(z) <= PH_HALF)


def fields_on_grid(sim_dir, mesh_mm):
    """E and H phasors at F0 from the no-interpolation dumps: each component interpolated
    (trilinear) from its own Yee position to the regular sample grid. Returns grid (m), E, H
    arrays [3][nx][ny][nz] (V/m, A/m, raw openEMS DFT scale)."""
    g = np.arange(-SAMPLE_XY, SAMPLE_XY + 1e-9, SAMPLE_STEP)
    gz = np.arange(-SAMPLE_Z, SAMPLE_Z + 1e-9, SAMPLE_STEP)
    dst = (g, g, gz)
    dst_in = in_phantom(*np.meshgrid(g, g, gz, indexing='ij'))
    out = {}
    for name in ('Ef', 'Hf'):
        mesh, v, keys, attrs = read_fd_dump(os.path.join(sim_dir, name + '.h5'))
        # openEMS writes the dump mesh in metres (DeltaUnit applied) or drawing units; normalise to mm
        scale = 1e3 if np.max(np.abs(mesh[0])) < 5 else 1.0
        mesh = [m * scale for m in mesh]
        # v: openEMS h5 layout is [comp][z][y][x] or [x][y][z][comp]; find it from the shape
        n = [len(m) for m in mesh]
        if v.shape == (3, n[2], n[1], n[0]):
            v = np.transpose(v, (0, 3, 2, 1))
        elif v.shape == (n[0], n[1], n[2], 3):
            v = np.transpose(v, (3, 0, 1, 2))
        else:
            raise SystemExit('unexpected dump shape %s for mesh %s' % (v.shape, n))
        comps = []
        for c in range(3):
            pos = []
            for ax in range(3):
                prim, dual = yee_positions(mesh[ax])
                if name == 'Ef':   # E_c (no interpolation): dual along c, primary across
                    pos.append(dual if ax == c else prim)
                else:              # H (node-interpolated): all components at the mesh nodes
                    pos.append(prim)
            if name == 'Ef':
                src_in = in_phantom(*np.meshgrid(*pos, indexing='ij'))
                comps.append(trilinear(v[c], pos, dst, src_in, dst_in))
                if c == 0:
                    out['p_gel_yee'] = 0.0
                # power in the gel from the Yee edges themselves: 0.5 sigma |E|^2 over the dual
                # volume of each edge whose midpoint lies in the gel (m^3)
                dl = []
                for ax in range(3):
                    prim = mesh[ax]
                    if ax == c:   # edge length
                        d = np.append(np.diff(prim), 0.0)
                    else:         # dual width at a node
                        mid = 0.5 * (prim[1:] + prim[:-1])
                        d = np.zeros(len(prim))
                        d[1:-1] = mid[1:] - mid[:-1]
                    dl.append(d * 1e-3)
                vol = dl[0][:, None, None] * dl[1][None, :, None] * dl[2][None, None, :]
                out['p_gel_yee'] += float(0.5 * GEL_SIGMA * np.sum((np.abs(v[c]) ** 2 * vol)[src_in]))
            else:
                comps.append(trilinear(v[c], pos, dst))
        out[name] = np.array(comps)
        out[name + '_raw'] = (mesh, v)
    return dst, out


def run(args):
    os.makedirs(args.out, exist_ok=True)
    xml, lines, caps = build(args, args.out)
    n = [len(l) for l in lines]
    info = {'cell_mm': args.cell_mm, 'cap_pf': args.cap_pf, 'caps_f': caps, 'excite': args.excite,
            'mesh_lines': n, 'cells': (n[0] - 1) * (n[1] - 1) * (n[2] - 1),
            'min_cell_mm': [float(np.min(np.diff(l))) for l in lines],
            'max_cell_mm': [float(np.max(np.diff(l))) for l in lines],
            'detune': args.detune, 'end_criteria': args.end_criteria}
    np.savez(os.path.join(args.out, 'mesh.npz'), x=lines[0], y=lines[1], z=lines[2])
    print(json.dumps(info), flush=True)
    if args.setup_only:
        return
    t0 = time.time()
    cmd = ['openEMS', 'model.xml', '--engine=multithreaded', '--numThreads=%d' % args.threads]
    if args.debug_pec:
        cmd.append('--debug-PEC')
    with open(os.path.join(args.out, 'openems.log'), 'w') as log:
        rc = subprocess.call(cmd, cwd=args.out, stdout=log, stderr=subprocess.STDOUT)
    info['wall_s'] = time.time() - t0
    info['rc'] = rc
    logtxt = open(os.path.join(args.out, 'openems.log')).read()
    m = re.search(r'version (\S+)', logtxt)
    info['openems_version'] = m.group(1) if m else 'unknown'
    m = re.findall(r'Time for (\d+) iterations with ([0-9.e+]+) cells', logtxt)
    if m:
        info['timesteps'] = int(m[-1][0])
    m = re.search(r'FDTD timestep is: *([0-9.e+-]+)', logtxt)
    if m:
        info['dt_s'] = float(m.group(1))
    post(args.out, info)


def post(sim_dir, info):
    res = {}
    for k in (1, 2):
        tu, u = read_probe(os.path.join(sim_dir, 'port_ut%d' % k))
        ti, i = read_probe(os.path.join(sim_dir, 'port_it%d' % k))
        for tag, fr in (('band', BAND), ('fine', FINE), ('f0', np.array([F0]))):
            res['V%d_%s' % (k, tag)] = dft(tu, u, fr)
            res['I%d_%s' % (k, tag)] = dft(ti, i, fr)
        info['t_end_s'] = float(tu[-1])
    tu, u = read_probe(os.path.join(sim_dir, 'cap_ut0'))
    ti, i = read_probe(os.path.join(sim_dir, 'cap_it0'))
    res['Vcap0_f0'] = dft(tu, u, [F0])
    res['Icap0_f0'] = dft(ti, i, [F0])
    # resonance of the homogeneous mode from the excited port's input impedance: the lowest
    # frequency in 80-180 MHz where Im Zin crosses zero upwards (series resonance of the rung
    # loop), refined by linear interpolation; also the peak of |I| at the excited port
    k = info['excite']
    zin = res['V%d_fine' % k] / res['I%d_fine' % k]
    s = np.imag(zin)
    cross = np.where((s[:-1] < 0) & (s[1:] >= 0))[0]
    fr = []
    for c in cross:
        fr.append(float(FINE[c] - s[c] * (FINE[c + 1] - FINE[c]) / (s[c + 1] - s[c])))
    info['zin_zero_crossings_hz'] = fr
    yin = 1 / zin
    info['f_peak_re_yin_hz'] = float(FINE[np.argmax(np.real(yin))])
    np.savez(os.path.join(sim_dir, 'ports.npz'), **res)
    if os.path.exists(os.path.join(sim_dir, 'Ef.h5')):
        dst, fl = fields_on_grid(sim_dir, None)
        np.savez_compressed(os.path.join(sim_dir, 'fields.npz'), gx=dst[0], gy=dst[1], gz=dst[2],
                            E=fl['Ef'], H=fl['Hf'])
        info['p_gel_yee_raw'] = fl['p_gel_yee']
        # check of the field DFT scale against the port voltage: -integral of E_z over the port gap
        mesh, v = fl['Ef_raw']
        xk, yk = rung_xy(PORT_RUNGS[k - 1])
        ix = int(np.argmin(np.abs(mesh[0] - xk)))
        iy = int(np.argmin(np.abs(mesh[1] - yk)))
        zs = mesh[2]
        vint = 0
        for iz in range(len(zs) - 1):
            if zs[iz] >= PORT_GAP[0] - 1e-3 and zs[iz + 1] <= PORT_GAP[1] + 1e-3:
                vint += v[2, ix, iy, iz] * (zs[iz + 1] - zs[iz]) * 1e-3
        info['port_gap_v_from_dump'] = [float(np.real(-vint)), float(np.imag(-vint))]
        vp = res['V%d_f0' % k][0]
        info['port_gap_v_from_probe'] = [float(vp.real), float(vp.imag)]
    json.dump(info, open(os.path.join(sim_dir, 'info.json'), 'w'), indent=1)
    print(json.dumps(info, indent=1), flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest='cmd', required=True)
    r = sub.add_parser('run')
    r.add_argument('--out', required=True)
    r.add_argument('--cap-pf', type=float, required=True)
    r.add_argument('--excite', type=int, choices=(1, 2), default=1)
    r.add_argument('--cell-mm', type=float, default=10.0)
    r.add_argument('--dumps', action='store_true')
    r.add_argument('--detune', default=None, help='RUNG:FRAC, e.g. 3:0.05 for +5 %% on rung 3')
    r.add_argument('--threads', type=int, default=1)
    r.add_argument('--end-criteria', type=float, default=1e-6)
    r.add_argument('--max-steps', type=int, default=400000)
    r.add_argument('--setup-only', action='store_true')
    r.add_argument('--debug-pec', action='store_true')
    p = sub.add_parser('post')
    p.add_argument('dir')
    a = sub.add_parser('assemble')
    a.add_argument('--runs', nargs=2, required=True)
    a.add_argument('--out', required=True)
    a.add_argument('--extra', nargs='*', default=[])
    a.add_argument('--bits', type=int, default=10, help='mantissa bits kept in the stored fields')
    a.add_argument('--no-e', action='store_true', help='store H only (B1 maps), not E')
    a.add_argument('--note', default=None, help='a sentence stored as the root attribute "case"')
    a.add_argument('--name', default='reference', help='file stem: NAME.h5 and NAME_summary.json (reference: summary.json)')
    c = sub.add_parser('compare', help='discretisation check: a run pair against the reference pair')
    c.add_argument('--ref', nargs=2, required=True)
    c.add_argument('--test', nargs=2, required=True)
    c.add_argument('--out', default=None)
    args = ap.parse_args()
    if args.cmd == 'compare':
        compare(args)
        return
    if args.cmd == 'run':
        run(args)
    elif args.cmd == 'post':
        post(args.dir, json.load(open(os.path.join(args.dir, 'info.json'))))
    else:
        assemble(args)


MU0 = 4e-7 * np.pi


def round_mantissa(a, bits):
    """Rounds float32 values to `bits` mantissa bits (relative error <= 2^-(bits+1)) so that gzip
    compresses them; the stored values stay ordinary float32."""
    a = np.ascontiguousarray(a, dtype=np.float32)
    drop = 23 - bits
    u = a.view(np.uint32).astype(np.uint64)
    u = ((u + (1 << (drop - 1))) >> drop) << drop
    return u.astype(np.uint32).view(np.float32)


def c64(a, bits):
    a = np.asarray(a)
    out = np.empty(a.shape, np.complex64)
    out.real = round_mantissa(a.real, bits)
    out.imag = round_mantissa(a.imag, bits)
    return out


def load_run(d):
    info = json.load(open(os.path.join(d, 'info.json')))
    ports = dict(np.load(os.path.join(d, 'ports.npz')))
    fields = dict(np.load(os.path.join(d, 'fields.npz'))) if os.path.exists(os.path.join(d, 'fields.npz')) else None
    return info, ports, fields


def z_matrix(pa, pb, tag):
    """Z = V I^-1 from two runs (columns: run a, run b) at the frequencies of `tag`."""
    V = np.stack([np.stack([pa['V1_' + tag], pb['V1_' + tag]], -1), np.stack([pa['V2_' + tag], pb['V2_' + tag]], -1)], -2)
    I = np.stack([np.stack([pa['I1_' + tag], pb['I1_' + tag]], -1), np.stack([pa['I2_' + tag], pb['I2_' + tag]], -1)], -2)
    return V @ np.linalg.inv(I)


def s_from_z(Z):
    E = np.eye(2)
    return (Z - Z0 * E) @ np.linalg.inv(Z + Z0 * E)


def run_summary(info, ports, fields, gz):
    """Port V/I at F0 normalised to a 1 V peak source EMF behind 50 ohm at the excited port, powers,
    B1 at the centre."""
    k = info['excite']
    V = np.array([ports['V1_f0'][0], ports['V2_f0'][0]])
    I = np.array([ports['I1_f0'][0], ports['I2_f0'][0]])
    emf = V[k - 1] + Z0 * I[k - 1]           # = 2 x incident voltage wave
    Vn, In = V / emf, I / emf
    p_acc = 0.5 * np.real(Vn[k - 1] * np.conj(In[k - 1]))
    o = 2 - k
    p_term = 0.5 * Z0 * abs(In[o]) ** 2
    out = {'excite': k, 'emf_raw': [emf.real, emf.imag], 'V': Vn, 'I': In, 'p_accepted_w': float(p_acc),
           'p_avail_w': 1.0 / (8 * Z0), 'p_term_other_port_w': float(p_term),
           'v_over_i_other_port_ohm': complex(V[o] / I[o]),
           'zcap0_ohm': complex(ports['Vcap0_f0'][0] / ports['Icap0_f0'][0])}
    if fields is not None:
        gx, gy = fields['gx'], fields['gy']
        E, H = fields['E'] / emf, fields['H'] / emf
        ic = (int(np.argmin(np.abs(gx))), int(np.argmin(np.abs(gy))), int(np.argmin(np.abs(gz))))
        B = MU0 * H[(slice(None),) + ic]
        b1p = 0.5 * (B[0] + 1j * B[1])
        b1m = np.conj(0.5 * (B[0] - 1j * B[1]))
        X, Y, Zg = np.meshgrid(gx, gy, gz, indexing='ij')
        inside = (np.hypot(X, Y) <= PH_R) & (np.abs(Zg) <= PH_HALF)
        dv = (SAMPLE_STEP * 1e-3) ** 3
        p_gel = 0.5 * GEL_SIGMA * np.sum(np.sum(np.abs(E) ** 2, 0)[inside]) * dv
        out.update({'E': E, 'H': H, 'inside': inside, 'b1p_centre_t': complex(b1p), 'b1m_centre_t': complex(b1m),
                    'p_gel_approx_w': float(p_gel),
                    'p_gel_yee_w': float(info.get('p_gel_yee_raw', float('nan')) / abs(emf) ** 2)})
    return out


def drive_maps(dirs):
    """Per run (normalised to its 1 V EMF) B1+ and B1- on the sample grid, the quadrature drive
    (port 1 + w port 2 with w = -i or +i, whichever gives the larger |B1+| at the centre), the
    port data and the phantom mask."""
    runs = [load_run(d) for d in dirs]
    gz = runs[0][2]['gz']
    sm = [run_summary(i, p, f, gz) for i, p, f in runs]
    b = []
    for r in sm:
        B = MU0 * r['H']
        b.append((0.5 * (B[0] + 1j * B[1]), np.conj(0.5 * (B[0] - 1j * B[1]))))
    gx = runs[0][2]['gx']
    ic = (int(np.argmin(np.abs(gx))), int(np.argmin(np.abs(gx))), int(np.argmin(np.abs(gz))))
    best = None
    for w in (-1j, 1j):
        bp = b[0][0] + w * b[1][0]
        if best is None or abs(bp[ic]) > abs(best[1][ic]):
            best = (w, bp, np.conj(np.conj(b[0][1]) + w * np.conj(b[1][1])))
    return runs, sm, b, best, ic


def nrmse_inside(a, ref, mask):
    """RMS of |a|/|a(centre)| - |ref|/|ref(centre)| over the mask, relative to the RMS of the latter."""
    return float(np.sqrt(np.mean((a[mask] - ref[mask]) ** 2) / np.mean(ref[mask] ** 2)))


def compare(args):
    ra, sa, ba, qa, ic = drive_maps(args.ref)
    rt, st, bt, qt, _ = drive_maps(args.test)
    mask = sa[0]['inside']
    out = {'ref_cell_mm': ra[0][0]['cell_mm'], 'test_cell_mm': rt[0][0]['cell_mm']}
    for name, r, s in (('ref', ra, sa), ('test', rt, st)):
        zc = r[0][0].get('zin_zero_crossings_hz') or [float('nan')]
        z = z_matrix(r[0][1], r[1][1], 'f0')[0]
        out[name] = {'resonance_hz': zc[0], 'Z11_ohm': [z[0, 0].real, z[0, 0].imag],
                     'Z12_ohm': [z[0, 1].real, z[0, 1].imag],
                     'p_accepted_w': s[0]['p_accepted_w'],
                     'abs_b1p_centre_ut_per_sqrt_w_port1': abs(s[0]['b1p_centre_t']) / math.sqrt(s[0]['p_accepted_w']) * 1e6,
                     'b1m_over_b1p_centre_port1': abs(s[0]['b1m_centre_t']) / abs(s[0]['b1p_centre_t'])}
    for k in (0, 1):
        ref = np.abs(ba[k][0]) / abs(ba[k][0][ic])
        tst = np.abs(bt[k][0]) / abs(bt[k][0][ic])
        out['nrmse_b1p_port%d' % (k + 1)] = nrmse_inside(tst, ref, mask)
    ref = np.abs(qa[1]) / abs(qa[1][ic])
    tst = np.abs(qt[1]) / abs(qt[1][ic])
    out['nrmse_b1p_quadrature'] = nrmse_inside(tst, ref, mask)
    out['quadrature_weight_port2'] = str(qa[0])
    # |B1+| per sqrt(W) at the centre for the quadrature drive (accepted power of both ports)
    for name, r, s, q in (('ref', ra, sa, qa), ('test', rt, st, qt)):
        w = q[0]
        V = s[0]['V'] + w * s[1]['V']
        I = s[0]['I'] + w * s[1]['I']
        p = 0.5 * float(np.real(np.sum(V * np.conj(I)) - 0 * 1j))
        # accepted power of the 2-port with both sources: sum over ports of Re(V I*)/2
        out[name]['abs_b1p_centre_ut_per_sqrt_w_quadrature'] = abs(q[1][ic]) / math.sqrt(p) * 1e6
        out[name]['b1m_over_b1p_centre_quadrature'] = abs(q[2][ic]) / abs(q[1][ic])
    e_ref = np.sqrt(np.sum(np.abs(sa[0]['E']) ** 2, 0))
    e_tst = np.sqrt(np.sum(np.abs(st[0]['E']) ** 2, 0))
    out['nrmse_abs_e_port1_inside_per_1v'] = nrmse_inside(e_tst, e_ref, mask) if False else float(
        np.sqrt(np.mean((e_tst[mask] - e_ref[mask]) ** 2) / np.mean(e_ref[mask] ** 2)))
    print(json.dumps(out, indent=1))
    if args.out:
        json.dump(out, open(args.out, 'w'), indent=1)


def assemble(args):
    import h5py
    ia, pa, fa = load_run(args.runs[0])
    ib, pb, fb = load_run(args.runs[1])
    # homogeneous-mode resonance (port gaps shorted): lowest upward zero of Im Zin at each port
    for i in (ia, ib):
        zc = i.get('zin_zero_crossings_hz') or [float('nan')]
        i['resonance_hz'] = zc[0]
    assert ia['excite'] == 1 and ib['excite'] == 2, 'runs: first the port-1 run, then the port-2 run'
    assert ia['caps_f'] == ib['caps_f'] and ia['cell_mm'] == ib['cell_mm'], 'the two runs differ'
    zb = z_matrix(pa, pb, 'band')
    z0 = z_matrix(pa, pb, 'f0')[0]
    sb = s_from_z(zb)
    s0 = s_from_z(z0)
    gx, gy, gz = fa['gx'], fa['gy'], fa['gz']
    ra = run_summary(ia, pa, fa, gz)
    rb = run_summary(ib, pb, fb, gz)
    os.makedirs(args.out, exist_ok=True)
    path = os.path.join(args.out, args.name + '.h5')
    bits = args.bits
    gzip = dict(compression='gzip', compression_opts=9, shuffle=True)
    mesh = np.load(os.path.join(args.runs[0], 'mesh.npz'))
    with h5py.File(path, 'w') as h:
        a = h.attrs
        a['description'] = ('openEMS reference of coils/ref_3t_lp8.toml with phantoms/ref_gel_cylinder.toml '
                            '(scripts/reference/openems_lp8.py); see README.md')
        a['freq_hz'] = F0
        if args.note:
            a['case'] = args.note
        a['capacitance_f'] = ia['caps_f'][0]
        a['capacitances_f'] = np.array(ia['caps_f'])
        a['port_impedance_ohm'] = Z0
        a['rungs'] = 8
        a['rung_radius_m'] = R_RUNG * 1e-3
        a['rung_length_m'] = 2 * RING_Z * 1e-3
        a['rung_angle_offset_deg'] = 0.0
        a['shield_radius_m'] = SHIELD_R * 1e-3
        a['shield_length_m'] = 2 * SHIELD_HALF * 1e-3
        a['phantom_radius_m'] = PH_R * 1e-3
        a['phantom_length_m'] = 2 * PH_HALF * 1e-3
        a['phantom_eps_r'] = GEL_EPS
        a['phantom_sigma_s_per_m'] = GEL_SIGMA
        a['port_rungs'] = np.array(PORT_RUNGS)
        a['port_z_m'] = 0.5e-3 * (PORT_GAP[0] + PORT_GAP[1])
        a['port_gap_m'] = np.array(PORT_GAP) * 1e-3
        a['capacitor_gap_m'] = np.array(CAP_GAP) * 1e-3
        a['openems_version'] = ia.get('openems_version', 'unknown')
        a['time_convention'] = ('exp(+i w t): a field is Re{X exp(+i w t)} with X the complex peak phasor '
                                '(openEMS DFT: 2 dt sum x(t) exp(-i w t))')
        a['b1_convention'] = 'B = mu0 H; B1+ = (Bx + i By)/2; B1- = conj((Bx - i By)/2)'
        a['normalisation'] = ('per run: a 1 V peak source EMF (Thevenin, 50 ohm) at the excited port, the other '
                              'port terminated in 50 ohm; V = V_top - V_bottom of the port gap, I = current '
                              'along +z through the gap (so V/I of a passive element is minus its impedance and '
                              'accepted power = Re(V I*)/2 at the excited port)')
        a['units'] = 'SI: m, Hz, V, A, ohm, W, V/m, A/m, T, F'
        a['mesh'] = ('rectilinear, cells <= %g mm, %d x %d x %d lines, min cells %s mm; lines on rungs, rings, '
                     'gaps, phantom surfaces, shield ends; PEC lateral walls at +-0.19 m, PML_8 at z = +-0.365 m'
                     % (ia['cell_mm'], *ia['mesh_lines'], ', '.join('%.3g' % c for c in ia['min_cell_mm'])))
        a['cell_mm'] = ia['cell_mm']
        a['timestep_s'] = ia.get('dt_s', float('nan'))
        a['end_criteria'] = ia['end_criteria']
        a['resonance_hz'] = ia['resonance_hz']
        a['resonance_port2_hz'] = ib['resonance_hz']
        a['resonance_definition'] = ('lowest frequency in 80-180 MHz where Im Zin of the excited port crosses '
                                     'zero upwards (the homogeneous mode with that port gap shorted; the other '
                                     'port terminated in 50 ohm)')
        a['field_storage'] = ('complex64, real and imaginary parts rounded to %d mantissa bits (relative '
                              'rounding <= %.1e), gzip' % (bits, 2.0 ** -(bits + 1)))
        m = h.create_group('mesh_m')
        for ax in 'xyz':
            m.create_dataset(ax, data=mesh[ax] * 1e-3)
        g = h.create_group('grid')
        g.create_dataset('x_m', data=gx * 1e-3)
        g.create_dataset('y_m', data=gy * 1e-3)
        g.create_dataset('z_m', data=gz * 1e-3)
        g.attrs['origin_m'] = np.array([gx[0], gy[0], gz[0]]) * 1e-3
        g.attrs['spacing_m'] = np.array([SAMPLE_STEP] * 3) * 1e-3
        g.attrs['shape'] = np.array([len(gx), len(gy), len(gz)])
        g.attrs['layout'] = 'E and H: [component x,y,z][ix][iy][iz]; phantom_mask: [ix][iy][iz]'
        g.attrs['interpolation'] = ('E: each component trilinear from its own Yee edge (no openEMS '
                                    'interpolation); H: trilinear from openEMS node-interpolated values')
        g.create_dataset('phantom_mask', data=ra['inside'].astype(np.uint8), **gzip)
        b = h.create_group('band')
        b.create_dataset('freq_hz', data=BAND)
        b.create_dataset('Z_ohm', data=zb)
        b.create_dataset('S', data=sb)
        l = h.create_group('larmor')
        l.create_dataset('Z_ohm', data=z0)
        l.create_dataset('S', data=s0)
        for name, r, info, ports in (('port1', ra, ia, pa), ('port2', rb, ib, pb)):
            q = h.create_group(name)
            q.attrs['excited_port'] = r['excite']
            q.attrs['p_accepted_w'] = r['p_accepted_w']
            q.attrs['p_available_w'] = r['p_avail_w']
            q.attrs['p_terminated_port_w'] = r['p_term_other_port_w']
            q.attrs['p_gel_approx_w'] = r['p_gel_approx_w']
            q.attrs['p_gel_yee_w'] = r['p_gel_yee_w']
            q.attrs['wall_s'] = info.get('wall_s', float('nan'))
            q.attrs['timesteps'] = info.get('timesteps', -1)
            q.create_dataset('V_v', data=r['V'])
            q.create_dataset('I_a', data=r['I'])
            if not args.no_e:
                q.create_dataset('E_v_per_m', data=c64(r['E'], bits), **gzip)
            q.create_dataset('H_a_per_m', data=c64(r['H'], bits), **gzip)
            q.create_dataset('band_V_v', data=np.stack([ports['V1_band'], ports['V2_band']]) / (r['emf_raw'][0] + 1j * r['emf_raw'][1]))
            q.create_dataset('band_I_a', data=np.stack([ports['I1_band'], ports['I2_band']]) / (r['emf_raw'][0] + 1j * r['emf_raw'][1]))
    summ = {
        'freq_hz': F0, 'capacitance_f': ia['caps_f'][0], 'cell_mm': ia['cell_mm'],
        'resonance_hz': ia['resonance_hz'], 'resonance_port2_hz': ib['resonance_hz'],
        'caps_f': ia['caps_f'],
        'Z_larmor_ohm': [[[complex(z0[i, j]).real, complex(z0[i, j]).imag] for j in range(2)] for i in range(2)],
        'S_larmor_db': [[float(20 * np.log10(abs(s0[i, j]))) for j in range(2)] for i in range(2)],
        'reciprocity_rel': float(abs(z0[0, 1] - z0[1, 0]) / abs(z0[0, 1] + z0[1, 0]) * 2),
        'openems_version': ia.get('openems_version'),
        'runs': {},
    }
    for name, r, info in (('port1', ra, ia), ('port2', rb, ib)):
        summ['runs'][name] = {
            'p_accepted_w_per_1v_emf': r['p_accepted_w'], 'p_terminated_port_w': r['p_term_other_port_w'],
            'p_gel_approx_w': r['p_gel_approx_w'], 'p_gel_yee_w': r['p_gel_yee_w'],
            'b1p_centre_t_per_1v_emf': [r['b1p_centre_t'].real, r['b1p_centre_t'].imag],
            'b1m_centre_t_per_1v_emf': [r['b1m_centre_t'].real, r['b1m_centre_t'].imag],
            'abs_b1p_centre_ut_per_sqrt_w': abs(r['b1p_centre_t']) / math.sqrt(r['p_accepted_w']) * 1e6,
            'b1m_over_b1p_centre': abs(r['b1m_centre_t']) / abs(r['b1p_centre_t']),
            'v_over_i_terminated_port_ohm': [r['v_over_i_other_port_ohm'].real, r['v_over_i_other_port_ohm'].imag],
            'zcap0_ohm': [r['zcap0_ohm'].real, r['zcap0_ohm'].imag],
            'wall_s': info.get('wall_s'), 'timesteps': info.get('timesteps'),
            'zin_zero_crossings_hz': info.get('zin_zero_crossings_hz'),
            'port_gap_v_dump_vs_probe': [info.get('port_gap_v_from_dump'), info.get('port_gap_v_from_probe')],
        }
    _, sm, _, q, ic = drive_maps(args.runs)
    w = q[0]
    V = sm[0]['V'] + w * sm[1]['V']
    I = sm[0]['I'] + w * sm[1]['I']
    p = 0.5 * float(np.real(np.sum(V * np.conj(I))))
    summ['quadrature'] = {
        'weights': 'port 1: 1, port 2: %s (phase %+.0f deg), each a 1 V EMF' % (w, np.degrees(np.angle(w))),
        'p_accepted_w': p,
        'b1p_centre_t': [complex(q[1][ic]).real, complex(q[1][ic]).imag],
        'abs_b1p_centre_ut_per_sqrt_w': float(abs(q[1][ic]) / math.sqrt(p) * 1e6),
        'b1m_over_b1p_centre': float(abs(q[2][ic]) / abs(q[1][ic])),
    }
    for e in args.extra:
        name, d = e.split('=', 1)
        summ['extra_' + name] = json.load(open(os.path.join(d, 'info.json')))
    sname = 'summary.json' if args.name == 'reference' else args.name + '_summary.json'
    json.dump(summ, open(os.path.join(args.out, sname), 'w'), indent=1)
    print(json.dumps(summ, indent=1))
    print('wrote', path, os.path.getsize(path), 'bytes')


if __name__ == '__main__':
    main()
