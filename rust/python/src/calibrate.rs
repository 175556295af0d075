//! Calibrating a hardware entry from serving runs (docs/calibration.md): arrays in, a dict of
//! the fit out, computed in Rust with the GIL released.

use numpy::{PyArray1, PyArray2, PyReadonlyArray1};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use scaleplan_core::calibrate::{
    bootstrap as core_bootstrap, calibrate as core_calibrate, ServingRun, PARAMETERS,
};
use scaleplan_core::PlanError;

use crate::cancel::CancelToken;
use crate::catalog::{NativeHardware, NativeModel};
use crate::errors::IntoPyResult;

/// The fit as a dict (keys documented in `_core.pyi`); with `bootstrap` > 0 also the
/// parameters refitted on that many resamples of the runs (`samples`, `bootstrap_failed`).
#[pyfunction]
#[pyo3(signature = (
    hardware, models, batch, prompt_tokens, gen_tokens, gpus, ttft_s, tpot_s, *, name=None,
    bootstrap=0, seed=0, cancel=None
))]
#[allow(clippy::too_many_arguments)]
fn calibrate<'py>(
    py: Python<'py>,
    hardware: &NativeHardware,
    models: Vec<PyRef<'py, NativeModel>>,
    batch: PyReadonlyArray1<'py, f64>,
    prompt_tokens: PyReadonlyArray1<'py, f64>,
    gen_tokens: PyReadonlyArray1<'py, f64>,
    gpus: PyReadonlyArray1<'py, f64>,
    ttft_s: PyReadonlyArray1<'py, f64>,
    tpot_s: PyReadonlyArray1<'py, f64>,
    name: Option<&str>,
    bootstrap: usize,
    seed: u64,
    cancel: Option<&CancelToken>,
) -> PyResult<Bound<'py, PyDict>> {
    let cols = [
        ("batch", batch.as_slice()?),
        ("prompt_tokens", prompt_tokens.as_slice()?),
        ("gen_tokens", gen_tokens.as_slice()?),
        ("gpus", gpus.as_slice()?),
        ("ttft_s", ttft_s.as_slice()?),
        ("tpot_s", tpot_s.as_slice()?),
    ];
    let n = models.len();
    for (field, col) in &cols {
        if col.len() != n {
            return Err(PlanError::invalid(
                *field,
                format!("has {} values for {n} runs", col.len()),
            ))
            .py_err(py);
        }
    }
    let owned: Vec<scaleplan_core::Model> = models.iter().map(|m| m.0.clone()).collect();
    let runs: Vec<ServingRun> = (0..n)
        .map(|i| ServingRun {
            model: &owned[i],
            batch: cols[0].1[i],
            prompt_tokens: cols[1].1[i],
            gen_tokens: cols[2].1[i],
            gpus: cols[3].1[i],
            ttft_s: cols[4].1[i],
            tpot_s: cols[5].1[i],
        })
        .collect();
    let hw = &hardware.0;
    let work = if bootstrap > 0 {
        crate::Work::Plan(cancel)
    } else {
        crate::Work::Batch(n)
    };
    let (fit, boot) = crate::enter(py, work, || {
        let fit = core_calibrate(hw, &runs, name)?;
        let boot = core_bootstrap(hw, &runs, bootstrap, seed)?;
        Ok((fit, boot))
    })?;
    let rows: Vec<Vec<f64>> = boot.samples.iter().map(|p| p.to_vec()).collect();
    let samples = if rows.is_empty() {
        PyArray2::zeros(py, [0, PARAMETERS.len()], false)
    } else {
        PyArray2::from_vec2(py, &rows)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?
    };
    let out = PyDict::new(py);
    out.set_item("hardware", NativeHardware(fit.hardware))?;
    out.set_item("names", PARAMETERS.to_vec())?;
    out.set_item("parameters", fit.parameters.to_vec())?;
    out.set_item("stderr", fit.stderr.to_vec())?;
    out.set_item("at_bound", fit.at_bound.to_vec())?;
    out.set_item(
        "ttft_predicted_s",
        PyArray1::from_vec(py, fit.ttft_predicted_s),
    )?;
    out.set_item(
        "tpot_predicted_s",
        PyArray1::from_vec(py, fit.tpot_predicted_s),
    )?;
    out.set_item("ttft_relative", PyArray1::from_vec(py, fit.ttft_relative))?;
    out.set_item("tpot_relative", PyArray1::from_vec(py, fit.tpot_relative))?;
    out.set_item("prefill_compute_bound", fit.prefill_compute_bound)?;
    out.set_item("rms_relative_error", fit.rms_relative_error)?;
    out.set_item("n_runs", fit.n_runs)?;
    out.set_item("samples", samples)?;
    out.set_item("bootstrap_failed", boot.failed)?;
    Ok(out)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(calibrate, m)?)?;
    m.add("CALIBRATE_MAX_RUNS", scaleplan_core::calibrate::MAX_RUNS)?;
    m.add(
        "CALIBRATE_MAX_BOOTSTRAP",
        scaleplan_core::calibrate::MAX_BOOTSTRAP,
    )?;
    Ok(())
}
