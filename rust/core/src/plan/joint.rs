//! Problem 4 (docs/design.md#joint-allocation): one budget for training and a deployment of Q
//! queries; choose model size N (continuous over a family), training tokens D, samples k,
//! generation length L and attention to maximise task accuracy, or the least budget reaching a
//! target accuracy.
//!
//! Accuracy chain: L(N, D) -> Gadre error law -> mu_inf = 1 - error -> mu(L) = mu_inf * sat(L)
//! -> pass@k (beta coverage). For fixed k, pass@k grows with mu, so each (attention, k) maximises
//! ln mu_inf(N, D) + ln sat(L): an outer search on ln N (per family segment) around an inner
//! search on ln L, where L fixes the inference spend and D takes the rest of the budget.

use super::lifetime::{CostUnit, TP_DEGREES};
use super::scalar::{
    bisect_first, grid_golden_min, min_below_wall, min_feasible, min_feasible_ending, WALL_TOL,
};
use super::Constraint;
use crate::cancel;
use crate::catalog::Hardware;
use crate::cost::{
    training_tokens, Attention, Binding, FamilyShapes, InferenceCost, InferenceOptions,
    InferenceQuery, Pricer, TrainingRate,
};
use crate::error::{check, PlanError, Result};
use crate::laws::{DataLimit, ErrorLaw, Extrapolated, LawForm, LossLaw};
use crate::limits;
use crate::testtime::passk::beta_pass_at_k;
use crate::testtime::saturation;

#[derive(Debug, Clone)]
pub struct JointOptions {
    pub family: FamilyShapes,
    pub hardware: Hardware,
    pub inference: InferenceOptions,
    pub attention: Vec<Attention>,
    pub unit: CostUnit,
    pub queries: f64,
    pub prompt_tokens: f64,
    /// Length saturation and dispersion of the test-time model (assumptions, as in the presets).
    pub half_tokens: f64,
    pub hill: f64,
    pub kappa: f64,
    pub max_samples: u32,
    pub min_gen_tokens: f64,
    pub max_gen_tokens: f64,
    pub min_params: Option<f64>,
    pub max_params: Option<f64>,
    pub latency_slo_s: Option<f64>,
    pub data: Option<DataLimit>,
    pub train_mfu: Option<f64>,
    pub train_usd_per_hour: Option<f64>,
    pub infer_usd_per_hour: Option<f64>,
    /// Choose the GPUs per replica among `TP_DEGREES`; otherwise `inference.gpus` as given.
    pub auto_gpus: bool,
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct JointPlan {
    pub params: f64,
    pub tokens: f64,
    pub samples: u32,
    pub gen_tokens: f64,
    pub attention: usize,
    pub accuracy: f64,
    pub loss: f64,
    /// Mean accuracy at unlimited generation length (1 - task error).
    pub mu_inf: f64,
    pub training_cost: f64,
    pub inference_cost: f64,
    pub total_cost: f64,
    pub latency_s: f64,
    /// GPUs per serving replica.
    pub gpus: f64,
    pub feasible: bool,
    pub binding: Constraint,
    /// Where (N, D', loss) lies outside the loss law's fitted range.
    pub extrapolated: Extrapolated,
}

impl JointPlan {
    /// No plan: every quantity is NaN (not applicable), never 0 (docs/planning.md); `samples`
    /// and `attention` are indices, meaningless when `feasible` is false.
    fn none(binding: Constraint) -> Self {
        JointPlan {
            params: f64::NAN,
            tokens: f64::NAN,
            samples: 0,
            gen_tokens: f64::NAN,
            attention: 0,
            accuracy: f64::NAN,
            loss: f64::NAN,
            mu_inf: f64::NAN,
            training_cost: f64::NAN,
            inference_cost: f64::NAN,
            total_cost: f64::NAN,
            latency_s: f64::NAN,
            gpus: f64::NAN,
            feasible: false,
            binding,
            extrapolated: Extrapolated::none(),
        }
    }
}

const N_GRID: usize = 10;
const L_GRID: usize = 10;
// On ln N and ln L; the objective is flat at its optimum, so it is exact to ~TOL^2.
const TOL: f64 = 1e-7;
/// The faster outer search's tolerance on ln N, relative to the reference's.
const OUTER_TOL_SCALE: f64 = 1e-3;

pub struct JointSolver<'a> {
    law: &'a LossLaw,
    error: ErrorLaw,
    opt: &'a JointOptions,
    per_train_flop: f64,
    per_gpu_second: f64,
    n_lo: f64,
    n_hi: f64,
    /// GPUs per replica to try: the given one, or every `TP_DEGREES` entry.
    degrees: Vec<f64>,
    /// Search as the planner did before the faster searches (docs/solvers.md), for tests that
    /// compare the two.
    reference: bool,
    ln_half_tokens: f64,
}

/// The inner choice at one (N, attention, k).
#[derive(Debug, Clone, Copy)]
struct Inner {
    gen: f64,
    tokens: f64,
    /// Mean accuracy at this length.
    mu: f64,
    cost: InferenceCost,
}

