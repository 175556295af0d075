use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{check, PlanError, Result};

/// A transformer as its `config.json` describes it, with the parameter counts the cost model charges.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Model {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    /// Unique parameters stored in memory (all experts of an MoE).
    pub total_params: f64,
    /// Parameters charged 2 FLOPs per token (active parameters for MoE). Kinetics counts the
    /// embedding table and the LM head, even when they are tied.
    pub flop_params: f64,
    pub layers: u64,
    pub hidden_size: u64,
    pub intermediate_size: u64,
    pub query_heads: u64,
    pub kv_heads: u64,
    pub head_dim: u64,
    pub vocab_size: u64,
    pub max_context: u64,
    pub tied_embeddings: bool,
    pub moe: Option<Moe>,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Moe {
    pub experts: u64,
    pub active_experts: u64,
    pub moe_intermediate_size: u64,
    /// Parameters of all routed experts over all layers.
    pub expert_params: f64,
    /// Parameters a token passes through: shared parameters plus its active experts.
    pub active_params: f64,
}

impl Model {
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(PlanError::invalid("name", "must not be empty"));
        }
        check::positive("total_params", self.total_params)?;
        check::positive("flop_params", self.flop_params)?;
        for (field, v) in [
            ("layers", self.layers),
            ("hidden_size", self.hidden_size),
            ("intermediate_size", self.intermediate_size),
            ("query_heads", self.query_heads),
            ("kv_heads", self.kv_heads),
            ("head_dim", self.head_dim),
            ("vocab_size", self.vocab_size),
            ("max_context", self.max_context),
        ] {
            if v == 0 {
                return Err(PlanError::invalid(field, "must be > 0, got 0"));
            }
        }
        if self.query_heads % self.kv_heads != 0 {
            return Err(PlanError::invalid(
                "kv_heads",
                format!(
                    "must divide query_heads ({}), got {}",
                    self.query_heads, self.kv_heads
                ),
            ));
        }
        let embedding = (self.vocab_size * self.hidden_size) as f64;
        if embedding >= self.total_params {
            return Err(PlanError::invalid(
                "total_params",
                format!(
                    "must exceed the embedding table vocab_size*hidden_size = {embedding}, got {}",
                    self.total_params
                ),
            ));
        }
        if let Some(moe) = &self.moe {
            if moe.experts == 0 || moe.moe_intermediate_size == 0 {
                return Err(PlanError::invalid("moe.experts", "must be > 0"));
            }
            if moe.active_experts == 0 || moe.active_experts > moe.experts {
                return Err(PlanError::invalid(
                    "moe.active_experts",
                    format!("must be in 1..={}, got {}", moe.experts, moe.active_experts),
                ));
            }
            check::positive("moe.expert_params", moe.expert_params)?;
            check::positive("moe.active_params", moe.active_params)?;
            if moe.expert_params >= self.total_params {
                return Err(PlanError::invalid(
                    "moe.expert_params",
                    "must be less than total_params",
                ));
            }
            if moe.active_params > self.total_params {
                return Err(PlanError::invalid(
                    "moe.active_params",
                    "must not exceed total_params",
                ));
            }
        }
        Ok(())
    }

    /// l*H*d: attention FLOPs per token of context per 2 FLOPs (one multiply-add).
    pub fn attention_dim(&self) -> f64 {
        (self.layers * self.query_heads * self.head_dim) as f64
    }

    /// Activation elements a tensor-parallel replica all-reduces per token: two per layer
    /// (after attention and after the MLP), each the hidden size (docs/cost-model.md).
    pub fn allreduce_elems_per_token(&self) -> f64 {
        (2 * self.layers * self.hidden_size) as f64
    }

    /// KV elements cached per token: keys and values for every KV head of every layer.
    pub fn kv_elems_per_token(&self) -> f64 {
        (2 * self.kv_heads * self.head_dim * self.layers) as f64
    }

    /// Weights one decode step multiplies by, for `tokens` sequences decoded together
    /// (see [`crate::cost::CostShape::weight_params_read`]).
    pub fn weight_params_read(&self, tokens: f64) -> f64 {
        self.cost_shape().weight_params_read(tokens)
    }

    /// Build a model from a Hugging Face `config.json` (llama, mistral, qwen2, qwen3, qwen3_moe,
    /// mixtral layouts), counting parameters from the architecture.
    pub fn from_hf_config(name: &str, config: &Value) -> Result<Model> {
        let cfg = HfConfig { v: config };
        let model_type = cfg.str_or("model_type", "");
        let hidden = cfg.uint("hidden_size")?;
        let layers = cfg.uint("num_hidden_layers")?;
        let heads = cfg.uint("num_attention_heads")?;
        let kv_heads = cfg.uint_or("num_key_value_heads", heads)?;
        let head_dim = match cfg.opt_uint("head_dim")? {
            Some(d) => d,
            None => hidden / heads,
        };
        let vocab = cfg.uint("vocab_size")?;
        let intermediate = cfg.uint("intermediate_size")?;
        let max_context = cfg.uint("max_position_embeddings")?;
        let tied = cfg.bool_or("tie_word_embeddings", false)?;
        let attention_bias = cfg.bool_or("attention_bias", model_type == "qwen2")?;
        let qk_norm = model_type.starts_with("qwen3");

        let (h, hd, q, kvd) = (
            hidden as f64,
            head_dim as f64,
            (heads * head_dim) as f64,
            (kv_heads * head_dim) as f64,
        );
        let mut attn = 2.0 * h * q + 2.0 * h * kvd;
        if qk_norm {
            attn += 2.0 * hd;
        }
        if attention_bias {
            attn += q + 2.0 * kvd;
        }
        let norms = 2.0 * h;

        let experts = cfg
            .opt_uint("num_experts")?
            .or(cfg.opt_uint("num_local_experts")?);
        let (per_layer_ffn, moe) = match experts {
            Some(e) if e > 1 => {
                let active = cfg.uint("num_experts_per_tok")?;
                // Mixtral names the expert width intermediate_size; Qwen3-MoE moe_intermediate_size.
                let width = cfg.uint_or("moe_intermediate_size", intermediate)?;
                let one_expert = 3.0 * h * width as f64;
                let router = h * e as f64;
                (
                    router + e as f64 * one_expert,
                    Some((e, active, width, layers as f64 * e as f64 * one_expert)),
                )
            }
            _ => (3.0 * h * intermediate as f64, None),
        };
        let embedding = (vocab * hidden) as f64;
        let total = embedding
            + if tied { 0.0 } else { embedding }
            + h
            + layers as f64 * (attn + norms + per_layer_ffn);
        // Kinetics charges the output head even when it shares storage with the input table.
        let tied_head = if tied { embedding } else { 0.0 };
        let moe = moe.map(|(experts, active_experts, width, expert_params)| Moe {
            experts,
            active_experts,
            moe_intermediate_size: width,
            expert_params,
            active_params: total - expert_params
                + expert_params * active_experts as f64 / experts as f64,
        });
        let flop_params = match &moe {
            Some(m) => m.active_params + tied_head,
            None => total + tied_head,
        };
        let model = Model {
            name: name.to_string(),
            description: format!("{name} (from config.json, model_type '{model_type}')"),
            source: "config.json".to_string(),
            total_params: total,
            flop_params,
            layers,
            hidden_size: hidden,
            intermediate_size: intermediate,
            query_heads: heads,
            kv_heads,
            head_dim,
            vocab_size: vocab,
            max_context,
            tied_embeddings: tied,
            moe,
        };
        model.validate()?;
        Ok(model)
    }
}

struct HfConfig<'a> {
    v: &'a Value,
}

impl HfConfig<'_> {
    fn opt_uint(&self, key: &str) -> Result<Option<u64>> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(x) => x.as_u64().filter(|&n| n > 0).map(Some).ok_or_else(|| {
                PlanError::invalid(key, format!("must be a positive integer, got {x}"))
            }),
        }
    }
    fn uint(&self, key: &str) -> Result<u64> {
        self.opt_uint(key)?
            .ok_or_else(|| PlanError::invalid(key, "missing from config.json"))
    }
    fn uint_or(&self, key: &str, default: u64) -> Result<u64> {
        Ok(self.opt_uint(key)?.unwrap_or(default))
    }
    fn bool_or(&self, key: &str, default: bool) -> Result<bool> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(Value::Bool(b)) => Ok(*b),
            Some(x) => Err(PlanError::invalid(
                key,
                format!("must be true or false, got {x}"),
            )),
        }
    }
    fn str_or<'s>(&'s self, key: &str, default: &'s str) -> &'s str {
        self.v.get(key).and_then(Value::as_str).unwrap_or(default)
    }
}
