//! Catalog access. Entries cross the boundary as JSON (serde is the single definition of their
//! fields); the typed Python dataclasses are built from it in the façade.

use pyo3::prelude::*;
use scaleplan_core::catalog::entry_from_json;
use scaleplan_core::error::check;
use scaleplan_core::laws::{DataLimit, LossLaw};
use scaleplan_core::{Catalog, Hardware, Model, PlanError};

use crate::errors::IntoPyResult;

/// A validated model, opaque to Python; the façade's `Model` dataclass holds one.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct NativeModel(pub Model);

/// A validated hardware entry, opaque to Python; the façade's `Hardware` dataclass holds one.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct NativeHardware(pub Hardware);

/// A validated loss law, opaque to Python; the façade's `LossLaw` dataclass holds one.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct NativeLaw(pub LossLaw);

#[pymethods]
impl NativeLaw {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let law: LossLaw = entry_from_json(text).py_err(py)?;
        law.validate().py_err(py)?;
        Ok(NativeLaw(law))
    }

    fn to_json(&self) -> String {
        to_json(&self.0)
    }

    /// L(N, D) for equal-length arrays (D' under a data limit when `unique_tokens` is given).
    #[pyo3(signature = (params, tokens, unique_tokens=None, r_star=None))]
    fn loss<'py>(
        &self,
        py: Python<'py>,
        params: numpy::PyReadonlyArray1<'py, f64>,
        tokens: numpy::PyReadonlyArray1<'py, f64>,
        unique_tokens: Option<f64>,
        r_star: Option<f64>,
    ) -> PyResult<Bound<'py, numpy::PyArray1<f64>>> {
        use numpy::IntoPyArray;
        let data = unique_tokens
            .map(|u| DataLimit::new(u, Some(r_star.unwrap_or(self.0.default_r_star()))))
            .transpose()
            .py_err(py)?;
        let (n, d) = (params.as_slice()?, tokens.as_slice()?);
        let len = n.len();
        let out = crate::enter(py, crate::Work::Batch(len), || {
            let mut out = Vec::with_capacity(len);
            for (i, (&n, &d)) in n.iter().zip(d).enumerate() {
                crate::cancel::poll(i)?;
                let at = crate::errors::element(i, len);
                check::positive("params", n).map_err(&at)?;
                check::positive("tokens", d).map_err(&at)?;
                out.push(self.0.loss_limited(n, d, data.as_ref()));
            }
            Ok(out)
        })?;
        Ok(out.into_pyarray(py))
    }

    /// Task error at each loss, if the law carries an error law (else None).
    fn error_rate<'py>(
        &self,
        py: Python<'py>,
        loss: numpy::PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Option<Bound<'py, numpy::PyArray1<f64>>>> {
        use numpy::IntoPyArray;
        let Some(law) = self.0.error else {
            return Ok(None);
        };
        Ok(Some(
            loss.as_slice()?
                .iter()
                .map(|&l| law.error(l))
                .collect::<Vec<_>>()
                .into_pyarray(py),
        ))
    }
}

fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("catalog entries serialise to JSON")
}

#[pymethods]
impl NativeModel {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let model: Model = entry_from_json(text).py_err(py)?;
        model.validate().py_err(py)?;
        Ok(NativeModel(model))
    }

    /// Count parameters from a Hugging Face config.json (its text).
    #[staticmethod]
    fn from_hf_config(py: Python<'_>, name: &str, config_json: &str) -> PyResult<Self> {
        let value: serde_json::Value = serde_json::from_str(config_json)
            .map_err(|e| PlanError::invalid("config", e.to_string()))
            .py_err(py)?;
        Ok(NativeModel(Model::from_hf_config(name, &value).py_err(py)?))
    }

    fn to_json(&self) -> String {
        to_json(&self.0)
    }

    /// The model as a catalog file entry (`[[model]]`).
    fn to_toml(&self) -> String {
        scaleplan_core::catalog::model_toml(&self.0)
    }
}

