//! Calibrating a hardware entry from measured serving runs (docs/calibration.md): the prefill
//! MFU, the decode bandwidth utilisation and the fixed per-step overhead that make the cost
//! model (docs/cost-model.md) reproduce each run's time to first token and time per output token.
//!
//! Under the cost model, with `x1 = 1/prefill_mfu`, `x2 = 1/decode_bw_util`, `x3 =
//! step_overhead_s`, a run served `batch` sequences at a time predicts
//!
//! ```text
//! tpot = a * x1 + b * x2 + x3 + comm_decode      (additive decode step)
//! ttft = max(f * x1, w * x2) + x3 + comm_prefill  (one prefill pass, weight-read floor)
//! ```
//!
//! where `a`, `b`, `f`, `w` are the step's compute and memory seconds at full efficiency. The
//! coefficients are read off the pricer itself (one definition of the cost model), the
//! decode ones exactly since the step is linear in `x1` and `x2`. The fit minimises the sum of
//! squared relative errors of both measurements of every run (each run weighs by its relative
//! error, so short and long runs count alike), subject to `x3 >= 0`: a least-squares problem
//! with one bound, solved exactly by its two candidate active sets; the `max` of the prefill is
//! handled by fixing which side binds in each run, refitting, and repeating until no run
//! changes side (or, when a run near the kink flips back and forth, keeping the round with the
//! least true objective).

use crate::catalog::{Hardware, Model};
use crate::cost::{allreduce_seconds_per_token, Attention, Batch, Pricer};
use crate::cost::{InferenceOptions, InferenceQuery, PrefillMode};
use crate::error::{check, PlanError, Result};

/// Most runs one calibration accepts.
pub const MAX_RUNS: usize = 100_000;

/// The fitted parameters, in this order everywhere (values, standard errors, bounds).
pub const PARAMETERS: [&str; 3] = ["prefill_mfu", "decode_bw_util", "step_overhead_s"];

/// One measured serving run: a model served `batch` requests at a time (the benchmark's
/// concurrency) with mean prompt and generated lengths, and the mean TTFT and TPOT it measured.
#[derive(Debug, Clone)]
pub struct ServingRun<'a> {
    pub model: &'a Model,
    pub batch: f64,
    pub prompt_tokens: f64,
    pub gen_tokens: f64,
    /// GPUs of the replica (tensor parallelism), 1 unless the run says otherwise.
    pub gpus: f64,
    pub ttft_s: f64,
    pub tpot_s: f64,
}

#[derive(Debug, Clone)]
pub struct Calibration {
    /// A copy of the hardware with the fitted values and the new name.
    pub hardware: Hardware,
    /// prefill_mfu, decode_bw_util, step_overhead_s.
    pub parameters: [f64; 3],
    /// Standard errors of `parameters` (delta method through the reciprocals); 0 for a
    /// parameter held at its bound.
    pub stderr: [f64; 3],
    /// Whether each parameter sits at its bound (only the overhead has one: 0).
    pub at_bound: [bool; 3],
    pub ttft_predicted_s: Vec<f64>,
    pub tpot_predicted_s: Vec<f64>,
    /// predicted / measured - 1, per run.
    pub ttft_relative: Vec<f64>,
    pub tpot_relative: Vec<f64>,
    /// Root mean square of all 2n relative residuals.
    pub rms_relative_error: f64,
    /// Whether each run's prefill is bound by compute (else by the weight reads).
    pub prefill_compute_bound: Vec<bool>,
    pub n_runs: usize,
}

/// A run's coefficients at full efficiency (see the module's formulas).
#[derive(Debug, Clone, Copy)]
struct Terms {
    a: f64,
    b: f64,
    comm_decode: f64,
    f: f64,
    w: f64,
    comm_prefill: f64,
}

fn with_efficiency(hw: &Hardware, mfu: f64, util: f64) -> Hardware {
    Hardware {
        prefill_mfu: mfu,
        decode_bw_util: util,
        step_overhead_s: 0.0,
        ..hw.clone()
    }
}

fn validate_run(run: &ServingRun) -> Result<()> {
    check::whole_at_least("batch", run.batch, 1.0)?;
    check::positive("prompt_tokens", run.prompt_tokens)?;
    check::positive("gen_tokens", run.gen_tokens)?;
    check::whole_at_least("gpus", run.gpus, 1.0)?;
    check::positive("ttft_s", run.ttft_s)?;
    check::positive("tpot_s", run.tpot_s)?;
    Ok(())
}

