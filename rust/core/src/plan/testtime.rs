//! Problem 3 (docs/design.md#test-time-allocation, Kinetics): for a per-query budget, the model,
//! samples k, generation length L and attention that maximise accuracy; and the frontier over
//! budgets.
//!
//! Structure: for a fixed (model, attention, k), cost, latency and memory use all grow with L
//! while accuracy never falls, so the best L is the largest one every constraint allows, found
//! by a bracketed root search on ln L. Models, attention choices and k are enumerated.

use super::Constraint;
use crate::cancel;
use crate::catalog::{Hardware, Model};
use crate::cost::{
    Attention, Batch, Binding, InferenceCost, InferenceOptions, InferenceQuery, Pricer,
};
use crate::error::{check, PlanError, Result};
use crate::limits;
use crate::testtime::{Curve, MeasuredCurve};

/// A model that may serve the query, with its accuracy curve.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub model: Model,
    pub curve: Curve,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BudgetUnit {
    /// FLOPs only, memory traffic free (the pricing Kinetics argues against).
    Flops,
    Eflops,
    /// Replica time charged to the query.
    Seconds,
    Usd,
}

impl BudgetUnit {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "flops" => Ok(BudgetUnit::Flops),
            "eflops" => Ok(BudgetUnit::Eflops),
            "seconds" => Ok(BudgetUnit::Seconds),
            "usd" => Ok(BudgetUnit::Usd),
            _ => Err(PlanError::invalid(
                "unit",
                format!("unknown budget unit '{s}' (expected flops, eflops, seconds or usd)"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            BudgetUnit::Flops => "flops",
            BudgetUnit::Eflops => "eflops",
            BudgetUnit::Seconds => "seconds",
            BudgetUnit::Usd => "usd",
        }
    }
}

/// Accuracies closer than this are equal when choosing between configurations; the cheaper
/// one wins.
const ACCURACY_TIE: f64 = 1e-12;

#[derive(Debug, Clone)]
pub struct TestTimeOptions {
    pub hardware: Hardware,
    pub inference: InferenceOptions,
    pub prompt_tokens: f64,
    pub unit: BudgetUnit,
    pub max_samples: u32,
    pub attention: Vec<Attention>,
    pub latency_slo_s: Option<f64>,
    pub min_gen_tokens: f64,
    pub max_gen_tokens: Option<f64>,
    pub usd_per_hour: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TestTimePlan {
    pub candidate: usize,
    pub attention: usize,
    pub samples: u32,
    pub gen_tokens: f64,
    pub accuracy: f64,
    /// Cost of one query in the budget's unit.
    pub cost: f64,
    pub eflops: f64,
    pub seconds: f64,
    pub latency_s: f64,
    pub feasible: bool,
    pub binding: Constraint,
}

impl TestTimePlan {
    /// No plan: every quantity is NaN (not applicable), never 0 (docs/planning.md);
    /// `candidate`, `attention` and `samples` are meaningless when `feasible` is false.
    fn none(binding: Constraint) -> Self {
        TestTimePlan {
            candidate: 0,
            attention: 0,
            samples: 0,
            gen_tokens: f64::NAN,
            accuracy: f64::NAN,
            cost: f64::NAN,
            eflops: f64::NAN,
            seconds: f64::NAN,
            latency_s: f64::NAN,
            feasible: false,
            binding,
        }
    }
}

/// What rules a (model, attention, k) configuration out at the shortest generation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Blocker {
    Budget,
    Latency,
    Memory,
    Context,
}

/// One (model, attention): everything that depends on neither k nor L, checked once. The
/// configurations of a group, one per k, are made on the fly, so memory does not grow with
/// k_max (docs/limits.md).
struct Group<'a> {
    candidate: usize,
    attention_index: usize,
    pricer: Pricer,
    curve: &'a Curve,
    attention: Attention,
    lo: f64,
    hi: f64,
    /// What sets `hi`: the eval's longest measured length, `max_gen_tokens` or the context.
    hi_binding: Constraint,
    k_max: u32,
}

