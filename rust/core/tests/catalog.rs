mod common;

use common::assert_close;
use scaleplan_core::*;

#[test]
fn shipped_catalog_has_every_named_entry() {
    let c = Catalog::shipped();
    for hw in [
        "a100-80gb",
        "h100-sxm",
        "h200",
        "b200",
        "mi300x",
        "kinetics-b200",
    ] {
        c.hardware(hw).unwrap();
    }
    for m in [
        "qwen3-0.6b",
        "qwen3-1.7b",
        "qwen3-4b",
        "qwen3-8b",
        "qwen3-14b",
        "qwen3-32b",
        "qwen3-30b-a3b",
        "llama-3.1-8b",
        "llama-3.1-70b",
        "llama-3.1-405b",
    ] {
        c.model(m).unwrap();
    }
    assert_eq!(c.family("qwen3-dense").unwrap().members.len(), 6);
}

#[test]
fn kinetics_reference_hardware_has_intensity_562_5() {
    let hw = Catalog::shipped().hardware("kinetics-b200").unwrap();
    assert_eq!(hw.intensity(Dtype::Bf16).unwrap(), 562.5);
}

#[test]
fn qwen3_flop_params_are_the_kinetics_values() {
    let c = Catalog::shipped();
    for (name, n) in [
        ("qwen3-0.6b", 0.752e9),
        ("qwen3-1.7b", 2.03e9),
        ("qwen3-4b", 4.02e9),
        ("qwen3-8b", 8.19e9),
        ("qwen3-14b", 14.77e9),
        ("qwen3-32b", 32.76e9),
    ] {
        assert_eq!(c.model(name).unwrap().flop_params, n, "{name}");
    }
}

/// KV-cache accounting is the most common defect in this field: check bytes per token against
/// the published per-token figures (bf16, GQA): Llama-3.1-8B 128 KiB, 70B 320 KiB, 405B 504 KiB,
/// Qwen3-8B 144 KiB (2 * 8 KV heads * 128 * 36 layers * 2 B).
#[test]
fn kv_bytes_per_token_honour_gqa() {
    let c = Catalog::shipped();
    for (name, kib) in [
        ("llama-3.1-8b", 128.0),
        ("llama-3.1-70b", 320.0),
        ("llama-3.1-405b", 504.0),
        ("qwen3-8b", 144.0),
        ("qwen3-30b-a3b", 96.0),
    ] {
        assert_eq!(
            c.model(name).unwrap().kv_elems_per_token() * 2.0 / 1024.0,
            kib,
            "{name}"
        );
    }
}

fn hf_config(m: &Model, model_type: &str) -> serde_json::Value {
    let mut v = serde_json::json!({
        "model_type": model_type,
        "hidden_size": m.hidden_size,
        "num_hidden_layers": m.layers,
        "num_attention_heads": m.query_heads,
        "num_key_value_heads": m.kv_heads,
        "head_dim": m.head_dim,
        "vocab_size": m.vocab_size,
        "intermediate_size": m.intermediate_size,
        "max_position_embeddings": m.max_context,
        "tie_word_embeddings": m.tied_embeddings,
        "attention_bias": false,
    });
    if let Some(moe) = &m.moe {
        v["num_experts"] = moe.experts.into();
        v["num_experts_per_tok"] = moe.active_experts.into();
        v["moe_intermediate_size"] = moe.moe_intermediate_size.into();
    }
    v
}

/// The catalog's parameter totals were computed by hand from each config.json and checked
/// against the model cards; the core's own counter must reproduce every one of them.
#[test]
fn parameter_counts_from_config_match_the_catalog() {
    let c = Catalog::shipped();
    for m in c.models.values() {
        let model_type = if m.name.starts_with("qwen3") {
            if m.moe.is_some() {
                "qwen3_moe"
            } else {
                "qwen3"
            }
        } else {
            "llama"
        };
        let derived = Model::from_hf_config(&m.name, &hf_config(m, model_type)).unwrap();
        assert_eq!(derived.total_params, m.total_params, "{}", m.name);
        if let (Some(d), Some(want)) = (&derived.moe, &m.moe) {
            assert_eq!(d.expert_params, want.expert_params);
            assert_eq!(d.active_params, want.active_params);
        }
        // Kinetics rounds its FLOP counts to 3-4 digits (and counts the 4B's tied head once).
        if m.name.starts_with("qwen3") && m.moe.is_none() && m.name != "qwen3-4b" {
            assert_close(derived.flop_params, m.flop_params, 5e-3);
        }
    }
}

