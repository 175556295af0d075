//! Vectorised cost entry points: equal-length float64 arrays in (the façade broadcasts), one
//! float64 array of n per result field out (`convert::Columns`), the loop run in Rust with the
//! GIL released (docs/architecture.md).

use numpy::{PyArray1, PyArray2, PyArrayMethods, PyReadonlyArray1};
use pyo3::prelude::*;
use scaleplan_core::{
    training_cost as core_training_cost, Attention, Batch, Binding, Dtype, InferenceQuery,
    PlanError, Pricer, QueryColumns, TrainingOptions,
};

use crate::cancel::{poll, Partial, POLL_EVERY};
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

/// The rows `fields` asks for (indices into the schema's columns; all of them when None).
fn field_rows(fields: Option<Vec<usize>>) -> Result<Vec<usize>, PlanError> {
    let width = schema::inference_cost::WIDTH;
    let rows = fields.unwrap_or_else(|| (0..width).collect());
    if let Some(&bad) = rows.iter().find(|&&f| f >= width) {
        return Err(PlanError::invalid(
            "fields",
            format!("field index {bad} is out of range (there are {width} fields)"),
        ));
    }
    Ok(rows)
}

/// The (rows x n) output: `out` when given (checked: float64, C-contiguous, that shape, writable),
/// else a fresh array numpy allocates (so large outputs get its huge-page-aware allocator, where
/// Rust vectors page-faulted on every 4 KiB: docs/architecture.md, "The cost kernel").
fn output<'py>(
    py: Python<'py>,
    out: Option<Bound<'py, PyAny>>,
    rows: usize,
    n: usize,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let Some(out) = out else {
        // SAFETY: every element is written by the kernel before the array is returned; on an
        // error the array is dropped unread.
        return Ok(unsafe { PyArray2::<f64>::new(py, [rows, n], false) });
    };
    let bad = |reason: String| to_py(py, PlanError::invalid("out", reason));
    let Ok(array) = out.cast_into::<PyArray2<f64>>() else {
        return Err(bad(format!(
            "expected a 2-D float64 numpy array of shape ({rows}, {n})"
        )));
    };
    use numpy::PyUntypedArrayMethods;
    if array.shape() != [rows, n] {
        return Err(bad(format!(
            "has shape {:?} where ({rows}, {n}) is needed (fields x configurations)",
            array.shape()
        )));
    }
    if !array.is_c_contiguous() {
        return Err(bad("must be C-contiguous".to_string()));
    }
    Ok(array)
}

/// Outputs of at least this many bytes are written with streaming (non-temporal) stores: far
/// larger than the caches, they would otherwise cost a read of every output line before its
/// write (docs/architecture.md, "The cost kernel").
const STREAM_BYTES: usize = 8 << 20;

/// `dst.copy_from_slice(src)`; with `stream`, through streaming stores (x86-64: `movntpd` on
/// the 16-byte-aligned part, plain stores at the ends). [`fence`] orders them before the
/// result is handed back.
#[inline(always)]
fn copy(dst: &mut [f64], src: &[f64], stream: bool) {
    #[cfg(target_arch = "x86_64")]
    if stream {
        use std::arch::x86_64::{_mm_loadu_pd, _mm_stream_pd};
        let len = dst.len().min(src.len());
        let head = (dst.as_ptr().align_offset(16)).min(len);
        dst[..head].copy_from_slice(&src[..head]);
        let mut i = head;
        while i + 2 <= len {
            // SAFETY: i + 2 <= len, both slices hold len elements; dst + i is 16-byte aligned
            // (head aligned it and each step is 16 bytes); SSE2 is in the x86-64 baseline.
            unsafe { _mm_stream_pd(dst.as_mut_ptr().add(i), _mm_loadu_pd(src.as_ptr().add(i))) };
            i += 2;
        }
        dst[i..len].copy_from_slice(&src[i..len]);
        return;
    }
    let _ = stream;
    dst.copy_from_slice(src);
}

/// After streaming stores: make them visible before any later store (the hand-back).
#[inline]
fn fence(stream: bool) {
    #[cfg(target_arch = "x86_64")]
    if stream {
        // SAFETY: SSE is in the x86-64 baseline.
        unsafe { std::arch::x86_64::_mm_sfence() };
    }
    let _ = stream;
}