impl Group<'_> {
    fn config(&self, prompt: f64, samples: u32) -> Config<'_> {
        Config {
            pricer: &self.pricer,
            curve: self.curve,
            prompt,
            samples,
            attention: self.attention,
            lo: self.lo,
            hi: self.hi,
            hi_binding: self.hi_binding,
        }
    }
}

/// One (model, attention, k).
struct Config<'a> {
    pricer: &'a Pricer,
    curve: &'a Curve,
    prompt: f64,
    samples: u32,
    attention: Attention,
    lo: f64,
    hi: f64,
    hi_binding: Constraint,
}

/// Every k up to this is tried; above it, k steps geometrically (by 1/64 of itself, so at most
/// ~540 values up to `limits::MAX_SAMPLES`) and the best step is refined over the integers
/// between its neighbours. The work of a plan is thereby bounded whatever k_max is.
const DENSE_SAMPLES: u32 = 256;

/// The k after `k` in a group's scan (None after k_max).
fn next_samples(k: u32, k_max: u32) -> Option<u32> {
    (k < k_max).then(|| {
        if k < DENSE_SAMPLES {
            k + 1
        } else {
            (k + k.div_ceil(64)).min(k_max)
        }
    })
}

pub struct TestTimeSolver<'a> {
    candidates: &'a [Candidate],
    opt: &'a TestTimeOptions,
    usd_per_second: f64,
    groups: Vec<Group<'a>>,
}

/// First step (in ln L) away from the previous k's root when bracketing the next one; it grows
/// 4x a step until the root is bracketed.
const ROOT_STEP: f64 = 0.05;

/// What a plan keeps of one pricing: its cost in the budget's unit and the reported figures
/// (a few numbers, so a length search carries them without copying a whole `InferenceCost`).
#[derive(Debug, Clone, Copy)]
struct Priced {
    cost: f64,
    eflops: f64,
    seconds: f64,
    latency_s: f64,
}

/// What one budget's scan has found so far.
struct Scan {
    best: Option<TestTimePlan>,
    per_candidate: Vec<f64>,
    oracle: Option<Vec<f64>>,
    blocker: Option<Blocker>,
}

impl<'a> TestTimeSolver<'a> {
    pub fn new(candidates: &'a [Candidate], opt: &'a TestTimeOptions) -> Result<Self> {
        if candidates.is_empty() {
            return Err(PlanError::invalid("models", "must list at least one model"));
        }
        if opt.attention.is_empty() {
            return Err(PlanError::invalid(
                "attention",
                "must list at least one choice",
            ));
        }
        check::non_negative("prompt_tokens", opt.prompt_tokens)?;
        check::positive("min_gen_tokens", opt.min_gen_tokens)?;
        limits::check_samples("k_max", opt.max_samples)?;
        if let Some(slo) = opt.latency_slo_s {
            check::positive("latency_slo_s", slo)?;
        }
        if let Some(max) = opt.max_gen_tokens {
            check::positive("max_gen_tokens", max)?;
            if max < opt.min_gen_tokens {
                return Err(PlanError::invalid(
                    "max_gen_tokens",
                    format!(
                        "must be at least min_gen_tokens ({}), got {max}",
                        opt.min_gen_tokens
                    ),
                ));
            }
        }
        if let Some(price) = opt.usd_per_hour {
            check::positive("usd_per_hour", price)?;
        }
        let usd_per_second = match opt.unit {
            BudgetUnit::Usd => {
                let price = opt
                    .usd_per_hour
                    .or(opt.hardware.usd_per_hour)
                    .ok_or_else(|| {
                        PlanError::invalid(
                            "usd_per_hour",
                            "a USD budget needs a price (none in the catalog)",
                        )
                    })?;
                check::positive("usd_per_hour", price)? / 3600.0
            }
            _ => 0.0,
        };
        let mut groups = Vec::new();
        for (ci, cand) in candidates.iter().enumerate() {
            let pricer = Pricer::new(&cand.model, &opt.hardware, &opt.inference)?;
            let (curve_lo, curve_hi) = cand
                .curve
                .gen_range()
                .unwrap_or((opt.min_gen_tokens, f64::INFINITY));
            let context_room = cand.model.max_context as f64 - opt.prompt_tokens;
            let lo = curve_lo.max(opt.min_gen_tokens);
            let option_hi = opt.max_gen_tokens.unwrap_or(f64::INFINITY);
            let hi = curve_hi.min(option_hi).min(context_room);
            // On a tie the cap that cannot be relaxed through the options is named.
            let hi_binding = if hi == context_room {
                Constraint::Context
            } else if hi == curve_hi {
                Constraint::MeasuredLength
            } else {
                Constraint::MaxGenTokens
            };
            let mut k_max = cand
                .curve
                .max_samples()
                .map_or(opt.max_samples, |m| m.min(opt.max_samples));
            if let Batch::Fixed(b) = opt.inference.batch {
                // A query's samples decode together inside the batch.
                k_max = k_max.min(b as u32);
            }
            if k_max == 0 {
                continue; // a fixed batch below one, refused by Pricer::new already
            }
            for (ai, &attention) in opt.attention.iter().enumerate() {
                attention.validate()?;
                groups.push(Group {
                    candidate: ci,
                    attention_index: ai,
                    pricer: pricer.clone(),
                    curve: &cand.curve,
                    attention,
                    lo,
                    hi,
                    hi_binding,
                    k_max,
                });
            }
        }
        Ok(TestTimeSolver {
            candidates,
            opt,
            usd_per_second,
            groups,
        })
    }

