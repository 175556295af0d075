//! The column kernel: one model, hardware and set of options priced over many configurations
//! given as equal-length columns (docs/architecture.md, "The cost kernel").
//!
//! Two passes. [`Pricer::check_columns`] validates every configuration first (the error of the
//! first invalid one, with its index), so the pricing pass has no error path. The pricing pass
//! then runs one loop per combination of attention kind, batch mode and time model: each loop
//! calls the same formulas as [`Pricer::price`] (`Pricer::cost`, always inlined) with those
//! modes as constants, so the per-element branches on them fold away. The scalar `price` stays
//! the reference the kernel is tested against (rust/core/tests/kernel.rs).
//!
//! Adding an input: a column here, read in [`QueryColumns::query`], and its check in
//! [`QueryColumns::check`].

use super::attention::Attention;
use super::inference::{check_batch_holds_samples, Batch, InferenceCost, Pricer, TimeModel};
use super::InferenceQuery;
use crate::error::{check, PlanError, Result};

/// Per-configuration inputs, one slice of equal length each; `None` where the attention kind
/// or the batch mode does not take the input.
#[derive(Debug, Clone, Copy)]
pub struct QueryColumns<'a> {
    pub prompt_tokens: &'a [f64],
    pub gen_tokens: &'a [f64],
    pub samples: &'a [f64],
    /// KV budgets, one per configuration (top-k and block top-k).
    pub kv_budget: Option<&'a [f64]>,
    /// Block sizes, one per configuration (block top-k).
    pub block_size: Option<&'a [f64]>,
    /// Batch sizes, one per configuration (the fixed batch mode): each replaces the pricer's.
    pub batch: Option<&'a [f64]>,
}

/// Columns that passed [`Pricer::check_columns`] for one attention kind.
#[derive(Debug, Clone, Copy)]
pub struct CheckedColumns<'a> {
    columns: QueryColumns<'a>,
    attention: Attention,
}

