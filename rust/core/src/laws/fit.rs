//! Fitting a loss law to a lab's own runs (docs/fitting.md).
//!
//! The method of Hoffmann et al. 2022 (Approach 3) as replicated by Besiroglu et al. 2024: the
//! law is written in log space as a log-sum-exp,
//!
//!   log L(N, D) = LSE(a - alpha ln N, b - beta ln D, e),   A = e^a, B = e^b, E = e^e,
//!
//! and theta = (a, b, e, alpha, beta) minimises the sum over runs of the Huber loss (threshold
//! delta) of the residual log L(N_i, D_i) minus ln loss_i, with L-BFGS (argmin, More-Thuente
//! line search) from the best points of a grid of starts, keeping the best end point. The
//! bootstrap resamples the runs with replacement and refits each resample warm-started from the
//! point fit, in parallel (rayon), each sample's random stream derived from (seed, sample index)
//! only, so the samples do not depend on the number of threads.

use argmin::core::{CostFunction, Executor, Gradient};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use rayon::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

use super::{DataLimit, FittedRange, LossLaw, LossUnits};
use crate::cancel;
use crate::error::{check, PlanError, Result};

/// Most bootstrap samples one fit may ask for.
pub const MAX_BOOTSTRAP: usize = 10_000;
/// Most runs one fit may take.
pub const MAX_RUNS: usize = 100_000;
/// Parameters of the Chinchilla form (E, A, B, alpha, beta): the fewest runs a fit accepts.
pub const N_PARAMS: usize = 5;
/// L-BFGS is started from this many of the best grid points (docs/fitting.md).
pub const N_STARTS: usize = 32;
/// Iteration cap of one L-BFGS run.
pub const MAX_ITERS: u64 = 1_000;
/// Relative gradient norm below which a fit counts as converged (see `stationary`).
pub const STATIONARY: f64 = 1e-5;
/// Largest log-loss residual of a fit that counts as exact (see `stationary`).
pub const EXACT: f64 = 1e-6;
/// Restarts of L-BFGS from its own end point (docs/fitting.md).
pub const MAX_RESTARTS: usize = 4;
/// Stop when the gradient's L2 norm, divided by the number of runs, is below this.
pub const TOL_GRAD: f64 = 1e-10;
/// Stop when one iteration changes the objective, divided by the number of runs, by less.
pub const TOL_COST: f64 = 1e-15;

/// The parametric forms a fit can take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FitForm {
    Chinchilla,
    /// Muennighoff et al. 2023: the Chinchilla form plus the decay constants R*_D and R*_N of
    /// repeated tokens and excess parameters, under `unique_tokens` (docs/fitting.md).
    Muennighoff,
}

impl FitForm {
    pub fn parse(name: &str) -> Result<Self> {
        match name {
            "chinchilla" => Ok(FitForm::Chinchilla),
            "muennighoff" => Ok(FitForm::Muennighoff),
            other => Err(PlanError::invalid(
                "form",
                format!("unknown form '{other}' (known: chinchilla, muennighoff)"),
            )),
        }
    }
}

/// What a fit is asked to do besides the runs.
#[derive(Debug, Clone)]
pub struct FitOptions {
    pub form: FitForm,
    /// Huber threshold on the log-loss residual.
    pub delta: f64,
    /// Number of bootstrap refits (0: none).
    pub bootstrap: usize,
    pub seed: u64,
    /// A data limit: each run's tokens are replaced by the effective tokens D' (Muennighoff et
    /// al. 2023, published R*_D) before fitting.
    pub unique_tokens: Option<f64>,
    /// Starting points in theta = (a, b, e, alpha, beta) instead of the grid (tests compare
    /// against another optimiser from the same start with this).
    pub starts: Option<Vec<[f64; 5]>>,
}

impl Default for FitOptions {
    fn default() -> Self {
        FitOptions {
            form: FitForm::Chinchilla,
            delta: 1e-3,
            bootstrap: 0,
            seed: 0,
            unique_tokens: None,
            starts: None,
        }
    }
}

/// Where the covariance of a fit comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CovarianceSource {
    /// The sample covariance of the bootstrap samples.
    Bootstrap,
    /// s^2 (J^T J)^-1 at the Huber optimum (Gauss-Newton), mapped to (E, A, B, alpha, beta) by
    /// the delta method: a local approximation, only when no bootstrap was asked for.
    GaussNewton,
    /// Neither: no bootstrap and too few runs (n = 5) or a singular J^T J.
    Unavailable,
}

impl CovarianceSource {
    pub fn as_str(&self) -> &'static str {
        match self {
            CovarianceSource::Bootstrap => "bootstrap",
            CovarianceSource::GaussNewton => "gauss-newton",
            CovarianceSource::Unavailable => "unavailable",
        }
    }
}

/// The outcome of a fit. Parameter vectors are in the order E, A, B, alpha, beta.
#[derive(Debug, Clone)]
pub struct LawFit {
    /// The fitted law (name `fitted(n=...)`); `None` when the fit did not converge or its
    /// end point is not a valid law (see `message`).
    pub law: Option<LossLaw>,
    /// The end point whatever it is (E, A, B, alpha, beta).
    pub params: [f64; 5],
    /// theta = (a, b, e, alpha, beta) of the end point.
    pub theta: [f64; 5],
    pub covariance: Option<[[f64; 5]; 5]>,
    pub covariance_source: CovarianceSource,
    /// Bootstrap samples, one row per resample.
    pub samples: Vec<[f64; 5]>,
    /// Form muennighoff: (R*_D, R*_N) of each bootstrap sample, row for row with `samples`
    /// (empty for the chinchilla form).
    pub repetition_samples: Vec<[f64; 2]>,
    /// Form muennighoff with a bootstrap: the 7 x 7 sample covariance of (E, A, B, alpha, beta,
    /// R*_D, R*_N); `covariance` is its upper-left 5 x 5.
    pub covariance7: Option<Vec<Vec<f64>>>,
    /// Bootstrap refits that did not meet the convergence test (still kept in `samples`).
    pub bootstrap_unconverged: usize,
    /// ln(fitted loss) - ln(observed loss), one per run, in input order.
    pub residuals: Vec<f64>,
    pub n_points: usize,
    /// Sum of Huber losses at the end point.
    pub objective: f64,
    pub converged: bool,
    /// Why the fit is not converged (empty when it is).
    pub message: String,
}