fn terms(hw: &Hardware, run: &ServingRun) -> Result<Terms> {
    let opt = InferenceOptions {
        batch: Batch::Fixed(run.batch),
        prefill_mode: PrefillMode::PerQuery,
        gpus: run.gpus,
        ..InferenceOptions::default()
    };
    let q = InferenceQuery {
        prompt_tokens: run.prompt_tokens,
        gen_tokens: run.gen_tokens,
        samples: 1.0,
        attention: Attention::Dense,
    };
    let price = |mfu: f64, util: f64| {
        Pricer::new(run.model, &with_efficiency(hw, mfu, util), &opt)?.price(&q)
    };
    let unit = price(1.0, 1.0)?;
    if !unit.feasible {
        return Err(PlanError::invalid(
            "batch",
            format!(
                "{} at batch {} with {} + {} tokens does not fit on {} x {} under the cost model \
                 (binding: {}); set gpus to the replica's tensor-parallel size",
                run.model.name,
                run.batch,
                run.prompt_tokens,
                run.gen_tokens,
                run.gpus,
                hw.name,
                unit.binding.name()
            ),
        ));
    }
    if unit.batch < run.batch {
        return Err(PlanError::invalid(
            "batch",
            format!(
                "{} sequences of {} + {} tokens of {} do not fit in the HBM of {} x {} (at most \
                 {} under the cost model, docs/calibration.md)",
                run.batch,
                run.prompt_tokens,
                run.gen_tokens,
                run.model.name,
                run.gpus,
                hw.name,
                unit.batch
            ),
        ));
    }
    // Decode: linear in 1/mfu and 1/util, so halving each efficiency adds its term once more.
    let a = price(0.5, 1.0)?.tpot_s - unit.tpot_s;
    let b = price(1.0, 0.5)?.tpot_s - unit.tpot_s;
    let comm_per_token = allreduce_seconds_per_token(&run.model.cost_shape(), hw, run.gpus);
    let comm_decode = comm_per_token * run.batch;
    let comm_prefill = comm_per_token * run.prompt_tokens;
    // Prefill: each side of the max alone, the other made negligible (1e-12 of itself).
    const FAST: f64 = 1e12;
    let f = price(1.0, FAST)?.ttft_s - comm_prefill;
    let w = price(FAST, 1.0)?.ttft_s - comm_prefill;
    Ok(Terms {
        a,
        b,
        comm_decode,
        f,
        w,
        comm_prefill,
    })
}

/// Solve the normal equations of the columns in `free` (scaled to unit norm); `None` when they
/// are singular. Returns x (unscaled, 0 for the fixed ones) and the inverse Gram matrix of the
/// free columns (unscaled).
fn least_squares(rows: &[([f64; 3], f64)], free: &[usize]) -> Option<([f64; 3], Vec<Vec<f64>>)> {
    let k = free.len();
    let norm: Vec<f64> = free
        .iter()
        .map(|&j| rows.iter().map(|(r, _)| r[j] * r[j]).sum::<f64>().sqrt())
        .collect();
    if norm.iter().any(|&n| n.is_nan() || n <= 0.0) {
        return None;
    }
    let mut g = vec![vec![0.0; k]; k];
    let mut rhs = vec![0.0; k];
    for (r, y) in rows {
        for p in 0..k {
            let ap = r[free[p]] / norm[p];
            rhs[p] += ap * y;
            for q in 0..k {
                g[p][q] += ap * r[free[q]] / norm[q];
            }
        }
    }
    let inv = invert(&g)?;
    let mut x = [0.0; 3];
    for p in 0..k {
        x[free[p]] = (0..k).map(|q| inv[p][q] * rhs[q]).sum::<f64>() / norm[p];
    }
    let inv_unscaled = (0..k)
        .map(|p| (0..k).map(|q| inv[p][q] / (norm[p] * norm[q])).collect())
        .collect();
    Some((x, inv_unscaled))
}

