//! Plans under uncertainty (docs/uncertainty.md): the law samples of a fit turned into laws,
//! and the loss of fixed plans under each sample's law. The planners' per-sample calls are
//! their own entry points with `law_samples=` (rust/python/src/plan.rs, testtime.rs).

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use scaleplan_core::laws::LossLaw;
use scaleplan_core::plan::uncertainty::{
    losses_at as core_losses_at, sample_laws, MAX_LAW_SAMPLES, MAX_SAMPLE_PLANS, SAMPLES_FIELD,
};
use scaleplan_core::PlanError;

use crate::cancel::CancelToken;
use crate::catalog::NativeLaw;
use crate::errors::{to_py, IntoPyResult};
use crate::{enter, Work};

/// The laws of `samples` (rows E, A, B, alpha, beta) around `point`; None without samples.
pub fn laws_of(
    py: Python<'_>,
    point: &LossLaw,
    samples: Option<PyReadonlyArray2<'_, f64>>,
) -> PyResult<Option<Vec<LossLaw>>> {
    let Some(samples) = samples else {
        return Ok(None);
    };
    let view = samples.as_array();
    if view.ncols() != 5 {
        return Err(to_py(
            py,
            PlanError::invalid(
                SAMPLES_FIELD,
                format!(
                    "each sample has 5 numbers (E, A, B, alpha, beta), got {}",
                    view.ncols()
                ),
            ),
        ));
    }
    let rows: Vec<[f64; 5]> = view
        .rows()
        .into_iter()
        .map(|r| [r[0], r[1], r[2], r[3], r[4]])
        .collect();
    sample_laws(point, &rows).map(Some).py_err(py)
}

/// Loss of the plans (params, effective_tokens) under each sample's law: S x n, sample-major.
#[pyfunction]
#[pyo3(signature = (law, law_samples, params, effective_tokens, *, cancel=None))]
fn losses_at<'py>(
    py: Python<'py>,
    law: &NativeLaw,
    law_samples: PyReadonlyArray2<'py, f64>,
    params: PyReadonlyArray1<'py, f64>,
    effective_tokens: PyReadonlyArray1<'py, f64>,
    cancel: Option<&CancelToken>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let laws = laws_of(py, &law.0, Some(law_samples))?.unwrap_or_default();
    let (n, d) = (params.as_slice()?, effective_tokens.as_slice()?);
    let out = enter(py, Work::Plan(cancel), || core_losses_at(&laws, n, d))?;
    Ok(PyArray1::from_vec(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(losses_at, m)?)?;
    m.add("MAX_LAW_SAMPLES", MAX_LAW_SAMPLES)?;
    m.add("MAX_SAMPLE_PLANS", MAX_SAMPLE_PLANS)?;
    Ok(())
}
