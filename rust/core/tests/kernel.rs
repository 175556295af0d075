//! The column kernel (`Pricer::check_columns`, `Pricer::price_columns`) against the scalar
//! reference `Pricer::price`, one configuration at a time: bit for bit, over random
//! configurations of every attention kind, batch mode, time model, prefill mode and prefix
//! sharing, on dense, MoE and sliding-window models, with configurations past the memory wall
//! and the context limit; and the same first error, at the same index. `Pricer::price_rows` (the
//! chunked loop the binding runs, in its AVX2 build where the CPU has AVX2) is held to the same.
use proptest::prelude::*;
use scaleplan_core::cost::{whole_part, CHUNK};
use scaleplan_core::*;

fn models() -> Vec<Model> {
    let c = Catalog::shipped();
    let mut sliding = c.model("qwen3-8b").unwrap().clone();
    sliding.name = "qwen3-8b-sliding".into();
    sliding.sliding_window = Some(1024);
    sliding.sliding_layers = Some(24);
    vec![
        c.model("qwen3-0.6b").unwrap().clone(),
        c.model("qwen3-32b").unwrap().clone(),
        c.model("qwen3-30b-a3b").unwrap().clone(),
        // 141 GB of bf16 weights: past the memory wall of one GPU.
        c.model("llama-3.1-70b").unwrap().clone(),
        sliding,
    ]
}

fn hardware(i: usize) -> Hardware {
    let c = Catalog::shipped();
    let mut hw = c
        .hardware(["h100-sxm", "kinetics-b200", "a100-80gb"][i])
        .unwrap()
        .clone();
    if i == 2 {
        hw.step_overhead_s = 0.004; // a calibrated per-step overhead
    }
    hw
}

fn options() -> impl Strategy<Value = (InferenceOptions, bool)> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        0..4u8,
        any::<bool>(),
        prop_oneof![Just(1.0), Just(2.0), Just(8.0)],
    )
        .prop_map(|(sharing, prefill, batch_prefill, b, roof, gpus)| {
            let batch = match b {
                0 => Batch::Amortized,
                1 => Batch::Max,
                // 2: one fixed batch for all; 3: a batch size per configuration.
                _ => Batch::Fixed(64.0),
            };
            let opt = InferenceOptions {
                prefix_sharing: sharing,
                prefill,
                prefill_mode: if batch_prefill && batch != Batch::Amortized {
                    PrefillMode::Batch
                } else {
                    PrefillMode::PerQuery
                },
                batch,
                time_model: if roof {
                    TimeModel::Roofline
                } else {
                    TimeModel::Additive
                },
                gpus,
                ..InferenceOptions::default()
            };
            (opt, b == 3)
        })
}

/// Columns of `n` configurations of one attention kind (0 dense, 1 top-k, 2 block top-k):
/// prompts up to 128k tokens (past every model's context), fractional prompts, budgets and
/// block sizes, batch sizes from 1 to 4096.
fn columns(n: usize) -> impl Strategy<Value = (u8, Vec<[f64; 6]>)> {
    (
        0..3u8,
        prop::collection::vec(
            (
                prop_oneof![0.0..4096.0f64, 0.0..131072.0f64, Just(0.0)],
                1.0..40000.0f64,
                1u32..65,
                6u32..14,
                0u32..6,
                0u32..13,
            ),
            n,
        ),
    )
        .prop_map(|(kind, rows)| {
            let rows = rows
                .into_iter()
                .enumerate()
                .map(|(i, (p, g, k, log_s, log_b, log_batch))| {
                    // Every third prompt is fractional (a mean length).
                    let p = if i % 3 == 0 { p } else { p.floor() };
                    let k = f64::from(k);
                    let batch = (f64::from(1u32 << log_batch)).max(k);
                    [
                        p,
                        g.floor(),
                        k,
                        f64::from(1u32 << log_s),
                        f64::from(1u32 << log_b.min(log_s)),
                        batch,
                    ]
                })
                .collect();
            (kind, rows)
        })
}

fn attention(kind: u8, row: &[f64; 6]) -> Attention {
    match kind {
        0 => Attention::Dense,
        1 => Attention::TopK { budget: row[3] },
        _ => Attention::BlockTopK {
            budget: row[3],
            block_size: row[4],
        },
    }
}

