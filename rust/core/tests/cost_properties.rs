//! Invariants of the cost model over random configurations of the shipped catalog.
use proptest::prelude::*;
use scaleplan_core::*;

const MODELS: [&str; 5] = [
    "qwen3-0.6b",
    "qwen3-8b",
    "qwen3-32b",
    "qwen3-30b-a3b",
    "llama-3.1-70b",
];

fn cost(model: &str, q: InferenceQuery, opt: InferenceOptions) -> InferenceCost {
    let c = Catalog::shipped();
    inference_cost(
        c.model(model).unwrap(),
        c.hardware("h100-sxm").unwrap(),
        &q,
        &opt,
    )
    .unwrap()
}

fn options() -> impl Strategy<Value = InferenceOptions> {
    (any::<bool>(), any::<bool>(), 0..3u8, any::<bool>()).prop_map(|(sharing, prefill, b, roof)| {
        InferenceOptions {
            prefix_sharing: sharing,
            prefill,
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
            ..InferenceOptions::default()
        }
    })
}

fn attention() -> impl Strategy<Value = Attention> {
    prop_oneof![
        Just(Attention::Dense),
        (1u32..8192).prop_map(|s| Attention::TopK { budget: s as f64 }),
        (6u32..13, 0u32..5).prop_map(|(log_s, log_b)| Attention::BlockTopK {
            budget: (1u32 << log_s) as f64,
            block_size: (1u32 << log_b) as f64
        }),
    ]
}

fn query() -> impl Strategy<Value = InferenceQuery> {
    (0.0..4096.0f64, 1.0..16384.0f64, 1u32..33, attention()).prop_map(|(p, g, k, attention)| {
        InferenceQuery {
            prompt_tokens: p.floor(),
            gen_tokens: g.floor(),
            samples: k as f64,
            attention,
        }
    })
}

