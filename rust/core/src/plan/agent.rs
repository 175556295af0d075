//! The agent planner (docs/design.md#tool-calls-priced-with-tokens; Liu et al. 2025,
//! budget-aware tool use, arXiv:2511.17006): from a measured table of accuracy against (model,
//! tool-call budget), the cheapest configuration reaching a target accuracy, or the most
//! accurate one within a per-query budget.
//!
//! Each row is priced once with the paper's unified cost: the tokens it used, priced through
//! the cost model on the serving hardware, plus the calls to each tool times the tool's price.
//! Only measured rows are plans (docs/planning.md, "Agent plans": no interpolation between
//! tool budgets), so each goal is decided by one pass over the rows.

use super::Constraint;
use crate::cancel;
use crate::catalog::{Hardware, Model};
use crate::cost::{Attention, Binding, InferenceOptions, InferenceQuery, Pricer};
use crate::error::{check, PlanError, Result};
use crate::limits;

/// One measured configuration: a model run under a tool-call budget.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentRow {
    /// Index into the solver's models.
    pub model: usize,
    /// The tool-call budget the agent ran under (a label: the planner never interpolates it).
    pub tool_budget: f64,
    /// Fraction of queries answered correctly.
    pub accuracy: f64,
    /// Mean calls per query to each tool, in the order of `AgentOptions::tool_prices`.
    pub calls: Vec<f64>,
    /// Mean input (prompt) tokens per query, summed over the agent's turns.
    pub input_tokens: f64,
    /// Mean output (generated) tokens per query, summed over the agent's turns.
    pub output_tokens: f64,
    /// Model calls per query the tokens are spread over (1: one prompt, one generation).
    pub turns: f64,
}

/// What a budget and a cost are counted in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentUnit {
    /// US dollars: token GPU-seconds at the GPU-hour price plus the tools' prices.
    Usd,
    /// GPU-seconds: token GPU-seconds plus the tools' prices converted at the GPU-hour price.
    GpuSeconds,
}

impl AgentUnit {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "usd" => Ok(AgentUnit::Usd),
            "gpu_seconds" => Ok(AgentUnit::GpuSeconds),
            _ => Err(PlanError::invalid(
                "unit",
                format!("unknown unit '{s}' (expected usd or gpu_seconds)"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            AgentUnit::Usd => "usd",
            AgentUnit::GpuSeconds => "gpu_seconds",
        }
    }
}

#[derive(Debug, Clone)]
pub struct AgentOptions {
    pub hardware: Hardware,
    pub inference: InferenceOptions,
    /// US dollars per call of each tool.
    pub tool_prices: Vec<f64>,
    pub unit: AgentUnit,
    /// Price of a GPU-hour; the hardware's when None.
    pub usd_per_hour: Option<f64>,
}

/// One row priced: everything a plan reports about it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PricedRow {
    /// Whether the row's turns fit the serving hardware's memory and the model's context.
    pub servable: bool,
    /// Memory or Context when not servable.
    pub blocker: Constraint,
    /// Unified cost of one query, in the unit.
    pub cost: f64,
    /// The tokens' share of `cost`.
    pub token_cost: f64,
    /// The tools' share of `cost`.
    pub tool_cost: f64,
    /// GPU-seconds the tokens take (every turn).
    pub gpu_seconds: f64,
    /// Tool calls per query, all tools.
    pub tool_calls: f64,
    /// Model time the query waits: every turn's latency, tool time not included.
    pub latency_s: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AgentPlan {
    pub feasible: bool,
    pub binding: Constraint,
    /// Index of the chosen row (meaningless when infeasible).
    pub row: usize,
    pub model: usize,
    pub tool_budget: f64,
    pub accuracy: f64,
    pub priced: PricedRow,
}

impl AgentPlan {
    fn none(binding: Constraint) -> Self {
        AgentPlan {
            feasible: false,
            binding,
            row: 0,
            model: 0,
            tool_budget: f64::NAN,
            accuracy: f64::NAN,
            priced: PricedRow {
                servable: false,
                blocker: binding,
                cost: f64::NAN,
                token_cost: f64::NAN,
                tool_cost: f64::NAN,
                gpu_seconds: f64::NAN,
                tool_calls: f64::NAN,
                latency_s: f64::NAN,
            },
        }
    }
}

/// Accuracies closer than this are equal; the cheaper row wins.
const ACCURACY_TIE: f64 = 1e-12;
/// Costs closer than this (relative) are equal; the more accurate row wins.
const COST_TIE: f64 = 1e-12;

pub struct AgentSolver<'a> {
    rows: &'a [AgentRow],
    priced: Vec<PricedRow>,
}

