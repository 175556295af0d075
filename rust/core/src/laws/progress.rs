//! Algorithmic progress as an effective-compute multiplier (docs/planning.md, "Training later:
//! algorithmic progress"). A table of one entry, with its source, kept here beside the laws it
//! scales; the training planner reads it.

use crate::error::{check, PlanError, Result};

/// A halving time of the compute needed for a fixed performance, with its interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AlgorithmicProgress {
    pub name: &'static str,
    pub source: &'static str,
    /// Central estimate of the halving time, months.
    pub halving_months: f64,
    /// The interval's slow end: the longest halving time (the smallest multiplier), months.
    pub halving_months_slow: f64,
    /// The interval's fast end: the shortest halving time (the largest multiplier), months.
    pub halving_months_fast: f64,
}

/// Ho et al. 2024, "Algorithmic progress in language models", arXiv:2403.05812: the compute
/// needed to reach a fixed performance halved every 8.44 months (95% confidence interval 4.52
/// to 14.27 months) between 2012 and 2023 (their abstract and core model).
pub const HO2024: AlgorithmicProgress = AlgorithmicProgress {
    name: "ho2024",
    source: "Ho et al. 2024, Algorithmic progress in language models, arXiv:2403.05812 \
             (halving time 8.44 months, 95% CI 4.52 to 14.27)",
    halving_months: 8.44,
    halving_months_slow: 14.27,
    halving_months_fast: 4.52,
};

/// Largest start offset the training planner accepts, months (ten years). The halving times
/// were measured over 2012-2023; an offset of 120 months already extrapolates them a decade and
/// multiplies the budget by up to 2^(120/4.52) ~ 1e8.
pub const MAX_START_IN_MONTHS: f64 = 120.0;

/// `months` (the field `start_in_months`) finite and in [0, MAX_START_IN_MONTHS].
pub fn check_start_in_months(months: f64) -> Result<f64> {
    check::finite("start_in_months", months)?;
    if !(0.0..=MAX_START_IN_MONTHS).contains(&months) {
        return Err(PlanError::invalid(
            "start_in_months",
            format!("must be in [0, {MAX_START_IN_MONTHS}] months, got {months}"),
        ));
    }
    Ok(months)
}

/// The three multipliers of a start offset: (slow end, central, fast end).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Multipliers {
    pub slow: f64,
    pub mid: f64,
    pub fast: f64,
}

impl AlgorithmicProgress {
    /// 2^(months / halving): how much more a FLOP buys `months` later, by the same loss.
    pub fn multiplier(halving_months: f64, months: f64) -> f64 {
        (months / halving_months).exp2()
    }

    /// The multipliers at the interval's ends and its centre; `months` is checked.
    pub fn multipliers(&self, months: f64) -> Result<Multipliers> {
        let months = check_start_in_months(months)?;
        Ok(Multipliers {
            slow: Self::multiplier(self.halving_months_slow, months),
            mid: Self::multiplier(self.halving_months, months),
            fast: Self::multiplier(self.halving_months_fast, months),
        })
    }
}
