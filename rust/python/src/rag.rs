//! The RAG computation allocation model, its refit and its planner (docs/planning.md#rag):
//! argument conversion only.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use scaleplan_core::catalog::entry_from_json;
use scaleplan_core::laws::rag::{fit_rag as core_fit, Informativeness, RagLaw, RagRow};
use scaleplan_core::plan::rag::{MAX_RAG_DOCUMENTS, MAX_RAG_ITERATIONS, MAX_RAG_SHOTS};
use scaleplan_core::plan::{plan_rag as core_plan, RagOptions, RagServing, RagTokens};
use scaleplan_core::PlanError;

use crate::cancel::{poll, CancelToken};
use crate::catalog::{NativeHardware, NativeModel, PyCatalog};
use crate::convert::{Columns, Serving};
use crate::errors::{element, to_py, IntoPyResult};
use crate::schema::rag_plan;
use crate::{enter, Work};

/// A validated RAG law, opaque to Python; the façade's `RagLaw` dataclass holds one.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct NativeRagLaw(pub RagLaw);

#[pymethods]
impl NativeRagLaw {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let law: RagLaw = entry_from_json(text).py_err(py)?;
        law.validate().py_err(py)?;
        Ok(NativeRagLaw(law))
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("a RAG law serialises to JSON")
    }

    /// P at each (k, m, n, i_doc, i_shot) of equal-length arrays.
    fn metric<'py>(
        &self,
        py: Python<'py>,
        documents: PyReadonlyArray1<'py, f64>,
        shots: PyReadonlyArray1<'py, f64>,
        iterations: PyReadonlyArray1<'py, f64>,
        i_doc: PyReadonlyArray1<'py, f64>,
        i_shot: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (k, m, n) = (
            documents.as_slice()?,
            shots.as_slice()?,
            iterations.as_slice()?,
        );
        let (d, s) = (i_doc.as_slice()?, i_shot.as_slice()?);
        let len = k.len();
        if [m.len(), n.len(), d.len(), s.len()]
            .iter()
            .any(|&l| l != len)
        {
            return Err(to_py(
                py,
                PlanError::invalid("documents", "arrays differ in length"),
            ));
        }
        let law = &self.0;
        let out = enter(py, Work::Batch(len), || {
            (0..len)
                .map(|i| {
                    poll(i)?;
                    law.metric_checked(d[i], s[i], k[i], m[i], n[i])
                        .map_err(element(i, len))
                })
                .collect::<Result<Vec<f64>, PlanError>>()
        })?;
        Ok(out.into_pyarray(py))
    }
}

/// A shipped or user RAG law by name.
#[pyfunction]
fn rag_law(py: Python<'_>, catalog: &PyCatalog, name: &str) -> PyResult<NativeRagLaw> {
    Ok(NativeRagLaw(catalog.0.rag_law(name).py_err(py)?.clone()))
}

/// The names of the catalog's RAG laws.
#[pyfunction]
fn rag_law_names(catalog: &PyCatalog) -> Vec<String> {
    catalog.0.rag.keys().cloned().collect()
}

/// A budget given for every plan (n values), or absent for all.
fn budget_column<'a>(
    field: &str,
    values: &'a Option<PyReadonlyArray1<'_, f64>>,
    n: usize,
) -> Result<Option<&'a [f64]>, PlanError> {
    let Some(values) = values else {
        return Ok(None);
    };
    let slice = values
        .as_slice()
        .map_err(|_| PlanError::invalid(field, "must be a contiguous float64 array"))?;
    if slice.len() != n {
        return Err(PlanError::invalid(field, "arrays differ in length"));
    }
    Ok(Some(slice))
}

