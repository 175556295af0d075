//! Parallel streams (ParScale, arXiv:2505.10475): the law against the paper's published numbers,
//! the cost model's streams input by hand, and the stream planner against exhaustive grids over
//! (N, P), next to the memory wall and the latency SLO.
mod common;

use common::{assert_close, qwen3_dense, toy_hardware, toy_model};
use scaleplan_core::laws::ParScaleLaw;
use scaleplan_core::plan::*;
use scaleplan_core::*;

fn law(name: &str) -> ParScaleLaw {
    Catalog::shipped().parscale_law(name).unwrap().clone()
}

#[test]
fn the_stack_law_reproduces_the_published_numbers() {
    let l = law("parscale2025-stack");
    // Chen et al. 2025: a 2.8B model with P = 4 reaches 1.01548, as a one-stream model of
    // 4.33B, a two-stream one of 3.40B and an eight-stream one of 2.38B do.
    let loss = l.loss(2.8e9, 4.0);
    assert!((loss - 1.01548).abs() < 5e-6, "{loss}");
    for (p, n) in [(1.0, 4.33e9), (2.0, 3.40e9), (8.0, 2.38e9)] {
        let got = l.params_for(loss, p).unwrap();
        assert!((got / n - 1.0).abs() < 0.002, "P={p}: {got:e} vs {n:e}");
        assert_close(l.loss(got, p), loss, 1e-12);
    }
    assert!(l.params_for(l.e, 2.0).is_none());
    assert!(law("parscale2025-pile").loss(2.8e9, 4.0) > 1.5);
}

fn toy_cost(streams: f64, batch: Batch) -> InferenceCost {
    let opt = InferenceOptions {
        batch,
        ..InferenceOptions::default()
    };
    let q = InferenceQuery {
        prompt_tokens: 10.0,
        gen_tokens: 20.0,
        samples: 1.0,
        attention: Attention::Dense,
    };
    Pricer::new(&toy_model(), &toy_hardware(), &opt)
        .unwrap()
        .with_streams(streams)
        .unwrap()
        .price(&q)
        .unwrap()
}

#[test]
fn two_streams_priced_by_hand() {
    // Toy model: N = 1000, l*H*d = 16, 2*G*d*l = 16, untied table 10 x 8; bf16 (2 bytes);
    // HBM 1e6 bytes; I = 100. Two streams: prompt 10 + 48 prefix = 58 per stream.
    let c = toy_cost(2.0, Batch::Amortized);
    // prefill: 2 * (2*1000*58 + 2*16*58^2) = 2 * 223648
    assert_eq!(c.prefill_flops, 447_296.0);
    // decode: 2 * (2*1000*20 + 4*16*(58*20 + 20^2/2)) = 2 * (40000 + 87040)
    assert_eq!(c.decode_flops, 254_080.0);
    // KV reads: 2 * 2 bytes * 16 * (58*20 + 200)
    assert_eq!(c.kv_bytes, 87_040.0);
    assert_eq!(c.eflops, 447_296.0 + 254_080.0 + 100.0 * 87_040.0);
    // KV held: 2 streams * 2 bytes * 16 * (58 + 20) tokens
    assert_eq!(c.kv_memory_bytes_per_query, 4_992.0);
    // weights: 1000 * (1 + 0.002 * 2) parameters of 2 bytes
    assert_eq!(c.weight_memory_bytes, 2_008.0);
    // whole queries in the rest: floor((1e6 - 2008) / 4992) = 199
    assert_eq!(c.max_queries, 199.0);
    // A batch of 4 sequences runs 8 stream rows: each step reads 1004 - 80 + 8 * 8 = 988
    // parameters once for all of them; one query's share over 20 steps is 2 * 988 * 20 / 4.
    let f = toy_cost(2.0, Batch::Fixed(4.0));
    assert_eq!(f.weight_bytes, 9_880.0);
    assert_eq!(f.batch, 4.0);
}

