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
    /// Tokens of keys and values a sliding-window layer keeps and attends to (`sliding_window`
    /// of config.json); absent when every layer attends to the whole context
    /// (docs/cost-model.md, "Sliding-window attention").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_window: Option<u64>,
    /// How many of the layers use the sliding window (the others attend globally); every layer
    /// when absent and `sliding_window` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sliding_layers: Option<u64>,
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
        match (self.sliding_window, self.sliding_layers) {
            (None, Some(_)) => {
                return Err(PlanError::invalid(
                    "sliding_layers",
                    "needs sliding_window (the window the layers keep)",
                ))
            }
            (Some(0), _) => return Err(PlanError::invalid("sliding_window", "must be > 0, got 0")),
            (Some(_), Some(n)) if n == 0 || n > self.layers => {
                return Err(PlanError::invalid(
                    "sliding_layers",
                    format!("must be in 1..={} (layers), got {n}", self.layers),
                ))
            }
            _ => {}
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

    /// Layers that attend over the sliding window only (0 without one).
    pub fn sliding_layer_count(&self) -> u64 {
        match self.sliding_window {
            Some(_) => self.sliding_layers.unwrap_or(self.layers),
            None => 0,
        }
    }

    /// Attention FLOPs per token per 2 FLOPs when training on sequences of `seq_len` tokens:
    /// l*H*d*ctx for global layers; a sliding layer's causal mean context is
    /// (ctx*m - m^2/2) / (ctx/2) with m = min(ctx, window) (docs/cost-model.md,
    /// "Sliding-window attention").
    pub fn training_attention_context(&self, seq_len: f64) -> f64 {
        let per_layer = (self.query_heads * self.head_dim) as f64;
        match self.sliding_window {
            None => self.attention_dim() * seq_len,
            Some(w) => {
                let sliding = self.sliding_layer_count() as f64;
                let global = self.layers as f64 - sliding;
                let m = seq_len.min(w as f64);
                let windowed = 2.0 * (seq_len * m - 0.5 * m * m) / seq_len;
                per_layer * (global * seq_len + sliding * windowed)
            }
        }
    }

    /// Weights one decode step multiplies by, for `tokens` sequences decoded together
    /// (see [`crate::cost::CostShape::weight_params_read`]).
    pub fn weight_params_read(&self, tokens: f64) -> f64 {
        self.cost_shape().weight_params_read(tokens)
    }

    /// Build a model from a Hugging Face `config.json` (llama, mistral, qwen2, qwen2_moe, qwen3,
    /// qwen3_moe, mixtral, gemma2, gemma3_text, gpt_oss, deepseek layouts without latent attention), counting parameters from the
    /// architecture and reading which layers use a sliding window (docs/catalog.md,
    /// "Models from config.json").
    pub fn from_hf_config(name: &str, config: &Value) -> Result<Model> {
        let cfg = HfConfig { v: config };
        let model_type = cfg.str_or("model_type", "");
        if config.get("kv_lora_rank").is_some_and(|v| !v.is_null()) {
            return Err(PlanError::invalid(
                "kv_lora_rank",
                format!(
                    "model_type '{model_type}' uses multi-head latent attention, which the cost \
                     model does not size (its KV cache is not kv_heads*head_dim per layer)"
                ),
            ));
        }
        if config.get("hidden_size").is_none() && config.get("text_config").is_some() {
            return Err(PlanError::invalid(
                "text_config",
                "this is a multimodal config.json: pass its text_config (the language model) \
                 to count the language model alone; the vision encoder is not modelled",
            ));
        }
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
        let qwen = model_type.starts_with("qwen");
        let gemma = model_type.starts_with("gemma");
        let tied = cfg.bool_or("tie_word_embeddings", gemma)?;
        let attention_bias = cfg.bool_or(
            "attention_bias",
            model_type == "qwen2" || model_type == "qwen2_moe",
        )?;
        let qk_norm = model_type.starts_with("qwen3") || model_type.starts_with("gemma3");
        // gpt-oss: biases on the output projection, the router and the experts; one attention
        // sink per head.
        let gpt_oss = model_type == "gpt_oss";

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
        if gpt_oss {
            attn += h + heads as f64;
        }
        // Gemma 2 and 3 normalise before and after both attention and the MLP.
        let norms = if gemma { 4.0 * h } else { 2.0 * h };

        // Qwen and Mixtral name the routed experts num_experts / num_local_experts, DeepSeek
        // n_routed_experts.
        let experts = match cfg.opt_uint("num_experts")? {
            Some(e) => Some(e),
            None => match cfg.opt_uint("num_local_experts")? {
                Some(e) => Some(e),
                None => cfg.opt_uint("n_routed_experts")?,
            },
        };
        let dense_mlp = 3.0 * h * intermediate as f64;
        let (moe_layers, moe) = match experts {
            Some(e) if e > 1 => {
                let active = cfg.uint("num_experts_per_tok")?;
                // Mixtral names the expert width intermediate_size; Qwen-MoE moe_intermediate_size.
                let width = cfg.uint_or("moe_intermediate_size", intermediate)?;
                let mut one_expert = 3.0 * h * width as f64;
                let mut router = h * e as f64;
                if gpt_oss {
                    one_expert += 2.0 * width as f64 + h;
                    router += e as f64;
                }
                // Always-active shared experts: Qwen2-MoE's one, of its own width, with a scalar
                // gate; DeepSeek's n_shared_experts of the routed width.
                let shared = match cfg.opt_uint("shared_expert_intermediate_size")? {
                    Some(s) => 3.0 * h * s as f64 + h,
                    None => cfg.count_or("n_shared_experts", 0)? as f64 * 3.0 * h * width as f64,
                };
                // Which layers are sparse: Qwen's every decoder_sparse_step-th layer not in
                // mlp_only_layers; DeepSeek's from first_k_dense_replace on, every
                // moe_layer_freq-th. The others have a dense MLP of intermediate_size.
                let step = cfg.uint_or("decoder_sparse_step", 1)?;
                let dense_only = cfg.uint_list("mlp_only_layers")?;
                let first_sparse = cfg.count_or("first_k_dense_replace", 0)?;
                let freq = cfg.uint_or("moe_layer_freq", 1)?;
                let sparse = (0..layers)
                    .filter(|i| {
                        !dense_only.contains(i)
                            && (i + 1) % step == 0
                            && *i >= first_sparse
                            && i % freq == 0
                    })
                    .count() as u64;
                (
                    sparse,
                    Some((
                        e,
                        active,
                        width,
                        router + e as f64 * one_expert + shared,
                        sparse as f64 * e as f64 * one_expert,
                    )),
                )
            }
            _ => (0, None),
        };
        let moe_mlp = moe.map_or(0.0, |m| m.3);
        let embedding = (vocab * hidden) as f64;
        let total = embedding
            + if tied { 0.0 } else { embedding }
            + h
            + layers as f64 * (attn + norms)
            + (layers - moe_layers) as f64 * dense_mlp
            + moe_layers as f64 * moe_mlp;
        // Kinetics charges the output head even when it shares storage with the input table.
        let tied_head = if tied { embedding } else { 0.0 };
        let moe = moe.map(|(experts, active_experts, width, _, expert_params)| Moe {
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
        let (sliding_window, sliding_layers) = cfg.sliding(model_type, layers, qwen)?;
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
            sliding_window,
            sliding_layers,
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
    /// A count that may be 0 (absent or null: `default`).
    fn count_or(&self, key: &str, default: u64) -> Result<u64> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(default),
            Some(x) => x.as_u64().ok_or_else(|| {
                PlanError::invalid(key, format!("must be a whole number >= 0, got {x}"))
            }),
        }
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
    /// A list of layer indices (absent or null: empty).
    fn uint_list(&self, key: &str) -> Result<Vec<u64>> {
        match self.v.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|x| {
                    x.as_u64().ok_or_else(|| {
                        PlanError::invalid(key, format!("must list layer indices, got {x}"))
                    })
                })
                .collect(),
            Some(x) => Err(PlanError::invalid(
                key,
                format!("must be a list of layer indices, got {x}"),
            )),
        }
    }

    /// The window and how many layers use it (None: all). `layer_types` decides where present;
    /// else `use_sliding_window` (false by default for Qwen, whose configs carry a window they
    /// do not use) with Qwen's `max_window_layers` (layers from that index on slide; 28 when absent, as in
    /// transformers), Gemma 2's
    /// alternation (even layers slide) and Gemma 3's `sliding_window_pattern` (every pattern-th
    /// layer is global); other model types slide on every layer (Mistral).
    fn sliding(
        &self,
        model_type: &str,
        layers: u64,
        qwen: bool,
    ) -> Result<(Option<u64>, Option<u64>)> {
        let Some(window) = self.opt_uint("sliding_window")? else {
            return Ok((None, None));
        };
        let count = if let Some(types) = self.v.get("layer_types").filter(|v| !v.is_null()) {
            let types = types
                .as_array()
                .filter(|t| t.len() as u64 == layers)
                .ok_or_else(|| {
                    PlanError::invalid(
                        "layer_types",
                        format!("must list one attention type per layer ({layers})"),
                    )
                })?;
            let mut sliding = 0;
            for t in types {
                match t.as_str() {
                    Some("sliding_attention") => sliding += 1,
                    Some("full_attention") => {}
                    _ => {
                        return Err(PlanError::invalid(
                            "layer_types",
                            format!(
                            "entries must be \"sliding_attention\" or \"full_attention\", got {t}"
                        ),
                        ))
                    }
                }
            }
            sliding
        } else if !self.bool_or("use_sliding_window", !qwen)? {
            0
        } else if qwen {
            layers.saturating_sub(self.uint_or("max_window_layers", 28)?)
        } else if model_type == "gemma2" {
            layers.div_ceil(2)
        } else if model_type.starts_with("gemma3") {
            layers - layers / self.uint_or("sliding_window_pattern", 6)?
        } else {
            layers
        };
        Ok(match count {
            0 => (None, None),
            n if n == layers => (Some(window), None),
            n => (Some(window), Some(n)),
        })
    }

    fn str_or<'s>(&'s self, key: &str, default: &'s str) -> &'s str {
        self.v.get(key).and_then(Value::as_str).unwrap_or(default)
    }
}
