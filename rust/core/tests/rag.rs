//! The RAG computation allocation model and planner (docs/planning.md#rag): the law by hand,
//! the planner against an exhaustive lattice search (next to every wall), the refit against
//! synthetic data drawn from the law, and bad input.

mod common;

use scaleplan_core::cost::{inference_cost, InferenceOptions};
use scaleplan_core::laws::rag::{fit_rag, Informativeness, RagLaw, RagRow};
use scaleplan_core::plan::rag::{MAX_RAG_DOCUMENTS, MAX_RAG_ITERATIONS, MAX_RAG_SHOTS};
use scaleplan_core::plan::*;
use scaleplan_core::*;

fn yue() -> RagLaw {
    Catalog::shipped()
        .rag_law("yue2024-gemini-flash")
        .unwrap()
        .clone()
}

fn info(doc: f64, shot: f64) -> Informativeness {
    Informativeness::new(doc, shot).unwrap()
}

#[test]
fn the_preset_matches_the_published_constants() {
    let law = yue();
    assert_eq!(law.a, [0.325, 0.101, 0.177]);
    assert_eq!(law.b, [-0.067, -0.008]);
    assert_eq!(law.c, -0.730);
    assert_eq!(
        (
            law.sigma.scale,
            law.sigma.slope,
            law.sigma.shift,
            law.sigma.offset
        ),
        (3.30, 1.81, 0.46, -2.18)
    );
}

#[test]
fn the_law_by_hand() {
    let law = yue();
    // k=10, m=4, n=2, i=(0.5, 1): slopes 0.325 - 0.067*0.5 = 0.2915, 0.101 - 0.008 = 0.093,
    // 0.177; x = 0.2915 ln 10.01 + 0.093 ln 4.01 + 0.177 ln 2.01 - 0.730
    //   = 0.2915*2.303585 + 0.093*1.388791 + 0.177*0.698135 - 0.730 = 0.194222;
    // P = 3.30 / (1 + exp(-1.81 * 0.654222)) - 2.18 = 3.30 / 1.306213 - 2.18 = 0.346783.
    let x = law.logit(info(0.5, 1.0), 10.0, 4.0, 2.0);
    assert!((x - 0.194222).abs() < 1e-6, "{x}");
    let p = law.metric(info(0.5, 1.0), 10.0, 4.0, 2.0);
    assert!((p - 0.346783).abs() < 1e-6, "{p}");
    // Zero documents and examples, one iteration, no informativeness: every log but the
    // iterations' is ln 0.01 = -4.605170; x = 0.325*-4.605170 + 0.101*-4.605170
    // + 0.177*0.009950 - 0.730 = -2.690041; P = 3.30 / (1 + exp(1.81*2.230041)) - 2.18.
    let p0 = law.metric(info(0.0, 0.0), 0.0, 0.0, 1.0);
    let want = 3.30 / (1.0 + (1.81f64 * 2.230041).exp()) - 2.18;
    assert!((p0 - want).abs() < 1e-6, "{p0} vs {want}");
    assert!((p0 - (-2.122729)).abs() < 1e-6);
    // P stays inside sigma's range, and sigma^-1 inverts sigma.
    let (lo, hi) = law.sigma.range();
    assert_eq!((lo, hi), (-2.18, -2.18 + 3.30));
    let back = law.sigma.inverse("metric", p).unwrap();
    assert!((back - x).abs() < 1e-12);
    assert!(law.sigma.inverse("metric", 1.2).is_err());
    assert!(law.sigma.inverse("metric", -2.18).is_err());
}

fn tokens() -> RagTokens {
    RagTokens {
        doc: 300.0,
        question: 40.0,
        answer: 10.0,
        gen: 50.0,
    }
}

fn options(context_budget: Option<f64>) -> RagOptions {
    RagOptions {
        law: yue(),
        informativeness: info(0.5, 1.0),
        tokens: tokens(),
        max_documents: 60,
        max_shots: 12,
        max_iterations: 4,
        context_budget,
        eflops_budget: None,
        latency_budget_s: None,
        serving: None,
    }
}