/// A cost as the 20 numbers `price_rows` hands on (feasible and binding as codes).
fn numbers(c: &InferenceCost) -> [f64; 20] {
    [
        c.prefill_flops,
        c.decode_flops,
        c.flops,
        c.kv_bytes,
        c.weight_bytes,
        c.bytes,
        c.eflops,
        c.seconds,
        c.gpu_seconds,
        c.ttft_s,
        c.tpot_s,
        c.latency_s,
        c.batch,
        c.max_batch,
        c.max_queries,
        c.weight_memory_bytes,
        c.kv_memory_bytes_per_query,
        c.min_gpus,
        f64::from(u8::from(c.feasible)),
        f64::from(c.binding.code()),
    ]
}

/// Every field of two costs, bit for bit (NaN equal to NaN).
fn same(got: &InferenceCost, want: &InferenceCost) -> bool {
    let bits = |c: &InferenceCost| {
        [
            c.prefill_flops,
            c.decode_flops,
            c.flops,
            c.kv_bytes,
            c.weight_bytes,
            c.bytes,
            c.eflops,
            c.seconds,
            c.gpu_seconds,
            c.ttft_s,
            c.tpot_s,
            c.latency_s,
            c.batch,
            c.max_batch,
            c.max_queries,
            c.weight_memory_bytes,
            c.kv_memory_bytes_per_query,
            c.min_gpus,
        ]
        .map(f64::to_bits)
    };
    bits(got) == bits(want) && got.feasible == want.feasible && got.binding == want.binding
}

struct Case {
    rows: Vec<[f64; 6]>,
    kind: u8,
    per_config_batch: bool,
}

impl Case {
    fn column(&self, j: usize) -> Vec<f64> {
        self.rows.iter().map(|r| r[j]).collect()
    }
}

/// Run the kernel over the case in two ranges (as the binding does between cancellation polls)
/// and compare each configuration with `Pricer::price`.
fn check_case(model: &Model, hw: &Hardware, opt: &InferenceOptions, case: &Case) -> usize {
    check_streams(model, hw, opt, case, 1.0)
}

/// [`check_case`] for a model run as `streams` parallel streams (ParScale).
fn check_streams(
    model: &Model,
    hw: &Hardware,
    opt: &InferenceOptions,
    case: &Case,
    streams: f64,
) -> usize {
    let pricer = Pricer::new(model, hw, opt)
        .unwrap()
        .with_streams(streams)
        .unwrap();
    let (prompt, gen, samples) = (case.column(0), case.column(1), case.column(2));
    let (budget, block, batch) = (case.column(3), case.column(4), case.column(5));
    let columns = QueryColumns {
        prompt_tokens: &prompt,
        gen_tokens: &gen,
        samples: &samples,
        kv_budget: (case.kind > 0).then_some(&budget[..]),
        block_size: (case.kind == 2).then_some(&block[..]),
        batch: case.per_config_batch.then_some(&batch[..]),
    };
    let kind = attention(case.kind, &[0.0, 0.0, 0.0, 1.0, 1.0, 1.0]);
    let checked = pricer.check_columns(columns, kind).unwrap();
    let mut got = Vec::new();
    let n = case.rows.len();
    let mid = n / 2;
    for range in [0..mid, mid..n] {
        pricer.price_columns(&checked, range, |i, c| got.push((i, *c)));
    }
    assert_eq!(got.len(), n);
    // The chunked loop, over ranges that start and end inside chunks.
    let mut rows = vec![[f64::NAN; 20]; n];
    let cuts = [0, n / 3, (n / 3 + CHUNK + 1).min(n), n];
    for w in cuts.windows(2) {
        let range = w[0]..w[1];
        pricer.price_rows(&checked, range.clone(), numbers, |start, chunk, len| {
            assert!(start >= range.start && start + len <= range.end && len <= CHUNK);
            for (j, row) in rows[start..start + len].iter_mut().enumerate() {
                for (f, v) in row.iter_mut().enumerate() {
                    *v = chunk[f][j];
                }
            }
        });
    }
    for (j, (_, c)) in got.iter().enumerate() {
        let bits = |r: [f64; 20]| r.map(f64::to_bits);
        assert_eq!(bits(rows[j]), bits(numbers(c)), "price_rows, row {j}");
    }
    let mut infeasible = 0;
    for (j, (i, c)) in got.iter().enumerate() {
        assert_eq!(*i, j);
        let row = &case.rows[j];
        let q = InferenceQuery {
            prompt_tokens: row[0],
            gen_tokens: row[1],
            samples: row[2],
            attention: attention(case.kind, row),
        };
        let reference = if case.per_config_batch {
            Pricer::new(
                model,
                hw,
                &InferenceOptions {
                    batch: Batch::Fixed(row[5]),
                    ..*opt
                },
            )
            .unwrap()
            .with_streams(streams)
            .unwrap()
        } else {
            pricer.clone()
        };
        let want = reference.price(&q).unwrap();
        assert!(
            same(c, &want),
            "row {j}: {row:?}\n got {c:?}\nwant {want:?}"
        );
        infeasible += usize::from(!want.feasible);
    }
    infeasible
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(192))]
    #[test]
    fn kernel_matches_the_scalar_reference_bit_for_bit(
        m in 0..5usize,
        h in 0..3usize,
        (opt, per_config_batch) in options(),
        (kind, rows) in columns(40),
    ) {
        let model = &models()[m];
        let hw = hardware(h);
        // A fixed batch must hold a query's samples: 64 holds every k drawn.
        let case = Case { rows, kind, per_config_batch };
        check_case(model, &hw, &opt, &case);
    }
}

