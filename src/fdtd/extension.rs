//! Extensions around the bare update (openEMS's `Engine_Extension`). Two kinds:
//! - plane hooks ([`super::engine::PlaneHook`]: PMC faces, CPML) run inside the sweep on each plane;
//! - step extensions ([`Extension`]: lumped elements, sources, probes) run before and after the
//!   whole step. Before: E is at `n dt`, H at `(n+1/2) dt`. After: E at `(n+1) dt`, H at
//!   `(n+3/2) dt`. An extension that changes E after the step must carry the change into H with
//!   [`super::operator::Operator::patch_h`] (H already used the unchanged E).

use super::fields::Fields;
use super::operator::Operator;

/// Where in time a step stands. Step `n` takes E from `n dt` to `(n+1) dt` and H from
/// `(n+1/2) dt` to `(n+3/2) dt`; currents in the E update act at `(n+1/2) dt`.
#[derive(Clone, Copy)]
pub struct StepCtx<'a> {
    pub op: &'a Operator,
    pub n: usize,
}

impl StepCtx<'_> {
    /// Time of E after this step's E update.
    pub fn t_e(&self) -> f64 {
        (self.n + 1) as f64 * self.op.dt
    }
    /// Time of E before this step's E update.
    pub fn t_e_old(&self) -> f64 {
        self.n as f64 * self.op.dt
    }
    /// Time of H after this step's H update.
    pub fn t_h(&self) -> f64 {
        (self.n as f64 + 1.5) * self.op.dt
    }
    /// Time at which currents enter the E update.
    pub fn t_j(&self) -> f64 {
        (self.n as f64 + 0.5) * self.op.dt
    }
}

/// A hook around the time step. None may allocate inside a hook.
pub trait Extension: Send {
    fn name(&self) -> &str;
    /// Before step `ctx.n` (E at `n dt`, H at `(n+1/2) dt`).
    fn pre_step(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    /// After step `ctx.n` (E at `(n+1) dt`, H at `(n+3/2) dt`).
    fn post_step(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    /// Heap bytes held.
    fn bytes(&self) -> usize {
        0
    }
}

/// A probe: an extension that observes fields and can restart its accumulation.
pub trait Probe: Extension {
    /// Clears accumulated data (called at the start of each steady-state window).
    fn reset(&mut self);
}