/// Input tokens of iteration j, written out again: m examples of (k documents, question,
/// answer), the k documents and the question, and j - 1 earlier outputs.
fn prompt_by_hand(t: &RagTokens, k: u32, m: u32, j: u32) -> f64 {
    let d = t.doc.min(1024.0);
    f64::from(m) * (f64::from(k) * d + t.question + t.answer)
        + f64::from(k) * d
        + t.question
        + f64::from(j - 1) * t.gen
}

/// Every (k, m, n) of the caps, each priced from scratch; the best by logit, ties to fewer
/// tokens.
fn exhaustive(
    opt: &RagOptions,
    model: Option<(&Model, &Hardware, &InferenceOptions)>,
) -> Option<(u32, u32, u32, f64)> {
    let mut best: Option<(u32, u32, u32, f64, f64)> = None;
    for n in 1..=opt.max_iterations {
        for m in 0..=opt.max_shots {
            for k in 0..=opt.max_documents {
                let prompts: Vec<f64> = (1..=n)
                    .map(|j| prompt_by_hand(&opt.tokens, k, m, j))
                    .collect();
                let context: f64 = prompts.iter().sum();
                if opt.context_budget.is_some_and(|b| context > b) {
                    continue;
                }
                if let Some((model, hw, serving)) = model {
                    if prompts[prompts.len() - 1] + opt.tokens.gen > model.max_context as f64 {
                        continue;
                    }
                    let (mut e, mut lat, mut fits) = (0.0, 0.0, true);
                    for &p in &prompts {
                        let q = InferenceQuery {
                            prompt_tokens: p,
                            gen_tokens: opt.tokens.gen,
                            samples: 1.0,
                            attention: Attention::Dense,
                        };
                        let c = inference_cost(model, hw, &q, serving).unwrap();
                        // A fixed batch must fit whole (docs/planning.md#rag).
                        let whole = match serving.batch {
                            Batch::Fixed(b) => c.batch >= b,
                            _ => true,
                        };
                        fits &= c.feasible && whole;
                        e += c.eflops;
                        lat += c.latency_s;
                    }
                    if !fits
                        || opt.eflops_budget.is_some_and(|b| e > b)
                        || opt.latency_budget_s.is_some_and(|b| lat > b)
                    {
                        continue;
                    }
                }
                let x = opt.law.logit(
                    opt.informativeness,
                    f64::from(k),
                    f64::from(m),
                    f64::from(n),
                );
                let better = match best {
                    None => true,
                    Some((.., bx, bt)) => x > bx + 1e-12 || (x >= bx - 1e-12 && context < bt),
                };
                if better {
                    best = Some((k, m, n, x, context));
                }
            }
        }
    }
    best.map(|(k, m, n, x, _)| (k, m, n, x))
}

fn check_against_grid(
    opt: &RagOptions,
    model: Option<(&Model, &Hardware, &InferenceOptions)>,
) -> RagPlan {
    let plan = plan_rag(opt).unwrap();
    match exhaustive(opt, model) {
        None => assert!(!plan.feasible, "{plan:?}"),
        Some((k, m, n, x)) => {
            assert!(plan.feasible);
            assert!(
                (plan.logit - x).abs() <= 1e-12,
                "planner {plan:?} vs grid ({k}, {m}, {n}) at {x}"
            );
            assert_eq!((plan.documents, plan.shots, plan.iterations), (k, m, n));
        }
    }
    plan
}

#[test]
fn context_budget_plans_match_the_exhaustive_lattice() {
    for budget in [200.0, 390.0, 1000.0, 5e3, 2e4, 7.7e4, 3e5, 1e6, 1e8] {
        let plan = check_against_grid(&options(Some(budget)), None);
        if plan.feasible {
            assert!(plan.effective_context_tokens <= budget);
        }
    }
}

