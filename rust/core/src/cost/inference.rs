use super::attention::{dense_context_sum, sparse_context_sum, Attention};
use super::shape::{CostShape, SlidingShape};
use crate::catalog::{Dtype, Hardware, Model};
use crate::error::{check, PlanError, Result};

/// The numbers that vary from one configuration to the next.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceQuery {
    /// L_in: prompt tokens (a mean length may be fractional).
    pub prompt_tokens: f64,
    /// L: generated tokens per sample.
    pub gen_tokens: f64,
    /// k: samples per query, decoded together.
    pub samples: f64,
    pub attention: Attention,
}

/// Sequences decoded together on one replica.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Batch {
    /// B = infinity: weight reads fully amortised and dropped (the Kinetics convention).
    #[default]
    Amortized,
    /// The largest batch whose KV cache fits in HBM beside the weights.
    Max,
    /// A batch size as given, capped by the largest that fits.
    Fixed(f64),
}

/// Which prompts one prefill pass processes, and so what a query's time to first token waits for
/// (docs/cost-model.md, "Prefill").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrefillMode {
    /// Each query's prompt is prefilled in its own pass: time to first token is that pass.
    #[default]
    PerQuery,
    /// A static batch: the prompts of all the batch's queries are prefilled in one pass before
    /// any decodes, and every query waits for that pass (aiconfigurator's static-batch TTFT).
    /// Needs a finite batch.
    Batch,
}

impl PrefillMode {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "per_query" => Ok(PrefillMode::PerQuery),
            "batch" => Ok(PrefillMode::Batch),
            _ => Err(PlanError::invalid(
                "prefill_mode",
                format!("unknown prefill mode '{s}' (expected per_query or batch)"),
            )),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            PrefillMode::PerQuery => "per_query",
            PrefillMode::Batch => "batch",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimeModel {
    /// FLOPs / peak + bytes / bandwidth (Kinetics).
    #[default]
    Additive,
    /// Per phase, the larger of compute time and memory time.
    Roofline,
}

/// Conventions shared by a batch of configurations.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceOptions {
    /// The prompt's KV cache is read once per step for all k samples.
    pub prefix_sharing: bool,
    /// Charge the prompt's prefill (the Kinetics reference leaves it out).
    pub prefill: bool,
    /// One query's prompt per prefill pass, or the whole static batch's.
    pub prefill_mode: PrefillMode,
    pub batch: Batch,
    pub time_model: TimeModel,
    pub weight_dtype: Dtype,
    pub kv_dtype: Dtype,
    /// Arithmetic precision, which picks the peak FLOP/s and so the intensity I.
    pub compute_dtype: Dtype,
    /// GPUs serving one replica (ideal tensor parallelism: capacity, peak and bandwidth scale).
    pub gpus: f64,
    /// Take the largest batch as the real number free HBM / KV per query instead of whole
    /// queries: a fleet average, which keeps costs smooth in model size for the planners.
    pub fractional_batch: bool,
}

impl Default for InferenceOptions {
    fn default() -> Self {
        InferenceOptions {
            prefix_sharing: true,
            prefill: true,
            prefill_mode: PrefillMode::PerQuery,
            batch: Batch::Amortized,
            time_model: TimeModel::Additive,
            weight_dtype: Dtype::Bf16,
            kv_dtype: Dtype::Bf16,
            compute_dtype: Dtype::Bf16,
            gpus: 1.0,
            fractional_batch: false,
        }
    }
}

/// What makes a configuration impossible to serve, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    None,
    /// The weights alone exceed the replica's HBM.
    Weights,
    /// The weights fit but one query's KV cache does not fit beside them.
    KvCache,
    /// prompt + generated tokens exceed the model's maximum context.
    Context,
}

impl Binding {
    pub fn name(self) -> &'static str {
        match self {
            Binding::None => "none",
            Binding::Weights => "weights",
            Binding::KvCache => "kv_cache",
            Binding::Context => "context",
        }
    }
}

