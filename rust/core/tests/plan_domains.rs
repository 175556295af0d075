//! What a plan says about itself: where it extrapolates its law beyond the range the law was
//! fitted on, and that a plan that does not exist has no numbers (NaN, never 0).
mod common;

use common::{assert_close, lifetime_two_n};
use scaleplan_core::laws::{DataLimit, FittedRange, LossLaw, Variable};
use scaleplan_core::plan::*;
use scaleplan_core::Catalog;

fn law(name: &str) -> LossLaw {
    Catalog::shipped().law(name).unwrap().clone()
}

/// The first case: a 1e10-FLOP budget buys a 6.38k-parameter model, four decades below
/// the 70M-parameter smallest run of the fit (laws.toml: besiroglu2024 params_min = 7e7,
/// tokens_min = 5e9).
#[test]
fn a_tiny_budget_is_flagged_below_the_fitted_range() {
    let p = plan_training_budget(&law("besiroglu2024"), 1e10, None).unwrap();
    assert_close(p.params, 6383.68, 1e-5);
    let e = p
        .extrapolated
        .get(Variable::Params)
        .expect("params flagged");
    // By hand: 7e7 / 6383.68 = 10965.5.
    assert_eq!(
        (e.variable, e.value, e.bound),
        (Variable::Params, p.params, 7e7)
    );
    assert_close(e.factor, 10965.5, 1e-5);
    let t = p
        .extrapolated
        .get(Variable::Tokens)
        .expect("tokens flagged");
    // 6 N D = 1e10: D = 1e10 / (6 * 6383.68) = 261083; 5e9 / 261083 = 19151.
    assert_eq!(t.bound, 5e9);
    assert_close(t.factor, 19151.0, 1e-4);
    // No tokens-per-parameter or loss range is given for this law: nothing else is flagged.
    assert_eq!(p.extrapolated.iter().count(), 2);
}

/// The second case: loss 1.85 from 1e12 unique tokens takes a 2.74P-parameter model,
/// 1.7e5 times the 16B-parameter largest run; the law sees D' = 16.1T tokens, 32x its 500B.
#[test]
fn a_hard_target_is_flagged_above_the_fitted_range() {
    let data = DataLimit::new(1e12, None).unwrap();
    let p = plan_training_target(&law("besiroglu2024"), 1.85, Some(&data)).unwrap();
    assert!(p.feasible);
    let e = p.extrapolated.get(Variable::Params).unwrap();
    assert_eq!(e.bound, 1.6e10);
    assert_close(e.factor, p.params / 1.6e10, 1e-12);
    assert!(e.factor > 1.7e5 && e.factor < 1.72e5, "{}", e.factor);
    let t = p.extrapolated.get(Variable::Tokens).unwrap();
    assert_eq!((t.value, t.bound), (p.effective_tokens, 5e11));
    assert!(t.factor > 32.0 && t.factor < 32.5, "{}", t.factor);
}

#[test]
fn plans_inside_the_range_and_laws_without_one_are_not_flagged() {
    // 1e21 FLOPs: 2.78B parameters on 60B tokens, inside 70M-16B and 5B-500B.
    let p = plan_training_budget(&law("besiroglu2024"), 1e21, None).unwrap();
    assert!(p.extrapolated.is_empty());
    let custom = LossLaw {
        fitted: None,
        ..law("besiroglu2024")
    };
    let p = plan_training_budget(&custom, 1e10, None).unwrap();
    assert!(p.extrapolated.is_empty());
}

#[test]
fn a_custom_range_flags_tokens_per_param_and_loss() {
    let custom = LossLaw {
        fitted: Some(FittedRange {
            tokens_per_param_max: Some(10.0),
            loss_min: Some(2.5),
            ..FittedRange::default()
        }),
        ..law("besiroglu2024")
    };
    custom.validate().unwrap();
    // 1e21 FLOPs: D/N = 21.59 (2.2x above 10) and loss 2.3055 (2.5 / 2.3055 = 1.084 below).
    let p = plan_training_budget(&custom, 1e21, None).unwrap();
    let r = p.extrapolated.get(Variable::TokensPerParam).unwrap();
    assert_close(r.value, p.tokens / p.params, 1e-12);
    assert_close(r.factor, p.tokens / p.params / 10.0, 1e-12);
    let l = p.extrapolated.get(Variable::Loss).unwrap();
    assert_close(l.factor, 2.5 / p.loss, 1e-12);
    assert!(p.extrapolated.get(Variable::Params).is_none());
}

#[test]
fn a_range_whose_ends_cross_is_rejected() {
    let bad = LossLaw {
        fitted: Some(FittedRange {
            params_min: Some(1e9),
            params_max: Some(1e8),
            ..FittedRange::default()
        }),
        ..law("hoffmann2022")
    };
    let err = bad.validate().unwrap_err();
    assert!(err.to_string().contains("fitted.params_max"), "{err}");
}

#[test]
fn every_preset_carries_its_fitted_range() {
    for name in [
        "hoffmann2022",
        "besiroglu2024",
        "sardana2023",
        "gadre2024-redpajama",
    ] {
        let fitted = law(name)
            .fitted
            .unwrap_or_else(|| panic!("{name}: no range"));
        assert!(
            fitted.params_min.is_some() && fitted.params_max.is_some(),
            "{name}"
        );
    }
}

#[test]
fn infeasible_plans_have_no_numbers() {
    let l = law("hoffmann2022");
    let p = plan_training_target(&l, 1.5, None).unwrap();
    assert!(!p.feasible);
    for v in [p.params, p.tokens, p.effective_tokens, p.loss, p.compute] {
        assert!(v.is_nan(), "{p:?}");
    }
    assert!(p.tokens_per_param().is_nan() && p.extrapolated.is_empty());
    let demand = Demand {
        queries: 1e9,
        prompt_tokens: 512.0,
        gen_tokens: 1024.0,
        samples: 1.0,
    };
    let opt = lifetime_two_n();
    let p = plan_lifetime(&l, LifetimeGoal::TargetLoss(1.5), demand, &opt).unwrap();
    assert!(!p.feasible);
    for v in [
        p.params,
        p.tokens,
        p.loss,
        p.training_cost,
        p.inference_cost,
        p.total_cost,
        p.chinchilla_params,
        p.chinchilla_total_cost,
        p.cost_saved(),
    ] {
        assert!(v.is_nan(), "{p:?}");
    }
    // A feasible lifetime plan is checked against the law's range like a training plan.
    let p = plan_lifetime(&l, LifetimeGoal::TargetLoss(2.1), demand, &opt).unwrap();
    assert!(p.feasible);
    let inside = |v: f64, lo: f64, hi: f64| (lo..=hi).contains(&v);
    assert_eq!(
        p.extrapolated.get(Variable::Params).is_none(),
        inside(p.params, 7e7, 1.6e10)
    );
}
