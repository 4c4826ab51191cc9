//! Building the finite-volume model: checks, conductances, boundary and perfusion sinks, probes.

use super::*;

/// Every boundary condition must carry finite values (and h >= 0).
pub(super) fn check_boundaries(source_name: &str, boundaries: &Boundaries) -> Result<()> {
    for b in boundaries.faces.iter().chain(std::iter::once(&boundaries.background)) {
        match b {
            Boundary::Insulating => {}
            Boundary::FixedTemperature { temperature_c } if temperature_c.is_finite() => {}
            Boundary::Convective {
                h_w_per_m2_k,
                ambient_c,
            } if *h_w_per_m2_k >= 0.0 && h_w_per_m2_k.is_finite() && ambient_c.is_finite() => {}
            other => {
                return Err(Error::input(
                    source_name,
                    "boundaries",
                    format!("{other:?} has a negative or non-finite value"),
                    "give finite temperatures and a heat transfer coefficient >= 0",
                ))
            }
        }
    }
    Ok(())
}

/// Material voxels (density > 0) after checking every voxel's properties
/// (`[density, heat capacity, conductivity, perfusion, metabolic heat]`, standard layout).
pub(super) fn active_voxels(source_name: &str, dims: [usize; 3], props: [&[f32]; 5]) -> Result<Vec<bool>> {
    let [nx, ny, nz] = dims;
    let n = nx * ny * nz;
    let [rho, cap, kk, perf, qm] = props;
    let mut active = vec![false; n];
    for idx in 0..n {
        let r = rho[idx];
        if !(r >= 0.0) || !r.is_finite() {
            let (i, j, k) = (idx / (ny * nz), idx / nz % ny, idx % nz);
            return Err(Error::input(
                source_name,
                &format!("density_kg_per_m3[{i}, {j}, {k}]"),
                format!("density {r} is negative or not finite"),
                "give a density > 0 for materials and 0 for air",
            ));
        }
        if r > 0.0 {
            let (c, k, w, q) = (cap[idx], kk[idx], perf[idx], qm[idx]);
            if !(c > 0.0 && c.is_finite() && k > 0.0 && k.is_finite() && w >= 0.0 && w.is_finite() && q.is_finite())
            {
                let (i, j, kq) = (idx / (ny * nz), idx / nz % ny, idx % nz);
                return Err(Error::input(
                    source_name,
                    &format!("thermal properties at voxel [{i}, {j}, {kq}]"),
                    format!("missing or invalid thermal properties (heat capacity {c}, conductivity {k}, perfusion {w}, metabolic heat {q})"),
                    "give every material voxel a positive heat capacity and conductivity, perfusion >= 0 and finite metabolic heat",
                ));
            }
            active[idx] = true;
        }
    }
    Ok(active)
}

/// Conductance (W/K) of a boundary face of a voxel of conductivity `k` and size `d` along the face
/// normal, and the matching source term (conductance times the boundary temperature).
pub(super) fn boundary_conductance(b: &Boundary, k: f64, d: f64, area: f64) -> (f64, f64) {
    let half = 0.5 * d / k;
    match *b {
        Boundary::Insulating => (0.0, 0.0),
        Boundary::FixedTemperature { temperature_c } => {
            let gg = area / half;
            (gg, gg * temperature_c)
        }
        Boundary::Convective {
            h_w_per_m2_k,
            ambient_c,
        } => {
            if h_w_per_m2_k == 0.0 {
                (0.0, 0.0)
            } else {
                let gg = area / (half + 1.0 / h_w_per_m2_k);
                (gg, gg * ambient_c)
            }
        }
    }
}