#[test]
fn one_more_document_just_fits_or_just_does_not() {
    // With no examples and one iteration allowed, the context of k documents is
    // 300 k + 40: at exactly 300*7 + 40 = 2140 tokens seven fit, one token less six.
    let mut opt = options(Some(2140.0));
    opt.max_shots = 0;
    opt.max_iterations = 1;
    let plan = check_against_grid(&opt, None);
    assert_eq!(plan.documents, 7);
    assert_eq!(plan.effective_context_tokens, 2140.0);
    // The eighth document is blocked by the budget alone (the first example, the second
    // iteration by their caps and the budget): the budget binds, and 300 tokens more buy it.
    assert_eq!(plan.binding, Constraint::ContextBudget);
    let mut relaxed = opt.clone();
    relaxed.context_budget = Some(2440.0);
    assert_eq!(plan_rag(&relaxed).unwrap().documents, 8);
    opt.context_budget = Some(2139.0);
    let plan = check_against_grid(&opt, None);
    assert_eq!(plan.documents, 6);
    // One example at k = 2: 1 * (600 + 40 + 10) + 600 + 40 = 1290 tokens.
    let mut opt = options(Some(1290.0));
    opt.max_documents = 2;
    opt.max_iterations = 1;
    let plan = check_against_grid(&opt, None);
    assert_eq!((plan.documents, plan.shots), (2, 1));
    // One token less: with k <= 2 the candidates are (2, 0) at 640 tokens (logit terms
    // 0.2915 ln 2.01 + 0.093 ln 0.01 = -0.225), (1, 2) at 2 * 350 + 340 = 1040 (0.2915 ln 1.01
    // + 0.093 ln 2.01 = 0.068) and (0, 12) at 640 (-1.11): (1, 2) wins.
    opt.context_budget = Some(1289.0);
    let plan = check_against_grid(&opt, None);
    assert_eq!((plan.documents, plan.shots), (1, 2));
    // A second iteration at k = 3, m = 0: (940) + (940 + 50) = 1930 tokens.
    let mut opt = options(Some(1930.0));
    opt.max_documents = 3;
    opt.max_shots = 0;
    let plan = check_against_grid(&opt, None);
    assert_eq!((plan.documents, plan.iterations), (3, 2));
    // One token less: (3, 1) at 940 tokens (0.2915 ln 3.01 + 0.177 ln 1.01 = 0.3229) loses to
    // (2, 2) at 640 + 690 = 1330 (0.4685 ln 2.01 = 0.3271).
    opt.context_budget = Some(1929.0);
    let plan = check_against_grid(&opt, None);
    assert_eq!((plan.documents, plan.iterations), (2, 2));
}

#[test]
fn caps_bind_and_relaxing_the_binding_constraint_changes_the_plan() {
    let plan = check_against_grid(&options(Some(1e9)), None);
    assert_eq!((plan.documents, plan.shots, plan.iterations), (60, 12, 4));
    assert!(matches!(
        plan.binding,
        Constraint::MaxDocuments | Constraint::MaxShots | Constraint::MaxIterations
    ));
    let mut relaxed = options(Some(1e9));
    match plan.binding {
        Constraint::MaxDocuments => relaxed.max_documents += 1,
        Constraint::MaxShots => relaxed.max_shots += 1,
        _ => relaxed.max_iterations += 1,
    }
    let after = plan_rag(&relaxed).unwrap();
    assert!(after.logit > plan.logit);

    for budget in [3e3, 2e4, 1e5] {
        let plan = check_against_grid(&options(Some(budget)), None);
        assert_eq!(plan.binding, Constraint::ContextBudget);
        let after = plan_rag(&options(Some(budget * 1.5))).unwrap();
        assert!(after.logit > plan.logit);
    }
}

#[test]
fn a_variable_that_lowers_the_metric_stays_at_zero() {
    // i_doc = 6 > 0.325 / 0.067: each document lowers the predicted metric.
    let mut opt = options(Some(1e6));
    opt.informativeness = info(6.0, 1.0);
    let plan = check_against_grid(&opt, None);
    assert_eq!(plan.documents, 0);
    // With every slope <= 0 nothing is worth adding.
    opt.informativeness = info(6.0, 20.0);
    opt.law.a[2] = 0.0;
    let plan = check_against_grid(&opt, None);
    assert_eq!((plan.documents, plan.shots, plan.iterations), (0, 0, 1));
    assert_eq!(plan.binding, Constraint::NoGain);
}

#[test]
fn an_impossible_budget_is_an_infeasible_plan() {
    // The smallest prompt is the question: 40 tokens.
    let plan = check_against_grid(&options(Some(39.0)), None);
    assert!(!plan.feasible && plan.metric.is_nan());
    assert_eq!(plan.binding, Constraint::ContextBudget);
    let plan = check_against_grid(&options(Some(40.0)), None);
    assert!(plan.feasible);
    assert_eq!((plan.documents, plan.shots, plan.iterations), (0, 0, 1));
}

