//! The agent planner: a measured table of accuracy against (model, tool-call budget), priced
//! and solved in Rust with the GIL released.

use numpy::{PyArray1, PyReadonlyArray1};
use pyo3::prelude::*;
use scaleplan_core::plan::{AgentOptions, AgentRow, AgentSolver, AgentUnit};
use scaleplan_core::{Model, PlanError};

use crate::cancel::{poll, CancelToken};
use crate::catalog::{NativeHardware, PyCatalog};
use crate::convert::{Columns, Serving};
use crate::errors::{element, to_py, IntoPyResult};
use crate::schema::agent_plan;
use crate::{enter, Work};

/// An agent table with its pricing options; `solve` plans each goal.
#[pyclass(frozen, module = "scaleplan._core")]
pub struct AgentProblem {
    models: Vec<Model>,
    rows: Vec<AgentRow>,
    options: AgentOptions,
}

#[pymethods]
impl AgentProblem {
    /// `models`: the distinct catalog models of the table; `model` each row's index into them;
    /// `calls` one list per row, a mean per tool in the order of `tool_prices`.
    #[new]
    #[pyo3(signature = (
        catalog, models, hardware, *, model, tool_budget, accuracy, calls, input_tokens,
        output_tokens, turns, unit, tool_prices, usd_per_hour, serving
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        catalog: &PyCatalog,
        models: Vec<String>,
        hardware: &NativeHardware,
        model: Vec<usize>,
        tool_budget: Vec<f64>,
        accuracy: Vec<f64>,
        calls: Vec<Vec<f64>>,
        input_tokens: Vec<f64>,
        output_tokens: Vec<f64>,
        turns: Vec<f64>,
        unit: &str,
        tool_prices: Vec<f64>,
        usd_per_hour: Option<f64>,
        serving: &Serving,
    ) -> PyResult<Self> {
        let build = || -> Result<Self, PlanError> {
            let n = model.len();
            if [
                tool_budget.len(),
                accuracy.len(),
                calls.len(),
                input_tokens.len(),
                output_tokens.len(),
                turns.len(),
            ]
            .iter()
            .any(|&l| l != n)
            {
                return Err(PlanError::invalid("rows", "columns differ in length"));
            }
            scaleplan_core::limits::check_agent_rows(n)?;
            let models = models
                .iter()
                .map(|m| {
                    catalog
                        .0
                        .model(m)
                        .cloned()
                        .map_err(|e| e.for_field("rows.model"))
                })
                .collect::<Result<Vec<_>, PlanError>>()?;
            let rows = (0..n)
                .map(|i| AgentRow {
                    model: model[i],
                    tool_budget: tool_budget[i],
                    accuracy: accuracy[i],
                    calls: calls[i].clone(),
                    input_tokens: input_tokens[i],
                    output_tokens: output_tokens[i],
                    turns: turns[i],
                })
                .collect();
            let options = AgentOptions {
                hardware: hardware.0.clone(),
                inference: serving.0,
                tool_prices,
                unit: AgentUnit::parse(unit)?,
                usd_per_hour,
            };
            Ok(AgentProblem {
                models,
                rows,
                options,
            })
        };
        build().py_err(py)
    }

    /// `goal` "target_accuracy" or "budget"; one array per column of the agent schema, one
    /// element per value. Rows are checked and priced here (errors name the row's index).
    #[pyo3(signature = (goal, values, *, cancel=None))]
    fn solve<'py>(
        &self,
        py: Python<'py>,
        goal: &str,
        values: PyReadonlyArray1<'py, f64>,
        cancel: Option<&CancelToken>,
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
        let n = values.len();
        let cols = enter(py, Work::Plan(cancel), || {
            let solver = AgentSolver::new(&self.models, &self.rows, &self.options)?;
            let mut cols = Columns::new(agent_plan::WIDTH, n);
            for (i, &v) in values.iter().enumerate() {
                poll(i)?;
                let p = if by_budget {
                    solver.best_within(v)
                } else {
                    solver.cheapest(v)
                }
                .map_err(element(i, n))?;
                cols.set(i, &agent_plan::row(&p));
            }
            Ok(cols)
        })?;
        Ok(cols.into_arrays(py))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add("AGENT_FIELDS", agent_plan::columns())?;
    m.add("MAX_AGENT_ROWS", scaleplan_core::limits::MAX_AGENT_ROWS)?;
    m.add("MAX_AGENT_TOOLS", scaleplan_core::limits::MAX_AGENT_TOOLS)?;
    m.add_class::<AgentProblem>()?;
    Ok(())
}
