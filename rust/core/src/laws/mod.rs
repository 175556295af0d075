//! Quality laws (docs/design.md#loss-laws, #error-laws): pretraining loss from parameters and
//! tokens, its data-constrained variant, and the loss-to-task-error law.

pub mod fit;
pub mod parscale;
pub mod progress;
pub mod rag;

use serde::{Deserialize, Serialize};

use crate::cost::{training_tokens, TRAIN_FLOPS_PER_PARAM_TOKEN};
use crate::error::{check, PlanError, Result};

pub use parscale::{check_streams, ParScaleLaw, PARSCALE_STREAMS};

/// Muennighoff et al. 2023, fitted decay constant of repeated data (R*_D).
pub const MUENNIGHOFF_R_STAR_DATA: f64 = 15.387756;

/// A pretraining loss law L(N, D) in one of its forms (docs/planning.md, "Loss-law forms"):
/// E + A / N^alpha + B / D^beta, or Farseer's (`farseer`), optionally with a loss-to-error law on
/// the same scale. Equality treats an absent (NaN) Chinchilla coefficient as equal to another
/// absent one.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LossLaw {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    // The five coefficients of the Chinchilla form; absent (NaN) in a law of another form.
    #[serde(rename = "E", default = "absent", skip_serializing_if = "is_absent")]
    pub e: f64,
    #[serde(rename = "A", default = "absent", skip_serializing_if = "is_absent")]
    pub a: f64,
    #[serde(rename = "B", default = "absent", skip_serializing_if = "is_absent")]
    pub b: f64,
    #[serde(default = "absent", skip_serializing_if = "is_absent")]
    pub alpha: f64,
    #[serde(default = "absent", skip_serializing_if = "is_absent")]
    pub beta: f64,
    /// The Farseer form's coefficients; a law carrying them is of that form, not Chinchilla's
    /// (docs/planning.md, "Loss-law forms").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub farseer: Option<Farseer>,
    /// The unit of the law's loss; a plan's loss is in it.
    #[serde(default)]
    pub units: LossUnits,
    /// Muennighoff et al. 2023's decay constants, when the law was fitted with them: under a
    /// data limit, repeated tokens and excess parameters are both discounted (docs/planning.md,
    /// "Data-constrained laws").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repetition: Option<Repetition>,
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

impl PartialEq for LossLaw {
    fn eq(&self, other: &Self) -> bool {
        // An absent (NaN) coefficient equals another absent one.
        let same = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        self.name == other.name
            && self.description == other.description
            && self.source == other.source
            && same(self.e, other.e)
            && same(self.a, other.a)
            && same(self.b, other.b)
            && same(self.alpha, other.alpha)
            && same(self.beta, other.beta)
            && self.farseer == other.farseer
            && self.units == other.units
            && self.repetition == other.repetition
            && self.error == other.error
            && self.fitted == other.fitted
    }
}

fn absent() -> f64 {
    f64::NAN
}

fn is_absent(v: &f64) -> bool {
    v.is_nan()
}

/// The unit of a law's loss. Losses in different units (or on different eval sets) are not
/// comparable; every plan says which its loss is in (docs/planning.md, "Loss-law forms").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LossUnits {
    /// Cross-entropy in nats per token (the Chinchilla-form presets).
    #[default]
    NatsPerToken,
    /// Bits per character (Farseer), independent of the tokenizer.
    BitsPerChar,
}

impl LossUnits {
    pub fn name(self) -> &'static str {
        match self {
            LossUnits::NatsPerToken => "nats_per_token",
            LossUnits::BitsPerChar => "bits_per_char",
        }
    }
}

/// Li et al. 2025 (Farseer, arXiv:2506.10972): L(N, D) = exp(a3 N^g + b3) + exp(a2 N^b + b2)
/// D^(-exp(a1 N^a + b1)), N non-embedding parameters. The first term is the loss with unlimited
/// data at size N; the data term is a power law in D whose coefficient and exponent both vary
/// with N. It has no loss floor: it tends to 0 as N grows, so a plan is only meaningful inside
/// the model sizes it was validated on (docs/planning.md, "Loss-law forms").
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Farseer {
    pub a1: f64,
    pub a: f64,
    pub b1: f64,
    pub a2: f64,
    pub b: f64,
    pub b2: f64,
    pub a3: f64,
    pub g: f64,
    pub b3: f64,
}