/// The runs in log space.
struct Runs {
    ln_n: Vec<f64>,
    ln_d: Vec<f64>,
    ln_l: Vec<f64>,
}

/// The Huber objective over runs `idx`, run `idx[k]` counted `w[k]` times (a bootstrap
/// resample as the distinct runs it drew and how often).
struct Objective<'a> {
    runs: &'a Runs,
    idx: &'a [usize],
    w: &'a [f64],
    delta: f64,
}

#[inline]
fn huber(r: f64, delta: f64) -> f64 {
    let a = r.abs();
    if a <= delta {
        0.5 * r * r
    } else {
        delta * (a - 0.5 * delta)
    }
}

/// log L at one run and the softmax weights of the three terms.
#[inline]
fn lse3(t: [f64; 3]) -> (f64, [f64; 3]) {
    let m = t[0].max(t[1]).max(t[2]);
    let w = [(t[0] - m).exp(), (t[1] - m).exp(), (t[2] - m).exp()];
    let s = w[0] + w[1] + w[2];
    (m + s.ln(), [w[0] / s, w[1] / s, w[2] / s])
}

impl Objective<'_> {
    #[inline]
    fn terms(&self, th: &[f64], i: usize) -> [f64; 3] {
        [
            th[0] - th[3] * self.runs.ln_n[i],
            th[1] - th[4] * self.runs.ln_d[i],
            th[2],
        ]
    }

    fn value(&self, th: &[f64]) -> f64 {
        self.idx
            .iter()
            .zip(self.w)
            .map(|(&i, &w)| w * huber(lse3(self.terms(th, i)).0 - self.runs.ln_l[i], self.delta))
            .sum()
    }

    fn value_grad(&self, th: &[f64]) -> (f64, [f64; 5]) {
        let mut f = 0.0;
        let mut g = [0.0; 5];
        for (&i, &c) in self.idx.iter().zip(self.w) {
            let (p, w) = lse3(self.terms(th, i));
            let r = p - self.runs.ln_l[i];
            f += c * huber(r, self.delta);
            let psi = c * r.clamp(-self.delta, self.delta);
            g[0] += psi * w[0];
            g[1] += psi * w[1];
            g[2] += psi * w[2];
            g[3] -= psi * w[0] * self.runs.ln_n[i];
            g[4] -= psi * w[1] * self.runs.ln_d[i];
        }
        (f, g)
    }
}

/// The objective as argmin sees it, remembering the best point it was asked about: a line search
/// that stops with an error (no more progress possible in floating point) still leaves it.
struct Tracked<'a> {
    obj: &'a Objective<'a>,
    best: Rc<RefCell<([f64; 5], f64)>>,
    /// Whether the call was cancelled: looked at before each evaluation (one pass over the
    /// runs, ~1 ms at 10^5 runs), and an evaluation then fails, which ends the solver's run.
    stop: Stop<'a>,
}

/// Whether the call's token has fired (docs/limits.md, "Cancellation"): the thread's current
/// token on the calling thread, the captured token on rayon's workers.
type Stop<'a> = &'a (dyn Fn() -> bool + Sync);

fn stopped() -> argmin::core::Error {
    argmin::core::Error::msg("cancelled")
}

impl Tracked<'_> {
    fn note(&self, p: &[f64], f: f64) {
        let mut b = self.best.borrow_mut();
        if f.is_finite() && f < b.1 && p.len() == 5 {
            *b = ([p[0], p[1], p[2], p[3], p[4]], f);
        }
    }
}

impl CostFunction for Tracked<'_> {
    type Param = Vec<f64>;
    type Output = f64;
    fn cost(&self, p: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        if (self.stop)() {
            return Err(stopped());
        }
        let f = self.obj.value(p);
        self.note(p, f);
        Ok(f)
    }
}

impl Gradient for Tracked<'_> {
    type Param = Vec<f64>;
    type Gradient = Vec<f64>;
    fn gradient(&self, p: &Self::Param) -> std::result::Result<Vec<f64>, argmin::core::Error> {
        if (self.stop)() {
            return Err(stopped());
        }
        let (f, g) = self.obj.value_grad(p);
        self.note(p, f);
        Ok(g.to_vec())
    }
}

/// One L-BFGS run from `start`: the best point seen, its objective, and whether the solver
/// stopped on its own convergence test (gradient or objective change below tolerance).
fn lbfgs(obj: &Objective<'_>, start: [f64; 5], stop: Stop<'_>) -> ([f64; 5], f64, bool) {
    let n = obj.w.iter().sum::<f64>().max(1.0);
    let best = Rc::new(RefCell::new((start, obj.value(&start))));
    let tracked = Tracked {
        obj,
        best: Rc::clone(&best),
        stop,
    };
    let solver = match LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(TOL_GRAD * n)
        .and_then(|s| s.with_tolerance_cost(TOL_COST * n))
    {
        Ok(s) => s,
        Err(_) => {
            let b = *best.borrow();
            return (b.0, b.1, false);
        }
    };
    let mut solver = Some(solver);
    let mut tracked = Some(tracked);
    // L-BFGS restarted (memory cleared) from its best point while that still lowers the
    // objective: a line search that stalls on the Huber kinks far from the optimum resumes.
    for _ in 0..MAX_RESTARTS {
        let (Some(sv), Some(tr)) = (solver.take(), tracked.take()) else {
            break;
        };
        let from = best.borrow().0;
        let before = best.borrow().1;
        drop(
            Executor::new(tr, sv)
                .configure(|s| s.param(from.to_vec()).max_iters(MAX_ITERS))
                .run(),
        );
        let after = best.borrow().1;
        if stop() || stationary(obj, &best.borrow().0) || after >= before * (1.0 - 1e-12) {
            break;
        }
        solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
            .with_tolerance_grad(TOL_GRAD * n)
            .and_then(|s| s.with_tolerance_cost(TOL_COST * n))
            .ok();
        tracked = Some(Tracked {
            obj,
            best: Rc::clone(&best),
            stop,
        });
    }
    let (th, f) = *best.borrow();
    (th, f, stationary(obj, &th))
}