/// The cost of one query (k samples) and the memory fit of its configuration.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceCost {
    pub prefill_flops: f64,
    pub decode_flops: f64,
    pub flops: f64,
    /// KV-cache bytes read by decode (plus block scores where block top-k is used).
    pub kv_bytes: f64,
    /// This query's share of the weight reads: weights once per step, split over the batch.
    pub weight_bytes: f64,
    pub bytes: f64,
    /// FLOPs + I * bytes.
    pub eflops: f64,
    /// Replica time charged to this query (its share of a batched decode).
    pub seconds: f64,
    pub gpu_seconds: f64,
    /// Time to first token: the prefill pass the query waits for (its own prompt, or the whole
    /// batch's with `PrefillMode::Batch`), at least the time to read the weights once.
    pub ttft_s: f64,
    /// Time per output token of a decode step with the batch in use.
    pub tpot_s: f64,
    /// ttft + gen_tokens sequential decode steps.
    pub latency_s: f64,
    /// Sequences decoded together (infinite when the batch is unset).
    pub batch: f64,
    /// Largest number of sequences whose KV cache fits beside the weights (whole queries).
    pub max_batch: f64,
    /// Largest number of whole queries (k samples each) whose KV cache fits.
    pub max_queries: f64,
    pub weight_memory_bytes: f64,
    /// HBM one query's KV cache occupies at full length.
    pub kv_memory_bytes_per_query: f64,
    /// Fewest GPUs of this hardware whose HBM holds the weights and one query's KV cache.
    pub min_gpus: f64,
    pub feasible: bool,
    pub binding: Binding,
}

impl TimeModel {
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "additive" => Ok(TimeModel::Additive),
            "roofline" => Ok(TimeModel::Roofline),
            _ => Err(PlanError::invalid(
                "time_model",
                format!("unknown time model '{s}' (expected additive or roofline)"),
            )),
        }
    }
}

impl Binding {
    /// Every binding constraint, in the order of its numeric code.
    pub const ALL: [Binding; 4] = [
        Binding::None,
        Binding::Weights,
        Binding::KvCache,
        Binding::Context,
    ];

    pub fn code(self) -> u8 {
        self as u8
    }
}

impl InferenceQuery {
    #[cold]
    pub fn validate(&self) -> Result<()> {
        check::non_negative("prompt_tokens", self.prompt_tokens)?;
        check::positive("gen_tokens", self.gen_tokens)?;
        check::whole_at_least("samples", self.samples, 1.0)?;
        self.attention.validate()
    }
}

impl InferenceQuery {
    /// The common case decided with a few comparisons; `validate` builds the error otherwise.
    #[inline(always)]
    pub(crate) fn plainly_valid(&self) -> bool {
        // `&`, not `&&`: every comparison is evaluated, without a branch, so the column
        // kernel's check pass over many configurations vectorises.
        let whole = |v: f64| (v < 9.0e15) & (whole_part(v) == v);
        let base = (self.prompt_tokens >= 0.0)
            & self.prompt_tokens.is_finite()
            & (self.gen_tokens > 0.0)
            & self.gen_tokens.is_finite()
            & (self.samples >= 1.0)
            & whole(self.samples);
        base & match self.attention {
            Attention::Dense => true,
            Attention::TopK { budget } => (budget >= 1.0) & whole(budget),
            Attention::BlockTopK { budget, block_size } => {
                (budget >= 1.0)
                    & whole(budget)
                    & (block_size >= 1.0)
                    & whole(block_size)
                    & (block_size <= budget)
            }
        }
    }
}

impl InferenceOptions {
    pub fn validate(&self) -> Result<()> {
        check::whole_at_least("gpus", self.gpus, 1.0)?;
        if let Batch::Fixed(b) = self.batch {
            check::whole_at_least("batch", b, 1.0)?;
        }
        if self.prefill_mode == PrefillMode::Batch && self.batch == Batch::Amortized {
            return Err(PlanError::invalid(
                "prefill_mode",
                "'batch' prefills a static batch and needs one: set batch to a number or 'max'",
            ));
        }
        Ok(())
    }
}

/// Price one query on one model and hardware (docs/design.md#inference).
pub fn inference_cost(
    model: &Model,
    hw: &Hardware,
    q: &InferenceQuery,
    opt: &InferenceOptions,
) -> Result<InferenceCost> {
    Pricer::new(model, hw, opt)?.price(q)
}