/// Gauss-Jordan inverse with partial pivoting of a small, unit-diagonal Gram matrix; `None`
/// when a pivot falls below 1e-10 (columns not told apart).
fn invert(g: &[Vec<f64>]) -> Option<Vec<Vec<f64>>> {
    let k = g.len();
    let mut m: Vec<Vec<f64>> = g.to_vec();
    let mut inv: Vec<Vec<f64>> = (0..k)
        .map(|i| (0..k).map(|j| if i == j { 1.0 } else { 0.0 }).collect())
        .collect();
    for c in 0..k {
        let p = (c..k).max_by(|&i, &j| m[i][c].abs().total_cmp(&m[j][c].abs()))?;
        if m[p][c].is_nan() || m[p][c].abs() <= 1e-10 {
            return None;
        }
        m.swap(c, p);
        inv.swap(c, p);
        let d = m[c][c];
        for j in 0..k {
            m[c][j] /= d;
            inv[c][j] /= d;
        }
        for i in 0..k {
            if i != c {
                let f = m[i][c];
                for j in 0..k {
                    m[i][j] -= f * m[c][j];
                    inv[i][j] -= f * inv[c][j];
                }
            }
        }
    }
    Some(inv)
}

/// Which parameters the runs cannot tell apart from the others: those whose column, scaled to
/// unit norm, is within 1e-10 of the span of the other columns.
fn unidentified(rows: &[([f64; 3], f64)]) -> Vec<usize> {
    (0..3)
        .filter(|&j| {
            let others: Vec<usize> = (0..3).filter(|&i| i != j).collect();
            let col_norm2: f64 = rows.iter().map(|(r, _)| r[j] * r[j]).sum();
            if col_norm2.is_nan() || col_norm2 <= 0.0 {
                return true;
            }
            // Residual of column j regressed on the others, relative to its norm.
            let target: Vec<([f64; 3], f64)> = rows
                .iter()
                .map(|(r, _)| (*r, r[j] / col_norm2.sqrt()))
                .collect();
            match least_squares(&target, &others) {
                None => true,
                Some((x, _)) => {
                    let rss: f64 = target
                        .iter()
                        .map(|(r, y)| {
                            let fit: f64 = others.iter().map(|&i| r[i] * x[i]).sum();
                            (y - fit).powi(2)
                        })
                        .sum();
                    rss < 1e-10
                }
            }
        })
        .collect()
}

