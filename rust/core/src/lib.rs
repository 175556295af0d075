//! scaleplan-core: how a compute budget should be split between model parameters, training
//! tokens and inference-time compute. Pure Rust; the Python binding lives in `scaleplan-py`.

pub mod calibrate;
pub mod cancel;
pub mod catalog;
pub mod cost;
pub mod error;
pub mod laws;
pub mod limits;
pub mod plan;
pub mod testtime;

pub use cancel::Cancel;
pub use catalog::{Catalog, Dtype, Family, Hardware, Model, Moe};
pub use cost::{
    inference_cost, training_cost, Attention, Batch, Binding, InferenceCost, InferenceOptions,
    InferenceQuery, PrefillMode, Pricer, QueryColumns, TimeModel, TrainingCost, TrainingOptions,
};
pub use error::{PlanError, Result};
