//! The test-time planner against exhaustive grids, with an optimality certificate, and the
//! qualitative Kinetics results on the shipped Qwen3 presets.
use scaleplan_core::plan::*;
use scaleplan_core::testtime::{Aggregator, Curve};
use scaleplan_core::*;

const QWEN3: [&str; 6] = [
    "qwen3-0.6b",
    "qwen3-1.7b",
    "qwen3-4b",
    "qwen3-8b",
    "qwen3-14b",
    "qwen3-32b",
];

fn candidates() -> Vec<Candidate> {
    let c = Catalog::shipped();
    let preset = c.accuracy_preset("aime24-qwen3").unwrap();
    QWEN3
        .iter()
        .map(|&m| Candidate {
            model: c.model(m).unwrap().clone(),
            curve: Curve::Beta(preset.curve(m, Aggregator::Coverage).unwrap()),
        })
        .collect()
}

fn kinetics(unit: BudgetUnit, attention: Vec<Attention>, k_max: u32) -> TestTimeOptions {
    TestTimeOptions {
        hardware: Catalog::shipped()
            .hardware("kinetics-b200")
            .unwrap()
            .clone(),
        inference: InferenceOptions {
            prefill: false,
            ..InferenceOptions::default()
        },
        prompt_tokens: 128.0,
        unit,
        max_samples: k_max,
        attention,
        latency_slo_s: None,
        min_gen_tokens: 256.0,
        max_gen_tokens: Some(32768.0),
        usd_per_hour: None,
    }
}

fn cost(opt: &TestTimeOptions, m: &Model, gen: f64, k: u32, attention: Attention) -> InferenceCost {
    let q = InferenceQuery {
        prompt_tokens: opt.prompt_tokens,
        gen_tokens: gen,
        samples: k as f64,
        attention,
    };
    inference_cost(m, &opt.hardware, &q, &opt.inference).unwrap()
}

fn unit_cost(opt: &TestTimeOptions, c: &InferenceCost) -> f64 {
    match opt.unit {
        BudgetUnit::Flops => c.flops,
        BudgetUnit::Eflops => c.eflops,
        BudgetUnit::Seconds => c.seconds,
        BudgetUnit::Usd => unreachable!(),
    }
}

/// Best accuracy over every (model, attention, k) and a log grid of generation lengths.
fn grid_best(cands: &[Candidate], opt: &TestTimeOptions, budget: f64, points: usize) -> f64 {
    let (lo, hi) = (opt.min_gen_tokens.ln(), opt.max_gen_tokens.unwrap().ln());
    let mut best = 0.0f64;
    for cand in cands {
        for &att in &opt.attention {
            for k in 1..=opt.max_samples {
                for i in 0..=points {
                    let gen = (lo + (hi - lo) * i as f64 / points as f64).exp();
                    let c = cost(opt, &cand.model, gen, k, att);
                    if c.feasible && unit_cost(opt, &c) <= budget {
                        best = best.max(cand.curve.accuracy(gen, k));
                    }
                }
            }
        }
    }
    best
}

