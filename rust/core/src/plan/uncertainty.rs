//! Plans under uncertainty (docs/uncertainty.md): a planner solved once per bootstrap sample of
//! a fitted law, in parallel over the samples (rayon), and the loss of one fixed plan under
//! every sample's law.
//!
//! Each sample's law is the point law with its five numbers (E, A, B, alpha, beta) replaced by
//! the sample's; everything else (name, fitted range, error law) is the point law's, so a
//! sample's plan is exactly what the planner returns for that law.

use rayon::prelude::*;

use crate::cancel;
use crate::catalog::Hardware;
use crate::cost::{InferenceQuery, Pricer};
use crate::error::{PlanError, Result};
use crate::laws::fit::MAX_BOOTSTRAP;
use crate::laws::{DataLimit, LossLaw, Repetition};
use crate::plan::testtime::{Candidate, Solution, TestTimeOptions, TestTimeSolver};
use crate::testtime::{Curve, FittedCurve};

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
    let rows: Vec<(&[f64; 5], Option<Repetition>)> = samples.iter().map(|r| (r, None)).collect();
    laws_from_rows(point, &rows)
}

/// [`sample_laws`] for samples of the muennighoff form (E, A, B, alpha, beta, R*_D, R*_N): each
/// law also carries the sample's decay constants (`repetition`), so under a data limit its
/// repeated tokens and excess parameters are discounted as that sample says
/// (docs/uncertainty.md).
pub fn sample_laws_repeated(point: &LossLaw, samples: &[[f64; 7]]) -> Result<Vec<LossLaw>> {
    let fives: Vec<[f64; 5]> = samples
        .iter()
        .map(|r| [r[0], r[1], r[2], r[3], r[4]])
        .collect();
    let rows: Vec<(&[f64; 5], Option<Repetition>)> = fives
        .iter()
        .zip(samples)
        .map(|(f, r)| {
            (
                f,
                Some(Repetition {
                    r_star_tokens: r[5],
                    r_star_params: r[6],
                }),
            )
        })
        .collect();
    laws_from_rows(point, &rows)
}

