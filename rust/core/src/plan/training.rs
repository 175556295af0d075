//! Problem 1 (docs/design.md#training-allocation): the loss-optimal split of training compute C =
//! 6*N*D, and the least compute reaching a loss.

use super::lifetime::DEFAULT_MIN_PARAMS;
use super::scalar::{bisect_first, brent_min, golden_min};
use super::Constraint;
use crate::cancel;
use crate::cost::TRAIN_FLOPS_PER_PARAM_TOKEN;
use crate::error::{check, PlanError, Result};
use crate::laws::progress::AlgorithmicProgress;
use crate::laws::{DataLimit, Extrapolated, LawForm, LossLaw};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingPlan {
    /// N: parameters.
    pub params: f64,
    /// D: training tokens.
    pub tokens: f64,
    /// D' = D, or the repetition-discounted count under a data limit.
    pub effective_tokens: f64,
    pub loss: f64,
    /// Physical compute: the budget, or the least compute reaching the target. C = 6*N*D when
    /// the run starts now; with a start offset, compute * compute_multiplier = 6*N*D.
    pub compute: f64,
    /// 6*N*D: the compute today's law plans with, compute * compute_multiplier.
    pub effective_compute: f64,
    /// 2^(months / T) at the central halving time T (1 when the run starts now).
    pub compute_multiplier: f64,
    /// The multiplier at the halving-time interval's slow and fast ends.
    pub compute_multiplier_slow: f64,
    pub compute_multiplier_fast: f64,
    /// The plan at each end of the interval: physical compute (the budget for a budget goal)
    /// and loss (the target for a target goal).
    pub compute_slow: f64,
    pub compute_fast: f64,
    pub loss_slow: f64,
    pub loss_fast: f64,
    pub feasible: bool,
    pub binding: Constraint,
    /// Where (N, D', loss) lies outside the law's fitted range.
    pub extrapolated: Extrapolated,
}

impl TrainingPlan {
    /// No plan: every quantity is NaN (not applicable), never 0 (docs/planning.md).
    pub(crate) fn infeasible(binding: Constraint) -> Self {
        TrainingPlan {
            params: f64::NAN,
            tokens: f64::NAN,
            effective_tokens: f64::NAN,
            loss: f64::NAN,
            compute: f64::NAN,
            effective_compute: f64::NAN,
            compute_multiplier: 1.0,
            compute_multiplier_slow: 1.0,
            compute_multiplier_fast: 1.0,
            compute_slow: f64::NAN,
            compute_fast: f64::NAN,
            loss_slow: f64::NAN,
            loss_fast: f64::NAN,
            feasible: false,
            binding,
            extrapolated: Extrapolated::none(),
        }
    }

    /// D / N; NaN for an infeasible plan.
    pub fn tokens_per_param(&self) -> f64 {
        self.tokens / self.params
    }
}

/// Relative tolerance on ln N of the numeric solves (the loss is flat at the optimum, so the
/// loss itself is exact to ~1e-20 relative).
const LN_TOL: f64 = 1e-10;

/// Minimise L(N, D) subject to 6*N*D = C.
///
/// Without a data limit this is the closed form N* = G (C/6)^(beta/(alpha+beta)). With one,
/// the objective in x = ln N is A e^(-alpha x) + B D'(C/6 e^(-x))^(-beta): the first term is
/// convex; ln D' is concave in ln D (its elasticity D D'(D)' / D' falls from 1), so
/// -beta ln D' is convex in x and so is its exponential. A convex function is unimodal, so
/// golden-section search is exact to its tolerance.
pub fn plan_training_budget(
    law: &LossLaw,
    compute: f64,
    data: Option<&DataLimit>,
) -> Result<TrainingPlan> {
    check::positive("budget_flops", compute)?;
    cancel::check()?;
    if let LawForm::Farseer(_) = law.form() {
        return plan_numeric_budget(law, compute, data);
    }
    let (n, d) = law.chinchilla_optimum(compute);
    let (n, d) = match data {
        Some(limit) if d > limit.unique_tokens => {
            let half = compute / TRAIN_FLOPS_PER_PARAM_TOKEN;
            let objective = |x: f64| {
                let n = x.exp();
                law.loss_limited(n, half / n, Some(limit))
            };
            // N in [1, C/6] (at least one parameter and one token).
            let (x, _) = golden_min(&objective, 0.0, half.ln(), LN_TOL * half.ln().max(1.0));
            let n = x.exp();
            (n, half / n)
        }
        _ => (n, d),
    };
    let effective = data.map_or(d, |l| l.effective_tokens(d));
    let loss = law.loss(law.effective_params(n, data), effective);
    cancel::check()?;
    Ok(TrainingPlan {
        params: n,
        tokens: d,
        effective_tokens: effective,
        loss,
        compute,
        effective_compute: compute,
        compute_multiplier: 1.0,
        compute_multiplier_slow: 1.0,
        compute_multiplier_fast: 1.0,
        compute_slow: compute,
        compute_fast: compute,
        loss_slow: loss,
        loss_fast: loss,
        feasible: true,
        binding: Constraint::Budget,
        extrapolated: law.extrapolation(n, effective, loss),
    })
}