    fn cost_of(&self, c: &InferenceCost) -> f64 {
        match self.opt.unit {
            BudgetUnit::Flops => c.flops,
            BudgetUnit::Eflops => c.eflops,
            BudgetUnit::Seconds => c.seconds,
            BudgetUnit::Usd => c.gpu_seconds * self.usd_per_second,
        }
    }

    fn price(&self, cfg: &Config<'_>, gen: f64) -> InferenceCost {
        let q = InferenceQuery {
            prompt_tokens: cfg.prompt,
            gen_tokens: gen,
            samples: f64::from(cfg.samples),
            attention: cfg.attention,
        };
        cfg.pricer
            .price(&q)
            .expect("query validated by construction")
    }

    /// Slack of the tightest constraint at `gen` (<= 0 where every constraint holds).
    fn excess(&self, cfg: &Config<'_>, gen: f64, budget: f64) -> (f64, Option<Blocker>) {
        let (e, why, _) = self.excess_cost(cfg, gen, budget);
        (e, why)
    }

    /// [`Self::excess`] with the cost it priced.
    fn excess_cost(
        &self,
        cfg: &Config<'_>,
        gen: f64,
        budget: f64,
    ) -> (f64, Option<Blocker>, Priced) {
        let c = self.price(cfg, gen);
        let (e, why) = self.excess_of(cfg, &c, budget);
        (e, why, self.priced(&c))
    }

    /// What a plan keeps of a pricing.
    fn priced(&self, c: &InferenceCost) -> Priced {
        Priced {
            cost: self.cost_of(c),
            eflops: c.eflops,
            seconds: c.seconds,
            latency_s: c.latency_s,
        }
    }

    /// The excess of one priced point. Where the KV cache is what does not fit, its excess is
    /// continuous in L (the cache over the free memory, less 1), so the length search can
    /// take secant steps to a memory wall instead of halving (docs/solvers.md); any other
    /// misfit (the weights, the context) is 1.
    fn excess_of(
        &self,
        cfg: &Config<'_>,
        c: &InferenceCost,
        budget: f64,
    ) -> (f64, Option<Blocker>) {
        let memory = c.kv_memory_bytes_per_query / cfg.pricer.free_memory() - 1.0;
        if !c.feasible {
            let e = match c.binding {
                Binding::KvCache if memory.is_finite() => memory.max(f64::MIN_POSITIVE),
                _ => 1.0,
            };
            return (e, Some(Blocker::Memory));
        }
        let memory = memory.min(0.0);
        let over_budget = self.cost_of(c) / budget - 1.0;
        let over_latency = self
            .opt
            .latency_slo_s
            .map_or(f64::NEG_INFINITY, |slo| c.latency_s / slo - 1.0);
        let (e, why) = if over_latency > over_budget {
            (
                over_latency,
                (over_latency > 0.0).then_some(Blocker::Latency),
            )
        } else {
            (over_budget, (over_budget > 0.0).then_some(Blocker::Budget))
        };
        // Feasible memory is at most 0: it only matters when every other excess is below it.
        if e <= 0.0 && memory > e {
            (memory, None)
        } else {
            (e, why)
        }
    }

