//! Test-time accuracy (docs/design.md#test-time-accuracy): how accuracy grows with generation
//! length and samples.

pub mod beta;
pub mod fit;
pub mod measured;
pub mod passk;

pub use beta::{saturation, Aggregator, BetaCurve, BetaPreset};
pub use fit::{fit_accuracy, AccuracyFit, AccuracyFitOptions, FittedCurve, GroupFit};
pub use measured::{curves_from_rows, EvalRow, MeasuredCurve};

/// One model's accuracy as a function of generation length and samples.
#[derive(Debug, Clone, PartialEq)]
pub enum Curve {
    Beta(BetaCurve),
    Measured(MeasuredCurve),
    /// A beta-binomial fitted to eval counts per generation length (`testtime::fit`).
    Fitted(FittedCurve),
}

impl Curve {
    pub fn accuracy(&self, gen_tokens: f64, samples: u32) -> f64 {
        match self {
            Curve::Beta(c) => c.accuracy(gen_tokens, samples),
            Curve::Measured(c) => c.accuracy(gen_tokens, samples),
            Curve::Fitted(c) => c.accuracy(gen_tokens, samples),
        }
    }

    /// Generation lengths the curve speaks for (measured: the budgets evaluated).
    pub fn gen_range(&self) -> Option<(f64, f64)> {
        match self {
            Curve::Beta(_) => None,
            Curve::Measured(c) => Some(c.gen_range()),
            Curve::Fitted(c) => Some(c.gen_range()),
        }
    }

    /// The most samples the curve can price (measured: the fewest samples of any cell; majority
    /// vote: `limits::MAX_MAJORITY_SAMPLES`, its sum being over k + 1 outcomes; a fit: any,
    /// beyond its `eval_samples` by extrapolation).
    pub fn max_samples(&self) -> Option<u32> {
        match self {
            Curve::Beta(c) => (c.aggregator == beta::Aggregator::Majority)
                .then_some(crate::limits::MAX_MAJORITY_SAMPLES),
            Curve::Measured(c) => Some(c.max_samples),
            Curve::Fitted(_) => None,
        }
    }

    /// Samples per problem the accuracy was measured with (measured counts and fits); a plan
    /// with more samples than a fit's is its extrapolation.
    pub fn eval_samples(&self) -> Option<u32> {
        match self {
            Curve::Beta(_) => None,
            Curve::Measured(c) => Some(c.max_samples),
            Curve::Fitted(c) => Some(c.eval_samples),
        }
    }
}
