//! Property tests at the walls (docs/solvers.md, docs/planning.md): on random hardware (HBM from
//! 16 GB to 1 TB), budgets and targets, no plan is beaten by a pinned-size, pinned-length or
//! pinned-degree evaluation on a fine grid that includes the points right next to each wall
//! (found here by bisection on feasibility, independently of the planners' searches).
mod common;

use proptest::prelude::*;
use scaleplan_core::plan::*;
use scaleplan_core::testtime::{Aggregator, Curve};
use scaleplan_core::*;

fn hardware(hbm: f64) -> Hardware {
    Hardware {
        hbm_bytes: hbm,
        ..Catalog::shipped().hardware("h100-sxm").unwrap().clone()
    }
}

fn lifetime_options(hbm: f64, gpus: f64, auto_gpus: bool) -> LifetimeOptions {
    LifetimeOptions {
        pricing: InferencePricing::CostModel {
            family: common::qwen3_dense(),
            hardware: hardware(hbm),
            options: InferenceOptions {
                batch: Batch::Max,
                gpus,
                ..InferenceOptions::default()
            },
            attention: Attention::Dense,
        },
        unit: CostUnit::GpuHours,
        auto_gpus,
        ..common::lifetime_two_n()
    }
}

/// The largest x in [lo, hi] with `fits(x)`, given `fits(lo)`, to a relative 1e-12.
fn last_feasible(fits: impl Fn(f64) -> bool, mut lo: f64, mut hi: f64) -> f64 {
    if fits(hi) {
        return hi;
    }
    while hi / lo > 1.0 + 1e-12 {
        let mid = (lo * hi).sqrt();
        if fits(mid) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Lifetime plans (target goal) against pinned sizes: a log grid over six decades and the
    /// sizes right below the memory wall of the replica.
    #[test]
    fn lifetime_never_beaten_by_pinned_sizes(
        log_hbm in (16e9f64).ln()..(1e12f64).ln(),
        target in 1.80f64..2.6,
        log_queries in (1e6f64).ln()..(1e11f64).ln(),
        gpus in prop::sample::select(vec![1.0, 2.0, 4.0, 8.0]),
    ) {
        let law = Catalog::shipped().law("sardana2023").unwrap().clone();
        let opt = lifetime_options(log_hbm.exp(), gpus, false);
        let demand = Demand {
            queries: log_queries.exp(),
            prompt_tokens: 512.0,
            gen_tokens: 1024.0,
            samples: 1.0,
        };
        let goal = LifetimeGoal::TargetLoss(target);
        let plan = plan_lifetime(&law, goal, demand, &opt).unwrap();
        let pinned = |n: f64| {
            let o = LifetimeOptions { min_params: Some(n), max_params: Some(n), ..opt.clone() };
            plan_lifetime(&law, goal, demand, &o).unwrap()
        };
        let mut sizes: Vec<f64> = (0..=300).map(|i| (1e6f64.ln() + 16.0 * i as f64 / 300.0).exp()).collect();
        let fits = |n: f64| pinned(n).feasible;
        if let Some(&first) = sizes.iter().find(|&&n| fits(n)) {
            let wall = last_feasible(fits, first, 1e14);
            sizes.extend([wall, wall * (1.0 - 1e-9), wall * (1.0 - 1e-6), wall * (1.0 - 1e-3)]);
        }
        let mut best = f64::INFINITY;
        for n in sizes {
            let p = pinned(n);
            if p.feasible {
                best = best.min(p.total_cost);
            }
        }
        if best.is_finite() {
            prop_assert!(plan.feasible, "infeasible but a pinned size costs {best}");
            prop_assert!(plan.total_cost <= best * (1.0 + 1e-9), "{} > {best}", plan.total_cost);
        } else {
            prop_assert!(!plan.feasible || plan.total_cost.is_finite());
        }
    }

    /// Choosing the degree is never beaten by any pinned degree.
    #[test]
    fn lifetime_degree_never_beaten_by_a_pinned_degree(
        log_hbm in (16e9f64).ln()..(1e12f64).ln(),
        target in 1.78f64..2.4,
        log_queries in (1e6f64).ln()..(1e11f64).ln(),
    ) {
        let law = Catalog::shipped().law("sardana2023").unwrap().clone();
        let demand = Demand { queries: log_queries.exp(), prompt_tokens: 512.0, gen_tokens: 1024.0, samples: 1.0 };
        let goal = LifetimeGoal::TargetLoss(target);
        let auto = plan_lifetime(&law, goal, demand, &lifetime_options(log_hbm.exp(), 1.0, true)).unwrap();
        for g in TP_DEGREES {
            let p = plan_lifetime(&law, goal, demand, &lifetime_options(log_hbm.exp(), g, false)).unwrap();
            if p.feasible {
                prop_assert!(auto.feasible && auto.total_cost <= p.total_cost * (1.0 + 1e-12));
            }
        }
    }
}

fn joint_options(hbm: f64, queries: f64, auto_gpus: bool) -> JointOptions {
    common::joint_options(hardware(hbm), queries, 4, auto_gpus)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 12, ..ProptestConfig::default() })]

    /// Joint plans against pinned (degree, N, k, L): a grid in N and L, and for each pinned
    /// (degree, N, k) the longest feasible generation (the wall in L) and points just below it.
    #[test]
    fn joint_never_beaten_by_pinned_points(
        log_hbm in (16e9f64).ln()..(1e12f64).ln(),
        log_budget in (1e3f64).ln()..(1e8f64).ln(),
        log_queries in (1e6f64).ln()..(1e10f64).ln(),
        auto_gpus in proptest::bool::ANY,
    ) {
        let law = Catalog::shipped().law("gadre2024-redpajama").unwrap().clone();
        let opt = joint_options(log_hbm.exp(), log_queries.exp(), auto_gpus);
        let solver = JointSolver::new(&law, &opt).unwrap();
        let budget = log_budget.exp();
        let plan = solver.plan(budget).unwrap();
        let degrees: &[f64] = if auto_gpus { &TP_DEGREES } else { &[1.0] };
        let (n_lo, n_hi) = (0.752e9f64, 32.76e9f64);
        let (l_lo, l_hi) = (256.0f64, 32768.0f64);
        let mut best = 0.0f64;
        for &g in degrees {
            for i in 0..=16 {
                let n = (n_lo.ln() + (n_hi / n_lo).ln() * f64::from(i) / 16.0).exp();
                for k in 1..=opt.max_samples {
                    let at = |gen: f64| solver.evaluate_at(budget, n, k, gen, 0, g);
                    for j in 0..=16 {
                        let gen = (l_lo.ln() + (l_hi / l_lo).ln() * f64::from(j) / 16.0).exp();
                        best = best.max(at(gen));
                    }
                    if at(l_lo) > 0.0 {
                        let wall = last_feasible(|gen| at(gen) > 0.0, l_lo, l_hi);
                        for gen in [wall, wall * (1.0 - 1e-9), wall * (1.0 - 1e-6), wall * (1.0 - 1e-3)] {
                            best = best.max(at(gen));
                        }
                    }
                }
            }
        }
        // An infeasible plan's accuracy is not applicable (NaN): it reaches nothing.
        let reached = if plan.feasible { plan.accuracy } else { 0.0 };
        prop_assert!(reached >= best - 1e-12, "plan {reached} < pinned {best}");
        if plan.feasible {
            let again = solver.evaluate_at(budget, plan.params, plan.samples, plan.gen_tokens, 0, plan.gpus);
            prop_assert!((again - plan.accuracy).abs() <= 1e-9, "{again} vs {}", plan.accuracy);
        }
    }
}

