//! Each term of the cost model on cases small enough to compute by hand (arithmetic in comments).
mod common;

use common::{assert_close, toy_hardware, toy_model};
use scaleplan_core::*;

fn query(attention: Attention) -> InferenceQuery {
    InferenceQuery {
        prompt_tokens: 4.0,
        gen_tokens: 6.0,
        samples: 2.0,
        attention,
    }
}

fn kinetics() -> InferenceOptions {
    InferenceOptions {
        prefill: false,
        ..InferenceOptions::default()
    }
}

#[test]
fn dense_decode_with_prefix_sharing() {
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &kinetics(),
    )
    .unwrap();
    // context sum 4*6 + 6^2/2 = 42; FLOPs 2*(2*1000*6 + 4*16*42) = 29376
    assert_eq!(c.decode_flops, 29376.0);
    assert_eq!(c.prefill_flops, 0.0);
    // KV: 2 B * 16 * (4*6 + 2*18) = 1920
    assert_eq!(c.kv_bytes, 1920.0);
    assert_eq!(c.weight_bytes, 0.0);
    // eFLOPs: 29376 + 100*1920
    assert_eq!(c.eflops, 221376.0);
    // additive: 29376/1000 + 1920/10
    assert_close(c.seconds, 221.376, 1e-12);
}

#[test]
fn dense_decode_without_prefix_sharing() {
    let opt = InferenceOptions {
        prefix_sharing: false,
        ..kinetics()
    };
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &opt,
    )
    .unwrap();
    // 2 B * 16 * 2 samples * 42
    assert_eq!(c.kv_bytes, 2688.0);
    assert_eq!(c.decode_flops, 29376.0);
}

#[test]
fn prefill_flops_and_time() {
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &InferenceOptions::default(),
    )
    .unwrap();
    // 2*1000*4 + 2*16*4^2 = 8512
    assert_eq!(c.prefill_flops, 8512.0);
    assert_eq!(c.flops, 8512.0 + 29376.0);
    // The pass reads the weights once: 1000 - 10*8 (untied table, gathered) + 4 rows of 8 =
    // 952 params = 1904 B at 10 B/s = 190.4 s, above the 8512/1000 = 8.512 s of compute.
    assert_close(c.ttft_s, 190.4, 1e-12);
    // eFLOPs count prefill by its FLOPs only (Kinetics): 8512 + 29376 + 100*1920.
    assert_eq!(c.eflops, 8512.0 + 221376.0);
    // Batch unset: weight reads are amortised away, so the query is charged prefill compute
    // only, 8.512 s, plus the decode's 221.376 s.
    assert_close(c.seconds, 8.512 + 221.376, 1e-12);
    // The query waits for the whole pass, then 6 steps of its 2 samples, weights read every
    // step: 29376/1000 + (1920 + (920 + 2*8)*2 B*6)/10 = 29.376 + 1315.2 = 1344.576 s.
    assert_close(c.latency_s, 190.4 + 1344.576, 1e-12);
}

#[test]
fn long_prefill_is_compute_bound() {
    let q = InferenceQuery {
        prompt_tokens: 100.0,
        ..query(Attention::Dense)
    };
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &q,
        &InferenceOptions::default(),
    )
    .unwrap();
    // FLOPs 2*1000*100 + 2*16*100^2 = 520000 -> 520 s; weights (920 + 100*8)*2 B = 3440 B
    // -> 344 s: the compute time wins, in both time models.
    assert_eq!(c.prefill_flops, 520000.0);
    assert_close(c.ttft_s, 520.0, 1e-12);
    let roofline = InferenceOptions {
        time_model: TimeModel::Roofline,
        ..InferenceOptions::default()
    };
    let r = inference_cost(&toy_model(), &toy_hardware(), &q, &roofline).unwrap();
    assert_close(r.ttft_s, 520.0, 1e-12);
    // no prompt, no prefill pass
    let empty = InferenceQuery {
        prompt_tokens: 0.0,
        ..query(Attention::Dense)
    };
    let e = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &empty,
        &InferenceOptions::default(),
    )
    .unwrap();
    assert_eq!((e.prefill_flops, e.ttft_s), (0.0, 0.0));
}

