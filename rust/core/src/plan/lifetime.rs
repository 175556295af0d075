//! Problem 2 (docs/design.md#lifetime-allocation, Sardana & Frankle 2023): the model size and
//! token count that minimise training plus lifetime inference cost for a target loss, and the
//! dual, the best loss for a total budget. Inference is priced at 2N FLOPs per token, or with the
//! cost model (docs/design.md#inference) on a hardware, the shape of a model of size N given by
//! its family's fitted rule (docs/cost-model.md#families).

use super::scalar::{min_feasible, Edge, Min1};
use super::training::{plan_training_target, TrainingPlan};
use super::Constraint;
use crate::catalog::{Dtype, Hardware};
use crate::cost::{
    training_flops, training_params, training_tokens, Attention, FamilyShapes, InferenceOptions,
    InferenceQuery, Pricer, TrainingRate,
};
use crate::error::{check, PlanError, Result};
use crate::laws::{DataLimit, Extrapolated, LawForm, LossLaw};

/// Expected inference demand over the model's life.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Demand {
    pub queries: f64,
    pub prompt_tokens: f64,
    pub gen_tokens: f64,
    pub samples: f64,
}

impl Demand {
    pub fn validate(&self) -> Result<()> {
        check::non_negative("queries", self.queries)?;
        check::non_negative("prompt_tokens", self.prompt_tokens)?;
        check::positive("gen_tokens", self.gen_tokens)?;
        check::whole_at_least("samples", self.samples, 1.0)?;
        Ok(())
    }

