//! The joint planner against a brute-force grid over (N, k, L), a local certificate, and its
//! invariants.
mod common;

use scaleplan_core::plan::*;
use scaleplan_core::testtime::passk::beta_pass_at_k;
use scaleplan_core::testtime::saturation;
use scaleplan_core::*;

fn options(queries: f64) -> JointOptions {
    let hardware = Catalog::shipped().hardware("h100-sxm").unwrap().clone();
    common::joint_options(hardware, queries, 8, false)
}

fn law() -> laws::LossLaw {
    Catalog::shipped()
        .law("gadre2024-redpajama")
        .unwrap()
        .clone()
}

/// Accuracy of one (N, k, L) point: the rest of the budget trains.
fn accuracy_at(
    opt: &JointOptions,
    l: &laws::LossLaw,
    budget: f64,
    n: f64,
    k: u32,
    gen: f64,
) -> f64 {
    let pricer = Pricer::for_shape(
        opt.family.at(n),
        &opt.hardware,
        &InferenceOptions {
            fractional_batch: true,
            ..opt.inference
        },
    )
    .unwrap();
    let q = InferenceQuery {
        prompt_tokens: opt.prompt_tokens,
        gen_tokens: gen,
        samples: k as f64,
        attention: Attention::Dense,
    };
    let c = pricer.price(&q).unwrap();
    if !c.feasible || gen + opt.prompt_tokens > opt.family.at(n).max_context {
        return 0.0;
    }
    let left = budget - opt.queries * c.gpu_seconds / 3600.0;
    if left <= 0.0 {
        return 0.0;
    }
    let hw = &opt.hardware;
    let tokens = left * hw.peak_flops_bf16 * hw.train_mfu * 3600.0 / (6.0 * n);
    let loss = l.loss(n, tokens);
    let mu = (1.0 - l.error.unwrap().error(loss)) * saturation(gen, opt.half_tokens, opt.hill);
    beta_pass_at_k(mu, opt.kappa, k as f64)
}

#[test]
fn never_worse_than_a_grid_and_locally_optimal() {
    let l = law();
    for (queries, budgets) in [(1e6, [1e3, 1e5, 1e7]), (1e9, [1e5, 1e7, 1e9])] {
        let opt = options(queries);
        let solver = JointSolver::new(&l, &opt).unwrap();
        let (n_lo, n_hi) = (0.752e9f64.ln(), 32.76e9f64.ln());
        for budget in budgets {
            let plan = solver.plan(budget).unwrap();
            let mut grid = 0.0f64;
            for i in 0..=60 {
                let n = (n_lo + (n_hi - n_lo) * i as f64 / 60.0).exp();
                for k in 1..=opt.max_samples {
                    for j in 0..=60 {
                        let gen =
                            (256f64.ln() + (32768f64.ln() - 256f64.ln()) * j as f64 / 60.0).exp();
                        grid = grid.max(accuracy_at(&opt, &l, budget, n, k, gen));
                    }
                }
            }
            assert!(
                plan.accuracy >= grid - 1e-12,
                "Q={queries:e} B={budget:e}: plan {} < grid {grid}",
                plan.accuracy
            );
            if !plan.feasible {
                continue;
            }
            // Recomputing the plan's point independently gives its accuracy.
            let again = accuracy_at(&opt, &l, budget, plan.params, plan.samples, plan.gen_tokens);
            assert!(
                (again - plan.accuracy).abs() <= 1e-9,
                "{again} vs {}",
                plan.accuracy
            );
            // A fine local grid (+-2% in N and L at the plan's k) finds nothing better than 1e-6.
            for di in -20..=20 {
                for dj in -20..=20 {
                    let n = plan.params * (1.0 + 0.001 * di as f64);
                    let gen = (plan.gen_tokens * (1.0 + 0.001 * dj as f64)).min(32768.0);
                    if !(0.752e9..=32.76e9).contains(&n) {
                        continue;
                    }
                    let a = accuracy_at(&opt, &l, budget, n, plan.samples, gen);
                    assert!(
                        a <= plan.accuracy * (1.0 + 1e-6),
                        "({n:e}, {gen}) gives {a} > {}",
                        plan.accuracy
                    );
                }
            }
        }
    }
}

