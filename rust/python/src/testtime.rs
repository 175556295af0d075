//! Test-time and joint planners: problems built once from Python arguments, then solved for
//! arrays of budgets in Rust with the GIL released.

use numpy::{IntoPyArray, PyArray1, PyArray2, PyReadonlyArray1, PyReadonlyArray2};
use pyo3::prelude::*;
use scaleplan_core::cost::{Attention, FamilyShapes};
use scaleplan_core::error::check;
use scaleplan_core::laws::DataLimit;
use scaleplan_core::limits;
use scaleplan_core::plan::uncertainty::{
    per_sample, sample_hardware, test_time_accuracy_at, test_time_latency_at,
    test_time_per_hardware, test_time_per_sample, HARDWARE_SAMPLES_FIELD,
};
use scaleplan_core::plan::{
    BudgetUnit, Candidate, CostUnit, JointOptions, JointSolver, Solution, TestTimeOptions,
    TestTimeSolver,
};
use scaleplan_core::testtime::{curves_from_rows, Aggregator, Curve, EvalRow, FittedCurve};
use scaleplan_core::PlanError;

use crate::cancel::{poll, CancelToken};
use crate::catalog::{NativeHardware, NativeLaw, PyCatalog};
use crate::convert::{
    extrapolation_fields, extrapolation_row, shape_row, with_extrapolation, Columns, Serving,
};
use crate::errors::{element, to_py, IntoPyResult};
use crate::schema::{joint_plan, test_time_plan};
use crate::uncertainty::{laws_of, AccuracySamples};
use crate::{enter, Work};

/// Attention choices as (kind, kv_budget, block_size) triples.
/// Test-time plans as the schema's columns, one row per plan.
fn plan_columns(solutions: &[Solution]) -> Columns {
    let mut cols = Columns::new(test_time_plan::WIDTH, solutions.len());
    for (i, sol) in solutions.iter().enumerate() {
        cols.set(i, &test_time_plan::row(sol));
    }
    cols
}

fn attentions(
    choices: Vec<(String, Option<f64>, Option<f64>)>,
) -> Result<Vec<Attention>, PlanError> {
    choices
        .into_iter()
        .map(|(kind, s, b)| Attention::from_parts(&kind, s, b))
        .collect()
}

/// Per-model accuracy curves: a catalog preset, or measured eval rows.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct AccuracySource(AccuracyKind);

enum AccuracyKind {
    Preset {
        name: String,
        task: String,
        aggregator: Aggregator,
    },
    Measured(std::collections::BTreeMap<String, Curve>),
    /// Beta-binomial fits per model and length (`scaleplan.AccuracyFit`).
    Fitted(std::collections::BTreeMap<String, Curve>),
}

#[pymethods]
impl AccuracySource {
    #[staticmethod]
    fn preset(py: Python<'_>, catalog: &PyCatalog, name: &str, aggregator: &str) -> PyResult<Self> {
        let preset = catalog.0.accuracy_preset(name).py_err(py)?;
        Ok(AccuracySource(AccuracyKind::Preset {
            name: name.to_string(),
            task: preset.task().to_string(),
            aggregator: Aggregator::parse(aggregator).py_err(py)?,
        }))
    }

    /// The preset's task (None for measured counts, whose task is the eval's).
    fn task(&self) -> Option<String> {
        match &self.0 {
            AccuracyKind::Preset { task, .. } => Some(task.clone()),
            AccuracyKind::Measured(_) | AccuracyKind::Fitted(_) => None,
        }
    }

