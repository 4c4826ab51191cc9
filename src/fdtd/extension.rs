//! Extensions around the bare update (openEMS's `Engine_Extension`): CPML, PMC faces, lumped
//! elements, sources and probes hook in before and after the E and H passes.

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
    fn pre_e(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    fn post_e(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    fn pre_h(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    fn post_h(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
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
