//! Calibration (docs/calibration.md): runs priced by the cost model at known efficiencies and
//! overhead are recovered; bad input is named.

use scaleplan_core::calibrate::{calibrate, ServingRun};
use scaleplan_core::*;

fn h100() -> Hardware {
    Catalog::shipped().hardware("h100-sxm").unwrap().clone()
}

fn qwen8b() -> Model {
    Catalog::shipped().model("qwen3-8b").unwrap().clone()
}

/// (batch, prompt, generated) shapes of a small benchmark sweep.
const SHAPES: [(f64, f64, f64); 8] = [
    (1.0, 128.0, 256.0),
    (1.0, 2048.0, 128.0),
    (8.0, 512.0, 512.0),
    (16.0, 4096.0, 256.0),
    (32.0, 1024.0, 1024.0),
    (64.0, 256.0, 512.0),
    (4.0, 8192.0, 64.0),
    (128.0, 128.0, 128.0),
];

/// TTFT and TPOT that the cost model predicts on `hw`, with multiplicative noise.
fn runs<'a>(model: &'a Model, hw: &Hardware, noise: &[f64]) -> Vec<ServingRun<'a>> {
    SHAPES
        .iter()
        .enumerate()
        .map(|(i, &(b, p, g))| {
            let opt = InferenceOptions {
                batch: Batch::Fixed(b),
                ..InferenceOptions::default()
            };
            let q = InferenceQuery {
                prompt_tokens: p,
                gen_tokens: g,
                samples: 1.0,
                attention: Attention::Dense,
            };
            let c = inference_cost(model, hw, &q, &opt).unwrap();
            assert!(c.feasible && c.batch == b);
            ServingRun {
                model,
                batch: b,
                prompt_tokens: p,
                gen_tokens: g,
                gpus: 1.0,
                ttft_s: c.ttft_s * (1.0 + noise.get(2 * i).copied().unwrap_or(0.0)),
                tpot_s: c.tpot_s * (1.0 + noise.get(2 * i + 1).copied().unwrap_or(0.0)),
            }
        })
        .collect()
}

fn truth() -> Hardware {
    Hardware {
        prefill_mfu: 0.45,
        decode_bw_util: 0.7,
        step_overhead_s: 0.004,
        ..h100()
    }
}

#[test]
fn overhead_adds_once_per_step() {
    // By hand: o per decode step to TPOT, once to the prefill pass, and k/batch of L steps to
    // the replica time charged to the query.
    let (model, base) = (qwen8b(), h100());
    let with = Hardware {
        step_overhead_s: 0.01,
        ..base.clone()
    };
    let opt = InferenceOptions {
        batch: Batch::Fixed(8.0),
        ..InferenceOptions::default()
    };
    let q = InferenceQuery {
        prompt_tokens: 512.0,
        gen_tokens: 100.0,
        samples: 2.0,
        attention: Attention::Dense,
    };
    let a = inference_cost(&model, &base, &q, &opt).unwrap();
    let b = inference_cost(&model, &with, &q, &opt).unwrap();
    assert!((b.tpot_s - a.tpot_s - 0.01).abs() < 1e-12);
    assert!((b.ttft_s - a.ttft_s - 0.01).abs() < 1e-12);
    assert!((b.latency_s - a.latency_s - 0.01 * 101.0).abs() < 1e-9);
    // Charged: its own prefill pass (+0.01) and 2/8 of 100 steps (+0.25).
    assert!((b.seconds - a.seconds - 0.26).abs() < 1e-9);
    // Default 0: the shipped catalog's numbers are unchanged.
    assert_eq!(base.step_overhead_s, 0.0);
}