    /// Tokens a query runs through the model: its prompt and every sample's generation.
    pub fn tokens_per_query(&self) -> f64 {
        self.prompt_tokens + self.samples * self.gen_tokens
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CostUnit {
    Flops,
    Eflops,
    GpuHours,
    Usd,
}

impl CostUnit {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "flops" => Ok(CostUnit::Flops),
            "eflops" => Ok(CostUnit::Eflops),
            "gpu_hours" => Ok(CostUnit::GpuHours),
            "usd" => Ok(CostUnit::Usd),
            _ => Err(PlanError::invalid(
                "unit",
                format!("unknown unit '{s}' (expected flops, eflops, gpu_hours or usd)"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            CostUnit::Flops => "flops",
            CostUnit::Eflops => "eflops",
            CostUnit::GpuHours => "gpu_hours",
            CostUnit::Usd => "usd",
        }
    }
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // built once per plan; boxing buys nothing
pub enum InferencePricing {
    /// 2N FLOPs per token processed, prompt and generated alike (Sardana & Frankle).
    TwoN,
    /// The cost model (docs/design.md#inference) on `hardware`, the model's shape at each N from
    /// `family` (docs/cost-model.md#families). The planner prices a largest-that-fits batch as a
    /// fleet average (`fractional_batch`).
    CostModel {
        family: FamilyShapes,
        hardware: Hardware,
        options: InferenceOptions,
        attention: Attention,
    },
}

#[derive(Debug, Clone)]
pub struct LifetimeOptions {
    pub pricing: InferencePricing,
    pub unit: CostUnit,
    /// Hardware that trains (GPU-hours and money); the serving hardware unless given.
    pub train_hardware: Option<Hardware>,
    pub train_mfu: Option<f64>,
    pub train_usd_per_hour: Option<f64>,
    pub infer_usd_per_hour: Option<f64>,
    pub data: Option<DataLimit>,
    pub min_params: Option<f64>,
    pub max_params: Option<f64>,
    /// Choose the GPUs per replica among [`TP_DEGREES`] (cost-model pricing); otherwise the
    /// serving options' `gpus` is used as given.
    pub auto_gpus: bool,
}

/// Tensor-parallel degrees the lifetime and joint planners choose among (docs/planning.md).
pub const TP_DEGREES: [f64; 4] = [1.0, 2.0, 4.0, 8.0];

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum LifetimeGoal {
    TargetLoss(f64),
    Budget(f64),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LifetimePlan {
    pub params: f64,
    pub tokens: f64,
    pub effective_tokens: f64,
    pub loss: f64,
    pub training_flops: f64,
    pub training_cost: f64,
    pub inference_cost_per_query: f64,
    pub inference_cost: f64,
    pub total_cost: f64,
    /// The training-only (Chinchilla) optimum reaching the same loss, priced the same way.
    pub chinchilla_params: f64,
    pub chinchilla_tokens: f64,
    /// NaN when the comparison does not apply: that model cannot be trained (data) or served
    /// (memory).
    pub chinchilla_total_cost: f64,
    /// GPUs per serving replica (1 with 2N pricing).
    pub gpus: f64,
    pub feasible: bool,
    pub binding: Constraint,
    /// Where (N, D', loss) lies outside the law's fitted range.
    pub extrapolated: Extrapolated,
}

impl LifetimePlan {
    /// No plan: every quantity is NaN (not applicable), never 0 (docs/planning.md).
    fn infeasible(binding: Constraint) -> Self {
        LifetimePlan {
            params: f64::NAN,
            tokens: f64::NAN,
            effective_tokens: f64::NAN,
            loss: f64::NAN,
            training_flops: f64::NAN,
            training_cost: f64::NAN,
            inference_cost_per_query: f64::NAN,
            inference_cost: f64::NAN,
            total_cost: f64::NAN,
            chinchilla_params: f64::NAN,
            chinchilla_tokens: f64::NAN,
            chinchilla_total_cost: f64::NAN,
            gpus: f64::NAN,
            feasible: false,
            binding,
            extrapolated: Extrapolated::none(),
        }
    }

    /// What the plan saves against the Chinchilla-optimal model of equal loss; NaN when that
    /// comparison does not apply.
    pub fn cost_saved(&self) -> f64 {
        self.chinchilla_total_cost - self.total_cost
    }
}

/// Smallest model searched unless `min_params` says otherwise: the loss laws are fitted far
/// above it, and without a floor a huge demand would be "served" by a model of a few parameters.
pub const DEFAULT_MIN_PARAMS: f64 = 1e6;

/// Grid points per interpolation segment before Brent refinement (`scalar::min_feasible`).
const GRID: usize = 24;
const LN_TOL: f64 = 1e-9;

/// Prices training and one query of inference at a model size, in one unit.
struct Coster<'a> {
    opt: &'a LifetimeOptions,
    demand: Demand,
    /// Unit per training FLOP.
    per_train_flop: f64,
    infer_scale: f64,
    query: InferenceQuery,
}

impl<'a> Coster<'a> {
    fn new(opt: &'a LifetimeOptions, demand: Demand) -> Result<Self> {
        let serving = match &opt.pricing {
            InferencePricing::TwoN => None,
            InferencePricing::CostModel { hardware, .. } => Some(hardware),
        };
        if serving.is_none() && opt.unit != CostUnit::Flops {
            return Err(PlanError::invalid(
                "unit",
                format!(
                    "'{}' needs inference priced on a hardware (the cost model), not 2N FLOPs",
                    opt.unit.name()
                ),
            ));
        }
        let train_hw = opt.train_hardware.as_ref().or(serving);
        // Training runs at the plan's compute dtype, like serving (docs/design.md#units).
        let dtype = match &opt.pricing {
            InferencePricing::CostModel { options, .. } => options.compute_dtype,
            InferencePricing::TwoN => Dtype::Bf16,
        };
        let gpu_hour_per_flop = || -> Result<f64> {
            let hw = train_hw
                .ok_or_else(|| PlanError::invalid("train_hardware", "is required for this unit"))?;
            Ok(TrainingRate::new(hw, dtype, opt.train_mfu, "train_mfu")?.gpu_hours_per_flop())
        };
        let price = |given: Option<f64>, hw: Option<&Hardware>, field: &str| -> Result<f64> {
            given
                .map(|p| check::positive(field, p))
                .or_else(|| hw.and_then(|h| h.usd_per_hour).map(Ok))
                .unwrap_or_else(|| {
                    Err(PlanError::invalid(
                        field,
                        "no price given and none in the catalog",
                    ))
                })
        };
        let (per_train_flop, infer_scale) = match opt.unit {
            CostUnit::Flops | CostUnit::Eflops => (1.0, 1.0),
            CostUnit::GpuHours => (gpu_hour_per_flop()?, 1.0 / 3600.0),
            CostUnit::Usd => (
                gpu_hour_per_flop()?
                    * price(opt.train_usd_per_hour, train_hw, "train_usd_per_hour")?,
                price(opt.infer_usd_per_hour, serving, "infer_usd_per_hour")? / 3600.0,
            ),
        };
        let attention = match &opt.pricing {
            InferencePricing::CostModel { attention, .. } => *attention,
            InferencePricing::TwoN => Attention::Dense,
        };
        let query = InferenceQuery {
            prompt_tokens: demand.prompt_tokens,
            gen_tokens: demand.gen_tokens,
            samples: demand.samples,
            attention,
        };
        query.validate()?;
        Ok(Coster {
            opt,
            demand,
            per_train_flop,
            infer_scale,
            query,
        })
    }

    fn training(&self, n: f64, d: f64) -> f64 {
        training_flops(n, d) * self.per_train_flop
    }

    /// One query at size n; infinite where the model does not fit the serving hardware.
    fn per_query(&self, n: f64) -> f64 {
        match &self.opt.pricing {
            InferencePricing::TwoN => 2.0 * n * self.demand.tokens_per_query(),
            InferencePricing::CostModel {
                family,
                hardware,
                options,
                ..
            } => {
                let options = &InferenceOptions {
                    fractional_batch: true,
                    ..*options
                };
                let Ok(pricer) = Pricer::for_shape(family.at(n), hardware, options) else {
                    return f64::INFINITY;
                };
                match pricer.price(&self.query) {
                    Ok(c) if c.feasible => match self.opt.unit {
                        CostUnit::Flops => c.flops,
                        CostUnit::Eflops => c.eflops,
                        CostUnit::GpuHours | CostUnit::Usd => c.gpu_seconds * self.infer_scale,
                    },
                    _ => f64::INFINITY,
                }
            }
        }
    }

    fn fits(&self, n: f64) -> bool {
        self.per_query(n).is_finite()
    }

    /// Whether a query's prompt and generation overflow the family's context (at every size).
    fn overflows_context(&self) -> bool {
        match &self.opt.pricing {
            InferencePricing::TwoN => false,
            InferencePricing::CostModel { family, .. } => {
                self.demand.prompt_tokens + self.demand.gen_tokens
                    > family.at(DEFAULT_MIN_PARAMS).max_context
            }
        }
    }

    fn lifetime_inference(&self, n: f64) -> f64 {
        if self.demand.queries == 0.0 {
            0.0
        } else {
            self.demand.queries * self.per_query(n)
        }
    }

    /// ln N intervals on which every priced quantity is one power law of N.
    fn segments(&self, lo: f64, hi: f64) -> Vec<(f64, f64)> {
        let mut cuts = vec![lo];
        if let InferencePricing::CostModel { family, .. } = &self.opt.pricing {
            cuts.extend(
                family
                    .breakpoints()
                    .into_iter()
                    .map(f64::ln)
                    .filter(|&c| c > lo && c < hi),
            );
        }
        cuts.push(hi);
        cuts.windows(2).map(|w| (w[0], w[1])).collect()
    }

    /// Minimum over [lo, hi] (ln N), each segment searched with its walls located
    /// (docs/solvers.md); `edge` is a bound only at `lo` or `hi` themselves.
    fn minimise(&self, f: &impl Fn(f64) -> f64, lo: f64, hi: f64) -> Min1 {
        self.segments(lo, hi)
            .into_iter()
            .map(|(a, b)| {
                let m = min_feasible(f, a, b, GRID, LN_TOL * b.abs().max(1.0));
                let edge = match m.edge {
                    Edge::LowerBound if a > lo => Edge::Interior,
                    Edge::UpperBound if b < hi => Edge::Interior,
                    e => e,
                };
                Min1 { edge, ..m }
            })
            .fold(
                Min1::none(lo),
                |best, c| if c.f < best.f { c } else { best },
            )
    }
}

/// Where the size range of a search comes from, to name the bound that stops a plan.
#[derive(Debug, Clone, Copy)]
struct SizeRange {
    lo: f64,
    hi: f64,
    /// `lo`/`hi` is the user's min_params/max_params (else a default).
    lo_user: bool,
    hi_user: bool,
    /// `hi` is the law's largest validated model (a law without a loss floor).
    hi_domain: bool,
}

impl SizeRange {
    fn binding(&self, m: &Min1, coster: &Coster, otherwise: Constraint) -> Constraint {
        let step = LN_TOL.sqrt();
        match m.edge {
            Edge::Interior => otherwise,
            Edge::LowerBound if self.lo_user => Constraint::MinParams,
            Edge::LowerBound => Constraint::MinParamsDefault,
            Edge::UpperBound if self.hi_domain => Constraint::LawDomain,
            Edge::UpperBound if self.hi_user => Constraint::MaxParams,
            Edge::UpperBound => Constraint::MaxParamsDefault,
            // Serving memory is the only wall that stops a larger model; others (the target or
            // the budget becoming unreachable) make the objective infinite as it is approached.
            Edge::UpperWall if !coster.fits((m.x + step).exp()) => Constraint::Memory,
            Edge::LowerWall | Edge::UpperWall => otherwise,
        }
    }
}

/// D for loss `target` at size N (inverting D' under a data limit); None when unreachable.
fn tokens_for(law: &LossLaw, n: f64, target: f64, data: Option<&DataLimit>) -> Option<(f64, f64)> {
    let effective = law.effective_tokens_for(law.effective_params(n, data), target)?;
    match data {
        None => Some((effective, effective)),
        Some(l) => Some((l.tokens_for_effective(effective)?, effective)),
    }
}

pub fn plan_lifetime(
    law: &LossLaw,
    goal: LifetimeGoal,
    demand: Demand,
    opt: &LifetimeOptions,
) -> Result<LifetimePlan> {
    let InferencePricing::CostModel { options, .. } = &opt.pricing else {
        return plan_lifetime_at(law, goal, demand, opt);
    };
    // The degree is a cost only in GPU-hours or money: in FLOPs or eFLOPs more GPUs would be
    // free, so the degree given (default 1) is used (docs/cost-model.md).
    if !opt.auto_gpus || !matches!(opt.unit, CostUnit::GpuHours | CostUnit::Usd) {
        return plan_lifetime_at(law, goal, demand, opt);
    }
    // Each degree priced honestly (its GPUs and its all-reduces); the best plan wins, ties to
    // fewer GPUs. Memory binds only when the largest degree cannot hold the model.
    let mut best: Option<LifetimePlan> = None;
    for gpus in TP_DEGREES {
        let mut at = opt.clone();
        if let InferencePricing::CostModel { options: o, .. } = &mut at.pricing {
            *o = InferenceOptions { gpus, ..*options };
        }
        let plan = plan_lifetime_at(law, goal, demand, &at)?;
        // No plan: no degree applies (NaN, docs/planning.md).
        let plan = LifetimePlan {
            gpus: if plan.feasible { gpus } else { f64::NAN },
            ..plan
        };
        let better = |b: &LifetimePlan| match goal {
            LifetimeGoal::TargetLoss(_) => plan.total_cost < b.total_cost * (1.0 - 1e-12),
            LifetimeGoal::Budget(_) => plan.loss < b.loss - 1e-12 * b.loss.abs(),
        };
        // Infeasible at every degree: the largest degree's answer says why.
        let replace = match &best {
            None => true,
            Some(b) if !b.feasible => true,
            Some(b) => plan.feasible && better(b),
        };
        if replace {
            best = Some(plan);
        }
    }
    let mut plan = best.expect("at least one degree");
    let largest = TP_DEGREES[TP_DEGREES.len() - 1];
    if plan.feasible && plan.binding == Constraint::Memory && plan.gpus < largest {
        // A larger degree could hold a larger model; it is the goal, not memory, that stops.
        plan.binding = match goal {
            LifetimeGoal::TargetLoss(_) => Constraint::TargetLoss,
            LifetimeGoal::Budget(_) => Constraint::Budget,
        };
    }
    Ok(plan)
}

/// The plan at the serving options' own GPUs per replica.
fn plan_lifetime_at(
    law: &LossLaw,
    goal: LifetimeGoal,
    demand: Demand,
    opt: &LifetimeOptions,
) -> Result<LifetimePlan> {
    demand.validate()?;
    crate::cancel::check()?;
    let coster = Coster::new(opt, demand)?;
    let data = opt.data.as_ref();
    let bound = |v: Option<f64>, field: &str| {
        v.map(|x| check::positive(field, x).map(f64::ln))
            .transpose()
    };
    let (min_x, max_x) = (
        bound(opt.min_params, "min_params")?,
        bound(opt.max_params, "max_params")?,
    );
    if let (Some(a), Some(b)) = (min_x, max_x) {
        if a > b {
            return Err(PlanError::invalid(
                "max_params",
                "must be at least min_params",
            ));
        }
    }

    if demand.queries > 0.0 && coster.overflows_context() {
        return Ok(LifetimePlan::infeasible(Constraint::Context));
    }
    let (x, binding) = match goal {
        LifetimeGoal::TargetLoss(target) => {
            check::positive("target_loss", target)?;
            if let Some(domain) = law.domain_params_max() {
                let range = domain_range(law, domain, min_x, max_x)?;
                // No loss floor, so no closed-form smallest size: every size in the domain is
                // tried, and one that cannot reach the target has an infinite cost.
                let reaches = |with: Option<&DataLimit>| {
                    (0..=GRID).any(|i| {
                        let x = range.lo + (range.hi - range.lo) * i as f64 / GRID as f64;
                        tokens_for(law, x.exp(), target, with).is_some()
                    })
                };
                if !reaches(data) {
                    return Ok(LifetimePlan::infeasible(
                        if data.is_some() && reaches(None) {
                            Constraint::UniqueData
                        } else if range.hi_domain {
                            Constraint::LawDomain
                        } else {
                            Constraint::MaxParams
                        },
                    ));
                }
                let total = |x: f64| {
                    let n = x.exp();
                    match tokens_for(law, n, target, data) {
                        Some((d, _)) => coster.training(n, d) + coster.lifetime_inference(n),
                        None => f64::INFINITY,
                    }
                };
                let m = coster.minimise(&total, range.lo, range.hi);
                if !m.feasible() {
                    return Ok(LifetimePlan::infeasible(Constraint::Memory));
                }
                (m.x, range.binding(&m, &coster, Constraint::TargetLoss))
            } else {
                if target <= law.e {
                    return Ok(LifetimePlan::infeasible(Constraint::LossFloor));
                }
                let floor = data.map_or(0.0, |l| law.b * l.saturated_tokens().powf(-law.beta));
                if target <= law.e + floor {
                    return Ok(LifetimePlan::infeasible(Constraint::UniqueData));
                }
                // Below N_min no token count reaches the target.
                let mut n_min_x = (law.a / (target - law.e - floor)).ln() / law.alpha;
                if law.repetition.is_some() {
                    // That is the N' needed; excess parameters are discounted, so N is larger,
                    // and none may be enough (N' saturates).
                    match law.params_for_effective(n_min_x.exp(), data) {
                        Some(n) => n_min_x = n.ln(),
                        None => return Ok(LifetimePlan::infeasible(Constraint::UniqueData)),
                    }
                }
                let range = SizeRange {
                    lo: min_x.unwrap_or(DEFAULT_MIN_PARAMS.ln()).max(n_min_x),
                    // A default ceiling never undercuts the user's floor.
                    hi: max_x.unwrap_or((n_min_x + 25.0).max(min_x.unwrap_or(f64::NEG_INFINITY))),
                    lo_user: min_x.is_some_and(|m| m >= n_min_x),
                    hi_user: max_x.is_some(),
                    hi_domain: false,
                };
                if range.lo > range.hi {
                    return Ok(LifetimePlan::infeasible(Constraint::MaxParams));
                }
                let total = |x: f64| {
                    let n = x.exp();
                    match tokens_for(law, n, target, data) {
                        Some((d, _)) => coster.training(n, d) + coster.lifetime_inference(n),
                        None => f64::INFINITY,
                    }
                };
                let m = coster.minimise(&total, range.lo, range.hi);
                if !m.feasible() {
                    return Ok(LifetimePlan::infeasible(Constraint::Memory));
                }
                (m.x, range.binding(&m, &coster, Constraint::TargetLoss))
            }
        }
        LifetimeGoal::Budget(budget) => {
            check::positive("budget", budget)?;
            super::joint::check_training_flops(budget, coster.per_train_flop)?;
            let range = match law.domain_params_max() {
                Some(domain) => domain_range(law, domain, min_x, max_x)?,
                None => {
                    // Centre the search on the training-only optimum for the whole budget.
                    let (n_ch, _) = law.chinchilla_optimum(budget / coster.per_train_flop);
                    // Under a data limit the best use of a large budget is a larger model on a
                    // few epochs of the unique data: the ceiling also covers the size that
                    // spends the whole budget on one epoch.
                    let one_epoch = data.map_or(f64::NEG_INFINITY, |l| {
                        training_params(l.unique_tokens, budget / coster.per_train_flop).ln()
                    });
                    let centre = n_ch.ln().max(one_epoch);
                    SizeRange {
                        lo: min_x.unwrap_or(DEFAULT_MIN_PARAMS.ln().max(n_ch.ln() - 20.0)),
                        hi: max_x.unwrap_or((centre + 3.0).max(min_x.unwrap_or(f64::NEG_INFINITY))),
                        lo_user: min_x.is_some(),
                        hi_user: max_x.is_some(),
                        hi_domain: false,
                    }
                }
            };
            let loss_at = |x: f64| {
                let n = x.exp();
                let left = budget - coster.lifetime_inference(n);
                if left <= 0.0 {
                    return f64::INFINITY;
                }
                let d = training_tokens(n, left / coster.per_train_flop);
                law.loss_limited(n, d, data)
            };
            let m = coster.minimise(&loss_at, range.lo, range.hi);
            if !m.feasible() {
                let memory = !coster.fits(range.lo.exp());
                return Ok(LifetimePlan::infeasible(if memory {
                    Constraint::Memory
                } else {
                    Constraint::InferenceExceedsBudget
                }));
            }
            (m.x, range.binding(&m, &coster, Constraint::Budget))
        }
    };

    let n = x.exp();
    let inference_cost = coster.lifetime_inference(n);
    let (d, effective) = match goal {
        LifetimeGoal::TargetLoss(target) => {
            tokens_for(law, n, target, data).expect("optimum is reachable")
        }
        LifetimeGoal::Budget(budget) => {
            let d = training_tokens(n, (budget - inference_cost) / coster.per_train_flop);
            (d, data.map_or(d, |l| l.effective_tokens(d)))
        }
    };
    let loss = law.loss(law.effective_params(n, data), effective);
    let training_cost = coster.training(n, d);
    crate::cancel::check()?;
    let chinchilla = match (
        law.form(),
        plan_training_target(law, loss * (1.0 + 1e-12), data),
    ) {
        (_, Ok(plan)) => plan,
        (LawForm::Chinchilla, Err(e)) => return Err(e),
        (_, Err(e @ PlanError::Cancelled { .. })) => return Err(e),
        // A law planned numerically has no training-only optimum outside its domain: nothing
        // to compare with (NaN).
        (LawForm::Farseer(_), Err(_)) => TrainingPlan::infeasible(Constraint::LawDomain),
    };
    // Not applicable (NaN) when the Chinchilla model cannot reach the loss or cannot be served
    // (an infinite cost): there is nothing to compare with.
    let (chinchilla_total_cost, ch_n, ch_d) = if chinchilla.feasible {
        let n = chinchilla.params;
        let cost = coster.training(n, chinchilla.tokens) + coster.lifetime_inference(n);
        (
            if cost.is_finite() { cost } else { f64::NAN },
            n,
            chinchilla.tokens,
        )
    } else {
        (f64::NAN, f64::NAN, f64::NAN)
    };
    Ok(LifetimePlan {
        params: n,
        tokens: d,
        effective_tokens: effective,
        loss,
        training_flops: training_flops(n, d),
        training_cost,
        // With no queries the model need not fit a replica: a per-query cost it cannot have
        // (the cost model's infinity) is not applicable (NaN). At 2N FLOPs per token every size
        // has a cost; one past f64's range stays infinite (an overflow, not "not applicable").
        inference_cost_per_query: match opt.pricing {
            InferencePricing::TwoN => coster.per_query(n),
            InferencePricing::CostModel { .. } => Some(coster.per_query(n))
                .filter(|c| c.is_finite())
                .unwrap_or(f64::NAN),
        },
        inference_cost,
        total_cost: training_cost + inference_cost,
        chinchilla_params: ch_n,
        chinchilla_tokens: ch_d,
        chinchilla_total_cost,
        gpus: match &opt.pricing {
            InferencePricing::CostModel { options, .. } => options.gpus,
            InferencePricing::TwoN => 1.0,
        },
        feasible: true,
        binding,
        extrapolated: law.extrapolation(n, effective, loss),
    })
}

/// The sizes searched for a law without a loss floor: the user's bounds clipped to the law's
/// domain (its fitted `params_min`, else `DEFAULT_MIN_PARAMS`, up to its largest validated
/// model `domain`); a user bound past the domain is clipped, and the domain then binds.
fn domain_range(
    law: &LossLaw,
    domain: f64,
    min_x: Option<f64>,
    max_x: Option<f64>,
) -> Result<SizeRange> {
    let floor = law
        .fitted
        .and_then(|f| f.params_min)
        .unwrap_or(DEFAULT_MIN_PARAMS)
        .ln();
    let ceiling = domain.ln();
    let lo = min_x.map_or(floor, |m| m.max(floor));
    let hi = max_x.map_or(ceiling, |m| m.min(ceiling));
    if lo > hi {
        return Err(PlanError::invalid(
            if min_x.is_some_and(|m| m > ceiling) {
                "min_params"
            } else {
                "max_params"
            },
            format!(
                "is outside the domain of law '{}': it is planned only on {:e} to {domain:e} \
                 parameters (docs/planning.md, \"Loss-law forms\")",
                law.name,
                floor.exp()
            ),
        ));
    }
    Ok(SizeRange {
        lo,
        hi,
        lo_user: min_x.is_some_and(|m| m >= floor),
        hi_user: max_x.is_some_and(|m| m <= ceiling),
        hi_domain: max_x.is_none_or(|m| m > ceiling),
    })
}