/// Every specialised loop of the kernel (attention kind x batch mode x time model x model kind:
/// dense, with experts, with sliding-window layers), with and without prefix sharing and
/// prefill, one mode with two parallel streams, on configurations spanning several chunks,
/// against `price` bit for bit.
#[test]
fn every_specialisation_matches_the_scalar_reference() {
    let all = models();
    // qwen3-32b (dense), qwen3-30b-a3b (experts), the sliding-window variant, and the 70B
    // model past the memory wall of one GPU.
    let kinds = [&all[1], &all[2], &all[4], &all[3]];
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let rows: Vec<[f64; 6]> = (0..3 * CHUNK + 5)
        .map(|i| {
            let p = (uniform() * 60000.0).floor() + if i % 4 == 0 { 0.5 } else { 0.0 };
            let k = (uniform() * 64.0).floor() + 1.0;
            let log_s = 6 + (uniform() * 8.0) as u32;
            let log_b = (uniform() * 6.0) as u32;
            [
                if i % 7 == 0 { 0.0 } else { p },
                (uniform() * 40000.0).floor() + 1.0,
                k,
                f64::from(1u32 << log_s),
                f64::from(1u32 << log_b.min(log_s)),
                f64::from(1u32 << (uniform() * 13.0) as u32).max(k),
            ]
        })
        .collect();
    let mut checked = 0;
    for model in kinds {
        for hw in [hardware(0), hardware(2)] {
            for b in 0..4 {
                for roof in [false, true] {
                    for (sharing, prefill) in [(true, true), (false, true), (true, false)] {
                        let batch = match b {
                            0 => Batch::Amortized,
                            1 => Batch::Max,
                            _ => Batch::Fixed(64.0),
                        };
                        let opt = InferenceOptions {
                            prefix_sharing: sharing,
                            prefill,
                            batch,
                            time_model: if roof {
                                TimeModel::Roofline
                            } else {
                                TimeModel::Additive
                            },
                            ..InferenceOptions::default()
                        };
                        for kind in 0..3 {
                            let case = Case {
                                rows: rows.clone(),
                                kind,
                                per_config_batch: b == 3,
                            };
                            // Two parallel streams under one batch mode and time model, every model kind.
                            let streams = if b == 1 && !roof { 2.0 } else { 1.0 };
                            check_streams(model, &hw, &opt, &case, streams);
                            checked += 1;
                        }
                    }
                }
            }
        }
    }
    assert_eq!(checked, 4 * 2 * 4 * 2 * 3 * 3);
}

