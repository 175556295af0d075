//! The cost model (docs/design.md#training, #inference; docs/cost-model.md): training FLOPs, and
//! the FLOPs, memory traffic, time and memory fit of inference, priced the way the Kinetics
//! test-time scaling work prices it.

pub mod attention;
mod inference;
mod kernel;
mod shape;
mod training;

pub use attention::Attention;
pub use inference::whole_part;
pub use inference::{
    allreduce_seconds_per_token, inference_cost, Batch, Binding, InferenceCost, InferenceOptions,
    InferenceQuery, PrefillMode, Pricer, TimeModel,
};
pub use inference::{stream_extra_params, STREAM_EXTRA_PARAMS, STREAM_PREFIX_TOKENS};
pub use kernel::{CheckedColumns, QueryColumns, CHUNK};
pub use shape::{CostShape, FamilyShapes, ImpliedShape, MoeShape, PowerLaw, SlidingShape};
pub use training::{
    training_cost, training_flops, training_params, training_tokens, TrainingCost, TrainingOptions,
    TrainingRate, TRAIN_FLOPS_PER_PARAM_TOKEN,
};
