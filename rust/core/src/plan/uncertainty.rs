//! Plans under uncertainty (docs/uncertainty.md): a planner solved once per bootstrap sample of
//! a fitted law, in parallel over the samples (rayon), and the loss of one fixed plan under
//! every sample's law.
//!
//! Each sample's law is the point law with its five numbers (E, A, B, alpha, beta) replaced by
//! the sample's; everything else (name, fitted range, error law) is the point law's, so a
//! sample's plan is exactly what the planner returns for that law.

use rayon::prelude::*;

use crate::cancel;
use crate::error::{PlanError, Result};
use crate::laws::fit::MAX_BOOTSTRAP;
use crate::laws::LossLaw;

/// Most law samples one call plans for: the most bootstrap samples a fit keeps
/// (`laws::fit::MAX_BOOTSTRAP`).
pub const MAX_LAW_SAMPLES: usize = MAX_BOOTSTRAP;

/// Most plans (samples x goals) one call solves: bounds its memory (a row of about 30 floats per
/// plan, ~240 MB at the limit) and its work (docs/limits.md).
pub const MAX_SAMPLE_PLANS: usize = 1_000_000;

/// The field a bad sample is reported under.
pub const SAMPLES_FIELD: &str = "law_samples";

/// The point law with each row (E, A, B, alpha, beta) of `samples` in place of its numbers.
/// A sample that is not a valid law is an error about that row.
pub fn sample_laws(point: &LossLaw, samples: &[[f64; 5]]) -> Result<Vec<LossLaw>> {
    if samples.is_empty() {
        return Err(PlanError::invalid(
            SAMPLES_FIELD,
            "no samples: fit with bootstrap > 0 to plan under uncertainty",
        ));
    }
    if samples.len() > MAX_LAW_SAMPLES {
        return Err(PlanError::LimitExceeded {
            field: SAMPLES_FIELD.to_string(),
            limit: MAX_LAW_SAMPLES as u64,
            got: samples.len() as u64,
        });
    }
    samples
        .iter()
        .enumerate()
        .map(|(i, &[e, a, b, alpha, beta])| {
            let law = LossLaw {
                name: format!("{} (sample {i})", point.name),
                e,
                a,
                b,
                alpha,
                beta,
                ..point.clone()
            };
            law.validate().map_err(|err| {
                PlanError::invalid(SAMPLES_FIELD, format!("{}: {}", err.field(), err.reason()))
                    .at_index(i)
            })?;
            Ok(law)
        })
        .collect()
}

/// `plan(law, goal)` for every law and every goal index in `0..goals`, sample-major (the plan of
/// sample s and goal g at `s * goals + g`). Samples run in parallel on rayon's workers, each
/// with the calling thread's cancellation token current (so the planners' own polls see it);
/// a fired token stops the remaining samples and the call returns `PlanError::Cancelled`.
/// An error of one plan is located at its goal index (when there are several goals).
pub fn per_sample<T: Send>(
    laws: &[LossLaw],
    goals: usize,
    plan: impl Fn(&LossLaw, usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let total = laws.len().saturating_mul(goals);
    if total > MAX_SAMPLE_PLANS {
        return Err(PlanError::LimitExceeded {
            field: SAMPLES_FIELD.to_string(),
            limit: MAX_SAMPLE_PLANS as u64,
            got: total as u64,
        });
    }
    let token = cancel::current();
    let run = |law: &LossLaw| -> Result<Vec<T>> {
        (0..goals)
            .map(|g| {
                if cancel::fired() {
                    return Err(PlanError::Cancelled { deadline: false });
                }
                plan(law, g).map_err(|e| if goals > 1 { e.at_index(g) } else { e })
            })
            .collect()
    };
    let rows: Result<Vec<Vec<T>>> = laws
        .par_iter()
        .map(|law| match &token {
            Some(t) => cancel::scope(t, || run(law)),
            None => run(law),
        })
        .collect();
    // A fired token is reported as the token says (deadline or not), whatever stopped first.
    cancel::check()?;
    Ok(rows?.into_iter().flatten().collect())
}

/// The loss of a fixed plan (N, D') under every law, sample-major (`s * n + i` for plan i):
/// L_s(N_i, D'_i) = E_s + A_s / N_i^alpha_s + B_s / D'_i^beta_s. NaN where the plan has no
/// numbers (an infeasible plan).
pub fn losses_at(laws: &[LossLaw], params: &[f64], effective_tokens: &[f64]) -> Result<Vec<f64>> {
    if params.len() != effective_tokens.len() {
        return Err(PlanError::invalid(
            "effective_tokens",
            "params and effective_tokens differ in length",
        ));
    }
    let total = laws.len().saturating_mul(params.len());
    if total > MAX_SAMPLE_PLANS {
        return Err(PlanError::LimitExceeded {
            field: SAMPLES_FIELD.to_string(),
            limit: MAX_SAMPLE_PLANS as u64,
            got: total as u64,
        });
    }
    let mut out = Vec::with_capacity(total);
    for law in laws {
        if cancel::fired() {
            break;
        }
        out.extend(
            params
                .iter()
                .zip(effective_tokens)
                .map(|(&n, &d)| law.loss(n, d)),
        );
    }
    cancel::check()?;
    Ok(out)
}