/// The least compute whose loss-optimal split reaches `target` loss; infeasible when the target
/// is at or below the law's floor E, or below what the unique data can ever reach
/// (E + B / (U (1 + R*))^beta, plus A / (U_N (1 + R*_N))^alpha when the law discounts excess
/// parameters: `LossLaw::data_limited_floor`).
pub fn plan_training_target(
    law: &LossLaw,
    target: f64,
    data: Option<&DataLimit>,
) -> Result<TrainingPlan> {
    check::positive("target_loss", target)?;
    if let LawForm::Farseer(_) = law.form() {
        return plan_numeric_target(law, target, data);
    }
    if target <= law.e {
        return Ok(TrainingPlan::infeasible(Constraint::LossFloor));
    }
    let unlimited = law.chinchilla_compute_for(target);
    // A target so far above the law's range that its compute underflows to 0 (or, just above
    // E, overflows): no plan in floating point, and ln 0 would make the searches below unbounded.
    if !(unlimited.is_finite() && unlimited > 0.0) {
        return Err(PlanError::invalid(
            "target_loss",
            format!(
                "{target:e} is out of the law's range: the least compute reaching it is \
                 {unlimited:e} FLOPs, not a finite positive number"
            ),
        ));
    }
    let Some(limit) = data else {
        return plan_training_budget(law, unlimited, None).map(|p| TrainingPlan {
            binding: Constraint::TargetLoss,
            ..p
        });
    };
    if target <= law.data_limited_floor(limit) {
        return Ok(TrainingPlan::infeasible(Constraint::UniqueData));
    }
    let at = |log_c: f64| plan_training_budget(law, log_c.exp(), Some(limit));
    let reaches = |log_c: f64| at(log_c).is_ok_and(|p| p.loss <= target);
    // A data limit only makes a loss dearer: search upward from the unlimited compute.
    let lo = unlimited.ln();
    let mut hi = lo + 1.0;
    // Doubling steps from a finite lo pass ln(f64::MAX) ~ 709.8 within a dozen steps.
    while !reaches(hi) {
        cancel::check()?;
        hi += (hi - lo).max(1.0);
        if hi.is_nan() || hi > 1e3 {
            return Ok(TrainingPlan::infeasible(Constraint::UniqueData));
        }
    }
    let log_c = bisect_first(&reaches, lo, hi, 1e-13 * hi.abs().max(lo.abs()).max(1.0));
    at(log_c).map(|p| TrainingPlan {
        binding: Constraint::TargetLoss,
        ..p
    })
}

/// Grid points over ln N of the numeric compute-optimal search before refinement.
const NUMERIC_GRID: usize = 128;

/// The model sizes a law without a closed form is planned on: from its fitted `params_min` (or
/// the lifetime planner's default floor, `DEFAULT_MIN_PARAMS`) to its largest validated model,
/// and at most C/6 (one token).
fn numeric_domain(law: &LossLaw, compute: f64) -> (f64, f64) {
    let lo = law
        .fitted
        .and_then(|f| f.params_min)
        .unwrap_or(DEFAULT_MIN_PARAMS);
    let hi = law
        .domain_params_max()
        .unwrap_or(f64::INFINITY)
        .min(compute / TRAIN_FLOPS_PER_PARAM_TOKEN);
    (lo, hi)
}

