//! The column kernel: one model, hardware and set of options priced over many configurations
//! given as equal-length columns (docs/architecture.md, "The cost kernel").
//!
//! Two passes. [`Pricer::check_columns`] validates every configuration first (the error of the
//! first invalid one, with its index), so the pricing pass has no error path. The pricing pass
//! then runs one loop per combination of attention kind, batch mode, time model and model kind
//! (with or without experts): each loop calls the same formulas as [`Pricer::price`]
//! (`Pricer::cost`, always inlined) with those modes as constants, so the per-element branches
//! on them fold away and what is left is branch-free arithmetic the compiler vectorises.
//! [`Pricer::price_rows`] runs it over chunks of [`CHUNK`] configurations into a field-major
//! buffer on the stack (so every store of the loop goes to memory the compiler knows is its
//! own), built twice: for baseline x86-64 (SSE2, two lanes) and, picked at run time where the
//! CPU has it, AVX2 (four lanes). The scalar `price` stays the reference the kernel is tested
//! against, bit for bit (rust/core/tests/kernel.rs).
//!
//! Adding an input: a column here, read in [`QueryColumns::query`], its check in
//! [`QueryColumns::check`] and its quick test in [`QueryColumns::plainly_valid`].

use super::attention::Attention;
use super::inference::{
    check_batch_holds_samples, Batch, InferenceCost, ModelKind, Pricer, TimeModel,
};
use super::InferenceQuery;
use crate::error::{check, PlanError, Result};

