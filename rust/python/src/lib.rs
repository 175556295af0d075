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

/// Run a core computation with the GIL released. Every call that loops over configurations
/// goes through here, so Python threads (the gRPC server's executor) run alongside it.
pub(crate) fn detached<T: Send, F: FnOnce() -> T + Send>(py: Python<'_>, f: F) -> T {
    py.detach(f)
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