#[test]
fn recovers_exact_runs() {
    let model = qwen8b();
    let r = runs(&model, &truth(), &[]);
    let fit = calibrate(&h100(), &r, None).unwrap();
    let [p, u, o] = fit.parameters;
    assert!((p / 0.45 - 1.0).abs() < 1e-6, "{p}");
    assert!((u / 0.7 - 1.0).abs() < 1e-6, "{u}");
    assert!((o / 0.004 - 1.0).abs() < 1e-6, "{o}");
    assert!(fit.rms_relative_error < 1e-8);
    assert_eq!(fit.hardware.name, "h100-sxm-calibrated");
    assert_eq!(fit.n_runs, SHAPES.len());
    // Both sides of the prefill's max occur in the sweep.
    assert!(fit.prefill_compute_bound.iter().any(|&c| c));
    assert!(fit.prefill_compute_bound.iter().any(|&c| !c));
}

#[test]
fn recovers_noisy_runs_within_their_errors() {
    let model = qwen8b();
    // Fixed +-3% perturbations (a deterministic stand-in for measurement noise).
    let noise: Vec<f64> = (0..16)
        .map(|i| 0.03 * ((i * 7919 % 13) as f64 / 6.0 - 1.0))
        .collect();
    let r = runs(&model, &truth(), &noise);
    let fit = calibrate(&h100(), &r, Some("mine")).unwrap();
    let want = [0.45, 0.7, 0.004];
    for (j, want) in want.iter().enumerate() {
        let (got, se) = (fit.parameters[j], fit.stderr[j]);
        assert!(se > 0.0);
        assert!((got - want).abs() < 4.0 * se, "{j}: {got} +- {se}");
        assert!((got / want - 1.0).abs() < 0.15, "{j}: {got}");
    }
    assert!(fit.rms_relative_error > 0.005 && fit.rms_relative_error < 0.04);
    assert_eq!(fit.hardware.name, "mine");
}

#[test]
fn zero_overhead_stays_at_its_bound() {
    let model = qwen8b();
    let hw = Hardware {
        step_overhead_s: 0.0,
        ..truth()
    };
    // TPOT measured 2% faster than the model everywhere pulls the overhead below 0 unbounded.
    let noise: Vec<f64> = (0..16)
        .map(|i| if i % 2 == 1 { -0.02 } else { 0.0 })
        .collect();
    let fit = calibrate(&h100(), &runs(&model, &hw, &noise), None).unwrap();
    assert!(fit.parameters[2] >= 0.0);
    if fit.at_bound[2] {
        assert_eq!(fit.parameters[2], 0.0);
        assert_eq!(fit.stderr[2], 0.0);
    }
}

#[test]
fn calibrated_hardware_prices_as_measured() {
    let model = qwen8b();
    let r = runs(&model, &truth(), &[]);
    let fit = calibrate(&h100(), &r, None).unwrap();
    let opt = InferenceOptions {
        batch: Batch::Fixed(32.0),
        ..InferenceOptions::default()
    };
    let q = InferenceQuery {
        prompt_tokens: 700.0,
        gen_tokens: 300.0,
        samples: 1.0,
        attention: Attention::Dense,
    };
    let got = inference_cost(&model, &fit.hardware, &q, &opt).unwrap();
    let want = inference_cost(&model, &truth(), &q, &opt).unwrap();
    assert!((got.tpot_s / want.tpot_s - 1.0).abs() < 1e-6);
    assert!((got.ttft_s / want.ttft_s - 1.0).abs() < 1e-6);
}

fn field_of(e: PlanError) -> String {
    e.field().to_string()
}