fn served(
    model: &Model,
    hw: &Hardware,
    serving: &InferenceOptions,
    eflops: Option<f64>,
    latency: Option<f64>,
) -> RagOptions {
    let mut opt = options(None);
    opt.max_documents = 40;
    opt.max_shots = 6;
    opt.max_iterations = 3;
    opt.eflops_budget = eflops;
    opt.latency_budget_s = latency;
    opt.serving = Some(RagServing::new(model, hw, serving).unwrap());
    opt
}

#[test]
fn eflops_and_latency_budgets_match_the_exhaustive_lattice() {
    let c = Catalog::shipped();
    let model = c.model("qwen3-8b").unwrap();
    let hw = c.hardware("h100-sxm").unwrap();
    let serving = InferenceOptions::default();
    // One query of 1,000 prompt tokens is ~2 * 8e9 * 1e3 = 1.6e13 FLOPs of prefill.
    for budget in [1e12, 2e13, 1e14, 5e14, 3e15, 1e17] {
        let opt = served(model, hw, &serving, Some(budget), None);
        let plan = check_against_grid(&opt, Some((model, hw, &serving)));
        if plan.feasible {
            assert!(plan.eflops <= budget);
        }
    }
    for latency in [0.01, 0.05, 0.2, 1.0, 5.0] {
        let opt = served(model, hw, &serving, None, Some(latency));
        let plan = check_against_grid(&opt, Some((model, hw, &serving)));
        if plan.feasible {
            assert!(plan.latency_s <= latency);
        }
    }
    // Under batch "max" the eFLOPs still grow with the prompt (a smaller batch shares the
    // weight reads among fewer queries): the same search holds.
    let max_batch = InferenceOptions {
        batch: Batch::Max,
        ..InferenceOptions::default()
    };
    for budget in [3e14, 3e15] {
        let opt = served(model, hw, &max_batch, Some(budget), None);
        check_against_grid(&opt, Some((model, hw, &max_batch)));
    }
    // A fixed batch of 64 queries: the longest prompts no longer fit 64 KV caches beside the
    // weights, so memory binds before the cost model would shrink the batch.
    let fixed = InferenceOptions {
        batch: Batch::Fixed(64.0),
        ..InferenceOptions::default()
    };
    let mut big = served(model, hw, &fixed, None, Some(30.0));
    big.max_documents = 200;
    big.max_shots = 2;
    let plan = check_against_grid(&big, Some((model, hw, &fixed)));
    assert_eq!(plan.binding, Constraint::Memory);
    for latency in [0.5, 2.0, 8.0] {
        let opt = served(model, hw, &fixed, Some(1e17), Some(latency));
        check_against_grid(&opt, Some((model, hw, &fixed)));
    }
    // Its latency does not grow with the prompt (a smaller batch decodes faster), so a latency
    // budget under batch max is refused, naming the batch.
    let e = plan_rag(&served(model, hw, &max_batch, None, Some(1.0))).unwrap_err();
    assert_eq!(e.field(), "batch");
    // All three budgets at once.
    let mut opt = served(model, hw, &serving, Some(3e14), Some(0.5));
    opt.context_budget = Some(2e4);
    check_against_grid(&opt, Some((model, hw, &serving)));
}

#[test]
fn the_budget_type_changes_the_decision_and_binding_is_named() {
    let c = Catalog::shipped();
    let model = c.model("qwen3-8b").unwrap();
    let hw = c.hardware("h100-sxm").unwrap();
    let serving = InferenceOptions::default();
    let plan = check_against_grid(
        &served(model, hw, &serving, Some(2e14), None),
        Some((model, hw, &serving)),
    );
    assert_eq!(plan.binding, Constraint::Budget);
    // Just at the plan's own eFLOPs it is still the plan; 0.1% below, it is not.
    let at = plan_rag(&served(model, hw, &serving, Some(plan.eflops), None)).unwrap();
    assert_eq!(at.logit, plan.logit);
    let below = check_against_grid(
        &served(model, hw, &serving, Some(plan.eflops * 0.999), None),
        Some((model, hw, &serving)),
    );
    assert!(below.logit < plan.logit);
    let plan = check_against_grid(
        &served(model, hw, &serving, None, Some(0.3)),
        Some((model, hw, &serving)),
    );
    assert_eq!(plan.binding, Constraint::Latency);
}

