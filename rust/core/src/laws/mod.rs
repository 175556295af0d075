//! Quality laws (docs/design.md#loss-laws, #error-laws): pretraining loss from parameters and
//! tokens, its data-constrained variant, and the loss-to-task-error law.

pub mod fit;

use serde::{Deserialize, Serialize};

use crate::cost::{training_tokens, TRAIN_FLOPS_PER_PARAM_TOKEN};
use crate::error::{check, PlanError, Result};

/// Muennighoff et al. 2023, fitted decay constant of repeated data (R*_D).
pub const MUENNIGHOFF_R_STAR_DATA: f64 = 15.387756;

/// L(N, D) = E + A / N^alpha + B / D^beta, optionally with a loss-to-error law on the same scale.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossLaw {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    #[serde(rename = "E")]
    pub e: f64,
    #[serde(rename = "A")]
    pub a: f64,
    #[serde(rename = "B")]
    pub b: f64,
    pub alpha: f64,
    pub beta: f64,
    /// Task error as a function of this law's loss (only meaningful on the same loss scale).
    pub error: Option<ErrorLaw>,
    /// The range the law was fitted on; a plan outside it is extrapolated (docs/planning.md).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fitted: Option<FittedRange>,
}

/// The range of runs a law was fitted on, each bound optional. Tokens are those the law sees
/// (the effective tokens D' under a data limit).
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FittedRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub params_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_param_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tokens_per_param_max: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub loss_max: Option<f64>,
}

/// A quantity a law's fitted range bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Variable {
    Params,
    Tokens,
    TokensPerParam,
    Loss,
}

impl Variable {
    pub const ALL: [Variable; 4] = [
        Variable::Params,
        Variable::Tokens,
        Variable::TokensPerParam,
        Variable::Loss,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Variable::Params => "params",
            Variable::Tokens => "tokens",
            Variable::TokensPerParam => "tokens_per_param",
            Variable::Loss => "loss",
        }
    }
}

/// One variable outside the fitted range: `value` is `factor` (> 1) times beyond `bound`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Extrapolation {
    pub variable: Variable,
    pub value: f64,
    pub bound: f64,
    pub factor: f64,
}

/// The variables of a plan outside its law's fitted range, at most one entry per variable (in
/// `Variable::ALL` order); empty when the plan is inside the range or the law carries none.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Extrapolated([Option<Extrapolation>; 4]);

impl Extrapolated {
    pub fn none() -> Self {
        Extrapolated::default()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Extrapolation> {
        self.0.iter().flatten()
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }

    /// The entry of `variable`, if it is extrapolated.
    pub fn get(&self, variable: Variable) -> Option<&Extrapolation> {
        self.0[variable as usize].as_ref()
    }
}

impl FittedRange {
    fn bounds(&self, v: Variable) -> (Option<f64>, Option<f64>) {
        match v {
            Variable::Params => (self.params_min, self.params_max),
            Variable::Tokens => (self.tokens_min, self.tokens_max),
            Variable::TokensPerParam => (self.tokens_per_param_min, self.tokens_per_param_max),
            Variable::Loss => (self.loss_min, self.loss_max),
        }
    }

    pub fn validate(&self) -> Result<()> {
        for v in Variable::ALL {
            let (lo, hi) = self.bounds(v);
            if let Some(lo) = lo {
                check::positive(&format!("fitted.{}_min", v.name()), lo)?;
            }
            if let Some(hi) = hi {
                check::positive(&format!("fitted.{}_max", v.name()), hi)?;
            }
            if let (Some(lo), Some(hi)) = (lo, hi) {
                if lo > hi {
                    return Err(PlanError::invalid(
                        format!("fitted.{}_max", v.name()),
                        format!("must be at least {}_min ({lo}), got {hi}", v.name()),
                    ));
                }
            }
        }
        Ok(())
    }

    /// Which of (N, D, D/N, loss) lie outside the range, and how far. Non-finite values (a plan
    /// that does not exist) are never flagged.
    pub fn check(&self, params: f64, tokens: f64, loss: f64) -> Extrapolated {
        let mut out = Extrapolated::none();
        for v in Variable::ALL {
            let value = match v {
                Variable::Params => params,
                Variable::Tokens => tokens,
                Variable::TokensPerParam => tokens / params,
                Variable::Loss => loss,
            };
            if !value.is_finite() {
                continue;
            }
            let (lo, hi) = self.bounds(v);
            let beyond = match (lo, hi) {
                (Some(lo), _) if value < lo => Some((lo, lo / value)),
                (_, Some(hi)) if value > hi => Some((hi, value / hi)),
                _ => None,
            };
            out.0[v as usize] = beyond.map(|(bound, factor)| Extrapolation {
                variable: v,
                value,
                bound,
                factor,
            });
        }
        out
    }
}

/// Gadre et al. 2024: error(L) = eps - k * exp(-gamma * L), clipped to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorLaw {
    pub eps: f64,
    pub k: f64,
    pub gamma: f64,
}