/// The convergence test: the gradient at `th` is small relative to the objective's scale,
/// |g|_2 <= STATIONARY * n * delta (each run contributes at most delta * |d log L / d theta|).
/// Or the law reproduces every run to `EXACT` in log loss (an exact fit of noise-free runs,
/// where an ill-conditioned valley keeps the gradient test from being met to the last digit).
fn stationary(obj: &Objective<'_>, th: &[f64; 5]) -> bool {
    let exact = obj
        .idx
        .iter()
        .all(|&i| (lse3(obj.terms(th, i)).0 - obj.runs.ln_l[i]).abs() <= EXACT);
    if exact {
        return true;
    }
    let (_, g) = obj.value_grad(th);
    let norm = g.iter().map(|v| v * v).sum::<f64>().sqrt();
    norm.is_finite() && norm <= STATIONARY * obj.w.iter().sum::<f64>() * obj.delta
}

/// The grid of Besiroglu et al. 2024 (section 3): e in {-1, -0.5, .., 1}, a and b in
/// {0, 5, .., 25}, alpha and beta in {0, 0.5, .., 2}: 4,500 points. The objective is evaluated
/// at all of them and L-BFGS started from the `N_STARTS` best (docs/fitting.md).
fn grid_starts(runs: &Runs, delta: f64) -> Vec<[f64; 5]> {
    let es: Vec<f64> = (0..5).map(|k| -1.0 + 0.5 * k as f64).collect();
    let abs: Vec<f64> = (0..6).map(|k| 5.0 * k as f64).collect();
    let exps: Vec<f64> = (0..5).map(|k| 0.5 * k as f64).collect();
    let n = runs.ln_n.len();
    // exp(a - alpha ln N_i) for each (a, alpha), and likewise for (b, beta): the grid then costs
    // one logarithm per point and run.
    let table = |ln_x: &[f64]| -> Vec<Vec<f64>> {
        let mut t = Vec::with_capacity(abs.len() * exps.len());
        for &a in &abs {
            for &al in &exps {
                t.push(ln_x.iter().map(|&l| (a - al * l).exp()).collect());
            }
        }
        t
    };
    let u1 = table(&runs.ln_n);
    let u2 = table(&runs.ln_d);
    let mut scored: Vec<(f64, [f64; 5])> = Vec::with_capacity(4500);
    'grid: for (k1, v1) in u1.iter().enumerate() {
        for (k2, v2) in u2.iter().enumerate() {
            // Each (k1, k2) scores 5 points, 5 passes over the runs (~2 ms at 10^5 runs).
            if cancel::fired() {
                break 'grid;
            }
            for &e in &es {
                let ee = e.exp();
                let mut f = 0.0;
                for i in 0..n {
                    f += huber((v1[i] + v2[i] + ee).ln() - runs.ln_l[i], delta);
                }
                let th = [
                    abs[k1 / exps.len()],
                    abs[k2 / exps.len()],
                    e,
                    exps[k1 % exps.len()],
                    exps[k2 % exps.len()],
                ];
                scored.push((if f.is_finite() { f } else { f64::INFINITY }, th));
            }
        }
    }
    // Stable sort: ties keep grid order, so the starts are deterministic.
    scored.sort_by(|x, y| x.0.total_cmp(&y.0));
    scored.into_iter().take(N_STARTS).map(|s| s.1).collect()
}

/// SplitMix64: a small, well-mixed generator; each bootstrap sample seeds its own from
/// (seed, sample index).
pub(crate) struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn for_sample(seed: u64, sample: u64) -> Self {
        let mut outer = SplitMix64(seed);
        let base = outer.next();
        let mut g = SplitMix64(base ^ sample.wrapping_mul(0xD134_2543_DE82_EF95));
        g.next();
        g
    }

    /// Uniform in [0, n) (Lemire's multiply-shift; the bias is below 2^-40 for n < 2^24).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next() as u128 * n as u128) >> 64) as usize
    }
}

fn params_of(th: &[f64; 5]) -> [f64; 5] {
    [th[2].exp(), th[0].exp(), th[1].exp(), th[3], th[4]]
}

fn check_runs(params: &[f64], tokens: &[f64], loss: &[f64], opts: &FitOptions) -> Result<Runs> {
    let n = params.len();
    if tokens.len() != n {
        return Err(PlanError::invalid(
            "tokens",
            format!("has {} values but params has {n}", tokens.len()),
        ));
    }
    if loss.len() != n {
        return Err(PlanError::invalid(
            "loss",
            format!("has {} values but params has {n}", loss.len()),
        ));
    }
    if n > MAX_RUNS {
        return Err(PlanError::LimitExceeded {
            field: "params".into(),
            limit: MAX_RUNS as u64,
            got: n as u64,
        });
    }
    if n < N_PARAMS {
        return Err(PlanError::invalid(
            "params",
            format!("{n} runs are fewer than the {N_PARAMS} parameters of the law (E, A, B, alpha, beta)"),
        ));
    }
    if opts.bootstrap > MAX_BOOTSTRAP {
        return Err(PlanError::LimitExceeded {
            field: "bootstrap".into(),
            limit: MAX_BOOTSTRAP as u64,
            got: opts.bootstrap as u64,
        });
    }
    let delta = check::positive("delta", opts.delta)?;
    let _ = delta;
    let limit = match opts.unique_tokens {
        Some(u) => Some(DataLimit::new(u, None)?),
        None => None,
    };
    if let Some(starts) = &opts.starts {
        if starts.is_empty() {
            return Err(PlanError::invalid("starts", "must not be empty"));
        }
        for s in starts {
            for &v in s {
                check::finite("starts", v)?;
            }
        }
    }
    let mut runs = Runs {
        ln_n: Vec::with_capacity(n),
        ln_d: Vec::with_capacity(n),
        ln_l: Vec::with_capacity(n),
    };
    for i in 0..n {
        let at = |e: PlanError| e.at_index(i);
        let p = check::positive("params", params[i]).map_err(at)?;
        let d = check::positive("tokens", tokens[i]).map_err(at)?;
        let l = check::positive("loss", loss[i]).map_err(at)?;
        let d = limit.map_or(d, |lim| lim.effective_tokens(d));
        runs.ln_n.push(p.ln());
        runs.ln_d.push(d.ln());
        runs.ln_l.push(l.ln());
    }
    Ok(runs)
}

