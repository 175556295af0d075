//! The planners (docs/design.md#planning-problems, docs/planning.md). Each returns a plan with
//! `feasible` and the constraint that binds; an impossible request is an answer, not an error.

pub mod agent;
pub mod joint;
pub mod lifetime;
pub mod parscale;
pub mod rag;
pub mod scalar;
pub mod testtime;
pub mod training;
pub mod uncertainty;

pub use agent::{AgentOptions, AgentPlan, AgentRow, AgentSolver, AgentUnit, PricedRow};
pub use joint::{JointOptions, JointPlan, JointSolver};
pub use lifetime::{
    plan_lifetime, CostUnit, Demand, InferencePricing, LifetimeGoal, LifetimeOptions, LifetimePlan,
    TP_DEGREES,
};
pub use parscale::{
    plan_streams, StreamGoal, StreamObjective, StreamOptions, StreamPlan, STREAM_MAX_PARAMS,
    STREAM_MIN_PARAMS,
};
pub use rag::{plan_rag, RagOptions, RagPlan, RagServing, RagTokens};
pub use testtime::{
    BudgetUnit, Candidate, Solution, TestTimeOptions, TestTimePlan, TestTimeSolver,
};
pub use training::{
    plan_training_budget, plan_training_budget_at, plan_training_target, plan_training_target_at,
    TrainingPlan,
};

/// The constraint that decides a plan (or makes it impossible).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Constraint {
    /// The budget is spent: more budget would buy a better plan.
    Budget,
    /// The plan is the cheapest reaching the target loss.
    TargetLoss,
    /// The target is at or below the law's irreducible loss E.
    LossFloor,
    /// The unique data available cannot reach the target, however often repeated.
    UniqueData,
    /// The inference demand alone costs more than the budget.
    InferenceExceedsBudget,
    /// The model size sits at the lower or upper bound given.
    MinParams,
    MaxParams,
    /// No model size in range fits in the serving hardware's memory.
    Memory,
    /// The per-query latency SLO.
    Latency,
    /// The generation length reached its upper bound (the curve's range, the option, or the
    /// model's context).
    MaxGenTokens,
    /// prompt + generation exceed every model's context.
    Context,
    /// Samples per query reached k_max.
    MaxSamples,
    /// The plan is the cheapest reaching the target accuracy (or, infeasible, none can).
    TargetAccuracy,
    /// The model size sits at a default lower or upper bound the user did not give: the
    /// planner's search floor (lifetime: `DEFAULT_MIN_PARAMS`) or ceiling, or the family's
    /// smallest or largest member (joint). docs/planning.md lists each default.
    MinParamsDefault,
    MaxParamsDefault,
    /// Samples per query reached the measured eval's samples per problem (pass@k is not
    /// measured beyond it).
    EvalSamples,
    /// The generation length reached the longest length the eval measured.
    MeasuredLength,
    /// The generation length sits at its lower bound (`min_gen_tokens`).
    MinGenTokens,
    /// The model size sits at the largest its loss law was validated on (a law without a loss
    /// floor is planned only inside its domain; docs/planning.md, "Loss-law forms").
    LawDomain,
    /// No measured configuration is more accurate: the agent table, not the budget, binds.
    MeasuredTable,
    // The RAG planner's (docs/planning.md#rag).
    /// The effective context length (input tokens over all iterations) budget.
    ContextBudget,
    /// Retrieved documents per query reached `max_documents`.
    MaxDocuments,
    /// In-context examples reached `max_shots`.
    MaxShots,
    /// Iterations reached `max_iterations`.
    MaxIterations,
    /// No more documents, examples or iterations would raise the predicted metric.
    NoGain,
}

impl Constraint {
    pub const ALL: [Constraint; 25] = [
        Constraint::Budget,
        Constraint::TargetLoss,
        Constraint::LossFloor,
        Constraint::UniqueData,
        Constraint::InferenceExceedsBudget,
        Constraint::MinParams,
        Constraint::MaxParams,
        Constraint::Memory,
        Constraint::Latency,
        Constraint::MaxGenTokens,
        Constraint::Context,
        Constraint::MaxSamples,
        Constraint::TargetAccuracy,
        Constraint::MinParamsDefault,
        Constraint::MaxParamsDefault,
        Constraint::EvalSamples,
        Constraint::MeasuredLength,
        Constraint::MinGenTokens,
        Constraint::LawDomain,
        Constraint::MeasuredTable,
        Constraint::ContextBudget,
        Constraint::MaxDocuments,
        Constraint::MaxShots,
        Constraint::MaxIterations,
        Constraint::NoGain,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Constraint::Budget => "budget",
            Constraint::TargetLoss => "target_loss",
            Constraint::LossFloor => "loss_floor",
            Constraint::UniqueData => "unique_data",
            Constraint::InferenceExceedsBudget => "inference_exceeds_budget",
            Constraint::MinParams => "min_params",
            Constraint::MaxParams => "max_params",
            Constraint::Memory => "memory",
            Constraint::Latency => "latency",
            Constraint::MaxGenTokens => "max_gen_tokens",
            Constraint::Context => "context",
            Constraint::MaxSamples => "max_samples",
            Constraint::TargetAccuracy => "target_accuracy",
            Constraint::MinParamsDefault => "min_params_default",
            Constraint::MaxParamsDefault => "max_params_default",
            Constraint::EvalSamples => "eval_samples",
            Constraint::MeasuredLength => "measured_length",
            Constraint::MinGenTokens => "min_gen_tokens",
            Constraint::LawDomain => "law_domain",
            Constraint::MeasuredTable => "measured_table",
            Constraint::ContextBudget => "context_budget",
            Constraint::MaxDocuments => "max_documents",
            Constraint::MaxShots => "max_shots",
            Constraint::MaxIterations => "max_iterations",
            Constraint::NoGain => "no_gain",
        }
    }

    pub fn code(self) -> u8 {
        self as u8
    }
}
