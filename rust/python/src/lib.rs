//! scaleplan._core: the PyO3 binding of scaleplan-core. Argument conversion, numpy arrays, GIL
//! release and error mapping only; every formula lives in the core.

mod cancel;
mod catalog;
mod convert;
mod cost;
mod errors;
mod fit;
mod plan;
mod testtime;

use pyo3::prelude::*;

/// The one way a binding function enters the core (docs/limits.md, "Cancellation"): `f` runs
/// with the GIL released (Python threads such as the gRPC server's executor run alongside it)
/// and the call's cancellation token current; on the main thread Ctrl-C fires the token and
/// raises KeyboardInterrupt within ~0.1 s; a core error becomes its `scaleplan.errors` class.
pub(crate) fn enter<T: Send>(
    py: Python<'_>,
    token: Option<&cancel::CancelToken>,
    f: impl FnOnce() -> Result<T, scaleplan_core::PlanError> + Send,
) -> PyResult<T> {
    cancel::run(py, token, f)?.map_err(|e| errors::to_py(py, e))
}

#[pymodule]
fn _core(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    cancel::register(m)?;
    catalog::register(m)?;
    convert::register(m)?;
    cost::register(m)?;
    fit::register(m)?;
    plan::register(m)?;
    testtime::register(m)?;
    Ok(())
}
