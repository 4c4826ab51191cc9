//! Extensions around the bare update (openEMS's `Engine_Extension`). Two kinds:
//! - plane hooks ([`super::engine::PlaneHook`]: PMC faces, CPML) run inside the sweep on each plane;
//! - step extensions ([`Extension`]: lumped elements, sources, TF/SF, thin wires, probes) run before
//!   and after the whole step. Before: E is at `n dt`, H at `(n+1/2) dt`. After: E at `(n+1) dt`, H
//!   at `(n+3/2) dt`. An extension that changes E after the step must carry the change into H with
//!   [`super::operator::Operator::patch_h`] (H already used the unchanged E).
//!
//! A [`super::Simulation`] holds its plane hooks and step extensions as two ordered lists, built
//! once in `Simulation::new` (`plane_hooks` and `step_extensions` in `sim.rs`); each step runs every
//! extension's `pre_step` in list order, then the probes' `pre_step`, the fused sweep with the plane
//! hooks in list order, every extension's `post_step` in list order, then the probes' `post_step`.
//! The run loops ask the list for the ramp end ([`Extension::ramp_end`]), the end time of the
//! drive ([`Extension::end_time`]) and the memory held ([`Extension::bytes`]), so they name no
//! extension.
//!
//! # Adding an extension
//! 1. Write the type in its own file under `fdtd/`, with a constructor that precomputes its
//!    coefficients from the [`super::operator::Operator`] (openEMS's `Operator_Ext_*`).
//! 2. Implement [`Extension`] (work around the whole step; it may not allocate in a hook) or
//!    [`super::engine::PlaneHook`] (work on each x-plane inside the sweep, while it is in cache).
//!    Give `ramp_end`, `end_time` and `bytes` when the defaults (no ramp, drives nothing, no heap)
//!    do not hold.
//! 3. Push it in one place: `step_extensions` (or `plane_hooks`) in `sim.rs`, at the position in
//!    the order where it must run; add its spec to [`super::SimulationSpec`] if it needs one.
//!
//! A typed accessor on `Simulation` (like `Simulation::lumped`) finds an extension in the list by
//! its type ([`AsAny`]).

use std::any::Any;

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

/// Downcasting for extensions held as `Box<dyn Extension>` (implemented for every `'static` type).
pub trait AsAny: Any {
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any> AsAny for T {
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A hook around the time step. None may allocate inside a hook.
pub trait Extension: AsAny + Send {
    fn name(&self) -> &str;
    /// Before step `ctx.n` (E at `n dt`, H at `(n+1/2) dt`).
    fn pre_step(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    /// After step `ctx.n` (E at `(n+1) dt`, H at `(n+3/2) dt`).
    fn post_step(&mut self, _f: &mut Fields, _ctx: &StepCtx) {}
    /// Heap bytes held.
    fn bytes(&self) -> usize {
        0
    }
    /// Time (s) at which every CW ramp it drives is complete (0: no ramp). A steady-state run
    /// does not judge convergence before the latest ramp end of all extensions.
    fn ramp_end(&self) -> f64 {
        0.0
    }
    /// Time (s) after which it drives nothing (numerically); `None` when it drives for ever (CW).
    /// The default, `Some(0.0)`, is for extensions that drive nothing. A decay run needs every
    /// extension's end time and waits for the latest.
    fn end_time(&self) -> Option<f64> {
        Some(0.0)
    }
}

/// A probe: an extension that observes fields and can restart its accumulation.
pub trait Probe: Extension {
    /// Clears accumulated data (called at the start of each steady-state window).
    fn reset(&mut self);
}