/// Prices many queries under one model, hardware and set of options: the options are checked
/// and the per-model constants computed once, so vectorised calls and solvers pay only for the
/// per-query arithmetic.
#[derive(Debug, Clone)]
pub struct Pricer {
    shape: CostShape,
    opt: InferenceOptions,
    n: f64,
    /// Attention and KV figures of the globally attending layers (all layers without a window).
    a: f64,
    kv: f64,
    sliding: Option<SlidingShape>,
    b_kv: f64,
    b_w: f64,
    intensity: f64,
    weight_memory: f64,
    free_memory: f64,
    max_context: f64,
    // Reciprocals: the per-query path multiplies instead of dividing by constants.
    inv_hbm_per_gpu: f64,
    inv_peak: f64,
    inv_bandwidth: f64,
    /// Seconds of tensor-parallel all-reduce per token processed (0 on one GPU).
    comm_per_token: f64,
    /// The hardware's fixed seconds per forward step (docs/cost-model.md, "Per-step overhead").
    step_overhead: f64,
    /// P parallel streams per sequence (ParScale; docs/cost-model.md, "Parallel streams"): 1
    /// unless [`Pricer::with_streams`] says otherwise.
    streams: f64,
    /// Prefix tokens each stream's context carries (0 for one stream).
    stream_prefix: f64,
}

/// Prefix tokens each of P > 1 parallel streams adds to its context (the ParScale paper's cost
/// analysis: 48 per stream; docs/cost-model.md, "Parallel streams").
pub const STREAM_PREFIX_TOKENS: f64 = 48.0;

/// Parameters each of P > 1 streams adds (its prefix and its share of the aggregation layer), as
/// a fraction of the backbone's: about 0.2% per stream in the ParScale paper.
pub const STREAM_EXTRA_PARAMS: f64 = 0.002;

/// Parameters a model of `flop_params` backbone parameters holds for `streams` streams beyond
/// the backbone (0 for one stream).
pub fn stream_extra_params(flop_params: f64, streams: f64) -> f64 {
    if streams > 1.0 {
        STREAM_EXTRA_PARAMS * streams * flop_params
    } else {
        0.0
    }
}

/// Bytes of one activation element on the wire (bf16, whatever the weights' dtype).
const ACTIVATION_BYTES: f64 = 2.0;

/// Seconds one token's tensor-parallel all-reduces take on `gpus` GPUs (docs/cost-model.md):
/// a ring all-reduce moves 2(g-1)/g of the message through each GPU's links in each
/// direction, at half the catalog's both-directions interconnect figure. Hardware without
/// one (the idealised kinetics-b200) communicates for free.
pub fn allreduce_seconds_per_token(shape: &CostShape, hw: &Hardware, gpus: f64) -> f64 {
    match hw.interconnect_bytes_per_s {
        Some(bw) if gpus > 1.0 => {
            2.0 * (gpus - 1.0) / gpus * shape.allreduce_elems_per_token * ACTIVATION_BYTES
                / (0.5 * bw)
        }
        _ => 0.0,
    }
}

impl Pricer {
    pub fn new(model: &Model, hw: &Hardware, opt: &InferenceOptions) -> Result<Self> {
        Pricer::for_shape(model.cost_shape(), hw, opt)
    }

    /// A pricer for a model known only by its cost shape (a family interpolated to some N).
    pub fn for_shape(shape: CostShape, hw: &Hardware, opt: &InferenceOptions) -> Result<Self> {
        opt.validate()?;
        let peak_per_gpu = hw.peak_flops(opt.compute_dtype)?;
        let b_w = opt.weight_dtype.bytes();
        let weight_memory = b_w * shape.total_params;
        Ok(Pricer {
            shape,
            opt: *opt,
            n: shape.flop_params,
            a: shape.attention_dim - shape.sliding.map_or(0.0, |s| s.attention_dim),
            kv: shape.kv_elems_per_token - shape.sliding.map_or(0.0, |s| s.kv_elems_per_token),
            sliding: shape.sliding,
            b_kv: opt.kv_dtype.bytes(),
            b_w,
            intensity: peak_per_gpu / hw.hbm_bytes_per_s,
            weight_memory,
            free_memory: hw.hbm_bytes * opt.gpus - weight_memory,
            max_context: shape.max_context,
            inv_hbm_per_gpu: 1.0 / hw.hbm_bytes,
            inv_peak: 1.0 / (peak_per_gpu * opt.gpus * hw.prefill_mfu),
            inv_bandwidth: 1.0 / (hw.hbm_bytes_per_s * opt.gpus * hw.decode_bw_util),
            comm_per_token: allreduce_seconds_per_token(&shape, hw, opt.gpus),
            step_overhead: hw.step_overhead_s,
            streams: 1.0,
            stream_prefix: 0.0,
        })
    }