impl Farseer {
    const FIELDS: [&'static str; 9] = ["a1", "a", "b1", "a2", "b", "b2", "a3", "g", "b3"];

    fn values(&self) -> [f64; 9] {
        [
            self.a1, self.a, self.b1, self.a2, self.b, self.b2, self.a3, self.g, self.b3,
        ]
    }

    fn validate(&self) -> Result<()> {
        for (name, v) in Self::FIELDS.iter().zip(self.values()) {
            check::finite(&format!("farseer.{name}"), v)?;
        }
        Ok(())
    }

    /// exp(a3 N^g + b3): the loss at size N with unlimited data.
    pub fn data_limit_loss(&self, n: f64) -> f64 {
        (self.a3 * n.powf(self.g) + self.b3).exp()
    }

    /// (coefficient exp(a2 N^b + b2), exponent exp(a1 N^a + b1)) of the data term at size N.
    fn data_term(&self, n: f64) -> (f64, f64) {
        (
            (self.a2 * n.powf(self.b) + self.b2).exp(),
            (self.a1 * n.powf(self.a) + self.b1).exp(),
        )
    }

    pub fn loss(&self, n: f64, d: f64) -> f64 {
        let (k, w) = self.data_term(n);
        self.data_limit_loss(n) + k * d.powf(-w)
    }

    /// (dL/dN, dL/dD), analytic: with u = a3 N^g + b3, v = a2 N^b + b2, w = exp(a1 N^a + b1),
    /// dL/dN = e^u a3 g N^(g-1) + e^v D^-w (a2 b N^(b-1) - ln D w a1 a N^(a-1)) and
    /// dL/dD = -w e^v D^(-w-1).
    pub fn gradient(&self, n: f64, d: f64) -> (f64, f64) {
        let (k, w) = self.data_term(n);
        let data = k * d.powf(-w);
        let dn = self.data_limit_loss(n) * self.a3 * self.g * n.powf(self.g - 1.0)
            + data
                * (self.a2 * self.b * n.powf(self.b - 1.0)
                    - d.ln() * w * self.a1 * self.a * n.powf(self.a - 1.0));
        (dn, -w * data / d)
    }
}

/// The form of a loss law, borrowed from a [`LossLaw`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LawForm<'a> {
    /// E + A / N^alpha + B / D^beta: closed-form compute optimum.
    Chinchilla,
    /// No closed form, no loss floor: planned numerically inside its domain.
    Farseer(&'a Farseer),
}

/// Gadre et al. 2024: error(L) = eps - k * exp(-gamma * L), clipped to [0, 1].
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorLaw {
    pub eps: f64,
    pub k: f64,
    pub gamma: f64,
}

/// Muennighoff et al. 2023 (arXiv:2305.16264, eq. 5-6): the decay constants of repeated tokens
/// (R*_D) and of excess parameters (R*_N) a data-constrained law was fitted with. Under a data
/// limit of U unique tokens, parameters beyond U_N = min(N, N*(U)) (the compute-optimal size for
/// U tokens, N*(D) = G (G D)^(beta/alpha)) are worth N' = U_N + U_N R*_N (1 - exp(-R_N / R*_N)),
/// R_N = N / U_N - 1, as repeated tokens are worth D'.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Repetition {
    pub r_star_tokens: f64,
    pub r_star_params: f64,
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