fn test_time_options(hbm: f64) -> TestTimeOptions {
    TestTimeOptions {
        hardware: Hardware {
            hbm_bytes: hbm,
            ..Catalog::shipped()
                .hardware("kinetics-b200")
                .unwrap()
                .clone()
        },
        inference: InferenceOptions {
            batch: Batch::Max,
            prefill: false,
            ..InferenceOptions::default()
        },
        prompt_tokens: 128.0,
        unit: BudgetUnit::Eflops,
        max_samples: 8,
        attention: vec![Attention::Dense],
        latency_slo_s: None,
        min_gen_tokens: 256.0,
        max_gen_tokens: Some(32768.0),
        usd_per_hour: None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Test-time plans against every (model, k) at a grid of lengths and at the longest length
    /// the budget and memory allow (found by bisection here).
    #[test]
    fn test_time_never_beaten_by_pinned_lengths(
        log_hbm in (16e9f64).ln()..(1e12f64).ln(),
        log_budget in (1e13f64).ln()..(1e19f64).ln(),
    ) {
        let c = Catalog::shipped();
        let preset = c.accuracy_preset("aime24-qwen3").unwrap();
        let candidates: Vec<Candidate> = ["qwen3-0.6b", "qwen3-4b", "qwen3-14b", "qwen3-32b"]
            .iter()
            .map(|&m| Candidate {
                model: c.model(m).unwrap().clone(),
                curve: Curve::Beta(preset.curve(m, Aggregator::Coverage).unwrap()),
            })
            .collect();
        let opt = test_time_options(log_hbm.exp());
        let budget = log_budget.exp();
        let plan = TestTimeSolver::new(&candidates, &opt).unwrap().plan(budget).unwrap();
        let mut best = 0.0f64;
        for cand in &candidates {
            for k in 1..=opt.max_samples {
                let fits = |gen: f64| {
                    let q = InferenceQuery {
                        prompt_tokens: opt.prompt_tokens,
                        gen_tokens: gen,
                        samples: f64::from(k),
                        attention: Attention::Dense,
                    };
                    let cost = inference_cost(&cand.model, &opt.hardware, &q, &opt.inference).unwrap();
                    cost.feasible && cost.eflops <= budget
                };
                let value = |gen: f64| if fits(gen) { cand.curve.accuracy(gen, k) } else { 0.0 };
                for j in 0..=40 {
                    best = best.max(value((256f64.ln() + (128f64).ln() * f64::from(j) / 40.0).exp()));
                }
                if fits(256.0) {
                    let wall = last_feasible(fits, 256.0, 32768.0);
                    best = best.max(value(wall)).max(value(wall * (1.0 - 1e-9)));
                }
            }
        }
        // An infeasible plan's accuracy is not applicable (NaN): it reaches nothing.
        let reached = if plan.feasible { plan.accuracy } else { 0.0 };
        prop_assert!(reached >= best - 1e-12, "plan {reached} < pinned {best}");
    }
}