impl CheckedColumns<'_> {
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<'a> QueryColumns<'a> {
    pub fn len(&self) -> usize {
        self.prompt_tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Configuration `i` with attention of the kind of `kind` (its parameters from the columns).
    #[inline(always)]
    fn query(&self, i: usize, kind: &Attention) -> InferenceQuery {
        let budget = || self.kv_budget.map_or(0.0, |b| b[i]);
        InferenceQuery {
            prompt_tokens: self.prompt_tokens[i],
            gen_tokens: self.gen_tokens[i],
            samples: self.samples[i],
            attention: match kind {
                Attention::Dense => Attention::Dense,
                Attention::TopK { .. } => Attention::TopK { budget: budget() },
                Attention::BlockTopK { .. } => Attention::BlockTopK {
                    budget: budget(),
                    block_size: self.block_size.map_or(0.0, |b| b[i]),
                },
            },
        }
    }

    /// The checks of [`Pricer::price`] on configuration `i` under `batch`.
    fn check(&self, i: usize, kind: &Attention, batch: Batch) -> Result<()> {
        let q = self.query(i, kind);
        if !q.plainly_valid() {
            q.validate()?;
        }
        let b = match (self.batch, batch) {
            (Some(sizes), _) => check::whole_at_least("batch", sizes[i], 1.0)?,
            (None, Batch::Fixed(b)) => b,
            (None, _) => return Ok(()),
        };
        check_batch_holds_samples(b, q.samples)
    }

    /// Whether configuration `i` passes [`QueryColumns::check`], in a few comparisons.
    #[inline(always)]
    fn plainly_valid(&self, i: usize, kind: &Attention, batch: Batch) -> bool {
        let q = self.query(i, kind);
        let b = match (self.batch, batch) {
            (Some(sizes), _) => sizes[i],
            (None, Batch::Fixed(b)) => b,
            (None, _) => return q.plainly_valid(),
        };
        q.plainly_valid() && b >= q.samples && b < 9.0e15 && (b as i64) as f64 == b
    }
}

impl Pricer {
    /// Check every configuration of `columns` as [`Pricer::price`] would, in order: the first
    /// invalid one's index and error. `attention` gives the kind (its parameters are ignored).
    pub fn check_columns<'a>(
        &self,
        columns: QueryColumns<'a>,
        attention: Attention,
    ) -> std::result::Result<CheckedColumns<'a>, (usize, PlanError)> {
        let n = columns.len();
        let lengths = [
            Some(columns.gen_tokens.len()),
            Some(columns.samples.len()),
            columns.kv_budget.map(<[f64]>::len),
            columns.block_size.map(<[f64]>::len),
            columns.batch.map(<[f64]>::len),
        ];
        if lengths.into_iter().flatten().any(|len| len != n) {
            let err = PlanError::invalid("columns", "every input column needs the same length");
            return Err((0, err));
        }
        let missing = match attention {
            Attention::Dense => None,
            Attention::TopK { .. } => columns.kv_budget.is_none().then_some("kv_budget"),
            Attention::BlockTopK { .. } => (columns.kv_budget.is_none())
                .then_some("kv_budget")
                .or(columns.block_size.is_none().then_some("block_size")),
        };
        if let Some(field) = missing {
            let err = PlanError::invalid(field, "is required with this attention");
            return Err((0, err));
        }
        if columns.batch.is_some() && !matches!(self.options().batch, Batch::Fixed(_)) {
            let reason = "per-configuration batch sizes go with the fixed batch mode";
            return Err((0, PlanError::invalid("batch", reason)));
        }
        let batch = self.options().batch;
        if let Some(i) = (0..n).position(|i| !columns.plainly_valid(i, &attention, batch)) {
            // The quick test is stricter than the checks only in what it cannot decide cheaply.
            for j in i..n {
                columns
                    .check(j, &attention, batch)
                    .map_err(|err| (j, err))?;
            }
        }
        Ok(CheckedColumns { columns, attention })
    }

    /// Price configurations `range` of checked columns, handing each cost to `sink(i, &cost)`
    /// in order. The same numbers as [`Pricer::price`] on each configuration, bit for bit.
    #[inline]
    pub fn price_columns<S: FnMut(usize, &InferenceCost)>(
        &self,
        columns: &CheckedColumns<'_>,
        range: std::ops::Range<usize>,
        sink: S,
    ) {
        let cols = &columns.columns;
        let range = range.start..range.end.min(cols.len());
        match columns.attention {
            Attention::Dense => self.by_batch(cols, range, &Attention::Dense, sink),
            Attention::TopK { .. } => {
                self.by_batch(cols, range, &Attention::TopK { budget: 0.0 }, sink)
            }
            Attention::BlockTopK { .. } => self.by_batch(
                cols,
                range,
                &Attention::BlockTopK {
                    budget: 0.0,
                    block_size: 0.0,
                },
                sink,
            ),
        }
    }

    #[inline(always)]
    fn by_batch<S: FnMut(usize, &InferenceCost)>(
        &self,
        cols: &QueryColumns<'_>,
        range: std::ops::Range<usize>,
        kind: &Attention,
        sink: S,
    ) {
        match (self.options().batch, cols.batch) {
            (Batch::Amortized, _) => self.by_time(cols, range, kind, |_| Batch::Amortized, sink),
            (Batch::Max, _) => self.by_time(cols, range, kind, |_| Batch::Max, sink),
            (Batch::Fixed(_), Some(sizes)) => {
                self.by_time(cols, range, kind, |i| Batch::Fixed(sizes[i]), sink)
            }
            (Batch::Fixed(b), None) => self.by_time(cols, range, kind, |_| Batch::Fixed(b), sink),
        }
    }

    #[inline(always)]
    fn by_time<B: Fn(usize) -> Batch, S: FnMut(usize, &InferenceCost)>(
        &self,
        cols: &QueryColumns<'_>,
        range: std::ops::Range<usize>,
        kind: &Attention,
        batch: B,
        sink: S,
    ) {
        match self.options().time_model {
            TimeModel::Additive => self.run(cols, range, kind, batch, TimeModel::Additive, sink),
            TimeModel::Roofline => self.run(cols, range, kind, batch, TimeModel::Roofline, sink),
        }
    }

    /// One loop, its modes constants after inlining.
    #[inline(always)]
    fn run<B: Fn(usize) -> Batch, S: FnMut(usize, &InferenceCost)>(
        &self,
        cols: &QueryColumns<'_>,
        range: std::ops::Range<usize>,
        kind: &Attention,
        batch: B,
        time_model: TimeModel,
        mut sink: S,
    ) {
        let base = *self.options();
        // Lengths checked by `check_columns`; stated here so the per-element reads carry no
        // bounds checks (each one a branch out of the loop).
        let end = range.end;
        let long_enough = |c: Option<&[f64]>| c.is_none_or(|c| c.len() >= end);
        assert!(
            cols.prompt_tokens.len() >= end
                && cols.gen_tokens.len() >= end
                && cols.samples.len() >= end
                && long_enough(cols.kv_budget)
                && long_enough(cols.block_size)
                && long_enough(cols.batch)
        );
        for i in range {
            let opt = super::InferenceOptions {
                batch: batch(i),
                time_model,
                ..base
            };
            let c = self.cost(&cols.query(i, kind), &opt);
            sink(i, &c);
        }
    }
}
