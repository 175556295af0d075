//! The Kinetics setting (kinetics-b200, prefill left out, batch unset) against the worked example
//! of docs/design.md#worked-example and against numbers produced by running the paper's released
//! cost code (Infini-AI-Lab/Kinetics, cost_model/utils.py: dense_cost, block_sparse_cost) on the
//! same inputs.
mod common;

use common::assert_close;
use scaleplan_core::*;

fn kinetics_cost(
    model: &str,
    prompt: f64,
    gen: f64,
    k: f64,
    attention: Attention,
) -> InferenceCost {
    let catalog = Catalog::shipped();
    let q = InferenceQuery {
        prompt_tokens: prompt,
        gen_tokens: gen,
        samples: k,
        attention,
    };
    let opt = InferenceOptions {
        prefill: false,
        ..InferenceOptions::default()
    };
    inference_cost(
        catalog.model(model).unwrap(),
        catalog.hardware("kinetics-b200").unwrap(),
        &q,
        &opt,
    )
    .unwrap()
}

#[test]
fn design_worked_example_qwen3_8b() {
    let c = kinetics_cost("qwen3-8b", 128.0, 16384.0, 1.0, Attention::Dense);
    assert_close(c.flops, 3.48772e14, 1e-6); // docs/design.md prints 6 digits
    assert_close(c.kv_bytes, 2.01004469e13, 1e-8); // printed to 9 digits
    assert_close(c.eflops, 1.1655273e16, 1e-7);
    // paper code: dense_cost(8.19e9, 32, 8, 36*128, 128, 16384, 1)
    assert_close(c.flops, 348771707781120.0, 1e-9);
    assert_close(c.bytes, 20100446945280.0, 1e-9);
    assert_close(c.eflops, 1.1655273114501118e16, 1e-9);
    assert_close(c.seconds, 2.590, 1e-3);
}

#[test]
fn paper_code_dense_cases() {
    // dense_cost(0.752e9, 16, 8, 28*128, 128, 4096, 8)
    let c = kinetics_cost("qwen3-0.6b", 128.0, 4096.0, 8.0, Attention::Dense);
    assert_close(c.flops, 65638307463168.01, 1e-9);
    assert_close(c.bytes, 7756710936576.0, 1e-9);
    assert_close(c.eflops, 4428788209287168.0, 1e-9);
    // dense_cost(32.76e9, 64, 8, 64*128, 150, 32768, 4)
    let c = kinetics_cost("qwen3-32b", 150.0, 32768.0, 4.0, Attention::Dense);
    assert_close(c.flops, 1.3132668753412096e16, 1e-9);
    assert_close(c.bytes, 564238443610112.0, 1e-9);
    assert_close(c.eflops, 3.305167932841001e17, 1e-9);
}

#[test]
fn paper_code_block_sparse_case() {
    // block_sparse_cost(4.02e9, 32, 8, 36*128, 128, local=0, block_size=16, block_topk=128, 8192, 2)
    let att = Attention::BlockTopK {
        budget: 2048.0,
        block_size: 16.0,
    };
    let c = kinetics_cost("qwen3-4b", 128.0, 8192.0, 2.0, att);
    assert_close(c.flops, 150619847393280.0, 1e-9);
    assert_close(c.bytes, 4718290010112.0, 1e-9);
    assert_close(c.eflops, 2804657978081280.0, 1e-9);
}

#[test]
fn topk_follows_the_design_sign_not_the_paper_code() {
    // The paper's zero_overhead_sparse_cost adds max(0, S - L_in)^2/2 where block_sparse_cost and
    // the exact integral subtract it: sum_{t<L} min(S, L_in + t) = S*L - (S - L_in)^2/2.
    let c = kinetics_cost(
        "qwen3-8b",
        128.0,
        16384.0,
        4.0,
        Attention::TopK { budget: 1024.0 },
    );
    let attended = 1024.0 * 16384.0 - 0.5 * 896.0 * 896.0;
    let (a, kv) = (36.0 * 32.0 * 128.0, 2.0 * 8.0 * 128.0 * 36.0);
    assert_close(
        c.flops,
        4.0 * (2.0 * 8.19e9 * 16384.0 + 4.0 * a * attended),
        1e-12,
    );
    assert_close(c.bytes, 2.0 * kv * 4.0 * attended, 1e-12);
    assert_close(c.flops, 1112115058311168.0, 1e-9);
    assert_close(c.bytes, 9658844577792.0, 1e-9);
}