/// Each probe's trace with its final and peak rise and CEM43 dose (minutes).
pub(super) fn probe_traces(probes: &[Probe], traces: Vec<Vec<f64>>, tau: f64) -> Vec<ProbeTrace> {
    probes
               .iter()
               .zip(traces)
               .map(|(p, tr)| {
                   let t_start = tr[0];
                   let peak_rise = tr.iter().fold(f64::NEG_INFINITY, |m, v| m.max(v - t_start));
                   let cem = tr
                       .windows(2)
                       .map(|w| tau / 60.0 * cem43_rate(0.5 * (w[0] + w[1])))
                       .sum();
                   ProbeTrace {
                       name: p.name.clone(),
                       final_rise_k: tr[tr.len() - 1] - t_start,
                       peak_rise_k: peak_rise,
                       cem43_min: cem,
                       temperature_c: tr,
                   }
               })
               .collect()
}

impl ThermalModel {
    /// Builds the model from per-voxel properties. `source_name` names the input in errors.
    pub fn new(source_name: &str, props: &ThermalProperties, grid: VoxelGrid, boundaries: Boundaries) -> Result<Self> {
        let dims: [usize; 3] = props.density_kg_per_m3.dim().into();
        for (key, a) in [
            ("density_kg_per_m3", &props.density_kg_per_m3),
            ("heat_capacity_j_per_kg_k", &props.heat_capacity_j_per_kg_k),
            ("conductivity_w_per_m_k", &props.conductivity_w_per_m_k),
            ("perfusion_per_s", &props.perfusion_per_s),
            ("metabolic_heat_w_per_m3", &props.metabolic_heat_w_per_m3),
        ] {
            check_shape(source_name, key, a.shape(), dims)?;
        }
        check_boundaries(source_name, &boundaries)?;
        // The model's per-voxel arrays and the run's state and work buffers: ~120 B per voxel.
        crate::resources::check_bytes(
            source_name,
            "grid",
            &format!("a Pennes model of {} x {} x {} voxels", dims[0], dims[1], dims[2]),
            crate::resources::bytes_of(crate::resources::cells(dims), 120),
            |_| "use a coarser grid or a smaller field box".into(),
        )?;
        let [nx, ny, nz] = dims;
        let n = nx * ny * nz;
        let v = grid.voxel_volume_m3();
        let d = grid.voxel_size_m;
        let area = [d[1] * d[2], d[0] * d[2], d[0] * d[1]];
        let rho = props.density_kg_per_m3.as_standard_layout();
        let cap = props.heat_capacity_j_per_kg_k.as_standard_layout();
        let kk = props.conductivity_w_per_m_k.as_standard_layout();
        let perf = props.perfusion_per_s.as_standard_layout();
        let qm = props.metabolic_heat_w_per_m3.as_standard_layout();
        let (rho, cap, kk, perf, qm) = (
            rho.as_slice().unwrap(),
            cap.as_slice().unwrap(),
            kk.as_slice().unwrap(),
            perf.as_slice().unwrap(),
            qm.as_slice().unwrap(),
        );
        let active = active_voxels(source_name, dims, [rho, cap, kk, perf, qm])?;
        let blood = Blood::default();
        let mut capacity = vec![0.0f64; n];
        let mut inv_capacity = vec![0.0f32; n];
        let mut g = [vec![0.0f32; n], vec![0.0f32; n], vec![0.0f32; n]];
        let mut b_bnd = vec![0.0f32; n];
        let mut r_bnd = vec![0.0f64; n];
        let mut b_perf = vec![0.0f32; n];
        let mut q_met = vec![0.0f64; n];
        let strides = [ny * nz, nz, 1];
        let bnd_g = |b: &Boundary, k: f64, a: usize| boundary_conductance(b, k, d[a], area[a]);
        for idx in 0..n {
            if !active[idx] {
                continue;
            }
            let pos = [idx / (ny * nz), idx / nz % ny, idx % nz];
            let c = rho[idx] as f64 * cap[idx] as f64 * v;
            capacity[idx] = c;
            inv_capacity[idx] = (1.0 / c) as f32;
            let k = kk[idx] as f64;
            let mut bb = 0.0;
            let mut rb = 0.0;
            for a in 0..3 {
                for side in 0..2 {
                    let at_edge = if side == 0 { pos[a] == 0 } else { pos[a] + 1 == dims[a] };
                    let nb = if at_edge {
                        None
                    } else if side == 0 {
                        Some(idx - strides[a])
                    } else {
                        Some(idx + strides[a])
                    };
                    match nb {
                        Some(m) if active[m] => {
                            if side == 1 {
                                let k2 = kk[m] as f64;
                                g[a][idx] = (area[a] / (0.5 * d[a] / k + 0.5 * d[a] / k2)) as f32;
                            }
                        }
                        Some(_) => {
                            let (gg, rr) = bnd_g(&boundaries.background, k, a);
                            bb += gg;
                            rb += rr;
                        }
                        None => {
                            let (gg, rr) = bnd_g(&boundaries.faces[2 * a + side], k, a);
                            bb += gg;
                            rb += rr;
                        }
                    }
                }
            }
            b_bnd[idx] = bb as f32;
            r_bnd[idx] = rb;
            b_perf[idx] = (blood.density_kg_per_m3 * blood.heat_capacity_j_per_kg_k * perf[idx] as f64 * v) as f32;
            q_met[idx] = qm[idx] as f64 * v;
        }
        let mut m = Self {
            source_name: source_name.into(),
            dims,
            grid,
            capacity,
            inv_capacity,
            g,
            b_bnd,
            r_bnd,
            b_perf,
            b_sum: Vec::new(),
            sink_bnd: Vec::new(),
            sink_perf: Vec::new(),
            q_met,
            blood,
            active,
        };
        m.update_sinks();
        Ok(m)
    }