#[pyfunction]
#[pyo3(signature = (
    model, hardware, prompt_tokens, gen_tokens, samples, kv_budget, block_size, batch_size, *,
    attention, serving, fields=None, out=None, streams=1.0
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
    fields: Option<Vec<usize>>,
    out: Option<Bound<'py, PyAny>>,
    streams: f64,
) -> PyResult<Bound<'py, PyArray2<f64>>> {
    let n = prompt_tokens.len()?;
    let prompt = slice("prompt_tokens", &prompt_tokens, n).py_err(py)?;
    let gen = slice("gen_tokens", &gen_tokens, n).py_err(py)?;
    let k = slice("samples", &samples, n).py_err(py)?;
    let budget = opt_slice("kv_budget", &kv_budget, n).py_err(py)?;
    let block = opt_slice("block_size", &block_size, n).py_err(py)?;
    let batch_sizes = opt_slice("batch", &batch_size, n).py_err(py)?;
    let rows = field_rows(fields).py_err(py)?;
    // Parse the kind once with placeholder parameters; each element fills in its own.
    let kind =
        Attention::from_parts(attention, budget.map(|_| 1.0), block.map(|_| 1.0)).py_err(py)?;
    let options = serving.0;
    if batch_sizes.is_some() != matches!(options.batch, Batch::Fixed(_)) {
        let reason = "per-configuration batch sizes go with the fixed batch mode";
        return Err(to_py(py, PlanError::invalid("batch", reason)));
    }
    let pricer = Pricer::new(&model.0, &hardware.0, &options)
        .and_then(|p| p.with_streams(streams))
        .py_err(py)?;
    let array = output(py, out, rows.len(), n)?;
    // Held to the end: numpy's borrow tracking refuses an `out` that is read-only or shares
    // memory with an input (borrowed read-only above).
    let mut writer = array.try_readwrite().map_err(|_| {
        let reason = "must be writable and must not share memory with the inputs";
        to_py(py, PlanError::invalid("out", reason))
    })?;
    let buffer = writer
        .as_slice_mut()
        .map_err(|_| to_py(py, PlanError::invalid("out", "must be C-contiguous")))?;
    let columns = QueryColumns {
        prompt_tokens: prompt,
        gen_tokens: gen,
        samples: k,
        kv_budget: budget,
        block_size: block,
        batch: batch_sizes,
    };
    enter(py, Work::Batch(n), || {
        let checked = pricer
            .check_columns(columns, kind)
            .map_err(|(i, e)| element(i, n)(e))?;
        debug_assert_eq!(buffer.len(), rows.len() * n);
        // The kernel prices a chunk into its own field-major buffer; each asked field's run of
        // the chunk is then one copy into its row of the output, with streaming stores where
        // the output is too large to stay in cache.
        let stream = buffer.len() * 8 >= STREAM_BYTES;
        let mut start = 0;
        while start < n {
            poll(start)?;
            let end = (start + POLL_EVERY).min(n);
            pricer.price_rows(
                &checked,
                start..end,
                schema::inference_cost::row,
                |first, chunk, len| {
                    for (j, &f) in rows.iter().enumerate() {
                        let at = j * n + first;
                        copy(&mut buffer[at..at + len], &chunk[f][..len], stream);
                    }
                },
            );
            start = end;
        }
        fence(stream);
        Ok(())
    })?;
    drop(writer);
    Ok(array)
}

/// One configuration of plain numbers: the schema's row of its cost, as floats. The façade's
/// path for scalar arguments (no arrays to build or read back).
#[pyfunction]
#[pyo3(signature = (
    model, hardware, prompt_tokens, gen_tokens, samples, kv_budget, block_size, *, attention,
    serving, streams=1.0
))]
#[allow(clippy::too_many_arguments)]
fn inference_cost_one(
    py: Python<'_>,
    model: &NativeModel,
    hardware: &NativeHardware,
    prompt_tokens: f64,
    gen_tokens: f64,
    samples: f64,
    kv_budget: Option<f64>,
    block_size: Option<f64>,
    attention: &str,
    serving: &Serving,
    streams: f64,
) -> PyResult<Vec<f64>> {
    // The kind parsed as the array path does, so `price` checks the numbers in the same order.
    let kind = Attention::from_parts(attention, kv_budget.map(|_| 1.0), block_size.map(|_| 1.0))
        .py_err(py)?;
    let q = InferenceQuery {
        prompt_tokens,
        gen_tokens,
        samples,
        attention: match kind {
            Attention::Dense => Attention::Dense,
            Attention::TopK { .. } => Attention::TopK {
                budget: kv_budget.unwrap_or(0.0),
            },
            Attention::BlockTopK { .. } => Attention::BlockTopK {
                budget: kv_budget.unwrap_or(0.0),
                block_size: block_size.unwrap_or(0.0),
            },
        },
    };
    let options = serving.0;
    enter(py, Work::Batch(1), || {
        let c = Pricer::new(&model.0, &hardware.0, &options)?
            .with_streams(streams)?
            .price(&q)?;
        Ok(schema::inference_cost::row(&c).to_vec())
    })
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
    m.add_function(wrap_pyfunction!(inference_cost_one, m)?)?;
    m.add_function(wrap_pyfunction!(training_cost, m)?)?;
    Ok(())
}
