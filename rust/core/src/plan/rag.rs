//! The RAG planner (docs/design.md#rag-allocation, docs/planning.md#rag): the documents k,
//! in-context examples m and iterations n that maximise the metric the computation allocation
//! model (Yue et al. 2024) predicts, under a context-length budget, an eFLOPs budget and a
//! latency budget (any of them), the model's context window and the serving memory.
//!
//! Structure: the predicted metric is monotone in each of k, m, n (rising where its slope
//! a_j + b_j i_j is positive, falling otherwise), and every cost (tokens, eFLOPs, latency, the
//! longest prompt, KV memory) grows with each. So the best k for fixed (m, n) is the largest
//! feasible one (or 0), found by bisection; it cannot grow as m grows, so each bisection is
//! bounded by the previous; and once (0, m, n) is infeasible no larger m is. The search is
//! exact over the integer lattice and its work is bounded by the caps (docs/limits.md), never
//! by the size of a budget.

use super::Constraint;
use crate::cancel;
use crate::catalog::{Hardware, Model};
use crate::cost::{Attention, Batch, InferenceOptions, InferenceQuery, Pricer};
use crate::error::{check, PlanError, Result};
use crate::laws::rag::{Informativeness, RagLaw, RAG_DOC_TOKEN_CAP};

/// Largest `max_documents` accepted (docs/limits.md).
pub const MAX_RAG_DOCUMENTS: u32 = 1 << 14;
/// Largest `max_shots` accepted.
pub const MAX_RAG_SHOTS: u32 = 1024;
/// Largest `max_iterations` accepted.
pub const MAX_RAG_ITERATIONS: u32 = 32;

/// Logits closer than this are equal; the configuration with fewer effective context tokens
/// wins.
const LOGIT_TIE: f64 = 1e-12;

/// Tokens of each part of a prompt (docs/planning.md#rag, "Token accounting").
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RagTokens {
    /// Tokens of one retrieved document (counted up to `RAG_DOC_TOKEN_CAP`).
    pub doc: f64,
    /// Tokens of the question (the query's, and each example's).
    pub question: f64,
    /// Tokens of an example's answer.
    pub answer: f64,
    /// Tokens generated per iteration (sub-query and intermediate answer), fed back into the
    /// next iteration's prompt.
    pub gen: f64,
}

impl RagTokens {
    pub fn validate(&self) -> Result<()> {
        check::positive("doc_tokens", self.doc)?;
        check::positive("question_tokens", self.question)?;
        check::non_negative("answer_tokens", self.answer)?;
        check::positive("gen_tokens", self.gen)?;
        Ok(())
    }

    /// Tokens one document counts for.
    pub fn doc_counted(&self) -> f64 {
        self.doc.min(RAG_DOC_TOKEN_CAP)
    }

    /// The first iteration's prompt: m examples (each k documents, a question and its answer),
    /// then the k documents and the question.
    pub fn base_prompt(&self, k: u32, m: u32) -> f64 {
        let docs = f64::from(k) * self.doc_counted();
        f64::from(m) * (docs + self.question + self.answer) + docs + self.question
    }

    /// Iteration j's prompt (j from 1): the base prompt plus every earlier iteration's output.
    pub fn prompt(&self, k: u32, m: u32, j: u32) -> f64 {
        self.base_prompt(k, m) + f64::from(j - 1) * self.gen
    }

    /// Effective context length: the input tokens of all n iterations.
    pub fn effective_context(&self, k: u32, m: u32, n: u32) -> f64 {
        let n_f = f64::from(n);
        n_f * self.base_prompt(k, m) + self.gen * n_f * (n_f - 1.0) / 2.0
    }
}

/// The model that serves the queries, for the context window and the eFLOPs and latency
/// budgets.
#[derive(Debug, Clone)]
pub struct RagServing {
    pub pricer: Pricer,
    pub max_context: f64,
    /// Whether the batch is "max" (the largest that fits): a longer prompt then shrinks the
    /// batch and can shorten a query's latency, so latency does not grow with k, m, n.
    pub batch_max: bool,
    /// A fixed batch: every iteration must fit it whole (the cost model would shrink it to
    /// what fits, which makes latency fall as the prompt grows).
    pub fixed_batch: Option<f64>,
}

impl RagServing {
    /// The model served on `hardware` with `serving`; prefill must be priced (the prompt is
    /// where a RAG query's cost lies).
    pub fn new(model: &Model, hardware: &Hardware, serving: &InferenceOptions) -> Result<Self> {
        if !serving.prefill {
            return Err(PlanError::invalid(
                "prefill",
                "the RAG planner prices the prompt: serving must include prefill",
            ));
        }
        Ok(RagServing {
            pricer: Pricer::new(model, hardware, serving)?,
            max_context: model.max_context as f64,
            batch_max: serving.batch == Batch::Max,
            fixed_batch: match serving.batch {
                Batch::Fixed(b) => Some(b),
                _ => None,
            },
        })
    }
}