/// The best of L-BFGS runs from several starts (ties: the earlier start).
fn best_of(obj: &Objective<'_>, starts: &[[f64; 5]]) -> ([f64; 5], f64, bool) {
    let mut best: Option<([f64; 5], f64, bool)> = None;
    for &s in starts {
        if cancel::fired() {
            break;
        }
        let r = lbfgs(obj, s, &cancel::fired);
        if best.as_ref().is_none_or(|b| r.1 < b.1) {
            best = Some(r);
        }
    }
    best.unwrap_or((starts[0], f64::INFINITY, false))
}

/// Solve a 5x5 symmetric positive definite system by Cholesky; `None` when not positive definite.
#[allow(clippy::needless_range_loop)] // index arithmetic of small matrices
fn spd_inverse(m: &[[f64; 5]; 5]) -> Option<[[f64; 5]; 5]> {
    let mut l = [[0.0; 5]; 5];
    for i in 0..5 {
        for j in 0..=i {
            let mut s = m[i][j];
            for k in 0..j {
                s -= l[i][k] * l[j][k];
            }
            if i == j {
                if s <= m[i][i].abs() * 1e-13 || !s.is_finite() {
                    return None;
                }
                l[i][i] = s.sqrt();
            } else {
                l[i][j] = s / l[j][j];
            }
        }
    }
    let mut inv = [[0.0; 5]; 5];
    for col in 0..5 {
        // Solve L y = e_col, then L^T x = y.
        let mut y = [0.0; 5];
        for i in 0..5 {
            let mut s = if i == col { 1.0 } else { 0.0 };
            for k in 0..i {
                s -= l[i][k] * y[k];
            }
            y[i] = s / l[i][i];
        }
        let mut x = [0.0; 5];
        for i in (0..5).rev() {
            let mut s = y[i];
            for k in i + 1..5 {
                s -= l[k][i] * x[k];
            }
            x[i] = s / l[i][i];
        }
        for i in 0..5 {
            inv[i][col] = x[i];
        }
    }
    Some(inv)
}

/// s^2 (J^T J)^-1 in theta, mapped to (E, A, B, alpha, beta): d(E, A, B)/d(e, a, b) = (E, A, B).
#[allow(clippy::needless_range_loop)] // index arithmetic of small matrices
fn gauss_newton_covariance(runs: &Runs, th: &[f64; 5], residuals: &[f64]) -> Option<[[f64; 5]; 5]> {
    let n = residuals.len();
    if n <= N_PARAMS {
        return None;
    }
    let mut jtj = [[0.0; 5]; 5];
    for i in 0..n {
        let t = [
            th[0] - th[3] * runs.ln_n[i],
            th[1] - th[4] * runs.ln_d[i],
            th[2],
        ];
        let (_, w) = lse3(t);
        let j = [w[0], w[1], w[2], -w[0] * runs.ln_n[i], -w[1] * runs.ln_d[i]];
        for r in 0..5 {
            for c in 0..5 {
                jtj[r][c] += j[r] * j[c];
            }
        }
    }
    let s2 = residuals.iter().map(|r| r * r).sum::<f64>() / (n - N_PARAMS) as f64;
    let inv = spd_inverse(&jtj)?;
    let p = params_of(th);
    // theta index of each output parameter, and d(param)/d(theta).
    let src = [2usize, 0, 1, 3, 4];
    let scale = [p[0], p[1], p[2], 1.0, 1.0];
    let mut cov = [[0.0; 5]; 5];
    for r in 0..5 {
        for c in 0..5 {
            cov[r][c] = s2 * scale[r] * scale[c] * inv[src[r]][src[c]];
        }
    }
    cov.iter().flatten().all(|v| v.is_finite()).then_some(cov)
}

#[allow(clippy::needless_range_loop)] // index arithmetic of small matrices
fn sample_covariance(samples: &[[f64; 5]]) -> Option<[[f64; 5]; 5]> {
    let m = samples.len();
    if m < 2 {
        return None;
    }
    let mut mean = [0.0; 5];
    for s in samples {
        for k in 0..5 {
            mean[k] += s[k] / m as f64;
        }
    }
    let mut cov = [[0.0; 5]; 5];
    for s in samples {
        for r in 0..5 {
            for c in 0..5 {
                cov[r][c] += (s[r] - mean[r]) * (s[c] - mean[c]) / (m - 1) as f64;
            }
        }
    }
    cov.iter().flatten().all(|v| v.is_finite()).then_some(cov)
}

/// The range of the runs (tokens as the law sees them: D' under a data limit): plans outside it
/// carry `extrapolated`.
fn fitted_range(runs: &Runs) -> FittedRange {
    let range = |it: &mut dyn Iterator<Item = f64>| {
        it.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        })
    };
    let n = range(&mut runs.ln_n.iter().map(|v| v.exp()));
    let d = range(&mut runs.ln_d.iter().map(|v| v.exp()));
    let r = range(&mut runs.ln_d.iter().zip(&runs.ln_n).map(|(d, n)| (d - n).exp()));
    let l = range(&mut runs.ln_l.iter().map(|v| v.exp()));
    FittedRange {
        params_min: Some(n.0),
        params_max: Some(n.1),
        tokens_min: Some(d.0),
        tokens_max: Some(d.1),
        tokens_per_param_min: Some(r.0),
        tokens_per_param_max: Some(r.1),
        loss_min: Some(l.0),
        loss_max: Some(l.1),
    }
}