#[test]
fn prefill_per_query_and_static_batch() {
    let per_query = InferenceOptions {
        batch: Batch::Fixed(4.0),
        ..InferenceOptions::default()
    };
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &per_query,
    )
    .unwrap();
    // Own pass: max(8.512 s compute, 1904 B / 10 B/s = 190.4 s), charged whole. Decode as in
    // fixed_batch_weight_reads_memory_and_latency: 29376/1000 + (1920 + 5712)/10 = 792.576 s
    // charged, 1585.152 s of latency.
    assert_close(c.ttft_s, 190.4, 1e-12);
    assert_close(c.seconds, 190.4 + 792.576, 1e-12);
    assert_close(c.latency_s, 190.4 + 1585.152, 1e-12);

    let batch = InferenceOptions {
        prefill_mode: PrefillMode::Batch,
        ..per_query
    };
    let b = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &batch,
    )
    .unwrap();
    // A batch of 4 sequences holds 4/2 = 2 queries: one pass over both prompts, 2*8512 FLOPs
    // = 17.024 s against (920 + 8 rows * 8) * 2 B = 1968 B = 196.8 s. Every query waits for
    // the pass and is charged half of it.
    assert_eq!(b.prefill_flops, 8512.0);
    assert_close(b.ttft_s, 196.8, 1e-12);
    assert_close(b.seconds, 98.4 + 792.576, 1e-12);
    assert_close(b.latency_s, 196.8 + 1585.152, 1e-12);
    assert_eq!(b.eflops, c.eflops);

    // A static batch needs a batch.
    let unset = InferenceOptions {
        prefill_mode: PrefillMode::Batch,
        ..InferenceOptions::default()
    };
    let err = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &unset,
    )
    .unwrap_err();
    assert_eq!(err.field(), "prefill_mode");
    assert_eq!(PrefillMode::parse("batch").unwrap(), PrefillMode::Batch);
    assert_eq!(
        PrefillMode::parse("nope").unwrap_err().field(),
        "prefill_mode"
    );
}

/// Qwen3-8B, a 128-token prompt, batch 1, on h100-sxm: the weight read bounds the prefill.
#[test]
fn short_prompt_ttft_on_catalog_hardware() {
    let cat = Catalog::shipped();
    let (m, hw) = (
        cat.model("qwen3-8b").unwrap(),
        cat.hardware("h100-sxm").unwrap(),
    );
    let q = InferenceQuery {
        prompt_tokens: 128.0,
        gen_tokens: 1.0,
        samples: 1.0,
        attention: Attention::Dense,
    };
    let opt = InferenceOptions {
        batch: Batch::Fixed(1.0),
        ..InferenceOptions::default()
    };
    let c = inference_cost(m, hw, &q, &opt).unwrap();
    // FLOPs 2*8.19e9*128 + 2*(36*32*128 = 147456)*128^2 = 2.09664e12 + 4.831838208e9
    //   = 2.101471838208e12, at 989.4e12 * 0.6 = 593.64e12 FLOP/s -> 3.5400e-3 s (old TTFT).
    assert_close(c.prefill_flops, 2.101471838208e12, 1e-12);
    let compute = 2.101471838208e12 / 593.64e12;
    // Weights: 8_190_735_360 - 151936*4096 (untied input table, gathered) + 128 rows of 4096
    //   = 7_568_929_792 params * 2 B = 15_137_859_584 B at 3.35e12 * 0.8 = 2.68e12 B/s
    //   -> 5.6484550686e-3 s, 59.6% above the compute time.
    let weights = 15_137_859_584.0 / 2.68e12;
    assert_close(c.ttft_s, weights, 1e-12);
    assert_close(c.ttft_s, 5.648_455_068_7e-3, 1e-10);
    assert!(weights / compute > 1.59 && weights / compute < 1.60);
}

