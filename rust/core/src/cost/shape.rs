//! The numbers of a model the cost model reads, as reals, so that a family of models can be
//! interpolated to any size N.

use crate::catalog::{Catalog, Family, Model};
use crate::error::{PlanError, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MoeShape {
    pub experts: f64,
    pub active_experts: f64,
    pub expert_params: f64,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostShape {
    /// Parameters charged 2 FLOPs per token.
    pub flop_params: f64,
    /// Parameters held in memory.
    pub total_params: f64,
    /// l*H*d.
    pub attention_dim: f64,
    /// 2*G*d*l.
    pub kv_elems_per_token: f64,
    /// 2*l*hidden: activations a tensor-parallel replica all-reduces per token.
    pub allreduce_elems_per_token: f64,
    /// An untied input embedding table (gathered, not read whole); 0 when tied.
    pub gathered_params: f64,
    /// What a gather reads per token: one row of the untied table.
    pub row_params: f64,
    pub max_context: f64,
    pub moe: Option<MoeShape>,
}

impl CostShape {
    /// Weights one decode step multiplies by, for `tokens` sequences decoded together: the
    /// untied input table contributes one row per token; an MoE step reads the experts its
    /// tokens are routed to (uniform routing: touched with probability 1 - (1 - a/E)^tokens).
    #[inline]
    pub fn weight_params_read(&self, tokens: f64) -> f64 {
        let mut params = self.total_params - self.gathered_params + tokens * self.row_params;
        if let Some(moe) = &self.moe {
            let untouched = (1.0 - moe.active_experts / moe.experts).powf(tokens);
            params -= moe.expert_params * untouched;
        }
        params
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
        }
    }
}

/// A family's members as cost shapes, for interpolation in model size.
#[derive(Debug, Clone, PartialEq)]
pub struct FamilyShapes {
    pub name: String,
    members: Vec<CostShape>,
}

impl FamilyShapes {
    pub fn new(catalog: &Catalog, family: &Family) -> Result<Self> {
        let members = family
            .members
            .iter()
            .map(|name| {
                let m = catalog.model(name)?;
                if m.moe.is_some() {
                    return Err(PlanError::invalid(
                        "family",
                        format!(
                            "'{}' has MoE member '{name}'; only dense families interpolate",
                            family.name
                        ),
                    ));
                }
                Ok(m.cost_shape())
            })
            .collect::<Result<Vec<_>>>()?;
        if members.len() < 2 {
            return Err(PlanError::invalid(
                "family",
                format!(
                    "'{}' needs at least two members to interpolate",
                    family.name
                ),
            ));
        }
        Ok(FamilyShapes {
            name: family.name.clone(),
            members,
        })
    }

    pub fn members(&self) -> &[CostShape] {
        &self.members
    }

    /// Sizes between which every interpolated quantity is one power law of N.
    pub fn breakpoints(&self) -> Vec<f64> {
        self.members.iter().map(|m| m.flop_params).collect()
    }

    /// The shape of a model with `flop_params` = n: per-token attention quantities and memory
    /// interpolated log-log between the neighbouring members, extrapolated with the end slopes;
    /// the embedding terms interpolated in log N and held at the end values outside.
    pub fn at(&self, n: f64) -> CostShape {
        let m = &self.members;
        let i = m[1..m.len() - 1]
            .iter()
            .position(|s| n < s.flop_params)
            .unwrap_or(m.len() - 2);
        let (lo, hi) = (&m[i], &m[i + 1]);
        let t = (n.ln() - lo.flop_params.ln()) / (hi.flop_params.ln() - lo.flop_params.ln());
        let loglog = |a: f64, b: f64| (a.ln() + t * (b.ln() - a.ln())).exp();
        let tc = t.clamp(0.0, 1.0);
        let linear = |a: f64, b: f64| a + tc * (b - a);
        CostShape {
            flop_params: n,
            total_params: loglog(lo.total_params, hi.total_params),
            attention_dim: loglog(lo.attention_dim, hi.attention_dim),
            kv_elems_per_token: loglog(lo.kv_elems_per_token, hi.kv_elems_per_token),
            allreduce_elems_per_token: loglog(
                lo.allreduce_elems_per_token,
                hi.allreduce_elems_per_token,
            ),
            gathered_params: linear(lo.gathered_params, hi.gathered_params),
            row_params: linear(lo.row_params, hi.row_params),
            max_context: lo.max_context.min(hi.max_context),
            moe: None,
        }
    }
}