#[test]
fn the_model_context_window_binds() {
    let c = Catalog::shipped();
    let mut model = c.model("qwen3-8b").unwrap().clone();
    model.max_context = 4096;
    let hw = c.hardware("h100-sxm").unwrap();
    let serving = InferenceOptions::default();
    let plan = check_against_grid(
        &served(&model, hw, &serving, Some(1e18), None),
        Some((&model, hw, &serving)),
    );
    assert!(plan.max_prompt_tokens + 50.0 <= 4096.0);
    assert_eq!(plan.binding, Constraint::Context);
}

#[test]
fn the_refit_recovers_the_law_from_its_own_data() {
    let truth = RagLaw {
        name: "truth".into(),
        a: [0.3, 0.12, 0.2],
        b: [-0.05, -0.01],
        c: -0.6,
        ..yue()
    };
    let mut rows = Vec::new();
    for (ki, k) in [0.0, 1.0, 5.0, 20.0, 100.0].iter().enumerate() {
        for m in [0.0, 1.0, 4.0, 16.0] {
            for n in [1.0, 2.0, 4.0] {
                let (i_doc, i_shot) = (0.2 + 0.3 * ki as f64, 0.5 + 0.1 * m);
                let metric = truth.metric(info(i_doc, i_shot), *k, m, n);
                rows.push(RagRow {
                    documents: *k,
                    shots: m,
                    iterations: n,
                    i_doc,
                    i_shot,
                    metric,
                });
            }
        }
    }
    let fit = fit_rag(&yue(), &rows, "mine").unwrap();
    for (got, want) in fit.law.a.iter().zip(truth.a) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    for (got, want) in fit.law.b.iter().zip(truth.b) {
        assert!((got - want).abs() < 1e-9, "{got} vs {want}");
    }
    assert!((fit.law.c - truth.c).abs() < 1e-9);
    assert!(fit.rms < 1e-9 && fit.residuals.len() == rows.len());
    // A refitted law plans.
    let mut opt = options(Some(1e4));
    opt.law = fit.law.clone();
    check_against_grid(&opt, None);

    // Noise: the residuals are the noise, to within what the fit absorbs.
    let noisy: Vec<RagRow> = rows
        .iter()
        .enumerate()
        .map(|(j, r)| RagRow {
            metric: r.metric + if j % 2 == 0 { 0.01 } else { -0.01 },
            ..*r
        })
        .collect();
    let fit = fit_rag(&yue(), &noisy, "noisy").unwrap();
    assert!(fit.rms > 0.001 && fit.rms < 0.011, "{}", fit.rms);
}

#[test]
fn bad_input_names_the_field() {
    let field = |e: PlanError| e.field().to_string();
    assert_eq!(field(Informativeness::new(-0.1, 0.0).unwrap_err()), "i_doc");
    assert_eq!(
        field(Informativeness::new(0.0, f64::NAN).unwrap_err()),
        "i_shot"
    );
    assert_eq!(
        field(plan_rag(&options(Some(0.0))).unwrap_err()),
        "context_budget_tokens"
    );
    assert_eq!(field(plan_rag(&options(None)).unwrap_err()), "budget");
    let mut opt = options(Some(1e4));
    opt.max_documents = MAX_RAG_DOCUMENTS + 1;
    assert!(matches!(
        plan_rag(&opt).unwrap_err(),
        PlanError::LimitExceeded { ref field, .. } if field == "max_documents"
    ));
    let mut opt = options(Some(1e4));
    opt.max_shots = MAX_RAG_SHOTS + 1;
    assert_eq!(field(plan_rag(&opt).unwrap_err()), "max_shots");
    let mut opt = options(Some(1e4));
    opt.max_iterations = MAX_RAG_ITERATIONS + 1;
    assert_eq!(field(plan_rag(&opt).unwrap_err()), "max_iterations");
    opt.max_iterations = 0;
    assert_eq!(field(plan_rag(&opt).unwrap_err()), "max_iterations");
    let mut opt = options(Some(1e4));
    opt.tokens.doc = -1.0;
    assert_eq!(field(plan_rag(&opt).unwrap_err()), "doc_tokens");
    let mut opt = options(None);
    opt.eflops_budget = Some(1e15);
    assert_eq!(field(plan_rag(&opt).unwrap_err()), "model");
    let c = Catalog::shipped();
    let no_prefill = InferenceOptions {
        prefill: false,
        ..InferenceOptions::default()
    };
    let e = RagServing::new(
        c.model("qwen3-8b").unwrap(),
        c.hardware("h100-sxm").unwrap(),
        &no_prefill,
    )
    .unwrap_err();
    assert_eq!(e.field(), "prefill");
    // The refit: too few rows, a metric outside sigma's range, a grid that does not vary.
    let row = RagRow {
        documents: 1.0,
        shots: 1.0,
        iterations: 1.0,
        i_doc: 0.1,
        i_shot: 0.1,
        metric: 0.0,
    };
    assert_eq!(field(fit_rag(&yue(), &[row; 3], "x").unwrap_err()), "rows");
    let mut rows = vec![row; 8];
    rows[5].metric = 2.0;
    let e = fit_rag(&yue(), &rows, "x").unwrap_err();
    assert_eq!(e.field(), "rows.metric");
    assert_eq!(e.location().and_then(|l| l.index), Some(5));
    assert_eq!(field(fit_rag(&yue(), &[row; 8], "x").unwrap_err()), "rows");
}