/// `whole_part` (the kernel's branch-free floor) is the saturating cast `(x as u64) as f64` it
/// replaced, on every kind of float: random bit patterns (negatives, NaN and infinities among
/// them), numbers near whole ones, and the edges 2^52, 2^53 and 2^64.
#[test]
fn whole_part_is_the_saturating_cast() {
    let cast = |x: f64| (x as u64) as f64;
    // The neighbouring floats of a positive finite x.
    let up = |x: f64| f64::from_bits(x.to_bits() + 1);
    let down = |x: f64| f64::from_bits(x.to_bits().saturating_sub(1));
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut values: Vec<f64> = (0..400_000).map(|_| f64::from_bits(next())).collect();
    for _ in 0..200_000 {
        let scale = 2f64.powi((next() % 70) as i32);
        let x = (next() >> 11) as f64 / (1u64 << 53) as f64 * scale;
        values.extend([x, x.floor(), x.floor() + 0.5, up(x), down(x)]);
    }
    for e in [0.0f64, 1.0, 52.0, 53.0, 63.0, 64.0, 65.0, 1023.0] {
        let p = 2f64.powf(e);
        values.extend([p, up(p), down(p), p - 0.5, p + 0.5, p - 1.0]);
    }
    values.extend([
        0.0,
        -0.0,
        0.49999999999999994,
        0.5,
        f64::MIN_POSITIVE,
        5e-324,
        f64::MAX,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NAN,
        -f64::NAN,
    ]);
    for x in values {
        assert_eq!(
            whole_part(x).to_bits(),
            cast(x).to_bits(),
            "{x:e} ({:#x})",
            x.to_bits()
        );
    }
}

/// The walls are reached, not only drawn at random: weights past HBM (llama-3.1-70b on one
/// GPU), a KV cache that does not fit beside the weights, prompts past the context.
#[test]
fn kernel_matches_at_every_binding_constraint() {
    let model = &models()[1]; // qwen3-32b: 65.5 GB of weights, fits one 80 GB GPU
    let hw = hardware(0);
    let rows = vec![
        [512.0, 1024.0, 1.0, 64.0, 1.0, 1.0],      // fits
        [1.0e5, 30000.0, 8.0, 64.0, 1.0, 8.0],     // past the context
        [30000.0, 10000.0, 64.0, 64.0, 1.0, 64.0], // KV cache does not fit
        [0.0, 1.0, 1.0, 64.0, 1.0, 1.0],           // no prompt
        [1000.5, 7.0, 3.0, 64.0, 1.0, 3.0],        // a fractional mean prompt
    ];
    let mut bindings = std::collections::BTreeSet::new();
    for batch in [Batch::Amortized, Batch::Max, Batch::Fixed(64.0)] {
        for time_model in [TimeModel::Additive, TimeModel::Roofline] {
            let opt = InferenceOptions {
                batch,
                time_model,
                ..InferenceOptions::default()
            };
            for kind in 0..3 {
                let case = Case {
                    rows: rows.clone(),
                    kind,
                    per_config_batch: false,
                };
                check_case(model, &hw, &opt, &case);
                let pricer = Pricer::new(model, &hw, &opt).unwrap();
                for row in &rows {
                    let q = InferenceQuery {
                        prompt_tokens: row[0],
                        gen_tokens: row[1],
                        samples: row[2],
                        attention: attention(kind, row),
                    };
                    bindings.insert(pricer.price(&q).unwrap().binding.name());
                }
            }
        }
    }
    // Weights past HBM: the 70B model on one GPU.
    let opt = InferenceOptions::default();
    let case = Case {
        rows: rows.clone(),
        kind: 0,
        per_config_batch: false,
    };
    assert_eq!(check_case(&models()[3], &hw, &opt, &case), rows.len());
    bindings.insert("weights");
    assert_eq!(
        bindings.into_iter().collect::<Vec<_>>(),
        ["context", "kv_cache", "none", "weights"]
    );
}