    /// The same pricer for a model run as `streams` parallel streams per sequence (ParScale;
    /// docs/cost-model.md, "Parallel streams"): every stream does the FLOPs and holds the KV
    /// cache of one sequence whose prompt is longer by [`STREAM_PREFIX_TOKENS`], the weights
    /// (grown by [`STREAM_EXTRA_PARAMS`] per stream) are read once per step for all streams.
    /// One stream prices exactly as without this call.
    pub fn with_streams(mut self, streams: f64) -> Result<Self> {
        check::whole_at_least("streams", streams, 1.0)?;
        if streams > crate::limits::MAX_STREAMS {
            // A count past u64 would be reported as u64::MAX by the cast: say the number given.
            if streams >= u64::MAX as f64 {
                return Err(PlanError::invalid(
                    "streams",
                    format!(
                        "{streams:e} exceeds the limit of {}",
                        crate::limits::MAX_STREAMS
                    ),
                ));
            }
            return Err(PlanError::LimitExceeded {
                field: "streams".into(),
                limit: crate::limits::MAX_STREAMS as u64,
                got: streams as u64,
            });
        }
        if streams == 1.0 {
            return Ok(self);
        }
        let extra = stream_extra_params(self.shape.flop_params, streams);
        self.shape.total_params += extra;
        self.weight_memory += self.b_w * extra;
        self.free_memory -= self.b_w * extra;
        self.streams = streams;
        self.stream_prefix = STREAM_PREFIX_TOKENS;
        Ok(self)
    }

    /// Parallel streams per sequence this pricer charges.
    pub fn streams(&self) -> f64 {
        self.streams
    }

    /// One prefill pass over `tokens` prompt tokens doing `flops`: compute overlaps the single
    /// stream of the weights, so the pass takes the larger of the two times, whatever the time
    /// model (docs/cost-model.md, "Prefill"). KV-cache writes are not counted.
    #[inline(always)]
    fn prefill_pass(&self, flops: f64, tokens: f64, kind: ModelKind) -> f64 {
        if tokens <= 0.0 {
            return 0.0; // no prompt, no pass: the first token comes from decode
        }
        let weights = self.b_w * self.params_read(tokens, kind);
        (flops * self.inv_peak).max(weights * self.inv_bandwidth) + self.step_overhead
    }

    /// [`CostShape::weight_params_read`], with whether the model has experts a constant the
    /// caller passes ([`Pricer::model_kind`]): the column kernel's loops for models without
    /// experts then carry no `powf` call and vectorise.
    #[inline(always)]
    fn params_read(&self, tokens: f64, kind: ModelKind) -> f64 {
        if kind.moe {
            self.shape.weight_params_read(tokens)
        } else {
            self.shape.dense_params_read(tokens)
        }
    }

    /// What the model has beyond dense layers (the `kind` argument of [`Pricer::cost`]).
    #[inline(always)]
    pub(crate) fn model_kind(&self) -> ModelKind {
        ModelKind {
            moe: self.shape.moe.is_some(),
            sliding: self.sliding.is_some(),
        }
    }

    #[inline(always)]
    fn phase(&self, time_model: TimeModel, flops: f64, bytes: f64) -> f64 {
        let (compute, memory) = (flops * self.inv_peak, bytes * self.inv_bandwidth);
        match time_model {
            TimeModel::Additive => compute + memory,
            TimeModel::Roofline => compute.max(memory),
        }
    }

    // Always inlined: returned by value, the 20-field result would otherwise be memmoved.
    #[inline(always)]
    pub fn price(&self, q: &InferenceQuery) -> Result<InferenceCost> {
        if !q.plainly_valid() {
            q.validate()?;
        }
        if let Batch::Fixed(b) = self.opt.batch {
            check_batch_holds_samples(b, q.samples)?;
        }
        Ok(self.cost(q, &self.opt, self.model_kind()))
    }

    /// HBM left for KV caches beside the weights (negative when the weights do not fit): a
    /// query fits where its `kv_memory_bytes_per_query` is at most this.
    pub fn free_memory(&self) -> f64 {
        self.free_memory
    }

    /// The options this pricer was built with.
    pub fn options(&self) -> &InferenceOptions {
        &self.opt
    }

