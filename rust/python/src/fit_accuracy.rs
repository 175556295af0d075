//! Fitting test-time accuracy to eval counts (docs/fitting.md, "Test-time accuracy"): eval
//! rows in, one dict per (model, generation length) out, computed in Rust with the GIL
//! released.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use scaleplan_core::testtime::fit::{MAX_BOOTSTRAP, MAX_ROWS};
use scaleplan_core::testtime::passk::pass_at_k_ab;
use scaleplan_core::testtime::{fit_accuracy as core_fit, AccuracyFitOptions, EvalRow};
use scaleplan_core::PlanError;

use crate::cancel::{poll, CancelToken};
use crate::errors::{element, to_py};
use crate::{enter, Work};

/// Eval rows as parallel columns (model, gen_tokens, problem, n, c); a list of dicts, one per
/// (model, length), keys documented in `_core.pyi`.
#[pyfunction]
#[pyo3(signature = (model, gen_tokens, problem, n, c, *, bootstrap, seed, cancel=None))]
#[allow(clippy::too_many_arguments)]
fn fit_accuracy<'py>(
    py: Python<'py>,
    model: Vec<String>,
    gen_tokens: Vec<f64>,
    problem: Vec<String>,
    n: Vec<u32>,
    c: Vec<u32>,
    bootstrap: usize,
    seed: u64,
    cancel: Option<&CancelToken>,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let len = model.len();
    if [gen_tokens.len(), problem.len(), n.len(), c.len()]
        .iter()
        .any(|&l| l != len)
    {
        return Err(to_py(
            py,
            PlanError::invalid("rows", "columns differ in length"),
        ));
    }
    let rows: Vec<EvalRow> = (0..len)
        .map(|i| EvalRow {
            model: model[i].clone(),
            gen_tokens: gen_tokens[i],
            problem: problem[i].clone(),
            n: n[i],
            c: c[i],
        })
        .collect();
    let opts = AccuracyFitOptions { bootstrap, seed };
    let fit = enter(py, Work::Plan(cancel), || core_fit(&rows, &opts))?;
    fit.groups
        .into_iter()
        .map(|g| {
            let out = PyDict::new(py);
            out.set_item("model", g.model)?;
            out.set_item("gen_tokens", g.gen_tokens)?;
            out.set_item("problems", g.problems)?;
            out.set_item("eval_samples", g.eval_samples)?;
            out.set_item("pass1", g.pass1)?;
            out.set_item("a", g.params.map(|p| p.0))?;
            out.set_item("b", g.params.map(|p| p.1))?;
            out.set_item("log_likelihood", g.converged.then_some(g.log_likelihood))?;
            out.set_item("converged", g.converged)?;
            out.set_item("message", g.message)?;
            let samples = if g.samples.is_empty() {
                PyArray2::zeros(py, [0, 2], false)
            } else {
                let rows: Vec<Vec<f64>> = g.samples.iter().map(|s| s.to_vec()).collect();
                PyArray2::from_vec2(py, &rows)?
            };
            out.set_item("samples", samples)?;
            out.set_item("bootstrap_failed", g.bootstrap_failed)?;
            Ok(out)
        })
        .collect()
}

/// pass@k = 1 - B(a, b+k)/B(a, b) elementwise (equal-length arrays; a, b > 0, k >= 1).
#[pyfunction]
fn beta_binomial_pass_at_k<'py>(
    py: Python<'py>,
    a: PyReadonlyArray1<'py, f64>,
    b: PyReadonlyArray1<'py, f64>,
    k: PyReadonlyArray1<'py, f64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let (a, b, k) = (a.as_slice()?, b.as_slice()?, k.as_slice()?);
    let len = a.len();
    if b.len() != len || k.len() != len {
        return Err(to_py(
            py,
            PlanError::invalid("k", "arrays differ in length"),
        ));
    }
    let out = enter(py, Work::Batch(len), || {
        (0..len)
            .map(|i| {
                poll(i)?;
                scaleplan_core::error::check::positive("a", a[i]).map_err(element(i, len))?;
                scaleplan_core::error::check::positive("b", b[i]).map_err(element(i, len))?;
                scaleplan_core::error::check::whole_at_least("k", k[i], 1.0)
                    .map_err(element(i, len))?;
                if k[i] > f64::from(scaleplan_core::limits::MAX_SAMPLES) {
                    return Err(element(i, len)(PlanError::LimitExceeded {
                        field: "k".into(),
                        limit: scaleplan_core::limits::MAX_SAMPLES.into(),
                        got: k[i] as u64,
                    }));
                }
                Ok(pass_at_k_ab(a[i], b[i], k[i]))
            })
            .collect::<Result<Vec<f64>, PlanError>>()
    })?;
    Ok(out.into_pyarray(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(fit_accuracy, m)?)?;
    m.add_function(wrap_pyfunction!(beta_binomial_pass_at_k, m)?)?;
    m.add("FIT_ACCURACY_MAX_ROWS", MAX_ROWS)?;
    m.add("FIT_ACCURACY_MAX_BOOTSTRAP", MAX_BOOTSTRAP)?;
    Ok(())
}
