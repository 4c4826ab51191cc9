//! Time stepping: RKL2 stages, transient runs with the energy budget, steady state.

use super::*;

impl ThermalModel {
    /// One RKL2 stage over all planes: `out = mu y1 + nu y2 + (1 - mu - nu) y0 + mu_t tau L(y1) + g_t tau l0`,
    /// optionally storing `L(y1)` in `l_out`. Works row by row (contiguous `k`) so the loops vectorise;
    /// voxels without material have zero conductances, sources and inverse capacity, so they keep `y`.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn stage(
        &self,
        src: &[f32],
        y1: &[f64],
        y2: &[f64],
        y0: &[f64],
        l0: &[f32],
        out: &mut [f64],
        l_out: Option<&mut [f32]>,
        c: (f64, f64, f64, f64),
        tau: f64,
    ) {
        let [nx, ny, nz] = self.dims;
        let plane = ny * nz;
        let (mu, nu, mu_t, g_t) = c;
        let k0 = 1.0 - mu - nu;
        let (a_l, a_l0) = (mu_t * tau, g_t * tau);
        let l_chunks: Vec<Option<&mut [f32]>> = match l_out {
            Some(l) => l.chunks_mut(plane).map(Some).collect(),
            None => (0..nx).map(|_| None).collect(),
        };
        let add_nb = |flux: &mut [f64], g: &[f32], tn: &[f64], t: &[f64]| {
            for ((f, g), (tn, t)) in flux.iter_mut().zip(g).zip(tn.iter().zip(t)) {
                *f += *g as f64 * (tn - t);
            }
        };
        out.par_chunks_mut(plane)
            .zip(l_chunks.into_par_iter())
            .enumerate()
            .for_each_init(
                || (vec![0.0f64; nz], vec![0.0f64; nz]),
                |(flux, fz), (i, (o, mut lc))| {
                    for j in 0..ny {
                        let base = i * plane + j * nz;
                        let r = base..base + nz;
                        let t = &y1[r.clone()];
                        // z faces: fz[k] = flux through the face k -> k+1
                        let gz = &self.g[2][r.clone()];
                        fz[nz - 1] = 0.0;
                        for ((f, g), (tp, tc)) in fz.iter_mut().zip(gz).zip(t[1..].iter().zip(t)) {
                            *f = *g as f64 * (tp - tc);
                        }
                        flux[0] = fz[0];
                        for (f, (a, b)) in flux[1..].iter_mut().zip(fz[1..].iter().zip(fz.iter())) {
                            *f = a - b;
                        }
                        if i + 1 < nx {
                            add_nb(flux, &self.g[0][r.clone()], &y1[base + plane..base + plane + nz], t);
                        }
                        if i > 0 {
                            add_nb(
                                flux,
                                &self.g[0][base - plane..base - plane + nz],
                                &y1[base - plane..base - plane + nz],
                                t,
                            );
                        }
                        if j + 1 < ny {
                            add_nb(flux, &self.g[1][r.clone()], &y1[base + nz..base + 2 * nz], t);
                        }
                        if j > 0 {
                            add_nb(flux, &self.g[1][base - nz..base], &y1[base - nz..base], t);
                        }
                        let (sr, br, ic) = (&src[r.clone()], &self.b_sum[r.clone()], &self.inv_capacity[r.clone()]);
                        let (y2r, y0r, l0r) = (&y2[r.clone()], &y0[r.clone()], &l0[r.clone()]);
                        let orow = &mut o[j * nz..(j + 1) * nz];
                        let it = orow
                            .iter_mut()
                            .zip(flux.iter())
                            .zip(sr.iter().zip(br))
                            .zip(ic.iter().zip(t))
                            .zip(y2r.iter().zip(y0r).zip(l0r));
                        match lc.as_deref_mut() {
                            Some(l) => {
                                for (((((o, f), (s, b)), (ic, t)), ((y2, y0), l0)), lo) in
                                    it.zip(l[j * nz..(j + 1) * nz].iter_mut())
                                {
                                    let l = (f + *s as f64 - *b as f64 * t) * *ic as f64;
                                    *lo = l as f32;
                                    *o = mu * t + nu * y2 + k0 * y0 + a_l * l + a_l0 * *l0 as f64;
                                }
                            }
                            None => {
                                for ((((o, f), (s, b)), (ic, t)), ((y2, y0), l0)) in it {
                                    let l = (f + *s as f64 - *b as f64 * t) * *ic as f64;
                                    *o = mu * t + nu * y2 + k0 * y0 + a_l * l + a_l0 * *l0 as f64;
                                }
                            }
                        }
                    }
                },
            );
    }

    /// Transient run from a uniform initial temperature (`settings.initial_temperature_c`) with the loss
    /// density `power_density_w_per_m3` (W/m^3, e.g. `rho SAR` of the normalised field) switched on at t = 0.
    pub fn run(
        &self,
        power_density_w_per_m3: &Array3<f32>,
        probes: &[Probe],
        settings: &ThermalSettings,
    ) -> Result<ThermalResult> {
        if !settings.initial_temperature_c.is_finite() {
            return Err(Error::input(
                &self.source_name,
                "initial_temperature_c",
                "not finite",
                "give the starting temperature in °C, e.g. 22",
            ));
        }
        let t0 = Array3::from_elem(self.dims, settings.initial_temperature_c);
        self.run_from(power_density_w_per_m3, probes, settings, &t0)
    }

    /// The run's settings and initial temperatures must be usable.
    pub(super) fn check_run_inputs(&self, settings: &ThermalSettings, initial_c: &Array3<f64>) -> Result<()> {
        check_shape(&self.source_name, "initial_temperature_c", initial_c.shape(), self.dims)?;
        if !(settings.duration_s > 0.0) || !settings.duration_s.is_finite() {
            return Err(Error::input(
                &self.source_name,
                "duration_s",
                format!("duration {} s is not positive", settings.duration_s),
                "give the exposure length in seconds, e.g. 900",
            ));
        }
        if !(settings.dt_s > 0.0) || !settings.dt_s.is_finite() {
            return Err(Error::input(
                &self.source_name,
                "dt_s",
                format!("time step {} s is not positive", settings.dt_s),
                "give a time step in seconds, e.g. 2",
            ));
        }
        if let Some(((i, j, k), v)) = initial_c.indexed_iter().find(|(_, v)| !v.is_finite()) {
            return Err(Error::input(
                &self.source_name,
                &format!("initial_temperature_c[{i}, {j}, {k}]"),
                format!("{v} is not finite"),
                "give finite initial temperatures",
            ));
        }
        Ok(())
    }

    /// The peak temperature rise (value, linear index; first on ties) and the stored energy (J),
    /// summed in index order.
    pub(super) fn peak_and_stored(&self, y0: &[f64], init: &[f64]) -> ((f64, usize), f64) {
        let n = self.capacity.len();
        let mut peak = (f64::NEG_INFINITY, 0usize);
        let mut stored = 0.0f64;
        for idx in 0..n {
            if self.active[idx] {
                let rise = y0[idx] - init[idx];
                stored += self.capacity[idx] * rise;
                if rise > peak.0 {
                    peak = (rise, idx);
                }
            }
        }
        (peak, stored)
    }

    /// Transient run from a given initial temperature field (°C).
    pub fn run_from(
        &self,
        power_density_w_per_m3: &Array3<f32>,
        probes: &[Probe],
        settings: &ThermalSettings,
        initial_c: &Array3<f64>,
    ) -> Result<ThermalResult> {
        self.check_run_inputs(settings, initial_c)?;
        let stencils: Vec<ProbeStencil> = probes.iter().map(|p| self.resolve_probe(p)).collect::<Result<_>>()?;
        let (src, p_rf) = self.source(power_density_w_per_m3)?;
        let steps = (settings.duration_s / settings.dt_s).ceil().max(1.0) as usize;
        let tau = settings.duration_s / steps as f64;
        let s = rkl2_stages(tau * self.lambda_max_per_s() * 1.02);
        let coef = rkl2_coefficients(s);
        let n = self.capacity.len();
        let init = initial_c.as_standard_layout().as_slice().unwrap().to_vec();
        let mut y0 = init.clone();
        let mut l0 = vec![0.0f32; n];
        let zeros = vec![0.0f32; n];
        let mut bufs = [vec![0.0f64; n], vec![0.0f64; n], vec![0.0f64; n]];
        let r_bnd_sum: f64 = self.r_bnd.iter().sum();
        let perf_ref: f64 = self.b_perf.iter().map(|b| *b as f64 * self.blood.temperature_c).sum();
        let met: f64 = self.q_met.iter().sum();
        let mut lost_b = 0.0f64;
        let mut lost_p = 0.0f64;
        let probe_value = |y: &[f64], st: &ProbeStencil| st.taps.iter().map(|(l, w)| w * y[*l]).sum::<f64>();
        let mut times = vec![0.0];
        let mut traces: Vec<Vec<f64>> = stencils.iter().map(|st| vec![probe_value(&y0, st)]).collect();
        let mut cem_map = if settings.cem43_map {
            Some(vec![0.0f64; n])
        } else {
            None
        };
        for step in 0..steps {
            // Scalar recursions for the losses use the same stage weights as the temperature.
            // stage 1 (and L(y0))
            let (b0, p0) = self.sink_sums(&y0);
            self.stage(
                &src,
                &y0,
                &y0,
                &y0,
                &zeros,
                &mut bufs[0],
                Some(&mut l0),
                (1.0, 0.0, coef[1].2, 0.0),
                tau,
            );
            let loss_b0 = b0 - r_bnd_sum;
            let loss_p0 = p0 - perf_ref;
            // stage values of the accumulated losses
            let mut lb = [0.0f64, coef[1].2 * tau * loss_b0]; // [j-2, j-1]
            let mut lp = [0.0f64, coef[1].2 * tau * loss_p0];
            // buffers: prev2 = y0 (stage 0), prev1 = bufs[0] (stage 1)
            let mut i_prev1 = 0usize;
            let mut i_prev2: Option<usize> = None;
            for j in 2..=s {
                let c = coef[j];
                let i_out = (0..3).find(|x| *x != i_prev1 && Some(*x) != i_prev2).unwrap();
                let mut out = std::mem::take(&mut bufs[i_out]);
                let (sb, sp) = {
                    let y1 = &bufs[i_prev1];
                    let y2: &[f64] = match i_prev2 {
                        Some(q) => &bufs[q],
                        None => &y0,
                    };
                    self.stage(&src, y1, y2, &y0, &l0, &mut out, None, c, tau);
                    self.sink_sums(y1)
                };
                bufs[i_out] = out;
                let (mu, nu, mu_t, g_t) = c;
                let nb = mu * lb[1] + nu * lb[0] + mu_t * tau * (sb - r_bnd_sum) + g_t * tau * loss_b0;
                let np = mu * lp[1] + nu * lp[0] + mu_t * tau * (sp - perf_ref) + g_t * tau * loss_p0;
                lb = [lb[1], nb];
                lp = [lp[1], np];
                i_prev2 = Some(i_prev1);
                i_prev1 = i_out;
            }
            lost_b += lb[1];
            lost_p += lp[1];
            let new = &bufs[i_prev1];
            if let Some(map) = cem_map.as_mut() {
                let dtm = tau / 60.0;
                map.par_iter_mut().enumerate().for_each(|(idx, m)| {
                    if self.active[idx] {
                        *m += dtm * cem43_rate(0.5 * (y0[idx] + new[idx]));
                    }
                });
            }
            y0.copy_from_slice(new);
            times.push((step + 1) as f64 * tau);
            for (tr, st) in traces.iter_mut().zip(&stencils) {
                tr.push(probe_value(&y0, st));
            }
            if y0.iter().step_by(997).any(|v| !v.is_finite()) {
                return Err(Error::Unstable {
                    step: step + 1,
                    what: "temperature became NaN/Inf".into(),
                    fix: "check the material properties and the loss density".into(),
                });
            }
        }
        // peak rise and energy budget (fixed-order sums)
        let (peak, stored) = self.peak_and_stored(&y0, &init);
        let [_, ny, nz] = self.dims;
        let peak_index = [peak.1 / (ny * nz), peak.1 / nz % ny, peak.1 % nz];
        let duration = tau * steps as f64;
        let dep = p_rf * duration;
        let metj = met * duration;
        let imbalance = (dep + metj - stored - lost_b - lost_p).abs() / (dep.abs() + metj.abs()).max(f64::MIN_POSITIVE);
        let probes_out = probe_traces(probes, traces, tau);
        let cem43_map_min =
            cem_map.map(|m| Array3::from_shape_vec(self.dims, m.into_iter().map(|v| v as f32).collect()).unwrap());
        let cem43_max_min = cem43_map_min
            .as_ref()
            .map(|m| m.iter().fold(0.0f32, |a, v| a.max(*v)) as f64);
        Ok(ThermalResult {
            times_s: times,
            probes: probes_out,
            final_temperature_c: Array3::from_shape_vec(self.dims, y0).unwrap(),
            peak_rise_k: peak.0.max(0.0),
            peak_index,
            peak_position_m: self.grid.centre_m(peak_index),
            cem43_max_min,
            cem43_map_min,
            energy: EnergyBudget {
                deposited_rf_j: dep,
                metabolic_j: metj,
                stored_j: stored,
                lost_boundaries_j: lost_b,
                lost_perfusion_j: lost_p,
                relative_imbalance: imbalance,
            },
            steps,
            stages_per_step: s,
            dt_s: tau,
        })
    }

    /// Marches with step `dt_s` until `max |dT/dt| < tolerance_k_per_s` (or `max_time_s` is reached, an
    /// error) and returns the steady temperature. The fixed point of RKL2 is the exact finite-volume
    /// steady state, so the step only affects how fast it is reached.
    pub fn steady_state(
        &self,
        power_density_w_per_m3: &Array3<f32>,
        initial_c: f64,
        dt_s: f64,
        tolerance_k_per_s: f64,
        max_time_s: f64,
    ) -> Result<SteadyState> {
        let mut t = Array3::from_elem(self.dims, initial_c);
        let chunk = ThermalSettings {
            duration_s: dt_s * 20.0,
            dt_s,
            initial_temperature_c: initial_c,
            cem43_map: false,
        };
        let mut time = 0.0;
        loop {
            let r = self.run_from(power_density_w_per_m3, &[], &chunk, &t)?;
            let rate = Zip::from(&r.final_temperature_c)
                .and(&t)
                .fold(0.0f64, |m, a, b| m.max((a - b).abs()))
                / chunk.duration_s;
            t = r.final_temperature_c;
            time += chunk.duration_s;
            if rate < tolerance_k_per_s {
                return Ok(SteadyState {
                    temperature_c: t,
                    time_s: time,
                    max_rate_k_per_s: rate,
                });
            }
            if time >= max_time_s {
                return Err(Error::NotConverged {
                    what: format!(
                        "{}: no thermal steady state within {max_time_s} s (|dT/dt| = {rate:.3e} K/s)",
                        self.source_name
                    ),
                });
            }
        }
    }

    /// Voxel centre position (m) of index `idx`.
    pub fn centre_m(&self, idx: [usize; 3]) -> [f64; 3] {
        self.grid.centre_m(idx)
    }

    /// Heat capacity `rho c V` of every voxel (J/K) (0 outside the domain).
    pub fn capacity_j_per_k(&self) -> Array3<f64> {
        Array3::from_shape_vec(self.dims, self.capacity.clone()).unwrap()
    }
}
