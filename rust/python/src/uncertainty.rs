//! Plans under uncertainty (docs/uncertainty.md): the law samples of a fit turned into laws,
//! and the loss of fixed plans under each sample's law. The planners' per-sample calls are
//! their own entry points with `law_samples=` (rust/python/src/plan.rs, testtime.rs).

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2, PyReadonlyArray3};
use pyo3::prelude::*;
use scaleplan_core::laws::LossLaw;
use scaleplan_core::plan::uncertainty::{
    losses_at as core_losses_at, losses_limited_at as core_losses_limited_at, sample_laws,
    sample_laws_repeated, AccuracyGroup, AccuracySamples as CoreSamples, ACCURACY_SAMPLES_FIELD,
    MAX_LAW_SAMPLES, MAX_SAMPLE_PLANS, SAMPLES_FIELD,
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
    match view.ncols() {
        5 => {
            let rows: Vec<[f64; 5]> = view
                .rows()
                .into_iter()
                .map(|r| [r[0], r[1], r[2], r[3], r[4]])
                .collect();
            sample_laws(point, &rows).map(Some).py_err(py)
        }
        // The muennighoff form: then R*_D and R*_N (docs/fitting.md).
        7 => {
            let rows: Vec<[f64; 7]> = view
                .rows()
                .into_iter()
                .map(|r| [r[0], r[1], r[2], r[3], r[4], r[5], r[6]])
                .collect();
            sample_laws_repeated(point, &rows).map(Some).py_err(py)
        }
        other => Err(to_py(
            py,
            PlanError::invalid(
                SAMPLES_FIELD,
                format!(
                    "each sample has 5 numbers (E, A, B, alpha, beta) or, for the muennighoff \
                     form, 7 (then R*_D, R*_N), got {other}"
                ),
            ),
        )),
    }
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

/// An accuracy fit's bootstrap samples for the test-time planner (docs/uncertainty.md,
/// "Test-time plans"): the fitted (model, generation length, eval samples) of each group and
/// the samples, shape (samples, groups, 2) holding (a, b).
#[pyclass(frozen, module = "scaleplan._core")]
pub struct AccuracySamples {
    pub models: Vec<String>,
    pub gen_tokens: Vec<f64>,
    pub eval_samples: Vec<u32>,
    pub rows: Vec<Vec<[f64; 2]>>,
}

#[pymethods]
impl AccuracySamples {
    #[new]
    fn new(
        py: Python<'_>,
        models: Vec<String>,
        gen_tokens: Vec<f64>,
        eval_samples: Vec<u32>,
        samples: PyReadonlyArray3<'_, f64>,
    ) -> PyResult<Self> {
        let view = samples.as_array();
        let (s, g, two) = view.dim();
        let groups = models.len();
        if gen_tokens.len() != groups || eval_samples.len() != groups || g != groups || two != 2 {
            return Err(to_py(
                py,
                PlanError::invalid(
                    ACCURACY_SAMPLES_FIELD,
                    format!(
                        "samples must have shape (samples, {groups}, 2) for {groups} fits, got \
                         ({s}, {g}, {two})"
                    ),
                ),
            ));
        }
        if s > MAX_LAW_SAMPLES {
            return Err(to_py(
                py,
                PlanError::LimitExceeded {
                    field: ACCURACY_SAMPLES_FIELD.to_string(),
                    limit: MAX_LAW_SAMPLES as u64,
                    got: s as u64,
                },
            ));
        }
        let rows = (0..s)
            .map(|i| (0..g).map(|j| [view[[i, j, 0]], view[[i, j, 1]]]).collect())
            .collect();
        Ok(AccuracySamples {
            models,
            gen_tokens,
            eval_samples,
            rows,
        })
    }

    fn __len__(&self) -> usize {
        self.rows.len()
    }
}

impl AccuracySamples {
    /// The samples for candidates named `names` (in that order); a fitted model that is not a
    /// candidate is left out, a candidate without a fit is an error.
    pub fn for_candidates(&self, names: &[String]) -> Result<CoreSamples, PlanError> {
        let mut keep = Vec::new();
        let mut groups = Vec::new();
        for (j, model) in self.models.iter().enumerate() {
            if let Some(c) = names.iter().position(|n| n == model) {
                keep.push(j);
                groups.push(AccuracyGroup {
                    candidate: c,
                    gen_tokens: self.gen_tokens[j],
                    eval_samples: self.eval_samples[j],
                });
            }
        }
        let rows = self
            .rows
            .iter()
            .map(|r| keep.iter().map(|&j| r[j]).collect())
            .collect();
        CoreSamples::new(groups, rows, names.len())
    }
}

/// Loss of the plans (params, tokens) under each sample's law with a data limit of
/// `unique_tokens` (R*_D `r_star`, or each sample law's own): S x n, sample-major.
#[pyfunction]
#[pyo3(signature = (law, law_samples, params, tokens, unique_tokens, r_star=None, *, cancel=None))]
#[allow(clippy::too_many_arguments)]
fn losses_limited_at<'py>(
    py: Python<'py>,
    law: &NativeLaw,
    law_samples: PyReadonlyArray2<'py, f64>,
    params: PyReadonlyArray1<'py, f64>,
    tokens: PyReadonlyArray1<'py, f64>,
    unique_tokens: f64,
    r_star: Option<f64>,
    cancel: Option<&CancelToken>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let laws = laws_of(py, &law.0, Some(law_samples))?.unwrap_or_default();
    let (n, d) = (params.as_slice()?, tokens.as_slice()?);
    let out = enter(py, Work::Plan(cancel), || {
        core_losses_limited_at(&laws, n, d, unique_tokens, r_star)
    })?;
    Ok(PyArray1::from_vec(py, out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(losses_at, m)?)?;
    m.add_function(wrap_pyfunction!(losses_limited_at, m)?)?;
    m.add_class::<AccuracySamples>()?;
    m.add("MAX_LAW_SAMPLES", MAX_LAW_SAMPLES)?;
    m.add("MAX_SAMPLE_PLANS", MAX_SAMPLE_PLANS)?;
    Ok(())
}