/// Fit a loss law to runs (parameters, training tokens, final loss), docs/fitting.md.
pub fn fit_law(params: &[f64], tokens: &[f64], loss: &[f64], opts: &FitOptions) -> Result<LawFit> {
    if opts.form == FitForm::Muennighoff {
        return muennighoff::fit(params, tokens, loss, opts);
    }
    let runs = check_runs(params, tokens, loss, opts)?;
    let n = runs.ln_n.len();
    let all: Vec<usize> = (0..n).collect();
    let ones = vec![1.0; n];
    let obj = Objective {
        runs: &runs,
        idx: &all,
        w: &ones,
        delta: opts.delta,
    };
    let starts = match &opts.starts {
        Some(s) => s.clone(),
        None => grid_starts(&runs, opts.delta),
    };
    cancel::check()?; // the grid stops early (with no starts, maybe) once the token fired
    let (theta, objective, mut converged) = best_of(&obj, &starts);
    cancel::check()?;
    let mut message = String::new();
    if !converged {
        message = format!(
            "L-BFGS did not meet its convergence test within {MAX_ITERS} iterations from any start"
        );
    }
    let p = params_of(&theta);
    if !objective.is_finite() || !p.iter().all(|v| v.is_finite()) {
        converged = false;
        message = "the fit ended at a non-finite point".into();
    }
    let residuals: Vec<f64> = (0..n)
        .map(|i| lse3(obj.terms(&theta, i)).0 - runs.ln_l[i])
        .collect();

    let mut samples = Vec::new();
    let mut bootstrap_unconverged = 0;
    if opts.bootstrap > 0 {
        // The call's token, checked on rayon's workers before each refit (docs/limits.md).
        let token = cancel::current();
        let fired = || token.as_ref().is_some_and(cancel::Cancel::is_fired);
        let results: Vec<Option<([f64; 5], bool)>> = (0..opts.bootstrap as u64)
            .into_par_iter()
            .map(|s| {
                if fired() {
                    return None;
                }
                let mut rng = SplitMix64::for_sample(opts.seed, s);
                let mut counts = vec![0u32; n];
                for _ in 0..n {
                    counts[rng.below(n)] += 1;
                }
                let idx: Vec<usize> = (0..n).filter(|&i| counts[i] > 0).collect();
                let w: Vec<f64> = idx.iter().map(|&i| f64::from(counts[i])).collect();
                let o = Objective {
                    runs: &runs,
                    idx: &idx,
                    w: &w,
                    delta: opts.delta,
                };
                let (th, _, ok) = lbfgs(&o, theta, &fired);
                Some((params_of(&th), ok))
            })
            .collect();
        if let Some(t) = token.as_ref().filter(|t| t.is_fired()) {
            return Err(t.error());
        }
        for r in results.into_iter().flatten() {
            if !r.1 {
                bootstrap_unconverged += 1;
            }
            samples.push(r.0);
        }
        if !samples.iter().flatten().all(|v| v.is_finite()) {
            converged = false;
            message = "a bootstrap refit ended at a non-finite point".into();
            samples.retain(|s| s.iter().all(|v| v.is_finite()));
        }
    }
    let (covariance, covariance_source) = if opts.bootstrap > 0 {
        match sample_covariance(&samples) {
            Some(c) => (Some(c), CovarianceSource::Bootstrap),
            None => (None, CovarianceSource::Unavailable),
        }
    } else {
        match gauss_newton_covariance(&runs, &theta, &residuals) {
            Some(c) => (Some(c), CovarianceSource::GaussNewton),
            None => (None, CovarianceSource::Unavailable),
        }
    };

    let mut law = None;
    if converged {
        let candidate = LossLaw {
            name: format!("fitted(n={n})"),
            description: format!(
                "fitted to {n} runs (Huber delta {}, {} bootstrap samples)",
                opts.delta, opts.bootstrap
            ),
            source: "scaleplan fit_law (docs/fitting.md)".into(),
            e: p[0],
            a: p[1],
            b: p[2],
            alpha: p[3],
            beta: p[4],
            farseer: None,
            // The runs' loss is taken to be in nats per token, the Chinchilla form's unit.
            units: LossUnits::NatsPerToken,
            repetition: None,
            error: None,
            fitted: Some(fitted_range(&runs)),
        };
        match candidate.validate() {
            Ok(()) => law = Some(candidate),
            Err(e) => {
                converged = false;
                message = format!(
                    "the best fit is not a valid law ({e}): the runs do not identify the law"
                );
            }
        }
    }
    Ok(LawFit {
        law,
        params: p,
        theta,
        covariance,
        covariance_source,
        samples,
        repetition_samples: Vec::new(),
        covariance7: None,
        bootstrap_unconverged,
        residuals,
        n_points: n,
        objective,
        converged,
        message,
    })
}

/// The Huber objective and its gradient in theta, for comparisons with other optimisers.
pub fn fit_objective(
    params: &[f64],
    tokens: &[f64],
    loss: &[f64],
    delta: f64,
    theta: [f64; 5],
) -> Result<(f64, [f64; 5])> {
    let opts = FitOptions {
        delta,
        ..FitOptions::default()
    };
    let runs = check_runs(params, tokens, loss, &opts)?;
    let all: Vec<usize> = (0..runs.ln_n.len()).collect();
    let ones = vec![1.0; all.len()];
    let obj = Objective {
        runs: &runs,
        idx: &all,
        w: &ones,
        delta,
    };
    Ok(obj.value_grad(&theta))
}

