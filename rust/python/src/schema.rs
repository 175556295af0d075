//! The result schemas, written once: for every result the binding returns, each field's name,
//! unit and one-line description, in the order of the Python dataclass, and the builder of the
//! row of columns the binding hands to numpy. A field with a value (`=> expr`) is a column; one
//! without is added by the Python façade (a label, the law, the unit). The binding exports them
//! as `_core.SCHEMAS`; the dataclasses take their docstrings from it and a test checks the
//! dataclasses and the proto messages against it (docs/planning.md, "Result fields").

use pyo3::prelude::*;
use pyo3::types::PyDict;
use scaleplan_core::plan::StreamPlan;
use scaleplan_core::plan::{AgentPlan, JointPlan, LifetimePlan, RagPlan, Solution, TrainingPlan};
use scaleplan_core::{InferenceCost, TrainingCost};

use crate::convert::flag;

/// One field of a result.
pub struct Field {
    pub name: &'static str,
    /// The unit of a number ("" for a flag or a text; "<unit>" for the plan's own `unit`).
    pub unit: &'static str,
    /// One line on what the field is.
    pub doc: &'static str,
    /// Whether the binding returns the field as a column (false: the façade adds it).
    pub column: bool,
}

/// How many of `fields` are columns: the width of a row.
pub const fn width(fields: &[Field]) -> usize {
    let (mut n, mut i) = (0, 0);
    while i < fields.len() {
        if fields[i].column {
            n += 1;
        }
        i += 1;
    }
    n
}