/// Fit `hw`'s prefill MFU, decode bandwidth utilisation and per-step overhead to `runs`; the
/// returned entry is named `name`, or `<hw.name>-calibrated`.
pub fn calibrate(hw: &Hardware, runs: &[ServingRun], name: Option<&str>) -> Result<Calibration> {
    hw.validate()?;
    if let Some(name) = name {
        crate::catalog::check_entry_name(name)?;
    }
    if runs.len() > MAX_RUNS {
        return Err(PlanError::LimitExceeded {
            field: "runs".into(),
            limit: MAX_RUNS as u64,
            got: runs.len() as u64,
        });
    }
    if runs.len() < PARAMETERS.len() {
        return Err(PlanError::invalid(
            "runs",
            format!(
                "{} run(s) given; calibration fits {} parameters ({}) and needs at least {} runs",
                runs.len(),
                PARAMETERS.len(),
                PARAMETERS.join(", "),
                PARAMETERS.len()
            ),
        ));
    }
    let mut all = Vec::with_capacity(runs.len());
    for (i, run) in runs.iter().enumerate() {
        validate_run(run).map_err(|e| e.at_index(i))?;
        all.push(terms(hw, run).map_err(|e| e.at_index(i))?);
    }

    // Start from the catalog's values and iterate on which side of each prefill binds.
    let mut x = [
        1.0 / hw.prefill_mfu,
        1.0 / hw.decode_bw_util,
        hw.step_overhead_s,
    ];
    let side =
        |x: &[f64; 3]| -> Vec<bool> { all.iter().map(|t| t.f * x[0] >= t.w * x[1]).collect() };
    let mut compute_bound = side(&x);
    let mut visited: Vec<Vec<bool>> = Vec::new();
    // Every round's solution, with its true objective (the prefill's max evaluated at it).
    let mut best: Option<(f64, [f64; 3], Solved)> = None;
    for _ in 0..50 {
        let rows = design(runs, &all, &compute_bound);
        let bad = unidentified(&rows);
        if !bad.is_empty() {
            let names: Vec<&str> = bad.iter().map(|&j| PARAMETERS[j]).collect();
            return Err(PlanError::invalid(
                PARAMETERS[bad[0]],
                format!(
                    "{} cannot be told apart from the other parameters with these {} runs: \
                     vary the batch, prompt and generated lengths across runs (docs/calibration.md)",
                    names.join(" and "),
                    runs.len()
                ),
            ));
        }
        let singular = || PlanError::invalid("runs", "the runs do not determine the parameters");
        let (mut fit, mut inv) = least_squares(&rows, &[0, 1, 2]).ok_or_else(singular)?;
        let mut free = vec![0, 1, 2];
        if fit[2] < 0.0 {
            // The bound x3 >= 0 is active: the constrained optimum lies on it (convexity).
            free = vec![0, 1];
            (fit, inv) = least_squares(&rows, &free).ok_or_else(singular)?;
        }
        let objective = true_objective(runs, &all, &fit);
        if best.as_ref().is_none_or(|b| objective < b.0) {
            best = Some((objective, fit, (rows, free, inv)));
        }
        let next = side(&fit);
        if next == compute_bound {
            break; // a fixed point: every run's prefill on the side the fit predicts
        }
        // A run near the kink of its max can flip back and forth; the iteration then stops at
        // the first repeat and keeps the round with the least true objective.
        visited.push(std::mem::replace(&mut compute_bound, next));
        if visited.contains(&compute_bound) {
            break;
        }
    }
    let solved = best.filter(|b| b.0.is_finite()).map(|(_, fit, s)| {
        x = fit;
        compute_bound = side(&x);
        s
    });
    let Some((rows, free, inv)) = solved else {
        return Err(PlanError::invalid(
            "runs",
            "the fit did not converge (its objective is not finite): check the runs' values \
             (docs/calibration.md)",
        ));
    };

    for (j, &name) in PARAMETERS.iter().enumerate().take(2) {
        let eff = 1.0 / x[j];
        if x[j].is_nan() || x[j] <= 0.0 {
            return Err(PlanError::invalid(
                name,
                "the fitted value is not positive: the runs contradict the cost model \
                 (check the hardware, the model and gpus of each run)",
            ));
        }
        if eff > 1.0 {
            return Err(PlanError::invalid(
                name,
                format!(
                    "the fitted value is {eff:.4}, above 1: the runs are faster than {} can be \
                     at its peak under the cost model (check the hardware, the model's dtype, \
                     gpus, and whether the benchmark used speculative decoding or a prefix \
                     cache; docs/calibration.md)",
                    hw.name
                ),
            ));
        }
    }

    // Residuals and the standard errors (residual variance over 2n - k degrees of freedom).
    let n = runs.len();
    let mut ttft_pred = Vec::with_capacity(n);
    let mut tpot_pred = Vec::with_capacity(n);
    for (t, cb) in all.iter().zip(&compute_bound) {
        let prefill = if *cb { t.f * x[0] } else { t.w * x[1] };
        ttft_pred.push(prefill + x[2] + t.comm_prefill);
        tpot_pred.push(t.a * x[0] + t.b * x[1] + x[2] + t.comm_decode);
    }
    let rel = |p: &[f64], m: &dyn Fn(&ServingRun) -> f64| -> Vec<f64> {
        p.iter().zip(runs).map(|(p, r)| p / m(r) - 1.0).collect()
    };
    let ttft_rel = rel(&ttft_pred, &|r| r.ttft_s);
    let tpot_rel = rel(&tpot_pred, &|r| r.tpot_s);
    let rss: f64 = ttft_rel.iter().chain(&tpot_rel).map(|e| e * e).sum();
    let m = rows.len();
    let rms = (rss / m as f64).sqrt();
    let sigma2 = rss / (m - free.len()) as f64;
    let mut stderr = [0.0; 3];
    for (p, &j) in free.iter().enumerate() {
        let se_x = (sigma2 * inv[p][p]).max(0.0).sqrt();
        stderr[j] = if j < 2 { se_x / (x[j] * x[j]) } else { se_x };
    }
    let parameters = [1.0 / x[0], 1.0 / x[1], x[2]];
    let name = name.map_or_else(|| format!("{}-calibrated", hw.name), str::to_string);
    crate::catalog::check_entry_name(&name)?;
    let hardware = Hardware {
        name,
        description: format!(
            "{} calibrated from {n} serving runs (prefill_mfu, decode_bw_util, step_overhead_s \
             fitted; RMS relative error {:.1}%)",
            hw.name,
            100.0 * rms
        ),
        source: format!("scaleplan calibrate, from '{}'", hw.name),
        prefill_mfu: parameters[0],
        decode_bw_util: parameters[1],
        step_overhead_s: parameters[2],
        ..hw.clone()
    };
    hardware.validate()?;
    Ok(Calibration {
        hardware,
        parameters,
        stderr,
        at_bound: [false, false, !free.contains(&2)],
        ttft_predicted_s: ttft_pred,
        tpot_predicted_s: tpot_pred,
        ttft_relative: ttft_rel,
        tpot_relative: tpot_rel,
        rms_relative_error: rms,
        prefill_compute_bound: compute_bound,
        n_runs: n,
    })
}