#[test]
fn never_worse_than_the_grid_across_six_decades_with_an_optimality_certificate() {
    let cands = candidates();
    for unit in [BudgetUnit::Eflops, BudgetUnit::Flops] {
        let opt = kinetics(
            unit,
            vec![Attention::Dense, Attention::TopK { budget: 1024.0 }],
            8,
        );
        let solver = TestTimeSolver::new(&cands, &opt).unwrap();
        for e in [12.0, 13.0, 14.0, 15.0, 16.0, 17.0, 18.0] {
            let budget = 10f64.powf(e);
            let plan = solver.plan(budget).unwrap();
            let grid = grid_best(&cands, &opt, budget, 400);
            // No plan reaches nothing (its accuracy is NaN: not applicable).
            let reached = if plan.feasible { plan.accuracy } else { 0.0 };
            assert!(
                reached >= grid - 1e-15,
                "{unit:?} {budget:e}: plan {} < grid {grid}",
                plan.accuracy
            );
            if !plan.feasible {
                assert_eq!(grid, 0.0);
                continue;
            }
            // Certificate: the chosen configuration fits, and 1e-6 more generation would not
            // (or the length is at its bound), so nothing within it beats the plan by more than
            // the accuracy gained over 1e-6 of ln L.
            let m = &cands[plan.candidate].model;
            let att = opt.attention[plan.attention];
            let c = cost(&opt, m, plan.gen_tokens, plan.samples, att);
            assert!(unit_cost(&opt, &c) <= budget * (1.0 + 1e-12));
            if plan.binding == Constraint::Budget {
                let longer = cost(&opt, m, plan.gen_tokens * (1.0 + 1e-6), plan.samples, att);
                assert!(
                    unit_cost(&opt, &longer) > budget,
                    "{budget:e}: L could grow"
                );
            } else {
                // Budget left over: L is at its bound, and so is k when the cap on samples is
                // what keeps the spare budget unspent.
                assert_eq!(plan.gen_tokens, 32768.0);
                let expected = if plan.samples == opt.max_samples {
                    Constraint::MaxSamples
                } else {
                    Constraint::MaxGenTokens
                };
                assert_eq!(plan.binding, expected);
            }
        }
    }
}

#[test]
fn more_budget_never_lowers_accuracy() {
    let cands = candidates();
    let opt = kinetics(BudgetUnit::Eflops, vec![Attention::Dense], 16);
    let solver = TestTimeSolver::new(&cands, &opt).unwrap();
    let mut last = 0.0;
    for i in 0..60 {
        let budget = 10f64.powf(12.0 + 7.0 * i as f64 / 59.0);
        let p = solver.plan(budget).unwrap();
        let reached = if p.feasible { p.accuracy } else { 0.0 };
        assert!(reached >= last - 1e-12, "{budget:e}: {reached} < {last}");
        last = reached;
    }
}

#[test]
fn sparse_attention_never_lowers_accuracy() {
    let cands = candidates();
    let dense = kinetics(BudgetUnit::Eflops, vec![Attention::Dense], 16);
    let mut choices = vec![Attention::Dense];
    for s in [256.0, 1024.0, 4096.0] {
        choices.push(Attention::TopK { budget: s });
        choices.push(Attention::BlockTopK {
            budget: s,
            block_size: 16.0,
        });
    }
    let sparse = kinetics(BudgetUnit::Eflops, choices, 16);
    let (d, s) = (
        TestTimeSolver::new(&cands, &dense).unwrap(),
        TestTimeSolver::new(&cands, &sparse).unwrap(),
    );
    let mut strictly_better = 0;
    for i in 0..30 {
        let budget = 10f64.powf(13.0 + 5.0 * i as f64 / 29.0);
        let (pd, ps) = (d.plan(budget).unwrap(), s.plan(budget).unwrap());
        assert!(ps.accuracy >= pd.accuracy, "{budget:e}");
        strictly_better += usize::from(ps.accuracy > pd.accuracy + 1e-6);
    }
    assert!(
        strictly_better > 0,
        "sparse attention should buy accuracy somewhere"
    );
}

/// Kinetics: once memory traffic is priced, small models with long generations lose their
/// apparent cheapness, so the frontier moves to larger models at lower accuracy levels.
#[test]
fn eflops_pricing_switches_to_larger_models_earlier() {
    let cands = candidates();
    let switch_accuracy = |unit: BudgetUnit| {
        let opt = kinetics(unit, vec![Attention::Dense], 32);
        let solver = TestTimeSolver::new(&cands, &opt).unwrap();
        (0..400)
            .map(|i| {
                solver
                    .plan(10f64.powf(10.0 + 10.0 * i as f64 / 399.0))
                    .unwrap()
            })
            .find(|p| p.feasible && p.candidate >= 3) // qwen3-8b or larger
            .map(|p| p.accuracy)
            .expect("a large model is chosen at some budget")
    };
    let (with_memory, flops_only) = (
        switch_accuracy(BudgetUnit::Eflops),
        switch_accuracy(BudgetUnit::Flops),
    );
    assert!(
        with_memory < flops_only,
        "eFLOPs switches at accuracy {with_memory}, FLOPs at {flops_only}"
    );
}