    /// How k samples become one answer: "coverage" (pass@k; measured counts) or "majority".
    fn aggregator(&self) -> &'static str {
        match &self.0 {
            AccuracyKind::Preset { aggregator, .. } => aggregator.name(),
            AccuracyKind::Measured(_) | AccuracyKind::Fitted(_) => Aggregator::Coverage.name(),
        }
    }

    /// Eval rows as parallel columns: model, gen_tokens, problem, n, c.
    #[staticmethod]
    fn measured(
        py: Python<'_>,
        model: Vec<String>,
        gen_tokens: Vec<f64>,
        problem: Vec<String>,
        n: Vec<u32>,
        c: Vec<u32>,
    ) -> PyResult<Self> {
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
        let curves = enter(py, Work::Batch(rows.len()), || curves_from_rows(&rows))?;
        Ok(AccuracySource(AccuracyKind::Measured(
            curves
                .into_iter()
                .map(|(m, c)| (m, Curve::Measured(c)))
                .collect(),
        )))
    }

    /// Fitted (a, b) per model and generation length, as parallel columns, with the eval's
    /// samples per problem at each.
    #[staticmethod]
    fn fitted(
        py: Python<'_>,
        model: Vec<String>,
        gen_tokens: Vec<f64>,
        a: Vec<f64>,
        b: Vec<f64>,
        eval_samples: Vec<u32>,
    ) -> PyResult<Self> {
        let len = model.len();
        if [gen_tokens.len(), a.len(), b.len(), eval_samples.len()]
            .iter()
            .any(|&l| l != len)
        {
            return Err(to_py(
                py,
                PlanError::invalid("accuracy_fit", "columns differ in length"),
            ));
        }
        let mut by_model: std::collections::BTreeMap<String, Vec<(f64, f64, f64, u32)>> =
            std::collections::BTreeMap::new();
        for i in 0..len {
            by_model.entry(model[i].clone()).or_default().push((
                gen_tokens[i],
                a[i],
                b[i],
                eval_samples[i],
            ));
        }
        if by_model.is_empty() {
            return Err(to_py(
                py,
                PlanError::invalid("accuracy_fit", "no fitted models"),
            ));
        }
        let curves = by_model
            .into_iter()
            .map(|(m, entries)| {
                let curve = FittedCurve::new(&entries)
                    .map_err(|e| PlanError::invalid("accuracy_fit", format!("{m}: {e}")))?;
                Ok((m, Curve::Fitted(curve)))
            })
            .collect::<Result<_, PlanError>>()
            .py_err(py)?;
        Ok(AccuracySource(AccuracyKind::Fitted(curves)))
    }

    fn models(&self, catalog: &PyCatalog) -> Vec<String> {
        match &self.0 {
            AccuracyKind::Preset { name, .. } => catalog
                .0
                .accuracy_preset(name)
                .map(|p| p.pass1.keys().cloned().collect())
                .unwrap_or_default(),
            AccuracyKind::Measured(curves) | AccuracyKind::Fitted(curves) => {
                curves.keys().cloned().collect()
            }
        }
    }

    /// Accuracy of `model` at each (gen_tokens, samples) pair.
    fn accuracy<'py>(
        &self,
        py: Python<'py>,
        catalog: &PyCatalog,
        model: &str,
        gen_tokens: PyReadonlyArray1<'py, f64>,
        samples: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let curve = self.curve(catalog, model).py_err(py)?;
        let (g, k) = (gen_tokens.as_slice()?, samples.as_slice()?);
        // Samples up to the planners' limit (majority vote: its own, the sum being over k + 1
        // outcomes), so one element's work is bounded (docs/limits.md).
        let k_limit = match &curve {
            Curve::Beta(c) if c.aggregator == Aggregator::Majority => limits::MAX_MAJORITY_SAMPLES,
            _ => limits::MAX_SAMPLES,
        };
        // A measured curve is unknown below the shortest length the eval measured and beyond its
        // samples per problem: NaN there, never a flat extrapolation (docs/planning.md). Above
        // the longest length the value holds: "at most L tokens" may stop at the longest.
        let range = curve.gen_range();
        let measured_k = match &curve {
            Curve::Measured(m) => Some(m.max_samples),
            // A fit extrapolates beyond its eval's n (docs/fitting.md).
            Curve::Beta(_) | Curve::Fitted(_) => None,
        };
        let n = g.len();
        let out = enter(py, Work::Batch(n), || {
            g.iter()
                .zip(k)
                .enumerate()
                .map(|(i, (&g, &k))| {
                    poll(i)?;
                    check::positive("gen_tokens", g).map_err(element(i, n))?;
                    check::whole_at_least("samples", k, 1.0).map_err(element(i, n))?;
                    if k > f64::from(k_limit) {
                        let e = PlanError::LimitExceeded {
                            field: "samples".into(),
                            limit: k_limit.into(),
                            got: k as u64,
                        };
                        return Err(element(i, n)(e));
                    }
                    let outside = range.is_some_and(|(lo, _)| g < lo * (1.0 - 1e-12))
                        || measured_k.is_some_and(|n| k > f64::from(n));
                    Ok(if outside {
                        f64::NAN
                    } else {
                        curve.accuracy(g, k as u32)
                    })
                })
                .collect::<Result<Vec<f64>, PlanError>>()
        })?;
        Ok(out.into_pyarray(py))
    }
}