    /// The largest allowed L for one configuration, or what rules it out; with the cost at
    /// that L when it was priced there exactly (so `record` need not price it again).
    /// `hint` is the previous k's root (ln L) in a scan where more samples never fit longer
    /// generations (`monotone`): then no larger k fits at `hi` when the previous one did not,
    /// and a bracket found from the hint needs no pricing at `lo` (a shorter generation than
    /// a feasible one is feasible). Each saving skips a pricing whose outcome is known, so
    /// the root is the one the full search finds (docs/solvers.md).
    fn longest(
        &self,
        cfg: &Config<'_>,
        budget: f64,
        hint: Option<f64>,
        monotone: bool,
    ) -> std::result::Result<(f64, Constraint, Option<Priced>), Blocker> {
        if cfg.lo > cfg.hi {
            return Err(Blocker::Context);
        }
        let ln_lo = cfg.lo.ln();
        let hi_known_out = monotone && hint.is_some_and(|h| h < cfg.hi.ln());
        let near = hint.and_then(|h| self.bracket_near(cfg, budget, h, ln_lo));
        // Bracket [a, b] in ln L with excess(a) <= 0 < excess(b); Illinois false position.
        let ((mut a, mut fa), (mut b, mut fb, mut why_b)) = match near {
            Some(bracket) => bracket,
            None => {
                let (at_lo, why) = self.excess(cfg, cfg.lo, budget);
                if at_lo > 0.0 {
                    return Err(why.unwrap_or(Blocker::Budget));
                }
                if cfg.hi.is_finite() && !hi_known_out {
                    let (at_hi, _, c_hi) = self.excess_cost(cfg, cfg.hi, budget);
                    if at_hi <= 0.0 {
                        return Ok((cfg.hi, cfg.hi_binding, Some(c_hi)));
                    }
                }
                let b = if cfg.hi.is_finite() {
                    cfg.hi.ln()
                } else {
                    ln_lo + 1.0
                };
                let (fb, why_b) = self.excess(cfg, b.exp(), budget);
                ((ln_lo, at_lo), (b, fb, why_b))
            }
        };
        // Tripling steps pass ln(f64::MAX) within a few dozen; there L is infinite, the cost
        // too, and the excess positive (a NaN excess ends the growth as well).
        for _ in 0..limits::MAX_SEARCH_STEPS {
            if fb > 0.0 || fb.is_nan() || cancel::fired() {
                break;
            }
            a = b;
            fa = fb;
            b += 2.0 * (b - ln_lo).max(1.0);
            (fb, why_b) = self.excess(cfg, b.exp(), budget);
        }
        let mut side = 0i8;
        let mut cost_a: Option<(f64, Priced)> = None;
        for _ in 0..200 {
            let tol = 1e-13 * b.abs().max(1.0);
            if b - a <= tol || cancel::fired() {
                break;
            }
            // A memory jump (fb = 1) makes the secant step meaningless: bisect instead. An end
            // exactly on the root (fa = 0) is tested from just above.
            let x = if fa == 0.0 {
                a + 0.5 * tol
            } else if fb >= 1.0 || fa > 0.0 {
                0.5 * (a + b)
            } else {
                (a * fb - b * fa) / (fb - fa)
            };
            // Once an end is the root to rounding, the secant lands within the tolerance of it
            // (or on it) and Illinois would close the bracket by halving (~15 evaluations):
            // half the tolerance inside it closes the bracket in one (docs/solvers.md).
            let x = if x.is_nan() {
                0.5 * (a + b)
            } else {
                x.clamp(a + 0.5 * tol, b - 0.5 * tol)
            };
            let (fx, why, c) = self.excess_cost(cfg, x.exp(), budget);
            if fx <= 0.0 {
                a = x;
                fa = fx;
                cost_a = Some((x, c));
                if side == -1 {
                    fb *= 0.5;
                }
                side = -1;
            } else {
                b = x;
                fb = fx;
                why_b = why;
                if side == 1 {
                    fa *= 0.5;
                }
                side = 1;
            }
        }
        let binding = match why_b {
            Some(Blocker::Latency) => Constraint::Latency,
            Some(Blocker::Memory) => Constraint::Memory,
            _ => Constraint::Budget,
        };
        // The cost at a.exp() is known when a was last set by a pricing at that same point.
        let cost = cost_a.filter(|&(x, _)| x == a).map(|(_, c)| c);
        Ok((a.exp(), binding, cost))
    }