#[test]
fn topk_budget_below_and_above_the_context() {
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::TopK { budget: 5.0 }),
        &kinetics(),
    )
    .unwrap();
    // sum of min(5, 4+t) over t in [0,6): 4.5 + 25 = 29.5 = 5*6 - 1^2/2
    assert_eq!(c.decode_flops, 2.0 * (12000.0 + 4.0 * 16.0 * 29.5));
    // unshared: 2 B * 16 * 2 samples * 29.5
    assert_eq!(c.kv_bytes, 1888.0);
    // a budget the context never reaches is dense attention without sharing
    let wide = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::TopK { budget: 20.0 }),
        &kinetics(),
    )
    .unwrap();
    assert_eq!(wide.decode_flops, 29376.0);
    assert_eq!(wide.kv_bytes, 2688.0);
}

#[test]
fn block_topk_adds_scoring() {
    let att = Attention::BlockTopK {
        budget: 5.0,
        block_size: 2.0,
    };
    let c = inference_cost(&toy_model(), &toy_hardware(), &query(att), &kinetics()).unwrap();
    // scoring FLOPs k*2*A*42/s = 2*2*16*42/2 = 1344
    assert_eq!(c.decode_flops, 27776.0 + 1344.0);
    // scoring bytes 2 B * (16/2) * (4*6 + 2*18) / 2 = 480, shared prompt
    assert_eq!(c.kv_bytes, 1888.0 + 480.0);
}

#[test]
fn fixed_batch_weight_reads_memory_and_latency() {
    let opt = InferenceOptions {
        batch: Batch::Fixed(4.0),
        ..kinetics()
    };
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &opt,
    )
    .unwrap();
    // weights read per step: 1000 - 10*8 (untied table) + 4 rows of 8 = 952; share 2*952*6*2/4
    assert_eq!(c.weight_bytes, 5712.0);
    assert_eq!(c.batch, 4.0);
    // resident: weights 2000 B; a query caches 4 + 2*6 = 16 tokens * 32 B = 512 B
    assert_eq!(c.weight_memory_bytes, 2000.0);
    assert_eq!(c.kv_memory_bytes_per_query, 512.0);
    assert_eq!(c.max_queries, (998000.0_f64 / 512.0).floor());
    assert_eq!(c.max_batch, 2.0 * 1949.0);
    // latency: two queries' work per step, weights once: 2*29376/1000 + (2*1920 + 2*952*6)/10
    assert_close(c.latency_s, 1585.152, 1e-12);
    assert_close(c.tpot_s, 1585.152 / 6.0, 1e-12);
    assert!(c.feasible);
}

#[test]
fn batch_max_and_cap() {
    let max = InferenceOptions {
        batch: Batch::Max,
        ..kinetics()
    };
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &max,
    )
    .unwrap();
    assert_eq!(c.batch, 3898.0);
    let huge = InferenceOptions {
        batch: Batch::Fixed(1e9),
        ..kinetics()
    };
    let capped = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &huge,
    )
    .unwrap();
    assert_eq!(capped.batch, 3898.0);
    assert_eq!(capped.weight_bytes, c.weight_bytes);
}

#[test]
fn roofline_takes_the_larger_phase_time() {
    let opt = InferenceOptions {
        time_model: TimeModel::Roofline,
        ..kinetics()
    };
    let c = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &opt,
    )
    .unwrap();
    assert_close(c.seconds, 192.0, 1e-12);
}

