//! Measured test-time accuracy: per-problem results (n samples, c correct) at several generation
//! budgets per model, as an eval harness writes them; pass@k by the unbiased estimator averaged
//! over problems, made monotone in the budget and interpolated linearly in log length.

use std::collections::BTreeMap;

use super::passk::unbiased_pass_at_k;
use crate::error::{PlanError, Result};
use crate::limits::MEASURED_TABLE_SAMPLES;

/// One row of an eval: a model at a generation budget on one problem.
#[derive(Debug, Clone, PartialEq)]
pub struct EvalRow {
    pub model: String,
    pub gen_tokens: f64,
    pub problem: String,
    pub n: u32,
    pub c: u32,
}

impl EvalRow {
    /// The row's own values: a positive finite length, n > 0, c <= n; an error names the
    /// column and the row's index `i`.
    pub(crate) fn check(&self, i: usize) -> Result<()> {
        if !(self.gen_tokens.is_finite() && self.gen_tokens > 0.0) {
            let reason = format!("must be > 0, got {}", self.gen_tokens);
            return Err(PlanError::invalid("rows.gen_tokens", reason).at_index(i));
        }
        if self.n == 0 {
            return Err(PlanError::invalid("rows.n", "must be > 0").at_index(i));
        }
        if self.c > self.n {
            let reason = format!("{} correct exceeds n = {}", self.c, self.n);
            return Err(PlanError::invalid("rows.c", reason).at_index(i));
        }
        Ok(())
    }
}

/// Position of `gen_tokens` among ascending `budgets`: (lower index, weight of the upper one),
/// linear in ln length between budgets and held at the ends.
pub(crate) fn locate(b: &[f64], gen_tokens: f64) -> (usize, f64) {
    if gen_tokens <= b[0] || b.len() == 1 {
        return (0, 0.0);
    }
    if gen_tokens >= b[b.len() - 1] {
        return (b.len() - 2, 1.0);
    }
    let hi = b.partition_point(|&x| x <= gen_tokens);
    let lo = hi - 1;
    (
        lo,
        (gen_tokens.ln() - b[lo].ln()) / (b[hi].ln() - b[lo].ln()),
    )
}

/// `values` (one per budget) at a position from [`locate`].
pub(crate) fn interpolate(values: &[f64], (lo, w): (usize, f64)) -> f64 {
    if values.len() == 1 {
        values[0]
    } else {
        values[lo] + w * (values[lo + 1] - values[lo])
    }
}

/// One model's results: problems x budgets.
#[derive(Debug, Clone, PartialEq)]
pub struct MeasuredCurve {
    /// Ascending generation budgets.
    pub budgets: Vec<f64>,
    pub problems: Vec<String>,
    /// counts[problem][budget] = (n, c).
    counts: Vec<Vec<(u32, u32)>>,
    /// The largest k every cell supports (k <= n).
    pub max_samples: u32,
    /// mean_pass[k-1][budget], made non-decreasing in the budget, for k up to
    /// `limits::MEASURED_TABLE_SAMPLES`; larger k are computed on demand, so memory does not
    /// depend on the rows' n (docs/limits.md).
    mean_pass: Vec<Vec<f64>>,
}

/// Group rows by model; every model must have every (problem, budget) cell exactly once.
pub fn curves_from_rows(rows: &[EvalRow]) -> Result<BTreeMap<String, MeasuredCurve>> {
    let mut by_model: BTreeMap<&str, Vec<(usize, &EvalRow)>> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        r.check(i)?;
        by_model.entry(&r.model).or_default().push((i, r));
    }
    if by_model.is_empty() {
        return Err(PlanError::invalid("rows", "no results"));
    }
    by_model
        .into_iter()
        .map(|(model, rows)| Ok((model.to_string(), MeasuredCurve::new(model, &rows)?)))
        .collect()
}

