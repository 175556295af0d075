//! The parametric test-time model: per-problem success p ~ Beta(mu*kappa, (1-mu)*kappa), with the
//! mean mu saturating in generation length L: mu(L) = mu_inf * L^s / (L^s + L_half^s).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::passk::{beta_majority, beta_pass_at_k};
use crate::error::{check, PlanError, Result};

/// How k samples become one answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Aggregator {
    /// Any correct sample counts (a perfect verifier): pass@k.
    #[default]
    Coverage,
    /// Majority vote without a verifier (binary vote against one wrong answer).
    Majority,
}

impl Aggregator {
    pub fn name(self) -> &'static str {
        match self {
            Aggregator::Coverage => "coverage",
            Aggregator::Majority => "majority",
        }
    }

    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "coverage" | "pass@k" => Ok(Aggregator::Coverage),
            "majority" => Ok(Aggregator::Majority),
            _ => Err(PlanError::invalid(
                "aggregator",
                format!("unknown aggregator '{s}' (expected coverage or majority)"),
            )),
        }
    }
}

/// A catalog preset: a published pass@1 per model at one generation length, and the assumed
/// length saturation and dispersion.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct BetaPreset {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    /// The task (benchmark) whose accuracy the preset gives, e.g. "aime24"; the preset's name
    /// when empty.
    #[serde(default)]
    pub task: String,
    /// The generation length at which `pass1` was measured.
    pub reference_tokens: f64,
    /// Assumption: length at which mu reaches half of mu_inf.
    pub half_tokens: f64,
    /// Assumption: steepness s of the saturation.
    pub hill: f64,
    /// Assumption: Beta concentration (small = problems are all-or-nothing).
    pub kappa: f64,
    /// Published pass@1 at `reference_tokens`, by catalog model name.
    pub pass1: BTreeMap<String, f64>,
}

/// Saturation of accuracy with generation length, in (0, 1).
pub fn saturation(gen_tokens: f64, half_tokens: f64, hill: f64) -> f64 {
    let r = (half_tokens / gen_tokens).powf(hill);
    1.0 / (1.0 + r)
}

impl BetaPreset {
    /// The task the preset's accuracy is measured on.
    pub fn task(&self) -> &str {
        if self.task.is_empty() {
            &self.name
        } else {
            &self.task
        }
    }

    pub fn validate(&self) -> Result<()> {
        check::positive("reference_tokens", self.reference_tokens)?;
        check::positive("half_tokens", self.half_tokens)?;
        check::positive("hill", self.hill)?;
        check::positive("kappa", self.kappa)?;
        if self.pass1.is_empty() {
            return Err(PlanError::invalid("pass1", "must list at least one model"));
        }
        for (model, &p) in &self.pass1 {
            let field = format!("pass1.{model}");
            check::positive(&field, p)?;
            let mu_inf = p / saturation(self.reference_tokens, self.half_tokens, self.hill);
            if mu_inf > 1.0 {
                return Err(PlanError::invalid(
                    field,
                    format!(
                        "{p} at {} tokens implies an unlimited-length accuracy {mu_inf} > 1",
                        self.reference_tokens
                    ),
                ));
            }
        }
        Ok(())
    }

    pub fn curve(&self, model: &str, aggregator: Aggregator) -> Result<BetaCurve> {
        let p = self
            .pass1
            .get(model)
            .ok_or_else(|| PlanError::UnknownName {
                field: "models".into(),
                kind: crate::error::NameKind::Model,
                name: model.to_string(),
                known: self.pass1.keys().cloned().collect(),
                preset: Some(self.name.as_str().into()),
            })?;
        Ok(BetaCurve {
            mu_inf: p / saturation(self.reference_tokens, self.half_tokens, self.hill),
            half_tokens: self.half_tokens,
            hill: self.hill,
            kappa: self.kappa,
            aggregator,
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BetaCurve {
    /// Mean accuracy at unlimited generation length.
    pub mu_inf: f64,
    pub half_tokens: f64,
    pub hill: f64,
    pub kappa: f64,
    pub aggregator: Aggregator,
}

impl BetaCurve {
    pub fn validate(&self) -> Result<()> {
        check::unit_fraction("mu_inf", self.mu_inf)?;
        check::positive("half_tokens", self.half_tokens)?;
        check::positive("hill", self.hill)?;
        check::positive("kappa", self.kappa)?;
        Ok(())
    }

    pub fn mean(&self, gen_tokens: f64) -> f64 {
        self.mu_inf * saturation(gen_tokens, self.half_tokens, self.hill)
    }

    pub fn accuracy(&self, gen_tokens: f64, samples: u32) -> f64 {
        let mu = self.mean(gen_tokens);
        match self.aggregator {
            Aggregator::Coverage => beta_pass_at_k(mu, self.kappa, f64::from(samples)),
            Aggregator::Majority => beta_majority(mu, self.kappa, samples),
        }
    }
}