/// Unique data available: repeated tokens are worth less (Muennighoff et al. 2023).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataLimit {
    pub unique_tokens: f64,
    pub r_star: f64,
}

impl DataLimit {
    pub fn new(unique_tokens: f64, r_star: Option<f64>) -> Result<Self> {
        Ok(DataLimit {
            unique_tokens: check::positive("unique_tokens", unique_tokens)?,
            r_star: check::positive("r_star", r_star.unwrap_or(MUENNIGHOFF_R_STAR_DATA))?,
        })
    }

    /// D' = U + U * R* * (1 - exp(-R / R*)) with R = D/U - 1 repetitions; D itself while D <= U.
    pub fn effective_tokens(&self, d: f64) -> f64 {
        let u = self.unique_tokens;
        if d <= u {
            return d;
        }
        let r = d / u - 1.0;
        u + u * self.r_star * (-(-r / self.r_star).exp_m1())
    }

    /// dD'/dD: 1 while D <= U, then exp(-R / R*).
    pub fn effective_tokens_slope(&self, d: f64) -> f64 {
        if d <= self.unique_tokens {
            1.0
        } else {
            (-(d / self.unique_tokens - 1.0) / self.r_star).exp()
        }
    }

    /// What unlimited repetition tends to: U * (1 + R*).
    pub fn saturated_tokens(&self) -> f64 {
        self.unique_tokens * (1.0 + self.r_star)
    }
}

impl LossLaw {
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(PlanError::invalid("name", "must not be empty"));
        }
        check::non_negative("E", self.e)?;
        check::positive("A", self.a)?;
        check::positive("B", self.b)?;
        check::positive("alpha", self.alpha)?;
        check::positive("beta", self.beta)?;
        if let Some(err) = &self.error {
            check::finite("error.eps", err.eps)?;
            check::positive("error.k", err.k)?;
            check::positive("error.gamma", err.gamma)?;
        }
        if let Some(fitted) = &self.fitted {
            fitted.validate()?;
        }
        Ok(())
    }

    /// Where (N, D, loss) lies outside the range the law was fitted on; D is the tokens the law
    /// sees (D' under a data limit). Empty without a fitted range.
    pub fn extrapolation(&self, params: f64, tokens: f64, loss: f64) -> Extrapolated {
        self.fitted
            .map_or_else(Extrapolated::none, |f| f.check(params, tokens, loss))
    }

    pub fn loss(&self, n: f64, d: f64) -> f64 {
        self.e + self.a * n.powf(-self.alpha) + self.b * d.powf(-self.beta)
    }

    /// Loss with D replaced by the effective token count under a data limit.
    pub fn loss_limited(&self, n: f64, d: f64, data: Option<&DataLimit>) -> f64 {
        match data {
            Some(limit) => self.loss(n, limit.effective_tokens(d)),
            None => self.loss(n, d),
        }
    }

    /// G = (alpha*A / (beta*B))^(1/(alpha+beta)): N* = G (C/6)^(beta/(alpha+beta)).
    pub fn chinchilla_g(&self) -> f64 {
        (self.alpha * self.a / (self.beta * self.b)).powf(1.0 / (self.alpha + self.beta))
    }

    /// The loss-optimal N and D for 6*N*D = C (closed form, no data limit;
    /// docs/design.md#training-allocation).
    pub fn chinchilla_optimum(&self, compute: f64) -> (f64, f64) {
        let nd = compute / TRAIN_FLOPS_PER_PARAM_TOKEN;
        let n = self.chinchilla_g() * nd.powf(self.beta / (self.alpha + self.beta));
        (n, training_tokens(n, compute))
    }

    /// Inverse of the optimal-loss curve L*(C) = E + K (C/6)^-gamma: least compute reaching
    /// `loss` (> E).
    pub fn chinchilla_compute_for(&self, loss: f64) -> f64 {
        let (al, be) = (self.alpha, self.beta);
        let g = self.chinchilla_g();
        let gamma = al * be / (al + be);
        let k = self.a * g.powf(-al) + self.b * g.powf(be);
        TRAIN_FLOPS_PER_PARAM_TOKEN * ((loss - self.e) / k).powf(-1.0 / gamma)
    }

    /// Task error at `loss`, if the law carries an error law.
    pub fn error_rate(&self, loss: f64) -> Option<f64> {
        self.error.map(|e| e.error(loss))
    }
}

impl ErrorLaw {
    pub fn error(&self, loss: f64) -> f64 {
        (self.eps - self.k * (-self.gamma * loss).exp()).clamp(0.0, 1.0)
    }
}