impl MeasuredCurve {
    /// `rows`: the model's rows with their index among all rows (an error names the row).
    fn new(model: &str, rows: &[(usize, &EvalRow)]) -> Result<Self> {
        let mut budgets: Vec<f64> = rows.iter().map(|(_, r)| r.gen_tokens).collect();
        budgets.sort_by(f64::total_cmp);
        budgets.dedup();
        let mut problems: Vec<String> = rows.iter().map(|(_, r)| r.problem.clone()).collect();
        problems.sort();
        problems.dedup();
        let mut counts = vec![vec![None; budgets.len()]; problems.len()];
        for &(i, r) in rows {
            let p = problems.binary_search(&r.problem).expect("collected above");
            let b = budgets
                .binary_search_by(|x| x.total_cmp(&r.gen_tokens))
                .expect("collected above");
            if counts[p][b].replace((r.n, r.c)).is_some() {
                return Err(PlanError::invalid(
                    "rows",
                    format!(
                        "{model}: problem '{}' at {} tokens appears twice",
                        r.problem, r.gen_tokens
                    ),
                )
                .at_index(i));
            }
        }
        let counts: Vec<Vec<(u32, u32)>> = counts
            .into_iter()
            .zip(&problems)
            .map(|(row, problem)| {
                row.into_iter()
                    .zip(&budgets)
                    .map(|(cell, b)| {
                        cell.ok_or_else(|| {
                            PlanError::invalid(
                                "rows",
                                format!("{model}: problem '{problem}' has no result at {b} tokens"),
                            )
                        })
                    })
                    .collect()
            })
            .collect::<Result<_>>()?;
        let max_samples = counts.iter().flatten().map(|&(n, _)| n).min().unwrap_or(0);
        let mean_pass = (1..=max_samples.min(MEASURED_TABLE_SAMPLES))
            .map(|k| Self::mean_envelope(&counts, budgets.len(), k))
            .collect();
        Ok(MeasuredCurve {
            budgets,
            problems,
            counts,
            max_samples,
            mean_pass,
        })
    }

    /// Mean pass@k over problems at each budget, made non-decreasing in the budget.
    fn mean_envelope(counts: &[Vec<(u32, u32)>], budgets: usize, k: u32) -> Vec<f64> {
        let mut best = 0.0f64;
        (0..budgets)
            .map(|b| {
                let mean = counts
                    .iter()
                    .map(|row| unbiased_pass_at_k(row[b].0, row[b].1, k))
                    .sum::<f64>()
                    / counts.len() as f64;
                // More tokens never hurt a budgeted policy: it may stop early.
                best = best.max(mean);
                best
            })
            .collect()
    }

    pub fn gen_range(&self) -> (f64, f64) {
        (
            self.budgets[0],
            *self.budgets.last().expect("at least one budget"),
        )
    }

    fn locate(&self, gen_tokens: f64) -> (usize, f64) {
        locate(&self.budgets, gen_tokens)
    }

    /// Mean pass@k with at most `gen_tokens` tokens (k <= max_samples).
    pub fn accuracy(&self, gen_tokens: f64, samples: u32) -> f64 {
        let k = samples.clamp(1, self.max_samples.max(1));
        match self.mean_pass.get((k - 1) as usize) {
            Some(row) => interpolate(row, self.locate(gen_tokens)),
            None => interpolate(
                &Self::mean_envelope(&self.counts, self.budgets.len(), k),
                self.locate(gen_tokens),
            ),
        }
    }

    /// One problem's pass@k with at most `gen_tokens` tokens: its own results made monotone in
    /// the budget and interpolated like the mean (so the mean over problems is never below
    /// `accuracy`).
    pub fn problem_accuracy(&self, problem: usize, gen_tokens: f64, samples: u32) -> f64 {
        let mut best = 0.0f64;
        let envelope: Vec<f64> = self.counts[problem]
            .iter()
            .map(|&(n, c)| {
                best = best.max(unbiased_pass_at_k(n, c, samples.clamp(1, n)));
                best
            })
            .collect();
        interpolate(&envelope, self.locate(gen_tokens))
    }
}