impl AccuracySource {
    fn curve(&self, catalog: &PyCatalog, model: &str) -> Result<Curve, PlanError> {
        match &self.0 {
            AccuracyKind::Preset {
                name, aggregator, ..
            } => Ok(Curve::Beta(
                catalog.0.accuracy_preset(name)?.curve(model, *aggregator)?,
            )),
            AccuracyKind::Measured(curves) | AccuracyKind::Fitted(curves) => curves
                .get(model)
                .cloned()
                .ok_or_else(|| PlanError::UnknownName {
                    field: "models".into(),
                    kind: scaleplan_core::error::NameKind::Model,
                    name: model.to_string(),
                    known: curves.keys().cloned().collect(),
                    preset: None,
                }),
        }
    }
}

/// A test-time planning problem: candidates, hardware and options, solved per budget.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct TestTimeProblem {
    candidates: Vec<Candidate>,
    options: TestTimeOptions,
    /// The candidates' names as given (accuracy samples are matched to them).
    names: Vec<String>,
}

#[pymethods]
impl TestTimeProblem {
    #[new]
    #[pyo3(signature = (
        catalog, models, accuracy, hardware, *, unit, prompt_tokens, k_max, attention,
        latency_slo_s, min_gen_tokens, max_gen_tokens, usd_per_hour, serving
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        catalog: &PyCatalog,
        models: Vec<String>,
        accuracy: &AccuracySource,
        hardware: &NativeHardware,
        unit: &str,
        prompt_tokens: f64,
        k_max: u32,
        attention: Vec<(String, Option<f64>, Option<f64>)>,
        latency_slo_s: Option<f64>,
        min_gen_tokens: f64,
        max_gen_tokens: Option<f64>,
        usd_per_hour: Option<f64>,
        serving: &Serving,
    ) -> PyResult<Self> {
        let build = || -> Result<Self, PlanError> {
            let candidates = models
                .iter()
                .map(|m| {
                    Ok(Candidate {
                        model: catalog
                            .0
                            .model(m)
                            .map_err(|e| e.for_field("models"))?
                            .clone(),
                        curve: accuracy.curve(catalog, m)?,
                    })
                })
                .collect::<Result<Vec<_>, PlanError>>()?;
            let options = TestTimeOptions {
                hardware: hardware.0.clone(),
                inference: serving.0,
                prompt_tokens,
                unit: BudgetUnit::parse(unit)?,
                max_samples: k_max,
                attention: attentions(attention)?,
                latency_slo_s,
                min_gen_tokens,
                max_gen_tokens,
                usd_per_hour,
            };
            TestTimeSolver::new(&candidates, &options)?;
            Ok(TestTimeProblem {
                candidates,
                options,
                names: models.clone(),
            })
        };
        build().py_err(py)
    }

    /// One array per column of the test-time schema (one element per budget), and each candidate's
    /// best accuracy (rows) at each budget (columns).
    #[allow(clippy::type_complexity)]
    #[pyo3(signature = (budgets, *, cancel=None))]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        budgets: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<(Vec<Bound<'py, PyArray1<f64>>>, Bound<'py, PyArray2<f64>>)> {
        let budgets = budgets.as_slice()?;
        let n = budgets.len();
        let (cols, per) = enter(py, Work::Plan(cancel), || {
            let solver = TestTimeSolver::new(&self.candidates, &self.options)?;
            let mut cols = Columns::new(test_time_plan::WIDTH, n);
            let mut per: Vec<Vec<f64>> = vec![Vec::with_capacity(n); self.candidates.len()];
            for (i, &b) in budgets.iter().enumerate() {
                let sol = solver.solve(b).map_err(element(i, n))?;
                cols.set(i, &test_time_plan::row(&sol));
                for (c, v) in per.iter_mut().zip(sol.per_candidate) {
                    c.push(v);
                }
            }
            Ok((cols, per))
        })?;
        let per = PyArray2::from_vec2(py, &per)
            .map_err(|e| pyo3::exceptions::PyValueError::new_err(e.to_string()))?;
        Ok((cols.into_arrays(py), per))
    }

    /// The plans of every budget under each of an accuracy fit's bootstrap samples
    /// (docs/uncertainty.md, "Test-time plans"): one array per column of the test-time schema,
    /// samples x budgets, sample-major. One call: rayon over the samples, cancellation polled.
    #[pyo3(signature = (budgets, accuracy_samples, *, cancel=None))]
    fn solve_samples<'py>(
        &self,
        py: Python<'py>,
        budgets: PyReadonlyArray1<'py, f64>,
        accuracy_samples: &AccuracySamples,
        cancel: Option<&CancelToken>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
        let samples = accuracy_samples.for_candidates(&self.names).py_err(py)?;
        let budgets = budgets.as_slice()?;
        let cols = enter(py, Work::Plan(cancel), || {
            let solutions =
                test_time_per_sample(&self.candidates, &self.options, &samples, budgets)?;
            Ok(plan_columns(&solutions))
        })?;
        Ok(cols.into_arrays(py))
    }

    /// The plans of every budget on the hardware of each calibration sample (rows
    /// prefill_mfu, decode_bw_util, step_overhead_s; docs/uncertainty.md, "Calibrated
    /// hardware"): one array per column of the test-time schema, samples x budgets,
    /// sample-major. One call: rayon over the samples, cancellation polled.
    #[pyo3(signature = (budgets, hardware_samples, *, cancel=None))]
    fn solve_hardware_samples<'py>(
        &self,
        py: Python<'py>,
        budgets: PyReadonlyArray1<'py, f64>,
        hardware_samples: PyReadonlyArray2<'py, f64>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
        let hardware = self.hardware_of(py, hardware_samples)?;
        let budgets = budgets.as_slice()?;
        let cols = enter(py, Work::Plan(cancel), || {
            let solutions =
                test_time_per_hardware(&self.candidates, &self.options, &hardware, budgets)?;
            Ok(plan_columns(&solutions))
        })?;
        Ok(cols.into_arrays(py))
    }

    /// The latency of fixed plans (candidate index, gen_tokens, samples k, attention index) on
    /// each calibration sample's hardware: samples x plans, sample-major.
    #[pyo3(signature = (hardware_samples, candidate, gen_tokens, samples, attention, *, cancel=None))]
    #[allow(clippy::too_many_arguments)]
    fn latency_at<'py>(
        &self,
        py: Python<'py>,
        hardware_samples: PyReadonlyArray2<'py, f64>,
        candidate: PyReadonlyArray1<'py, f64>,
        gen_tokens: PyReadonlyArray1<'py, f64>,
        samples: PyReadonlyArray1<'py, f64>,
        attention: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let hardware = self.hardware_of(py, hardware_samples)?;
        let plan = [
            candidate.as_slice()?,
            gen_tokens.as_slice()?,
            samples.as_slice()?,
            attention.as_slice()?,
        ];
        let out = enter(py, Work::Plan(cancel), || {
            test_time_latency_at(&self.candidates, &self.options, &hardware, plan)
        })?;
        Ok(out.into_pyarray(py))
    }

    /// The accuracy of fixed plans (candidate index, gen_tokens, samples k) under each accuracy
    /// sample: samples x plans, sample-major; NaN where a plan has no numbers.
    #[pyo3(signature = (accuracy_samples, candidate, gen_tokens, samples, *, cancel=None))]
    fn accuracy_at<'py>(
        &self,
        py: Python<'py>,
        accuracy_samples: &AccuracySamples,
        candidate: PyReadonlyArray1<'py, f64>,
        gen_tokens: PyReadonlyArray1<'py, f64>,
        samples: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let set = accuracy_samples.for_candidates(&self.names).py_err(py)?;
        let (c, g, k) = (
            candidate.as_slice()?,
            gen_tokens.as_slice()?,
            samples.as_slice()?,
        );
        let out = enter(py, Work::Plan(cancel), || {
            test_time_accuracy_at(&set, c, g, k)
        })?;
        Ok(out.into_pyarray(py))
    }
}

