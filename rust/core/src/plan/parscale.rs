//! Parallel streams as a serving lever (docs/design.md, "Parallel streams"; docs/planning.md,
//! "Parallel streams"): for a target loss, the stream count P and model size N that serve a
//! query most cheaply under a ParScale law, N in closed form per P; and the dual, the lowest
//! loss whose per-query cost fits a budget. Every candidate is priced by the cost model with
//! P streams (docs/cost-model.md, "Parallel streams") and must fit in memory at the batch in
//! use and meet the latency SLO when one is given.

use super::scalar::min_feasible;
use super::Constraint;
use crate::catalog::Hardware;
use crate::cost::{
    stream_extra_params, Attention, Batch, Binding, FamilyShapes, InferenceCost, InferenceOptions,
    InferenceQuery, Pricer,
};
use crate::error::{check, PlanError, Result};
use crate::laws::{check_streams, Extrapolated, FittedRange, ParScaleLaw};
use crate::limits::MAX_SEARCH_STEPS;

/// What the planner minimises per query (target loss), or what the budget is in (the dual).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamObjective {
    /// GPU-seconds charged to the query (its share of a batched replica).
    GpuSeconds,
    /// The query's end-to-end latency: time to first token plus its decode steps.
    Latency,
    /// FLOPs + I * bytes (Kinetics' eFLOPs).
    Eflops,
}