fn grows(before: &InferenceCost, after: &InferenceCost) -> std::result::Result<(), TestCaseError> {
    let eps = 1e-9;
    prop_assert!(after.flops >= before.flops * (1.0 - eps));
    prop_assert!(after.kv_bytes >= before.kv_bytes * (1.0 - eps));
    prop_assert!(after.eflops >= before.eflops * (1.0 - eps));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn costs_grow_with_generated_tokens(m in 0..MODELS.len(), q in query(), opt in options(), extra in 1.0..8192.0f64) {
        let more = InferenceQuery { gen_tokens: q.gen_tokens + extra.floor(), ..q };
        // A batch fixed by memory shrinks with a longer cache; compare at a fixed weight share.
        let opt = InferenceOptions { batch: Batch::Amortized, ..opt };
        grows(&cost(MODELS[m], q, opt), &cost(MODELS[m], more, opt))?;
    }

    #[test]
    fn costs_grow_with_prompt_tokens(m in 0..MODELS.len(), q in query(), opt in options(), extra in 1.0..4096.0f64) {
        let more = InferenceQuery { prompt_tokens: q.prompt_tokens + extra.floor(), ..q };
        let opt = InferenceOptions { batch: Batch::Amortized, ..opt };
        grows(&cost(MODELS[m], q, opt), &cost(MODELS[m], more, opt))?;
    }

    #[test]
    fn costs_grow_with_samples(m in 0..MODELS.len(), q in query(), opt in options(), extra in 1u32..32) {
        let more = InferenceQuery { samples: q.samples + extra as f64, ..q };
        let opt = InferenceOptions { batch: Batch::Amortized, ..opt };
        let (a, b) = (cost(MODELS[m], q, opt), cost(MODELS[m], more, opt));
        grows(&a, &b)?;
        prop_assert!(b.seconds >= a.seconds * (1.0 - 1e-9));
    }

    #[test]
    fn topk_with_one_sample_never_costs_more_than_dense(m in 0..MODELS.len(), q in query(), opt in options(), s in 1u32..16384) {
        let one = InferenceQuery { samples: 1.0, attention: Attention::Dense, ..q };
        let sparse = InferenceQuery { attention: Attention::TopK { budget: s as f64 }, ..one };
        let (d, t) = (cost(MODELS[m], one, opt), cost(MODELS[m], sparse, opt));
        prop_assert!(t.flops <= d.flops * (1.0 + 1e-12));
        prop_assert!(t.kv_bytes <= d.kv_bytes * (1.0 + 1e-12));
        prop_assert!(t.eflops <= d.eflops * (1.0 + 1e-12));
    }

    #[test]
    fn prefix_sharing_never_costs_more(m in 0..MODELS.len(), q in query(), opt in options()) {
        let shared = cost(MODELS[m], q, InferenceOptions { prefix_sharing: true, ..opt });
        let unshared = cost(MODELS[m], q, InferenceOptions { prefix_sharing: false, ..opt });
        prop_assert!(shared.eflops <= unshared.eflops * (1.0 + 1e-12));
        prop_assert!(shared.kv_memory_bytes_per_query <= unshared.kv_memory_bytes_per_query);
        prop_assert!(shared.max_batch >= unshared.max_batch);
    }

    #[test]
    fn results_are_finite_and_batching_trades_latency_for_cost(m in 0..MODELS.len(), q in query(), opt in options()) {
        let c = cost(MODELS[m], q, opt);
        for v in [c.flops, c.bytes, c.eflops, c.seconds, c.latency_s, c.tpot_s, c.max_batch] {
            prop_assert!(v.is_finite() && v >= 0.0);
        }
        prop_assert_eq!(c.feasible, c.binding == Binding::None);
        if c.feasible && c.max_batch >= 2.0 * q.samples {
            let alone = cost(MODELS[m], q, InferenceOptions { batch: Batch::Fixed(q.samples), ..opt });
            let full = cost(MODELS[m], q, InferenceOptions { batch: Batch::Max, ..opt });
            prop_assert!(full.latency_s >= alone.latency_s * (1.0 - 1e-12));
            prop_assert!(full.seconds <= alone.seconds * (1.0 + 1e-12));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    /// docs/cost-model.md#prefill: a pass takes at least its compute time and at least one
    /// read of the weights, in either time model; a static batch's pass keeps every query
    /// waiting at least as long, charges each no more, and leaves FLOPs and eFLOPs alone.
    #[test]
    fn prefill_has_a_weight_read_floor_and_batches_share_it(m in 0..MODELS.len(), q in query(), opt in options(), b in 1u32..64) {
        let hw = Catalog::shipped().hardware("h100-sxm").unwrap().clone();
        let model = Catalog::shipped().model(MODELS[m]).unwrap().clone();
        let opt = InferenceOptions { prefill: true, ..opt };
        let c = cost(MODELS[m], q, opt);
        if q.prompt_tokens > 0.0 {
            let compute = c.prefill_flops / (hw.peak_flops_bf16 * hw.prefill_mfu);
            let read = 2.0 * model.weight_params_read(q.prompt_tokens)
                / (hw.hbm_bytes_per_s * hw.decode_bw_util);
            prop_assert!(c.ttft_s >= compute * (1.0 - 1e-12) && c.ttft_s >= read * (1.0 - 1e-12));
            prop_assert!((c.ttft_s - compute.max(read)).abs() <= 1e-12 * c.ttft_s);
        } else {
            prop_assert_eq!(c.ttft_s, 0.0);
        }
        let other = match opt.time_model {
            TimeModel::Additive => TimeModel::Roofline,
            TimeModel::Roofline => TimeModel::Additive,
        };
        prop_assert_eq!(cost(MODELS[m], q, InferenceOptions { time_model: other, ..opt }).ttft_s, c.ttft_s);

        let fixed = InferenceOptions { batch: Batch::Fixed(q.samples * f64::from(b)), ..opt };
        let per_query = cost(MODELS[m], q, fixed);
        let batch = cost(MODELS[m], q, InferenceOptions { prefill_mode: PrefillMode::Batch, ..fixed });
        prop_assert!(batch.ttft_s >= per_query.ttft_s * (1.0 - 1e-12));
        prop_assert!(batch.seconds <= per_query.seconds * (1.0 + 1e-12));
        prop_assert_eq!(batch.eflops, per_query.eflops);
        prop_assert_eq!(batch.flops, per_query.flops);
    }
}
