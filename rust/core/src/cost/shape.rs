//! The numbers of a model the cost model reads, as reals, and the smooth rule that gives them
//! for a family at any size N (docs/cost-model.md, "Families").

use crate::catalog::{Catalog, Family, Model};
use crate::error::{PlanError, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoeShape {
    pub experts: f64,
    pub active_experts: f64,
    pub expert_params: f64,
}

/// The layers that attend over a sliding window (docs/cost-model.md, "Sliding-window
/// attention"): their share of the attention and KV figures, and the window.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlidingShape {
    /// Tokens a sliding layer keeps and attends to.
    pub window: f64,
    /// The sliding layers' part of `attention_dim`.
    pub attention_dim: f64,
    /// The sliding layers' part of `kv_elems_per_token`.
    pub kv_elems_per_token: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostShape {
    /// Parameters charged 2 FLOPs per token.
    pub flop_params: f64,
    /// Parameters held in memory.
    pub total_params: f64,
    /// l*H*d, over every layer (sliding ones included).
    pub attention_dim: f64,
    /// 2*G*d*l, over every layer (sliding ones included).
    pub kv_elems_per_token: f64,
    /// 2*l*hidden: activations a tensor-parallel replica all-reduces per token.
    pub allreduce_elems_per_token: f64,
    /// An untied input embedding table (gathered, not read whole); 0 when tied.
    pub gathered_params: f64,
    /// What a gather reads per token: one row of the untied table.
    pub row_params: f64,
    pub max_context: f64,
    pub moe: Option<MoeShape>,
    /// Layers that keep only a window of keys and values; None when all attend globally.
    pub sliding: Option<SlidingShape>,
}

impl CostShape {
    /// Weights one decode step multiplies by, for `tokens` sequences decoded together: the
    /// untied input table contributes one row per token; an MoE step reads the experts its
    /// tokens are routed to (uniform routing: touched with probability 1 - (1 - a/E)^tokens).
    #[inline]
    pub fn weight_params_read(&self, tokens: f64) -> f64 {
        let params = self.dense_params_read(tokens);
        match &self.moe {
            Some(moe) => {
                let untouched = (1.0 - moe.active_experts / moe.experts).powf(tokens);
                params - moe.expert_params * untouched
            }
            None => params,
        }
    }

    /// [`CostShape::weight_params_read`] of a model without experts (its whole value when
    /// `moe` is None): free of the `powf` call, so loops over it vectorise.
    #[inline(always)]
    pub(crate) fn dense_params_read(&self, tokens: f64) -> f64 {
        self.total_params - self.gathered_params + tokens * self.row_params
    }
}

impl Model {
    pub fn cost_shape(&self) -> CostShape {
        let (gathered, row) = if self.tied_embeddings {
            (0.0, 0.0)
        } else {
            (
                (self.vocab_size * self.hidden_size) as f64,
                self.hidden_size as f64,
            )
        };
        CostShape {
            flop_params: self.flop_params,
            total_params: self.total_params,
            attention_dim: self.attention_dim(),
            kv_elems_per_token: self.kv_elems_per_token(),
            allreduce_elems_per_token: self.allreduce_elems_per_token(),
            gathered_params: gathered,
            row_params: row,
            max_context: self.max_context as f64,
            moe: self.moe.as_ref().map(|m| MoeShape {
                experts: m.experts as f64,
                active_experts: m.active_experts as f64,
                expert_params: m.expert_params,
            }),
            sliding: self.sliding_window.map(|w| {
                let layers = self.sliding_layer_count() as f64;
                SlidingShape {
                    window: w as f64,
                    attention_dim: layers * (self.query_heads * self.head_dim) as f64,
                    kv_elems_per_token: layers * (2 * self.kv_heads * self.head_dim) as f64,
                }
            }),
        }
    }
}

/// `ln y = intercept + exponent * ln N`: one shape dimension of a family as a power law of the
/// model size, fitted by least squares in log space over the members (docs/cost-model.md,
/// "Families").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PowerLaw {
    pub intercept: f64,
    pub exponent: f64,
    /// exp(intercept), exact for a constant (every member equal).
    scale: f64,
}

