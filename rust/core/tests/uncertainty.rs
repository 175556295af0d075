//! Plans under uncertainty (docs/uncertainty.md): the parallel per-sample plans against a plain
//! sequential loop over the same laws, the fixed-plan losses against the law's formula written
//! here, bounds on the sample and plan counts, bad samples located, and cancellation.

use scaleplan_core::laws::LossLaw;
use scaleplan_core::plan::uncertainty::{
    losses_at, per_sample, sample_laws, MAX_LAW_SAMPLES, MAX_SAMPLE_PLANS,
};
use scaleplan_core::plan::*;
use scaleplan_core::{Cancel, Catalog, PlanError};

fn point() -> LossLaw {
    Catalog::shipped().law("besiroglu2024").unwrap().clone()
}

/// Samples spread around besiroglu2024 (E 1.82, A 482, B 2085, alpha 0.35, beta 0.37).
fn samples(n: usize) -> Vec<[f64; 5]> {
    (0..n)
        .map(|i| {
            let t = i as f64 / n as f64 - 0.5;
            [
                1.82 + 0.1 * t,
                482.0 * (1.0 + 0.4 * t),
                2085.0 * (1.0 - 0.3 * t),
                0.35 + 0.02 * t,
                0.37 - 0.02 * t,
            ]
        })
        .collect()
}

#[test]
fn sample_laws_replace_the_five_numbers_and_keep_the_rest() {
    let p = point();
    let laws = sample_laws(&p, &samples(3)).unwrap();
    assert_eq!(laws.len(), 3);
    let [e, a, b, alpha, beta] = samples(3)[2];
    assert_eq!(
        (laws[2].e, laws[2].a, laws[2].b, laws[2].alpha, laws[2].beta),
        (e, a, b, alpha, beta)
    );
    assert_eq!(laws[2].fitted, p.fitted);
    assert_eq!(laws[2].error, p.error);
}

#[test]
fn per_sample_plans_are_the_sequential_loop_in_sample_major_order() {
    let laws = sample_laws(&point(), &samples(37)).unwrap();
    let budgets = [1e20, 1e22, 1e24];
    let plans = per_sample(&laws, budgets.len(), |l, g| {
        plan_training_budget(l, budgets[g], None)
    })
    .unwrap();
    assert_eq!(plans.len(), 37 * 3);
    for (s, law) in laws.iter().enumerate() {
        for (g, &c) in budgets.iter().enumerate() {
            let expected = plan_training_budget(law, c, None).unwrap();
            assert_eq!(plans[s * 3 + g], expected, "sample {s}, budget {c:e}");
        }
    }
}

#[test]
fn losses_at_a_fixed_plan_follow_the_formula() {
    let rows = samples(5);
    let laws = sample_laws(&point(), &rows).unwrap();
    let (n, d) = ([1e9, 7e10], [2e10, 1e12]);
    let out = losses_at(&laws, &n, &d).unwrap();
    for (s, [e, a, b, alpha, beta]) in rows.iter().enumerate() {
        for i in 0..2 {
            let expected = e + a / n[i].powf(*alpha) + b / d[i].powf(*beta);
            let got = out[s * 2 + i];
            assert!(
                (got - expected).abs() <= 1e-14 * expected,
                "{got} vs {expected}"
            );
        }
    }
    assert!(losses_at(&laws, &[f64::NAN], &[f64::NAN]).unwrap()[0].is_nan());
}