    /// The formulas of [`Pricer::price`] for a query and options already checked: `q` valid,
    /// `opt` this pricer's options but for `batch` and `time_model` (a fixed batch at least
    /// `q.samples` and whole), and `kind` this pricer's [`Pricer::model_kind`].
    /// Always inlined, so a caller passing constant modes (the column kernel, `cost::kernel`)
    /// gets a loop without their branches. Branch-free otherwise (selects, no float-to-integer
    /// casts), so that loop vectorises (docs/architecture.md, "The cost kernel").
    #[inline(always)]
    pub(crate) fn cost(
        &self,
        q: &InferenceQuery,
        opt: &InferenceOptions,
        kind: ModelKind,
    ) -> InferenceCost {
        // Each of the P streams sees the prompt behind its prefix (docs/cost-model.md,
        // "Parallel streams"); with one stream the prefix is 0 and nothing changes.
        let p = self.streams;
        let stream_q = InferenceQuery {
            prompt_tokens: q.prompt_tokens + self.stream_prefix,
            ..*q
        };
        let q = &stream_q;
        let (l_in, l, k) = (q.prompt_tokens, q.gen_tokens, q.samples);
        let (n, a, kv, b_kv, b_w) = (self.n, self.a, self.kv, self.b_kv, self.b_w);

        let dense_sum = dense_context_sum(l_in, l);
        // Context pairs the prompt contributes once per step and those each sample owns.
        let shared_prompt = l_in * l;
        let own = 0.5 * l * l;
        let dense_reads = |elems: f64| {
            if opt.prefix_sharing {
                elems * (shared_prompt + k * own)
            } else {
                elems * k * dense_sum
            }
        };

        let (attended, kv_reads, scoring_flops) = match q.attention {
            Attention::Dense => (dense_sum, dense_reads(b_kv * kv), 0.0),
            Attention::TopK { budget } => {
                let s = sparse_context_sum(l_in, l, budget);
                // Each sample selects its own tokens, so sparse reads are never shared.
                (s, b_kv * kv * k * s, 0.0)
            }
            Attention::BlockTopK { budget, block_size } => {
                let s = sparse_context_sum(l_in, l, budget);
                let scores = dense_reads(b_kv * kv / 2.0) / block_size;
                (
                    s,
                    b_kv * kv * k * s + scores,
                    k * 2.0 * a * dense_sum / block_size,
                )
            }
        };

        let window = match self.sliding {
            Some(sw) if kind.sliding => sliding_terms(&sw, q, opt.prefix_sharing, b_kv),
            _ => WindowTerms::default(),
        };
        let kv_reads = p * (kv_reads + window.kv_reads);

        let prefill_flops = if opt.prefill {
            p * (2.0 * n * l_in + 2.0 * a * l_in * l_in + window.prefill_flops)
        } else {
            0.0
        };
        let decode_flops =
            p * (k * (2.0 * n * l + 4.0 * a * attended) + scoring_flops + window.decode_flops);

        // Memory fit: all weights stay resident; a query's cache grows to full length.
        let cached_tokens = if opt.prefix_sharing {
            l_in + k * l
        } else {
            k * (l_in + l)
        };
        let per_token_memory = match q.attention {
            Attention::BlockTopK { block_size, .. } => b_kv * kv * (1.0 + 0.5 / block_size),
            _ => b_kv * kv,
        };
        let kv_memory_per_query = p * (per_token_memory * cached_tokens + window.memory);
        let free = self.free_memory;
        let max_queries = if free > 0.0 {
            let fit = free / kv_memory_per_query;
            if opt.fractional_batch {
                fit
            } else {
                whole_part(fit)
            }
        } else {
            0.0
        };
        let max_batch = max_queries * k;
        // The streams' prefix is held beside the context, not in it.
        let binding = if l_in - self.stream_prefix + l > self.max_context {
            Binding::Context
        } else if free <= 0.0 {
            Binding::Weights
        } else if max_queries < 1.0 {
            Binding::KvCache
        } else {
            Binding::None
        };
        let feasible = binding == Binding::None;

        // Batch in use; an infeasible configuration is priced as if one query fit, so every
        // number stays finite and the plan can still say what it would cost.
        let fit_cap = if feasible { max_batch } else { k };
        let batch = match opt.batch {
            Batch::Amortized => f64::INFINITY,
            Batch::Max => fit_cap,
            Batch::Fixed(b) => b.min(fit_cap),
        };
        let weight_bytes = if batch.is_finite() {
            b_w * self.params_read(batch * p, kind) * l * k / batch
        } else {
            0.0
        };

        let flops = prefill_flops + decode_flops;
        let bytes = kv_reads + weight_bytes;
        let eflops = flops + self.intensity * bytes;

        // Prefill (docs/cost-model.md, "Prefill"): FLOPs and eFLOPs count its FLOPs only (the
        // Kinetics convention); its time has a floor, one read of the weights per pass. The
        // query waits for its pass (ttft) and is charged its share of the pass: all of its own
        // pass, 1/(queries in the batch) of a batch pass, and with the batch unset (weight
        // reads amortised away, as in decode) the compute time alone. Tensor-parallel
        // all-reduces add to every phase, per token processed: they sit on the critical path.
        // P streams all-reduce P tokens for every token of the sequence.
        let comm = self.comm_per_token * p;
        let (ttft_s, prefill_charged) = if !opt.prefill {
            (0.0, 0.0)
        } else {
            match (opt.prefill_mode, batch.is_finite()) {
                (PrefillMode::Batch, true) => {
                    let queries = batch / k;
                    let pass = self.prefill_pass(prefill_flops * queries, l_in * queries, kind)
                        + comm * l_in * queries;
                    (pass, pass / queries)
                }
                (_, true) => {
                    let pass = self.prefill_pass(prefill_flops, l_in, kind) + comm * l_in;
                    (pass, pass)
                }
                (_, false) => (
                    self.prefill_pass(prefill_flops, l_in, kind) + comm * l_in,
                    prefill_flops * self.inv_peak + comm * l_in,
                ),
            }
        };
        // The per-step overhead: every one of the L steps pays it once for the whole batch, so
        // a query is charged its share, k / batch; with the batch unset it is amortised away
        // like the weight reads (docs/cost-model.md, "Per-step overhead").
        let overhead_charged = if batch.is_finite() {
            self.step_overhead * l * k / batch
        } else {
            0.0
        };
        let seconds = prefill_charged
            + self.phase(opt.time_model, decode_flops, bytes)
            + comm * k * l
            + overhead_charged;
        // Latency: L steps, each doing the work of every sequence in the batch (the query's k
        // samples alone when the batch is unset), weights read once per step.
        let (latency_batch, share) = if batch.is_finite() {
            (batch, batch / k)
        } else {
            (k, 1.0)
        };
        let decode_latency = self.phase(
            opt.time_model,
            decode_flops * share,
            kv_reads * share + b_w * self.params_read(latency_batch * p, kind) * l,
        ) + comm * latency_batch * l
            + self.step_overhead * l;
        let needed = (self.weight_memory + kv_memory_per_query) * self.inv_hbm_per_gpu;

        InferenceCost {
            prefill_flops,
            decode_flops,
            flops,
            kv_bytes: kv_reads,
            weight_bytes,
            bytes,
            eflops,
            seconds,
            gpu_seconds: seconds * opt.gpus,
            ttft_s,
            tpot_s: decode_latency / l,
            latency_s: ttft_s + decode_latency,
            batch,
            max_batch,
            max_queries,
            weight_memory_bytes: self.weight_memory,
            kv_memory_bytes_per_query: kv_memory_per_query,
            min_gpus: ceil_positive(needed).max(1.0),
            feasible,
            binding,
        }
    }
}