    /// A bracket [a, b] around the root near `h` (the previous k's root, ln L), both inside
    /// (ln lo, ln hi): steps of ROOT_STEP growing 4x from `h` towards the root. None where `h`
    /// is outside the range or no bracket is found inside it (the caller then brackets the
    /// whole range). Returns ((a, excess(a)), (b, excess(b), what exceeds at b)).
    #[allow(clippy::type_complexity)]
    fn bracket_near(
        &self,
        cfg: &Config<'_>,
        budget: f64,
        h: f64,
        ln_lo: f64,
    ) -> Option<((f64, f64), (f64, f64, Option<Blocker>))> {
        let ln_hi = cfg.hi.ln();
        if !(h > ln_lo && h < ln_hi) {
            return None;
        }
        let at = |x: f64| self.excess(cfg, x.exp(), budget);
        let (fh, why_h) = at(h);
        if fh.is_nan() {
            return None;
        }
        let mut step = ROOT_STEP;
        if fh <= 0.0 {
            // The root is above h.
            let (mut a, mut fa) = (h, fh);
            for _ in 0..limits::MAX_SEARCH_STEPS {
                let x = a + step;
                if x >= ln_hi {
                    return None;
                }
                let (fx, why) = at(x);
                if fx > 0.0 {
                    return Some(((a, fa), (x, fx, why)));
                }
                if fx.is_nan() {
                    return None;
                }
                (a, fa) = (x, fx);
                step *= 4.0;
            }
        } else {
            // The root is below h.
            let (mut b, mut fb, mut why_b) = (h, fh, why_h);
            for _ in 0..limits::MAX_SEARCH_STEPS {
                let x = b - step;
                if x <= ln_lo {
                    return None;
                }
                let (fx, why) = at(x);
                if fx <= 0.0 {
                    return Some(((x, fx), (b, fb, why_b)));
                }
                if fx.is_nan() {
                    return None;
                }
                (b, fb, why_b) = (x, fx, why);
                step *= 4.0;
            }
        }
        None
    }

    /// The best plan for one per-query budget.
    pub fn plan(&self, budget: f64) -> Result<TestTimePlan> {
        Ok(self.solve(budget)?.plan)
    }

    /// The best plan, each candidate's best accuracy and (measured curves on shared problems)
    /// the per-problem oracle, from one pass over the configurations.
    pub fn solve(&self, budget: f64) -> Result<Solution> {
        check::positive("budget", budget)?;
        cancel::check()?;
        let measured = self.measured_curves();
        let mut scan = Scan {
            best: None,
            per_candidate: vec![0.0f64; self.candidates.len()],
            oracle: measured.as_ref().map(|c| vec![0.0f64; c[0].problems.len()]),
            blocker: None,
        };
        for group in &self.groups {
            self.scan_group(group, budget, measured.as_deref(), &mut scan)?;
        }
        cancel::check()?;
        let plan = scan.best.map(|b| self.name_sample_cap(b));
        let plan = plan.unwrap_or_else(|| {
            TestTimePlan::none(match scan.blocker.unwrap_or(Blocker::Budget) {
                Blocker::Budget => Constraint::Budget,
                Blocker::Latency => Constraint::Latency,
                Blocker::Memory => Constraint::Memory,
                Blocker::Context => Constraint::Context,
            })
        });
        let oracle = scan.oracle.map(|b| b.iter().sum::<f64>() / b.len() as f64);
        // One accuracy source gives every candidate's curve: an eval is behind all or none.
        let eval_samples = self.candidates[0].curve.eval_samples().map(|_| {
            match plan
                .feasible
                .then(|| self.candidates[plan.candidate].curve.eval_samples())
                .flatten()
            {
                Some(n) => f64::from(n),
                None => f64::NAN,
            }
        });
        Ok(Solution {
            plan,
            per_candidate: scan.per_candidate,
            oracle,
            eval_samples,
        })
    }

