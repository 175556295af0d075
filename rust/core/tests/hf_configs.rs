//! Models read from published Hugging Face config.json files (tests/data/hf): parameter counts
//! against the model cards, the sliding-window layout, and the KV cache and attention FLOPs the
//! cost model charges for it, all derived by hand in the comments.

use scaleplan_core::cost::{inference_cost, training_cost, Attention, Batch, InferenceOptions};
use scaleplan_core::cost::{InferenceCost, InferenceQuery, TrainingOptions};
use scaleplan_core::{Catalog, Model};

fn config(file: &str) -> serde_json::Value {
    let path = format!("{}/../../tests/data/hf/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn query(prompt: f64, gen: f64, samples: f64) -> InferenceQuery {
    InferenceQuery {
        prompt_tokens: prompt,
        gen_tokens: gen,
        samples,
        attention: Attention::Dense,
    }
}

/// One query on an H100 at the largest batch that fits.
fn on_h100(m: &Model, q: InferenceQuery) -> InferenceCost {
    let hw = Catalog::shipped().hardware("h100-sxm").unwrap();
    let opt = InferenceOptions {
        batch: Batch::Max,
        ..InferenceOptions::default()
    };
    inference_cost(m, hw, &q, &opt).unwrap()
}

#[test]
fn mistral_7b_counts_and_slides_on_every_layer() {
    let m = Model::from_hf_config("mistral-7b", &config("mistral-7b-v0.1.json")).unwrap();
    // per layer: attention 2*4096*4096 + 2*4096*1024 = 41_943_040; MLP 3*4096*14336 =
    // 176_160_768; norms 2*4096 -> 218_112_000 x 32 = 6_979_584_000; embedding and head
    // 2*32000*4096 = 262_144_000; final norm 4096 -> 7_241_732_096 (model card: 7.24B).
    assert_eq!(m.total_params, 7_241_732_096.0);
    assert_eq!(m.sliding_window, Some(4096));
    assert_eq!(m.sliding_layers, None); // every layer
    assert_eq!(m.sliding_layer_count(), 32);
}

#[test]
fn mistral_7b_kv_cache_stops_at_the_window() {
    let m = Model::from_hf_config("mistral-7b", &config("mistral-7b-v0.1.json")).unwrap();
    // KV per token: 2 (K and V) * 8 heads * 128 * 32 layers = 65_536 elements, 131_072 bf16
    // bytes. Prompt 1000 + 8000 generated: the window keeps 4096 tokens, not 9000:
    // 131_072 * 4096 = 536_870_912 bytes (full context would be 1_179_648_000).
    let c = on_h100(&m, query(1000.0, 8000.0, 1.0));
    assert_eq!(c.kv_memory_bytes_per_query, 536_870_912.0);
    // Within the window nothing changes: 1000 + 2000 tokens -> 131_072 * 3000.
    let c = on_h100(&m, query(1000.0, 2000.0, 1.0));
    assert_eq!(c.kv_memory_bytes_per_query, 393_216_000.0);
    // Four samples sharing a 2000-token prompt, 3000 generated each: at the last step the
    // window still holds 4096 - 3000 = 1096 prompt tokens (shared) plus 3000 own tokens per
    // sample: 131_072 * (1096 + 4*3000) = 1_716_518_912.
    let c = on_h100(&m, query(2000.0, 3000.0, 4.0));
    assert_eq!(c.kv_memory_bytes_per_query, 1_716_518_912.0);

    // Reads over decode, k = 1: sum over steps t in [0, 8000] of min(1000 + t, 4096) tokens =
    // (3096 steps filling: 1000*3096 + 3096^2/2 = 7_888_608) + 4096*(8000 - 3096) = 20_086_784
    // -> 27_975_392 token reads * 131_072 bytes.
    let c = on_h100(&m, query(1000.0, 8000.0, 1.0));
    assert_eq!(c.kv_bytes, 27_975_392.0 * 131_072.0);
    // Attention FLOPs: 4*l*H*d per token of context, l*H*d = 32*32*128 = 131_072; decode
    // 4*131_072*27_975_392, prefill 4*131_072*1000^2/2 (the prompt fits in the window).
    let two_n = 2.0 * m.flop_params;
    assert_eq!(
        c.decode_flops,
        two_n * 8000.0 + 4.0 * 131_072.0 * 27_975_392.0
    );
    assert_eq!(
        c.prefill_flops,
        two_n * 1000.0 + 4.0 * 131_072.0 * 500_000.0
    );
}

#[test]
fn gemma_2_9b_alternates_local_and_global_layers() {
    let m = Model::from_hf_config("gemma-2-9b", &config("gemma-2-9b.json")).unwrap();
    // per layer: attention 3584*4096 [q] + 2*3584*2048 [k, v] + 4096*3584 [o] = 44_040_192;
    // MLP 3*3584*14336 = 154_140_672; four norms 4*3584 = 14_336 -> 198_195_200 x 42 =
    // 8_324_198_400; tied embedding 256000*3584 = 917_504_000; final norm 3584 ->
    // 9_241_705_984 (model card: 9.24B).
    assert_eq!(m.total_params, 9_241_705_984.0);
    assert!(m.tied_embeddings);
    // Gemma 2: even layers (0, 2, .., 40) slide -> 21 of 42.
    assert_eq!((m.sliding_window, m.sliding_layers), (Some(4096), Some(21)));

    // KV per token and layer: 2*8*256 = 4096 elements, 8192 bf16 bytes. 1000 + 7000 tokens:
    // 21 global layers keep 8000, 21 sliding layers 4096 -> 8192*21*(8000 + 4096) =
    // 2_080_899_072 bytes (the full context in every layer would be 2_752_512_000).
    let c = on_h100(&m, query(1000.0, 7000.0, 1.0));
    assert_eq!(c.kv_memory_bytes_per_query, 2_080_899_072.0);
    // The largest batch follows: (80e9 - 2 bytes * weights) / KV per query, whole queries.
    let free = Catalog::shipped().hardware("h100-sxm").unwrap().hbm_bytes - 2.0 * m.total_params;
    assert_eq!(c.max_queries, (free / 2_080_899_072.0).floor());
}

#[test]
fn training_attention_over_a_window() {
    let m = Model::from_hf_config("mistral-7b", &config("mistral-7b-v0.1.json")).unwrap();
    let hw = Catalog::shipped().hardware("h100-sxm").unwrap();
    let at = |seq_len: f64| {
        let opt = TrainingOptions {
            seq_len: Some(seq_len),
            ..TrainingOptions::default()
        };
        training_cost(&m, hw, 1.0, &opt).unwrap().flops - 6.0 * m.flop_params
    };
    // 4096 fits the window: 6 * l*H*d * ctx = 6 * 131_072 * 4096.
    assert_eq!(at(4096.0), 6.0 * 131_072.0 * 4096.0);
    // 8192 tokens: mean causal context (8192*4096 - 4096^2/2) / (8192/2) = 6144, not 8192.
    assert_eq!(at(8192.0), 6.0 * 131_072.0 * 6144.0);
}

#[test]
fn moe_counts_match_the_model_cards() {
    let m = Model::from_hf_config("mixtral", &config("mixtral-8x7b-v0.1.json")).unwrap();
    // per layer: attention 41_943_040; 8 experts * 3*4096*14336 = 1_409_286_144; router
    // 4096*8 = 32_768; norms 8192 -> 1_451_270_144 x 32 = 46_440_644_608; + embedding and
    // head 262_144_000 + final norm 4096 = 46_702_792_704 (model card: 46.7B). Experts
    // 32*1_409_286_144 = 45_097_156_608, 2 of 8 active: 46_702_792_704 - 3/4 of that =
    // 12_879_925_248 (12.9B active).
    assert_eq!(m.total_params, 46_702_792_704.0);
    let moe = m.moe.as_ref().unwrap();
    assert_eq!(moe.expert_params, 45_097_156_608.0);
    assert_eq!(moe.active_params, 12_879_925_248.0);
    assert_eq!(m.sliding_window, None); // "sliding_window": null

    let m = Model::from_hf_config("qwen-moe", &config("qwen1.5-moe-a2.7b.json")).unwrap();
    // per layer: attention 4*2048*2048 + q, k, v biases 3*2048 = 16_783_360; 60 experts *
    // 3*2048*1408 = 519_045_120; router 2048*60 = 122_880; shared expert 3*2048*5632 +
    // its gate 2048 = 34_605_056; norms 4096 -> 570_560_512 x 24 = 13_693_452_288; + embedding
    // and head 2*151936*2048 = 622_329_856 + final norm 2048 = 14_315_784_192 (14.3B).
    assert_eq!(m.total_params, 14_315_784_192.0);
    let moe = m.moe.as_ref().unwrap();
    // routed experts 24*519_045_120 = 12_457_082_880; active: the rest 1_858_701_312 plus
    // 4/60 of the experts 830_472_192 = 2_689_173_504 (model card: 2.7B activated).
    assert_eq!(moe.expert_params, 12_457_082_880.0);
    assert_eq!(moe.active_params, 2_689_173_504.0);
    // use_sliding_window false: its sliding_window 32768 is not used.
    assert_eq!(m.sliding_window, None);
}

#[test]
fn layer_types_decide_which_layers_slide() {
    let mut cfg = config("mistral-7b-v0.1.json");
    let types: Vec<&str> = (0..32)
        .map(|i| {
            if i % 4 == 3 {
                "full_attention"
            } else {
                "sliding_attention"
            }
        })
        .collect();
    cfg["layer_types"] = serde_json::json!(types);
    let m = Model::from_hf_config("m", &cfg).unwrap();
    assert_eq!((m.sliding_window, m.sliding_layers), (Some(4096), Some(24)));
    cfg["layer_types"] = serde_json::json!(["sliding_attention"]);
    let e = Model::from_hf_config("m", &cfg).unwrap_err();
    assert_eq!(e.field(), "layer_types");
    cfg["layer_types"] = serde_json::Value::Null;
    cfg["kv_lora_rank"] = 512.into();
    let e = Model::from_hf_config("m", &cfg).unwrap_err();
    assert_eq!(e.field(), "kv_lora_rank");
    // A multimodal config nests the language model's.
    let wrapped = serde_json::json!({"model_type": "gemma3", "text_config": {}});
    let e = Model::from_hf_config("m", &wrapped).unwrap_err();
    assert_eq!(e.field(), "text_config");
}

#[test]
fn sliding_fields_are_validated() {
    let mut m = Model::from_hf_config("m", &config("mistral-7b-v0.1.json")).unwrap();
    m.sliding_layers = Some(33);
    assert_eq!(m.validate().unwrap_err().field(), "sliding_layers");
    m.sliding_window = None;
    m.sliding_layers = Some(3);
    assert_eq!(m.validate().unwrap_err().field(), "sliding_layers");
    m.sliding_layers = None;
    m.sliding_window = Some(0);
    assert_eq!(m.validate().unwrap_err().field(), "sliding_window");
}

#[test]
fn catalog_toml_round_trips_with_user_models() {
    let mut catalog = Catalog::shipped().clone();
    for (name, file) in [
        ("mistral-7b", "mistral-7b-v0.1.json"),
        ("gemma-2-9b", "gemma-2-9b.json"),
        ("qwen1.5-moe-a2.7b", "qwen1.5-moe-a2.7b.json"),
    ] {
        let m = Model::from_hf_config(name, &config(file)).unwrap();
        catalog.register_model(m.clone()).unwrap();
        assert_eq!(catalog.model(name).unwrap(), &m);
        // One entry alone reads back equal too.
        let mut alone = Catalog::default();
        alone
            .add_toml("m.toml", &scaleplan_core::catalog::model_toml(&m))
            .unwrap();
        assert_eq!(alone.model(name).unwrap(), &m);
    }
    let mut again = Catalog::default();
    again.add_toml("saved.toml", &catalog.to_toml()).unwrap();
    assert_eq!(again, catalog);
    // Names follow the catalog file's rules.
    let mut m = catalog.model("mistral-7b").unwrap().clone();
    m.name = "Mistral 7B".into();
    let e = catalog.register_model(m).unwrap_err();
    assert_eq!(e.field(), "name");
    // Replacing a family member so that the family is out of order is refused, and changes
    // nothing.
    let before = catalog.clone();
    let mut small = catalog.model("qwen3-8b").unwrap().clone();
    small.flop_params = 1e9;
    small.total_params = 1e9;
    let e = catalog.register_model(small).unwrap_err();
    assert_eq!(e.field(), "name");
    assert!(e.to_string().contains("qwen3-dense"), "{e}");
    assert_eq!(catalog, before);
}

#[test]
fn gpt_oss_20b_counts_and_windows() {
    let m = Model::from_hf_config("gpt-oss-20b", &config("gpt-oss-20b.json")).unwrap();
    // h = 2880, 64 query heads and 8 KV heads of 64. Per layer: attention 2*2880*4096 +
    // 2*2880*512 = 26_542_080, q/k/v biases 4096 + 2*512 and o bias 2880, 64 sinks ->
    // 26_550_144; 32 experts of 3*2880*2880 + biases 2*2880 + 2880 = 24_891_840 ->
    // 796_538_880; router 2880*32 + 32 = 92_192; norms 5760 -> 823_186_976 x 24 =
    // 19_756_487_424; embedding and head 2*201088*2880 = 1_158_266_880; final norm 2880 ->
    // 20_914_757_184 (model card: 20.91B).
    assert_eq!(m.total_params, 20_914_757_184.0);
    let moe = m.moe.as_ref().unwrap();
    // experts 24*796_538_880 = 19_116_933_120, 4 of 32 active: total - 7/8 of them =
    // 4_187_440_704, which less the input table 579_133_440 is the card's 3.61B active.
    assert_eq!(moe.active_params, 4_187_440_704.0);
    // layer_types: 12 sliding (window 128) and 12 full.
    assert_eq!((m.sliding_window, m.sliding_layers), (Some(128), Some(12)));
    // KV per token and layer 2*8*64 = 1024 elements, 2048 bytes: 12 layers hold 8000 tokens,
    // 12 hold 128 -> 2048*12*(8000 + 128) = 199_753_728 bytes.
    let c = on_h100(&m, query(1000.0, 7000.0, 1.0));
    assert_eq!(c.kv_memory_bytes_per_query, 199_753_728.0);
}

#[test]
fn deepseek_moe_shared_experts_and_dense_first_layer() {
    // The architecture keys of deepseek-ai/deepseek-moe-16b-base's config.json.
    let cfg = serde_json::json!({
        "model_type": "deepseek", "hidden_size": 2048, "intermediate_size": 10944,
        "moe_intermediate_size": 1408, "num_hidden_layers": 28, "num_attention_heads": 16,
        "num_key_value_heads": 16, "n_routed_experts": 64, "n_shared_experts": 2,
        "num_experts_per_tok": 6, "first_k_dense_replace": 1, "moe_layer_freq": 1,
        "vocab_size": 102400, "max_position_embeddings": 4096, "tie_word_embeddings": false,
        "attention_bias": false,
    });
    let m = Model::from_hf_config("deepseek-moe-16b", &cfg).unwrap();
    // every layer: attention 4*2048^2 = 16_777_216, norms 4096; layer 0 dense MLP
    // 3*2048*10944 = 67_239_936; layers 1..27 router 2048*64 = 131_072, 64 routed experts of
    // 3*2048*1408 = 8_650_752 (553_648_128), 2 shared 17_301_504 -> 571_080_704 x 27 =
    // 15_419_179_008; + 28*16_781_312 = 469_876_736 + embedding and head 2*102400*2048 =
    // 419_430_400 + final norm 2048 = 16_375_728_128 (model card: 16.4B).
    assert_eq!(m.total_params, 16_375_728_128.0);
    let moe = m.moe.as_ref().unwrap();
    // routed 27*553_648_128 = 14_948_499_456; 6 of 64 active: total - 58/64 of them =
    // 2_828_650_496 (model card: 2.8B activated).
    assert_eq!(moe.expert_params, 14_948_499_456.0);
    assert_eq!(moe.active_params, 2_828_650_496.0);
}

#[test]
fn gemma_3_keeps_one_global_layer_in_six() {
    // The architecture keys of google/gemma-3-1b-it's config.json.
    let cfg = serde_json::json!({
        "model_type": "gemma3_text", "hidden_size": 1152, "intermediate_size": 6912,
        "num_hidden_layers": 26, "num_attention_heads": 4, "num_key_value_heads": 1,
        "head_dim": 256, "vocab_size": 262144, "max_position_embeddings": 32768,
        "sliding_window": 512, "sliding_window_pattern": 6,
    });
    let m = Model::from_hf_config("gemma-3-1b", &cfg).unwrap();
    // per layer: q 1152*1024 + k, v 2*1152*256 + o 1024*1152 = 2_949_120, q/k norms 2*256,
    // MLP 3*1152*6912 = 23_887_872, four norms 4*1152 -> 26_842_112 x 26 = 697_894_912; tied
    // embedding 262144*1152 = 301_989_888; final norm 1152 -> 999_885_952 (model card: 1B).
    assert_eq!(m.total_params, 999_885_952.0);
    assert!(m.tied_embeddings);
    // Layers 5, 11, 17 and 23 are global; the other 22 slide over 512 tokens.
    assert_eq!((m.sliding_window, m.sliding_layers), (Some(512), Some(22)));
}
