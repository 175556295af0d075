//! Attended-context sums over a generation: how many (query token, cached token) pairs the decode
//! steps touch. Continuous sums, as in the Kinetics cost model.

use crate::error::{check, PlanError, Result};

/// Which cached tokens each decode step attends to.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Attention {
    /// Every cached token.
    Dense,
    /// The `budget` most relevant tokens, selected at no cost (Kinetics' oracle top-k).
    TopK { budget: f64 },
    /// `budget` tokens chosen by scoring one key per block of `block_size` tokens.
    BlockTopK { budget: f64, block_size: f64 },
}

impl Attention {
    pub fn validate(&self) -> Result<()> {
        match *self {
            Attention::Dense => Ok(()),
            Attention::TopK { budget } => {
                check::whole_at_least("kv_budget", budget, 1.0).map(|_| ())
            }
            Attention::BlockTopK { budget, block_size } => {
                check::whole_at_least("kv_budget", budget, 1.0)?;
                check::whole_at_least("block_size", block_size, 1.0)?;
                if block_size > budget {
                    return Err(PlanError::invalid(
                        "block_size",
                        format!("must not exceed kv_budget ({budget}), got {block_size}"),
                    ));
                }
                Ok(())
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Attention::Dense => "dense",
            Attention::TopK { .. } => "topk",
            Attention::BlockTopK { .. } => "block_topk",
        }
    }
}

/// Sum over L decode steps of the full context c = L_in + t: L_in*L + L^2/2.
#[inline(always)]
pub fn dense_context_sum(prompt: f64, gen: f64) -> f64 {
    prompt * gen + 0.5 * gen * gen
}

/// Sum over L decode steps of min(S, c): S*L - max(0, S - L_in)^2/2 once the context outgrows the
/// budget (L >= S - L_in), the dense sum before that.
#[inline(always)]
pub fn sparse_context_sum(prompt: f64, gen: f64, budget: f64) -> f64 {
    let fill = (budget - prompt).max(0.0);
    if gen >= fill {
        budget * gen - 0.5 * fill * fill
    } else {
        dense_context_sum(prompt, gen)
    }
}

impl Attention {
    /// Build from the surface form: a kind name with its optional parameters.
    pub fn from_parts(kind: &str, kv_budget: Option<f64>, block_size: Option<f64>) -> Result<Self> {
        let need = |v: Option<f64>, field: &str| {
            v.ok_or_else(|| {
                PlanError::invalid(field, format!("is required with attention '{kind}'"))
            })
        };
        let unused = |v: Option<f64>, field: &str| match v {
            Some(_) => Err(PlanError::invalid(
                field,
                format!("does not apply to attention '{kind}'"),
            )),
            None => Ok(()),
        };
        let attention = match kind {
            "dense" => {
                unused(kv_budget, "kv_budget")?;
                unused(block_size, "block_size")?;
                Attention::Dense
            }
            "topk" => {
                unused(block_size, "block_size")?;
                Attention::TopK {
                    budget: need(kv_budget, "kv_budget")?,
                }
            }
            "block_topk" => Attention::BlockTopK {
                budget: need(kv_budget, "kv_budget")?,
                block_size: need(block_size, "block_size")?,
            },
            other => {
                return Err(PlanError::invalid(
                    "attention",
                    format!("unknown attention '{other}' (expected dense, topk or block_topk)"),
                ))
            }
        };
        attention.validate()?;
        Ok(attention)
    }
}