impl PowerLaw {
    /// Ordinary least squares of `ln y` on `x = ln N`. Every member weighs the same.
    pub fn fit(x: &[f64], y: &[f64]) -> PowerLaw {
        let n = x.len() as f64;
        let ly: Vec<f64> = y.iter().map(|v| v.ln()).collect();
        let (mx, my) = (x.iter().sum::<f64>() / n, ly.iter().sum::<f64>() / n);
        let sxx: f64 = x.iter().map(|a| (a - mx) * (a - mx)).sum();
        let sxy: f64 = x.iter().zip(&ly).map(|(a, b)| (a - mx) * (b - my)).sum();
        // Equal values fit exactly as a constant (no spurious 1e-17 slopes).
        let exponent = if ly.iter().all(|&v| v == ly[0]) {
            0.0
        } else {
            sxy / sxx
        };
        let intercept = my - exponent * mx;
        PowerLaw {
            intercept,
            exponent,
            scale: if exponent == 0.0 {
                y[0]
            } else {
                intercept.exp()
            },
        }
    }

    #[inline]
    pub fn at_ln(&self, ln_n: f64) -> f64 {
        self.scale * (self.exponent * ln_n).exp()
    }
}

/// The architecture a family's smooth rule implies at a size N: real numbers (a planning
/// abstraction, not a buildable config), reported with the plans that choose N.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImpliedShape {
    pub layers: f64,
    pub query_heads: f64,
    pub kv_heads: f64,
    pub head_dim: f64,
    /// The embedding table's fitted share of N, times N, over the fitted vocabulary.
    pub hidden_size: f64,
    pub vocab_size: f64,
    /// Share of the embedding table held as a separate, gathered input table (1 untied, 0 tied).
    pub untied: f64,
}

/// Bandwidth, in ln N, of the kernel smoothing of the members' untied share.
const UNTIED_BANDWIDTH: f64 = 0.2;

/// A family's members and the smooth rule that gives the cost shape of a model of any size N
/// (docs/cost-model.md, "Families"): layers, query heads, KV heads, head size, hidden size and
/// vocabulary each a power law of N fitted to the members; N itself priced exactly (2N FLOPs per
/// token), the resident and streamed weights derived from N and the fitted embedding table.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyShapes {
    pub name: String,
    members: Vec<CostShape>,
    layers: PowerLaw,
    query_heads: PowerLaw,
    kv_heads: PowerLaw,
    head_dim: PowerLaw,
    /// logit(V*h / N) = intercept + exponent * ln N: the embedding table's share of N, a
    /// logistic in ln N, so that the table stays below N at any size.
    table_share: PowerLaw,
    vocab_size: PowerLaw,
    /// (ln N, untied share) of each member, smoothed by a Gaussian kernel.
    untied: Vec<(f64, f64)>,
    max_context: f64,
}

impl FamilyShapes {
    pub fn new(catalog: &Catalog, family: &Family) -> Result<Self> {
        let models = family
            .members
            .iter()
            .map(|name| {
                let m = catalog.model(name)?;
                if m.sliding_window.is_some() {
                    return Err(PlanError::invalid(
                        "family",
                        format!(
                            "'{}' has sliding-window member '{name}'; only families with \
                             global attention in every layer interpolate",
                            family.name
                        ),
                    ));
                }
                if m.moe.is_some() {
                    return Err(PlanError::invalid(
                        "family",
                        format!(
                            "'{}' has MoE member '{name}'; only dense families interpolate",
                            family.name
                        ),
                    ));
                }
                Ok(m)
            })
            .collect::<Result<Vec<_>>>()?;
        if models.len() < 2 {
            return Err(PlanError::invalid(
                "family",
                format!(
                    "'{}' needs at least two members to interpolate",
                    family.name
                ),
            ));
        }
        for m in &models {
            if ((m.vocab_size * m.hidden_size) as f64) >= m.flop_params {
                return Err(PlanError::invalid(
                    "family",
                    format!(
                        "'{}': member '{}' has flop_params {} not above its embedding table \
                         vocab_size*hidden_size",
                        family.name, m.name, m.flop_params
                    ),
                ));
            }
        }
        let x: Vec<f64> = models.iter().map(|m| m.flop_params.ln()).collect();
        if x.iter().all(|&v| v == x[0]) {
            return Err(PlanError::invalid(
                "family",
                format!("'{}' needs members of different sizes", family.name),
            ));
        }
        let fit = |dim: fn(&Model) -> u64| {
            let y: Vec<f64> = models.iter().map(|m| dim(m) as f64).collect();
            PowerLaw::fit(&x, &y)
        };
        // Untied share read off the counts, not the flag: the parameters held beyond
        // N - table, over the table (Kinetics' N counts a tied head twice, so a tied member
        // holds N - table and an untied one N). Clamped to [0, 1].
        let untied = models
            .iter()
            .map(|m| {
                let table = (m.vocab_size * m.hidden_size) as f64;
                let share = (m.total_params - m.flop_params + table) / table;
                (m.flop_params.ln(), share.clamp(0.0, 1.0))
            })
            .collect();
        Ok(FamilyShapes {
            name: family.name.clone(),
            members: models.iter().map(|m| m.cost_shape()).collect(),
            layers: fit(|m| m.layers),
            query_heads: fit(|m| m.query_heads),
            kv_heads: fit(|m| m.kv_heads),
            head_dim: fit(|m| m.head_dim),
            table_share: {
                // least squares of logit(share) on ln N: odds = share / (1 - share) is the
                // "y" of a power law
                let odds: Vec<f64> = models
                    .iter()
                    .map(|m| {
                        let share = (m.vocab_size * m.hidden_size) as f64 / m.flop_params;
                        share / (1.0 - share)
                    })
                    .collect();
                PowerLaw::fit(&x, &odds)
            },
            vocab_size: fit(|m| m.vocab_size),
            untied,
            max_context: models
                .iter()
                .map(|m| m.max_context as f64)
                .fold(f64::INFINITY, f64::min),
        })
    }

