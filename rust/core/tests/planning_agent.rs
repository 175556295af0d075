//! The agent planner (docs/planning.md, "Agent plans"): the unified cost of a row against the
//! cost model priced here turn by turn plus the tools by hand; the planner against an
//! enumeration of the rows at goals next to every row; bindings; limits; cancellation.

mod common;

use common::assert_close;
use scaleplan_core::plan::*;
use scaleplan_core::*;

fn models() -> Vec<Model> {
    let c = Catalog::shipped();
    ["qwen3-8b", "qwen3-32b", "llama-3.1-405b"]
        .iter()
        .map(|m| c.model(m).unwrap().clone())
        .collect()
}

fn options(unit: AgentUnit) -> AgentOptions {
    AgentOptions {
        hardware: Catalog::shipped().hardware("h100-sxm").unwrap().clone(),
        inference: InferenceOptions::default(),
        tool_prices: vec![0.001, 0.001],
        unit,
        usd_per_hour: Some(2.5),
    }
}

fn row(
    model: usize,
    accuracy: f64,
    calls: [f64; 2],
    input: f64,
    output: f64,
    turns: f64,
) -> AgentRow {
    AgentRow {
        model,
        tool_budget: calls[0] + calls[1],
        accuracy,
        calls: calls.to_vec(),
        input_tokens: input,
        output_tokens: output,
        turns,
    }
}

fn table() -> Vec<AgentRow> {
    vec![
        row(0, 0.30, [5.0, 3.0], 20_000.0, 2_000.0, 5.0),
        row(0, 0.50, [20.0, 12.0], 80_000.0, 6_000.0, 20.0),
        row(1, 0.45, [5.0, 3.0], 20_000.0, 2_000.0, 5.0),
        row(1, 0.52, [9.0, 4.0], 40_000.0, 4_000.0, 10.0),
        row(2, 0.90, [5.0, 3.0], 20_000.0, 2_000.0, 5.0), // does not fit one H100
    ]
}

/// (cost in USD, servable) of a row, priced here: `turns` queries through `inference_cost`.
fn unified(r: &AgentRow, opt: &AgentOptions) -> (f64, bool) {
    let m = &models()[r.model];
    let q = InferenceQuery {
        prompt_tokens: r.input_tokens / r.turns,
        gen_tokens: r.output_tokens / r.turns,
        samples: 1.0,
        attention: Attention::Dense,
    };
    let c = inference_cost(m, &opt.hardware, &q, &opt.inference).unwrap();
    let tools = r.calls[0] * 0.001 + r.calls[1] * 0.001;
    (r.turns * c.gpu_seconds * 2.5 / 3600.0 + tools, c.feasible)
}

#[test]
fn unified_cost_is_tokens_plus_tool_calls() {
    let (m, rows, opt) = (models(), table(), options(AgentUnit::Usd));
    let s = AgentSolver::new(&m, &rows, &opt).unwrap();
    for (r, p) in rows.iter().zip(s.priced()) {
        let (want, servable) = unified(r, &opt);
        assert_eq!(p.servable, servable);
        if servable {
            assert_close(p.cost, want, 1e-12);
            // 8 calls at $0.001, 32 calls, 13 calls: by hand
            assert_close(p.tool_cost, 0.001 * (r.calls[0] + r.calls[1]), 1e-12);
            assert_close(p.token_cost + p.tool_cost, p.cost, 1e-12);
        }
    }
    assert!(!s.priced()[4].servable);
    assert_eq!(s.priced()[4].blocker, Constraint::Memory);
    // GPU-seconds: the tools' $0.008 at $2.5 per GPU-hour is 11.52 GPU-seconds
    let g = options(AgentUnit::GpuSeconds);
    let s = AgentSolver::new(&m, &rows, &g).unwrap();
    assert_close(s.priced()[0].tool_cost, 11.52, 1e-12);
}

/// The documented rules, by enumeration.
fn enumerate(
    costs: &[(f64, bool)],
    rows: &[AgentRow],
    goal: &str,
    v: f64,
) -> (Option<usize>, Constraint) {
    let n = rows.len();
    if goal == "target" {
        let ok: Vec<usize> = (0..n)
            .filter(|&i| rows[i].accuracy >= v && costs[i].1)
            .collect();
        if ok.is_empty() {
            let reach = (0..n).any(|i| rows[i].accuracy >= v);
            return (
                None,
                if reach {
                    Constraint::Memory
                } else {
                    Constraint::TargetAccuracy
                },
            );
        }
        let best = *ok
            .iter()
            .min_by(|&&a, &&b| {
                costs[a]
                    .0
                    .total_cmp(&costs[b].0)
                    .then(rows[b].accuracy.total_cmp(&rows[a].accuracy))
                    .then(a.cmp(&b))
            })
            .unwrap();
        return (Some(best), Constraint::TargetAccuracy);
    }
    let ok: Vec<usize> = (0..n).filter(|&i| costs[i].1 && costs[i].0 <= v).collect();
    if ok.is_empty() {
        return (None, Constraint::Budget);
    }
    let best = *ok
        .iter()
        .max_by(|&&a, &&b| {
            rows[a]
                .accuracy
                .total_cmp(&rows[b].accuracy)
                .then(costs[b].0.total_cmp(&costs[a].0))
                .then(b.cmp(&a))
        })
        .unwrap();
    let better: Vec<usize> = (0..n)
        .filter(|&i| rows[i].accuracy > rows[best].accuracy + 1e-12)
        .collect();
    let binding = if better.iter().any(|&i| costs[i].1) {
        Constraint::Budget
    } else if better.is_empty() {
        Constraint::MeasuredTable
    } else {
        Constraint::Memory
    };
    (Some(best), binding)
}