/// The plans of equal-length arrays of informativeness and budgets (an absent budget is absent
/// for every plan), as one array per `RAG_PLAN_FIELDS` column: one call, the loop here.
#[pyfunction]
#[pyo3(signature = (
    law, *, i_doc, i_shot, doc_tokens, question_tokens, answer_tokens, gen_tokens,
    max_documents, max_shots, max_iterations, context_budget_tokens, budget_eflops,
    latency_budget_s, model, hardware, serving, cancel=None
))]
#[allow(clippy::too_many_arguments)]
fn plan_rag<'py>(
    py: Python<'py>,
    law: &NativeRagLaw,
    i_doc: PyReadonlyArray1<'py, f64>,
    i_shot: PyReadonlyArray1<'py, f64>,
    doc_tokens: f64,
    question_tokens: f64,
    answer_tokens: f64,
    gen_tokens: f64,
    max_documents: u32,
    max_shots: u32,
    max_iterations: u32,
    context_budget_tokens: Option<PyReadonlyArray1<'py, f64>>,
    budget_eflops: Option<PyReadonlyArray1<'py, f64>>,
    latency_budget_s: Option<PyReadonlyArray1<'py, f64>>,
    model: Option<&NativeModel>,
    hardware: Option<&NativeHardware>,
    serving: Option<&Serving>,
    cancel: Option<&CancelToken>,
) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
    let (d, s) = (i_doc.as_slice()?, i_shot.as_slice()?);
    let n = d.len();
    if s.len() != n {
        return Err(to_py(
            py,
            PlanError::invalid("i_shot", "arrays differ in length"),
        ));
    }
    let context = budget_column("context_budget_tokens", &context_budget_tokens, n).py_err(py)?;
    let eflops = budget_column("budget_eflops", &budget_eflops, n).py_err(py)?;
    let latency = budget_column("latency_budget_s", &latency_budget_s, n).py_err(py)?;
    let served = match (model, hardware, serving) {
        (Some(m), Some(h), Some(s)) => Some(RagServing::new(&m.0, &h.0, &s.0).py_err(py)?),
        _ => None,
    };
    let mut opt = RagOptions {
        law: law.0.clone(),
        informativeness: Informativeness::new(0.0, 0.0).py_err(py)?,
        tokens: RagTokens {
            doc: doc_tokens,
            question: question_tokens,
            answer: answer_tokens,
            gen: gen_tokens,
        },
        max_documents,
        max_shots,
        max_iterations,
        context_budget: None,
        eflops_budget: None,
        latency_budget_s: None,
        serving: served,
    };
    let cols = enter(py, Work::Plan(cancel), || {
        let mut cols = Columns::new(rag_plan::WIDTH, n);
        for i in 0..n {
            poll(i)?;
            let at = element(i, n);
            opt.informativeness = Informativeness::new(d[i], s[i]).map_err(&at)?;
            opt.context_budget = context.map(|c| c[i]);
            opt.eflops_budget = eflops.map(|e| e[i]);
            opt.latency_budget_s = latency.map(|l| l[i]);
            let plan = core_plan(&opt).map_err(at)?;
            cols.set(i, &rag_plan::row(&plan));
        }
        Ok(cols)
    })?;
    Ok(cols.into_arrays(py))
}

/// What `fit_rag` returns: (law, residuals, logit_residuals, rms).
type FitResult<'py> = (
    NativeRagLaw,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    f64,
);

/// The refit: (law, residuals, logit_residuals, rms).
#[pyfunction]
#[pyo3(signature = (
    base, documents, shots, iterations, i_doc, i_shot, metric, *, name, cancel=None
))]
#[allow(clippy::too_many_arguments)]
fn fit_rag<'py>(
    py: Python<'py>,
    base: &NativeRagLaw,
    documents: Vec<f64>,
    shots: Vec<f64>,
    iterations: Vec<f64>,
    i_doc: Vec<f64>,
    i_shot: Vec<f64>,
    metric: Vec<f64>,
    name: &str,
    cancel: Option<&CancelToken>,
) -> PyResult<FitResult<'py>> {
    let len = documents.len();
    if [
        shots.len(),
        iterations.len(),
        i_doc.len(),
        i_shot.len(),
        metric.len(),
    ]
    .iter()
    .any(|&l| l != len)
    {
        return Err(to_py(
            py,
            PlanError::invalid("rows", "columns differ in length"),
        ));
    }
    let rows: Vec<RagRow> = (0..len)
        .map(|i| RagRow {
            documents: documents[i],
            shots: shots[i],
            iterations: iterations[i],
            i_doc: i_doc[i],
            i_shot: i_shot[i],
            metric: metric[i],
        })
        .collect();
    let fit = enter(py, Work::Plan(cancel), || core_fit(&base.0, &rows, name))?;
    Ok((
        NativeRagLaw(fit.law),
        fit.residuals.into_pyarray(py),
        fit.logit_residuals.into_pyarray(py),
        fit.rms,
    ))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeRagLaw>()?;
    m.add_function(wrap_pyfunction!(rag_law, m)?)?;
    m.add_function(wrap_pyfunction!(rag_law_names, m)?)?;
    m.add_function(wrap_pyfunction!(plan_rag, m)?)?;
    m.add_function(wrap_pyfunction!(fit_rag, m)?)?;
    m.add("RAG_PLAN_FIELDS", rag_plan::columns())?;
    m.add("MAX_RAG_DOCUMENTS", MAX_RAG_DOCUMENTS)?;
    m.add("MAX_RAG_SHOTS", MAX_RAG_SHOTS)?;
    m.add("MAX_RAG_ITERATIONS", MAX_RAG_ITERATIONS)?;
    m.add(
        "RAG_DOC_TOKEN_CAP",
        scaleplan_core::laws::rag::RAG_DOC_TOKEN_CAP,
    )?;
    Ok(())
}