/// What a model has beyond dense layers, which the column kernel specialises its loop on
/// ([`Pricer::model_kind`]): experts (priced with a `powf` per weight read) and layers with a
/// sliding window (their terms computed). Each flag is true exactly when the pricer's shape
/// has the part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ModelKind {
    pub moe: bool,
    pub sliding: bool,
}

/// A fixed batch decodes whole queries: it holds at least one query's samples.
pub(crate) fn check_batch_holds_samples(b: f64, k: f64) -> Result<()> {
    if b < k {
        return Err(PlanError::invalid(
            "batch",
            format!(
                "must be at least samples ({k}) since a query's samples decode together, got {b}"
            ),
        ));
    }
    Ok(())
}

/// What the sliding-window layers add to one query (docs/cost-model.md, "Sliding-window
/// attention"): at a context of c tokens a sliding layer holds and attends to min(c, w), so the
/// attention method runs over a context capped at the window.
#[derive(Debug, Clone, Copy, Default)]
struct WindowTerms {
    prefill_flops: f64,
    decode_flops: f64,
    kv_reads: f64,
    /// Peak KV bytes of one query in the sliding layers.
    memory: f64,
}

/// Integral over t in [0, gen] of min(t, w): the context a sample's own tokens fill in a window.
#[inline(always)]
fn own_window_sum(gen: f64, w: f64) -> f64 {
    if gen <= w {
        0.5 * gen * gen
    } else {
        w * gen - 0.5 * w * w
    }
}