#[test]
fn bad_input_is_named() {
    let model = qwen8b();
    let r = runs(&model, &truth(), &[]);
    // Fewer runs than parameters.
    assert_eq!(
        field_of(calibrate(&h100(), &r[..2], None).unwrap_err()),
        "runs"
    );
    // All runs at one shape: nothing tells the parameters apart.
    let same = vec![r[2].clone(), r[2].clone(), r[2].clone(), r[2].clone()];
    let e = calibrate(&h100(), &same, None).unwrap_err();
    assert!(e.to_string().contains("cannot be told apart"), "{e}");
    // Non-positive and non-finite measurements, located at their run.
    for (field, bad) in [
        (
            "ttft_s",
            ServingRun {
                ttft_s: 0.0,
                ..r[1].clone()
            },
        ),
        (
            "tpot_s",
            ServingRun {
                tpot_s: f64::NAN,
                ..r[1].clone()
            },
        ),
        (
            "batch",
            ServingRun {
                batch: 1.5,
                ..r[1].clone()
            },
        ),
        (
            "prompt_tokens",
            ServingRun {
                prompt_tokens: -1.0,
                ..r[1].clone()
            },
        ),
        (
            "gen_tokens",
            ServingRun {
                gen_tokens: f64::INFINITY,
                ..r[1].clone()
            },
        ),
    ] {
        let mut rr = r.clone();
        rr[1] = bad;
        let e = calibrate(&h100(), &rr, None).unwrap_err();
        assert_eq!(field_of(e.clone()), field);
        assert_eq!(e.location().and_then(|l| l.index), Some(1));
    }
    // A batch the HBM cannot hold.
    let mut rr = r.clone();
    rr[0] = ServingRun {
        batch: 4096.0,
        prompt_tokens: 8192.0,
        ..r[0].clone()
    };
    assert_eq!(
        field_of(calibrate(&h100(), &rr, None).unwrap_err()),
        "batch"
    );
}

#[test]
fn utilisation_above_one_is_refused() {
    // Runs measured on a part with 1.5x the bandwidth: against h100-sxm they need util 1.2.
    let model = qwen8b();
    let fast = Hardware {
        hbm_bytes_per_s: 1.5 * h100().hbm_bytes_per_s,
        decode_bw_util: 0.8,
        ..truth()
    };
    let e = calibrate(&h100(), &runs(&model, &fast, &[]), None).unwrap_err();
    assert_eq!(field_of(e.clone()), "decode_bw_util");
    assert!(e.to_string().contains("above 1"), "{e}");
}

#[test]
fn inconsistent_runs_fit_or_are_named() {
    // Runs whose times are scaled by up to 30x either way, run by run: each call returns a fit
    // within the bounds, finite, or a named error; none panics.
    let model = qwen8b();
    let base = runs(&model, &truth(), &[]);
    let mut state = 12345u64;
    let mut next = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut fitted, mut refused) = (0, 0);
    for _ in 0..300 {
        let r: Vec<ServingRun> = base
            .iter()
            .map(|run| ServingRun {
                ttft_s: run.ttft_s * 30f64.powf(2.0 * next() - 1.0),
                tpot_s: run.tpot_s * 30f64.powf(2.0 * next() - 1.0),
                ..run.clone()
            })
            .collect();
        match calibrate(&h100(), &r, None) {
            Ok(fit) => {
                let [p, u, o] = fit.parameters;
                assert!(p > 0.0 && p <= 1.0 && u > 0.0 && u <= 1.0 && o >= 0.0);
                assert!(fit.rms_relative_error.is_finite());
                assert!(fit.stderr.iter().all(|s| s.is_finite() && *s >= 0.0));
                fitted += 1;
            }
            Err(e) => {
                assert!(!e.field().is_empty());
                refused += 1;
            }
        }
    }
    assert!(fitted > 0 && refused > 0, "{fitted} {refused}");
}

#[test]
fn bootstrap_of_exact_runs_gives_the_truth_in_every_resample_and_is_seeded() {
    use scaleplan_core::calibrate::{bootstrap, MAX_BOOTSTRAP};
    let model = qwen8b();
    let r = runs(&model, &truth(), &[]);
    let a = bootstrap(&h100(), &r, 30, 7).unwrap();
    assert_eq!(a.samples.len() + a.failed, 30);
    assert!(a.samples.len() >= 20, "{} failed", a.failed);
    for [p, u, o] in &a.samples {
        assert!(
            (p / 0.45 - 1.0).abs() < 1e-6 && (u / 0.7 - 1.0).abs() < 1e-6,
            "{p} {u}"
        );
        assert!((o / 0.004 - 1.0).abs() < 1e-6, "{o}");
    }
    assert_eq!(bootstrap(&h100(), &r, 30, 7).unwrap(), a);
    let err = bootstrap(&h100(), &r, MAX_BOOTSTRAP + 1, 0).unwrap_err();
    assert_eq!(err.field(), "bootstrap");
}