/// A result schema: `name (args) { field ["unit"] "description" => value, ... }` gives a module
/// `name` with `TITLE`, `FIELDS`, `WIDTH`, `columns()` and `row(args) -> [f64; WIDTH]`. A row
/// is built from the same entries as the names, so a name and its value cannot drift apart, and
/// the array's length is checked by the compiler.
macro_rules! schema {
    (
        $(#[doc = $doc:literal])*
        $module:ident $title:literal ($($arg:ident: $ty:ty),* $(,)?) {
            $($field:ident [$unit:literal] $what:expr $(=> $value:expr)?,)*
        }
    ) => {
        $(#[doc = $doc])*
        pub mod $module {
            #[allow(unused_imports)]
            use super::*;

            /// The Python class the schema describes.
            pub const TITLE: &str = $title;

            pub const FIELDS: &[Field] = &[$(Field {
                name: stringify!($field),
                unit: $unit,
                doc: $what,
                column: false $(|| !stringify!($value).is_empty())?,
            },)*];

            pub const WIDTH: usize = width(FIELDS);

            /// The names of the columns, in row order.
            #[allow(dead_code)]
            pub fn columns() -> Vec<&'static str> {
                FIELDS.iter().filter(|f| f.column).map(|f| f.name).collect()
            }

            /// One result's row of columns.
            #[allow(dead_code, clippy::too_many_arguments)]
            #[inline]
            pub fn row($($arg: $ty),*) -> [f64; WIDTH] {
                [$($($value,)?)*]
            }
        }
    };
}

/// A binding code as the column carries it (an index into `_core.BINDINGS` or
/// `_core.CONSTRAINTS`).
fn code(c: u8) -> f64 {
    f64::from(c)
}

/// A count that exists only for a feasible plan: NaN (no plan) otherwise.
fn if_feasible(feasible: bool, v: f64) -> f64 {
    if feasible {
        v
    } else {
        f64::NAN
    }
}

schema! {
    /// `scaleplan.InferenceCost` (docs/cost-model.md).
    inference_cost "InferenceCost" (c: &InferenceCost) {
        prefill_flops ["FLOPs"] "Prefill FLOPs (0 when prefill is left out)." => c.prefill_flops,
        decode_flops ["FLOPs"] "Decode FLOPs of all samples." => c.decode_flops,
        flops ["FLOPs"] "prefill_flops + decode_flops." => c.flops,
        kv_bytes ["bytes"]
            "KV-cache bytes read by decode (plus block scores under block top-k)." => c.kv_bytes,
        weight_bytes ["bytes"]
            "The query's share of weight reads (0 when the batch is unset: fully amortised)."
            => c.weight_bytes,
        bytes ["bytes"] "kv_bytes + weight_bytes." => c.bytes,
        eflops ["eFLOPs"]
            "flops + I * bytes, I = peak FLOP/s / HBM bytes/s of the hardware (Kinetics)."
            => c.eflops,
        seconds ["s"] "Replica time charged to the query (its share of a batched decode)."
            => c.seconds,
        gpu_seconds ["GPU-s"] "seconds times the GPUs of the replica." => c.gpu_seconds,
        ttft_s ["s"] "Time to first token." => c.ttft_s,
        tpot_s ["s"] "Time per output token (one decode step of the whole batch)." => c.tpot_s,
        latency_s ["s"] "What the query waits: ttft_s + gen_tokens decode steps." => c.latency_s,
        batch ["sequences"] "Sequences decoded together; inf when unset (the Kinetics convention)."
            => c.batch,
        max_batch ["sequences"]
            "Largest number of sequences whose KV cache fits beside the weights: max_queries * \
             samples." => c.max_batch,
        max_queries ["queries"]
            "Largest number of whole queries (all their samples) whose KV cache fits beside the \
             weights." => c.max_queries,
        weight_memory_bytes ["bytes"] "HBM the weights take on the replica."
            => c.weight_memory_bytes,
        kv_memory_bytes_per_query ["bytes"] "HBM one query's KV cache takes at its full length."
            => c.kv_memory_bytes_per_query,
        min_gpus ["GPUs"] "Fewest GPUs whose HBM holds the weights and one query's KV cache."
            => c.min_gpus,
        feasible [""] "Whether the configuration fits in memory and context." => flag(c.feasible),
        binding [""]
            "What makes the configuration infeasible: none, weights, kv_cache or context."
            => code(c.binding.code()),
    }
}

schema! {
    /// `scaleplan.TrainingCost` (docs/cost-model.md).
    training_cost "TrainingCost" (c: &TrainingCost) {
        flops ["FLOPs"] "Training compute: 6*N*D, plus attention when seq_len is given."
            => c.flops,
        gpu_hours ["GPU-h"] "GPU time at peak * MFU." => c.gpu_hours,
        wall_seconds ["s"] "Wall-clock time on the given GPUs." => c.wall_seconds,
        days ["days"] "Wall-clock time on the given GPUs, in days." => c.days,
        usd ["USD"] "Cost at the hardware's usd_per_hour; None when the catalog has no price."
            => c.usd.unwrap_or(0.0),
    }
}

// The fields every plan starts with (`scaleplan.plan.Plan`).
const FEASIBLE_DOC: &str =
    "Whether the goal can be met; an infeasible plan names the constraint in \
                        binding.";
const BINDING_DOC: &str = "The constraint that decides the plan, or that makes it impossible \
                           (docs/planning.md, \"What binding means\").";
const EXTRAPOLATED_DOC: &str = "Where the plan lies outside the range its loss law was fitted on \
                            (empty: inside it); for an array goal one table per plan (value, \
                            bound, factor per variable), which at() turns into records.";
const UNCERTAINTY_DOC: &str = "With a LawFit as the law: the plan re-solved under each bootstrap \
                               sample of the fit, its quantiles and the probability of meeting \
                               a target (scaleplan.Uncertainty, docs/uncertainty.md); None \
                               otherwise.";
const PROVENANCE_DOC: &str = "Where the plan's inputs come from: each input (law, hardware, \
                              models, accuracy, prices, ...) published with its citation, \
                              fitted or calibrated on n points, an assumed catalog value, or \
                              given by the user (scaleplan.Provenance, docs/planning.md, \
                              \"Provenance\").";
const TEST_TIME_UNCERTAINTY_DOC: &str = "With an AccuracyFit that has bootstrap samples as the \
                                         accuracy: the plan solved again under each sample, its \
                                         quantiles and the probability of reaching \
                                         reach_accuracy (scaleplan.Uncertainty, \
                                         docs/uncertainty.md); None otherwise.";
const LAYERS_DOC: &str = "Layers of the shape the family's smooth rule implies at params (a real \
                     number, a planning abstraction: docs/cost-model.md, \"Families\"); NaN for \
                     an infeasible plan.";

const LOSS_UNITS_DOC: &str = "Unit of loss, the law's: nats_per_token or bits_per_char \
                              (docs/planning.md, \"Loss-law forms\").";

schema! {
    /// `scaleplan.TrainingPlan` (docs/planning.md).
    training_plan "TrainingPlan" (p: &TrainingPlan) {
        feasible [""] FEASIBLE_DOC => flag(p.feasible),
        binding [""] BINDING_DOC => code(p.binding.code()),
        law [""] "Name of the loss law.",
        loss_units [""] LOSS_UNITS_DOC,
        params ["parameters"] "Parameters N." => p.params,
        tokens ["tokens"] "Training tokens D." => p.tokens,
        effective_tokens ["tokens"]
            "D' the repeated data is worth under a data limit (D without one)."
            => p.effective_tokens,
        loss ["<loss_units>"] "Loss the law predicts, in loss_units." => p.loss,
        compute_flops ["FLOPs"]
            "Physical training compute: the budget, or the least compute reaching the target \
             loss; 6*N*D when the run starts now."
            => p.compute,
        tokens_per_param ["tokens/parameter"] "tokens / params.",
        extrapolated [""] EXTRAPOLATED_DOC,
        effective_compute_flops ["FLOPs"]
            "6*N*D: compute_flops x compute_multiplier, the compute today's law plans with \
             (docs/planning.md, \"Training later\")."
            => p.effective_compute,
        compute_multiplier ["FLOPs/FLOP"]
            "2^(start_in_months / 8.44): what a FLOP is worth at the start, in today's FLOPs \
             (Ho et al. 2024); 1 when the run starts now."
            => p.compute_multiplier,
        compute_multiplier_slow ["FLOPs/FLOP"]
            "The multiplier at the slow end of the halving time's 95% interval (14.27 months)."
            => p.compute_multiplier_slow,
        compute_multiplier_fast ["FLOPs/FLOP"]
            "The multiplier at the fast end of the halving time's 95% interval (4.52 months)."
            => p.compute_multiplier_fast,
        compute_flops_slow ["FLOPs"]
            "compute_flops of the plan at the slow end (the budget, for a budget goal)."
            => p.compute_slow,
        compute_flops_fast ["FLOPs"]
            "compute_flops of the plan at the fast end (the budget, for a budget goal)."
            => p.compute_fast,
        loss_slow ["<loss_units>"]
            "loss of the plan at the slow end (the highest; the target, for a target goal)."
            => p.loss_slow,
        loss_fast ["<loss_units>"]
            "loss of the plan at the fast end (the lowest; the target, for a target goal)."
            => p.loss_fast,
        provenance [""] PROVENANCE_DOC,
        uncertainty [""] UNCERTAINTY_DOC,
    }
}

schema! {
    /// `scaleplan.LifetimePlan` (docs/planning.md); `shape` from `convert::shape_row`.
    lifetime_plan "LifetimePlan" (p: &LifetimePlan, shape: [f64; 4]) {
        feasible [""] FEASIBLE_DOC => flag(p.feasible),
        binding [""] BINDING_DOC => code(p.binding.code()),
        law [""] "Name of the loss law.",
        loss_units [""] LOSS_UNITS_DOC,
        unit [""] "Unit of every cost: flops, eflops, gpu_hours or usd.",
        params ["parameters"] "Parameters N." => p.params,
        tokens ["tokens"] "Training tokens D." => p.tokens,
        effective_tokens ["tokens"]
            "D' the repeated data is worth under a data limit (D without one)."
            => p.effective_tokens,
        loss ["<loss_units>"] "Loss the law predicts, in loss_units." => p.loss,
        tokens_per_param ["tokens/parameter"] "tokens / params.",
        training_flops ["FLOPs"] "Training compute." => p.training_flops,
        training_cost ["<unit>"] "Training cost." => p.training_cost,
        inference_cost_per_query ["<unit>"] "Inference cost of one query."
            => p.inference_cost_per_query,
        inference_cost ["<unit>"] "Lifetime inference: queries x cost per query."
            => p.inference_cost,
        total_cost ["<unit>"] "training_cost + inference_cost." => p.total_cost,
        chinchilla_params ["parameters"]
            "Parameters of the training-only (Chinchilla) optimum reaching the same loss."
            => p.chinchilla_params,
        chinchilla_tokens ["tokens"] "Training tokens of that optimum." => p.chinchilla_tokens,
        chinchilla_total_cost ["<unit>"] "Lifetime cost of that optimum, priced the same way."
            => p.chinchilla_total_cost,
        cost_saved ["<unit>"]
            "chinchilla_total_cost - total_cost: what accounting for inference saves; NaN when \
             the comparison does not apply (no training-only plan reaches the loss, or that \
             model cannot be served on the hardware)." => p.cost_saved(),
        gpus ["GPUs"]
            "GPUs per serving replica (tensor parallel), chosen among 1, 2, 4, 8 unless given."
            => p.gpus,
        layers ["layers"] LAYERS_DOC_LIFETIME => shape[0],
        query_heads ["heads"] "Query heads of that shape." => shape[1],
        kv_heads ["heads"] "KV heads of that shape." => shape[2],
        head_dim ["dimensions"] "Head size of that shape." => shape[3],
        extrapolated [""] EXTRAPOLATED_DOC,
        provenance [""] PROVENANCE_DOC,
        uncertainty [""] UNCERTAINTY_DOC,
    }
}

const LAYERS_DOC_LIFETIME: &str = "Layers of the shape the family's smooth rule implies at \
                                   params (a real number, a planning abstraction: \
                                   docs/cost-model.md, \"Families\"); None when inference is \
                                   priced at 2N FLOPs per token (no family), NaN for an \
                                   infeasible plan.";

const TASK_DOC: &str = "What accuracy is measured on: a preset's task (aime24) or \
                        measured:<name>.";
const AGGREGATOR_DOC: &str = "How k samples become one answer: coverage (pass@k with a perfect \
                              verifier, an upper bound on what deploys) or majority (majority \
                              vote, deployable without a verifier).";

schema! {
    /// `scaleplan.TestTimePlan` (docs/planning.md). `model` and `attention` travel as indices
    /// into the candidates and the attention choices; the façade names them.
    test_time_plan "TestTimePlan" (s: &Solution) {
        feasible [""] "Whether any configuration fits the budget; an infeasible plan names the \
                       constraint in binding." => flag(s.plan.feasible),
        binding [""] BINDING_DOC => code(s.plan.binding.code()),
        unit [""] "Unit of budget and cost: flops, eflops, seconds or usd.",
        task [""] TASK_DOC,
        aggregator [""] AGGREGATOR_DOC,
        budget ["<unit>"] "Per-query budget.",
        model [""] "The chosen model; None where no configuration fits."
            => s.plan.candidate as f64,
        attention [""]
            "The chosen attention (dense, topk(S) or block_topk(S,B)); None where no \
             configuration fits." => s.plan.attention as f64,
        samples ["samples"] "Samples per query k."
            => if_feasible(s.plan.feasible, f64::from(s.plan.samples)),
        gen_tokens ["tokens"] "Generation length limit per sample L." => s.plan.gen_tokens,
        accuracy ["fraction"] "Predicted accuracy." => s.plan.accuracy,
        cost ["<unit>"] "Cost of one query." => s.plan.cost,
        eflops ["eFLOPs"] "Cost of one query in eFLOPs." => s.plan.eflops,
        seconds ["s"] "Replica time charged to one query." => s.plan.seconds,
        latency_s ["s"] "What one query waits." => s.plan.latency_s,
        oracle_accuracy ["fraction"]
            "Upper bound with measured data: every problem takes its own best configuration \
             (not a deployable policy); None for the parametric model."
            // -1: no oracle (a preset); NaN: no plan at this budget.
            => s.oracle.map_or(-1.0, |o| if_feasible(s.plan.feasible, o)),
        eval_samples ["samples"]
            "Samples per problem of the eval behind the chosen model's accuracy (measured counts \
             or a fit); samples above it are the fit's extrapolation. None for a preset."
            // -1: no eval (a preset); NaN: no plan at this budget.
            => s.eval_samples.unwrap_or(-1.0),
        provenance [""] PROVENANCE_DOC,
        uncertainty [""] TEST_TIME_UNCERTAINTY_DOC,
    }
}

schema! {
    /// `scaleplan.JointPlan` (docs/planning.md); `attention` travels as an index into the
    /// attention choices, `shape` from `convert::shape_row`.
    joint_plan "JointPlan" (p: &JointPlan, marginal: f64, shape: [f64; 4]) {
        feasible [""] FEASIBLE_DOC => flag(p.feasible),
        binding [""] BINDING_DOC => code(p.binding.code()),
        law [""] "Name of the loss law.",
        unit [""] "Unit of budget and costs: flops, eflops, gpu_hours or usd.",
        task [""] "What accuracy is: \"<law> error law (downstream average)\", the law's \
                   error law fitted on top-1 error averaged over downstream tasks.",
        aggregator [""] "How k samples become one answer: coverage (pass@k with a perfect \
                         verifier, an upper bound on what deploys), the only one the joint \
                         planner models.",
        params ["parameters"] "Parameters N." => p.params,
        tokens ["tokens"] "Training tokens D." => p.tokens,
        samples ["samples"] "Samples per query k."
            => if_feasible(p.feasible, f64::from(p.samples)),
        gen_tokens ["tokens"] "Generation length limit per sample L." => p.gen_tokens,
        attention [""] "The chosen attention; None where there is no plan." => p.attention as f64,
        accuracy ["fraction"] "Predicted task accuracy." => p.accuracy,
        loss ["nats/token"] "Loss the law predicts." => p.loss,
        mu_inf ["fraction"]
            "Mean task accuracy at unlimited generation length: 1 - the error law at the loss."
            => p.mu_inf,
        training_cost ["<unit>"] "Training cost." => p.training_cost,
        inference_cost ["<unit>"] "Cost of serving every query." => p.inference_cost,
        total_cost ["<unit>"] "training_cost + inference_cost." => p.total_cost,
        latency_s ["s"] "What one query waits." => p.latency_s,
        marginal_accuracy ["fraction"] "Accuracy that 1% more budget would add." => marginal,
        gpus ["GPUs"]
            "GPUs per serving replica (tensor parallel), chosen among 1, 2, 4, 8 unless given."
            => p.gpus,
        layers ["layers"] LAYERS_DOC => shape[0],
        query_heads ["heads"] "Query heads of that shape." => shape[1],
        kv_heads ["heads"] "KV heads of that shape." => shape[2],
        head_dim ["dimensions"] "Head size of that shape." => shape[3],
        extrapolated [""] EXTRAPOLATED_DOC,
        provenance [""] PROVENANCE_DOC,
        uncertainty [""] UNCERTAINTY_DOC,
    }
}

schema! {
    /// `scaleplan.TestTimeFrontier` (docs/planning.md): built by the façade from test-time
    /// plans, no columns of its own.
    test_time_frontier "TestTimeFrontier" () {
        budgets ["<unit>"] "The per-query budgets, in the plan's unit.",
        plan [""] "The best plan at every budget (a TestTimePlan of arrays).",
        per_model ["fraction"] "Each candidate model's own best accuracy at every budget.",
        oracle ["fraction"]
            "The per-problem oracle at every budget, an upper bound (measured data); None for \
             the parametric model.",
    }
}

schema! {
    /// `scaleplan.LawFit` (docs/fitting.md): built by the façade from `fit_law`'s dict.
    law_fit "LawFit" () {
        estimate [""] "The end point of the fit: E, A, B, alpha, beta by name.",
        covariance [""]
            "5 x 5 (E, A, B, alpha, beta; form muennighoff: 7 x 7, the order of keys), from the \
             bootstrap samples or (bootstrap = 0) the Gauss-Newton approximation s^2 (J^T J)^-1 \
             at the optimum; None when neither is available.",
        covariance_source [""] "Where the covariance comes from: bootstrap, gauss-newton or \
                                unavailable.",
        samples [""] "Bootstrap estimates, shape (bootstrap, 5); form muennighoff (bootstrap, 7), \
                      columns E, A, B, alpha, beta, r_star_tokens, r_star_params.",
        residuals [""] "ln(fitted loss) - ln(observed loss), per run, in input order.",
        n_points ["runs"] "Runs the law was fitted on.",
        objective [""] "Sum of Huber losses of the log-loss residuals at the end point.",
        converged [""] "Whether the fit converged (law raises when it did not).",
        message [""] "Why the fit is not converged (empty when it is).",
        delta [""] "Huber loss threshold on the log-loss residuals.",
        bootstrap ["refits"] "Bootstrap refits requested.",
        seed [""] "Seed of the bootstrap resampling.",
        form [""] "The law's form: chinchilla or muennighoff (docs/fitting.md).",
        unique_tokens ["tokens"]
            "Unique tokens: each run's tokens counted as the effective tokens D' of repeated \
             data; None without a data limit.",
        bootstrap_unconverged ["refits"]
            "Bootstrap refits that stopped before their convergence test (still in samples).",
    }
}

schema! {
    /// `scaleplan.FittedAccuracy` (docs/fitting.md, "Test-time accuracy"): one (model,
    /// generation length) of an accuracy fit, built by the façade from `fit_accuracy`'s dicts.
    fitted_accuracy "FittedAccuracy" () {
        model [""] "The model evaluated.",
        gen_tokens ["tokens"] "The generation length limit of its samples.",
        problems ["problems"] "Problems evaluated at this length.",
        eval_samples ["samples"]
            "The fewest samples of any problem: pass@k is measured up to it; beyond it the fit \
             extrapolates.",
        pass1 ["fraction"] "Mean over problems of c / n (the measured pass@1).",
        a [""] "Beta shape a of per-problem success; None without a converged fit.",
        b [""] "Beta shape b of per-problem success; None without a converged fit.",
        log_likelihood [""]
            "Beta-binomial log-likelihood at the fit, binomial coefficients left out; None \
             without a converged fit.",
        converged [""] "Whether the maximum-likelihood fit is finite and converged.",
        message [""] "Why there is no fit (empty when there is).",
        samples [""] "Bootstrap (a, b) over resampled problems, shape (resamples, 2).",
        bootstrap_failed ["refits"]
            "Bootstrap resamples without a finite fit (left out of samples).",
    }
}

schema! {
    /// `scaleplan.AccuracyFit` (docs/fitting.md, "Test-time accuracy").
    accuracy_fit "AccuracyFit" () {
        fits [""] "One FittedAccuracy per (model, generation length), by model then length.",
        name [""] "What the eval is (the file's name or a label); accuracy's task is \
                   fitted:<name>.",
        rows ["rows"] "Eval rows fitted.",
        bootstrap ["refits"] "Bootstrap resamples of the problems requested per fit.",
        seed [""] "Seed of the bootstrap resampling.",
    }
}

schema! {
    /// `scaleplan.PassAtK` (docs/fitting.md, "Test-time accuracy").
    pass_at_k "PassAtK" () {
        k ["samples"] "Samples per problem.",
        estimate ["fraction"] "pass@k of the fit: 1 - B(a, b + k) / B(a, b).",
        lower ["fraction"] "Lower end of the percentile bootstrap interval.",
        upper ["fraction"] "Upper end of the percentile bootstrap interval.",
        level ["fraction"] "Level of the interval.",
        extrapolated [""] "Whether k is beyond the eval's samples per problem.",
    }
}

schema! {
    /// `scaleplan.Calibration` (docs/calibration.md): built by the façade from `calibrate`'s
    /// dict.
    calibration "Calibration" () {
        hardware [""] "The hardware entry with the fitted values, usable wherever a Hardware is.",
        parameters [""] "Fitted prefill_mfu, decode_bw_util (fractions) and step_overhead_s \
                         (seconds), by name.",
        stderr [""] "Standard errors of the parameters, by name (0 for one held at its bound).",
        at_bound [""] "Whether each parameter sits at its bound (only step_overhead_s has one: 0).",
        residuals [""] "Relative residuals per run, predicted / measured - 1: ttft and tpot \
                        arrays, in input order.",
        predicted [""] "The fitted cost model's ttft_s and tpot_s per run, seconds.",
        prefill_compute_bound [""] "Per run, whether its prefill is bound by compute (else by \
                                    the weight reads).",
        n_runs ["runs"] "Runs the hardware was calibrated on.",
        rms_relative_error [""] "Root mean square of all relative residuals (TTFT and TPOT).",
        runs [""] "The runs as read: model, batch, prompt_tokens, gen_tokens, gpus, ttft_s, \
                   tpot_s, and where each came from.",
        samples [""] "Bootstrap resamples of the runs refitted: one row per resample that has a \
                      fit, columns prefill_mfu, decode_bw_util, step_overhead_s (empty without \
                      bootstrap).",
        bootstrap ["refits"] "Bootstrap resamples of the runs asked for (0: none).",
        seed [""] "Seed of the bootstrap resampling.",
        bootstrap_failed ["refits"] "Resamples without a fit (left out of samples).",
    }
}

schema! {
    /// `scaleplan.Uncertainty` (docs/uncertainty.md): computed by the façade from the per-sample
    /// plan columns (numpy's quantiles), so no field is a column.
    uncertainty "Uncertainty" () {
        samples ["samples"]
            "Samples (a law fit's, an accuracy fit's or a calibration's bootstrap samples) each \
             plan was solved under.",
        quantiles ["fraction"] "The quantile levels of every band, e.g. (0.1, 0.5, 0.9).",
        bands [""]
            "Per decision and outcome field of the plan, its quantiles over the re-planned \
             samples that have a plan (numpy's linear interpolation, NaN ignored): quantiles \
             first, then the goal's shape.",
        fixed ["<outcome>"]
            "Quantiles of the outcome the point plan reaches under each sample (its loss at its \
             (N, D'); the joint and test-time planners: its accuracy at its configuration; on a \
             calibration's samples: its latency).",
        feasible_share ["fraction"] "Share of the samples whose re-solved plan exists.",
        threshold ["<outcome>"]
            "The outcome to reach: target_loss or target_accuracy, or reach_loss or \
             reach_accuracy with a budget (latency_slo_s on a calibration's samples); None \
             without one.",
        p_fixed ["fraction"]
            "Fixed plan: share of samples under whose law the point plan meets the threshold \
             (what committing to the point plan gets); NaN without a point plan.",
        p_replanned ["fraction"]
            "Re-planned: share of samples whose own plan meets the threshold at the same goal \
             (a budget: its outcome at the budget; a target: its cost at most the point plan's).",
        per_sample [""]
            "The re-planned fields and fixed per sample: samples first, then the goal's shape.",
        outcome [""]
            "What fixed and threshold measure: loss (nats/token, lower is better; training and \
             lifetime plans), accuracy (a fraction, higher is better; joint and test-time plans) \
             or latency_s (seconds, lower is better; test-time plans on a calibration's \
             samples).",
    }
}

schema! {
    /// `scaleplan.ParScalePlan` (docs/planning.md, "Parallel streams").
    parscale_plan "ParScalePlan" (p: &StreamPlan) {
        feasible [""] FEASIBLE_DOC => flag(p.feasible),
        binding [""] BINDING_DOC => code(p.binding.code()),
        law [""] "Name of the parallel-scaling law.",
        objective [""]
            "What cost is: gpu_seconds (GPU-s), latency (s) or eflops (eFLOPs) per query.",
        streams ["streams"] "P: parallel streams per sequence, one of 1, 2, 4, 8." => p.streams,
        params ["parameters"]
            "N as the law counts it: non-embedding parameters, the streams' own included."
            => p.params,
        backbone_params ["parameters"]
            "The backbone: params less the streams' extra parameters (0.2% per stream)."
            => p.backbone_params,
        loss ["nats/token"] "Loss the law predicts at (params, streams)." => p.loss,
        cost ["<objective>"] "The objective for one query." => p.cost,
        gpu_seconds ["GPU-s"] "GPU time charged to one query." => p.gpu_seconds,
        latency_s ["s"] "What one query waits: time to first token plus its decode steps."
            => p.latency_s,
        eflops ["eFLOPs"] "FLOPs + I * bytes of one query." => p.eflops,
        batch ["sequences"]
            "Sequences decoded together, each as P streams (a fleet average under batch \"max\"; \
             inf when unset)." => p.batch,
        max_batch ["sequences"] "Largest batch whose KV cache (P streams each) fits beside the \
                                 weights." => p.max_batch,
        weight_memory_bytes ["bytes"] "HBM the weights take on a replica."
            => p.weight_memory_bytes,
        kv_memory_bytes_per_query ["bytes"]
            "HBM one query's KV cache takes at full length, all P streams."
            => p.kv_memory_bytes_per_query,
        single_stream_params ["parameters"]
            "N of the one-stream model reaching the same loss." => p.single_stream_params,
        single_stream_cost ["<objective>"]
            "That model's objective per query; NaN where it does not fit in memory."
            => p.single_stream_cost,
        extrapolated [""] EXTRAPOLATED_DOC,
        provenance [""] PROVENANCE_DOC,
    }
}

schema! {
    /// `scaleplan.RagPlan` (docs/planning.md#rag).
    rag_plan "RagPlan" (p: &RagPlan) {
        feasible [""] FEASIBLE_DOC => flag(p.feasible),
        binding [""] BINDING_DOC => code(p.binding.code()),
        law [""] "Name of the RAG computation allocation model.",
        documents ["documents"] "Retrieved documents per query k (per example too)."
            => if_feasible(p.feasible, f64::from(p.documents)),
        shots ["examples"] "In-context examples m."
            => if_feasible(p.feasible, f64::from(p.shots)),
        iterations ["iterations"] "Retrieval-generation iterations n (1: no iteration)."
            => if_feasible(p.feasible, f64::from(p.iterations)),
        metric ["metric"]
            "The predicted metric P, on the law's scale (the paper's normalised metric for the \
             shipped preset)." => p.metric,
        logit ["logit"] "sigma^-1(P): the law's linear predictor." => p.logit,
        effective_context_tokens ["tokens"]
            "Input tokens over all iterations (docs/planning.md#rag, \"Token accounting\")."
            => p.effective_context_tokens,
        max_prompt_tokens ["tokens"] "The longest prompt: the last iteration's."
            => p.max_prompt_tokens,
        eflops ["eFLOPs"] "Cost of one query, summed over its iterations; NaN without a model."
            => p.eflops,
        latency_s ["s"] "What one query waits, summed over its iterations; NaN without a model."
            => p.latency_s,
        provenance [""] PROVENANCE_DOC,
    }
}

schema! {
    /// `scaleplan.AgentPlan` (docs/planning.md, "Agent plans"). `model` travels as an index
    /// into the table's models; the façade names it.
    agent_plan "AgentPlan" (p: &AgentPlan) {
        feasible [""] FEASIBLE_DOC => flag(p.feasible),
        binding [""] BINDING_DOC => code(p.binding.code()),
        unit [""] "Unit of budget and costs: usd or gpu_seconds.",
        tools [""] "The priced tools (the calls_<tool> columns), sorted by name.",
        target_accuracy ["fraction"]
            "The accuracy to reach at the least cost; None when planning within a budget.",
        budget ["<unit>"] "Per-query budget; None when planning for a target accuracy.",
        model [""] "The chosen model; None where no measured row meets the goal."
            => p.model as f64,
        row ["index"] "Index of the chosen row in the table (0-based); NaN where there is no plan."
            => if_feasible(p.feasible, p.row as f64),
        tool_budget ["calls"] "The tool-call budget of the chosen row (measured, never \
                               interpolated)." => p.tool_budget,
        accuracy ["fraction"] "The chosen row's measured accuracy." => p.accuracy,
        cost ["<unit>"] "Unified cost of one query: token_cost + tool_cost." => p.priced.cost,
        token_cost ["<unit>"]
            "The tokens' share: the row's input and output tokens priced by the cost model on \
             the serving hardware." => p.priced.token_cost,
        tool_cost ["<unit>"] "The tools' share: the sum over tools of calls x price per call."
            => p.priced.tool_cost,
        gpu_seconds ["GPU-s"] "GPU-seconds the query's tokens take." => p.priced.gpu_seconds,
        tool_calls ["calls"] "Mean tool calls per query, all tools." => p.priced.tool_calls,
        latency_s ["s"] "Model time one query waits, over its turns (tool time not included)."
            => p.priced.latency_s,
        provenance [""] PROVENANCE_DOC,
    }
}

schema! {
    /// `scaleplan.RagFit` (docs/fitting.md#rag-law): built by the façade from `fit_rag`.
    rag_fit "RagFit" () {
        law [""] "The refitted RagLaw (sigma kept), usable in plan_rag.",
        residuals [""] "Predicted minus observed metric, per row, in input order.",
        logit_residuals [""] "Fitted minus observed sigma^-1(metric), per row.",
        rms [""] "Root mean square of residuals.",
        n_rows ["rows"] "Rows the law was fitted on.",
    }
}

/// Every schema, for `_core.SCHEMAS`.
const ALL: &[(&str, &[Field])] = &[
    (inference_cost::TITLE, inference_cost::FIELDS),
    (training_cost::TITLE, training_cost::FIELDS),
    (training_plan::TITLE, training_plan::FIELDS),
    (lifetime_plan::TITLE, lifetime_plan::FIELDS),
    (test_time_plan::TITLE, test_time_plan::FIELDS),
    (test_time_frontier::TITLE, test_time_frontier::FIELDS),
    (joint_plan::TITLE, joint_plan::FIELDS),
    (law_fit::TITLE, law_fit::FIELDS),
    (calibration::TITLE, calibration::FIELDS),
    (uncertainty::TITLE, uncertainty::FIELDS),
    (fitted_accuracy::TITLE, fitted_accuracy::FIELDS),
    (accuracy_fit::TITLE, accuracy_fit::FIELDS),
    (pass_at_k::TITLE, pass_at_k::FIELDS),
    (parscale_plan::TITLE, parscale_plan::FIELDS),
    (agent_plan::TITLE, agent_plan::FIELDS),
    (rag_plan::TITLE, rag_plan::FIELDS),
    (rag_fit::TITLE, rag_fit::FIELDS),
];

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let schemas = PyDict::new(m.py());
    for (title, fields) in ALL {
        let rows: Vec<(&str, &str, &str, bool)> = fields
            .iter()
            .map(|f| (f.name, f.unit, f.doc, f.column))
            .collect();
        schemas.set_item(title, rows)?;
    }
    m.add("SCHEMAS", schemas)
}