    pub fn members(&self) -> &[CostShape] {
        &self.members
    }

    /// The members' sizes. The rule is smooth across them (no segment is special); planners
    /// may still use them to seed their search grids.
    pub fn breakpoints(&self) -> Vec<f64> {
        self.members.iter().map(|m| m.flop_params).collect()
    }

    /// The fitted laws: layers, query heads, KV heads, head size, vocabulary (power laws of N)
    /// and the odds V*h / (N - V*h) of the embedding table's share of N.
    pub fn power_laws(&self) -> [PowerLaw; 6] {
        [
            self.layers,
            self.query_heads,
            self.kv_heads,
            self.head_dim,
            self.vocab_size,
            self.table_share,
        ]
    }

    /// The shape the smooth rule implies at size `n` (flop_params).
    pub fn implied(&self, n: f64) -> ImpliedShape {
        let x = n.ln();
        // Nadaraya-Watson: a weighted mean of the members' shares, weights a Gaussian in ln N.
        // Smooth, within [0, 1], monotone where the shares are, and the end members' shares
        // beyond the ends. Weights are taken relative to the nearest member's (no underflow).
        let nearest = self
            .untied
            .iter()
            .map(|&(xi, _)| (x - xi).abs())
            .fold(f64::INFINITY, f64::min);
        let odds = self.table_share.at_ln(x);
        let share = odds / (1.0 + odds);
        let vocab = self.vocab_size.at_ln(x);
        let (mut num, mut den) = (0.0, 0.0);
        for &(xi, share) in &self.untied {
            let z = ((x - xi).powi(2) - nearest.powi(2)) / (2.0 * UNTIED_BANDWIDTH.powi(2));
            let w = (-z).exp();
            num += w * share;
            den += w;
        }
        ImpliedShape {
            layers: self.layers.at_ln(x),
            query_heads: self.query_heads.at_ln(x),
            kv_heads: self.kv_heads.at_ln(x),
            head_dim: self.head_dim.at_ln(x),
            hidden_size: n * share / vocab,
            vocab_size: vocab,
            untied: num / den,
        }
    }

    /// The cost shape of a model with `flop_params` = n under the family's smooth rule
    /// (docs/cost-model.md, "Families"): 2n FLOPs per token; attention l*H*d and KV 2*G*d*l
    /// (and the all-reduce 2*l*h) from the fitted dimensions; the embedding table V*h from the
    /// fitted V and h, of which
    /// the untied share u is a gathered input table; resident weights n - (1 - u)*V*h (n counts
    /// a tied head twice), streamed per decode step n - V*h plus one row per token.
    pub fn at(&self, n: f64) -> CostShape {
        let s = self.implied(n);
        let table = s.vocab_size * s.hidden_size;
        CostShape {
            flop_params: n,
            total_params: n - (1.0 - s.untied) * table,
            attention_dim: s.layers * s.query_heads * s.head_dim,
            kv_elems_per_token: 2.0 * s.kv_heads * s.head_dim * s.layers,
            allreduce_elems_per_token: 2.0 * s.layers * s.hidden_size,
            gathered_params: s.untied * table,
            row_params: s.untied * s.hidden_size,
            max_context: self.max_context,
            moe: None,
            sliding: None,
        }
    }
}