impl<'a> JointSolver<'a> {
    pub fn new(law: &'a LossLaw, opt: &'a JointOptions) -> Result<Self> {
        let error = law.error.ok_or_else(|| {
            PlanError::invalid(
                "law",
                format!(
                    "'{}' has no error law on its loss scale (try gadre2024-redpajama)",
                    law.name
                ),
            )
        })?;
        if law.domain_params_max().is_some() {
            return Err(PlanError::invalid(
                "law",
                format!(
                    "'{}' is of the {} form, which the joint planner does not take (it needs a \
                     Chinchilla-form law with an error law; docs/planning.md, \"Loss-law forms\")",
                    law.name,
                    law.form_name()
                ),
            ));
        }
        check::non_negative("queries", opt.queries)?;
        check::non_negative("prompt_tokens", opt.prompt_tokens)?;
        check::positive("half_tokens", opt.half_tokens)?;
        check::positive("hill", opt.hill)?;
        check::positive("kappa", opt.kappa)?;
        check::positive("min_gen_tokens", opt.min_gen_tokens)?;
        check::positive("max_gen_tokens", opt.max_gen_tokens)?;
        if opt.max_gen_tokens < opt.min_gen_tokens {
            return Err(PlanError::invalid(
                "max_gen_tokens",
                "must be at least min_gen_tokens",
            ));
        }
        limits::check_samples("k_max", opt.max_samples)?;
        if opt.attention.is_empty() {
            return Err(PlanError::invalid(
                "attention",
                "must list at least one choice",
            ));
        }
        for a in &opt.attention {
            a.validate()?;
        }
        if let Some(slo) = opt.latency_slo_s {
            check::positive("latency_slo_s", slo)?;
        }
        let hw = &opt.hardware;
        // Training runs at the plan's compute dtype, like serving (docs/design.md#units).
        let gpu_hours_per_flop =
            TrainingRate::new(hw, opt.inference.compute_dtype, opt.train_mfu, "train_mfu")?
                .gpu_hours_per_flop();
        let price = |given: Option<f64>, field: &str| -> Result<f64> {
            given
                .or(hw.usd_per_hour)
                .ok_or_else(|| PlanError::invalid(field, "no price given and none in the catalog"))
                .and_then(|p| check::positive(field, p))
        };
        let (per_train_flop, per_gpu_second) = match opt.unit {
            CostUnit::Flops | CostUnit::Eflops => (1.0, 0.0),
            CostUnit::GpuHours => (gpu_hours_per_flop, 1.0 / 3600.0),
            CostUnit::Usd => (
                gpu_hours_per_flop * price(opt.train_usd_per_hour, "train_usd_per_hour")?,
                price(opt.infer_usd_per_hour, "infer_usd_per_hour")? / 3600.0,
            ),
        };
        let members = opt.family.members();
        let n_lo = opt.min_params.map_or(Ok(members[0].flop_params), |v| {
            check::positive("min_params", v)
        })?;
        let n_hi = opt
            .max_params
            .map_or(Ok(members[members.len() - 1].flop_params), |v| {
                check::positive("max_params", v)
            })?;
        if n_lo > n_hi {
            return Err(PlanError::invalid(
                "max_params",
                "must be at least min_params",
            ));
        }
        // The degree is a cost only in GPU-hours or money; in FLOPs or eFLOPs more GPUs would
        // be free, so the degree given (default 1) is used (docs/cost-model.md).
        let priced_by_time = matches!(opt.unit, CostUnit::GpuHours | CostUnit::Usd);
        let degrees = if opt.auto_gpus && priced_by_time {
            TP_DEGREES.to_vec()
        } else {
            vec![opt.inference.gpus]
        };
        Ok(JointSolver {
            law,
            error,
            opt,
            per_train_flop,
            per_gpu_second,
            n_lo,
            n_hi,
            degrees,
            reference: false,
            ln_half_tokens: opt.half_tokens.ln(),
        })
    }

    /// This solver searching as the planner did before the faster searches (docs/solvers.md):
    /// the baseline the tests hold the faster one to. Not for plans.
    #[doc(hidden)]
    pub fn reference(self) -> Self {
        JointSolver {
            reference: true,
            ..self
        }
    }

    /// The most GPUs per replica the solver may choose.
    fn largest_degree(&self) -> f64 {
        self.degrees.iter().copied().fold(1.0, f64::max)
    }

    /// Serving options at `gpus` GPUs per replica, the batch a fleet average (docs/planning.md).
    fn serving(&self, gpus: f64) -> InferenceOptions {
        InferenceOptions {
            fractional_batch: true,
            gpus,
            ..self.opt.inference
        }
    }

    fn query_cost(&self, c: &InferenceCost) -> f64 {
        match self.opt.unit {
            CostUnit::Flops => c.flops,
            CostUnit::Eflops => c.eflops,
            CostUnit::GpuHours | CostUnit::Usd => c.gpu_seconds * self.per_gpu_second,
        }
    }