    /// The tokens D whose D' is `effective` (inverse of `effective_tokens`):
    /// D = U (1 - R* ln(1 - (D'/U - 1) / R*)); None when no D reaches it (D' saturates at
    /// U (1 + R*)).
    pub fn tokens_for_effective(&self, effective: f64) -> Option<f64> {
        let u = self.unique_tokens;
        if effective <= u {
            return Some(effective);
        }
        let fraction = (effective / u - 1.0) / self.r_star;
        if fraction >= 1.0 {
            return None;
        }
        Some(u * (1.0 - self.r_star * (-fraction).ln_1p()))
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
        let chinchilla = [
            ("E", self.e),
            ("A", self.a),
            ("B", self.b),
            ("alpha", self.alpha),
            ("beta", self.beta),
        ];
        match &self.farseer {
            None => {
                for (field, v) in chinchilla {
                    if v.is_nan() {
                        return Err(PlanError::invalid(
                            field,
                            "is missing (or NaN): a law needs E, A, B, alpha and beta (the \
                             Chinchilla form) or a `farseer` table (docs/planning.md, \
                             \"Loss-law forms\")",
                        ));
                    }
                }
                check::non_negative("E", self.e)?;
                check::positive("A", self.a)?;
                check::positive("B", self.b)?;
                check::positive("alpha", self.alpha)?;
                check::positive("beta", self.beta)?;
            }
            Some(farseer) => {
                for (field, v) in chinchilla {
                    if !v.is_nan() {
                        return Err(PlanError::invalid(
                            field,
                            "is a coefficient of the Chinchilla form; a law with `farseer` \
                             coefficients takes none of E, A, B, alpha, beta",
                        ));
                    }
                }
                farseer.validate()?;
                // No loss floor: the planners search sizes only up to the largest validated one.
                if self.fitted.and_then(|f| f.params_max).is_none() {
                    return Err(PlanError::invalid(
                        "fitted.params_max",
                        "is required for the farseer form: the law has no loss floor, so the \
                         planners search model sizes only up to the largest it was validated on",
                    ));
                }
            }
        }
        if let Some(err) = &self.error {
            check::finite("error.eps", err.eps)?;
            check::positive("error.k", err.k)?;
            check::positive("error.gamma", err.gamma)?;
        }
        if let Some(fitted) = &self.fitted {
            fitted.validate()?;
        }
        if let Some(r) = &self.repetition {
            check::positive("repetition.r_star_tokens", r.r_star_tokens)?;
            check::positive("repetition.r_star_params", r.r_star_params)?;
            if self.farseer.is_some() {
                return Err(PlanError::invalid(
                    "repetition",
                    "applies to the Chinchilla form only (its excess-parameter term uses that \
                     form's compute-optimal size)",
                ));
            }
        }
        Ok(())
    }

    /// The R*_D a data limit uses when none is given: the law's own, else Muennighoff et al.'s.
    pub fn default_r_star(&self) -> f64 {
        self.repetition
            .map_or(MUENNIGHOFF_R_STAR_DATA, |r| r.r_star_tokens)
    }

    /// N* (D) = G (G D)^(beta/alpha): the compute-optimal size for D tokens (Chinchilla form).
    pub fn optimal_params_for_tokens(&self, d: f64) -> f64 {
        let g = self.chinchilla_g();
        g * (g * d).powf(self.beta / self.alpha)
    }

    /// N': the parameters N is worth under a data limit when the law carries an excess-parameter
    /// constant (`repetition`); N itself otherwise.
    pub fn effective_params(&self, n: f64, data: Option<&DataLimit>) -> f64 {
        match self.params_limit(data) {
            Some(limit) => limit.effective_tokens(n),
            None => n,
        }
    }

    /// Excess parameters repeat as tokens do (Muennighoff et al. 2023): the same decay with
    /// U_N = N*(U) in place of U and R*_N in place of R*_D. None without a data limit or an
    /// excess-parameter constant.
    fn params_limit(&self, data: Option<&DataLimit>) -> Option<DataLimit> {
        match (self.repetition, data) {
            (Some(r), Some(limit)) => Some(DataLimit {
                unique_tokens: self.optimal_params_for_tokens(limit.unique_tokens),
                r_star: r.r_star_params,
            }),
            _ => None,
        }
    }

    /// The least N whose N' reaches `effective` (inverse of `effective_params`); None when no
    /// N does (N' saturates at U_N (1 + R*_N)).
    pub fn params_for_effective(&self, effective: f64, data: Option<&DataLimit>) -> Option<f64> {
        match self.params_limit(data) {
            Some(limit) => limit.tokens_for_effective(effective),
            None => Some(effective),
        }
    }