#[pymethods]
impl NativeHardware {
    #[staticmethod]
    fn from_json(py: Python<'_>, text: &str) -> PyResult<Self> {
        let hw: Hardware = entry_from_json(text).py_err(py)?;
        hw.validate().py_err(py)?;
        Ok(NativeHardware(hw))
    }

    fn to_json(&self) -> String {
        to_json(&self.0)
    }

    /// The hardware as a catalog file entry (`[[hardware]]`).
    fn to_toml(&self) -> String {
        scaleplan_core::catalog::hardware_toml(&self.0)
    }
}

/// The shipped catalog plus user files.
#[pyclass(module = "scaleplan._core", name = "Catalog")]
pub struct PyCatalog(pub Catalog);

#[pymethods]
impl PyCatalog {
    /// The shipped catalog and the files listed in SCALEPLAN_CATALOG.
    #[staticmethod]
    fn from_env(py: Python<'_>) -> PyResult<Self> {
        Ok(PyCatalog(Catalog::from_env().py_err(py)?))
    }

    #[staticmethod]
    fn shipped() -> Self {
        PyCatalog(Catalog::shipped().clone())
    }

    fn add_file(&mut self, py: Python<'_>, path: std::path::PathBuf) -> PyResult<()> {
        self.0.add_file(&path).py_err(py)
    }

    #[pyo3(signature = (text, file = "<string>"))]
    fn add_toml(&mut self, py: Python<'_>, text: &str, file: &str) -> PyResult<()> {
        self.0.add_toml(file, text).py_err(py)
    }

    /// An independent copy (entries added to one do not reach the other).
    fn copy(&self) -> Self {
        PyCatalog(self.0.clone())
    }

    /// Add (or replace) one model under the catalog file's rules.
    fn register_model(&mut self, py: Python<'_>, model: &NativeModel) -> PyResult<()> {
        self.0.register_model(model.0.clone()).py_err(py)
    }

    /// Every entry as one catalog file.
    fn to_toml(&self) -> String {
        self.0.to_toml()
    }

    fn model(&self, py: Python<'_>, name: &str) -> PyResult<NativeModel> {
        Ok(NativeModel(self.0.model(name).py_err(py)?.clone()))
    }

    fn hardware(&self, py: Python<'_>, name: &str) -> PyResult<NativeHardware> {
        Ok(NativeHardware(self.0.hardware(name).py_err(py)?.clone()))
    }

    fn family(&self, py: Python<'_>, name: &str) -> PyResult<Vec<String>> {
        Ok(self.0.family(name).py_err(py)?.members.clone())
    }

    fn family_json(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        Ok(to_json(self.0.family(name).py_err(py)?))
    }

    fn hardware_names(&self) -> Vec<String> {
        self.0.hardware.keys().cloned().collect()
    }

    fn model_names(&self) -> Vec<String> {
        self.0.models.keys().cloned().collect()
    }

    fn family_names(&self) -> Vec<String> {
        self.0.families.keys().cloned().collect()
    }

    fn law(&self, py: Python<'_>, name: &str) -> PyResult<NativeLaw> {
        Ok(NativeLaw(self.0.law(name).py_err(py)?.clone()))
    }

    fn law_names(&self) -> Vec<String> {
        self.0.laws.keys().cloned().collect()
    }

    /// The accuracy presets of the test-time planner (`Accuracy.preset(name)`).
    fn accuracy_names(&self) -> Vec<String> {
        self.0.accuracy.keys().cloned().collect()
    }

    fn accuracy_json(&self, py: Python<'_>, name: &str) -> PyResult<String> {
        Ok(to_json(self.0.accuracy_preset(name).py_err(py)?))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<NativeModel>()?;
    m.add_class::<NativeLaw>()?;
    m.add_class::<NativeHardware>()?;
    m.add_class::<PyCatalog>()?;
    Ok(())
}