#[test]
fn one_stream_prices_exactly_as_before() {
    let c = Catalog::shipped();
    let q = InferenceQuery {
        prompt_tokens: 700.0,
        gen_tokens: 3000.0,
        samples: 4.0,
        attention: Attention::TopK { budget: 1024.0 },
    };
    for model in ["qwen3-8b", "llama-3.1-70b", "qwen3-0.6b"] {
        for batch in [Batch::Amortized, Batch::Max, Batch::Fixed(16.0)] {
            for gpus in [1.0, 4.0] {
                let opt = InferenceOptions {
                    batch,
                    gpus,
                    prefill_mode: if batch == Batch::Amortized {
                        PrefillMode::PerQuery
                    } else {
                        PrefillMode::Batch
                    },
                    ..InferenceOptions::default()
                };
                let m = c.model(model).unwrap();
                let hw = c.hardware("h100-sxm").unwrap();
                let before = Pricer::new(m, hw, &opt).unwrap().price(&q).unwrap();
                let after = Pricer::new(m, hw, &opt)
                    .unwrap()
                    .with_streams(1.0)
                    .unwrap()
                    .price(&q)
                    .unwrap();
                assert_eq!(before, after, "{model} {batch:?} {gpus}");
                assert_eq!(before, inference_cost(m, hw, &q, &opt).unwrap());
            }
        }
    }
}

#[test]
fn streams_are_checked() {
    let p = Pricer::new(&toy_model(), &toy_hardware(), &InferenceOptions::default()).unwrap();
    for bad in [0.0, 1.5, f64::NAN] {
        let e = p.clone().with_streams(bad).unwrap_err();
        assert_eq!(e.field(), "streams");
    }
    let e = p.with_streams(65.0).unwrap_err();
    assert!(matches!(e, PlanError::LimitExceeded { .. }));
}

fn options(hw: &str, batch: Batch, objective: StreamObjective) -> StreamOptions {
    let c = Catalog::shipped();
    StreamOptions {
        family: qwen3_dense(),
        hardware: c.hardware(hw).unwrap().clone(),
        serving: InferenceOptions {
            batch,
            ..InferenceOptions::default()
        },
        attention: Attention::Dense,
        prompt_tokens: 512.0,
        gen_tokens: 1024.0,
        samples: 1.0,
        streams: vec![1.0, 2.0, 4.0, 8.0],
        objective,
        max_latency_s: None,
    }
}

/// The grid's view of a candidate: its objective, or None where it breaks memory, the batch
/// given or the SLO. Priced independently of the planner: the cost model at the backbone size.
fn grid_value(opt: &StreamOptions, n: f64, p: f64) -> Option<(f64, f64)> {
    let backbone = n / if p > 1.0 { 1.0 + 0.002 * p } else { 1.0 };
    let serving = InferenceOptions {
        fractional_batch: true,
        ..opt.serving
    };
    let q = InferenceQuery {
        prompt_tokens: opt.prompt_tokens,
        gen_tokens: opt.gen_tokens,
        samples: opt.samples,
        attention: opt.attention,
    };
    let c = Pricer::for_shape(opt.family.at(backbone), &opt.hardware, &serving)
        .ok()?
        .with_streams(p)
        .ok()?
        .price(&q)
        .ok()?;
    if !c.feasible {
        return None;
    }
    if let Batch::Fixed(b) = opt.serving.batch {
        if c.max_batch < b {
            return None;
        }
    }
    if opt.max_latency_s.is_some_and(|s| c.latency_s > s) {
        return None;
    }
    let v = match opt.objective {
        StreamObjective::GpuSeconds => c.gpu_seconds,
        StreamObjective::Latency => c.latency_s,
        StreamObjective::Eflops => c.eflops,
    };
    Some((v, c.latency_s))
}

/// ln N from 1e6 to 1e13 in `points` steps.
fn log_grid(points: usize) -> impl Iterator<Item = f64> {
    let (lo, hi) = (1e6f64.ln(), 1e13f64.ln());
    (0..points).map(move |i| (lo + (hi - lo) * i as f64 / (points - 1) as f64).exp())
}

