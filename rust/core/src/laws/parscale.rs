//! The parallel-scaling law (ParScale, Chen et al. 2025, arXiv:2505.10475; docs/design.md,
//! "Parallel streams"): a model of N non-embedding parameters run as P parallel streams reaches
//!
//!   L(N, P) = E + (A / (N (1 + k ln P)))^alpha,
//!
//! so P streams act like a model of N (1 + k ln P) parameters. Its own type, beside `LossLaw`:
//! it has no token term and a stream count in place of one.

use serde::{Deserialize, Serialize};

use crate::error::{check, PlanError, Result};

/// The stream counts the published fits were measured at (the paper's P in {1, 2, 4, 8}): the
/// planners choose among these and no others.
pub const PARSCALE_STREAMS: [u32; 4] = [1, 2, 4, 8];

/// A parallel-scaling law as a catalog entry (`[[parscale_law]]` in laws.toml).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ParScaleLaw {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub source: String,
    /// The data the law was fitted on (its loss scale).
    #[serde(default)]
    pub domain: String,
    #[serde(rename = "E")]
    pub e: f64,
    #[serde(rename = "A")]
    pub a: f64,
    pub alpha: f64,
    pub k: f64,
    /// Non-embedding parameters of the smallest and largest fitted run.
    pub params_min: f64,
    pub params_max: f64,
}

impl ParScaleLaw {
    pub fn validate(&self) -> Result<()> {
        if self.name.trim().is_empty() {
            return Err(PlanError::invalid("name", "must not be empty"));
        }
        check::non_negative("E", self.e)?;
        check::positive("A", self.a)?;
        check::positive("alpha", self.alpha)?;
        check::positive("k", self.k)?;
        check::positive("params_min", self.params_min)?;
        check::positive("params_max", self.params_max)?;
        if self.params_min > self.params_max {
            return Err(PlanError::invalid(
                "params_max",
                format!(
                    "must be at least params_min ({}), got {}",
                    self.params_min, self.params_max
                ),
            ));
        }
        Ok(())
    }

    /// 1 + k ln P: how many times its parameters P streams are worth.
    pub fn stream_factor(&self, streams: f64) -> f64 {
        1.0 + self.k * streams.ln()
    }

    /// L(N, P).
    pub fn loss(&self, params: f64, streams: f64) -> f64 {
        self.e + (self.a / (params * self.stream_factor(streams))).powf(self.alpha)
    }

    /// The N with L(N, P) = `loss` (closed form): A / ((L - E)^(1/alpha) (1 + k ln P)); None
    /// at or below the irreducible loss E.
    pub fn params_for(&self, loss: f64, streams: f64) -> Option<f64> {
        let room = loss - self.e;
        (room > 0.0).then(|| self.a / (room.powf(1.0 / self.alpha) * self.stream_factor(streams)))
    }
}

/// Stream counts a caller allows, checked against [`PARSCALE_STREAMS`]: sorted, without repeats.
pub fn check_streams(field: &str, streams: &[f64]) -> Result<Vec<u32>> {
    if streams.is_empty() {
        return Err(PlanError::invalid(field, "give at least one stream count"));
    }
    let mut out = Vec::with_capacity(streams.len());
    for (i, &p) in streams.iter().enumerate() {
        let allowed = PARSCALE_STREAMS.iter().find(|&&q| f64::from(q) == p);
        let Some(&q) = allowed else {
            return Err(PlanError::invalid(
                field,
                format!("must each be one of 1, 2, 4 or 8 (the fitted stream counts), got {p}"),
            )
            .at_index(i));
        };
        out.push(q);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}