impl StreamObjective {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "gpu_seconds" => Ok(StreamObjective::GpuSeconds),
            "latency" => Ok(StreamObjective::Latency),
            "eflops" => Ok(StreamObjective::Eflops),
            _ => Err(PlanError::invalid(
                "objective",
                format!("unknown objective '{s}' (expected gpu_seconds, latency or eflops)"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            StreamObjective::GpuSeconds => "gpu_seconds",
            StreamObjective::Latency => "latency",
            StreamObjective::Eflops => "eflops",
        }
    }

    pub fn of(self, c: &InferenceCost) -> f64 {
        match self {
            StreamObjective::GpuSeconds => c.gpu_seconds,
            StreamObjective::Latency => c.latency_s,
            StreamObjective::Eflops => c.eflops,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StreamGoal {
    /// The cheapest (N, P) reaching this loss.
    TargetLoss(f64),
    /// The lowest loss whose per-query objective is at most this (in the objective's unit).
    Budget(f64),
}

#[derive(Debug, Clone)]
pub struct StreamOptions {
    pub family: FamilyShapes,
    pub hardware: Hardware,
    pub serving: InferenceOptions,
    pub attention: Attention,
    pub prompt_tokens: f64,
    pub gen_tokens: f64,
    pub samples: f64,
    /// Stream counts allowed (each one of `PARSCALE_STREAMS`).
    pub streams: Vec<f64>,
    pub objective: StreamObjective,
    /// Per-query latency SLO (seconds), if any.
    pub max_latency_s: Option<f64>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StreamPlan {
    /// P: parallel streams per sequence.
    pub streams: f64,
    /// N as the law counts it: non-embedding parameters, the streams' own included.
    pub params: f64,
    /// The backbone's non-embedding parameters: N less the streams' extra parameters.
    pub backbone_params: f64,
    pub loss: f64,
    /// The objective per query.
    pub cost: f64,
    pub gpu_seconds: f64,
    pub latency_s: f64,
    pub eflops: f64,
    pub batch: f64,
    pub max_batch: f64,
    pub weight_memory_bytes: f64,
    pub kv_memory_bytes_per_query: f64,
    /// The one-stream model of the same loss and its objective per query; NaN where it does
    /// not fit in memory (or, for the size, where there is no plan).
    pub single_stream_params: f64,
    pub single_stream_cost: f64,
    pub feasible: bool,
    pub binding: Constraint,
    pub extrapolated: Extrapolated,
}

impl StreamPlan {
    fn infeasible(binding: Constraint) -> Self {
        StreamPlan {
            streams: f64::NAN,
            params: f64::NAN,
            backbone_params: f64::NAN,
            loss: f64::NAN,
            cost: f64::NAN,
            gpu_seconds: f64::NAN,
            latency_s: f64::NAN,
            eflops: f64::NAN,
            batch: f64::NAN,
            max_batch: f64::NAN,
            weight_memory_bytes: f64::NAN,
            kv_memory_bytes_per_query: f64::NAN,
            single_stream_params: f64::NAN,
            single_stream_cost: f64::NAN,
            feasible: false,
            binding,
            extrapolated: Extrapolated::none(),
        }
    }
}

/// Smallest and largest N (the law's count) the dual searches (docs/planning.md, "Parallel
/// streams"): a plan at either names `min_params_default` or `max_params_default`.
pub const STREAM_MIN_PARAMS: f64 = 1e6;
pub const STREAM_MAX_PARAMS: f64 = 1e13;

/// Points per stream count of the dual's scan in ln N before bisection.
const SCAN_POINTS: usize = 1200;

/// Grid points of the target-loss search per stream count before Brent refinement
/// (`scalar::min_feasible`), and its tolerance in ln N.
const GRID: usize = 240;
const LN_TOL: f64 = 1e-11;

/// A candidate (N, P) priced: its cost and what, if anything, rules it out.
#[derive(Debug, Clone, Copy)]
struct Priced {
    cost: InferenceCost,
    value: f64,
    /// None: allowed; else the constraint it breaks.
    broken: Option<Constraint>,
}

struct Evaluator<'a> {
    opt: &'a StreamOptions,
    serving: InferenceOptions,
    query: InferenceQuery,
}

/// The backbone of a model of `params` (the law's N) run as `streams` streams.
pub fn backbone_params(params: f64, streams: f64) -> f64 {
    params / (1.0 + stream_extra_params(1.0, streams))
}

impl<'a> Evaluator<'a> {
    fn new(opt: &'a StreamOptions) -> Result<Self> {
        let query = InferenceQuery {
            prompt_tokens: opt.prompt_tokens,
            gen_tokens: opt.gen_tokens,
            samples: opt.samples,
            attention: opt.attention,
        };
        query.validate()?;
        if let Some(s) = opt.max_latency_s {
            check::positive("max_latency_s", s)?;
        }
        // A largest-that-fits batch is priced as a fleet average (a real number of queries),
        // which keeps the cost smooth in N (docs/planning.md, "Parallel streams").
        let serving = InferenceOptions {
            fractional_batch: true,
            ..opt.serving
        };
        serving.validate()?;
        Ok(Evaluator {
            opt,
            serving,
            query,
        })
    }

    /// The model of `params` (the law's N) at `streams` streams, priced and checked.
    fn price(&self, params: f64, streams: f64) -> Result<Priced> {
        let shape = self.opt.family.at(backbone_params(params, streams));
        let pricer =
            Pricer::for_shape(shape, &self.opt.hardware, &self.serving)?.with_streams(streams)?;
        let cost = pricer.price(&self.query)?;
        let broken = match cost.binding {
            Binding::Context => Some(Constraint::Context),
            Binding::Weights | Binding::KvCache => Some(Constraint::Memory),
            // A batch given as a number must fit whole, not be capped (docs/planning.md).
            Binding::None => match self.serving.batch {
                Batch::Fixed(b) if cost.max_batch < b => Some(Constraint::Memory),
                _ => match self.opt.max_latency_s {
                    Some(slo) if cost.latency_s > slo => Some(Constraint::Latency),
                    _ => None,
                },
            },
        };
        Ok(Priced {
            value: self.opt.objective.of(&cost),
            cost,
            broken,
        })
    }
}

/// Whether `a` is better than `b` by more than rounding (ties go to the fewer streams, tried
/// first).
fn lower(a: f64, b: f64) -> bool {
    a < b - 1e-12 * b.abs()
}

pub fn plan_streams(
    law: &ParScaleLaw,
    goal: StreamGoal,
    opt: &StreamOptions,
) -> Result<StreamPlan> {
    crate::cancel::check()?;
    let streams: Vec<f64> = check_streams("streams", &opt.streams)?
        .into_iter()
        .map(f64::from)
        .collect();
    let eval = Evaluator::new(opt)?;
    let plan = match goal {
        StreamGoal::TargetLoss(target) => {
            check::positive("target_loss", target)?;
            plan_target(law, target, &streams, &eval)?
        }
        StreamGoal::Budget(budget) => {
            check::positive("budget", budget)?;
            plan_budget(law, budget, &streams, &eval)?
        }
    };
    crate::cancel::check()?;
    Ok(plan)
}

fn plan_target(
    law: &ParScaleLaw,
    target: f64,
    streams: &[f64],
    eval: &Evaluator,
) -> Result<StreamPlan> {
    if target <= law.e {
        return Ok(StreamPlan::infeasible(Constraint::LossFloor));
    }
    let hi = STREAM_MAX_PARAMS.ln();
    // Per P, the least N reaching the target is the closed form; a larger one reaches it too
    // and may serve cheaper (a largest-that-fits batch shrinks as N grows, which can shorten a
    // query's latency), so the objective is minimised over N from there up. The best allowed
    // candidate, and the best one ignoring memory and the SLO, to name what binds.
    let mut allowed: Option<(f64, f64, f64)> = None; // (value, p, x)
    let mut any: Option<(f64, f64, f64)> = None;
    let mut seen = Vec::with_capacity(streams.len());
    for &p in streams {
        // Never below the smallest size searched (a loss target far above the fitted range
        // would otherwise ask for a model of a few parameters).
        let x0 = law
            .params_for(target, p)
            .expect("target above E")
            .ln()
            .max(STREAM_MIN_PARAMS.ln());
        // Pricing errors (none are expected for a validated query) count as not allowed.
        let value = |x: f64, strict: bool| match eval.price(x.exp(), p) {
            Ok(c) if c.broken.is_none() => c.value,
            Ok(c) if !strict && c.broken != Some(Constraint::Context) => c.value,
            _ => f64::INFINITY,
        };
        let tol = LN_TOL * hi.abs();
        let a = min_feasible(&|x| value(x, true), x0, hi.max(x0), GRID, tol);
        let u = min_feasible(&|x| value(x, false), x0, hi.max(x0), GRID, tol);
        if crate::cancel::fired() {
            return Err(crate::cancel::check().expect_err("fired"));
        }
        seen.push(eval.price(x0.exp(), p)?.broken);
        if a.f.is_finite() && allowed.is_none_or(|(v, _, _)| lower(a.f, v)) {
            allowed = Some((a.f, p, a.x));
        }
        if u.f.is_finite() && any.is_none_or(|(v, _, _)| lower(u.f, v)) {
            any = Some((u.f, p, u.x));
        }
    }
    let Some((value, p, x)) = allowed else {
        // Nothing allowed: the SLO binds if some candidate fits but is too slow.
        let why = if seen.contains(&Some(Constraint::Latency)) {
            Constraint::Latency
        } else if seen.contains(&Some(Constraint::Memory)) {
            Constraint::Memory
        } else {
            Constraint::Context
        };
        return Ok(StreamPlan::infeasible(why));
    };
    // A cheaper candidate exists without memory and the SLO: the one it breaks binds.
    let binding = match any {
        Some((v, q, y)) if lower(v, value) => eval
            .price(y.exp(), q)?
            .broken
            .unwrap_or(Constraint::TargetLoss),
        _ => Constraint::TargetLoss,
    };
    // Pressed against the smallest size searched: that default decides the plan.
    let binding = if binding == Constraint::TargetLoss && x <= STREAM_MIN_PARAMS.ln() {
        Constraint::MinParamsDefault
    } else {
        binding
    };
    let n = x.exp();
    let c = eval.price(n, p)?;
    finish(law, p, n, &c, binding, eval)
}

fn plan_budget(
    law: &ParScaleLaw,
    budget: f64,
    streams: &[f64],
    eval: &Evaluator,
) -> Result<StreamPlan> {
    let (lo, hi) = (STREAM_MIN_PARAMS.ln(), STREAM_MAX_PARAMS.ln());
    // What stops a candidate: its constraints, then the budget.
    let status = |x: f64, p: f64| -> Result<(Priced, Option<Constraint>)> {
        let c = eval.price(x.exp(), p)?;
        let why = c
            .broken
            .or((c.value.is_nan() || c.value > budget).then_some(Constraint::Budget));
        Ok((c, why))
    };
    let mut best: Option<(f64, f64, Constraint)> = None; // (loss, p, binding) with x below
    let mut best_x = f64::NAN;
    let mut why_none = None;
    for &p in streams {
        // The largest scanned N that is allowed; the loss falls with N, so it is the best.
        let step = (hi - lo) / (SCAN_POINTS - 1) as f64;
        let mut last_ok = None;
        for i in (0..SCAN_POINTS).rev() {
            if crate::cancel::fired() {
                return Err(crate::cancel::check().expect_err("fired"));
            }
            let x = lo + step * i as f64;
            if status(x, p)?.1.is_none() {
                last_ok = Some(i);
                break;
            }
        }
        let Some(i) = last_ok else {
            why_none.get_or_insert(status(lo, p)?.1.expect("not allowed"));
            continue;
        };
        let (x, binding) = if i == SCAN_POINTS - 1 {
            (hi, Constraint::MaxParamsDefault)
        } else {
            // Bisect between the allowed point and the next scanned one, which is not.
            let (mut a, mut b) = (lo + step * i as f64, lo + step * (i + 1) as f64);
            for _ in 0..MAX_SEARCH_STEPS {
                if b - a <= 1e-12 * b.abs().max(1.0) {
                    break;
                }
                let m = 0.5 * (a + b);
                if status(m, p)?.1.is_none() {
                    a = m;
                } else {
                    b = m;
                }
            }
            (a, status(b, p)?.1.expect("not allowed"))
        };
        let loss = law.loss(x.exp(), p);
        if best.is_none_or(|(l, _, _)| lower(loss, l)) {
            best = Some((loss, p, binding));
            best_x = x;
        }
    }
    let Some((_, p, binding)) = best else {
        // Even the smallest model breaks a constraint at every stream count.
        return Ok(StreamPlan::infeasible(why_none.expect("a stream count")));
    };
    let binding = if best_x == lo {
        Constraint::MinParamsDefault
    } else {
        binding
    };
    let n = best_x.exp();
    let c = eval.price(n, p)?;
    finish(law, p, n, &c, binding, eval)
}

fn finish(
    law: &ParScaleLaw,
    p: f64,
    n: f64,
    c: &Priced,
    binding: Constraint,
    eval: &Evaluator,
) -> Result<StreamPlan> {
    let loss = law.loss(n, p);
    let single = law.params_for(loss, 1.0).unwrap_or(f64::NAN);
    let single_cost = if single.is_finite() {
        let s = eval.price(single, 1.0)?;
        if matches!(s.broken, Some(Constraint::Memory | Constraint::Context)) {
            f64::NAN
        } else {
            s.value
        }
    } else {
        f64::NAN
    };
    let fitted = FittedRange {
        params_min: Some(law.params_min),
        params_max: Some(law.params_max),
        ..FittedRange::default()
    };
    let cost = &c.cost;
    Ok(StreamPlan {
        streams: p,
        params: n,
        backbone_params: backbone_params(n, p),
        loss,
        cost: c.value,
        gpu_seconds: cost.gpu_seconds,
        latency_s: cost.latency_s,
        eflops: cost.eflops,
        batch: cost.batch,
        max_batch: cost.max_batch,
        weight_memory_bytes: cost.weight_memory_bytes,
        kv_memory_bytes_per_query: cost.kv_memory_bytes_per_query,
        single_stream_params: single,
        single_stream_cost: single_cost,
        feasible: true,
        binding,
        extrapolated: fitted.check(n, f64::NAN, loss),
    })
}