/// Target loss: the plan is never costlier than the cheapest grid point reaching the loss.
fn check_target(l: &ParScaleLaw, target: f64, opt: &StreamOptions) -> StreamPlan {
    let plan = plan_streams(l, StreamGoal::TargetLoss(target), opt).unwrap();
    let mut best = f64::INFINITY;
    for &p in &opt.streams {
        for n in log_grid(4000) {
            if l.loss(n, p) > target {
                continue;
            }
            if let Some((v, _)) = grid_value(opt, n, p) {
                best = best.min(v);
            }
        }
        // Next to the wall: the exact size the target needs, from the law by hand.
        let exact = l.a / ((target - l.e).powf(1.0 / l.alpha) * (1.0 + l.k * p.ln()));
        if let Some((v, _)) = grid_value(opt, exact * (1.0 + 1e-9), p) {
            best = best.min(v);
        }
    }
    if best.is_finite() {
        assert!(plan.feasible, "{plan:?}");
        assert!(
            plan.cost <= best * (1.0 + 1e-6),
            "{} > grid {best}",
            plan.cost
        );
        assert!(plan.loss <= target * (1.0 + 1e-12));
        // The plan itself passes the grid's checks.
        let (v, _) = grid_value(opt, plan.params, plan.streams).expect("plan allowed");
        assert_close(v, plan.cost, 1e-9);
    } else {
        assert!(!plan.feasible, "{plan:?}");
    }
    plan
}

/// Budget: the plan's loss is never above the best grid point within the budget.
fn check_budget(l: &ParScaleLaw, budget: f64, opt: &StreamOptions) -> StreamPlan {
    let plan = plan_streams(l, StreamGoal::Budget(budget), opt).unwrap();
    let mut best = f64::INFINITY;
    for &p in &opt.streams {
        for n in log_grid(3000) {
            if let Some((v, _)) = grid_value(opt, n, p) {
                if v <= budget {
                    best = best.min(l.loss(n, p));
                }
            }
        }
    }
    if best.is_finite() {
        assert!(plan.feasible, "{plan:?}");
        assert!(plan.loss <= best + 1e-9, "{} > grid {best}", plan.loss);
        let (v, _) = grid_value(opt, plan.params, plan.streams).expect("plan allowed");
        assert!(v <= budget * (1.0 + 1e-9));
        assert_close(v, plan.cost, 1e-9);
    } else {
        assert!(!plan.feasible, "{plan:?}");
    }
    plan
}

#[test]
fn target_loss_against_the_grid() {
    let l = law("parscale2025-stack");
    for hw in ["h100-sxm", "a100-80gb"] {
        for batch in [
            Batch::Max,
            Batch::Fixed(1.0),
            Batch::Fixed(64.0),
            Batch::Amortized,
        ] {
            for objective in [
                StreamObjective::GpuSeconds,
                StreamObjective::Latency,
                StreamObjective::Eflops,
            ] {
                for target in [1.05, 1.0, 0.95, 0.9] {
                    check_target(&l, target, &options(hw, batch, objective));
                }
            }
        }
    }
}

#[test]
fn streams_win_at_small_batch_and_lose_at_large() {
    let l = law("parscale2025-stack");
    // Batch 1 on an H100: decode reads the weights every step, so P streams' extra FLOPs are
    // nearly free and their smaller model is read faster.
    let small = check_target(
        &l,
        0.95,
        &options("h100-sxm", Batch::Fixed(1.0), StreamObjective::Latency),
    );
    assert!(small.streams > 1.0, "{small:?}");
    assert!(small.cost < small.single_stream_cost);
    // Largest batch that fits, priced in eFLOPs: compute-bound, P times the FLOPs loses.
    let large = check_target(
        &l,
        0.95,
        &options("h100-sxm", Batch::Max, StreamObjective::Eflops),
    );
    assert_eq!(large.streams, 1.0, "{large:?}");
    assert_eq!(large.binding, Constraint::TargetLoss);
}