    fn mu_inf(&self, loss: f64) -> f64 {
        1.0 - self.error.error(loss)
    }

    /// What the searches minimise for a mean accuracy `mu`: -mu (the reference search: -ln mu;
    /// either has the same minimiser, as pass@k grows with mu).
    fn score(&self, mu: f64) -> f64 {
        if self.reference {
            -mu.ln()
        } else {
            -mu
        }
    }

    /// The loss at size `n` as a function of training tokens, `loss_limited` bit for bit, with
    /// a Chinchilla-form law's size term E + A / N'^alpha computed once.
    fn loss_at_size(&self, n: f64) -> impl Fn(f64) -> f64 + '_ {
        let law = self.law;
        let data = self.opt.data.as_ref();
        let chinchilla = matches!(law.form(), LawForm::Chinchilla);
        let size_term = law.e + law.a * law.effective_params(n, data).powf(-law.alpha);
        move |tokens: f64| {
            if chinchilla {
                let d = data.map_or(tokens, |l| l.effective_tokens(tokens));
                size_term + law.b * d.powf(-law.beta)
            } else {
                law.loss_limited(n, tokens, data)
            }
        }
    }

    /// Best (L, D) at size n for one attention and k.
    fn inner(
        &self,
        n: f64,
        pricer: &Pricer,
        attention: Attention,
        k: u32,
        budget: f64,
    ) -> Option<Inner> {
        let shape_context = self.opt.family.at(n).max_context - self.opt.prompt_tokens;
        let hi = self.opt.max_gen_tokens.min(shape_context);
        let lo = self.opt.min_gen_tokens;
        if lo > hi {
            return None;
        }
        // The choice at one length (None where infeasible) and its slack: the least of the
        // constraints' margins, each >= 0 where it holds and continuous in L (free memory in
        // queries that fit, latency under the SLO, the budget left, the mean accuracy at
        // unlimited length), NaN where the failing constraint has no such measure.
        // Invariant at this size: the loss law's size term (bit for bit `loss_limited`).
        let loss_at = self.loss_at_size(n);
        // `x` is ln `gen`; `want_slack` asks for a feasible point's slack too (the wall search).
        let probe_at = |x: f64, gen: f64, want_slack: bool| -> (Option<Inner>, f64) {
            let q = InferenceQuery {
                prompt_tokens: self.opt.prompt_tokens,
                gen_tokens: gen,
                samples: f64::from(k),
                attention,
            };
            let Ok(c) = pricer.price(&q) else {
                return (None, f64::NAN);
            };
            let left = budget - self.opt.queries * self.query_cost(&c);
            let slack = || {
                let memory = match c.binding {
                    Binding::None | Binding::KvCache => c.max_queries.ln(),
                    _ => f64::NAN,
                };
                let latency = self
                    .opt
                    .latency_slo_s
                    .map_or(f64::INFINITY, |slo| (slo / c.latency_s).ln());
                memory.min(latency).min(left / budget)
            };
            if !c.feasible || self.opt.latency_slo_s.is_some_and(|slo| c.latency_s > slo) {
                let s = slack();
                return (None, if s <= 0.0 { s } else { f64::NAN });
            }
            if left <= 0.0 {
                return (None, slack());
            }
            let tokens = training_tokens(n, left / self.per_train_flop);
            let loss = loss_at(tokens);
            let mu_inf = self.mu_inf(loss);
            let sat = if self.reference {
                saturation(gen, self.opt.half_tokens, self.opt.hill)
            } else {
                // (half / L)^hill as one exp of what is known in ln L.
                1.0 / (1.0 + (self.opt.hill * (self.ln_half_tokens - x)).exp())
            };
            let mu = mu_inf * sat;
            if mu > 0.0 {
                let inner = Inner {
                    gen,
                    tokens,
                    mu,
                    cost: c,
                };
                let s = if want_slack {
                    slack().min(mu_inf)
                } else {
                    f64::NAN
                };
                (Some(inner), s)
            } else {
                (None, if mu_inf < 0.0 { mu_inf } else { f64::NAN })
            }
        };
        let probe = |x: f64, want_slack: bool| probe_at(x, x.exp(), want_slack);
        let objective = |x: f64| {
            probe(x, false)
                .0
                .map_or(f64::INFINITY, |i| self.score(i.mu))
        };
        // Cost, latency and memory grow with L and the training left shrinks, so the feasible
        // lengths are [lo, L*] (docs/solvers.md): locate L* first, then search below it.
        let (ln_lo, ln_hi) = (lo.ln(), hi.ln());
        let m = if self.reference {
            min_below_wall(&objective, ln_lo, ln_hi, L_GRID, TOL)
        } else {
            let (at_lo, slack_lo) = probe_at(ln_lo, lo, true);
            at_lo?;
            let (at_hi, slack_hi) = probe(ln_hi, true);
            if at_hi.is_some() {
                min_feasible(&objective, ln_lo, ln_hi, L_GRID, TOL)
            } else {
                let slack = |x: f64| {
                    let (i, s) = probe(x, true);
                    (i.is_some(), s)
                };
                let top =
                    wall_by_slack(&slack, (ln_lo, slack_lo), (ln_hi, slack_hi), TOL * WALL_TOL);
                min_feasible(&objective, ln_lo, top, L_GRID, TOL)
            }
        };
        if m.feasible() {
            // exp(ln x) can land an ulp outside [lo, hi]: the plan reports the bound itself.
            let gen = m.x.exp().clamp(lo, hi);
            probe_at(gen.ln(), gen, false).0
        } else {
            None
        }
    }

    /// Accuracy of one point (N, k, L, attention) with the rest of `budget` spent on training
    /// tokens, at the best GPUs per replica the solver may choose; 0 where a constraint fails.
    /// The objective `plan` maximises, for baselines.
    pub fn evaluate(&self, budget: f64, n: f64, samples: u32, gen: f64, attention: usize) -> f64 {
        self.degrees
            .iter()
            .map(|&g| self.evaluate_at(budget, n, samples, gen, attention, g))
            .fold(0.0, f64::max)
    }

    /// [`Self::evaluate`] at `gpus` GPUs per replica.
    pub fn evaluate_at(
        &self,
        budget: f64,
        n: f64,
        samples: u32,
        gen: f64,
        attention: usize,
        gpus: f64,
    ) -> f64 {
        let Some(&att) = self.opt.attention.get(attention) else {
            return 0.0;
        };
        let in_range = n >= self.n_lo * (1.0 - 1e-12)
            && n <= self.n_hi * (1.0 + 1e-12)
            && (1..=self.opt.max_samples).contains(&samples)
            && gen >= self.opt.min_gen_tokens
            && gen
                <= self
                    .opt
                    .max_gen_tokens
                    .min(self.opt.family.at(n).max_context - self.opt.prompt_tokens);
        if !in_range {
            return 0.0;
        }
        let options = self.serving(gpus);
        let Ok(pricer) = Pricer::for_shape(self.opt.family.at(n), &self.opt.hardware, &options)
        else {
            return 0.0;
        };
        let q = InferenceQuery {
            prompt_tokens: self.opt.prompt_tokens,
            gen_tokens: gen,
            samples: f64::from(samples),
            attention: att,
        };
        let Ok(c) = pricer.price(&q) else { return 0.0 };
        if !c.feasible || self.opt.latency_slo_s.is_some_and(|slo| c.latency_s > slo) {
            return 0.0;
        }
        let left = budget - self.opt.queries * self.query_cost(&c);
        if left <= 0.0 {
            return 0.0;
        }
        let loss = self.law.loss_limited(
            n,
            training_tokens(n, left / self.per_train_flop),
            self.opt.data.as_ref(),
        );
        let mu = self.mu_inf(loss) * saturation(gen, self.opt.half_tokens, self.opt.hill);
        beta_pass_at_k(mu, self.opt.kappa, f64::from(samples))
    }

    /// Best plan for one total budget, naming the constraint that binds (docs/planning.md):
    /// of the bounds and walls the plan sits on, the one whose relaxation by 1% (one more
    /// sample for k_max) buys the most accuracy; the budget when none buys any.
    pub fn plan(&self, budget: f64) -> Result<JointPlan> {
        let plan = self.plan_unnamed(budget)?;
        if !plan.feasible {
            return Ok(plan);
        }
        let threshold = 1e-9 * plan.accuracy.max(1e-12);
        let mut most: Option<(Constraint, f64)> = None;
        let mut fixed: Option<Constraint> = None;
        for (constraint, relaxed) in self.active(&plan) {
            match relaxed {
                Some(opt) => {
                    // First-order gain: the relaxed problem re-solved at the plan's attention
                    // and k (one more sample for k_max), not over every configuration.
                    let k = if constraint == Constraint::MaxSamples {
                        opt.max_samples
                    } else {
                        plan.samples
                    };
                    let relaxed = JointSolver {
                        reference: self.reference,
                        ..JointSolver::new(self.law, &opt)?
                    }
                    .search(
                        budget,
                        Some((plan.attention, k, plan.gpus)),
                        None,
                    )?;
                    let mut gain = if relaxed.feasible {
                        relaxed.accuracy - plan.accuracy
                    } else {
                        0.0
                    };
                    if constraint == Constraint::MaxSamples {
                        // One more sample relaxes k_max by 100/k_max percent: compare per 1%.
                        gain *= 0.01 * f64::from(self.opt.max_samples);
                    }
                    if gain > threshold && most.is_none_or(|m| gain > m.1) {
                        most = Some((constraint, gain));
                    }
                }
                // Not relaxable through the options (the family's context): it binds when
                // nothing relaxable buys accuracy.
                None => {
                    fixed.get_or_insert(constraint);
                }
            }
        }
        let binding = most.map(|m| m.0).or(fixed).unwrap_or(Constraint::Budget);
        Ok(self.described(JointPlan { binding, ..plan }))
    }

    /// `plan` with what it says about itself filled in: where it extrapolates the loss law.
    fn described(&self, plan: JointPlan) -> JointPlan {
        let effective = self
            .opt
            .data
            .map_or(plan.tokens, |l| l.effective_tokens(plan.tokens));
        JointPlan {
            extrapolated: self.law.extrapolation(plan.params, effective, plan.loss),
            ..plan
        }
    }

    /// The bounds and walls `plan` sits on, each with the options relaxed past it.
    fn active(&self, plan: &JointPlan) -> Vec<(Constraint, Option<JointOptions>)> {
        let o = self.opt;
        let (n, gen, k) = (plan.params, plan.gen_tokens, plan.samples);
        let at_or_above = |v: f64, bound: f64| v >= bound * (1.0 - 1e-6);
        let at_or_below = |v: f64, bound: f64| v <= bound * (1.0 + 1e-6);
        let relaxed = |edit: &dyn Fn(&mut JointOptions)| {
            let mut r = o.clone();
            edit(&mut r);
            Some(r)
        };
        let mut out = Vec::new();
        if k >= o.max_samples {
            // At limits::MAX_SAMPLES k_max cannot be relaxed (the solver refuses more).
            let more = o.max_samples < limits::MAX_SAMPLES;
            out.push((
                Constraint::MaxSamples,
                more.then(|| relaxed(&|r| r.max_samples = o.max_samples + 1))
                    .flatten(),
            ));
        }
        if at_or_above(n, self.n_hi) {
            let c = if o.max_params.is_some() {
                Constraint::MaxParams
            } else {
                Constraint::MaxParamsDefault
            };
            out.push((c, relaxed(&|r| r.max_params = Some(self.n_hi * 1.01))));
        }
        if at_or_below(n, self.n_lo) {
            let c = if o.min_params.is_some() {
                Constraint::MinParams
            } else {
                Constraint::MinParamsDefault
            };
            out.push((c, relaxed(&|r| r.min_params = Some(self.n_lo / 1.01))));
        }
        let context_room = o.family.at(n).max_context - o.prompt_tokens;
        if at_or_above(gen, o.max_gen_tokens) {
            out.push((
                Constraint::MaxGenTokens,
                relaxed(&|r| r.max_gen_tokens = o.max_gen_tokens * 1.01),
            ));
        }
        if at_or_above(gen, context_room) {
            out.push((Constraint::Context, None));
        }
        if at_or_below(gen, o.min_gen_tokens) {
            out.push((
                Constraint::MinGenTokens,
                relaxed(&|r| r.min_gen_tokens = o.min_gen_tokens / 1.01),
            ));
        }
        if o.latency_slo_s
            .is_some_and(|slo| at_or_above(plan.latency_s, slo * (1.0 - 1e-4)))
        {
            out.push((
                Constraint::Latency,
                relaxed(&|r| r.latency_slo_s = o.latency_slo_s.map(|s| s * 1.01)),
            ));
        }
        // Memory binds at the largest degree the planner may choose (or the one given).
        if plan.gpus >= self.largest_degree()
            && self.memory_bound(n, gen, k, plan.attention, plan.gpus)
        {
            out.push((
                Constraint::Memory,
                relaxed(&|r| r.hardware.hbm_bytes = o.hardware.hbm_bytes * 1.01),
            ));
        }
        out
    }

    /// Whether (n, gen, k) fills the serving memory: a slightly longer generation, larger
    /// model or one more sample would not fit beside the weights.
    fn memory_bound(&self, n: f64, gen: f64, k: u32, attention: usize, gpus: f64) -> bool {
        let fits = |n: f64, gen: f64, k: u32| {
            let options = self.serving(gpus);
            Pricer::for_shape(self.opt.family.at(n), &self.opt.hardware, &options)
                .and_then(|p| {
                    p.price(&InferenceQuery {
                        prompt_tokens: self.opt.prompt_tokens,
                        gen_tokens: gen,
                        samples: f64::from(k),
                        attention: self.opt.attention[attention],
                    })
                })
                // Overflowing the context is not running out of memory.
                .is_ok_and(|c| c.feasible || c.binding == Binding::Context)
        };
        let step = 1.0 + 1e-4;
        !fits(n * step, gen, k) || !fits(n, gen * step, k)
    }

    /// Best plan for one total budget; `binding` is the budget or why none is feasible.
    fn plan_unnamed(&self, budget: f64) -> Result<JointPlan> {
        self.search(budget, None, None)
    }

    /// The best plan over every GPUs per replica, attention and k, or (`only`) one attention,
    /// k and degree alone. A `seed` (a feasible plan at this budget) starts the search as the
    /// best found so far: it changes no answer, only how many k the bound below prunes.
    fn search(
        &self,
        budget: f64,
        only: Option<(usize, u32, f64)>,
        seed: Option<JointPlan>,
    ) -> Result<JointPlan> {
        check::positive("budget", budget)?;
        check_training_flops(budget, self.per_train_flop)?;
        cancel::check()?;
        let mut best: Option<JointPlan> = seed.filter(|s| s.feasible);
        let cuts = {
            let mut c = vec![self.n_lo.ln()];
            c.extend(
                self.opt
                    .family
                    .breakpoints()
                    .into_iter()
                    .map(f64::ln)
                    .filter(|&b| b > self.n_lo.ln() && b < self.n_hi.ln()),
            );
            c.push(self.n_hi.ln());
            c
        };
        let degrees = match only {
            Some((_, _, g)) => vec![g],
            None => self.degrees.clone(),
        };
        for (gpus, (ai, &attention)) in degrees
            .iter()
            .flat_map(|&g| self.opt.attention.iter().enumerate().map(move |a| (g, a)))
        {
            if only.is_some_and(|o| o.0 != ai) {
                continue;
            }
            // Without a latency SLO, every (N, D, L) that fits with k samples also fits with
            // fewer (memory and cost grow with k), so the best mean mu*(k) never grows with k:
            // pass@k at the last mu* found bounds every later k, and once k does not fit, no
            // larger k does. Latency need not grow with k (a static batch's shared prefill
            // shrinks as fewer queries share it), so with an SLO every k is searched.
            let monotone = self.opt.latency_slo_s.is_none();
            let mut mu_bound = f64::INFINITY;
            // Without pruning (an SLO) every k costs a full search: above SLO_DENSE_SAMPLES k
            // steps geometrically so the work stays bounded up to limits::MAX_SAMPLES.
            let ks: Box<dyn Iterator<Item = u32>> = match only {
                Some((_, k, _)) => Box::new(k..=k),
                None if monotone => Box::new(1..=self.opt.max_samples),
                None => Box::new(slo_samples(self.opt.max_samples)),
            };
            for k in ks {
                cancel::check()?;
                if monotone && mu_bound.is_finite() {
                    let bound = beta_pass_at_k(mu_bound, self.opt.kappa, f64::from(k));
                    if best.is_some_and(|b| bound <= b.accuracy) {
                        continue;
                    }
                }
                // The last length chosen starts the next inner search (docs/solvers.md).
                let at = |x: f64| -> Option<(Inner, f64)> {
                    let n = x.exp().clamp(self.n_lo, self.n_hi);
                    let pricer = Pricer::for_shape(self.opt.family.at(n), &self.opt.hardware, &{
                        self.serving(gpus)
                    })
                    .ok()?;
                    let found = self.inner(n, &pricer, attention, k, budget);
                    found.map(|i| (i, n))
                };
                let objective = |x: f64| at(x).map_or(f64::INFINITY, |(i, _)| self.score(i.mu));
                let (x, score) = cuts
                    .windows(2)
                    .map(|w| {
                        let tol = TOL * w[1].abs().max(1.0);
                        if self.reference {
                            grid_golden_min(&objective, w[0], w[1], N_GRID, tol)
                        } else {
                            // 1,000x finer than the reference: the optimum may sit on a kink
                            // (a length bound starting to bind), where the objective is not
                            // flat and the reference's tolerance costs ~1e-9 relative.
                            let tol = OUTER_TOL_SCALE * tol;
                            let m = min_feasible_ending(&objective, w[0], w[1], N_GRID, tol);
                            (m.x, m.f)
                        }
                    })
                    .fold(
                        (cuts[0], f64::INFINITY),
                        |b, c| if c.1 < b.1 { c } else { b },
                    );
                let found = if score.is_finite() { at(x) } else { None };
                let Some((inner, n)) = found else {
                    if monotone {
                        break;
                    }
                    continue;
                };
                mu_bound = inner.mu;
                let loss = self
                    .law
                    .loss_limited(n, inner.tokens, self.opt.data.as_ref());
                let mu = inner.mu;
                let accuracy = beta_pass_at_k(mu, self.opt.kappa, f64::from(k));
                // Ties go to the fewer GPUs (tried first).
                if best.is_none_or(|b| accuracy > b.accuracy * (1.0 + 1e-12)) {
                    let inference_cost = self.opt.queries * self.query_cost(&inner.cost);
                    best = Some(JointPlan {
                        params: n,
                        tokens: inner.tokens,
                        samples: k,
                        gen_tokens: inner.gen,
                        attention: ai,
                        accuracy,
                        loss,
                        mu_inf: self.mu_inf(loss),
                        training_cost: budget - inference_cost,
                        inference_cost,
                        total_cost: budget,
                        latency_s: inner.cost.latency_s,
                        gpus,
                        feasible: true,
                        binding: Constraint::Budget,
                        extrapolated: Extrapolated::none(),
                    });
                }
            }
        }
        cancel::check()?;
        if let (None, false, Some(b)) = (only, self.opt.latency_slo_s.is_none(), best) {
            if b.samples > SLO_DENSE_SAMPLES {
                best = Some(self.refine_samples(budget, b)?);
            }
        }
        Ok(best.unwrap_or_else(|| JointPlan::none(self.blocker())))
    }

    /// Under an SLO, k above `SLO_DENSE_SAMPLES` was searched in geometric steps: the integers
    /// between the best step's neighbours are searched by ternary search at the plan's
    /// attention and degree (accuracy taken as unimodal in k there; not claimed exact).
    fn refine_samples(&self, budget: f64, plan: JointPlan) -> Result<JointPlan> {
        let steps: Vec<u32> = slo_samples(self.opt.max_samples).collect();
        let i = steps.iter().position(|&k| k == plan.samples).unwrap_or(0);
        let lo = steps[i.saturating_sub(1)];
        let hi = steps[(i + 1).min(steps.len() - 1)];
        let at = |k: u32| self.search(budget, Some((plan.attention, k, plan.gpus)), None);
        let value = |p: &JointPlan| if p.feasible { p.accuracy } else { -1.0 };
        let mut best = plan;
        let (mut a, mut b) = (lo, hi);
        while b - a > 2 {
            cancel::check()?;
            let (m1, m2) = (a + (b - a) / 3, b - (b - a) / 3);
            let (p1, p2) = (at(m1)?, at(m2)?);
            for p in [p1, p2] {
                if value(&p) > best.accuracy * (1.0 + 1e-12) {
                    best = p;
                }
            }
            if value(&p1) < value(&p2) {
                a = m1;
            } else {
                b = m2;
            }
        }
        for k in a..=b {
            let p = at(k)?;
            if value(&p) > best.accuracy * (1.0 + 1e-12) {
                best = p;
            }
        }
        Ok(best)
    }

    /// Why no plan is feasible: at the most permissive point (the smallest model, the shortest
    /// generation, one sample, the most GPUs per replica) the context, memory or latency fails,
    /// else the budget is too small.
    fn blocker(&self) -> Constraint {
        let o = self.opt;
        let n = self.n_lo;
        if o.prompt_tokens + o.min_gen_tokens > o.family.at(n).max_context {
            return Constraint::Context;
        }
        let pricer = Pricer::for_shape(
            o.family.at(n),
            &o.hardware,
            &self.serving(self.largest_degree()),
        );
        let costs: Vec<InferenceCost> = pricer
            .iter()
            .flat_map(|pricer| {
                o.attention.iter().filter_map(|&attention| {
                    pricer
                        .price(&InferenceQuery {
                            prompt_tokens: o.prompt_tokens,
                            gen_tokens: o.min_gen_tokens,
                            samples: 1.0,
                            attention,
                        })
                        .ok()
                })
            })
            .collect();
        if costs.iter().all(|c| !c.feasible) {
            Constraint::Memory
        } else if o.latency_slo_s.is_some_and(|slo| {
            costs
                .iter()
                .filter(|c| c.feasible)
                .all(|c| c.latency_s > slo)
        }) {
            Constraint::Latency
        } else {
            Constraint::Budget
        }
    }

    /// The least budget whose best plan reaches `target` accuracy (bisection on ln budget; the
    /// best accuracy never falls as the budget grows).
    pub fn cheapest(&self, target: f64) -> Result<JointPlan> {
        check::unit_fraction("target_accuracy", target)?;
        let reaches = |log_b: f64| {
            self.plan_unnamed(log_b.exp())
                .is_ok_and(|p| p.feasible && p.accuracy >= target)
        };
        // Scan up in steps of e^4 from a budget below any real one, then bisect the last step.
        let cap = 150.0; // e^150 ~ 1e65: beyond any real budget in any unit
        let mut hi = -20.0f64;
        while !reaches(hi) {
            cancel::check()?;
            hi += 4.0;
            if hi > cap {
                // Unreachable: report the accuracy the law caps at, not the absurd budget
                // that was tried.
                let best = self.plan_unnamed(cap.exp())?;
                return Ok(JointPlan {
                    accuracy: best.accuracy,
                    loss: best.loss,
                    mu_inf: best.mu_inf,
                    ..JointPlan::none(Constraint::TargetAccuracy)
                });
            }
        }
        let lo = hi - 4.0;
        let log_b = bisect_first(&reaches, lo, hi, 1e-7);
        cancel::check()?;
        let plan = self.plan_unnamed(log_b.exp())?;
        Ok(self.described(JointPlan {
            binding: Constraint::TargetAccuracy,
            ..plan
        }))
    }

    /// Accuracy gained per 1% more budget (what the next unit of budget buys); NaN without a
    /// plan.
    pub fn marginal(&self, plan: &JointPlan) -> Result<f64> {
        if !plan.feasible {
            return Ok(f64::NAN);
        }
        let budget = plan.total_cost * 1.01;
        // A warm re-solve (docs/solvers.md#the-joint-planners-marginal-accuracy): the plan's
        // own attention, k and degree at the larger budget first. Its accuracy is reachable
        // there, so every k whose bound cannot beat it is pruned from the full search, whose
        // answer is unchanged. Under an SLO nothing is pruned (and the k steps are refined
        // around the best step found), so the plain search runs.
        let seed = if self.opt.latency_slo_s.is_none() {
            Some(self.search(
                budget,
                Some((plan.attention, plan.samples, plan.gpus)),
                None,
            )?)
        } else {
            None
        };
        Ok(self.search(budget, None, seed)?.accuracy - plan.accuracy)
    }
}