    /// One (candidate, attention) group, k ascending. More samples cost more, so the longest
    /// allowed generation never grows with k: the last one found bounds every later k's, and
    /// accuracy at that length bounds theirs. A configuration whose bound cannot beat its
    /// candidate's best is skipped (unless the oracle needs every configuration), and once one
    /// k does not fit, no larger k does. Above DENSE_SAMPLES k steps geometrically and the
    /// best step is refined between its neighbours.
    fn scan_group(
        &self,
        group: &Group<'_>,
        budget: f64,
        measured: Option<&[&MeasuredCurve]>,
        scan: &mut Scan,
    ) -> Result<()> {
        let ci = group.candidate;
        let mut bound_gen: Option<f64> = None;
        // (accuracy, k, previous k tried, next k tried) of the group's best sparse step.
        let mut sparse_best: Option<(f64, u32, u32, Option<u32>)> = None;
        let mut previous = 0u32;
        let mut k = 1u32;
        // With a latency SLO, latency need not grow with k (a static batch's shared prefill
        // shrinks), so neither shortcut holds: every k of the scan is searched.
        let monotone = self.opt.latency_slo_s.is_none();
        loop {
            cancel::check()?;
            if let Some(entry) = sparse_best.as_mut() {
                if entry.3.is_none() {
                    entry.3 = Some(k);
                }
            }
            let cfg = group.config(self.opt.prompt_tokens, k);
            let skip = match (monotone, bound_gen, &scan.oracle) {
                (true, Some(g), None) => cfg.curve.accuracy(g, k) <= scan.per_candidate[ci],
                _ => false,
            };
            if !skip {
                // The previous k's root starts this k's search: within one budget, so a plan
                // does not depend on what else the solver was asked (docs/solvers.md).
                match self.longest(&cfg, budget, bound_gen.map(f64::ln), monotone) {
                    Ok((gen, binding, cost)) => {
                        bound_gen = Some(gen);
                        let accuracy =
                            self.record(group, &cfg, (gen, binding, cost), measured, scan);
                        if k > DENSE_SAMPLES && sparse_best.is_none_or(|b| accuracy > b.0) {
                            sparse_best = Some((accuracy, k, previous, None));
                        }
                    }
                    Err(why) => {
                        // Report the least fundamental reason: budget before latency, memory,
                        // context.
                        scan.blocker = Some(scan.blocker.map_or(why, |b| b.min(why)));
                        if monotone {
                            break;
                        }
                    }
                }
            }
            previous = k;
            match next_samples(k, group.k_max) {
                Some(next) => k = next,
                None => break,
            }
        }
        let Some((_, best_k, below, above)) = sparse_best else {
            return Ok(());
        };
        // Refine: ternary search over the integers on each side of the best step (accuracy
        // at the longest allowed generation is unimodal in k there in every model we ship;
        // where it is not, the result is still one of the configurations it tried).
        let mut lo = below + 1;
        let mut hi = above.map_or(best_k, |a| a - 1);
        let eval = |k: u32, scan: &mut Scan| -> Result<f64> {
            cancel::check()?;
            let cfg = group.config(self.opt.prompt_tokens, k);
            Ok(match self.longest(&cfg, budget, None, monotone) {
                Ok((gen, binding, cost)) => {
                    self.record(group, &cfg, (gen, binding, cost), measured, scan)
                }
                Err(_) => -1.0,
            })
        };
        for _ in 0..limits::MAX_SEARCH_STEPS {
            if hi < lo + 3 {
                break;
            }
            let m1 = lo + (hi - lo) / 3;
            let m2 = hi - (hi - lo) / 3;
            if eval(m1, scan)? < eval(m2, scan)? {
                lo = m1 + 1;
            } else {
                hi = m2 - 1;
            }
        }
        for k in lo..=hi {
            eval(k, scan)?;
        }
        Ok(())
    }