/// The rows of the design, the free parameters and their inverse Gram matrix of one round.
type Solved = (Vec<([f64; 3], f64)>, Vec<usize>, Vec<Vec<f64>>);

/// The sum of squared relative errors at `x`, each prefill on the side its max takes.
fn true_objective(runs: &[ServingRun], all: &[Terms], x: &[f64; 3]) -> f64 {
    runs.iter()
        .zip(all)
        .map(|(r, t)| {
            let ttft = (t.f * x[0]).max(t.w * x[1]) + x[2] + t.comm_prefill;
            let tpot = t.a * x[0] + t.b * x[1] + x[2] + t.comm_decode;
            (ttft / r.ttft_s - 1.0).powi(2) + (tpot / r.tpot_s - 1.0).powi(2)
        })
        .sum()
}

/// The weighted rows (coefficients of x1, x2, x3 and the target, both over the measurement):
/// two per run, TTFT then TPOT.
fn design(runs: &[ServingRun], all: &[Terms], compute_bound: &[bool]) -> Vec<([f64; 3], f64)> {
    let mut rows = Vec::with_capacity(2 * runs.len());
    for ((run, t), &cb) in runs.iter().zip(all).zip(compute_bound) {
        let (y, prefill) = (run.ttft_s, if cb { [t.f, 0.0] } else { [0.0, t.w] });
        rows.push((
            [prefill[0] / y, prefill[1] / y, 1.0 / y],
            (y - t.comm_prefill) / y,
        ));
        let y = run.tpot_s;
        rows.push(([t.a / y, t.b / y, 1.0 / y], (y - t.comm_decode) / y));
    }
    rows
}

/// Most bootstrap resamples of one calibration (the law fit's limit, docs/limits.md).
pub const MAX_BOOTSTRAP: usize = crate::laws::fit::MAX_BOOTSTRAP;

/// Bootstrap resamples of a calibration (docs/calibration.md, "Intervals").
#[derive(Debug, Clone, PartialEq)]
pub struct CalibrationBootstrap {
    /// (prefill_mfu, decode_bw_util, step_overhead_s) of each resample that has a fit, in
    /// resample order.
    pub samples: Vec<[f64; 3]>,
    /// Resamples without a fit (parameters not told apart in the resample, an efficiency above
    /// 1, ...): left out of `samples`.
    pub failed: usize,
}

/// Refit the calibration on `resamples` resamples of the runs (n runs drawn with replacement,
/// deterministic per `seed` and resample index), in parallel (rayon) with the calling thread's
/// cancellation token current. Each resample is fitted exactly as [`calibrate`] fits the runs.
pub fn bootstrap(
    hw: &Hardware,
    runs: &[ServingRun],
    resamples: usize,
    seed: u64,
) -> Result<CalibrationBootstrap> {
    use rayon::prelude::*;
    if resamples > MAX_BOOTSTRAP {
        return Err(PlanError::LimitExceeded {
            field: "bootstrap".into(),
            limit: MAX_BOOTSTRAP as u64,
            got: resamples as u64,
        });
    }
    let n = runs.len();
    let token = crate::cancel::current();
    let one = |b: u64| -> Option<Option<[f64; 3]>> {
        if crate::cancel::fired() {
            return None;
        }
        let mut rng = crate::laws::fit::SplitMix64::for_sample(seed, b);
        let drawn: Vec<ServingRun> = (0..n).map(|_| runs[rng.below(n)].clone()).collect();
        Some(calibrate(hw, &drawn, None).ok().map(|c| c.parameters))
    };
    let results: Vec<Option<Option<[f64; 3]>>> = (0..resamples as u64)
        .into_par_iter()
        .map(|b| match &token {
            Some(t) => crate::cancel::scope(t, || one(b)),
            None => one(b),
        })
        .collect();
    crate::cancel::check()?;
    let mut out = CalibrationBootstrap {
        samples: Vec::with_capacity(resamples),
        failed: 0,
    };
    for r in results {
        match r {
            Some(Some(p)) => out.samples.push(p),
            Some(None) => out.failed += 1,
            None => return Err(PlanError::Cancelled { deadline: false }),
        }
    }
    Ok(out)
}
