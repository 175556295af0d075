//! Parallel streams (ParScale, docs/planning.md "Parallel streams"): the law as an opaque
//! native value, and the stream planner, goals in and one array per plan field out.

use numpy::{IntoPyArray, PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use scaleplan_core::catalog::entry_from_json;
use scaleplan_core::cost::{Attention, FamilyShapes};
use scaleplan_core::laws::{ParScaleLaw, PARSCALE_STREAMS};
use scaleplan_core::plan::{
    plan_streams, StreamGoal, StreamObjective, StreamOptions, STREAM_MAX_PARAMS, STREAM_MIN_PARAMS,
};
use scaleplan_core::PlanError;

use crate::cancel::CancelToken;
use crate::catalog::{NativeHardware, PyCatalog};
use crate::convert::{
    extrapolation_fields, extrapolation_row, with_extrapolation, Columns, Serving,
};
use crate::errors::{element, to_py, IntoPyResult};
use crate::schema::parscale_plan;
use crate::{enter, Work};

/// A validated parallel-scaling law, opaque to Python; the façade's `ParScaleLaw` holds one.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct NativeParScaleLaw(pub ParScaleLaw);

#[pymethods]
impl NativeParScaleLaw {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let law: ParScaleLaw = entry_from_json(text).py_err(py)?;
        law.validate().py_err(py)?;
        Ok(NativeParScaleLaw(law))
    }

    fn to_json(&self) -> String {
        serde_json::to_string(&self.0).expect("catalog entries serialise to JSON")
    }

    /// L(N, P) for equal-length arrays; P must be one of the fitted stream counts.
    fn loss<'py>(
        &self,
        py: Python<'py>,
        params: PyReadonlyArray1<'py, f64>,
        streams: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (n, p) = (params.as_slice()?, streams.as_slice()?);
        let len = n.len();
        let out = enter(py, Work::Batch(len), || {
            let mut out = Vec::with_capacity(len);
            for (i, (&n, &p)) in n.iter().zip(p).enumerate() {
                crate::cancel::poll(i)?;
                let at = element(i, len);
                scaleplan_core::error::check::positive("params", n).map_err(&at)?;
                scaleplan_core::laws::check_streams("streams", &[p]).map_err(&at)?;
                out.push(self.0.loss(n, p));
            }
            Ok(out)
        })?;
        Ok(out.into_pyarray(py))
    }

    /// The N reaching each loss at each P (closed form); NaN at or below E.
    fn params_for<'py>(
        &self,
        py: Python<'py>,
        loss: PyReadonlyArray1<'py, f64>,
        streams: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (l, p) = (loss.as_slice()?, streams.as_slice()?);
        let len = l.len();
        let out = enter(py, Work::Batch(len), || {
            let mut out = Vec::with_capacity(len);
            for (i, (&l, &p)) in l.iter().zip(p).enumerate() {
                crate::cancel::poll(i)?;
                let at = element(i, len);
                scaleplan_core::error::check::positive("loss", l).map_err(&at)?;
                scaleplan_core::laws::check_streams("streams", &[p]).map_err(&at)?;
                out.push(self.0.params_for(l, p).unwrap_or(f64::NAN));
            }
            Ok(out)
        })?;
        Ok(out.into_pyarray(py))
    }
}

/// A parallel-scaling law of the catalog by name.
#[pyfunction]
fn parscale_law(py: Python<'_>, catalog: &PyCatalog, name: &str) -> PyResult<NativeParScaleLaw> {
    Ok(NativeParScaleLaw(
        catalog.0.parscale_law(name).py_err(py)?.clone(),
    ))
}

/// The names of the catalog's parallel-scaling laws.
#[pyfunction]
fn parscale_law_names(catalog: &PyCatalog) -> Vec<String> {
    catalog.0.parscale_laws.keys().cloned().collect()
}

/// `goal` is "target_loss" or "budget"; every array has the same length.
#[pyfunction]
#[pyo3(signature = (
    law, goal, values, prompt_tokens, gen_tokens, samples, *, catalog, family, hardware,
    attention, kv_budget, block_size, serving, streams, objective, max_latency_s, cancel=None
))]
#[allow(clippy::too_many_arguments)]
fn plan_parscale<'py>(
    py: Python<'py>,
    law: &NativeParScaleLaw,
    goal: &str,
    values: PyReadonlyArray1<'py, f64>,
    prompt_tokens: PyReadonlyArray1<'py, f64>,
    gen_tokens: PyReadonlyArray1<'py, f64>,
    samples: PyReadonlyArray1<'py, f64>,
    catalog: &PyCatalog,
    family: &str,
    hardware: &NativeHardware,
    attention: &str,
    kv_budget: Option<f64>,
    block_size: Option<f64>,
    serving: &Serving,
    streams: Vec<f64>,
    objective: &str,
    max_latency_s: Option<f64>,
    cancel: Option<&CancelToken>,
) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
    let by_target = match goal {
        "target_loss" => true,
        "budget" => false,
        _ => {
            return Err(to_py(
                py,
                PlanError::invalid("goal", format!("unknown goal '{goal}'")),
            ))
        }
    };
    let family = catalog.0.family(family).py_err(py)?;
    let base = StreamOptions {
        family: FamilyShapes::new(&catalog.0, family).py_err(py)?,
        hardware: hardware.0.clone(),
        serving: serving.0,
        attention: Attention::from_parts(attention, kv_budget, block_size).py_err(py)?,
        prompt_tokens: 0.0,
        gen_tokens: 1.0,
        samples: 1.0,
        streams,
        objective: StreamObjective::parse(objective).py_err(py)?,
        max_latency_s,
    };
    let values = values.as_slice()?;
    let (prompt, gen, samples) = (
        prompt_tokens.as_slice()?,
        gen_tokens.as_slice()?,
        samples.as_slice()?,
    );
    let n = values.len();
    if [prompt.len(), gen.len(), samples.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(to_py(
            py,
            PlanError::invalid("prompt_tokens", "arrays differ in length"),
        ));
    }
    let law = &law.0;
    let cols = enter(py, Work::Plan(cancel), || {
        let width = parscale_plan::WIDTH;
        let mut cols = Columns::new(width + extrapolation_fields().len(), n);
        let mut opt = base.clone();
        for i in 0..n {
            let goal = if by_target {
                StreamGoal::TargetLoss(values[i])
            } else {
                StreamGoal::Budget(values[i])
            };
            opt.prompt_tokens = prompt[i];
            opt.gen_tokens = gen[i];
            opt.samples = samples[i];
            let p = plan_streams(law, goal, &opt).map_err(element(i, n))?;
            cols.set(i, &parscale_plan::row(&p));
            cols.set_from(i, width, &extrapolation_row(&p.extrapolated));
        }
        Ok(cols)
    })?;
    Ok(cols.into_arrays(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "PARSCALE_PLAN_FIELDS",
        with_extrapolation(&parscale_plan::columns()),
    )?;
    m.add("PARSCALE_STREAMS", PARSCALE_STREAMS.to_vec())?;
    m.add("PARSCALE_MIN_PARAMS", STREAM_MIN_PARAMS)?;
    m.add("PARSCALE_MAX_PARAMS", STREAM_MAX_PARAMS)?;
    m.add_class::<NativeParScaleLaw>()?;
    m.add_function(wrap_pyfunction!(parscale_law, m)?)?;
    m.add_function(wrap_pyfunction!(parscale_law_names, m)?)?;
    m.add_function(wrap_pyfunction!(plan_parscale, m)?)?;
    Ok(())
}