/// The first invalid configuration is reported, at its index, with the error `price` gives.
#[test]
fn kernel_reports_the_first_invalid_configuration_as_price_does() {
    let c = Catalog::shipped();
    let (model, hw) = (
        c.model("qwen3-8b").unwrap(),
        c.hardware("h100-sxm").unwrap(),
    );
    let fixed = InferenceOptions {
        batch: Batch::Fixed(4.0),
        ..InferenceOptions::default()
    };
    // (options, per-configuration batch, the bad row's [prompt, gen, samples, batch], field)
    let cases: Vec<(InferenceOptions, bool, [f64; 4], &str)> = vec![
        (
            InferenceOptions::default(),
            false,
            [-1.0, 10.0, 1.0, 1.0],
            "prompt_tokens",
        ),
        (
            InferenceOptions::default(),
            false,
            [f64::NAN, 10.0, 1.0, 1.0],
            "prompt_tokens",
        ),
        (
            InferenceOptions::default(),
            false,
            [1.0, 0.0, 1.0, 1.0],
            "gen_tokens",
        ),
        (
            InferenceOptions::default(),
            false,
            [1.0, 10.0, 1.5, 1.0],
            "samples",
        ),
        (fixed, false, [1.0, 10.0, 8.0, 1.0], "batch"),
        (fixed, true, [1.0, 10.0, 2.0, 1.0], "batch"),
        (fixed, true, [1.0, 10.0, 1.0, 2.5], "batch"),
        (fixed, true, [1.0, 10.0, 1.0, f64::INFINITY], "batch"),
    ];
    for (opt, per_config, bad, field) in cases {
        let pricer = Pricer::new(model, hw, &opt).unwrap();
        let mut rows = [[100.0, 10.0, 1.0, 4.0]; 6];
        rows[3] = bad;
        rows[5] = [-5.0, -5.0, 0.5, 0.5]; // a later error is not the one reported
        let col = |j: usize| rows.iter().map(|r| r[j]).collect::<Vec<_>>();
        let (p, g, k, b) = (col(0), col(1), col(2), col(3));
        let columns = QueryColumns {
            prompt_tokens: &p,
            gen_tokens: &g,
            samples: &k,
            kv_budget: None,
            block_size: None,
            batch: per_config.then_some(&b[..]),
        };
        let (i, err) = pricer.check_columns(columns, Attention::Dense).unwrap_err();
        assert_eq!(i, 3, "{field}");
        let q = InferenceQuery {
            prompt_tokens: bad[0],
            gen_tokens: bad[1],
            samples: bad[2],
            attention: Attention::Dense,
        };
        let reference = if per_config {
            Pricer::new(
                model,
                hw,
                &InferenceOptions {
                    batch: Batch::Fixed(bad[3]),
                    ..opt
                },
            )
            .and_then(|p| p.price(&q))
        } else {
            pricer.price(&q)
        };
        let want = reference.unwrap_err();
        assert_eq!(err.to_string(), want.to_string());
        assert!(err.to_string().starts_with(field), "{err}");
    }
}

/// Columns of unequal length and inputs the attention kind needs are refused up front.
#[test]
fn kernel_refuses_mismatched_columns() {
    let c = Catalog::shipped();
    let pricer = Pricer::new(
        c.model("qwen3-8b").unwrap(),
        c.hardware("h100-sxm").unwrap(),
        &InferenceOptions::default(),
    )
    .unwrap();
    let (a, b) = ([1.0, 2.0], [1.0]);
    let uneven = QueryColumns {
        prompt_tokens: &a,
        gen_tokens: &b,
        samples: &a,
        kv_budget: None,
        block_size: None,
        batch: None,
    };
    assert!(pricer.check_columns(uneven, Attention::Dense).is_err());
    let no_budget = QueryColumns {
        gen_tokens: &a,
        ..uneven
    };
    let (_, err) = pricer
        .check_columns(no_budget, Attention::TopK { budget: 1.0 })
        .unwrap_err();
    assert!(err.to_string().starts_with("kv_budget"), "{err}");
    let batch_without_mode = QueryColumns {
        batch: Some(&a),
        ..no_budget
    };
    let (_, err) = pricer
        .check_columns(batch_without_mode, Attention::Dense)
        .unwrap_err();
    assert!(err.to_string().starts_with("batch"), "{err}");
}