#[test]
fn the_search_stays_fast_at_the_limits_whatever_the_budget() {
    let mut opt = options(Some(1e300));
    opt.max_documents = MAX_RAG_DOCUMENTS;
    opt.max_shots = MAX_RAG_SHOTS;
    opt.max_iterations = MAX_RAG_ITERATIONS;
    let t = std::time::Instant::now();
    let plan = plan_rag(&opt).unwrap();
    assert!(plan.feasible);
    assert!(t.elapsed().as_secs_f64() < 20.0);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Whatever the budget, caps, token counts and informativeness, the planner finds the
        /// exhaustive lattice's best, and relaxing the reported binding raises the metric.
        #[test]
        fn the_planner_is_the_lattice_optimum(
            budget in 30.0f64..2e5,
            k_cap in 0u32..30,
            m_cap in 0u32..6,
            n_cap in 1u32..4,
            doc in 1.0f64..2000.0,
            question in 1.0f64..200.0,
            answer in 0.0f64..100.0,
            gen in 1.0f64..300.0,
            i_doc in 0.0f64..8.0,
            i_shot in 0.0f64..20.0,
        ) {
            let mut opt = options(Some(budget));
            opt.max_documents = k_cap;
            opt.max_shots = m_cap;
            opt.max_iterations = n_cap;
            opt.tokens = RagTokens { doc, question, answer, gen };
            opt.informativeness = info(i_doc, i_shot);
            let plan = check_against_grid(&opt, None);
            if plan.feasible {
                prop_assert!(plan.effective_context_tokens <= budget);
                prop_assert!(plan.metric.is_finite());
                // Relaxing the reported binding alone admits a better plan.
                let mut relaxed = opt.clone();
                match plan.binding {
                    Constraint::ContextBudget => relaxed.context_budget = Some(1e12),
                    Constraint::MaxDocuments => relaxed.max_documents += 1,
                    Constraint::MaxShots => relaxed.max_shots += 1,
                    Constraint::MaxIterations => relaxed.max_iterations += 1,
                    Constraint::NoGain => return Ok(()),
                    other => prop_assert!(false, "unexpected binding {other:?}"),
                }
                let after = plan_rag(&relaxed).unwrap();
                if after.logit <= plan.logit {
                    // Every better step was blocked by its cap and a constraint at once: the
                    // constraint is named, and relaxing it with the caps buys a better plan.
                    prop_assert_eq!(plan.binding, Constraint::ContextBudget);
                    relaxed.max_documents += 1;
                    relaxed.max_shots += 1;
                    relaxed.max_iterations += 1;
                    let both = plan_rag(&relaxed).unwrap();
                    prop_assert!(both.logit > plan.logit, "{plan:?} -> {both:?}");
                }
            } else {
                prop_assert_eq!(plan.binding, Constraint::ContextBudget);
                prop_assert!(question > budget);
            }
        }
    }
}