#[test]
fn counts_are_bounded_and_bad_samples_located() {
    let p = point();
    let too_many = vec![samples(1)[0]; MAX_LAW_SAMPLES + 1];
    match sample_laws(&p, &too_many) {
        Err(PlanError::LimitExceeded { field, limit, .. }) => {
            assert_eq!(
                (field.as_str(), limit),
                ("law_samples", MAX_LAW_SAMPLES as u64)
            )
        }
        other => panic!("{other:?}"),
    }
    assert!(sample_laws(&p, &[]).is_err());
    let mut rows = samples(4);
    rows[2][4] = 0.0; // beta must be positive
    let err = sample_laws(&p, &rows).unwrap_err();
    assert_eq!(err.field(), "law_samples");
    assert_eq!(err.location().and_then(|l| l.index), Some(2));
    assert!(err.reason().contains("beta"), "{}", err.reason());
    let laws = sample_laws(&p, &samples(10)).unwrap();
    let goals = MAX_SAMPLE_PLANS / 10 + 1;
    let err = per_sample(&laws, goals, |l, _| plan_training_budget(l, 1e21, None)).unwrap_err();
    assert!(matches!(err, PlanError::LimitExceeded { .. }), "{err:?}");
}

#[test]
fn a_plan_error_is_located_at_its_goal() {
    let laws = sample_laws(&point(), &samples(4)).unwrap();
    let budgets = [1e21, -1.0];
    let err = per_sample(&laws, 2, |l, g| plan_training_budget(l, budgets[g], None)).unwrap_err();
    assert_eq!(err.field(), "budget_flops");
    assert_eq!(err.location().and_then(|l| l.index), Some(1));
}

#[test]
fn a_fired_token_reaches_the_workers_and_the_call_says_cancelled() {
    let laws = sample_laws(&point(), &samples(64)).unwrap();
    let token = Cancel::new();
    token.cancel();
    let seen = std::sync::atomic::AtomicUsize::new(0);
    let err = scaleplan_core::cancel::scope(&token, || {
        per_sample(&laws, 10, |l, _| {
            seen.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            plan_training_budget(l, 1e21, None)
        })
    })
    .unwrap_err();
    assert_eq!(err, PlanError::Cancelled { deadline: false });
    // Every worker saw the token before its first plan.
    assert_eq!(seen.load(std::sync::atomic::Ordering::Relaxed), 0);
}

// ---- test-time plans under accuracy samples, and muennighoff samples ----------------------

use scaleplan_core::cost::{Attention, InferenceOptions};
use scaleplan_core::laws::DataLimit;
use scaleplan_core::plan::uncertainty::{
    losses_limited_at, sample_laws_repeated, test_time_accuracy_at, test_time_per_sample,
    AccuracyGroup, AccuracySamples,
};
use scaleplan_core::testtime::{Curve, FittedCurve};

/// Two models fitted at two lengths each: (model index, length, a, b).
const FITS: [(usize, f64, f64, f64); 4] = [
    (0, 4096.0, 0.6, 1.4),
    (0, 16384.0, 0.8, 1.1),
    (1, 4096.0, 0.9, 1.2),
    (1, 16384.0, 1.2, 0.9),
];

fn test_time_problem(curves: [FittedCurve; 2]) -> (Vec<Candidate>, TestTimeOptions) {
    let c = Catalog::shipped();
    let candidates = ["qwen3-4b", "qwen3-8b"]
        .iter()
        .zip(curves)
        .map(|(&m, curve)| Candidate {
            model: c.model(m).unwrap().clone(),
            curve: Curve::Fitted(curve),
        })
        .collect();
    let options = TestTimeOptions {
        hardware: c.hardware("kinetics-b200").unwrap().clone(),
        inference: InferenceOptions::default(),
        prompt_tokens: 128.0,
        unit: BudgetUnit::Eflops,
        max_samples: 64,
        attention: vec![Attention::Dense],
        latency_slo_s: None,
        min_gen_tokens: 256.0,
        max_gen_tokens: None,
        usd_per_hour: None,
    };
    (candidates, options)
}

fn curves_of(row: &[[f64; 2]]) -> [FittedCurve; 2] {
    let of = |m: usize| {
        let entries: Vec<(f64, f64, f64, u32)> = FITS
            .iter()
            .zip(row)
            .filter(|(f, _)| f.0 == m)
            .map(|(f, ab)| (f.1, ab[0], ab[1], 16))
            .collect();
        FittedCurve::new(&entries).unwrap()
    };
    [of(0), of(1)]
}