/// The data-constrained form (docs/fitting.md, "The muennighoff form"), in the two stages
/// Muennighoff et al. 2023 fitted it, then refined jointly: E, A, B, alpha, beta on the runs that
/// neither repeat data nor exceed the compute-optimal size for the unique data (the Chinchilla
/// fit above); R*_D and R*_N on all runs with those five fixed (a log grid, then Nelder-Mead);
/// then all seven together on all runs by Nelder-Mead from there (the repeated-data runs also
/// inform B and beta). A point estimate: no bootstrap, no covariance.
mod muennighoff {
    use argmin::core::{CostFunction, Executor};
    use argmin::solver::neldermead::NelderMead;

    use super::{fit_law, huber, FitForm, FitOptions, LawFit, N_PARAMS};
    use crate::cancel;
    use crate::error::{check, PlanError, Result};
    use crate::laws::{DataLimit, FittedRange, LossLaw, Repetition};

    /// The decay constants are searched in [R_MIN, R_MAX] (log-spaced grid, then Nelder-Mead).
    pub const R_MIN: f64 = 0.1;
    pub const R_MAX: f64 = 1000.0;
    const GRID: usize = 40;
    /// Nelder-Mead stops (an error out of the cost) once the call's token fires; the caller then
    /// returns `Cancelled` (docs/limits.md).
    fn stop_if_cancelled() -> std::result::Result<(), argmin::core::Error> {
        if cancel::fired() {
            return Err(argmin::core::Error::msg("cancelled"));
        }
        Ok(())
    }

    /// Relative rise of the objective below which a decay constant counts as not identified.
    pub const IDENTIFIED: f64 = 0.05;

