use crate::catalog::{Dtype, Hardware, Model};
use crate::error::{check, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingOptions {
    pub gpus: f64,
    /// Overrides the hardware's assumed training MFU.
    pub mfu: Option<f64>,
    /// Sequence length; when set, attention FLOPs 6*l*H*d*ctx per token are charged too
    /// (docs/design.md#training).
    pub seq_len: Option<f64>,
    pub compute_dtype: Dtype,
}

impl Default for TrainingOptions {
    fn default() -> Self {
        TrainingOptions {
            gpus: 1.0,
            mfu: None,
            seq_len: None,
            compute_dtype: Dtype::Bf16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingCost {
    pub flops: f64,
    pub gpu_hours: f64,
    pub wall_seconds: f64,
    pub days: f64,
    pub usd: Option<f64>,
}

/// FLOPs per parameter per training token: 2 forward and 4 backward (docs/design.md#training).
pub const TRAIN_FLOPS_PER_PARAM_TOKEN: f64 = 6.0;

/// Training compute C = 6*N*D FLOPs for `params` FLOP parameters on `tokens` tokens
/// (docs/design.md#training). Every conversion between C, N and D goes through this function
/// or its inverses [`training_tokens`] and [`training_params`].
pub fn training_flops(params: f64, tokens: f64) -> f64 {
    TRAIN_FLOPS_PER_PARAM_TOKEN * params * tokens
}

/// The tokens D = C / (6*N) that `flops` of training buy at `params`: the inverse of
/// [`training_flops`].
pub fn training_tokens(params: f64, flops: f64) -> f64 {
    flops / (TRAIN_FLOPS_PER_PARAM_TOKEN * params)
}

/// The parameters N = C / (6*D) whose training on `tokens` tokens costs `flops`.
pub fn training_params(tokens: f64, flops: f64) -> f64 {
    flops / (TRAIN_FLOPS_PER_PARAM_TOKEN * tokens)
}

/// The speed of a training run on one GPU: the hardware's dense peak for the compute dtype
/// times the model FLOPs utilisation (docs/design.md#units). The one conversion from training
/// FLOPs to GPU time (and, with a price, money): [`training_cost`] and the lifetime and joint
/// planners all use it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingRate {
    flops_per_gpu_second: f64,
}

impl TrainingRate {
    /// Peak at `dtype` times `mfu`, or times the hardware's training MFU when `mfu` is None
    /// (a given one is checked under the name `mfu_field`). An fp8 rate on hardware without an
    /// fp8 peak is an error naming `compute_dtype`.
    pub fn new(hw: &Hardware, dtype: Dtype, mfu: Option<f64>, mfu_field: &str) -> Result<Self> {
        let mfu = match mfu {
            Some(m) => check::unit_fraction(mfu_field, m)?,
            None => hw.train_mfu,
        };
        Ok(TrainingRate {
            flops_per_gpu_second: hw.peak_flops(dtype)? * mfu,
        })
    }

    /// Achieved training FLOP/s of one GPU.
    pub fn flops_per_gpu_second(&self) -> f64 {
        self.flops_per_gpu_second
    }

    /// GPU-seconds `flops` of training take.
    pub fn gpu_seconds(&self, flops: f64) -> f64 {
        flops / self.flops_per_gpu_second
    }

    /// GPU-hours one training FLOP takes.
    pub fn gpu_hours_per_flop(&self) -> f64 {
        1.0 / (self.flops_per_gpu_second * 3600.0)
    }
}

/// C_train = 6*N*D (+ 6*l*H*d*ctx*D), run at peak * MFU on `gpus` GPUs (docs/design.md#training).
pub fn training_cost(
    model: &Model,
    hw: &Hardware,
    tokens: f64,
    opt: &TrainingOptions,
) -> Result<TrainingCost> {
    check::positive("tokens", tokens)?;
    check::whole_at_least("gpus", opt.gpus, 1.0)?;
    let mfu = match opt.mfu {
        Some(m) => Some(check::unit_fraction("mfu", m)?),
        None => None,
    };
    let attention = match opt.seq_len {
        Some(ctx) => {
            let ctx = check::positive("seq_len", ctx)?;
            match model.sliding_window {
                None => training_flops(model.attention_dim(), ctx),
                // docs/cost-model.md, "Sliding-window attention"
                Some(_) => training_flops(model.training_attention_context(ctx), 1.0),
            }
        }
        None => 0.0,
    };
    // Per token: 6*N for the weights plus 6*l*H*d*ctx for attention.
    let flops = (training_flops(model.flop_params, 1.0) + attention) * tokens;
    let rate = TrainingRate::new(hw, opt.compute_dtype, mfu, "mfu")?;
    let gpu_seconds = rate.gpu_seconds(flops);
    let wall_seconds = gpu_seconds / opt.gpus;
    Ok(TrainingCost {
        flops,
        gpu_hours: gpu_seconds / 3600.0,
        wall_seconds,
        days: wall_seconds / 86400.0,
        usd: hw.usd_per_hour.map(|p| p * gpu_seconds / 3600.0),
    })
}
