//! Planner entry points: goal arrays in, one array per plan field out, solved in Rust with the
//! GIL released.

use numpy::{PyArray1, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use scaleplan_core::cost::{Attention, FamilyShapes};
use scaleplan_core::laws::progress::{HO2024, MAX_START_IN_MONTHS};
use scaleplan_core::laws::{DataLimit, LossLaw, Variable};
use scaleplan_core::plan::uncertainty::per_sample;
use scaleplan_core::plan::{
    plan_lifetime as core_plan_lifetime, plan_training_budget_at, plan_training_target_at,
    Constraint, CostUnit, Demand, InferencePricing, LifetimeGoal, LifetimeOptions,
};
use scaleplan_core::PlanError;

use crate::cancel::CancelToken;
use crate::catalog::{NativeHardware, NativeLaw, PyCatalog};
use crate::convert::{
    extrapolation_fields, extrapolation_row, shape_row, with_extrapolation, Columns, Serving,
};
use crate::errors::{element, to_py, IntoPyResult};
use crate::schema::{lifetime_plan, training_plan};
use crate::uncertainty::laws_of;
use crate::{enter, Work};

/// The data limit of a request; R*_D defaults to the law's own (`LossLaw::default_r_star`:
/// under a muennighoff fit's samples, each sample law's own, docs/uncertainty.md).
fn data_limit(
    law: &LossLaw,
    unique_tokens: Option<f64>,
    r_star: Option<f64>,
) -> Result<Option<DataLimit>, PlanError> {
    match (unique_tokens, r_star) {
        (Some(u), r) => DataLimit::new(u, Some(r.unwrap_or(law.default_r_star()))).map(Some),
        (None, Some(_)) => Err(PlanError::invalid(
            "r_star",
            "applies only with unique_tokens",
        )),
        (None, None) => Ok(None),
    }
}

/// `goal` is "budget_flops" or "target_loss"; `values` the budgets or targets; the run starts
/// `start_in_months` from now (algorithmic progress: `scaleplan_core::laws::progress`). With
/// `law_samples` (rows E, A, B, alpha, beta), the plans under each sample's law instead
/// (docs/uncertainty.md): columns of samples x goals, sample-major.
#[pyfunction]
#[pyo3(signature = (law, goal, values, *, unique_tokens, r_star, start_in_months=0.0, cancel=None, law_samples=None))]
#[allow(clippy::too_many_arguments)]
fn plan_training<'py>(
    py: Python<'py>,
    law: &NativeLaw,
    goal: &str,
    values: PyReadonlyArray1<'py, f64>,
    unique_tokens: Option<f64>,
    r_star: Option<f64>,
    start_in_months: f64,
    cancel: Option<&CancelToken>,
    law_samples: Option<PyReadonlyArray2<'py, f64>>,
) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
    let laws = laws_of(py, &law.0, law_samples)?;
    let data = data_limit(&law.0, unique_tokens, r_star).py_err(py)?;
    let values = values.as_slice()?;
    let by_budget = match goal {
        "budget_flops" => true,
        "target_loss" => false,
        _ => {
            return Err(to_py(
                py,
                PlanError::invalid("goal", format!("unknown goal '{goal}'")),
            ))
        }
    };
    let law = &law.0;
    let n = values.len();
    let plan_one = |law: &LossLaw, i: usize| {
        // A sample law with its own R*_D (the muennighoff form) limits the data by it.
        let own = match (&data, law.repetition) {
            (Some(_), Some(_)) if r_star.is_none() => data_limit(law, unique_tokens, None)?,
            _ => data,
        };
        if by_budget {
            plan_training_budget_at(law, values[i], own.as_ref(), &HO2024, start_in_months)
        } else {
            plan_training_target_at(law, values[i], own.as_ref(), &HO2024, start_in_months)
        }
    };
    let cols = enter(py, Work::Plan(cancel), || {
        let width = training_plan::WIDTH;
        let plans = match &laws {
            Some(laws) => per_sample(laws, n, plan_one)?,
            None => (0..n)
                .map(|i| plan_one(law, i).map_err(element(i, n)))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let mut cols = Columns::new(width + extrapolation_fields().len(), plans.len());
        for (i, plan) in plans.iter().enumerate() {
            cols.set(i, &training_plan::row(plan));
            cols.set_from(i, width, &extrapolation_row(&plan.extrapolated));
        }
        Ok(cols)
    })?;
    Ok(cols.into_arrays(py))
}

/// Inference priced with the cost model of docs/design.md#inference (absent: 2N FLOPs per token).
#[pyclass(frozen, module = "scaleplan._core")]
pub struct CostModelPricing(InferencePricing);

#[pymethods]
impl CostModelPricing {
    #[new]
    #[pyo3(signature = (catalog, family, hardware, *, attention, kv_budget, block_size, serving))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        catalog: &PyCatalog,
        family: &str,
        hardware: &NativeHardware,
        attention: &str,
        kv_budget: Option<f64>,
        block_size: Option<f64>,
        serving: &Serving,
    ) -> PyResult<Self> {
        let family = catalog.0.family(family).py_err(py)?;
        Ok(CostModelPricing(InferencePricing::CostModel {
            family: FamilyShapes::new(&catalog.0, family).py_err(py)?,
            hardware: hardware.0.clone(),
            options: serving.0,
            attention: Attention::from_parts(attention, kv_budget, block_size).py_err(py)?,
        }))
    }
}