#[test]
fn config_json_without_head_dim_uses_hidden_over_heads() {
    let cfg = serde_json::json!({
        "model_type": "llama", "hidden_size": 4096, "num_hidden_layers": 32,
        "num_attention_heads": 32, "num_key_value_heads": 8, "vocab_size": 128256,
        "intermediate_size": 14336, "max_position_embeddings": 131072,
    });
    let m = Model::from_hf_config("mine", &cfg).unwrap();
    assert_eq!(m.head_dim, 128);
    assert_eq!(m.total_params, 8030261248.0); // Llama-3.1-8B model card: 8.03B
    let bad = serde_json::json!({"hidden_size": 4096});
    assert_eq!(
        Model::from_hf_config("mine", &bad).unwrap_err().field(),
        "num_hidden_layers"
    );
}

const GOOD_HW: &str = r#"
[[hardware]]
name = "my-gpu"
peak_flops_bf16 = 1e15
hbm_bytes_per_s = 2e12
hbm_bytes = 96e9
train_mfu = 0.4
prefill_mfu = 0.6
decode_bw_util = 0.8
"#;

fn load_error(text: &str) -> (String, String, String) {
    let mut c = Catalog::shipped().clone();
    match c.add_toml("user.toml", text).unwrap_err() {
        PlanError::Catalog {
            file, entry, field, ..
        } => (file, entry.unwrap_or_default(), field.unwrap_or_default()),
        other => panic!("expected a catalog error, got {other}"),
    }
}

#[test]
fn user_entries_are_added_and_may_replace_shipped_ones() {
    let mut c = Catalog::shipped().clone();
    c.add_toml("user.toml", GOOD_HW).unwrap();
    assert_eq!(c.hardware("my-gpu").unwrap().hbm_bytes, 96e9);
    let replaced = GOOD_HW.replace("my-gpu", "h100-sxm");
    c.add_toml("user.toml", &replaced).unwrap();
    assert_eq!(c.hardware("h100-sxm").unwrap().hbm_bytes, 96e9);
}

#[test]
fn bad_catalog_entries_name_file_entry_and_field() {
    let cases = [
        (
            GOOD_HW.replace("hbm_bytes = 96e9", "hbm_bytes = 96e9\nhbm_gb = 96"),
            "hbm_gb",
        ),
        (GOOD_HW.replace("hbm_bytes = 96e9\n", ""), "hbm_bytes"),
        (
            GOOD_HW.replace("hbm_bytes = 96e9", "hbm_bytes = -1.0"),
            "hbm_bytes",
        ),
        (
            GOOD_HW.replace("hbm_bytes = 96e9", "hbm_bytes = nan"),
            "hbm_bytes",
        ),
        (
            GOOD_HW.replace("hbm_bytes = 96e9", "hbm_bytes = inf"),
            "hbm_bytes",
        ),
        (
            GOOD_HW.replace("train_mfu = 0.4", "train_mfu = 1.5"),
            "train_mfu",
        ),
        (GOOD_HW.replace("\"my-gpu\"", "\"My GPU\""), "name"),
    ];
    for (text, field) in cases {
        let (file, entry, got) = load_error(&text);
        assert_eq!(
            (file.as_str(), got.as_str()),
            ("user.toml", field),
            "{text}"
        );
        assert!(entry == "my-gpu" || entry == "My GPU", "{entry}");
    }
    let (_, entry, field) =
        load_error("[[family]]\nname = \"f\"\nmembers = [\"qwen3-8b\", \"nope\"]\n");
    assert_eq!((entry.as_str(), field.as_str()), ("f", "members"));
    let (_, _, field) = load_error("[[gpu]]\nname = \"x\"\n");
    assert_eq!(field, "gpu");
    let (_, entry, _) = load_error(&format!("{GOOD_HW}{GOOD_HW}"));
    assert_eq!(entry, "my-gpu");
}

#[test]
fn a_failed_file_adds_nothing() {
    let mut c = Catalog::shipped().clone();
    let text = format!("{GOOD_HW}\n[[model]]\nname = \"broken\"\n");
    assert!(c.add_toml("user.toml", &text).is_err());
    assert!(c.hardware("my-gpu").is_err());
}

#[test]
fn unknown_names_list_the_known_ones() {
    let err = Catalog::shipped().model("qwen3-9b").unwrap_err();
    assert_eq!(err.field(), "model");
    assert!(err.to_string().contains("qwen3-8b"), "{err}");
}

#[test]
fn nested_and_mistyped_fields_are_named_by_path() {
    let model = r#"
[[model]]
name = "m"
total_params = 2e9
flop_params = 2e9
layers = "many"
hidden_size = 8
intermediate_size = 8
query_heads = 2
kv_heads = 1
head_dim = 4
vocab_size = 10
max_context = 100
tied_embeddings = false
"#;
    let (_, entry, field) = load_error(model);
    assert_eq!((entry.as_str(), field.as_str()), ("m", "layers"));
    let moe = model.replace("\"many\"", "2") + "[model.moe]\nexperts = 4\n";
    let (_, _, field) = load_error(&moe);
    assert_eq!(field, "moe.active_experts");
}
