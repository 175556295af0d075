//! Problem 1 (docs/design.md#training-allocation): the loss-optimal split of training compute C =
//! 6*N*D, and the least compute reaching a loss.

use super::scalar::{bisect_first, golden_min};
use super::Constraint;
use crate::cancel;
use crate::cost::TRAIN_FLOPS_PER_PARAM_TOKEN;
use crate::error::{check, PlanError, Result};
use crate::laws::{DataLimit, Extrapolated, LossLaw};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingPlan {
    /// N: parameters.
    pub params: f64,
    /// D: training tokens.
    pub tokens: f64,
    /// D' = D, or the repetition-discounted count under a data limit.
    pub effective_tokens: f64,
    pub loss: f64,
    /// C = 6*N*D.
    pub compute: f64,
    pub feasible: bool,
    pub binding: Constraint,
    /// Where (N, D', loss) lies outside the law's fitted range.
    pub extrapolated: Extrapolated,
}

impl TrainingPlan {
    /// No plan: every quantity is NaN (not applicable), never 0 (docs/planning.md).
    fn infeasible(binding: Constraint) -> Self {
        TrainingPlan {
            params: f64::NAN,
            tokens: f64::NAN,
            effective_tokens: f64::NAN,
            loss: f64::NAN,
            compute: f64::NAN,
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
    let loss = law.loss(n, effective);
    cancel::check()?;
    Ok(TrainingPlan {
        params: n,
        tokens: d,
        effective_tokens: effective,
        loss,
        compute,
        feasible: true,
        binding: Constraint::Budget,
        extrapolated: law.extrapolation(n, effective, loss),
    })
}

/// The least compute whose loss-optimal split reaches `target` loss; infeasible when the target
/// is at or below the law's floor E, or below what the unique data can ever reach
/// (E + B / (U (1 + R*))^beta).
pub fn plan_training_target(
    law: &LossLaw,
    target: f64,
    data: Option<&DataLimit>,
) -> Result<TrainingPlan> {
    check::positive("target_loss", target)?;
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
    if target <= law.e + law.b * limit.saturated_tokens().powf(-law.beta) {
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