    /// Take one configuration's longest allowed generation into the scan; its accuracy.
    fn record(
        &self,
        group: &Group<'_>,
        cfg: &Config<'_>,
        (gen, binding, cost): (f64, Constraint, Option<Priced>),
        measured: Option<&[&MeasuredCurve]>,
        scan: &mut Scan,
    ) -> f64 {
        let ci = group.candidate;
        let accuracy = cfg.curve.accuracy(gen, cfg.samples);
        scan.per_candidate[ci] = scan.per_candidate[ci].max(accuracy);
        if let (Some(bests), Some(curves)) = (scan.oracle.as_mut(), measured) {
            for (p, b) in bests.iter_mut().enumerate() {
                *b = b.max(curves[ci].problem_accuracy(p, gen, cfg.samples));
            }
        }
        // Equal accuracy (to rounding in the length search: configurations held at the same
        // memory or length bound reach it through different searches) goes to the cheaper
        // configuration, so the plan never pays more for nothing.
        let contender = scan
            .best
            .is_none_or(|b| accuracy >= b.accuracy - ACCURACY_TIE);
        if contender {
            let c = cost.unwrap_or_else(|| self.priced(&self.price(cfg, gen)));
            let cost = c.cost;
            let better = scan.best.is_none_or(|b| {
                accuracy > b.accuracy + ACCURACY_TIE
                    || (accuracy >= b.accuracy - ACCURACY_TIE && cost < b.cost)
            });
            if better {
                scan.best = Some(TestTimePlan {
                    candidate: ci,
                    attention: group.attention_index,
                    samples: cfg.samples,
                    gen_tokens: gen,
                    accuracy,
                    cost,
                    eflops: c.eflops,
                    seconds: c.seconds,
                    latency_s: c.latency_s,
                    feasible: true,
                    binding,
                });
            }
        }
        accuracy
    }

    /// A plan whose budget is not spent stops at a cap on L (`binding` says which); when its k
    /// is at the candidate's cap too, the spare budget would go to samples, so the cap on k is
    /// what binds: the eval's samples per problem (pass@k is not measured beyond it), the
    /// batch (a query's samples decode together) or k_max (or the majority-vote limit,
    /// `limits::MAX_MAJORITY_SAMPLES`).
    fn name_sample_cap(&self, plan: TestTimePlan) -> TestTimePlan {
        let capped_by_length = matches!(
            plan.binding,
            Constraint::MaxGenTokens | Constraint::MeasuredLength | Constraint::Context
        );
        if !capped_by_length {
            return plan;
        }
        let curve = &self.candidates[plan.candidate].curve;
        let (eval, majority) = match curve {
            Curve::Measured(m) => (Some(m.max_samples), None),
            Curve::Beta(_) => (None, curve.max_samples()),
            // A fit prices any k (beyond its eval's n by extrapolation): k_max caps it.
            Curve::Fitted(_) => (None, None),
        };
        let batch = match self.opt.inference.batch {
            Batch::Fixed(b) => Some(b as u32),
            _ => None,
        };
        // On a tie the eval's n is named: raising k_max alone would change nothing.
        let cap = [
            (eval, Constraint::EvalSamples),
            (Some(self.opt.max_samples), Constraint::MaxSamples),
            (batch, Constraint::MaxSamples),
            (majority, Constraint::MaxSamples),
        ]
        .into_iter()
        .filter_map(|(k, c)| k.map(|k| (k, c)))
        .min_by_key(|&(k, _)| k);
        match cap {
            Some((k, c)) if plan.samples >= k => TestTimePlan { binding: c, ..plan },
            _ => plan,
        }
    }