#[test]
fn infeasible_configurations_name_the_binding_constraint() {
    let mut hw = toy_hardware();
    hw.hbm_bytes = 1500.0; // weights need 2000 B
    let c = inference_cost(&toy_model(), &hw, &query(Attention::Dense), &kinetics()).unwrap();
    assert!(!c.feasible);
    assert_eq!(c.binding, Binding::Weights);
    assert_eq!(c.max_batch, 0.0);
    assert!(c.eflops.is_finite());

    hw.hbm_bytes = 2400.0; // 400 B free, a query needs 512
    let c = inference_cost(&toy_model(), &hw, &query(Attention::Dense), &kinetics()).unwrap();
    assert_eq!(c.binding, Binding::KvCache);

    let long = InferenceQuery {
        gen_tokens: 997.0,
        ..query(Attention::Dense)
    };
    let c = inference_cost(&toy_model(), &toy_hardware(), &long, &kinetics()).unwrap();
    assert_eq!(c.binding, Binding::Context);
}

#[test]
fn two_gpus_double_capacity_and_halve_time() {
    let one = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &kinetics(),
    )
    .unwrap();
    let opt = InferenceOptions {
        gpus: 2.0,
        ..kinetics()
    };
    let two = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &opt,
    )
    .unwrap();
    assert_close(two.seconds, one.seconds / 2.0, 1e-12);
    assert_close(two.gpu_seconds, one.seconds, 1e-12);
    assert_eq!(two.eflops, one.eflops);
    assert_eq!(two.max_queries, ((2e6_f64 - 2000.0) / 512.0).floor());
}

#[test]
fn tensor_parallel_all_reduce_is_charged_per_token() {
    // Toy: 2 layers x hidden 8 -> 2*2*8 = 32 elements = 64 bytes all-reduced per token.
    // Interconnect 40 B/s both directions = 20 B/s each way; 4 GPUs: a ring moves 2*3/4 = 1.5x
    // the message, so 1.5 * 64 / 20 = 4.8 s per token.
    let hw = Hardware {
        interconnect_bytes_per_s: Some(40.0),
        ..toy_hardware()
    };
    let one = inference_cost(&toy_model(), &hw, &query(Attention::Dense), &kinetics()).unwrap();
    let opt = InferenceOptions {
        gpus: 4.0,
        ..kinetics()
    };
    let four = inference_cost(&toy_model(), &hw, &query(Attention::Dense), &opt).unwrap();
    // Compute and memory scale 1/4 (221.376 / 4 = 55.344); the 2 x 6 decoded tokens add 57.6 s.
    assert_close(one.seconds, 221.376, 1e-12);
    assert_close(four.seconds, 55.344 + 57.6, 1e-12);
    assert_close(four.gpu_seconds, 4.0 * (55.344 + 57.6), 1e-12);
    assert_eq!(four.eflops, one.eflops);
    // Latency: 6 steps of the query's 2 sequences (unset batch): 6 * 2 * 4.8 = 57.6 s more.
    assert_close(four.latency_s - one.latency_s / 4.0, 57.6, 1e-12);
    // With prefill, the 4 prompt tokens add 4 * 4.8 = 19.2 s to the time to first token.
    let with_prefill = InferenceOptions {
        prefill: true,
        ..opt
    };
    let p = inference_cost(&toy_model(), &hw, &query(Attention::Dense), &with_prefill).unwrap();
    let p1 = inference_cost(
        &toy_model(),
        &hw,
        &query(Attention::Dense),
        &InferenceOptions {
            gpus: 1.0,
            ..with_prefill
        },
    )
    .unwrap();
    assert_close(p.ttft_s, p1.ttft_s / 4.0 + 19.2, 1e-12);
    // The pass itself is bound by the weight read (prefill_flops_and_time): 190.4 s on one GPU,
    // a quarter of it on four.
    assert_close(p.ttft_s, 190.4 / 4.0 + 19.2, 1e-12);
    // No interconnect in the catalog (the idealised kinetics-b200): communication is free.
    let ideal = inference_cost(
        &toy_model(),
        &toy_hardware(),
        &query(Attention::Dense),
        &opt,
    )
    .unwrap();
    assert_close(ideal.seconds, 55.344, 1e-12);
}