/// Configurations per chunk of [`Pricer::price_rows`]: its buffer (`W` x CHUNK floats, 10 KiB
/// for the 20 fields of a cost) stays in the L1 cache.
pub const CHUNK: usize = 64;

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

    /// Configurations `range` (within every column's length), with an input the attention kind
    /// does not take standing in as the prompts (never read). Every read of the window at an
    /// index below its length is then one the compiler knows is in bounds, so a loop over it
    /// has no exit but its end (a bounds check is a branch out of the loop, and keeps it from
    /// vectorising).
    #[inline(always)]
    fn window(&self, range: std::ops::Range<usize>) -> QueryColumns<'a> {
        let prompt = &self.prompt_tokens[range.clone()];
        let cut = |c: &'a [f64]| &c[range.clone()];
        let or_prompt = |c: Option<&'a [f64]>| c.map_or(prompt, cut);
        let window = QueryColumns {
            prompt_tokens: prompt,
            gen_tokens: cut(self.gen_tokens),
            samples: cut(self.samples),
            kv_budget: Some(or_prompt(self.kv_budget)),
            block_size: Some(or_prompt(self.block_size)),
            batch: self.batch.map(cut),
        };
        let len = prompt.len();
        let fits = |c: Option<&[f64]>| c.is_none_or(|c| c.len() == len);
        assert!(
            window.gen_tokens.len() == len
                && window.samples.len() == len
                && fits(window.kv_budget)
                && fits(window.block_size)
                && fits(window.batch)
        );
        window
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
        q.plainly_valid() & (b >= q.samples) & (b < 9.0e15) & (super::inference::whole_part(b) == b)
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
        // The quick test over whole chunks without an early exit (a loop that vectorises); the
        // checks, which build the error, from the first chunk with a configuration it refuses.
        // The quick test is stricter than the checks only in what it cannot decide cheaply.
        let mut start = 0;
        while start < n {
            let end = (start + CHUNK).min(n);
            let window = columns.window(start..end);
            let valid = (0..window.len()).fold(true, |all, j| {
                all & window.plainly_valid(j, &attention, batch)
            });
            if !valid {
                for j in start..n {
                    columns
                        .check(j, &attention, batch)
                        .map_err(|err| (j, err))?;
                }
                break;
            }
            start = end;
        }
        Ok(CheckedColumns { columns, attention })
    }

    /// Price configurations `range` of checked columns in chunks of at most [`CHUNK`]: each
    /// configuration's cost goes through `row` to `W` numbers, stored field-major in a buffer,
    /// and `flush(start, &buffer, len)` receives each chunk (row `f` of configuration
    /// `start + j` at `buffer[f][j]`, `j < len`). The same numbers as [`Pricer::price`] on each
    /// configuration, bit for bit. Runs the AVX2 build of the loop where the CPU has AVX2.
    pub fn price_rows<const W: usize, R, F>(
        &self,
        columns: &CheckedColumns<'_>,
        range: std::ops::Range<usize>,
        row: R,
        flush: F,
    ) where
        R: Fn(&InferenceCost) -> [f64; W],
        F: FnMut(usize, &[[f64; CHUNK]; W], usize),
    {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has AVX2, the only feature the function is built with.
            return unsafe { self.price_rows_avx2(columns, range, row, flush) };
        }
        self.price_rows_in_chunks(columns, range, row, flush)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn price_rows_avx2<const W: usize, R, F>(
        &self,
        columns: &CheckedColumns<'_>,
        range: std::ops::Range<usize>,
        row: R,
        flush: F,
    ) where
        R: Fn(&InferenceCost) -> [f64; W],
        F: FnMut(usize, &[[f64; CHUNK]; W], usize),
    {
        self.price_rows_in_chunks(columns, range, row, flush)
    }

    #[inline(always)]
    fn price_rows_in_chunks<const W: usize, R, F>(
        &self,
        columns: &CheckedColumns<'_>,
        range: std::ops::Range<usize>,
        row: R,
        mut flush: F,
    ) where
        R: Fn(&InferenceCost) -> [f64; W],
        F: FnMut(usize, &[[f64; CHUNK]; W], usize),
    {
        let mut buffer = [[0.0; CHUNK]; W];
        let end = range.end.min(columns.len());
        let mut start = range.start;
        while start < end {
            let len = (end - start).min(CHUNK);
            self.price_columns(columns, start..start + len, |i, c| {
                let values = row(c);
                let j = (i - start) % CHUNK; // i - start < len <= CHUNK: no bounds check
                for (field, &v) in buffer.iter_mut().zip(&values) {
                    field[j] = v;
                }
            });
            flush(start, &buffer, len);
            start += len;
        }
    }

    /// Price configurations `range` of checked columns, handing each cost to `sink(i, &cost)`
    /// in order. The same numbers as [`Pricer::price`] on each configuration, bit for bit.
    #[inline(always)]
    pub fn price_columns<S: FnMut(usize, &InferenceCost)>(
        &self,
        columns: &CheckedColumns<'_>,
        range: std::ops::Range<usize>,
        sink: S,
    ) {
        let cols = &columns.columns;
        let end = range.end.min(cols.len());
        let range = range.start.min(end)..end;
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
            // The closures get each configuration's batch-size column entry (never read but in
            // this arm).
            (Batch::Fixed(_), Some(_)) => self.by_time(cols, range, kind, Batch::Fixed, sink),
            (Batch::Fixed(b), None) => self.by_time(cols, range, kind, |_| Batch::Fixed(b), sink),
        }
    }

    #[inline(always)]
    fn by_time<B: Fn(f64) -> Batch, S: FnMut(usize, &InferenceCost)>(
        &self,
        cols: &QueryColumns<'_>,
        range: std::ops::Range<usize>,
        kind: &Attention,
        batch: B,
        sink: S,
    ) {
        match self.options().time_model {
            TimeModel::Additive => {
                self.by_model(cols, range, kind, batch, TimeModel::Additive, sink)
            }
            TimeModel::Roofline => {
                self.by_model(cols, range, kind, batch, TimeModel::Roofline, sink)
            }
        }
    }

    #[inline(always)]
    fn by_model<B: Fn(f64) -> Batch, S: FnMut(usize, &InferenceCost)>(
        &self,
        cols: &QueryColumns<'_>,
        range: std::ops::Range<usize>,
        kind: &Attention,
        batch: B,
        time_model: TimeModel,
        sink: S,
    ) {
        // Experts price with a `powf` per weight read (a libm call: that loop stays scalar, and
        // computes the sliding-window terms where the model has them).
        let model = self.model_kind();
        let (dense, sliding) = (
            ModelKind {
                moe: false,
                sliding: false,
            },
            ModelKind {
                moe: false,
                sliding: true,
            },
        );
        if model == dense {
            self.run(cols, range, kind, batch, time_model, dense, sink)
        } else if model == sliding {
            self.run(cols, range, kind, batch, time_model, sliding, sink)
        } else {
            self.run(cols, range, kind, batch, time_model, model, sink)
        }
    }

    /// One loop, its modes constants after inlining.
    #[inline(always)]
    #[allow(clippy::too_many_arguments)]
    fn run<'a, B: Fn(f64) -> Batch, S: FnMut(usize, &InferenceCost)>(
        &self,
        cols: &QueryColumns<'a>,
        range: std::ops::Range<usize>,
        kind: &Attention,
        batch: B,
        time_model: TimeModel,
        model: ModelKind,
        mut sink: S,
    ) {
        let base = *self.options();
        let local = cols.window(range.clone());
        // The batch-size entries where the mode takes them; otherwise any column (never read).
        let sizes = local.batch.unwrap_or(local.prompt_tokens);
        for (j, &size) in sizes.iter().enumerate() {
            let opt = super::InferenceOptions {
                batch: batch(size),
                time_model,
                ..base
            };
            let c = self.cost(&local.query(j, kind), &opt, model);
            sink(range.start + j, &c);
        }
    }
}
