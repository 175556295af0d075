//! The one place core errors become Python exceptions: each PlanError variant maps to its own
//! class in `scaleplan.errors`, carrying the field it is about.

use pyo3::prelude::*;
use pyo3::types::PyDict;
use scaleplan_core::PlanError;

/// Convert a core error, optionally locating it at an element of a vectorised call.
pub fn to_py(py: Python<'_>, err: PlanError, index: Option<usize>) -> PyErr {
    match build(py, &err, index) {
        Ok(e) => e,
        Err(e) => e,
    }
}

fn build(py: Python<'_>, err: &PlanError, index: Option<usize>) -> PyResult<PyErr> {
    let module = py.import("scaleplan.errors")?;
    let kwargs = PyDict::new(py);
    kwargs.set_item("field", err.field())?;
    kwargs.set_item("index", index)?;
    let class = match err {
        PlanError::InvalidArgument { .. } => "InvalidArgumentError",
        PlanError::UnknownName {
            kind, name, known, ..
        } => {
            kwargs.set_item("kind", kind.to_string())?;
            kwargs.set_item("name", name)?;
            kwargs.set_item("known", known.clone())?;
            "UnknownNameError"
        }
        PlanError::Catalog { file, entry, .. } => {
            kwargs.set_item("file", file)?;
            kwargs.set_item("entry", entry)?;
            "CatalogError"
        }
        PlanError::LimitExceeded { limit, got, .. } => {
            kwargs.set_item("limit", limit)?;
            kwargs.set_item("got", got)?;
            "LimitExceededError"
        }
        PlanError::Cancelled { deadline } => {
            kwargs.set_item("deadline", deadline)?;
            kwargs.del_item("index")?;
            "Cancelled"
        }
    };
    let message = match (index, err) {
        (_, PlanError::Cancelled { .. }) | (None, _) => err.to_string(),
        (Some(i), _) => format!("{err} (at element {i})"),
    };
    let exc = module.getattr(class)?.call((message,), Some(&kwargs))?;
    Ok(PyErr::from_value(exc))
}

pub trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, PlanError> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e, None))
    }
}