/// `row` checked; errors name the column (`rows.<column>`) and are located by the caller.
fn check_row(row: &AgentRow, models: usize, tools: usize) -> Result<()> {
    if row.model >= models {
        return Err(PlanError::invalid(
            "rows.model",
            format!("model index {} out of range ({models} models)", row.model),
        ));
    }
    check::non_negative("rows.tool_budget", row.tool_budget)?;
    check::finite("rows.accuracy", row.accuracy)?;
    if !(0.0..=1.0).contains(&row.accuracy) {
        return Err(PlanError::invalid(
            "rows.accuracy",
            format!("must be in [0, 1], got {}", row.accuracy),
        ));
    }
    if row.calls.len() != tools {
        return Err(PlanError::invalid(
            "rows.calls",
            format!("{} tools given, {tools} priced", row.calls.len()),
        ));
    }
    for &c in &row.calls {
        check::non_negative("rows.calls", c)?;
    }
    check::whole_at_least("rows.turns", row.turns, 1.0)?;
    check::non_negative("rows.input_tokens", row.input_tokens)?;
    check::positive("rows.output_tokens", row.output_tokens)?;
    Ok(())
}

impl<'a> AgentSolver<'a> {
    /// Check and price every row once. Errors about a row are located at its index.
    pub fn new(models: &[Model], rows: &'a [AgentRow], opt: &AgentOptions) -> Result<Self> {
        if rows.is_empty() {
            return Err(PlanError::invalid("rows", "must hold at least one row"));
        }
        limits::check_agent_rows(rows.len())?;
        limits::check_agent_tools(opt.tool_prices.len())?;
        for &p in &opt.tool_prices {
            check::non_negative("tool_prices", p)?;
        }
        if let Some(price) = opt.usd_per_hour {
            check::positive("usd_per_hour", price)?;
        }
        for (i, row) in rows.iter().enumerate() {
            check_row(row, models.len(), opt.tool_prices.len()).map_err(|e| e.at_index(i))?;
        }
        let tools_priced = opt.tool_prices.iter().any(|&p| p > 0.0);
        // A GPU-second's price: needed for USD, and for GPU-seconds only to convert tool prices.
        let usd_per_second = match (opt.unit, opt.usd_per_hour.or(opt.hardware.usd_per_hour)) {
            (_, Some(p)) => check::positive("usd_per_hour", p)? / 3600.0,
            (AgentUnit::GpuSeconds, None) if !tools_priced => f64::NAN,
            (AgentUnit::Usd, None) => {
                return Err(PlanError::invalid(
                    "usd_per_hour",
                    "a USD cost needs a price per GPU-hour (none in the catalog)",
                ))
            }
            (AgentUnit::GpuSeconds, None) => {
                return Err(PlanError::invalid(
                    "usd_per_hour",
                    "GPU-seconds with priced tools need a price per GPU-hour to convert the \
                     tools' USD (none in the catalog); or price the tools at 0",
                ))
            }
        };
        let pricers = models
            .iter()
            .map(|m| Pricer::new(m, &opt.hardware, &opt.inference))
            .collect::<Result<Vec<_>>>()?;
        let mut priced = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            if cancel::fired() {
                break;
            }
            priced.push(
                price_row(&pricers[row.model], row, opt, usd_per_second)
                    .map_err(|e| e.at_index(i))?,
            );
        }
        cancel::check()?;
        Ok(AgentSolver { rows, priced })
    }

    /// Every row priced, in input order.
    pub fn priced(&self) -> &[PricedRow] {
        &self.priced
    }

    fn plan_of(&self, i: usize, binding: Constraint) -> AgentPlan {
        let r = &self.rows[i];
        AgentPlan {
            feasible: true,
            binding,
            row: i,
            model: r.model,
            tool_budget: r.tool_budget,
            accuracy: r.accuracy,
            priced: self.priced[i],
        }
    }

    /// What stops the rows in `rows` (none servable): the first one's blocker.
    fn blocker(&self, mut rows: impl Iterator<Item = usize>) -> Option<Constraint> {
        rows.next().map(|i| self.priced[i].blocker)
    }

    /// The cheapest servable row whose accuracy reaches `target`; on equal cost the more
    /// accurate, then the first. None reaching it: infeasible, `target_accuracy`; rows reaching
    /// it that cannot be served: infeasible, `memory` or `context`.
    pub fn cheapest(&self, target: f64) -> Result<AgentPlan> {
        check::finite("target_accuracy", target)?;
        if !(0.0..=1.0).contains(&target) {
            return Err(PlanError::invalid(
                "target_accuracy",
                format!("must be in [0, 1], got {target}"),
            ));
        }
        let reaching = |i: &usize| self.rows[*i].accuracy >= target;
        let mut best: Option<usize> = None;
        for i in (0..self.rows.len()).filter(reaching) {
            let p = &self.priced[i];
            if !p.servable {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    let (cb, ci) = (self.priced[b].cost, p.cost);
                    let tie = (ci - cb).abs() <= COST_TIE * cb.abs().max(ci.abs());
                    if (!tie && ci < cb) || (tie && self.rows[i].accuracy > self.rows[b].accuracy) {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        cancel::check()?;
        Ok(match best {
            Some(i) => self.plan_of(i, Constraint::TargetAccuracy),
            None => AgentPlan::none(
                self.blocker((0..self.rows.len()).filter(reaching))
                    .unwrap_or(Constraint::TargetAccuracy),
            ),
        })
    }

    /// The most accurate servable row costing at most `budget`; on equal accuracy the cheaper,
    /// then the first. `binding`: `budget` when a more accurate servable row costs more,
    /// `memory`/`context` when the more accurate rows cannot be served, `measured_table` when
    /// no measured row is more accurate. Nothing within the budget: infeasible, `budget` (or
    /// `memory`/`context` when no row can be served at all).
    pub fn best_within(&self, budget: f64) -> Result<AgentPlan> {
        check::non_negative("budget", budget)?;
        let mut best: Option<usize> = None;
        for (i, p) in self.priced.iter().enumerate() {
            if !p.servable || p.cost > budget {
                continue;
            }
            best = match best {
                None => Some(i),
                Some(b) => {
                    let (ab, ai) = (self.rows[b].accuracy, self.rows[i].accuracy);
                    let tie = (ai - ab).abs() <= ACCURACY_TIE;
                    if (!tie && ai > ab) || (tie && p.cost < self.priced[b].cost) {
                        Some(i)
                    } else {
                        Some(b)
                    }
                }
            };
        }
        cancel::check()?;
        let Some(b) = best else {
            let any_servable = self.priced.iter().any(|p| p.servable);
            return Ok(AgentPlan::none(if any_servable {
                Constraint::Budget
            } else {
                self.blocker(0..self.rows.len())
                    .unwrap_or(Constraint::Budget)
            }));
        };
        let better = |i: &usize| self.rows[*i].accuracy > self.rows[b].accuracy + ACCURACY_TIE;
        let binding = if (0..self.rows.len())
            .filter(better)
            .any(|i| self.priced[i].servable)
        {
            Constraint::Budget
        } else {
            self.blocker((0..self.rows.len()).filter(better))
                .unwrap_or(Constraint::MeasuredTable)
        };
        Ok(self.plan_of(b, binding))
    }
}

/// The unified cost of one row (docs/design.md#tool-calls-priced-with-tokens): its tokens
/// priced as `turns` model calls of input/turns prompt and output/turns generated tokens each,
/// plus each tool's calls times its price.
fn price_row(
    pricer: &Pricer,
    row: &AgentRow,
    opt: &AgentOptions,
    usd_per_second: f64,
) -> Result<PricedRow> {
    let turn = pricer.price(&InferenceQuery {
        prompt_tokens: row.input_tokens / row.turns,
        gen_tokens: row.output_tokens / row.turns,
        samples: 1.0,
        attention: Attention::Dense,
    })?;
    let gpu_seconds = row.turns * turn.gpu_seconds;
    let tool_usd: f64 = row
        .calls
        .iter()
        .zip(&opt.tool_prices)
        .map(|(c, p)| c * p)
        .sum();
    let (token_cost, tool_cost) = match opt.unit {
        AgentUnit::Usd => (gpu_seconds * usd_per_second, tool_usd),
        AgentUnit::GpuSeconds => (
            gpu_seconds,
            if tool_usd == 0.0 {
                0.0
            } else {
                tool_usd / usd_per_second
            },
        ),
    };
    let blocker = match turn.binding {
        Binding::Context => Constraint::Context,
        _ => Constraint::Memory,
    };
    Ok(PricedRow {
        servable: turn.feasible,
        blocker,
        cost: token_cost + tool_cost,
        token_cost,
        tool_cost,
        gpu_seconds,
        tool_calls: row.calls.iter().sum(),
        latency_s: row.turns * turn.latency_s,
    })
}