#[derive(Debug, Clone)]
pub struct RagOptions {
    pub law: RagLaw,
    pub informativeness: Informativeness,
    pub tokens: RagTokens,
    pub max_documents: u32,
    pub max_shots: u32,
    pub max_iterations: u32,
    pub context_budget: Option<f64>,
    pub eflops_budget: Option<f64>,
    pub latency_budget_s: Option<f64>,
    pub serving: Option<RagServing>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RagPlan {
    pub documents: u32,
    pub shots: u32,
    pub iterations: u32,
    /// The predicted metric P.
    pub metric: f64,
    /// sigma^-1(P).
    pub logit: f64,
    pub effective_context_tokens: f64,
    /// The longest prompt (the last iteration's).
    pub max_prompt_tokens: f64,
    /// Summed over the iterations; NaN without a model.
    pub eflops: f64,
    pub latency_s: f64,
    pub feasible: bool,
    pub binding: Constraint,
}

/// What one configuration costs, or the first constraint it breaks.
#[derive(Debug, Clone, Copy)]
struct Priced {
    context: f64,
    max_prompt: f64,
    eflops: f64,
    latency_s: f64,
}

fn cap(field: &str, v: u32, min: u32, limit: u32) -> Result<u32> {
    if v < min {
        return Err(PlanError::invalid(
            field,
            format!("must be >= {min}, got {v}"),
        ));
    }
    if v > limit {
        return Err(PlanError::LimitExceeded {
            field: field.to_string(),
            limit: limit.into(),
            got: v.into(),
        });
    }
    Ok(v)
}

impl RagOptions {
    pub fn validate(&self) -> Result<()> {
        self.law.validate()?;
        self.tokens.validate()?;
        cap("max_documents", self.max_documents, 0, MAX_RAG_DOCUMENTS)?;
        cap("max_shots", self.max_shots, 0, MAX_RAG_SHOTS)?;
        cap("max_iterations", self.max_iterations, 1, MAX_RAG_ITERATIONS)?;
        if let Some(b) = self.context_budget {
            check::positive("context_budget_tokens", b)?;
        }
        if let Some(b) = self.eflops_budget {
            check::positive("budget_eflops", b)?;
        }
        if let Some(b) = self.latency_budget_s {
            check::positive("latency_budget_s", b)?;
        }
        if self.context_budget.is_none()
            && self.eflops_budget.is_none()
            && self.latency_budget_s.is_none()
        {
            return Err(PlanError::invalid(
                "budget",
                "give at least one of context_budget_tokens, budget_eflops and latency_budget_s",
            ));
        }
        if self.serving.is_none()
            && (self.eflops_budget.is_some() || self.latency_budget_s.is_some())
        {
            return Err(PlanError::invalid(
                "model",
                "an eFLOPs or latency budget is priced by the cost model: give the model",
            ));
        }
        if let Some(s) = &self.serving {
            check::positive("max_context", s.max_context)?;
            if s.batch_max && self.latency_budget_s.is_some() {
                // The search prunes on costs that grow with k, m and n; under batch "max" a
                // query's latency falls as its prompt grows (fewer queries share a decode step).
                return Err(PlanError::invalid(
                    "batch",
                    "a latency budget needs a fixed batch (or unset): under batch max a longer \
                     prompt shrinks the batch and can shorten the latency",
                ));
            }
        }
        Ok(())
    }