/// `goal` is "target_loss" or "budget"; every array has the same length. With `law_samples`,
/// the plans under each sample's law instead (as `plan_training`).
#[pyfunction]
#[pyo3(signature = (
    law, goal, values, queries, prompt_tokens, gen_tokens, samples, *, pricing, unit,
    train_hardware, train_mfu, train_usd_per_hour, infer_usd_per_hour, unique_tokens, r_star,
    min_params, max_params, auto_gpus = false, cancel=None, law_samples=None
))]
#[allow(clippy::too_many_arguments)]
fn plan_lifetime<'py>(
    py: Python<'py>,
    law: &NativeLaw,
    goal: &str,
    values: PyReadonlyArray1<'py, f64>,
    queries: PyReadonlyArray1<'py, f64>,
    prompt_tokens: PyReadonlyArray1<'py, f64>,
    gen_tokens: PyReadonlyArray1<'py, f64>,
    samples: PyReadonlyArray1<'py, f64>,
    pricing: Option<&CostModelPricing>,
    unit: &str,
    train_hardware: Option<&NativeHardware>,
    train_mfu: Option<f64>,
    train_usd_per_hour: Option<f64>,
    infer_usd_per_hour: Option<f64>,
    unique_tokens: Option<f64>,
    r_star: Option<f64>,
    min_params: Option<f64>,
    max_params: Option<f64>,
    auto_gpus: bool,
    cancel: Option<&CancelToken>,
    law_samples: Option<PyReadonlyArray2<'py, f64>>,
) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
    let laws = laws_of(py, &law.0, law_samples)?;
    let options = LifetimeOptions {
        pricing: pricing.map_or(InferencePricing::TwoN, |p| p.0.clone()),
        unit: CostUnit::parse(unit).py_err(py)?,
        train_hardware: train_hardware.map(|h| h.0.clone()),
        train_mfu,
        train_usd_per_hour,
        infer_usd_per_hour,
        data: data_limit(&law.0, unique_tokens, r_star).py_err(py)?,
        min_params,
        max_params,
        auto_gpus,
    };
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
    let (values, queries) = (values.as_slice()?, queries.as_slice()?);
    let (prompt, gen, samples) = (
        prompt_tokens.as_slice()?,
        gen_tokens.as_slice()?,
        samples.as_slice()?,
    );
    let n = values.len();
    if [queries.len(), prompt.len(), gen.len(), samples.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(to_py(
            py,
            PlanError::invalid("queries", "arrays differ in length"),
        ));
    }
    let law = &law.0;
    let family = match &options.pricing {
        InferencePricing::CostModel { family, .. } => Some(family),
        InferencePricing::TwoN => None,
    };
    let plan_one = |law: &LossLaw, i: usize| {
        let goal = if by_target {
            LifetimeGoal::TargetLoss(values[i])
        } else {
            LifetimeGoal::Budget(values[i])
        };
        let demand = Demand {
            queries: queries[i],
            prompt_tokens: prompt[i],
            gen_tokens: gen[i],
            samples: samples[i],
        };
        // A sample law with its own R*_D (the muennighoff form) limits the data by it.
        if options.data.is_some() && r_star.is_none() && law.repetition.is_some() {
            let own = LifetimeOptions {
                data: data_limit(law, unique_tokens, None)?,
                ..options.clone()
            };
            return core_plan_lifetime(law, goal, demand, &own);
        }
        core_plan_lifetime(law, goal, demand, &options)
    };
    let cols = enter(py, Work::Plan(cancel), || {
        let width = lifetime_plan::WIDTH;
        let plans = match &laws {
            Some(laws) => per_sample(laws, n, plan_one)?,
            None => (0..n)
                .map(|i| plan_one(law, i).map_err(element(i, n)))
                .collect::<Result<Vec<_>, _>>()?,
        };
        let mut cols = Columns::new(width + extrapolation_fields().len(), plans.len());
        for (i, p) in plans.iter().enumerate() {
            let shape = shape_row(family, p.params, p.feasible);
            cols.set(i, &lifetime_plan::row(p, shape));
            cols.set_from(i, width, &extrapolation_row(&p.extrapolated));
        }
        Ok(cols)
    })?;
    Ok(cols.into_arrays(py))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add(
        "TRAINING_PLAN_FIELDS",
        with_extrapolation(&training_plan::columns()),
    )?;
    m.add(
        "LIFETIME_PLAN_FIELDS",
        with_extrapolation(&lifetime_plan::columns()),
    )?;
    m.add(
        "EXTRAPOLATION_VARIABLES",
        Variable::ALL.iter().map(|v| v.name()).collect::<Vec<_>>(),
    )?;
    m.add(
        "CONSTRAINTS",
        Constraint::ALL.iter().map(|c| c.name()).collect::<Vec<_>>(),
    )?;
    // Algorithmic progress (issue 14, item 5): the training planner's start offset.
    m.add("MAX_START_IN_MONTHS", MAX_START_IN_MONTHS)?;
    let progress = pyo3::types::PyDict::new(m.py());
    progress.set_item("name", HO2024.name)?;
    progress.set_item("source", HO2024.source)?;
    progress.set_item("halving_months", HO2024.halving_months)?;
    progress.set_item("halving_months_slow", HO2024.halving_months_slow)?;
    progress.set_item("halving_months_fast", HO2024.halving_months_fast)?;
    m.add("ALGORITHMIC_PROGRESS", progress)?;
    m.add_class::<CostModelPricing>()?;
    m.add_function(wrap_pyfunction!(plan_training, m)?)?;
    m.add_function(wrap_pyfunction!(plan_lifetime, m)?)?;
    Ok(())
}