    pub(super) fn update_sinks(&mut self) {
        self.b_sum = self
            .b_bnd
            .iter()
            .zip(&self.b_perf)
            .map(|(a, b)| (*a as f64 + *b as f64) as f32)
            .collect();
        self.sink_bnd = self
            .b_bnd
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0.0)
            .map(|(i, b)| (i, *b as f64))
            .collect();
        self.sink_perf = self
            .b_perf
            .iter()
            .enumerate()
            .filter(|(_, b)| **b != 0.0)
            .map(|(i, b)| (i, *b as f64))
            .collect();
    }

    /// Builds the model from material labels and a table (see [`ThermalProperties::from_labels`]).
    pub fn from_labels(
        source_name: &str,
        labels: &Array3<u8>,
        table: &[Option<ThermalMaterial>],
        grid: VoxelGrid,
        boundaries: Boundaries,
    ) -> Result<Self> {
        let props = ThermalProperties::from_labels(source_name, labels, table)?;
        Self::new(source_name, &props, grid, boundaries)
    }

    /// Replaces the blood properties (default [`Blood::default`]).
    pub fn with_blood(mut self, blood: Blood) -> Self {
        let scale = (blood.density_kg_per_m3 * blood.heat_capacity_j_per_kg_k)
            / (self.blood.density_kg_per_m3 * self.blood.heat_capacity_j_per_kg_k);
        for b in self.b_perf.iter_mut() {
            *b = (*b as f64 * scale) as f32;
        }
        self.blood = blood;
        self.update_sinks();
        self
    }

    /// Grid shape.
    pub fn dims(&self) -> [usize; 3] {
        self.dims
    }
    /// Voxel geometry.
    pub fn grid(&self) -> &VoxelGrid {
        &self.grid
    }
    /// Whether voxel `idx` holds a thermal material.
    pub fn is_material(&self, idx: [usize; 3]) -> bool {
        self.active[self.lin(idx)]
    }
    /// Largest decay rate of the discrete operator (1/s), a Gershgorin bound.
    pub fn lambda_max_per_s(&self) -> f64 {
        let n = self.capacity.len();
        let [_, ny, nz] = self.dims;
        let strides = [ny * nz, nz, 1];
        (0..n)
            .into_par_iter()
            .map(|idx| {
                if !self.active[idx] {
                    return 0.0;
                }
                let mut sg = 0.0f64;
                for a in 0..3 {
                    sg += self.g[a][idx] as f64;
                    if idx >= strides[a] {
                        sg += self.g[a][idx - strides[a]] as f64;
                    }
                }
                (2.0 * sg + self.b_bnd[idx] as f64 + self.b_perf[idx] as f64) / self.capacity[idx]
            })
            .reduce(|| 0.0, f64::max)
    }

    pub(super) fn lin(&self, idx: [usize; 3]) -> usize {
        (idx[0] * self.dims[1] + idx[1]) * self.dims[2] + idx[2]
    }

    pub(super) fn resolve_probe(&self, p: &Probe) -> Result<ProbeStencil> {
        let d = self.grid.voxel_size_m;
        let o = self.grid.origin_m;
        let key = format!("probes.{}", p.name);
        let inside = |x: [f64; 3]| (0..3).all(|a| x[a] >= o[a] && x[a] <= o[a] + d[a] * self.dims[a] as f64);
        let outside_err = |x: [f64; 3]| {
            Error::input(
                &self.source_name,
                &key,
                format!(
                    "position {x:?} m is outside the grid ({:?} to {:?} m)",
                    o,
                    std::array::from_fn::<f64, 3, _>(|a| o[a] + d[a] * self.dims[a] as f64)
                ),
                "place the probe inside the thermal grid",
            )
        };
        let in_air = || {
            Error::input(
                &self.source_name,
                &key,
                "the probe touches no material voxel (it is in air/background)",
                "place the probe in the gel, tissue or implant",
            )
        };
        match &p.kind {
            ProbeKind::Point { position_m } => {
                if !position_m.iter().all(|v| v.is_finite()) || !inside(*position_m) {
                    return Err(outside_err(*position_m));
                }
                // trilinear between voxel centres, clamped at the grid edges
                let mut base = [0usize; 3];
                let mut frac = [0.0f64; 3];
                for a in 0..3 {
                    let u = ((position_m[a] - o[a]) / d[a] - 0.5).clamp(0.0, (self.dims[a] - 1) as f64);
                    base[a] = (u.floor() as usize).min(self.dims[a].saturating_sub(2));
                    frac[a] = if self.dims[a] == 1 { 0.0 } else { u - base[a] as f64 };
                }
                let mut taps = Vec::new();
                for c in 0..8usize {
                    let off = [(c >> 2) & 1, (c >> 1) & 1, c & 1];
                    let mut w = 1.0;
                    let mut idx = [0usize; 3];
                    for a in 0..3 {
                        w *= if off[a] == 1 { frac[a] } else { 1.0 - frac[a] };
                        idx[a] = (base[a] + off[a]).min(self.dims[a] - 1);
                    }
                    let l = self.lin(idx);
                    if w > 0.0 && self.active[l] {
                        taps.push((l, w));
                    }
                }
                let sw: f64 = taps.iter().map(|t| t.1).sum();
                if taps.is_empty() || !(sw > 0.0) {
                    return Err(in_air());
                }
                taps.iter_mut().for_each(|t| t.1 /= sw);
                Ok(ProbeStencil { taps })
            }
            ProbeKind::Sphere { centre_m, radius_m } => {
                if !centre_m.iter().all(|v| v.is_finite()) || !inside(*centre_m) {
                    return Err(outside_err(*centre_m));
                }
                if !(*radius_m >= 0.0) || !radius_m.is_finite() {
                    return Err(Error::input(
                        &self.source_name,
                        &key,
                        format!("radius {radius_m} m is negative or not finite"),
                        "give a probe radius >= 0 m",
                    ));
                }
                let mut taps = Vec::new();
                let lo: [usize; 3] = std::array::from_fn(|a| {
                    (((centre_m[a] - radius_m - o[a]) / d[a]).floor().max(0.0) as usize).min(self.dims[a] - 1)
                });
                let hi: [usize; 3] = std::array::from_fn(|a| {
                    (((centre_m[a] + radius_m - o[a]) / d[a]).floor().max(0.0) as usize).min(self.dims[a] - 1)
                });
                for i in lo[0]..=hi[0] {
                    for j in lo[1]..=hi[1] {
                        for k in lo[2]..=hi[2] {
                            let c = self.grid.centre_m([i, j, k]);
                            let r2: f64 = (0..3).map(|a| (c[a] - centre_m[a]).powi(2)).sum();
                            let l = self.lin([i, j, k]);
                            if r2 <= radius_m * radius_m && self.active[l] {
                                taps.push((l, 1.0));
                            }
                        }
                    }
                }
                if taps.is_empty() {
                    // A sphere smaller than the voxels that holds no voxel centre reads the field
                    // at its centre, interpolated between the voxel centres around it (the voxel
                    // holding the centre alone would pick one side when the centre lies on a voxel
                    // face, e.g. on the axis of a wire that runs along a node line).
                    return self.resolve_probe(&Probe::point(&p.name, *centre_m));
                }
                let n = taps.len() as f64;
                taps.iter_mut().for_each(|t| t.1 /= n);
                Ok(ProbeStencil { taps })
            }
        }
    }

    /// Constant part of the right-hand side per voxel (W): RF + metabolic + boundary and blood references.
    pub(super) fn source(&self, p: &Array3<f32>) -> Result<(Vec<f32>, f64)> {
        check_shape(&self.source_name, "power_density_w_per_m3", p.shape(), self.dims)?;
        let v = self.grid.voxel_volume_m3();
        let p = p.as_standard_layout();
        let ps = p.as_slice().unwrap();
        let [_, ny, nz] = self.dims;
        let mut total = 0.0;
        let mut s = vec![0.0f32; ps.len()];
        for idx in 0..ps.len() {
            let pv = ps[idx];
            if !(pv.is_finite() && pv >= 0.0) {
                let (i, j, k) = (idx / (ny * nz), idx / nz % ny, idx % nz);
                return Err(Error::input(
                    &self.source_name,
                    &format!("power_density_w_per_m3[{i}, {j}, {k}]"),
                    format!("loss density {pv} is negative or not finite"),
                    "give a finite loss density >= 0 (NaN means a broken field file)",
                ));
            }
            if !self.active[idx] {
                if pv > 0.0 {
                    let (i, j, k) = (idx / (ny * nz), idx / nz % ny, idx % nz);
                    return Err(Error::input(
                        &self.source_name,
                        &format!("thermal properties at voxel [{i}, {j}, {k}]"),
                        format!("the voxel absorbs {pv} W/m^3 but has no thermal material"),
                        "give that material thermal properties (or zero the loss density outside the thermal domain)",
                    ));
                }
                continue;
            }
            let prf = pv as f64 * v;
            total += prf;
            s[idx] =
                (prf + self.q_met[idx] + self.r_bnd[idx] + self.b_perf[idx] as f64 * self.blood.temperature_c) as f32;
        }
        Ok((s, total))
    }

    /// `(sum b_bnd y, sum b_perf y)` over the voxels with a boundary or perfusion sink, summed in fixed
    /// chunks and then in chunk order (the same result for any number of threads).
    pub(super) fn sink_sums(&self, y: &[f64]) -> (f64, f64) {
        let sum = |list: &[(usize, f64)]| -> f64 {
            let parts: Vec<f64> = list
                .par_chunks(4096)
                .map(|c| c.iter().map(|(i, b)| b * y[*i]).sum::<f64>())
                .collect();
            parts.iter().sum()
        };
        (sum(&self.sink_bnd), sum(&self.sink_perf))
    }
}