#[test]
fn moe_weight_reads_grow_with_the_batch_to_all_experts() {
    let mut m = toy_model();
    m.moe = Some(Moe {
        experts: 4,
        active_experts: 1,
        moe_intermediate_size: 2,
        expert_params: 400.0,
        active_params: 700.0,
    });
    m.tied_embeddings = true;
    // one token touches 1 - (3/4)^1 = 1/4 of the experts: 1000 - 400*3/4
    assert_close(m.weight_params_read(1.0), 700.0, 1e-12);
    // two tokens: 1 - (3/4)^2 = 7/16
    assert_close(m.weight_params_read(2.0), 600.0 + 400.0 * 7.0 / 16.0, 1e-12);
    assert_close(m.weight_params_read(1e6), 1000.0, 1e-12);
}

#[test]
fn training_cost_terms() {
    let opt = TrainingOptions::default();
    let c = training_cost(&toy_model(), &toy_hardware(), 100.0, &opt).unwrap();
    // 6*1000*100 FLOPs at 1000 FLOP/s * 0.5 MFU
    assert_eq!(c.flops, 600000.0);
    assert_close(c.gpu_hours, 1200.0 / 3600.0, 1e-12);
    let with_attention = TrainingOptions {
        seq_len: Some(10.0),
        gpus: 2.0,
        ..opt
    };
    let c = training_cost(&toy_model(), &toy_hardware(), 100.0, &with_attention).unwrap();
    // + 6*16*10*100
    assert_eq!(c.flops, 600000.0 + 96000.0);
    assert_close(c.wall_seconds, 696000.0 / 500.0 / 2.0, 1e-12);
}

#[test]
fn bad_arguments_name_their_field() {
    let m = toy_model();
    let hw = toy_hardware();
    let cases: Vec<(InferenceQuery, InferenceOptions, &str)> = vec![
        (
            InferenceQuery {
                gen_tokens: f64::NAN,
                ..query(Attention::Dense)
            },
            kinetics(),
            "gen_tokens",
        ),
        (
            InferenceQuery {
                gen_tokens: 0.0,
                ..query(Attention::Dense)
            },
            kinetics(),
            "gen_tokens",
        ),
        (
            InferenceQuery {
                prompt_tokens: -1.0,
                ..query(Attention::Dense)
            },
            kinetics(),
            "prompt_tokens",
        ),
        (
            InferenceQuery {
                samples: 1.5,
                ..query(Attention::Dense)
            },
            kinetics(),
            "samples",
        ),
        (
            InferenceQuery {
                samples: f64::INFINITY,
                ..query(Attention::Dense)
            },
            kinetics(),
            "samples",
        ),
        (
            query(Attention::TopK { budget: 0.0 }),
            kinetics(),
            "kv_budget",
        ),
        (
            query(Attention::BlockTopK {
                budget: 4.0,
                block_size: 8.0,
            }),
            kinetics(),
            "block_size",
        ),
        (
            query(Attention::Dense),
            InferenceOptions {
                batch: Batch::Fixed(1.0),
                ..kinetics()
            },
            "batch",
        ),
        (
            query(Attention::Dense),
            InferenceOptions {
                gpus: 0.0,
                ..kinetics()
            },
            "gpus",
        ),
        (
            query(Attention::Dense),
            InferenceOptions {
                compute_dtype: Dtype::Fp8,
                ..kinetics()
            },
            "compute_dtype",
        ),
    ];
    for (q, opt, field) in cases {
        let err = inference_cost(&m, &hw, &q, &opt).unwrap_err();
        assert_eq!(err.field(), field, "{err}");
    }
    let err = training_cost(&m, &hw, -5.0, &TrainingOptions::default()).unwrap_err();
    assert_eq!(err.field(), "tokens");
}
