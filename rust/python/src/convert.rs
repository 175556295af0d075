//! Conversions every entry point shares: the serving options of `scaleplan.Serving` (its one
//! translation into the core, docs/planning.md "Serving options"), and result columns handed
//! to numpy without copying.

use numpy::{IntoPyArray, PyArray1};
use pyo3::prelude::*;
use scaleplan_core::cost::{Batch, FamilyShapes, InferenceOptions, PrefillMode, TimeModel};
use scaleplan_core::laws::{Extrapolated, Variable};
use scaleplan_core::{Dtype, PlanError};

use crate::errors::IntoPyResult;

/// Inference options from `scaleplan.Serving`'s forms; `batch` is "unset" (weight reads
/// amortised), "max" or "fixed" (with `batch_size`).
#[allow(clippy::too_many_arguments)]
fn inference_options(
    batch: &str,
    batch_size: Option<f64>,
    prefix_sharing: bool,
    prefill: bool,
    prefill_mode: &str,
    time_model: &str,
    weight_dtype: &str,
    kv_dtype: &str,
    compute_dtype: &str,
    gpus: f64,
) -> Result<InferenceOptions, PlanError> {
    let batch = match (batch, batch_size) {
        ("unset", None) => Batch::Amortized,
        ("max", None) => Batch::Max,
        ("fixed", Some(b)) => Batch::Fixed(b),
        _ => {
            return Err(PlanError::invalid(
                "batch",
                format!("unknown batch mode '{batch}' (expected unset, max or fixed with a size)"),
            ))
        }
    };
    let options = InferenceOptions {
        prefix_sharing,
        prefill,
        prefill_mode: PrefillMode::parse(prefill_mode)?,
        batch,
        time_model: TimeModel::parse(time_model)?,
        weight_dtype: Dtype::parse("weight_dtype", weight_dtype)?,
        kv_dtype: Dtype::parse("kv_dtype", kv_dtype)?,
        compute_dtype: Dtype::parse("compute_dtype", compute_dtype)?,
        gpus,
        fractional_batch: false,
    };
    options.validate()?;
    Ok(options)
}

/// Serving options (batch, prefix sharing, prefill and its mode, time model, dtypes, GPUs), checked once and
/// passed to every entry point that prices inference.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct Serving(pub InferenceOptions);

#[pymethods]
impl Serving {
    #[new]
    #[pyo3(signature = (
        *, batch, batch_size, prefix_sharing, prefill, time_model, weight_dtype, kv_dtype,
        compute_dtype, gpus, prefill_mode = "per_query"
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        batch: &str,
        batch_size: Option<f64>,
        prefix_sharing: bool,
        prefill: bool,
        time_model: &str,
        weight_dtype: &str,
        kv_dtype: &str,
        compute_dtype: &str,
        gpus: f64,
        prefill_mode: &str,
    ) -> PyResult<Self> {
        let options = inference_options(
            batch,
            batch_size,
            prefix_sharing,
            prefill,
            prefill_mode,
            time_model,
            weight_dtype,
            kv_dtype,
            compute_dtype,
            gpus,
        );
        Ok(Serving(options.py_err(py)?))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<Serving>()
}

/// One vector per result field. Separate allocations of n floats (not one of fields x n) keep
/// each below glibc's mmap threshold, so repeated calls reuse memory instead of page-faulting.
pub struct Columns(Vec<Vec<f64>>);

impl Columns {
    pub fn new(fields: usize, n: usize) -> Self {
        Columns((0..fields).map(|_| vec![0.0; n]).collect())
    }

    #[inline]
    pub fn set(&mut self, i: usize, row: &[f64]) {
        self.set_from(i, 0, row);
    }

    /// Row `i` of the columns from `start` on.
    #[inline]
    pub fn set_from(&mut self, i: usize, start: usize, row: &[f64]) {
        for (column, &v) in self.0[start..].iter_mut().zip(row) {
            column[i] = v;
        }
    }

    pub fn into_arrays(self, py: Python<'_>) -> Vec<Bound<'_, PyArray1<f64>>> {
        self.0.into_iter().map(|c| c.into_pyarray(py)).collect()
    }
}

/// The shape a family's smooth rule implies at a plan's size; NaN (not applicable) for an
/// infeasible plan, as its other fields, or where no family prices the plan.
pub fn shape_row(family: Option<&FamilyShapes>, params: f64, feasible: bool) -> [f64; 4] {
    match family {
        Some(f) if feasible && params > 0.0 => {
            let s = f.implied(params);
            [s.layers, s.query_heads, s.kv_heads, s.head_dim]
        }
        _ => [f64::NAN; 4],
    }
}

/// A boolean as the 0/1 the result columns carry.
pub fn flag(b: bool) -> f64 {
    f64::from(u8::from(b))
}

/// What each variable's extrapolation columns hold, in order.
const EXTRAPOLATION_PARTS: [&str; 3] = ["value", "bound", "factor"];

/// Columns a plan's `extrapolated` field travels in, after the plan's own fields: for each
/// variable of `Variable::ALL`, "extrapolated:<variable>:<part>" (NaN where in range).
pub fn extrapolation_fields() -> Vec<String> {
    Variable::ALL
        .iter()
        .flat_map(|v| {
            EXTRAPOLATION_PARTS
                .iter()
                .map(move |part| format!("extrapolated:{}:{part}", v.name()))
        })
        .collect()
}

/// A plan's fields followed by its extrapolation columns.
pub fn with_extrapolation(fields: &[&str]) -> Vec<String> {
    let mut out: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    out.extend(extrapolation_fields());
    out
}

/// The values of `extrapolation_fields` for one plan.
pub fn extrapolation_row(e: &Extrapolated) -> [f64; 3 * Variable::ALL.len()] {
    let mut row = [f64::NAN; 3 * Variable::ALL.len()];
    for (i, v) in Variable::ALL.iter().enumerate() {
        if let Some(x) = e.get(*v) {
            row[3 * i..3 * i + 3].copy_from_slice(&[x.value, x.bound, x.factor]);
        }
    }
    row
}