#[inline(always)]
fn sliding_terms(sw: &SlidingShape, q: &InferenceQuery, sharing: bool, b_kv: f64) -> WindowTerms {
    let (l_in, l, k, w) = (q.prompt_tokens, q.gen_tokens, q.samples, sw.window);
    let (a, kv) = (sw.attention_dim, sw.kv_elems_per_token);
    // Sum over decode steps of the context inside the window, and its split into prompt tokens
    // still inside it (shared by the samples under prefix sharing) and each sample's own.
    let windowed = sparse_context_sum(l_in, l, w);
    let own = own_window_sum(l, w);
    let window_reads = |elems: f64| {
        if sharing {
            elems * ((windowed - own) + k * own)
        } else {
            elems * k * windowed
        }
    };
    let (attended, kv_reads, scoring_flops) = match q.attention {
        Attention::Dense => (windowed, window_reads(b_kv * kv), 0.0),
        Attention::TopK { budget } => {
            let s = sparse_context_sum(l_in, l, budget.min(w));
            (s, b_kv * kv * k * s, 0.0)
        }
        Attention::BlockTopK { budget, block_size } => {
            let s = sparse_context_sum(l_in, l, budget.min(w));
            let scores = window_reads(b_kv * kv / 2.0) / block_size;
            (
                s,
                b_kv * kv * k * s + scores,
                k * 2.0 * a * windowed / block_size,
            )
        }
    };
    // Causal prefill: prompt token i attends to min(i, w) tokens; the integral is
    // l_in*m - m^2/2 with m = min(l_in, w).
    let m = l_in.min(w);
    // The cache peaks at the last step: prompt tokens still in the window (shared) plus each
    // sample's own min(L, w); without sharing, min(L_in + L, w) per sample.
    let cached = if sharing {
        // (w - l) clamped to [0, l_in]; `f64::clamp` would carry a panic path (for l_in < 0,
        // never reached) that keeps the kernel's loop from vectorising.
        (w - l).max(0.0).min(l_in) + k * l.min(w)
    } else {
        k * (l_in + l).min(w)
    };
    let per_token = match q.attention {
        Attention::BlockTopK { block_size, .. } => b_kv * kv * (1.0 + 0.5 / block_size),
        _ => b_kv * kv,
    };
    WindowTerms {
        prefill_flops: 4.0 * a * (l_in * m - 0.5 * m * m),
        decode_flops: k * 4.0 * a * attended + scoring_flops,
        kv_reads,
        memory: per_token * cached,
    }
}

/// floor() of a non-negative number, as the saturating cast `(x as u64) as f64` gives it for
/// every f64 (0 for NaN and negatives, 2^64 at and above 2^64), in float arithmetic alone:
/// `f64::floor` is a libm call on baseline x86-64 and a float-to-u64 cast has no packed
/// instruction before AVX-512, and either keeps a loop over it from vectorising. Below 2^52,
/// adding and subtracting 2^52 rounds x to the nearest whole number (the spacing of floats
/// there is 1), one less when that rounded up; from 2^52 on every float is whole. Tested
/// against the cast over random bit patterns (rust/core/tests/kernel.rs).
#[inline(always)]
pub fn whole_part(x: f64) -> f64 {
    const EXACT: f64 = 4_503_599_627_370_496.0; // 2^52
    const SATURATED: f64 = 18_446_744_073_709_551_616.0; // 2^64, u64::MAX as f64
    let nearest = (x + EXACT) - EXACT;
    let below = if nearest > x { nearest - 1.0 } else { nearest };
    let whole = if x < EXACT { below } else { x.min(SATURATED) };
    if x > 0.0 {
        whole
    } else {
        0.0
    }
}

#[inline(always)]
fn ceil_positive(x: f64) -> f64 {
    let w = whole_part(x);
    if x > w {
        w + 1.0
    } else {
        w
    }
}