#[test]
fn the_latency_slo_and_memory_bind() {
    let l = law("parscale2025-stack");
    let target = 0.95;
    // GPU-seconds at a large batch favour few streams; an SLO between the fastest candidate's
    // latency and the chosen one's forces more streams, and is named.
    let mut slo_cases = 0;
    for batch in [
        Batch::Fixed(8.0),
        Batch::Fixed(64.0),
        Batch::Fixed(256.0),
        Batch::Max,
    ] {
        let base = options("h100-sxm", batch, StreamObjective::GpuSeconds);
        let free = check_target(&l, target, &base);
        let lat = |p: f64| {
            let n = l.params_for(target, p).unwrap();
            grid_value(&base, n, p).map_or(f64::INFINITY, |v| v.1)
        };
        let fastest = [1.0, 2.0, 4.0, 8.0]
            .into_iter()
            .map(lat)
            .fold(f64::INFINITY, f64::min);
        let chosen = free.latency_s;
        if !free.feasible || fastest >= chosen * (1.0 - 1e-6) {
            continue;
        }
        slo_cases += 1;
        // Just above the fastest, between, just below the chosen one.
        for slo in [
            fastest * (1.0 + 1e-9),
            0.5 * (fastest + chosen),
            chosen * (1.0 - 1e-6),
        ] {
            let o = StreamOptions {
                max_latency_s: Some(slo),
                ..base.clone()
            };
            let p = check_target(&l, target, &o);
            assert_eq!(p.binding, Constraint::Latency, "{p:?}");
            assert!(p.latency_s <= slo);
        }
        // Relaxing the SLO gives back the unconstrained plan.
        let relaxed = StreamOptions {
            max_latency_s: Some(chosen * (1.0 + 1e-9)),
            ..base.clone()
        };
        let r = check_target(&l, target, &relaxed);
        assert_eq!((r.streams, r.binding), (free.streams, free.binding));
        let none = StreamOptions {
            max_latency_s: Some(fastest * (1.0 - 1e-3)),
            ..base.clone()
        };
        let p = check_target(&l, target, &none);
        assert!(!p.feasible);
        assert_eq!(p.binding, Constraint::Latency);
    }
    assert!(slo_cases > 0);
    // A batch of 256 long queries on an A100: next to the memory wall the streams' KV cache
    // stops fitting, and memory is named when it rules out the cheaper choice.
    let mut memory_named = 0;
    for batch in [32.0, 64.0, 128.0, 256.0, 512.0] {
        let o = StreamOptions {
            prompt_tokens: 4096.0,
            ..options("a100-80gb", Batch::Fixed(batch), StreamObjective::Latency)
        };
        for target in [1.0, 0.97, 0.95] {
            let p = check_target(&l, target, &o);
            if p.binding == Constraint::Memory {
                memory_named += 1;
                assert!(!p.feasible || p.max_batch >= batch);
            }
        }
    }
    assert!(memory_named > 0);
}

#[test]
fn budget_against_the_grid() {
    let l = law("parscale2025-stack");
    for (hw, batch, objective, budgets) in [
        (
            "h100-sxm",
            Batch::Fixed(1.0),
            StreamObjective::Latency,
            [2.0, 5.0, 10.0, 30.0],
        ),
        (
            "h100-sxm",
            Batch::Max,
            StreamObjective::GpuSeconds,
            [0.01, 0.1, 1.0, 10.0],
        ),
        (
            "a100-80gb",
            Batch::Fixed(16.0),
            StreamObjective::GpuSeconds,
            [0.05, 0.5, 5.0, 50.0],
        ),
        (
            "a100-80gb",
            Batch::Amortized,
            StreamObjective::Eflops,
            [1e12, 1e13, 1e14, 1e15],
        ),
    ] {
        for budget in budgets {
            let p = check_budget(&l, budget, &options(hw, batch, objective));
            if p.feasible {
                assert!(matches!(
                    p.binding,
                    Constraint::Budget | Constraint::Memory | Constraint::MaxParamsDefault
                ));
            }
        }
    }
    // An SLO in the dual: the latency budget is the objective, memory and SLO walls still hold.
    let o = StreamOptions {
        max_latency_s: Some(5.0),
        ..options("h100-sxm", Batch::Fixed(4.0), StreamObjective::GpuSeconds)
    };
    for budget in [0.5, 2.0, 20.0] {
        let p = check_budget(&l, budget, &o);
        assert!(!p.feasible || p.latency_s <= 5.0 * (1.0 + 1e-9));
    }
    // A budget below the smallest model's cost: no plan, the budget named.
    let p = check_budget(
        &l,
        1e-9,
        &options("h100-sxm", Batch::Max, StreamObjective::GpuSeconds),
    );
    assert!(!p.feasible);
    assert_eq!(p.binding, Constraint::Budget);
}