    /// The lowest loss a data limit allows, approached as N and D grow: E + A / N'_max^alpha +
    /// B / D'_max^beta (Chinchilla form; N'_max = N without an excess-parameter constant).
    pub fn data_limited_floor(&self, limit: &DataLimit) -> f64 {
        let params = match self.repetition {
            Some(r) => {
                self.a
                    * (self.optimal_params_for_tokens(limit.unique_tokens)
                        * (1.0 + r.r_star_params))
                        .powf(-self.alpha)
            }
            None => 0.0,
        };
        self.e + params + self.b * limit.saturated_tokens().powf(-self.beta)
    }

    /// Where (N, D, loss) lies outside the range the law was fitted on; D is the tokens the law
    /// sees (D' under a data limit). Empty without a fitted range.
    pub fn extrapolation(&self, params: f64, tokens: f64, loss: f64) -> Extrapolated {
        self.fitted
            .map_or_else(Extrapolated::none, |f| f.check(params, tokens, loss))
    }

    /// The law's form (docs/planning.md, "Loss-law forms").
    pub fn form(&self) -> LawForm<'_> {
        match &self.farseer {
            None => LawForm::Chinchilla,
            Some(f) => LawForm::Farseer(f),
        }
    }

    /// "chinchilla" or "farseer".
    pub fn form_name(&self) -> &'static str {
        match self.form() {
            LawForm::Chinchilla => "chinchilla",
            LawForm::Farseer(_) => "farseer",
        }
    }

    /// The largest model size the planners may search: the largest validated model for a form
    /// without a loss floor (required by `validate`), none for the Chinchilla form.
    pub fn domain_params_max(&self) -> Option<f64> {
        match self.form() {
            LawForm::Chinchilla => None,
            LawForm::Farseer(_) => self.fitted.and_then(|f| f.params_max),
        }
    }

    pub fn loss(&self, n: f64, d: f64) -> f64 {
        match self.form() {
            LawForm::Chinchilla => {
                self.e + self.a * n.powf(-self.alpha) + self.b * d.powf(-self.beta)
            }
            LawForm::Farseer(f) => f.loss(n, d),
        }
    }

    /// (dL/dN, dL/dD), analytic.
    pub fn gradient(&self, n: f64, d: f64) -> (f64, f64) {
        match self.form() {
            LawForm::Chinchilla => (
                -self.alpha * self.a * n.powf(-self.alpha - 1.0),
                -self.beta * self.b * d.powf(-self.beta - 1.0),
            ),
            LawForm::Farseer(f) => f.gradient(n, d),
        }
    }

    /// The loss at size N with unlimited data (the limit of L(N, D) as D grows).
    pub fn data_limit_loss(&self, n: f64) -> f64 {
        match self.form() {
            LawForm::Chinchilla => self.e + self.a * n.powf(-self.alpha),
            LawForm::Farseer(f) => f.data_limit_loss(n),
        }
    }

    /// The tokens D' with L(N, D') = `target`, in closed form for both forms (the data term is a
    /// power law in D at fixed N); None when the target is at or below the loss with unlimited
    /// data at N.
    pub fn effective_tokens_for(&self, n: f64, target: f64) -> Option<f64> {
        let (room, coefficient, exponent) = match self.form() {
            LawForm::Chinchilla => (
                target - self.e - self.a * n.powf(-self.alpha),
                self.b,
                self.beta,
            ),
            LawForm::Farseer(f) => {
                let (k, w) = f.data_term(n);
                (target - f.data_limit_loss(n), k, w)
            }
        };
        if room.is_nan() || room <= 0.0 {
            return None;
        }
        Some((coefficient / room).powf(1.0 / exponent))
    }

    /// Loss with D replaced by the effective token count under a data limit (and N by the
    /// effective parameters N' when the law carries an excess-parameter constant).
    pub fn loss_limited(&self, n: f64, d: f64, data: Option<&DataLimit>) -> f64 {
        match data {
            Some(limit) => self.loss(self.effective_params(n, data), limit.effective_tokens(d)),
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