fn laws_from_rows(
    point: &LossLaw,
    samples: &[(&[f64; 5], Option<Repetition>)],
) -> Result<Vec<LossLaw>> {
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
        .map(|(i, &(&[e, a, b, alpha, beta], repetition))| {
            let law = LossLaw {
                name: format!("{} (sample {i})", point.name),
                e,
                a,
                b,
                alpha,
                beta,
                repetition: repetition.or(point.repetition),
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
    per_sample_with(laws, goals, SAMPLES_FIELD, |law| Ok(law.clone()), plan)
}

/// [`per_sample`] for any kind of sample (a law, a set of accuracy curves, ...): `setup` builds
/// what one sample's plans share (once per sample, on its worker), `plan` solves one goal with
/// it. `field` names the samples in a limit error. The limits are the same: at most
/// `MAX_LAW_SAMPLES` samples and `MAX_SAMPLE_PLANS` plans.
pub fn per_sample_with<S: Sync, C, T: Send>(
    samples: &[S],
    goals: usize,
    field: &str,
    setup: impl Fn(&S) -> Result<C> + Sync,
    plan: impl Fn(&C, usize) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    if samples.len() > MAX_LAW_SAMPLES {
        return Err(PlanError::LimitExceeded {
            field: field.to_string(),
            limit: MAX_LAW_SAMPLES as u64,
            got: samples.len() as u64,
        });
    }
    let total = samples.len().saturating_mul(goals);
    if total > MAX_SAMPLE_PLANS {
        return Err(PlanError::LimitExceeded {
            field: field.to_string(),
            limit: MAX_SAMPLE_PLANS as u64,
            got: total as u64,
        });
    }
    let token = cancel::current();
    let run = |sample: &S| -> Result<Vec<T>> {
        cancel::check()?;
        let shared = setup(sample)?;
        (0..goals)
            .map(|g| {
                if cancel::fired() {
                    return Err(PlanError::Cancelled { deadline: false });
                }
                plan(&shared, g).map_err(|e| if goals > 1 { e.at_index(g) } else { e })
            })
            .collect()
    };
    let rows: Result<Vec<Vec<T>>> = samples
        .par_iter()
        .map(|sample| match &token {
            Some(t) => cancel::scope(t, || run(sample)),
            None => run(sample),
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
    sample_major(laws, params.len(), |law, out| {
        out.extend(
            params
                .iter()
                .zip(effective_tokens)
                .map(|(&n, &d)| law.loss(n, d)),
        );
        Ok(())
    })
}

/// Fills a sample-major table (`laws.len()` rows of `plans` values, one row per law written by
/// `row`), bounded by [`MAX_SAMPLE_PLANS`] and stopped by cancellation between rows.
fn sample_major(
    laws: &[LossLaw],
    plans: usize,
    mut row: impl FnMut(&LossLaw, &mut Vec<f64>) -> Result<()>,
) -> Result<Vec<f64>> {
    let total = laws.len().saturating_mul(plans);
    if total > MAX_SAMPLE_PLANS {
        return Err(PlanError::LimitExceeded {
            field: SAMPLES_FIELD.to_string(),
            limit: MAX_SAMPLE_PLANS as u64,
            got: total as u64,
        });
    }
    let mut out = Vec::with_capacity(total);
    for law in laws {
        cancel::check()?;
        row(law, &mut out)?;
    }
    Ok(out)
}

/// The loss of a fixed plan (N, D) under every law with a data limit of `unique_tokens`,
/// sample-major: L_s(N', D') with D' the tokens D is worth at R*_D (`r_star`, or by default
/// the sample law's own) and N' the parameters N is worth at the law's R*_N
/// (`LossLaw::loss_limited`). NaN where the plan has no numbers.
pub fn losses_limited_at(
    laws: &[LossLaw],
    params: &[f64],
    tokens: &[f64],
    unique_tokens: f64,
    r_star: Option<f64>,
) -> Result<Vec<f64>> {
    if params.len() != tokens.len() {
        return Err(PlanError::invalid(
            "tokens",
            "params and tokens differ in length",
        ));
    }
    sample_major(laws, params.len(), |law, out| {
        let limit = DataLimit::new(unique_tokens, Some(r_star.unwrap_or(law.default_r_star())))?;
        out.extend(
            params
                .iter()
                .zip(tokens)
                .map(|(&n, &d)| law.loss_limited(n, d, Some(&limit))),
        );
        Ok(())
    })
}

// ---------------------------------------------------------------------------------------------
// Test-time plans under an accuracy fit's bootstrap samples (docs/uncertainty.md, "Test-time
// plans").

/// The field accuracy samples are reported under (the fit the planner was given).
pub const ACCURACY_SAMPLES_FIELD: &str = "accuracy_fit";

/// One fitted (model, generation length) of an accuracy fit: which candidate it belongs to, its
/// length and the eval's samples per problem there.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AccuracyGroup {
    pub candidate: usize,
    pub gen_tokens: f64,
    pub eval_samples: u32,
}

/// The accuracy fit's bootstrap samples, one row per sample holding (a, b) for every group (in
/// `groups` order). Every candidate must have at least one group.
#[derive(Debug, Clone, PartialEq)]
pub struct AccuracySamples {
    pub groups: Vec<AccuracyGroup>,
    pub rows: Vec<Vec<[f64; 2]>>,
}

impl AccuracySamples {
    /// Checks the shape against `candidates` (every candidate fitted, rows one (a, b) per group,
    /// at least one row, at most `MAX_LAW_SAMPLES`).
    pub fn new(
        groups: Vec<AccuracyGroup>,
        rows: Vec<Vec<[f64; 2]>>,
        candidates: usize,
    ) -> Result<Self> {
        let field = ACCURACY_SAMPLES_FIELD;
        if rows.is_empty() {
            return Err(PlanError::invalid(
                field,
                "no bootstrap samples: fit with bootstrap > 0 to plan under uncertainty",
            ));
        }
        if rows.len() > MAX_LAW_SAMPLES {
            return Err(PlanError::LimitExceeded {
                field: field.to_string(),
                limit: MAX_LAW_SAMPLES as u64,
                got: rows.len() as u64,
            });
        }
        if let Some(g) = groups.iter().find(|g| g.candidate >= candidates) {
            return Err(PlanError::invalid(
                field,
                format!("a group names candidate {} of {candidates}", g.candidate),
            ));
        }
        if let Some(c) = (0..candidates).find(|&c| groups.iter().all(|g| g.candidate != c)) {
            return Err(PlanError::invalid(
                field,
                format!("candidate {c} has no fitted length"),
            ));
        }
        if let Some(i) = rows.iter().position(|r| r.len() != groups.len()) {
            return Err(PlanError::invalid(
                field,
                format!(
                    "each sample holds (a, b) for each of the {} fits, got {}",
                    groups.len(),
                    rows[i].len()
                ),
            )
            .at_index(i));
        }
        Ok(AccuracySamples { groups, rows })
    }

    /// Candidate `c`'s accuracy curve under sample `s`: a fitted curve from the sample's (a, b)
    /// at each of its lengths (exactly as `FittedCurve::new` builds the point curve). A sample
    /// that is not a valid fit is an error about its row.
    fn curve(&self, s: usize, c: usize) -> Result<FittedCurve> {
        let entries: Vec<(f64, f64, f64, u32)> = self
            .groups
            .iter()
            .zip(&self.rows[s])
            .filter(|(g, _)| g.candidate == c)
            .map(|(g, &[a, b])| (g.gen_tokens, a, b, g.eval_samples))
            .collect();
        FittedCurve::new(&entries).map_err(|e| {
            PlanError::invalid(
                ACCURACY_SAMPLES_FIELD,
                format!("{}: {}", e.field(), e.reason()),
            )
            .at_index(s)
        })
    }

    /// The candidates with sample `s`'s curves in place of theirs.
    fn candidates(&self, s: usize, base: &[Candidate]) -> Result<Vec<Candidate>> {
        base.iter()
            .enumerate()
            .map(|(c, cand)| {
                Ok(Candidate {
                    model: cand.model.clone(),
                    curve: Curve::Fitted(self.curve(s, c)?),
                })
            })
            .collect()
    }
}

/// The test-time plan of every budget under every sample's accuracy curves, sample-major (the
/// solution of sample s and budget i at `s * budgets.len() + i`): the public solver
/// (`TestTimeSolver::solve`) with the sample's curves, rayon over the samples, cancellation
/// polled, bounded as [`per_sample`].
pub fn test_time_per_sample(
    base: &[Candidate],
    options: &TestTimeOptions,
    samples: &AccuracySamples,
    budgets: &[f64],
) -> Result<Vec<Solution>> {
    let index: Vec<usize> = (0..samples.rows.len()).collect();
    per_sample_with(
        &index,
        budgets.len(),
        ACCURACY_SAMPLES_FIELD,
        |&s| samples.candidates(s, base),
        |candidates, i| TestTimeSolver::new(candidates, options)?.solve(budgets[i]),
    )
}

/// The accuracy of fixed test-time plans under every sample's curves, sample-major
/// (`s * n + i` for plan i): plan i's model (`candidate`), samples k and generation length L,
/// the accuracy the sample's curve gives there. NaN where the plan has no numbers (infeasible).
pub fn test_time_accuracy_at(
    samples: &AccuracySamples,
    candidate: &[f64],
    gen_tokens: &[f64],
    k: &[f64],
) -> Result<Vec<f64>> {
    let n = candidate.len();
    if gen_tokens.len() != n || k.len() != n {
        return Err(PlanError::invalid(
            "gen_tokens",
            "candidate, gen_tokens and samples differ in length",
        ));
    }
    let total = samples.rows.len().saturating_mul(n);
    if total > MAX_SAMPLE_PLANS {
        return Err(PlanError::LimitExceeded {
            field: ACCURACY_SAMPLES_FIELD.to_string(),
            limit: MAX_SAMPLE_PLANS as u64,
            got: total as u64,
        });
    }
    let candidates = samples
        .groups
        .iter()
        .map(|g| g.candidate)
        .max()
        .map_or(0, |m| m + 1);
    let mut out = Vec::with_capacity(total);
    for s in 0..samples.rows.len() {
        cancel::check()?;
        let curves = (0..candidates)
            .map(|c| samples.curve(s, c))
            .collect::<Result<Vec<_>>>()?;
        out.extend((0..n).map(|i| {
            let (c, g, kk) = (candidate[i], gen_tokens[i], k[i]);
            let known = c.is_finite() && c >= 0.0 && (c as usize) < candidates;
            if !(known && g.is_finite() && kk.is_finite() && kk >= 1.0) {
                return f64::NAN;
            }
            curves[c as usize].accuracy(g, kk as u32)
        }));
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Test-time plans under a calibration's bootstrap samples (docs/uncertainty.md, "Calibrated
// hardware").

/// The field hardware samples are reported under (the calibration the planner was given).
pub const HARDWARE_SAMPLES_FIELD: &str = "hardware";

/// `base` under each calibration sample: its (prefill_mfu, decode_bw_util, step_overhead_s)
/// replaced by the sample's. A sample that is not a valid entry is an error about its row.
pub fn sample_hardware(base: &Hardware, rows: &[[f64; 3]]) -> Result<Vec<Hardware>> {
    if rows.is_empty() {
        return Err(PlanError::invalid(
            HARDWARE_SAMPLES_FIELD,
            "no samples: calibrate with bootstrap > 0 to plan under uncertainty",
        ));
    }
    if rows.len() > MAX_LAW_SAMPLES {
        return Err(PlanError::LimitExceeded {
            field: HARDWARE_SAMPLES_FIELD.to_string(),
            limit: MAX_LAW_SAMPLES as u64,
            got: rows.len() as u64,
        });
    }
    rows.iter()
        .enumerate()
        .map(|(i, &[mfu, util, overhead])| {
            let hw = Hardware {
                prefill_mfu: mfu,
                decode_bw_util: util,
                step_overhead_s: overhead,
                ..base.clone()
            };
            hw.validate().map_err(|e| {
                PlanError::invalid(
                    HARDWARE_SAMPLES_FIELD,
                    format!("{}: {}", e.field(), e.reason()),
                )
                .at_index(i)
            })?;
            Ok(hw)
        })
        .collect()
}

/// The test-time plan of every budget on every sample's hardware, sample-major: the public
/// solver with the sample's hardware in the options, bounded and cancelled as [`per_sample`].
pub fn test_time_per_hardware(
    candidates: &[Candidate],
    options: &TestTimeOptions,
    hardware: &[Hardware],
    budgets: &[f64],
) -> Result<Vec<Solution>> {
    per_sample_with(
        hardware,
        budgets.len(),
        HARDWARE_SAMPLES_FIELD,
        |hw| {
            Ok(TestTimeOptions {
                hardware: hw.clone(),
                ..options.clone()
            })
        },
        |opt, i| TestTimeSolver::new(candidates, opt)?.solve(budgets[i]),
    )
}

/// The latency of fixed test-time plans (candidate, generation length, samples k, attention
/// index) on every sample's hardware, sample-major, priced by the cost model as the solver
/// prices a configuration. NaN where the plan has no numbers (infeasible).
pub fn test_time_latency_at(
    candidates: &[Candidate],
    options: &TestTimeOptions,
    hardware: &[Hardware],
    plan: [&[f64]; 4],
) -> Result<Vec<f64>> {
    let [candidate, gen_tokens, k, attention] = plan;
    let n = candidate.len();
    if [gen_tokens.len(), k.len(), attention.len()]
        .iter()
        .any(|&l| l != n)
    {
        return Err(PlanError::invalid(
            "gen_tokens",
            "candidate, gen_tokens, samples and attention differ in length",
        ));
    }
    let total = hardware.len().saturating_mul(n);
    if total > MAX_SAMPLE_PLANS {
        return Err(PlanError::LimitExceeded {
            field: HARDWARE_SAMPLES_FIELD.to_string(),
            limit: MAX_SAMPLE_PLANS as u64,
            got: total as u64,
        });
    }
    let mut out = Vec::with_capacity(total);
    for hw in hardware {
        cancel::check()?;
        for i in 0..n {
            let (c, a) = (candidate[i], attention[i]);
            let known = c.is_finite()
                && a.is_finite()
                && (c as usize) < candidates.len()
                && (a as usize) < options.attention.len();
            if !(known && gen_tokens[i].is_finite() && k[i].is_finite()) {
                out.push(f64::NAN);
                continue;
            }
            let pricer = Pricer::new(&candidates[c as usize].model, hw, &options.inference)?;
            let cost = pricer.price(&InferenceQuery {
                prompt_tokens: options.prompt_tokens,
                gen_tokens: gen_tokens[i],
                samples: k[i],
                attention: options.attention[a as usize],
            })?;
            out.push(if cost.feasible {
                cost.latency_s
            } else {
                f64::NAN
            });
        }
    }
    Ok(out)
}