    struct Stage2<'a> {
        law: &'a LossLaw,
        unique: f64,
        runs: &'a [(f64, f64, f64)],
        delta: f64,
    }

    impl<'a> Stage2<'a> {
        fn clone_ref(&self) -> Stage2<'a> {
            Stage2 {
                law: self.law,
                unique: self.unique,
                runs: self.runs,
                delta: self.delta,
            }
        }

        fn law_at(&self, x: &[f64]) -> LossLaw {
            LossLaw {
                repetition: Some(Repetition {
                    r_star_tokens: x[0].exp(),
                    r_star_params: x[1].exp(),
                }),
                ..self.law.clone()
            }
        }

        fn residuals(&self, x: &[f64]) -> Vec<f64> {
            let law = self.law_at(x);
            let limit = DataLimit {
                unique_tokens: self.unique,
                r_star: x[0].exp(),
            };
            self.runs
                .iter()
                .map(|&(n, d, l)| law.loss_limited(n, d, Some(&limit)).ln() - l.ln())
                .collect()
        }

        fn value(&self, x: &[f64]) -> f64 {
            let (lo, hi) = (R_MIN.ln(), R_MAX.ln());
            if x.iter().any(|&v| !(lo..=hi).contains(&v)) {
                return f64::INFINITY;
            }
            self.residuals(x)
                .iter()
                .map(|&r| huber(r, self.delta))
                .sum()
        }
    }

    impl CostFunction for Stage2<'_> {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, x: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
            stop_if_cancelled()?;
            Ok(self.value(x))
        }
    }

    pub fn fit(params: &[f64], tokens: &[f64], loss: &[f64], opts: &FitOptions) -> Result<LawFit> {
        let unique = opts.unique_tokens.ok_or_else(|| {
            PlanError::invalid(
                "unique_tokens",
                "is required for form 'muennighoff' (the unique tokens the runs repeat)",
            )
        })?;
        check::positive("unique_tokens", unique)?;
        // The runs as given (validated by the Chinchilla path's checks, without a data limit).
        let plain = FitOptions {
            form: FitForm::Chinchilla,
            unique_tokens: None,
            bootstrap: 0,
            ..opts.clone()
        };
        super::check_runs(params, tokens, loss, &plain)?;
        let runs: Vec<(f64, f64, f64)> = (0..params.len())
            .map(|i| (params[i], tokens[i], loss[i]))
            .collect();
        // Stage 1 on single-epoch runs, then again without those past U_N of that fit.
        let pick = |keep: &dyn Fn(&(f64, f64, f64)) -> bool| -> Vec<(f64, f64, f64)> {
            runs.iter().copied().filter(|r| keep(r)).collect()
        };
        let stage1 = |subset: &[(f64, f64, f64)]| -> Result<LawFit> {
            if subset.len() < N_PARAMS {
                return Err(PlanError::invalid(
                    "unique_tokens",
                    format!(
                        "form 'muennighoff' fits E, A, B, alpha, beta on the runs that do not \
                         repeat data (tokens <= unique_tokens = {unique:e}) nor exceed the \
                         compute-optimal size for it; {} such runs are fewer than {N_PARAMS}",
                        subset.len()
                    ),
                ));
            }
            let (n, d, l): (Vec<f64>, Vec<f64>, Vec<f64>) = (
                subset.iter().map(|r| r.0).collect(),
                subset.iter().map(|r| r.1).collect(),
                subset.iter().map(|r| r.2).collect(),
            );
            fit_law(&n, &d, &l, &plain)
        };
        let mut first = stage1(&pick(&|r| r.1 <= unique))?;
        if let Some(law) = first.law.clone() {
            let u_n = law.optimal_params_for_tokens(unique);
            let subset = pick(&|r| r.1 <= unique && r.0 <= u_n);
            if subset.len() < pick(&|r| r.1 <= unique).len() {
                first = stage1(&subset)?;
            }
        }
        let Some(base) = first.law.clone() else {
            return Ok(LawFit {
                message: format!("stage 1 (E, A, B, alpha, beta): {}", first.message),
                ..first
            });
        };
        let u_n = base.optimal_params_for_tokens(unique);
        if !runs.iter().any(|r| r.1 > unique) {
            return Err(PlanError::invalid(
                "tokens",
                format!(
                    "no run repeats data (tokens > unique_tokens = {unique:e}): R*_D cannot be \
                     fitted"
                ),
            ));
        }
        if !runs.iter().any(|r| r.0 > u_n) {
            return Err(PlanError::invalid(
                "params",
                format!(
                    "no run exceeds {u_n:e} parameters, the compute-optimal size for the unique \
                     tokens under the stage-1 law: R*_N cannot be fitted"
                ),
            ));
        }
        cancel::check()?;
        let stage2 = Stage2 {
            law: &base,
            unique,
            runs: &runs,
            delta: opts.delta,
        };
        // A log grid over both constants, then Nelder-Mead from its best point.
        let (lo, hi) = (R_MIN.ln(), R_MAX.ln());
        let at = |k: usize| lo + (hi - lo) * k as f64 / GRID as f64;
        let mut best = (vec![at(0), at(0)], f64::INFINITY);
        for i in 0..=GRID {
            for j in 0..=GRID {
                let x = vec![at(i), at(j)];
                let v = stage2.value(&x);
                if v < best.1 {
                    best = (x, v);
                }
            }
            cancel::check()?;
        }
        let step = (hi - lo) / GRID as f64;
        let x0 = best.0.clone();
        let simplex = vec![
            x0.clone(),
            vec![x0[0] + step, x0[1]],
            vec![x0[0], x0[1] + step],
        ];
        let solver = NelderMead::new(simplex)
            .with_sd_tolerance(1e-14)
            .map_err(|e| PlanError::invalid("form", format!("Nelder-Mead: {e}")))?;
        let (x, objective) = match Executor::new(stage2.clone_ref(), solver)
            .configure(|state| state.max_iters(2_000))
            .run()
        {
            Ok(r) => match r.state.best_param {
                Some(p) if r.state.best_cost <= best.1 => (p, r.state.best_cost),
                _ => best,
            },
            Err(_) => best,
        };
        cancel::check()?;
        // Stage 3: all seven on all runs, from stage 2's point.
        let joint = Joint {
            unique,
            runs: &runs,
            delta: opts.delta,
            base: &base,
        };
        let y: Vec<f64> = first
            .theta
            .iter()
            .copied()
            .chain(x.iter().copied())
            .collect();
        let (y, objective) = refine(&joint, y, objective, step)?;
        cancel::check()?;
        let x = vec![y[5], y[6]];
        let theta = [y[0], y[1], y[2], y[3], y[4]];
        let base = joint.law_at(&y);
        let stage2 = Stage2 {
            law: &base,
            unique,
            runs: &runs,
            delta: opts.delta,
        };
        let mut converged = first.converged && base.validate().is_ok();
        let mut message = if converged {
            String::new()
        } else {
            "the joint refinement ended at an invalid law".into()
        };
        // Identified: moving the constant to either end of its range must cost more than
        // IDENTIFIED of the objective (else the runs cannot tell it from "no decay" or "no
        // value"), and the estimate must not sit on an end.
        for (k, name) in [(0, "R*_D"), (1, "R*_N")] {
            let moved = |v: f64| {
                let mut z = y.clone();
                z[5 + k] = v;
                joint.value(&z)
            };
            let least = moved(lo).min(moved(hi));
            if x[k] < lo + 1e-3 || x[k] > hi - 1e-3 || least <= objective * (1.0 + IDENTIFIED) {
                converged = false;
                message = format!(
                    "{name} = {:.4e} is not identified by the runs: moving it to an end of its \
                     range [{R_MIN}, {R_MAX}] changes the objective by less than {}%",
                    x[k].exp(),
                    IDENTIFIED * 100.0
                );
            }
        }
        // Bootstrap (docs/fitting.md, "The muennighoff form"): resample the runs and refit all
        // seven from the point estimate (warm start), in parallel; a refit that ends at an
        // invalid law is dropped and counted.
        let mut samples: Vec<[f64; 5]> = Vec::new();
        let mut repetition_samples: Vec<[f64; 2]> = Vec::new();
        let mut bootstrap_unconverged = 0;
        if opts.bootstrap > 0 && converged {
            use rayon::prelude::*;
            let token = cancel::current();
            let n = runs.len();
            let one = |s: u64| -> Option<Option<[f64; 7]>> {
                if cancel::fired() {
                    return None;
                }
                let mut rng = super::SplitMix64::for_sample(opts.seed, s);
                let drawn: Vec<(f64, f64, f64)> = (0..n).map(|_| runs[rng.below(n)]).collect();
                let j = Joint {
                    unique,
                    runs: &drawn,
                    delta: opts.delta,
                    base: &base,
                };
                let start = j.value(&y);
                let (yb, _) = refine(&j, y.clone(), start, step).ok()?;
                let law = j.law_at(&yb);
                Some(law.validate().ok().map(|()| {
                    [
                        law.e,
                        law.a,
                        law.b,
                        law.alpha,
                        law.beta,
                        yb[5].exp(),
                        yb[6].exp(),
                    ]
                }))
            };
            let results: Vec<Option<Option<[f64; 7]>>> = (0..opts.bootstrap as u64)
                .into_par_iter()
                .map(|s| match &token {
                    Some(t) => cancel::scope(t, || one(s)),
                    None => one(s),
                })
                .collect();
            cancel::check()?;
            for r in results {
                match r {
                    Some(Some(v)) => {
                        samples.push([v[0], v[1], v[2], v[3], v[4]]);
                        repetition_samples.push([v[5], v[6]]);
                    }
                    Some(None) => bootstrap_unconverged += 1,
                    None => return Err(PlanError::Cancelled { deadline: false }),
                }
            }
        }
        let covariance7 = covariance_of(&samples, &repetition_samples);
        let covariance = covariance7.as_ref().map(|c| {
            let mut out = [[0.0; 5]; 5];
            for (i, row) in out.iter_mut().enumerate() {
                row.copy_from_slice(&c[i][..5]);
            }
            out
        });
        let fitted = stage2.law_at(&x);
        let limit = DataLimit {
            unique_tokens: unique,
            r_star: x[0].exp(),
        };
        let residuals = stage2.residuals(&x);
        let effective: Vec<f64> = runs.iter().map(|r| limit.effective_tokens(r.1)).collect();
        let range = |v: &mut dyn Iterator<Item = f64>| {
            v.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| {
                (a.min(x), b.max(x))
            })
        };
        let np = range(&mut runs.iter().map(|r| r.0));
        let nd = range(&mut effective.iter().copied());
        let nr = range(&mut runs.iter().zip(&effective).map(|(r, d)| d / r.0));
        let nl = range(&mut runs.iter().map(|r| r.2));
        let n = runs.len();
        let law = converged.then(|| LossLaw {
            name: format!("fitted(n={n})"),
            description: format!(
                "muennighoff form fitted to {n} runs with {unique:e} unique tokens (Huber delta \
                 {}, {} bootstrap samples of all seven parameters)",
                opts.delta, opts.bootstrap
            ),
            fitted: Some(FittedRange {
                params_min: Some(np.0),
                params_max: Some(np.1),
                tokens_min: Some(nd.0),
                tokens_max: Some(nd.1),
                tokens_per_param_min: Some(nr.0),
                tokens_per_param_max: Some(nr.1),
                loss_min: Some(nl.0),
                loss_max: Some(nl.1),
            }),
            ..fitted
        });
        Ok(LawFit {
            law,
            params: super::params_of(&theta),
            theta,
            covariance_source: if covariance.is_some() {
                super::CovarianceSource::Bootstrap
            } else {
                super::CovarianceSource::Unavailable
            },
            covariance,
            covariance7,
            samples,
            repetition_samples,
            bootstrap_unconverged,
            residuals,
            n_points: n,
            objective,
            converged,
            message,
        })
    }

    /// Nelder-Mead on all seven from `y` (up to three restarts while it still improves): the
    /// refinement of the point fit and of every bootstrap refit.
    fn refine(
        joint: &Joint<'_>,
        mut y: Vec<f64>,
        mut objective: f64,
        step: f64,
    ) -> Result<(Vec<f64>, f64)> {
        for _ in 0..3 {
            let steps = [0.05, 0.05, 0.02, 0.01, 0.01, step, step];
            let mut simplex = vec![y.clone()];
            for (k, h) in steps.iter().enumerate() {
                let mut v = y.clone();
                v[k] += h;
                simplex.push(v);
            }
            let solver = NelderMead::new(simplex)
                .with_sd_tolerance(1e-15)
                .map_err(|e| PlanError::invalid("form", format!("Nelder-Mead: {e}")))?;
            let Ok(r) = Executor::new(joint.clone_ref(), solver)
                .configure(|state| state.max_iters(10_000))
                .run()
            else {
                break;
            };
            match r.state.best_param {
                Some(p) if r.state.best_cost < objective => {
                    let gain = objective - r.state.best_cost;
                    y = p;
                    objective = r.state.best_cost;
                    if gain <= 1e-12 * objective.abs().max(1e-300) {
                        break;
                    }
                }
                _ => break,
            }
            cancel::check()?;
        }
        Ok((y, objective))
    }

    /// The sample covariance of the seven parameters (None with fewer than 2 samples).
    fn covariance_of(samples: &[[f64; 5]], repetition: &[[f64; 2]]) -> Option<Vec<Vec<f64>>> {
        let m = samples.len();
        if m < 2 {
            return None;
        }
        let rows: Vec<[f64; 7]> = samples
            .iter()
            .zip(repetition)
            .map(|(p, r)| [p[0], p[1], p[2], p[3], p[4], r[0], r[1]])
            .collect();
        let mean: Vec<f64> = (0..7)
            .map(|j| rows.iter().map(|r| r[j]).sum::<f64>() / m as f64)
            .collect();
        Some(
            (0..7)
                .map(|i| {
                    (0..7)
                        .map(|j| {
                            rows.iter()
                                .map(|r| (r[i] - mean[i]) * (r[j] - mean[j]))
                                .sum::<f64>()
                                / (m - 1) as f64
                        })
                        .collect()
                })
                .collect(),
        )
    }

    /// All seven parameters, theta = (a, b, e, alpha, beta, ln R*_D, ln R*_N).
    struct Joint<'a> {
        unique: f64,
        runs: &'a [(f64, f64, f64)],
        delta: f64,
        base: &'a LossLaw,
    }

    impl<'a> Joint<'a> {
        fn clone_ref(&self) -> Joint<'a> {
            Joint {
                unique: self.unique,
                runs: self.runs,
                delta: self.delta,
                base: self.base,
            }
        }

        fn law_at(&self, y: &[f64]) -> LossLaw {
            LossLaw {
                e: y[2].exp(),
                a: y[0].exp(),
                b: y[1].exp(),
                alpha: y[3],
                beta: y[4],
                repetition: Some(Repetition {
                    r_star_tokens: y[5].exp(),
                    r_star_params: y[6].exp(),
                }),
                ..self.base.clone()
            }
        }

        fn value(&self, y: &[f64]) -> f64 {
            let (lo, hi) = (R_MIN.ln(), R_MAX.ln());
            if !(y[3] > 0.0 && y[4] > 0.0) || y[5..].iter().any(|&v| !(lo..=hi).contains(&v)) {
                return f64::INFINITY;
            }
            let law = self.law_at(y);
            let limit = DataLimit {
                unique_tokens: self.unique,
                r_star: y[5].exp(),
            };
            self.runs
                .iter()
                .map(|&(n, d, l)| {
                    huber(
                        law.loss_limited(n, d, Some(&limit)).ln() - l.ln(),
                        self.delta,
                    )
                })
                .sum()
        }
    }

    impl CostFunction for Joint<'_> {
        type Param = Vec<f64>;
        type Output = f64;
        fn cost(&self, y: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
            stop_if_cancelled()?;
            Ok(self.value(y))
        }
    }
}
