//! Fitting test-time accuracy to per-problem eval counts (docs/fitting.md, "Test-time
//! accuracy"): for each (model, generation length), the per-problem success probability p is
//! taken as Beta(a, b) and (a, b) found by maximum likelihood of the beta-binomial over
//! problems, so pass@k = 1 - B(a, b+k)/B(a, b) extends past the eval's n (the approach of
//! Schaeffer et al. 2025, arXiv:2502.17578). Intervals: a percentile bootstrap over problems,
//! deterministic per seed.
//!
//! The solve is a damped Newton method in (ln a, ln b) with the exact Hessian (digamma and
//! trigamma): two parameters and a smooth, usually concave objective need nothing more, and
//! a line search keeps every step an ascent. The likelihood depends on the data only through
//! how many problems share each (n, c), so a group and each bootstrap resample are reduced to
//! those cells first.

use std::collections::BTreeMap;

use rayon::prelude::*;

use super::measured::{interpolate, locate, EvalRow};
use super::passk::{ln_gamma_ratio, pass_at_k_ab};
use crate::cancel;
use crate::error::{PlanError, Result};
use crate::laws::fit::SplitMix64;

/// Most eval rows one fit reads (docs/limits.md).
pub const MAX_ROWS: usize = 1_000_000;
/// Most bootstrap resamples of one fit (the law fit's limit).
pub const MAX_BOOTSTRAP: usize = crate::laws::fit::MAX_BOOTSTRAP;
/// ln a and ln b are searched in [-LN_BOUND, LN_BOUND]; an optimum at an end is a likelihood
/// still rising towards a = 0, b = 0 or a + b = infinity: no finite fit (reported unconverged).
pub const LN_BOUND: f64 = 18.0;
/// A fit whose concentration a + b exceeds this is taken as no spread at all: per-problem
/// success would vary by less than 0.05 percentage points (sd <= 0.5 / sqrt(a + b + 1)), which
/// no eval distinguishes from none; the likelihood then rises on towards a + b = infinity.
pub const MAX_KAPPA: f64 = 1e6;
/// Below this concentration every problem is all-or-nothing to the eval.
pub const MIN_KAPPA: f64 = 1e-4;
const MAX_ITERATIONS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccuracyFitOptions {
    /// Bootstrap resamples of the problems per (model, length); 0 for no intervals.
    pub bootstrap: usize,
    pub seed: u64,
}

