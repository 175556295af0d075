//! Vectorised cost entry points: equal-length float64 arrays in (the façade broadcasts), one
//! float64 array of n per result field out (`convert::Columns`), the loop run in Rust with the
//! GIL released (docs/architecture.md).

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use scaleplan_core::{
    training_cost as core_training_cost, Attention, Batch, Binding, Dtype, InferenceOptions,
    InferenceQuery, PlanError, Pricer, TrainingOptions,
};

use crate::cancel::{poll, Partial};
use crate::catalog::{NativeHardware, NativeModel};
use crate::convert::{Columns, Serving};
use crate::errors::{element, to_py, IntoPyResult};
use crate::schema;
use crate::{enter, Work};

fn slice<'a>(
    field: &str,
    a: &'a PyReadonlyArray1<'_, f64>,
    n: usize,
) -> Result<&'a [f64], PlanError> {
    let s = a
        .as_slice()
        .map_err(|_| PlanError::invalid(field, "must be a contiguous float64 array"))?;
    if s.len() != n {
        return Err(PlanError::invalid(
            field,
            format!("has {} elements where the other arrays have {n}", s.len()),
        ));
    }
    Ok(s)
}

fn opt_slice<'a>(
    field: &str,
    a: &'a Option<PyReadonlyArray1<'_, f64>>,
    n: usize,
) -> Result<Option<&'a [f64]>, PlanError> {
    a.as_ref().map(|a| slice(field, a, n)).transpose()
}

#[pyfunction]
#[pyo3(signature = (
    model, hardware, prompt_tokens, gen_tokens, samples, kv_budget, block_size, batch_size, *,
    attention, serving
))]
#[allow(clippy::too_many_arguments)]
fn inference_cost<'py>(
    py: Python<'py>,
    model: &NativeModel,
    hardware: &NativeHardware,
    prompt_tokens: PyReadonlyArray1<'py, f64>,
    gen_tokens: PyReadonlyArray1<'py, f64>,
    samples: PyReadonlyArray1<'py, f64>,
    kv_budget: Option<PyReadonlyArray1<'py, f64>>,
    block_size: Option<PyReadonlyArray1<'py, f64>>,
    batch_size: Option<PyReadonlyArray1<'py, f64>>,
    attention: &str,
    serving: &Serving,
) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
    let n = prompt_tokens.len()?;
    let prompt = slice("prompt_tokens", &prompt_tokens, n).py_err(py)?;
    let gen = slice("gen_tokens", &gen_tokens, n).py_err(py)?;
    let k = slice("samples", &samples, n).py_err(py)?;
    let budget = opt_slice("kv_budget", &kv_budget, n).py_err(py)?;
    let block = opt_slice("block_size", &block_size, n).py_err(py)?;
    let batch_sizes = opt_slice("batch", &batch_size, n).py_err(py)?;
    // Parse the kind once with placeholder parameters; each element fills in its own below.
    let kind =
        Attention::from_parts(attention, budget.map(|_| 1.0), block.map(|_| 1.0)).py_err(py)?;
    let options = serving.0;
    if batch_sizes.is_some() != matches!(options.batch, Batch::Fixed(_)) {
        let reason = "per-configuration batch sizes go with the fixed batch mode";
        return Err(to_py(py, PlanError::invalid("batch", reason)));
    }
    let pricer = Pricer::new(&model.0, &hardware.0, &options).py_err(py)?;
    let fixed_batch = |b: f64| -> Result<Pricer, PlanError> {
        Pricer::new(
            &model.0,
            &hardware.0,
            &InferenceOptions {
                batch: Batch::Fixed(b),
                ..options
            },
        )
    };
    let out = enter(py, Work::Batch(n), || {
        let mut out = Partial::new(Columns::new(schema::inference_cost::WIDTH, n));
        for i in 0..n {
            poll(i)?;
            let attention = match kind {
                Attention::Dense => Attention::Dense,
                Attention::TopK { .. } => Attention::TopK {
                    budget: budget.map_or(0.0, |b| b[i]),
                },
                Attention::BlockTopK { .. } => Attention::BlockTopK {
                    budget: budget.map_or(0.0, |b| b[i]),
                    block_size: block.map_or(0.0, |b| b[i]),
                },
            };
            let q = InferenceQuery {
                prompt_tokens: prompt[i],
                gen_tokens: gen[i],
                samples: k[i],
                attention,
            };
            let c = match batch_sizes {
                Some(b) => fixed_batch(b[i]).and_then(|p| p.price(&q)),
                None => pricer.price(&q),
            }
            .map_err(element(i, n))?;
            out.set(i, &schema::inference_cost::row(&c));
        }
        Ok(out.into_inner())
    })?;
    Ok(out.into_arrays(py))
}

/// Returns one array per field and whether the `usd` row is meaningful (a price is known).
#[pyfunction]
#[pyo3(signature = (model, hardware, tokens, *, gpus, mfu, seq_len, compute_dtype))]
#[allow(clippy::too_many_arguments)]
fn training_cost<'py>(
    py: Python<'py>,
    model: &NativeModel,
    hardware: &NativeHardware,
    tokens: PyReadonlyArray1<'py, f64>,
    gpus: f64,
    mfu: Option<f64>,
    seq_len: Option<f64>,
    compute_dtype: &str,
) -> PyResult<(Vec<Bound<'py, PyArray1<f64>>>, bool)> {
    let n = tokens.len()?;
    let tokens = slice("tokens", &tokens, n).py_err(py)?;
    let opt = TrainingOptions {
        gpus,
        mfu,
        seq_len,
        compute_dtype: Dtype::parse("compute_dtype", compute_dtype).py_err(py)?,
    };
    let (m, hw) = (&model.0, &hardware.0);
    let out = enter(py, Work::Batch(n), || {
        let mut out = Partial::new(Columns::new(schema::training_cost::WIDTH, n));
        for (i, &d) in tokens.iter().enumerate() {
            poll(i)?;
            let c = core_training_cost(m, hw, d, &opt).map_err(element(i, n))?;
            out.set(i, &schema::training_cost::row(&c));
        }
        Ok(out.into_inner())
    })?;
    Ok((out.into_arrays(py), hw.usd_per_hour.is_some()))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("INFERENCE_COST_FIELDS", schema::inference_cost::columns())?;
    m.add("TRAINING_COST_FIELDS", schema::training_cost::columns())?;
    // C = 6*N*D's 6 (docs/design.md#training), so Python code never writes it again.
    m.add(
        "TRAIN_FLOPS_PER_PARAM_TOKEN",
        scaleplan_core::cost::TRAIN_FLOPS_PER_PARAM_TOKEN,
    )?;
    m.add(
        "BINDINGS",
        Binding::ALL.iter().map(|b| b.name()).collect::<Vec<_>>(),
    )?;
    m.add_function(wrap_pyfunction!(inference_cost, m)?)?;
    m.add_function(wrap_pyfunction!(training_cost, m)?)?;
    Ok(())
}