    /// The cost of (k, m, n), or the first constraint it breaks (window, memory, then the
    /// budgets: context tokens, eFLOPs, latency).
    fn price(&self, k: u32, m: u32, n: u32) -> std::result::Result<Priced, Constraint> {
        let t = &self.tokens;
        let context = t.effective_context(k, m, n);
        let max_prompt = t.prompt(k, m, n);
        let (mut eflops, mut latency_s) = (f64::NAN, f64::NAN);
        if let Some(s) = &self.serving {
            if max_prompt + t.gen > s.max_context {
                return Err(Constraint::Context);
            }
        }
        if self.context_budget.is_some_and(|b| context > b) {
            return Err(Constraint::ContextBudget);
        }
        if let Some(s) = &self.serving {
            (eflops, latency_s) = (0.0, 0.0);
            for j in 1..=n {
                let q = InferenceQuery {
                    prompt_tokens: t.prompt(k, m, j),
                    gen_tokens: t.gen,
                    samples: 1.0,
                    attention: Attention::Dense,
                };
                let c = s.pricer.price(&q).map_err(|_| Constraint::Memory)?;
                if !c.feasible || s.fixed_batch.is_some_and(|b| c.batch < b) {
                    return Err(Constraint::Memory);
                }
                eflops += c.eflops;
                latency_s += c.latency_s;
            }
            if self.eflops_budget.is_some_and(|b| eflops > b) {
                return Err(Constraint::Budget);
            }
            if self.latency_budget_s.is_some_and(|b| latency_s > b) {
                return Err(Constraint::Latency);
            }
        }
        Ok(Priced {
            context,
            max_prompt,
            eflops,
            latency_s,
        })
    }
}

/// The largest k in [0, hi] with (k, m, n) feasible, given that (0, m, n) is.
fn largest_k(opt: &RagOptions, m: u32, n: u32, hi: u32) -> u32 {
    if opt.price(hi, m, n).is_ok() {
        return hi;
    }
    let (mut lo, mut hi) = (0u32, hi); // feasible at lo, infeasible at hi
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        if opt.price(mid, m, n).is_ok() {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    lo
}

/// The best (k, m, n) (docs/planning.md#rag).
pub fn plan_rag(opt: &RagOptions) -> Result<RagPlan> {
    opt.validate()?;
    let law = &opt.law;
    let info = opt.informativeness;
    let slopes = law.slopes(info);
    let rises = slopes.map(|s| s > 0.0);
    let k_cap = if rises[0] { opt.max_documents } else { 0 };
    let m_cap = if rises[1] { opt.max_shots } else { 0 };
    let n_cap = if rises[2] { opt.max_iterations } else { 1 };

    let logit = |k: u32, m: u32, n: u32| law.logit(info, f64::from(k), f64::from(m), f64::from(n));
    // (logit, context tokens, k, m, n) of the best so far.
    let mut best: Option<(f64, f64, u32, u32, u32)> = None;
    'iterations: for n in 1..=n_cap {
        let mut k_hi = k_cap;
        for m in 0..=m_cap {
            if cancel::fired() {
                break 'iterations;
            }
            if opt.price(0, m, n).is_err() {
                if m == 0 {
                    break 'iterations; // (0, 0, n') is infeasible for every n' >= n too
                }
                break;
            }
            let k = largest_k(opt, m, n, k_hi);
            k_hi = k;
            let x = logit(k, m, n);
            let tokens = opt.tokens.effective_context(k, m, n);
            let better = match best {
                None => true,
                Some((bx, bt, ..)) => x > bx + LOGIT_TIE || (x >= bx - LOGIT_TIE && tokens < bt),
            };
            if better {
                best = Some((x, tokens, k, m, n));
            }
        }
    }
    cancel::check()?;

    let Some((x, _, k, m, n)) = best else {
        let why = opt.price(0, 0, 1).err().unwrap_or(Constraint::Budget);
        return Ok(RagPlan {
            documents: 0,
            shots: 0,
            iterations: 0,
            metric: f64::NAN,
            logit: f64::NAN,
            effective_context_tokens: f64::NAN,
            max_prompt_tokens: f64::NAN,
            eflops: f64::NAN,
            latency_s: f64::NAN,
            feasible: false,
            binding: why,
        });
    };
    let priced = opt
        .price(k, m, n)
        .expect("the chosen configuration was feasible");
    // What stops the plan: the steps that would raise the metric (one more document, example
    // or iteration) are each blocked by their cap, by a constraint, or by both. Relaxing a lone
    // blocker admits its step, so the plan changes: of the steps with one blocker, the one that
    // would raise the metric most names it. When every step has two, the constraint of the
    // best step is named (its cap would not admit it alone).
    let steps = [
        (k + 1, m, n, opt.max_documents, Constraint::MaxDocuments),
        (k, m + 1, n, opt.max_shots, Constraint::MaxShots),
        (k, m, n + 1, opt.max_iterations, Constraint::MaxIterations),
    ];
    let mut single: Option<(f64, Constraint)> = None;
    let mut double: Option<(f64, Constraint)> = None;
    for (j, &(sk, sm, sn, limit, at_cap)) in steps.iter().enumerate() {
        if !rises[j] {
            continue;
        }
        let value = [sk, sm, sn][j];
        let gain = logit(sk, sm, sn) - x;
        if gain <= 0.0 {
            continue;
        }
        let capped = value > limit;
        let broken = opt.price(sk, sm, sn).err();
        let (slot, blocker) = match (capped, broken) {
            (true, None) => (&mut single, at_cap),
            (false, Some(b)) => (&mut single, b),
            (true, Some(b)) => (&mut double, b),
            (false, None) => continue, // feasible: not a better plan only within LOGIT_TIE
        };
        if slot.is_none_or(|(g, _)| gain > g) {
            *slot = Some((gain, blocker));
        }
    }
    let binding = single
        .or(double)
        .map_or(Constraint::NoGain, |(_, blocker)| blocker);
    Ok(RagPlan {
        documents: k,
        shots: m,
        iterations: n,
        metric: law.sigma.apply(x),
        logit: x,
        effective_context_tokens: priced.context,
        max_prompt_tokens: priced.max_prompt,
        eflops: priced.eflops,
        latency_s: priced.latency_s,
        feasible: true,
        binding,
    })
}