/// The fit of one (model, generation length).
#[derive(Debug, Clone, PartialEq)]
pub struct GroupFit {
    pub model: String,
    pub gen_tokens: f64,
    /// Problems evaluated.
    pub problems: usize,
    /// The fewest samples of any problem: pass@k is measured (unbiased estimator) up to it.
    pub eval_samples: u32,
    /// Mean over problems of c/n (the measured pass@1).
    pub pass1: f64,
    /// The fit; None when there is no finite maximum-likelihood fit (`message` says why).
    pub params: Option<(f64, f64)>,
    /// Log-likelihood at the fit (the binomial coefficients left out); NaN without a fit.
    pub log_likelihood: f64,
    pub converged: bool,
    pub message: String,
    /// Bootstrap (a, b), resamples without a finite fit left out.
    pub samples: Vec<[f64; 2]>,
    /// Resamples without a finite fit (all-or-nothing, all wrong, ...).
    pub bootstrap_failed: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AccuracyFit {
    /// By model, then ascending length.
    pub groups: Vec<GroupFit>,
}

/// How many problems share each (n, c): the sufficient statistic of the likelihood.
type Cells = Vec<(u32, u32, f64)>;

fn cells_of(counts: impl Iterator<Item = ((u32, u32), f64)>) -> Cells {
    let mut map: BTreeMap<(u32, u32), f64> = BTreeMap::new();
    for (key, w) in counts {
        if w > 0.0 {
            *map.entry(key).or_default() += w;
        }
    }
    map.into_iter().map(|((n, c), w)| (n, c, w)).collect()
}

/// Digamma by recurrence to x >= 10 and the asymptotic series (error below 1e-15 there).
pub(crate) fn digamma(mut x: f64) -> f64 {
    let mut r = 0.0;
    while x < 10.0 {
        r -= 1.0 / x;
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + x.ln()
        - 0.5 / x
        - f * (1.0 / 12.0 - f * (1.0 / 120.0 - f * (1.0 / 252.0 - f * (1.0 / 240.0 - f / 132.0))))
}

/// Trigamma, likewise.
pub(crate) fn trigamma(mut x: f64) -> f64 {
    let mut r = 0.0;
    while x < 10.0 {
        r += 1.0 / (x * x);
        x += 1.0;
    }
    let f = 1.0 / (x * x);
    r + 1.0 / x + 0.5 * f + f / x * (1.0 / 6.0 - f * (1.0 / 30.0 - f * (1.0 / 42.0 - f / 30.0)))
}

/// Beta-binomial log-likelihood of the cells at (a, b), without the binomial coefficients:
/// sum w [ln Γ(a+c)/Γ(a) + ln Γ(b+n-c)/Γ(b) - ln Γ(a+b+n)/Γ(a+b)].
pub fn log_likelihood(cells: &[(u32, u32, f64)], a: f64, b: f64) -> f64 {
    cells
        .iter()
        .map(|&(n, c, w)| {
            let (n, c) = (f64::from(n), f64::from(c));
            w * (ln_gamma_ratio(a, c) + ln_gamma_ratio(b, n - c) - ln_gamma_ratio(a + b, n))
        })
        .sum()
}

/// Log-likelihood, gradient and Hessian in (u, v) = (ln a, ln b).
fn derivatives(cells: &Cells, u: f64, v: f64) -> (f64, [f64; 2], [[f64; 3]; 1]) {
    let (a, b) = (u.exp(), v.exp());
    let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
    let (dab, tab) = (digamma(a + b), trigamma(a + b));
    let (da, ta, db, tb) = (digamma(a), trigamma(a), digamma(b), trigamma(b));
    for &(n, c, w) in cells {
        let (n, c) = (f64::from(n), f64::from(c));
        let (dn, tn) = (digamma(a + b + n), trigamma(a + b + n));
        let common_d = dab - dn;
        let common_t = tab - tn;
        let (dac, tac) = if c > 0.0 {
            (digamma(a + c) - da, trigamma(a + c) - ta)
        } else {
            (0.0, 0.0)
        };
        let (dbc, tbc) = if n - c > 0.0 {
            (digamma(b + n - c) - db, trigamma(b + n - c) - tb)
        } else {
            (0.0, 0.0)
        };
        ga += w * (dac + common_d);
        gb += w * (dbc + common_d);
        haa += w * (tac + common_t);
        hbb += w * (tbc + common_t);
        hab += w * common_t;
    }
    let f = log_likelihood(cells, a, b);
    let g = [a * ga, b * gb];
    let h = [[a * a * haa + a * ga, a * b * hab, b * b * hbb + b * gb]];
    (f, g, h)
}

/// The end of a solve: (ln a, ln b), log-likelihood, and why it is not a fit (None: it is).
struct Solve {
    u: f64,
    v: f64,
    f: f64,
    failure: Option<String>,
}

/// Maximise the log-likelihood from (u, v) by damped Newton steps with backtracking.
fn maximise(cells: &Cells, mut u: f64, mut v: f64) -> Solve {
    let weight: f64 = cells.iter().map(|c| c.2).sum();
    let tol = 1e-12 * weight.max(1.0);
    let mut f = f64::NAN;
    for _ in 0..MAX_ITERATIONS {
        let (f0, g, [[huu, huv, hvv]]) = derivatives(cells, u, v);
        f = f0;

        if !f.is_finite() {
            return Solve {
                u,
                v,
                f,
                failure: Some("the likelihood is not finite".into()),
            };
        }
        let det = huu * hvv - huv * huv;
        // Within a factor e^0.5 of the search's edge counts as at it, and so does a
        // concentration a + b outside [MIN_KAPPA, MAX_KAPPA].
        let kappa = u.exp() + v.exp();
        let at_bound = u.abs() >= LN_BOUND - 0.5
            || v.abs() >= LN_BOUND - 0.5
            || !(MIN_KAPPA..=MAX_KAPPA).contains(&kappa);
        let concave = huu < 0.0 && det > 0.0;
        let newton = [
            -(hvv * g[0] - huv * g[1]) / det,
            -(-huv * g[0] + huu * g[1]) / det,
        ];
        // A maximum: a concave point whose Newton step is below 1e-7 in ln a and ln b (a
        // likelihood flattening out towards an infinite a + b has a small gradient but a long
        // step), or whose gradient vanishes.
        let step = newton[0].abs().max(newton[1].abs());
        if !at_bound
            && concave
            && (step < 1e-7 || (g[0].abs().max(g[1].abs()) <= tol && step < 1e-4))
        {
            return Solve {
                u,
                v,
                f,
                failure: None,
            };
        }
        // Newton where the Hessian is negative definite, else steepest ascent.
        let mut d = if concave {
            newton
        } else {
            let scale = (huu.abs() + hvv.abs()).max(weight);
            [g[0] / scale, g[1] / scale]
        };
        let len = d[0].abs().max(d[1].abs());
        if len > 2.0 {
            d = [2.0 * d[0] / len, 2.0 * d[1] / len];
        }
        let slope = g[0] * d[0] + g[1] * d[1];
        let mut t = 1.0;
        let mut moved = false;
        for _ in 0..60 {
            let (nu, nv) = (
                (u + t * d[0]).clamp(-LN_BOUND, LN_BOUND),
                (v + t * d[1]).clamp(-LN_BOUND, LN_BOUND),
            );
            let fnew = log_likelihood(cells, nu.exp(), nv.exp());
            if fnew.is_finite() && fnew >= f + 1e-4 * t * slope.max(0.0) && (nu, nv) != (u, v) {
                (u, v) = (nu, nv);
                moved = true;
                break;
            }
            t *= 0.5;
        }
        if !moved {
            // No step gains beyond the rounding of the log-likelihood: at a concave point a
            // short Newton step away, that is the maximum to the precision of f.
            if !at_bound && concave && step < 1e-4 {
                return Solve {
                    u,
                    v,
                    f,
                    failure: None,
                };
            }
            break;
        }
    }
    let (a, b) = (u.exp(), v.exp());
    let at_edge = u.abs() >= LN_BOUND - 0.5 || v.abs() >= LN_BOUND - 0.5;
    // Where the search ended says which way the likelihood rises.
    let failure = if at_edge || a + b < MIN_KAPPA || a + b > MAX_KAPPA {
        if a + b < MIN_KAPPA {
            "the likelihood keeps rising as a, b -> 0: every problem looks all-or-nothing, \
             so the spread of per-problem success is not identified"
                .to_string()
        } else if a + b > MAX_KAPPA {
            "the likelihood keeps rising as a + b -> infinity: the problems look alike (no \
             spread beyond binomial noise), so a beta fit would claim what the data do not show"
                .to_string()
        } else {
            format!(
                "the likelihood keeps rising towards the edge of the search (a = {a:.3e}, \
                 b = {b:.3e})"
            )
        }
    } else {
        format!("no convergence after {MAX_ITERATIONS} Newton steps")
    };
    Solve {
        u,
        v,
        f,
        failure: Some(failure),
    }
}

/// A start by the method of moments (intra-class correlation at the mean n), kept inside the
/// search box.
fn moments_start(cells: &Cells) -> (f64, f64) {
    let (mut w, mut sn, mut sc, mut sp, mut sp2) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &(n, c, k) in cells {
        let p = f64::from(c) / f64::from(n);
        w += k;
        sn += k * f64::from(n);
        sc += k * f64::from(c);
        sp += k * p;
        sp2 += k * p * p;
    }
    let m = (sc / sn).clamp(1e-3, 1.0 - 1e-3);
    let nbar = sn / w;
    let var = (sp2 / w - (sp / w).powi(2)).max(0.0);
    let rho = if nbar > 1.0 {
        ((var * nbar / (m * (1.0 - m)) - 1.0) / (nbar - 1.0)).clamp(1e-3, 0.999)
    } else {
        0.5
    };
    let kappa = 1.0 / rho - 1.0;
    ((m * kappa).ln(), ((1.0 - m) * kappa).ln())
}

/// Why a group has no finite fit whatever the solver does (None: try it). The documented
/// rules of docs/fitting.md.
fn degenerate(cells: &Cells) -> Option<String> {
    let problems: f64 = cells.iter().map(|c| c.2).sum();
    if cells.iter().all(|&(_, c, _)| c == 0) {
        return Some(
            "no sample was correct on any problem: the likelihood rises without bound as the \
             mean -> 0, and pass@k beyond the eval is not identified"
                .into(),
        );
    }
    if cells.iter().all(|&(n, c, _)| c == n) {
        return Some(
            "every sample was correct: the likelihood rises without bound as the mean -> 1".into(),
        );
    }
    if cells.iter().all(|&(n, c, _)| c == 0 || c == n) && cells.iter().any(|&(n, _, _)| n > 1) {
        return Some(
            "every problem is all-or-nothing (c = 0 or c = n): the likelihood keeps rising as \
             a, b -> 0, so the spread of per-problem success is not identified"
                .into(),
        );
    }
    if problems < 2.0 {
        return Some(
            "one problem: its success rate is known, the spread across problems is not".into(),
        );
    }
    if cells.iter().all(|&(n, _, _)| n == 1) {
        return Some(
            "n = 1 on every problem: the data fix the mean only, not the spread of per-problem \
             success that pass@k at k > 1 depends on"
                .into(),
        );
    }
    None
}

/// Fit one set of cells from a start: ((a, b), log-likelihood) or why not.
fn fit_cells(cells: &Cells, start: Option<(f64, f64)>) -> std::result::Result<Solve, String> {
    if let Some(why) = degenerate(cells) {
        return Err(why);
    }
    let (u, v) = start.unwrap_or_else(|| moments_start(cells));
    let s = maximise(cells, u, v);
    match &s.failure {
        None => Ok(s),
        Some(why) => Err(why.clone()),
    }
}

/// One (model, length)'s rows: (n, c) per problem, with the row index of each.
struct Group<'a> {
    model: &'a str,
    gen_tokens: f64,
    counts: Vec<(u32, u32)>,
}

fn groups_of(rows: &[EvalRow]) -> Result<Vec<Group<'_>>> {
    if rows.is_empty() {
        return Err(PlanError::invalid("rows", "no results"));
    }
    if rows.len() > MAX_ROWS {
        return Err(PlanError::LimitExceeded {
            field: "rows".into(),
            limit: MAX_ROWS as u64,
            got: rows.len() as u64,
        });
    }
    // (model, length bits) -> problem -> (n, c)
    type ByGroup<'r> = BTreeMap<(&'r str, u64), BTreeMap<&'r str, (u32, u32)>>;
    let mut map: ByGroup<'_> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        r.check(i)?;
        let key = (r.model.as_str(), r.gen_tokens.to_bits());
        if map
            .entry(key)
            .or_default()
            .insert(&r.problem, (r.n, r.c))
            .is_some()
        {
            return Err(PlanError::invalid(
                "rows",
                format!(
                    "{}: problem '{}' at {} tokens appears twice",
                    r.model, r.problem, r.gen_tokens
                ),
            )
            .at_index(i));
        }
    }
    let mut groups: Vec<Group<'_>> = map
        .into_iter()
        .map(|((model, bits), problems)| Group {
            model,
            gen_tokens: f64::from_bits(bits),
            counts: problems.into_values().collect(),
        })
        .collect();
    groups.sort_by(|x, y| {
        x.model
            .cmp(y.model)
            .then(x.gen_tokens.total_cmp(&y.gen_tokens))
    });
    Ok(groups)
}