/// A joint planning problem, solved per total budget or target accuracy.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct JointProblem {
    law: scaleplan_core::laws::LossLaw,
    options: JointOptions,
}

#[pymethods]
impl JointProblem {
    #[new]
    #[pyo3(signature = (
        catalog, law, family, hardware, *, unit, queries, prompt_tokens, half_tokens, hill, kappa,
        k_max, attention, min_gen_tokens, max_gen_tokens, min_params, max_params, latency_slo_s,
        unique_tokens, r_star, train_mfu, train_usd_per_hour, infer_usd_per_hour, serving,
        auto_gpus = false
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        catalog: &PyCatalog,
        law: &NativeLaw,
        family: &str,
        hardware: &NativeHardware,
        unit: &str,
        queries: f64,
        prompt_tokens: f64,
        half_tokens: f64,
        hill: f64,
        kappa: f64,
        k_max: u32,
        attention: Vec<(String, Option<f64>, Option<f64>)>,
        min_gen_tokens: f64,
        max_gen_tokens: f64,
        min_params: Option<f64>,
        max_params: Option<f64>,
        latency_slo_s: Option<f64>,
        unique_tokens: Option<f64>,
        r_star: Option<f64>,
        train_mfu: Option<f64>,
        train_usd_per_hour: Option<f64>,
        infer_usd_per_hour: Option<f64>,
        serving: &Serving,
        auto_gpus: bool,
    ) -> PyResult<Self> {
        let build = || -> Result<Self, PlanError> {
            let family = FamilyShapes::new(&catalog.0, catalog.0.family(family)?)?;
            let data = match (unique_tokens, r_star) {
                (Some(u), r) => Some(DataLimit::new(
                    u,
                    Some(r.unwrap_or(law.0.default_r_star())),
                )?),
                (None, Some(_)) => {
                    return Err(PlanError::invalid(
                        "r_star",
                        "applies only with unique_tokens",
                    ))
                }
                (None, None) => None,
            };
            let options = JointOptions {
                family,
                hardware: hardware.0.clone(),
                inference: serving.0,
                attention: attentions(attention)?,
                unit: CostUnit::parse(unit)?,
                queries,
                prompt_tokens,
                half_tokens,
                hill,
                kappa,
                max_samples: k_max,
                min_gen_tokens,
                max_gen_tokens,
                min_params,
                max_params,
                latency_slo_s,
                data,
                train_mfu,
                train_usd_per_hour,
                infer_usd_per_hour,
                auto_gpus,
            };
            JointSolver::new(&law.0, &options)?;
            Ok(JointProblem {
                law: law.0.clone(),
                options,
            })
        };
        build().py_err(py)
    }

    /// The objective at points (params, samples, gen_tokens, attention index), for baselines.
    fn evaluate<'py>(
        &self,
        py: Python<'py>,
        budget: f64,
        params: PyReadonlyArray1<'py, f64>,
        samples: PyReadonlyArray1<'py, f64>,
        gen_tokens: PyReadonlyArray1<'py, f64>,
        attention: PyReadonlyArray1<'py, f64>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let (n, k, g, a) = (
            params.as_slice()?,
            samples.as_slice()?,
            gen_tokens.as_slice()?,
            attention.as_slice()?,
        );
        let out = enter(py, Work::Plan(None), || {
            let solver = JointSolver::new(&self.law, &self.options)?;
            (0..n.len())
                .map(|i| {
                    poll(i)?;
                    Ok(solver.evaluate(
                        budget,
                        n[i],
                        k[i].max(0.0) as u32,
                        g[i],
                        a[i].max(0.0) as usize,
                    ))
                })
                .collect::<Result<Vec<_>, PlanError>>()
        })?;
        Ok(out.into_pyarray(py))
    }

    /// `goal` "budget" or "target_accuracy"; one array per column of the joint schema. With
    /// `law_samples` (rows E, A, B, alpha, beta), the plans under each sample's law instead,
    /// samples x goals, sample-major (docs/uncertainty.md); their `marginal_accuracy` is NaN
    /// (not computed: it would solve every plan twice).
    #[pyo3(signature = (goal, values, *, cancel=None, law_samples=None))]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        goal: &str,
        values: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
        law_samples: Option<PyReadonlyArray2<'py, f64>>,
    ) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
        if let Some(laws) = laws_of(py, &self.law, law_samples)? {
            return self.solve_samples(py, goal, values, cancel, &laws);
        }
        let by_budget = match goal {
            "budget" => true,
            "target_accuracy" => false,
            _ => {
                return Err(to_py(
                    py,
                    PlanError::invalid("goal", format!("unknown goal '{goal}'")),
                ))
            }
        };
        let values = values.as_slice()?;
        let n = values.len();
        let cols = enter(py, Work::Plan(cancel), || {
            let solver = JointSolver::new(&self.law, &self.options)?;
            let width = joint_plan::WIDTH;
            let mut cols = Columns::new(width + extrapolation_fields().len(), n);
            for (i, &v) in values.iter().enumerate() {
                let p = if by_budget {
                    solver.plan(v)
                } else {
                    solver.cheapest(v)
                }
                .map_err(element(i, n))?;
                let marginal = solver.marginal(&p).map_err(element(i, n))?;
                let shape = shape_row(Some(&self.options.family), p.params, p.feasible);
                cols.set(i, &joint_plan::row(&p, marginal, shape));
                cols.set_from(i, width, &extrapolation_row(&p.extrapolated));
            }
            Ok(cols)
        })?;
        Ok(cols.into_arrays(py))
    }

    /// The accuracy of fixed plans under each sample's law (docs/uncertainty.md): plan i's
    /// configuration (params, samples, gen_tokens, attention index, gpus) with its total
    /// budget, the rest of the budget after inference spent on training tokens, as the solver
    /// evaluates a point; 0 where a constraint fails, NaN where the plan has no numbers.
    /// Samples x plans, sample-major.
    #[pyo3(signature = (law_samples, budgets, params, samples, gen_tokens, attention, gpus, *, cancel=None))]
    #[allow(clippy::too_many_arguments)]
    fn accuracy_at<'py>(
        &self,
        py: Python<'py>,
        law_samples: PyReadonlyArray2<'py, f64>,
        budgets: PyReadonlyArray1<'py, f64>,
        params: PyReadonlyArray1<'py, f64>,
        samples: PyReadonlyArray1<'py, f64>,
        gen_tokens: PyReadonlyArray1<'py, f64>,
        attention: PyReadonlyArray1<'py, f64>,
        gpus: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
    ) -> PyResult<Bound<'py, PyArray1<f64>>> {
        let laws = laws_of(py, &self.law, Some(law_samples))?.unwrap_or_default();
        let (b, n, k, g, a, t) = (
            budgets.as_slice()?,
            params.as_slice()?,
            samples.as_slice()?,
            gen_tokens.as_slice()?,
            attention.as_slice()?,
            gpus.as_slice()?,
        );
        if [n.len(), k.len(), g.len(), a.len(), t.len()]
            .iter()
            .any(|&l| l != b.len())
        {
            return Err(to_py(
                py,
                PlanError::invalid("params", "arrays differ in length"),
            ));
        }
        let out = enter(py, Work::Plan(cancel), || {
            per_sample(&laws, b.len(), |law, i| {
                let values = [b[i], n[i], k[i], g[i], a[i], t[i]];
                if !values.iter().all(|v| v.is_finite()) {
                    return Ok(f64::NAN);
                }
                let solver = JointSolver::new(law, &self.options)?;
                Ok(solver.evaluate_at(b[i], n[i], k[i] as u32, g[i], a[i] as usize, t[i]))
            })
        })?;
        Ok(out.into_pyarray(py))
    }
}