/// Minimise L(N, C/(6N)) over ln N inside the law's domain, for a form without a closed form
/// (docs/planning.md, "Loss-law forms"). Such a law need not be unimodal along the budget line
/// (Farseer's tends to 0 as N grows past its domain), so a grid over the whole domain picks the
/// basin, and the root of the analytic derivative dL/dln N = N dL/dN - D dL/dD' dD'/dD is then
/// bisected in the grid cell around it. A minimum on the domain's edge is no optimum: the budget
/// is outside the law's domain, an error naming the budget and the domain.
fn plan_numeric_budget(
    law: &LossLaw,
    compute: f64,
    data: Option<&DataLimit>,
) -> Result<TrainingPlan> {
    let half = compute / TRAIN_FLOPS_PER_PARAM_TOKEN;
    let (lo_n, hi_n) = numeric_domain(law, compute);
    let outside = |why: String| {
        PlanError::invalid(
            "budget_flops",
            format!(
                "{compute:e} FLOPs is outside the domain of law '{}': {why} (the law has no \
                 loss floor and is planned only on model sizes {lo_n:e} to {:e} parameters, \
                 its largest validated model; docs/planning.md, \"Loss-law forms\")",
                law.name,
                law.domain_params_max().unwrap_or(f64::INFINITY),
            ),
        )
    };
    if lo_n >= hi_n || hi_n.is_nan() {
        return Err(outside(format!(
            "it trains at most {hi_n:e} parameters on one token, below the smallest size"
        )));
    }
    let loss_at = |x: f64| {
        let n = x.exp();
        law.loss_limited(n, half / n, data)
    };
    let slope = |x: f64| {
        let n = x.exp();
        let d = half / n;
        let effective = data.map_or(d, |l| l.effective_tokens(d));
        let (dn, dd) = law.gradient(n, effective);
        n * dn - d * dd * data.map_or(1.0, |l| l.effective_tokens_slope(d))
    };
    let (lo, hi) = (lo_n.ln(), hi_n.ln());
    let step = (hi - lo) / NUMERIC_GRID as f64;
    let grid = |i: usize| lo + step * i as f64;
    let mut best = (0, f64::INFINITY);
    for i in 0..=NUMERIC_GRID {
        let f = loss_at(grid(i));
        if f < best.1 {
            best = (i, f);
        }
    }
    cancel::check()?;
    let i = best.0;
    // The cell holding the minimum; at an end of the grid only if the slope points inward.
    let (a, b) = match i {
        0 if slope(lo) < 0.0 => (lo, grid(1)),
        0 => {
            return Err(outside(format!(
                "the loss falls towards the smallest size searched, {lo_n:e} parameters"
            )))
        }
        i if i == NUMERIC_GRID && slope(hi) > 0.0 => (grid(i - 1), hi),
        i if i == NUMERIC_GRID => {
            return Err(outside(format!(
                "the loss still falls at the largest size, {hi_n:e} parameters"
            )))
        }
        i => (grid(i - 1), grid(i + 1)),
    };
    let tol = LN_TOL * hi.abs().max(1.0);
    let x = if slope(a) < 0.0 && slope(b) > 0.0 {
        bisect_first(&|x| slope(x) >= 0.0, a, b, tol)
    } else {
        brent_min(&loss_at, a, b, tol).0
    };
    cancel::check()?;
    let n = x.exp();
    let d = half / n;
    let effective = data.map_or(d, |l| l.effective_tokens(d));
    let loss = law.loss(n, effective);
    Ok(TrainingPlan {
        params: n,
        tokens: d,
        effective_tokens: effective,
        loss,
        compute,
        effective_compute: compute,
        compute_multiplier: 1.0,
        compute_multiplier_slow: 1.0,
        compute_multiplier_fast: 1.0,
        compute_slow: compute,
        compute_fast: compute,
        loss_slow: loss,
        loss_fast: loss,
        feasible: true,
        binding: Constraint::Budget,
        extrapolated: law.extrapolation(n, effective, loss),
    })
}

/// Budgets the numeric target search scans: 1e10 to 1e32 FLOPs in steps of 1/20 decade.
const SCAN_LOG10: (f64, f64, usize) = (10.0, 32.0, 440);

