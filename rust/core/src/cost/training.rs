use crate::catalog::{Dtype, Hardware, Model};
use crate::error::{check, Result};

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainingOptions {
    pub gpus: f64,
    /// Overrides the hardware's assumed training MFU.
    pub mfu: Option<f64>,
    /// Sequence length; when set, attention FLOPs 6*l*H*d*ctx per token are charged too.
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

/// C_train = 6*N*D (+ 6*l*H*d*ctx*D), run at peak * MFU on `gpus` GPUs.
pub fn training_cost(
    model: &Model,
    hw: &Hardware,
    tokens: f64,
    opt: &TrainingOptions,
) -> Result<TrainingCost> {
    check::positive("tokens", tokens)?;
    check::whole_at_least("gpus", opt.gpus, 1.0)?;
    let mfu = match opt.mfu {
        Some(m) => check::unit_fraction("mfu", m)?,
        None => hw.train_mfu,
    };
    let attention = match opt.seq_len {
        Some(ctx) => 6.0 * model.attention_dim() * check::positive("seq_len", ctx)?,
        None => 0.0,
    };
    let flops = (6.0 * model.flop_params + attention) * tokens;
    let gpu_seconds = flops / (hw.peak_flops(opt.compute_dtype)? * mfu);
    let wall_seconds = gpu_seconds / opt.gpus;
    Ok(TrainingCost {
        flops,
        gpu_hours: gpu_seconds / 3600.0,
        wall_seconds,
        days: wall_seconds / 86400.0,
        usd: hw.usd_per_hour.map(|p| p * gpu_seconds / 3600.0),
    })
}
