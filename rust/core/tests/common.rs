#![allow(dead_code)]
use scaleplan_core::cost::FamilyShapes;
use scaleplan_core::plan::*;
use scaleplan_core::*;

/// A model small enough to price by hand: A = l*H*d = 16, kv = 2*G*d*l = 16.
pub fn toy_model() -> Model {
    Model {
        name: "toy".into(),
        description: String::new(),
        source: String::new(),
        total_params: 1000.0,
        flop_params: 1000.0,
        layers: 2,
        hidden_size: 8,
        intermediate_size: 16,
        query_heads: 2,
        kv_heads: 1,
        head_dim: 4,
        vocab_size: 10,
        max_context: 1000,
        tied_embeddings: false,
        moe: None,
        sliding_window: None,
        sliding_layers: None,
    }
}

/// Peak 1000 FLOP/s, 10 B/s (I = 100), 1e6 bytes of HBM, ideal efficiencies.
pub fn toy_hardware() -> Hardware {
    Hardware {
        name: "toy".into(),
        description: String::new(),
        source: String::new(),
        peak_flops_bf16: 1000.0,
        peak_flops_fp8: None,
        hbm_bytes_per_s: 10.0,
        hbm_bytes: 1e6,
        interconnect_bytes_per_s: None,
        usd_per_hour: None,
        price_date: String::new(),
        price_source: String::new(),
        train_mfu: 0.5,
        prefill_mfu: 1.0,
        decode_bw_util: 1.0,
        step_overhead_s: 0.0,
    }
}

pub fn assert_close(got: f64, want: f64, rel: f64) {
    let err = ((got - want) / want).abs();
    assert!(
        err <= rel,
        "got {got:e}, want {want:e} (relative error {err:e} > {rel:e})"
    );
}

/// The shipped qwen3-dense family as cost shapes.
pub fn qwen3_dense() -> FamilyShapes {
    let c = Catalog::shipped();
    FamilyShapes::new(c, c.family("qwen3-dense").unwrap()).unwrap()
}

/// Joint options on `hardware`: qwen3-dense, dense attention, batch max, GPU-hours, a 256-token
/// prompt, the aime24-like saturation (4096, 1.5), kappa 1, lengths 256..32768, no bounds.
pub fn joint_options(
    hardware: Hardware,
    queries: f64,
    max_samples: u32,
    auto_gpus: bool,
) -> JointOptions {
    JointOptions {
        family: qwen3_dense(),
        hardware,
        inference: InferenceOptions {
            batch: Batch::Max,
            ..InferenceOptions::default()
        },
        attention: vec![Attention::Dense],
        unit: CostUnit::GpuHours,
        queries,
        prompt_tokens: 256.0,
        half_tokens: 4096.0,
        hill: 1.5,
        kappa: 1.0,
        max_samples,
        min_gen_tokens: 256.0,
        max_gen_tokens: 32768.0,
        min_params: None,
        max_params: None,
        latency_slo_s: None,
        data: None,
        train_mfu: None,
        train_usd_per_hour: None,
        infer_usd_per_hour: None,
        auto_gpus,
    }
}

/// Lifetime options pricing inference at 2N FLOPs per token, no bounds or data limit.
pub fn lifetime_two_n() -> LifetimeOptions {
    LifetimeOptions {
        pricing: InferencePricing::TwoN,
        unit: CostUnit::Flops,
        train_hardware: None,
        train_mfu: None,
        train_usd_per_hour: None,
        infer_usd_per_hour: None,
        data: None,
        min_params: None,
        max_params: None,
        auto_gpus: false,
    }
}