/// The least compute whose numeric optimum reaches `target`, for a form without a closed form.
/// The optimum's loss L*(C) falls as C grows wherever the budget is inside the law's domain;
/// the budgets are scanned upward and the first that reaches the target bisected. A target no
/// in-domain budget reaches is an error naming `target_loss` and the domain (or, under a data
/// limit that alone makes it unreachable, an infeasible plan bound by `unique_data`).
fn plan_numeric_target(
    law: &LossLaw,
    target: f64,
    data: Option<&DataLimit>,
) -> Result<TrainingPlan> {
    let at = |log_c: f64| plan_training_budget(law, log_c.exp(), data);
    let reaches = |log_c: f64| at(log_c).is_ok_and(|p| p.loss <= target);
    let (first, last, steps) = SCAN_LOG10;
    let ln10 = std::f64::consts::LN_10;
    let mut previous: Option<(f64, bool)> = None;
    let mut lowest = f64::INFINITY;
    for k in 0..=steps {
        cancel::check()?;
        let x = (first + (last - first) * k as f64 / steps as f64) * ln10;
        match at(x) {
            Ok(p) if p.loss <= target => {
                let (lo, inside) = previous.unwrap_or((x, false));
                let log_c = bisect_first(&reaches, lo, x, 1e-13 * x.abs());
                let plan = at(log_c)?;
                if !inside && plan.loss < target * (1.0 - 1e-9) {
                    return Err(PlanError::invalid(
                        "target_loss",
                        format!(
                            "{target} {} is above every loss law '{}' plans inside its domain: \
                             its smallest in-domain budget, {:e} FLOPs, already reaches {} \
                             (docs/planning.md, \"Loss-law forms\")",
                            law.units.name(),
                            law.name,
                            plan.compute,
                            plan.loss
                        ),
                    ));
                }
                return Ok(TrainingPlan {
                    binding: Constraint::TargetLoss,
                    ..plan
                });
            }
            Ok(p) => {
                lowest = lowest.min(p.loss);
                previous = Some((x, true));
            }
            Err(e @ PlanError::Cancelled { .. }) => return Err(e),
            Err(_) => previous = Some((x, false)),
        }
    }
    if data.is_some() && plan_numeric_target(law, target, None).is_ok() {
        return Ok(TrainingPlan::infeasible(Constraint::UniqueData));
    }
    Err(PlanError::invalid(
        "target_loss",
        format!(
            "{target} {} is below every loss law '{}' plans inside its domain (the lowest is \
             {lowest}, near its largest validated model, {:e} parameters; the law has no loss \
             floor and is not planned beyond it; docs/planning.md, \"Loss-law forms\")",
            law.units.name(),
            law.name,
            law.domain_params_max().unwrap_or(f64::INFINITY)
        ),
    ))
}

/// The training plan of a run that starts `months` from now, when algorithmic progress
/// (`progress`) has made each FLOP worth 2^(months / T) of today's (docs/planning.md, "Training
/// later: algorithmic progress"): the plan today's law gives at `compute` times that multiplier,
/// with the physical compute unchanged, and the same at the halving-time interval's ends. At
/// `months` = 0 it is [`plan_training_budget`] exactly.
pub fn plan_training_budget_at(
    law: &LossLaw,
    compute: f64,
    data: Option<&DataLimit>,
    progress: &AlgorithmicProgress,
    months: f64,
) -> Result<TrainingPlan> {
    check::positive("budget_flops", compute)?;
    let m = progress.multipliers(months)?;
    let at = |k: f64| {
        let effective = compute * k;
        if !effective.is_finite() {
            return Err(PlanError::invalid(
                "budget_flops",
                format!(
                    "{compute:e} FLOPs times the algorithmic-progress multiplier {k:e} is not a \
                     finite number"
                ),
            ));
        }
        plan_training_budget(law, effective, data)
    };
    let mid = at(m.mid)?;
    let (slow, fast) = if months == 0.0 {
        (mid, mid)
    } else {
        (at(m.slow)?, at(m.fast)?)
    };
    Ok(TrainingPlan {
        compute,
        effective_compute: mid.compute,
        compute_multiplier: m.mid,
        compute_multiplier_slow: m.slow,
        compute_multiplier_fast: m.fast,
        compute_slow: compute,
        compute_fast: compute,
        loss_slow: slow.loss,
        loss_fast: fast.loss,
        ..mid
    })
}

/// The least physical compute reaching `target` loss for a run that starts `months` from now:
/// today's least compute divided by the multiplier 2^(months / T), and the same at the
/// halving-time interval's ends ([`plan_training_budget_at`]). At `months` = 0 it is
/// [`plan_training_target`] exactly.
pub fn plan_training_target_at(
    law: &LossLaw,
    target: f64,
    data: Option<&DataLimit>,
    progress: &AlgorithmicProgress,
    months: f64,
) -> Result<TrainingPlan> {
    let m = progress.multipliers(months)?;
    let today = plan_training_target(law, target, data)?;
    Ok(TrainingPlan {
        compute: today.compute / m.mid,
        effective_compute: today.compute,
        compute_multiplier: m.mid,
        compute_multiplier_slow: m.slow,
        compute_multiplier_fast: m.fast,
        compute_slow: today.compute / m.slow,
        compute_fast: today.compute / m.fast,
        loss_slow: today.loss,
        loss_fast: today.loss,
        ..today
    })
}
