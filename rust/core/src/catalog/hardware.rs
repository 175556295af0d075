use serde::{Deserialize, Serialize};

use crate::error::{check, PlanError, Result};

/// Numeric precision of weights, KV cache or arithmetic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dtype {
    #[default]
    Bf16,
    Fp8,
}

impl Dtype {
    pub fn bytes(self) -> f64 {
        match self {
            Dtype::Bf16 => 2.0,
            Dtype::Fp8 => 1.0,
        }
    }

    pub fn parse(field: &str, s: &str) -> Result<Self> {
        match s {
            "bf16" | "fp16" => Ok(Dtype::Bf16),
            "fp8" => Ok(Dtype::Fp8),
            _ => Err(PlanError::invalid(
                field,
                format!("unknown dtype '{s}' (expected bf16, fp16 or fp8)"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::Bf16 => "bf16",
            Dtype::Fp8 => "fp8",
        }
    }
}

/// An accelerator as its spec sheet describes it, plus assumed efficiencies.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Hardware {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    /// Dense (no structured sparsity) BF16 tensor throughput, FLOP/s.
    pub peak_flops_bf16: f64,
    /// Dense FP8 tensor throughput, FLOP/s; absent where the hardware has no FP8 units.
    pub peak_flops_fp8: Option<f64>,
    /// HBM bandwidth, bytes/s.
    pub hbm_bytes_per_s: f64,
    /// HBM capacity, bytes.
    pub hbm_bytes: f64,
    pub interconnect_bytes_per_s: Option<f64>,
    /// Price of one GPU-hour in US dollars: the default of every USD budget on this hardware
    /// (a `*usd_per_hour` argument overrides it). In the shipped catalog a dated assumption
    /// (docs/catalog.md, "Prices"); absent when no price is known.
    pub usd_per_hour: Option<f64>,
    /// When `usd_per_hour` was read, `YYYY-MM` or `YYYY-MM-DD`; empty when unknown.
    #[serde(default)]
    pub price_date: String,
    /// Where `usd_per_hour` was read (a URL or a citation); empty when unknown.
    #[serde(default)]
    pub price_source: String,
    /// Model FLOPs utilisation assumed for training.
    pub train_mfu: f64,
    /// Fraction of peak FLOP/s reached by inference (prefill and decode arithmetic).
    pub prefill_mfu: f64,
    /// Fraction of HBM bandwidth reached by decode reads.
    pub decode_bw_util: f64,
    /// Fixed seconds added to every forward step (each decode step and each prefill pass):
    /// scheduling, kernel launches, sampling (docs/cost-model.md, "Per-step overhead").
    /// 0 in the shipped catalog; `calibrate` fits it from measured runs (docs/calibration.md).
    #[serde(default)]
    pub step_overhead_s: f64,
}

impl Hardware {
    pub fn validate(&self) -> Result<()> {
        check::positive("peak_flops_bf16", self.peak_flops_bf16)?;
        if let Some(v) = self.peak_flops_fp8 {
            check::positive("peak_flops_fp8", v)?;
        }
        check::positive("hbm_bytes_per_s", self.hbm_bytes_per_s)?;
        check::positive("hbm_bytes", self.hbm_bytes)?;
        if let Some(v) = self.interconnect_bytes_per_s {
            check::positive("interconnect_bytes_per_s", v)?;
        }
        if let Some(v) = self.usd_per_hour {
            check::positive("usd_per_hour", v)?;
        }
        check_date("price_date", &self.price_date)?;
        check::unit_fraction("train_mfu", self.train_mfu)?;
        check::unit_fraction("prefill_mfu", self.prefill_mfu)?;
        check::unit_fraction("decode_bw_util", self.decode_bw_util)?;
        check::non_negative("step_overhead_s", self.step_overhead_s)?;
        if self.name.trim().is_empty() {
            return Err(PlanError::invalid("name", "must not be empty"));
        }
        Ok(())
    }

    /// Peak dense throughput for arithmetic in `dtype`.
    pub fn peak_flops(&self, dtype: Dtype) -> Result<f64> {
        match dtype {
            Dtype::Bf16 => Ok(self.peak_flops_bf16),
            Dtype::Fp8 => self.peak_flops_fp8.ok_or_else(|| {
                PlanError::invalid(
                    "compute_dtype",
                    format!("hardware '{}' has no fp8 peak in the catalog", self.name),
                )
            }),
        }
    }

    /// Kinetics' arithmetic intensity I = peak FLOP/s / HBM B/s: FLOPs worth one byte moved.
    pub fn intensity(&self, dtype: Dtype) -> Result<f64> {
        Ok(self.peak_flops(dtype)? / self.hbm_bytes_per_s)
    }
}

/// A calendar date `YYYY-MM` or `YYYY-MM-DD` (month 01-12, day 01-31), or empty.
fn check_date(field: &str, date: &str) -> Result<()> {
    if date.is_empty() {
        return Ok(());
    }
    let parts: Vec<&str> = date.split('-').collect();
    let number = |s: &str, width: usize, lo: u32, hi: u32| {
        s.len() == width
            && s.bytes().all(|b| b.is_ascii_digit())
            && s.parse::<u32>().is_ok_and(|v| (lo..=hi).contains(&v))
    };
    let ok = match parts.as_slice() {
        [y, m] => number(y, 4, 1900, 9999) && number(m, 2, 1, 12),
        [y, m, d] => number(y, 4, 1900, 9999) && number(m, 2, 1, 12) && number(d, 2, 1, 31),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(PlanError::invalid(
            field,
            format!("expected a date YYYY-MM or YYYY-MM-DD, got '{date}'"),
        ))
    }
}
