//! scaleplan._core: the PyO3 binding of scaleplan-core. Argument conversion, numpy arrays, GIL
//! release and error mapping only; every formula lives in the core.

mod agent;
mod calibrate;
mod cancel;
mod catalog;
mod convert;
mod cost;
mod csvfmt;
mod errors;
mod fit;
mod fit_accuracy;
mod parscale;
mod plan;
mod rag;
mod schema;
mod testtime;
mod uncertainty;

use pyo3::prelude::*;

/// What a binding function runs in the core, for [`enter`].
pub(crate) enum Work<'a> {
    /// A planner or a fit, with its `cancel=` token: may run long whatever its size.
    Plan(Option<&'a cancel::CancelToken>),
    /// A loop of the binding over `n` elements of ~0.1-10 us each.
    Batch(usize),
}

/// Batches up to this many elements (~1-40 ms of work) run on the calling thread: a worker
/// thread for Ctrl-C costs ~0.2 ms per call, four times a scalar `inference_cost`.
const INLINE_ELEMENTS: usize = 4096;

/// The one way a binding function enters the core (docs/limits.md, "Cancellation"): `f` runs
/// with the GIL released (Python threads such as the gRPC server's executor run alongside it)
/// and the call's cancellation token current; on the main thread Ctrl-C fires the token and
/// raises KeyboardInterrupt within ~0.1 s (a small batch just finishes first); a core error
/// becomes its `scaleplan.errors` class.
pub(crate) fn enter<T: Send>(
    py: Python<'_>,
    work: Work<'_>,
    f: impl FnOnce() -> Result<T, scaleplan_core::PlanError> + Send,
) -> PyResult<T> {
    let (token, inline) = match work {
        Work::Plan(token) => (token, false),
        Work::Batch(n) => (None, n <= INLINE_ELEMENTS),
    };
    cancel::run(py, token, inline, f)?.map_err(|e| errors::to_py(py, e))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    agent::register(m)?;
    calibrate::register(m)?;
    cancel::register(m)?;
    catalog::register(m)?;
    convert::register(m)?;
    cost::register(m)?;
    csvfmt::register(m)?;
    fit::register(m)?;
    fit_accuracy::register(m)?;
    parscale::register(m)?;
    plan::register(m)?;
    rag::register(m)?;
    schema::register(m)?;
    testtime::register(m)?;
    uncertainty::register(m)?;
    Ok(())
}