#[test]
fn test_time_per_sample_is_the_solver_with_each_samples_curves() {
    // Sample s scales every (a, b) by (1 + 0.1 s, 1 - 0.05 s): a loop building each sample's
    // curves by hand and solving must give the same plans, sample-major.
    let rows: Vec<Vec<[f64; 2]>> = (0..6)
        .map(|s| {
            let k = s as f64;
            FITS.iter()
                .map(|f| [f.2 * (1.0 + 0.1 * k), f.3 * (1.0 - 0.05 * k)])
                .collect()
        })
        .collect();
    let groups: Vec<AccuracyGroup> = FITS
        .iter()
        .map(|f| AccuracyGroup {
            candidate: f.0,
            gen_tokens: f.1,
            eval_samples: 16,
        })
        .collect();
    let point: Vec<[f64; 2]> = FITS.iter().map(|f| [f.2, f.3]).collect();
    let (base, options) = test_time_problem(curves_of(&point));
    let set = AccuracySamples::new(groups, rows.clone(), 2).unwrap();
    let budgets = [1e15, 1e16, 1e17];
    let got = test_time_per_sample(&base, &options, &set, &budgets).unwrap();
    assert_eq!(got.len(), rows.len() * budgets.len());
    for (s, row) in rows.iter().enumerate() {
        let (cands, opt) = test_time_problem(curves_of(row));
        let solver = TestTimeSolver::new(&cands, &opt).unwrap();
        for (i, &b) in budgets.iter().enumerate() {
            let want = solver.solve(b).unwrap();
            assert_eq!(got[s * budgets.len() + i], want, "sample {s}, budget {b:e}");
            // The fixed-plan accuracy of a plan is its own accuracy under its own curves.
            if want.plan.feasible {
                let acc = test_time_accuracy_at(
                    &AccuracySamples::new(set.groups.clone(), vec![row.clone()], 2).unwrap(),
                    &[want.plan.candidate as f64],
                    &[want.plan.gen_tokens],
                    &[f64::from(want.plan.samples)],
                )
                .unwrap();
                assert_eq!(acc, vec![want.plan.accuracy], "sample {s}, budget {b:e}");
            }
        }
    }
    // Shapes are checked: a candidate without a fit, a row of the wrong length.
    assert!(AccuracySamples::new(set.groups[..2].to_vec(), vec![point[..2].to_vec()], 2).is_err());
    assert!(AccuracySamples::new(set.groups.clone(), vec![point[..3].to_vec()], 2).is_err());
}

#[test]
fn muennighoff_samples_carry_their_constants_and_limit_the_data_by_them() {
    let point = Catalog::shipped().law("muennighoff2023").unwrap().clone();
    let rows: Vec<[f64; 7]> = (0..4)
        .map(|i| {
            let k = f64::from(i);
            [
                point.e,
                point.a,
                point.b,
                point.alpha,
                point.beta,
                10.0 + 3.0 * k,
                4.0 + k,
            ]
        })
        .collect();
    let laws = sample_laws_repeated(&point, &rows).unwrap();
    let (n, d, u) = ([3e9, 7e9], [2e11, 6e11], 5e10);
    let got = losses_limited_at(&laws, &n, &d, u, None).unwrap();
    for (s, law) in laws.iter().enumerate() {
        let r = law.repetition.unwrap();
        assert_eq!((r.r_star_tokens, r.r_star_params), (rows[s][5], rows[s][6]));
        let limit = DataLimit::new(u, Some(rows[s][5])).unwrap();
        for i in 0..2 {
            assert_eq!(got[s * 2 + i], law.loss_limited(n[i], d[i], Some(&limit)));
        }
    }
    // Different R*_D give different losses for repeated data (d > u).
    assert!(got[0] != got[2] && got[1] != got[3]);
}