#[test]
fn bad_input_is_named() {
    let l = law("parscale2025-stack");
    let o = options("h100-sxm", Batch::Max, StreamObjective::GpuSeconds);
    for bad in [vec![3.0], vec![1.0, 16.0], vec![]] {
        let e = plan_streams(
            &l,
            StreamGoal::TargetLoss(1.0),
            &StreamOptions {
                streams: bad,
                ..o.clone()
            },
        )
        .unwrap_err();
        assert_eq!(e.field(), "streams");
    }
    // A target far above the fitted losses: the smallest model searched, named.
    let easy = plan_streams(&l, StreamGoal::TargetLoss(50.0), &o).unwrap();
    assert!(easy.feasible);
    assert_close(easy.params, STREAM_MIN_PARAMS, 1e-12);
    assert_eq!(easy.binding, Constraint::MinParamsDefault);
    assert!(easy.loss < 50.0);
    let floor = plan_streams(&l, StreamGoal::TargetLoss(l.e), &o).unwrap();
    assert!(!floor.feasible);
    assert_eq!(floor.binding, Constraint::LossFloor);
    for (goal, field) in [
        (StreamGoal::TargetLoss(f64::NAN), "target_loss"),
        (StreamGoal::Budget(-1.0), "budget"),
    ] {
        assert_eq!(plan_streams(&l, goal, &o).unwrap_err().field(), field);
    }
    let slo = StreamOptions {
        max_latency_s: Some(0.0),
        ..o
    };
    assert_eq!(
        plan_streams(&l, StreamGoal::TargetLoss(1.0), &slo)
            .unwrap_err()
            .field(),
        "max_latency_s"
    );
}

mod properties {
    use proptest::prelude::*;
    use scaleplan_core::*;

    const MODELS: [&str; 5] = [
        "qwen3-0.6b",
        "qwen3-8b",
        "qwen3-32b",
        "qwen3-30b-a3b",
        "llama-3.1-8b",
    ];

    fn setup() -> impl Strategy<Value = (usize, InferenceQuery, InferenceOptions)> {
        (
            0..MODELS.len(),
            0.0..4096.0f64,
            1.0..8192.0f64,
            1u32..9,
            any::<bool>(),
            any::<bool>(),
            0..3u8,
            prop_oneof![Just(1.0), Just(2.0), Just(4.0)],
        )
            .prop_map(|(m, p, g, k, sharing, roof, b, gpus)| {
                let q = InferenceQuery {
                    prompt_tokens: p.floor(),
                    gen_tokens: g.floor(),
                    samples: f64::from(k),
                    attention: Attention::Dense,
                };
                let opt = InferenceOptions {
                    prefix_sharing: sharing,
                    batch: match b {
                        0 => Batch::Amortized,
                        1 => Batch::Max,
                        _ => Batch::Fixed(64.0),
                    },
                    time_model: if roof {
                        TimeModel::Roofline
                    } else {
                        TimeModel::Additive
                    },
                    gpus,
                    ..InferenceOptions::default()
                };
                (m, q, opt)
            })
    }

    fn pricer(m: usize, opt: &InferenceOptions) -> Pricer {
        let c = Catalog::shipped();
        Pricer::new(
            c.model(MODELS[m]).unwrap(),
            c.hardware("h200").unwrap(),
            opt,
        )
        .unwrap()
    }

    proptest! {
        /// One stream prices every field exactly as the cost model without streams.
        #[test]
        fn one_stream_is_the_cost_model((m, q, opt) in setup()) {
            let base = pricer(m, &opt).price(&q).unwrap();
            let one = pricer(m, &opt).with_streams(1.0).unwrap().price(&q).unwrap();
            prop_assert_eq!(base, one);
        }

        /// P streams: P times the FLOPs and KV of one stream whose prompt is 48 tokens longer
        /// (the prefill alone, batch unset, so no weight or batch term differs).
        #[test]
        fn streams_multiply_flops_and_kv((m, q, opt) in setup(), p in 2u32..9) {
            let p = f64::from(p);
            let opt = InferenceOptions { batch: Batch::Amortized, ..opt };
            let longer = InferenceQuery { prompt_tokens: q.prompt_tokens + 48.0, ..q };
            let one = pricer(m, &opt).price(&longer).unwrap();
            let many = pricer(m, &opt).with_streams(p).unwrap().price(&q).unwrap();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-12 * b.abs();
            prop_assert!(close(many.decode_flops, p * one.decode_flops));
            prop_assert!(close(many.prefill_flops, p * one.prefill_flops));
            prop_assert!(close(many.kv_bytes, p * one.kv_bytes));
            prop_assert!(close(many.kv_memory_bytes_per_query, p * one.kv_memory_bytes_per_query));
            prop_assert!(many.weight_memory_bytes > one.weight_memory_bytes);
            prop_assert!(many.max_queries <= one.max_queries);
        }
    }
}