/// Fit every (model, generation length) of the rows.
pub fn fit_accuracy(rows: &[EvalRow], opts: &AccuracyFitOptions) -> Result<AccuracyFit> {
    if opts.bootstrap > MAX_BOOTSTRAP {
        return Err(PlanError::LimitExceeded {
            field: "bootstrap".into(),
            limit: MAX_BOOTSTRAP as u64,
            got: opts.bootstrap as u64,
        });
    }
    let groups = groups_of(rows)?;
    let token = cancel::current();
    let fired = || token.as_ref().is_some_and(cancel::Cancel::is_fired);
    let mut out = Vec::with_capacity(groups.len());
    for (gi, g) in groups.iter().enumerate() {
        cancel::check()?;
        let cells = cells_of(g.counts.iter().map(|&nc| (nc, 1.0)));
        let problems = g.counts.len();
        let eval_samples = g.counts.iter().map(|&(n, _)| n).min().unwrap_or(0);
        let pass1 = g
            .counts
            .iter()
            .map(|&(n, c)| f64::from(c) / f64::from(n))
            .sum::<f64>()
            / problems as f64;
        let fit = fit_cells(&cells, None);
        let (params, log_likelihood, converged, message) = match &fit {
            Ok(s) => (Some((s.u.exp(), s.v.exp())), s.f, true, String::new()),
            Err(why) => (None, f64::NAN, false, why.clone()),
        };
        let mut samples = Vec::new();
        let mut bootstrap_failed = 0;
        if let (Ok(s), true) = (&fit, opts.bootstrap > 0) {
            let start = (s.u, s.v);
            let stream = (gi as u64) << 40;
            let results: Vec<Option<Option<[f64; 2]>>> = (0..opts.bootstrap as u64)
                .into_par_iter()
                .map(|b| {
                    if fired() {
                        return None;
                    }
                    let mut rng = SplitMix64::for_sample(opts.seed, stream | b);
                    let mut weights = vec![0.0f64; problems];
                    for _ in 0..problems {
                        weights[rng.below(problems)] += 1.0;
                    }
                    let cells = cells_of(g.counts.iter().copied().zip(weights));
                    Some(
                        fit_cells(&cells, Some(start))
                            .ok()
                            .map(|s| [s.u.exp(), s.v.exp()]),
                    )
                })
                .collect();
            cancel::check()?;
            for r in results {
                match r {
                    Some(Some(ab)) => samples.push(ab),
                    Some(None) => bootstrap_failed += 1,
                    None => return Err(PlanError::Cancelled { deadline: false }),
                }
            }
        }
        out.push(GroupFit {
            model: g.model.to_string(),
            gen_tokens: g.gen_tokens,
            problems,
            eval_samples,
            pass1,
            params,
            log_likelihood,
            converged,
            message,
            samples,
            bootstrap_failed,
        });
    }
    Ok(AccuracyFit { groups: out })
}