impl TestTimeProblem {
    /// The problem's hardware under each calibration sample (rows of 3).
    fn hardware_of(
        &self,
        py: Python<'_>,
        rows: PyReadonlyArray2<'_, f64>,
    ) -> PyResult<Vec<scaleplan_core::catalog::Hardware>> {
        let view = rows.as_array();
        if view.ncols() != 3 {
            return Err(to_py(
                py,
                PlanError::invalid(
                    HARDWARE_SAMPLES_FIELD,
                    format!(
                        "each sample has 3 numbers (prefill_mfu, decode_bw_util, \
                         step_overhead_s), got {}",
                        view.ncols()
                    ),
                ),
            ));
        }
        let rows: Vec<[f64; 3]> = view
            .rows()
            .into_iter()
            .map(|r| [r[0], r[1], r[2]])
            .collect();
        sample_hardware(&self.options.hardware, &rows).py_err(py)
    }
}

impl JointProblem {
    /// `solve` under each law of `laws` (docs/uncertainty.md).
    fn solve_samples<'py>(
        &self,
        py: Python<'py>,
        goal: &str,
        values: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
        laws: &[scaleplan_core::laws::LossLaw],
    ) -> PyResult<Vec<Bound<'py, PyArray1<f64>>>> {
        let by_budget = match goal {
            "budget" => true,
            "target_accuracy" => false,
            _ => {
                return Err(to_py(
                    py,
                    PlanError::invalid("goal", format!("unknown goal '{goal}'")),
                ))
            }
        };
        let values = values.as_slice()?;
        let cols = enter(py, Work::Plan(cancel), || {
            let plans = per_sample(laws, values.len(), |law, i| {
                let solver = JointSolver::new(law, &self.options)?;
                if by_budget {
                    solver.plan(values[i])
                } else {
                    solver.cheapest(values[i])
                }
            })?;
            let width = joint_plan::WIDTH;
            let mut cols = Columns::new(width + extrapolation_fields().len(), plans.len());
            for (i, p) in plans.iter().enumerate() {
                let shape = shape_row(Some(&self.options.family), p.params, p.feasible);
                cols.set(i, &joint_plan::row(p, f64::NAN, shape));
                cols.set_from(i, width, &extrapolation_row(&p.extrapolated));
            }
            Ok(cols)
        })?;
        Ok(cols.into_arrays(py))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("TEST_TIME_FIELDS", test_time_plan::columns())?;
    m.add("JOINT_FIELDS", with_extrapolation(&joint_plan::columns()))?;
    m.add_class::<AccuracySource>()?;
    m.add_class::<TestTimeProblem>()?;
    m.add_class::<JointProblem>()?;
    Ok(())
}
