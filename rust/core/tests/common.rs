#![allow(dead_code)]
use scaleplan_core::{Hardware, Model};

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
        train_mfu: 0.5,
        prefill_mfu: 1.0,
        decode_bw_util: 1.0,
    }
}

pub fn assert_close(got: f64, want: f64, rel: f64) {
    let err = ((got - want) / want).abs();
    assert!(
        err <= rel,
        "got {got:e}, want {want:e} (relative error {err:e} > {rel:e})"
    );
}
