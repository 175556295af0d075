//! The one place core errors become Python exceptions: each PlanError variant maps to its own
//! class in `scaleplan.errors`, and every piece of its context (field, element index, file row,
//! file, catalog entry, preset) becomes an attribute of the exception, never text appended to
//! its message (docs/limits.md, "Errors").

use pyo3::prelude::*;
use pyo3::types::PyDict;
use scaleplan_core::PlanError;

/// Convert a core error.
pub fn to_py(py: Python<'_>, err: PlanError) -> PyErr {
    match build(py, &err) {
        Ok(e) => e,
        Err(e) => e,
    }
}

/// Locate an error at element `i` of a batch of `n` (a batch of one has no elements to name).
pub fn element(i: usize, n: usize) -> impl Fn(PlanError) -> PlanError {
    move |e| if n > 1 { e.at_index(i) } else { e }
}

fn build(py: Python<'_>, err: &PlanError) -> PyResult<PyErr> {
    let module = py.import("scaleplan.errors")?;
    let kwargs = PyDict::new(py);
    let kind = err.kind();
    kwargs.set_item("field", kind.field())?;
    if err.names_field() {
        // The message is "field: reason"; the reason is passed as data, not cut from it.
        kwargs.set_item("reason", kind.reason())?;
    }
    if let Some(at) = err.location() {
        kwargs.set_item("index", at.index)?;
        kwargs.set_item("row", at.row)?;
        kwargs.set_item("file", at.file.as_deref())?;
    }
    let class = match kind {
        PlanError::InvalidArgument { .. } => "InvalidArgumentError",
        PlanError::UnknownName {
            kind,
            name,
            known,
            preset,
            ..
        } => {
            kwargs.set_item("kind", kind.to_string())?;
            kwargs.set_item("name", name)?;
            kwargs.set_item("known", known.clone())?;
            kwargs.set_item("preset", preset.as_deref())?;
            "UnknownNameError"
        }
        PlanError::Catalog { file, entry, .. } => {
            // The catalog file is the error's subject, not an input file the caller located.
            kwargs.set_item("file", file)?;
            kwargs.set_item("entry", entry.as_deref())?;
            "CatalogError"
        }
        PlanError::LimitExceeded { limit, got, .. } => {
            kwargs.set_item("limit", limit)?;
            kwargs.set_item("got", got)?;
            "LimitExceededError"
        }
        PlanError::Cancelled { deadline } => {
            kwargs.clear();
            kwargs.set_item("deadline", deadline)?;
            "Cancelled"
        }
        // kind() never returns a location (locations merge instead of nesting).
        PlanError::Located { .. } => "ScaleplanError",
    };
    let exc = module
        .getattr(class)?
        .call((kind.to_string(),), Some(&kwargs))?;
    Ok(PyErr::from_value(exc))
}

pub trait IntoPyResult<T> {
    fn py_err(self, py: Python<'_>) -> PyResult<T>;
}

impl<T> IntoPyResult<T> for Result<T, PlanError> {
    fn py_err(self, py: Python<'_>) -> PyResult<T> {
        self.map_err(|e| to_py(py, e))
    }
}
