//! JSON-serialisable summary of a dosimetry run (for reports and the CLI's `summary.json`).

use serde::Serialize;

use super::normalise::Normalisation;
use super::sar::{AveragedSar, PeakSar, VoxelCounts, WholePhantomSar};
use super::thermal::{EnergyBudget, ThermalResult};

/// Peak spatial-average SAR of one averaging mass.
#[derive(Clone, Debug, Serialize)]
pub struct AveragedSummary {
    pub mass_kg: f64,
    pub peak: PeakSar,
    pub counts: VoxelCounts,
}

impl From<&AveragedSar> for AveragedSummary {
    fn from(a: &AveragedSar) -> Self {
        Self {
            mass_kg: a.mass_kg,
            peak: a.peak.clone(),
            counts: a.counts,
        }
    }
}

/// One probe's result.
#[derive(Clone, Debug, Serialize)]
pub struct ProbeSummary {
    pub name: String,
    pub peak_rise_k: f64,
    pub final_rise_k: f64,
    pub cem43_min: f64,
}

/// Thermal part of the summary.
#[derive(Clone, Debug, Serialize)]
pub struct ThermalSummary {
    pub duration_s: f64,
    pub dt_s: f64,
    pub steps: usize,
    pub stages_per_step: usize,
    /// Peak temperature rise at the end of the exposure (K), where.
    pub peak_rise_k: f64,
    pub peak_index: [usize; 3],
    pub peak_position_m: [f64; 3],
    pub probes: Vec<ProbeSummary>,
    pub cem43_max_min: Option<f64>,
    pub energy: EnergyBudget,
    /// Peak rise of the same exposure with the implant removed (K), when run.
    pub background_peak_rise_k: Option<f64>,
}

impl ThermalSummary {
    /// From a run, optionally with the implant-removed (background) run.
    pub fn new(r: &ThermalResult, background: Option<&ThermalResult>) -> Self {
        Self {
            duration_s: r.times_s.last().copied().unwrap_or(0.0),
            dt_s: r.dt_s,
            steps: r.steps,
            stages_per_step: r.stages_per_step,
            peak_rise_k: r.peak_rise_k,
            peak_index: r.peak_index,
            peak_position_m: r.peak_position_m,
            probes: r
                .probes
                .iter()
                .map(|p| ProbeSummary {
                    name: p.name.clone(),
                    peak_rise_k: p.peak_rise_k,
                    final_rise_k: p.final_rise_k,
                    cem43_min: p.cem43_min,
                })
                .collect(),
            cem43_max_min: r.cem43_max_min,
            energy: r.energy,
            background_peak_rise_k: background.map(|b| b.peak_rise_k),
        }
    }
}

/// Everything a dosimetry run reports.
#[derive(Clone, Debug, Serialize)]
pub struct DosimetrySummary {
    /// Field file or solution name.
    pub source: String,
    pub normalisation: Option<Normalisation>,
    /// Whole-phantom values (after normalisation).
    pub whole_phantom: WholePhantomSar,
    pub sar_1g: Option<AveragedSummary>,
    pub sar_10g: Option<AveragedSummary>,
    pub thermal: Option<ThermalSummary>,
}

impl DosimetrySummary {
    /// Pretty JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("summary serialises")
    }
}
