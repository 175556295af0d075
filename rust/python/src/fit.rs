//! Fitting a loss law to runs (docs/fitting.md): arrays in, a dict of the fit out, computed in
//! Rust with the GIL released.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use scaleplan_core::laws::fit::{fit_law as core_fit_law, fit_objective as core_objective};
use scaleplan_core::laws::fit::{FitForm, FitOptions};
use scaleplan_core::PlanError;

use crate::cancel::CancelToken;
use crate::catalog::NativeLaw;
use crate::errors::IntoPyResult;

fn starts_of(starts: Option<Vec<Vec<f64>>>) -> Result<Option<Vec<[f64; 5]>>, PlanError> {
    starts
        .map(|rows| {
            rows.into_iter()
                .map(|r| {
                    <[f64; 5]>::try_from(r.as_slice())
                        .map_err(|_| PlanError::invalid("starts", "each start has 5 values"))
                })
                .collect()
        })
        .transpose()
}

/// The fit as a dict (keys documented in `_core.pyi`).
#[pyfunction]
#[pyo3(signature = (
    params, tokens, loss, *, form, delta, bootstrap, seed, unique_tokens, starts=None, cancel=None
))]
#[allow(clippy::too_many_arguments)]
fn fit_law<'py>(
    py: Python<'py>,
    params: PyReadonlyArray1<'py, f64>,
    tokens: PyReadonlyArray1<'py, f64>,
    loss: PyReadonlyArray1<'py, f64>,
    form: &str,
    delta: f64,
    bootstrap: usize,
    seed: u64,
    unique_tokens: Option<f64>,
    starts: Option<Vec<Vec<f64>>>,
    cancel: Option<&CancelToken>,
) -> PyResult<Bound<'py, PyDict>> {
    let form = FitForm::parse(form).py_err(py)?;
    let opts = FitOptions {
        form,
        delta,
        bootstrap,
        seed,
        unique_tokens,
        starts: starts_of(starts).py_err(py)?,
    };
    let (p, t, l) = (params.as_slice()?, tokens.as_slice()?, loss.as_slice()?);
    let fit = crate::enter(py, crate::Work::Plan(cancel), || {
        core_fit_law(p, t, l, &opts)
    })?;
    let out = PyDict::new(py);
    out.set_item("law", fit.law.map(NativeLaw))?;
    out.set_item("params", fit.params.to_vec())?;
    out.set_item("theta", fit.theta.to_vec())?;
    // Form muennighoff: seven columns (E, A, B, alpha, beta, R*_D, R*_N), and the 7 x 7
    // covariance of its bootstrap (docs/fitting.md).
    let seven = opts.form == FitForm::Muennighoff;
    let cov = if seven {
        fit.covariance7.clone()
    } else {
        fit.covariance
            .map(|c| c.iter().map(|r| r.to_vec()).collect::<Vec<_>>())
    };
    match cov {
        Some(rows) => out.set_item("covariance", PyArray2::from_vec2(py, &rows)?)?,
        None => out.set_item("covariance", py.None())?,
    }
    out.set_item("covariance_source", fit.covariance_source.as_str())?;
    let rows: Vec<Vec<f64>> = if seven {
        fit.samples
            .iter()
            .zip(&fit.repetition_samples)
            .map(|(p, r)| p.iter().chain(r).copied().collect())
            .collect()
    } else {
        fit.samples.iter().map(|r| r.to_vec()).collect()
    };
    let samples = if rows.is_empty() {
        PyArray2::zeros(py, [0, if seven { 7 } else { 5 }], false)
    } else {
        PyArray2::from_vec2(py, &rows)?
    };
    out.set_item("samples", samples)?;
    out.set_item("bootstrap_unconverged", fit.bootstrap_unconverged)?;
    out.set_item("residuals", PyArray1::from_vec(py, fit.residuals))?;
    out.set_item("n_points", fit.n_points)?;
    out.set_item("objective", fit.objective)?;
    out.set_item("converged", fit.converged)?;
    out.set_item("message", fit.message)?;
    Ok(out)
}

/// The Huber objective and its gradient at theta = (a, b, e, alpha, beta).
#[pyfunction]
fn fit_objective<'py>(
    py: Python<'py>,
    params: PyReadonlyArray1<'py, f64>,
    tokens: PyReadonlyArray1<'py, f64>,
    loss: PyReadonlyArray1<'py, f64>,
    delta: f64,
    theta: [f64; 5],
) -> PyResult<(f64, Vec<f64>)> {
    let (p, t, l) = (params.as_slice()?, tokens.as_slice()?, loss.as_slice()?);
    let (f, g) = core_objective(p, t, l, delta, theta).py_err(py)?;
    Ok((f, g.to_vec()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit_law, m)?)?;
    m.add_function(wrap_pyfunction!(fit_objective, m)?)?;
    m.add(
        "FIT_MAX_BOOTSTRAP",
        scaleplan_core::laws::fit::MAX_BOOTSTRAP,
    )?;
    m.add("FIT_MAX_RUNS", scaleplan_core::laws::fit::MAX_RUNS)?;
    Ok(())
}