    /// Every candidate's measured curve, when all are measured on the same problems (the
    /// per-problem oracle needs that).
    fn measured_curves(&self) -> Option<Vec<&MeasuredCurve>> {
        let curves: Vec<_> = self
            .candidates
            .iter()
            .map(|c| match &c.curve {
                Curve::Measured(m) => Some(m),
                Curve::Beta(_) | Curve::Fitted(_) => None,
            })
            .collect::<Option<_>>()?;
        let problems = &curves.first()?.problems;
        curves
            .iter()
            .all(|c| &c.problems == problems)
            .then_some(curves)
    }
}

/// One budget's answer: the plan, each candidate's best accuracy, and the per-problem oracle
/// (an upper bound, not a deployable policy; measured curves only).
#[derive(Debug, Clone, PartialEq)]
pub struct Solution {
    pub plan: TestTimePlan,
    pub per_candidate: Vec<f64>,
    pub oracle: Option<f64>,
    /// Samples per problem of the eval behind the chosen model's accuracy (measured counts or
    /// a fit; NaN where no configuration fits, None for a preset): a plan with more samples
    /// extrapolates a fit.
    pub eval_samples: Option<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::testtime::Aggregator;

    fn problem() -> (Vec<Candidate>, TestTimeOptions) {
        let c = Catalog::shipped();
        let preset = c.accuracy_preset("aime24-qwen3").unwrap();
        let candidates = ["qwen3-1.7b", "qwen3-8b", "qwen3-32b"]
            .iter()
            .map(|&m| Candidate {
                model: c.model(m).unwrap().clone(),
                curve: Curve::Beta(preset.curve(m, Aggregator::Coverage).unwrap()),
            })
            .collect();
        let options = TestTimeOptions {
            hardware: c.hardware("kinetics-b200").unwrap().clone(),
            inference: InferenceOptions {
                prefill: false,
                ..InferenceOptions::default()
            },
            prompt_tokens: 128.0,
            unit: BudgetUnit::Eflops,
            max_samples: 32,
            attention: vec![Attention::Dense],
            latency_slo_s: None,
            min_gen_tokens: 256.0,
            max_gen_tokens: None,
            usd_per_hour: None,
        };
        (candidates, options)
    }

    #[test]
    fn a_frontier_is_its_single_budget_plans_bit_for_bit_and_spends_each_budget() {
        // The solver keeps no state between budgets: in any order, one solver over a frontier
        // gives each budget's plan exactly as a fresh solver for that budget alone (the façade's
        // scalar and array forms agree exactly). Where the budget binds, the length search has
        // closed its bracket on the root: the cost is the budget to ~1e-13 in ln L.
        let (candidates, options) = problem();
        let budgets: Vec<f64> = (0..60).map(|i| 1e13 * 10f64.powf(0.1 * i as f64)).collect();
        let alone: Vec<TestTimePlan> = budgets
            .iter()
            .map(|&b| {
                TestTimeSolver::new(&candidates, &options)
                    .unwrap()
                    .plan(b)
                    .unwrap()
            })
            .collect();
        let mut shuffled: Vec<usize> = (0..budgets.len()).collect();
        shuffled.sort_by_key(|&i| (i * 37) % budgets.len());
        let orders = [
            (0..budgets.len()).collect::<Vec<_>>(),
            (0..budgets.len()).rev().collect(),
            shuffled,
        ];
        for order in orders {
            let shared = TestTimeSolver::new(&candidates, &options).unwrap();
            for &i in &order {
                let p = shared.plan(budgets[i]).unwrap();
                assert!(p == alone[i] || !p.feasible && !alone[i].feasible, "{i}");
            }
        }
        let mut bound = 0;
        for (p, &b) in alone.iter().zip(&budgets) {
            if p.feasible && p.binding == Constraint::Budget {
                bound += 1;
                assert!(p.cost <= b * (1.0 + 1e-12), "{b}: {p:?}");
                assert!(p.cost >= b * (1.0 - 1e-11), "{b}: {p:?}");
            }
        }
        assert!(bound > 30, "{bound} budget-bound plans");
    }
}