/// A budget whose training compute (budget / cost per FLOP) is not a finite number of FLOPs
/// would give infinite training tokens in a "feasible" plan (docs/limits.md): an error naming
/// the budget instead.
pub(crate) fn check_training_flops(budget: f64, per_train_flop: f64) -> Result<()> {
    let flops = budget / per_train_flop;
    if flops.is_finite() {
        Ok(())
    } else {
        Err(PlanError::invalid(
            "budget",
            format!("{budget:e} is too large: as training compute it is {flops:e} FLOPs"),
        ))
    }
}

/// Every k up to this is searched when an SLO rules out pruning over k; above it k steps by
/// 1/8 of itself (~110 searches up to `limits::MAX_SAMPLES`), always ending at k_max
/// (docs/limits.md).
const SLO_DENSE_SAMPLES: u32 = 16;

/// The k searched under a latency SLO: 1..=16, then geometric steps, then k_max.
fn slo_samples(k_max: u32) -> impl Iterator<Item = u32> {
    std::iter::successors(Some(1u32), move |&k| {
        (k < k_max).then(|| {
            if k < SLO_DENSE_SAMPLES {
                k + 1
            } else {
                (k + k.div_ceil(8)).min(k_max)
            }
        })
    })
}

/// The feasible end of the wall between a feasible `inside` and an infeasible `out` (each
/// with its slack), to `tol`: Illinois false position on the slack where both ends carry one of
/// opposite signs, bisection on feasibility otherwise (docs/solvers.md). `probe` gives whether a
/// point is feasible and its slack; feasibility decides the bracket, the slack only where to
/// try next, so the result is on the feasible side of the wall as with plain bisection.
fn wall_by_slack(
    probe: &impl Fn(f64) -> (bool, f64),
    inside: (f64, f64),
    out: (f64, f64),
    tol: f64,
) -> f64 {
    let ((mut a, mut fa), (mut b, mut fb)) = (inside, out);
    let mut side = 0i8;
    for _ in 0..200 {
        if (b - a).abs() <= tol || cancel::fired() {
            break;
        }
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let secant = fa > 0.0 && fb <= 0.0 && fa.is_finite() && fb.is_finite();
        let x = if secant {
            // Half the tolerance inside the bracket: once an end is the wall to rounding, the
            // next point closes the bracket instead of creeping towards it.
            ((a * fb - b * fa) / (fb - fa)).clamp(lo + 0.5 * tol, hi - 0.5 * tol)
        } else {
            0.5 * (a + b)
        };
        let x = if x.is_nan() { 0.5 * (a + b) } else { x };
        let (feasible, fx) = probe(x);
        if feasible {
            a = x;
            fa = fx;
            if side == -1 {
                fb *= 0.5;
            }
            side = -1;
        } else {
            b = x;
            fb = fx;
            if side == 1 {
                fa *= 0.5;
            }
            side = 1;
        }
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;
    use crate::cost::Batch;

    #[test]
    fn the_warm_marginal_is_the_cold_re_solve() {
        // The marginal seeds the search at 1.01x budget with the plan's own configuration; a
        // plain search there (nothing seeded) must reach the same accuracy.
        let c = Catalog::shipped();
        let law = c.law("gadre2024-redpajama").unwrap().clone();
        let opt = JointOptions {
            family: FamilyShapes::new(c, c.family("qwen3-dense").unwrap()).unwrap(),
            hardware: c.hardware("h100-sxm").unwrap().clone(),
            inference: InferenceOptions {
                batch: Batch::Max,
                ..InferenceOptions::default()
            },
            attention: vec![Attention::Dense],
            unit: CostUnit::GpuHours,
            queries: 1e8,
            prompt_tokens: 256.0,
            half_tokens: 4096.0,
            hill: 1.5,
            kappa: 1.0,
            max_samples: 8,
            min_gen_tokens: 256.0,
            max_gen_tokens: 32768.0,
            min_params: None,
            max_params: None,
            latency_slo_s: None,
            data: None,
            train_mfu: None,
            train_usd_per_hour: None,
            infer_usd_per_hour: None,
            auto_gpus: true,
        };
        let solver = JointSolver::new(&law, &opt).unwrap();
        for budget in [1e5, 1e7] {
            let plan = solver.plan(budget).unwrap();
            assert!(plan.feasible, "{budget}");
            let cold = solver.plan_unnamed(budget * 1.01).unwrap().accuracy - plan.accuracy;
            let warm = solver.marginal(&plan).unwrap();
            assert!(warm > 0.0, "{budget}: {warm}");
            assert!((warm - cold).abs() <= 1e-12, "{budget}: {warm} vs {cold}");
        }
    }
}
