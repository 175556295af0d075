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