#[test]
fn planner_is_the_enumeration_next_to_every_row() {
    let (m, rows, opt) = (models(), table(), options(AgentUnit::Usd));
    let s = AgentSolver::new(&m, &rows, &opt).unwrap();
    let costs: Vec<(f64, bool)> = rows.iter().map(|r| unified(r, &opt)).collect();
    let mut targets = vec![0.0, 1.0];
    let mut budgets = vec![0.0, 1e9];
    for (r, c) in rows.iter().zip(&costs) {
        targets.extend([r.accuracy, r.accuracy - 1e-9, r.accuracy + 1e-9]);
        budgets.extend([c.0, c.0 * (1.0 - 1e-9), c.0 * (1.0 + 1e-9)]);
    }
    for t in targets {
        let p = s.cheapest(t).unwrap();
        let (want, binding) = enumerate(&costs, &rows, "target", t);
        assert_eq!(p.binding, binding, "target {t}");
        assert_eq!(p.feasible.then_some(p.row), want, "target {t}");
    }
    for b in budgets {
        let p = s.best_within(b).unwrap();
        let (want, binding) = enumerate(&costs, &rows, "budget", b);
        assert_eq!(p.binding, binding, "budget {b}");
        assert_eq!(p.feasible.then_some(p.row), want, "budget {b}");
        if p.feasible {
            assert!(p.priced.cost <= b);
        }
    }
}

#[test]
fn relaxing_the_budget_changes_the_plan() {
    let (m, rows, opt) = (models(), table(), options(AgentUnit::Usd));
    let s = AgentSolver::new(&m, &rows, &opt).unwrap();
    let p = s.best_within(s.priced()[0].cost).unwrap();
    assert_eq!(p.row, 0);
    assert_eq!(p.binding, Constraint::Budget);
    let next = rows
        .iter()
        .zip(s.priced())
        .filter(|(r, q)| q.servable && r.accuracy > p.accuracy)
        .map(|(_, q)| q.cost)
        .fold(f64::INFINITY, f64::min);
    let q = s.best_within(next).unwrap();
    assert!(q.accuracy > p.accuracy);
}

#[test]
fn bad_rows_are_located_and_limits_hold() {
    let (m, opt) = (models(), options(AgentUnit::Usd));
    let mut rows = table();
    rows[3].accuracy = 1.5;
    let err = AgentSolver::new(&m, &rows, &opt).err().unwrap();
    assert_eq!(err.field(), "rows.accuracy");
    assert_eq!(err.location().unwrap().index, Some(3));
    let mut rows = table();
    rows[1].calls = vec![1.0];
    assert_eq!(
        AgentSolver::new(&m, &rows, &opt).err().unwrap().field(),
        "rows.calls"
    );
    let many = vec![table()[0].clone(); limits::MAX_AGENT_ROWS + 1];
    assert!(matches!(
        AgentSolver::new(&m, &many, &opt),
        Err(PlanError::LimitExceeded { .. })
    ));
    // gaudi3 has no catalog price (h100-sxm has one): the price must then be given.
    let mut usd = options(AgentUnit::Usd);
    usd.hardware = Catalog::shipped().hardware("gaudi3").unwrap().clone();
    usd.usd_per_hour = None;
    assert_eq!(
        AgentSolver::new(&m, &table(), &usd).err().unwrap().field(),
        "usd_per_hour"
    );
    let good = table();
    let s = AgentSolver::new(&m, &good, &opt).unwrap();
    assert_eq!(s.cheapest(1.5).err().unwrap().field(), "target_accuracy");
    assert_eq!(s.best_within(f64::NAN).err().unwrap().field(), "budget");
}

#[test]
fn a_cancelled_call_returns_no_plan() {
    let (m, rows, opt) = (models(), table(), options(AgentUnit::Usd));
    let token = Cancel::new();
    token.cancel();
    let got = cancel::scope(&token, || AgentSolver::new(&m, &rows, &opt).map(|_| ()));
    assert!(matches!(got, Err(PlanError::Cancelled { .. })));
}