#[test]
fn infeasible_requests_name_the_constraint() {
    let cands = candidates();
    let opt = kinetics(BudgetUnit::Eflops, vec![Attention::Dense], 4);
    let p = TestTimeSolver::new(&cands, &opt)
        .unwrap()
        .plan(1e6)
        .unwrap();
    assert_eq!((p.feasible, p.binding), (false, Constraint::Budget));
    let slo = TestTimeOptions {
        latency_slo_s: Some(1e-4),
        ..opt.clone()
    };
    let p = TestTimeSolver::new(&cands, &slo)
        .unwrap()
        .plan(1e20)
        .unwrap();
    assert_eq!((p.feasible, p.binding), (false, Constraint::Latency));
    // A loose SLO binds before the budget does.
    let slo = TestTimeOptions {
        latency_slo_s: Some(5.0),
        ..opt.clone()
    };
    let p = TestTimeSolver::new(&cands, &slo)
        .unwrap()
        .plan(1e20)
        .unwrap();
    assert!(p.feasible && p.latency_s <= 5.0 * (1.0 + 1e-9));
    assert_eq!(p.binding, Constraint::Latency);
    let err = TestTimeSolver::new(&cands, &opt)
        .unwrap()
        .plan(f64::NAN)
        .unwrap_err();
    assert_eq!(err.field(), "budget");
}

/// Equal accuracy goes to the cheaper configuration: where memory caps samples and length
/// whatever the attention, dense and top-k reach the same accuracy (to rounding in the length
/// search) and the plan must not take dense attention at eight times the cost.
#[test]
fn ties_go_to_the_cheaper_configuration() {
    let cands = candidates();
    let topk = Attention::TopK { budget: 1024.0 };
    let both = kinetics(BudgetUnit::Eflops, vec![Attention::Dense, topk], 64);
    let sparse = kinetics(BudgetUnit::Eflops, vec![topk], 64);
    let (b, s) = (
        TestTimeSolver::new(&cands, &both).unwrap(),
        TestTimeSolver::new(&cands, &sparse).unwrap(),
    );
    for i in 0..13 {
        let budget = 10f64.powf(17.0 + 2.0 * i as f64 / 12.0);
        let (pb, ps) = (b.plan(budget).unwrap(), s.plan(budget).unwrap());
        assert!(pb.accuracy >= ps.accuracy - 1e-12, "{budget:e}");
        if (pb.accuracy - ps.accuracy).abs() <= 1e-12 {
            assert!(
                pb.cost <= ps.cost * (1.0 + 1e-9),
                "{budget:e}: {:?} costs {:e}, top-k alone {:e} for the same accuracy",
                both.attention[pb.attention],
                pb.cost,
                ps.cost
            );
        }
    }
}

#[test]
fn contradictory_options_are_errors_naming_the_field() {
    let cands = candidates();
    let opt = kinetics(BudgetUnit::Eflops, vec![Attention::Dense], 4);
    let bad = TestTimeOptions {
        min_gen_tokens: 4096.0,
        max_gen_tokens: Some(1024.0),
        ..opt.clone()
    };
    assert_eq!(
        TestTimeSolver::new(&cands, &bad).err().unwrap().field(),
        "max_gen_tokens"
    );
    let bad = TestTimeOptions {
        usd_per_hour: Some(-3.0),
        ..opt
    };
    assert_eq!(
        TestTimeSolver::new(&cands, &bad).err().unwrap().field(),
        "usd_per_hour"
    );
}