#[test]
fn more_budget_never_lowers_accuracy_and_costs_add_up() {
    let l = law();
    let opt = options(1e8);
    let solver = JointSolver::new(&l, &opt).unwrap();
    let mut last = 0.0;
    for e in 3..=9 {
        let budget = 10f64.powi(e);
        let p = solver.plan(budget).unwrap();
        assert!(p.accuracy >= last - 1e-12, "{budget:e}");
        last = p.accuracy;
        if p.feasible {
            assert!((p.training_cost + p.inference_cost - budget).abs() <= 1e-9 * budget);
            assert!(solver.marginal(&p).unwrap() >= -1e-12);
        }
    }
}

#[test]
fn cheapest_plan_reaching_a_target_and_infeasible_targets() {
    let l = law();
    let opt = options(1e7);
    let solver = JointSolver::new(&l, &opt).unwrap();
    let p = solver.cheapest(0.5).unwrap();
    assert!(p.feasible && p.accuracy >= 0.5);
    assert_eq!(p.binding, Constraint::TargetAccuracy);
    // 1% less budget does not reach it
    assert!(solver.plan(p.total_cost * 0.99).unwrap().accuracy < 0.5);
    // the Gadre law caps accuracy below 1 - (eps - k e^{-gamma E}): 0.99 is out of reach
    let q = solver.cheapest(0.99).unwrap();
    assert!(!q.feasible);
    assert_eq!(q.binding, Constraint::TargetAccuracy);
    assert!(
        q.accuracy > 0.5 && q.accuracy < 0.99,
        "the cap is reported: {}",
        q.accuracy
    );
    // No plan: its quantities do not apply (NaN, never 0), and nothing is extrapolated.
    assert!(q.total_cost.is_nan() && q.params.is_nan() && q.tokens.is_nan());
    assert!(q.extrapolated.is_empty());
}

#[test]
fn latency_slo_and_bad_input() {
    let l = law();
    let opt = JointOptions {
        latency_slo_s: Some(60.0),
        ..options(1e7)
    };
    let p = JointSolver::new(&l, &opt).unwrap().plan(1e7).unwrap();
    assert!(p.feasible && p.latency_s <= 60.0 * (1.0 + 1e-9));
    let no_error_law = Catalog::shipped().law("hoffmann2022").unwrap().clone();
    assert_eq!(
        JointSolver::new(&no_error_law, &options(1.0))
            .err()
            .unwrap()
            .field(),
        "law"
    );
    let bad = JointOptions {
        queries: f64::NAN,
        ..options(1.0)
    };
    assert_eq!(JointSolver::new(&l, &bad).err().unwrap().field(), "queries");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 32, ..Default::default() })]
    /// The faster searches (docs/solvers.md, "The joint planner's searches") never give a plan
    /// worse than the searches they replaced (`JointSolver::reference`) by more than 1e-9
    /// relative, on random problems: small-HBM hardware (the memory wall in N and L), long
    /// prompts (the context wall on L), small k_max with large budgets (k_max binds), an SLO
    /// (no pruning over k), GPUs chosen or not, bounds on N, and budgets from hopeless to
    /// ample.
    #[test]
    fn the_faster_searches_are_never_worse_than_the_reference(
        hw in proptest::sample::select(vec!["h100-sxm", "l40s", "tpu-v5e", "a100-80gb"]),
        log_queries in 4.0f64..10.0,
        log_budget in 2.0f64..8.5,
        k_max in 1u32..=16,
        prompt in proptest::sample::select(vec![128.0, 4096.0, 30000.0, 38000.0]),
        max_gen in proptest::sample::select(vec![4096.0, 32768.0]),
        slo in proptest::option::weighted(0.2, 5.0f64..600.0),
        auto_gpus in proptest::bool::ANY,
        log_min_params in proptest::option::weighted(0.2, 20.5f64..23.0),
    ) {
        let l = law();
        let opt = JointOptions {
            prompt_tokens: prompt,
            max_gen_tokens: max_gen,
            latency_slo_s: slo,
            min_params: log_min_params.map(f64::exp),
            ..common::joint_options(
                Catalog::shipped().hardware(hw).unwrap().clone(),
                10f64.powf(log_queries),
                k_max,
                auto_gpus,
            )
        };
        let budget = 10f64.powf(log_budget);
        let fast = JointSolver::new(&l, &opt).unwrap();
        let reference = JointSolver::new(&l, &opt).unwrap().reference();
        let (new, old) = (fast.plan(budget).unwrap(), reference.plan(budget).unwrap());
        proptest::prop_assert_eq!(new.feasible, old.feasible, "{:?} vs {:?}", new, old);
        if old.feasible {
            proptest::prop_assert!(
                new.accuracy >= old.accuracy * (1.0 - 1e-9),
                "{:?} worse than the reference {:?}", new, old
            );
        }
    }
}