/// A model's fitted accuracy over generation length, for the planners: pass@k from each
/// fitted length's (a, b), made non-decreasing in length and interpolated in ln length like
/// measured counts; unknown outside the lengths fitted.
#[derive(Debug, Clone, PartialEq)]
pub struct FittedCurve {
    /// Ascending lengths fitted.
    pub budgets: Vec<f64>,
    /// (a, b) at each length.
    pub params: Vec<(f64, f64)>,
    /// The fewest samples per problem the eval drew at any length: pass@k at larger k is the
    /// fit's extrapolation.
    pub eval_samples: u32,
}

impl FittedCurve {
    /// From one model's (length, a, b, eval samples) entries; an error names the entry.
    pub fn new(entries: &[(f64, f64, f64, u32)]) -> Result<Self> {
        if entries.is_empty() {
            return Err(PlanError::invalid("fit", "no fitted lengths"));
        }
        let mut sorted: Vec<(f64, f64, f64, u32)> = entries.to_vec();
        for (i, &(g, a, b, n)) in sorted.iter().enumerate() {
            let field = |f: &str| format!("fit.{f}");
            for (name, x) in [("gen_tokens", g), ("a", a), ("b", b)] {
                if !(x.is_finite() && x > 0.0) {
                    let reason = format!("must be finite and > 0, got {x}");
                    return Err(PlanError::invalid(field(name), reason).at_index(i));
                }
            }
            if n == 0 {
                return Err(PlanError::invalid(field("eval_samples"), "must be > 0").at_index(i));
            }
        }
        sorted.sort_by(|x, y| x.0.total_cmp(&y.0));
        if sorted.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(PlanError::invalid(
                "fit",
                "a model has two fits at one generation length",
            ));
        }
        Ok(FittedCurve {
            budgets: sorted.iter().map(|e| e.0).collect(),
            params: sorted.iter().map(|e| (e.1, e.2)).collect(),
            eval_samples: sorted.iter().map(|e| e.3).min().unwrap_or(1),
        })
    }

    pub fn gen_range(&self) -> (f64, f64) {
        (
            self.budgets[0],
            *self.budgets.last().expect("at least one length"),
        )
    }

    /// pass@k with at most `gen_tokens` tokens.
    pub fn accuracy(&self, gen_tokens: f64, samples: u32) -> f64 {
        let k = f64::from(samples.max(1));
        let (lo, w) = locate(&self.budgets, gen_tokens);
        let hi = (lo + 1).min(self.params.len() - 1);
        // More tokens never hurt a budgeted policy (it may stop early): the curve is pass@k's
        // running maximum over the lengths, of which only the two around gen_tokens are read,
        // so the lengths above them are not evaluated.
        let (mut best, mut at_lo) = (0.0f64, 0.0f64);
        for (i, &(a, b)) in self.params[..=hi].iter().enumerate() {
            best = best.max(pass_at_k_ab(a, b, k));
            if i == lo {
                at_lo = best;
            }
        }
        interpolate(&[at_lo, best], (0, w))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use libm::lgamma;

    #[test]
    fn digamma_and_trigamma_match_known_values_and_differences() {
        // psi(1) = -gamma, psi'(1) = pi^2/6, psi(1/2) = -gamma - 2 ln 2
        let euler = 0.577_215_664_901_532_9;
        assert!((digamma(1.0) + euler).abs() < 1e-13);
        assert!((digamma(0.5) + euler + 2.0 * 2f64.ln()).abs() < 1e-13);
        assert!((trigamma(1.0) - std::f64::consts::PI.powi(2) / 6.0).abs() < 1e-12);
        // against central differences of lgamma
        for x in [0.05, 0.7, 3.0, 12.0, 400.0] {
            let h = 1e-5 * x;
            let fd = (lgamma(x + h) - lgamma(x - h)) / (2.0 * h);
            assert!((digamma(x) - fd).abs() < 1e-6 * fd.abs().max(1.0), "{x}");
            let fd2 = (digamma(x + h) - digamma(x - h)) / (2.0 * h);
            assert!((trigamma(x) - fd2).abs() < 1e-5 * fd2.abs().max(1.0), "{x}");
        }
    }

    #[test]
    fn log_likelihood_by_hand() {
        // n = 2, c = 1, a = b = 1 (uniform p): P(c = 1) = 1/3 = C(2,1) B(2,2)/B(1,1) = 2 * 1/6;
        // without the coefficient: ln(1/6).
        let ll = log_likelihood(&[(2, 1, 1.0)], 1.0, 1.0);
        assert!((ll - (1.0f64 / 6.0).ln()).abs() < 1e-13);
    }

    #[test]
    fn gradient_and_hessian_match_finite_differences() {
        let cells: Cells = vec![(10, 0, 3.0), (10, 4, 2.0), (10, 10, 1.0), (7, 2, 1.0)];
        let (u, v) = (-0.4, 0.3);
        let (_, g, [[huu, huv, hvv]]) = derivatives(&cells, u, v);
        let f = |u: f64, v: f64| log_likelihood(&cells, u.exp(), v.exp());
        let h = 1e-5;
        let gu = (f(u + h, v) - f(u - h, v)) / (2.0 * h);
        let gv = (f(u, v + h) - f(u, v - h)) / (2.0 * h);
        assert!((g[0] - gu).abs() < 1e-6 && (g[1] - gv).abs() < 1e-6);
        let grad = |u: f64, v: f64| derivatives(&cells, u, v).1;
        let duu = (grad(u + h, v)[0] - grad(u - h, v)[0]) / (2.0 * h);
        let duv = (grad(u, v + h)[0] - grad(u, v - h)[0]) / (2.0 * h);
        let dvv = (grad(u, v + h)[1] - grad(u, v - h)[1]) / (2.0 * h);
        assert!((huu - duu).abs() < 1e-5 && (huv - duv).abs() < 1e-5 && (hvv - dvv).abs() < 1e-5);
    }
}
