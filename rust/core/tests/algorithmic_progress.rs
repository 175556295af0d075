//! The training planner's start offset (algorithmic progress, Ho et al. 2024, arXiv:2403.05812):
//! the multiplier by hand, the band's order, the plan at an offset against the plan at the
//! scaled budget and against an exhaustive grid, and bad months named.
mod common;

use common::assert_close;
use proptest::prelude::*;
use scaleplan_core::laws::progress::{AlgorithmicProgress, HO2024, MAX_START_IN_MONTHS};
use scaleplan_core::laws::{DataLimit, LossLaw};
use scaleplan_core::plan::*;
use scaleplan_core::Catalog;

fn law(name: &str) -> LossLaw {
    Catalog::shipped().law(name).unwrap().clone()
}

#[test]
fn the_table_holds_the_papers_numbers() {
    // Ho et al. 2024, abstract: halving every 8.44 months, 95% CI 4.52 to 14.27 months.
    assert_eq!(HO2024.halving_months, 8.44);
    assert_eq!(HO2024.halving_months_fast, 4.52);
    assert_eq!(HO2024.halving_months_slow, 14.27);
    assert_eq!(MAX_START_IN_MONTHS, 120.0);
}

#[test]
fn six_months_multiply_the_budget_by_two_to_the_six_over_8_44() {
    // By hand: 6 / 8.44 = 0.7109005; 2^0.7 = 1.6245048, 2^0.0109005 = 1.0075845; product
    // 1.63683. The ends: 2^(6/14.27) = 2^0.420463 = 1.33836, 2^(6/4.52) = 2^1.327434 = 2.50956.
    let m = HO2024.multipliers(6.0).unwrap();
    assert_close(m.mid, 1.636_83, 1e-5);
    assert_close(m.slow, 1.338_36, 1e-5);
    assert_close(m.fast, 2.509_56, 1e-5);
    // One halving time doubles it exactly; now is 1.
    assert_eq!(AlgorithmicProgress::multiplier(8.44, 8.44), 2.0);
    let now = HO2024.multipliers(0.0).unwrap();
    assert_eq!((now.slow, now.mid, now.fast), (1.0, 1.0, 1.0));
}

#[test]
fn the_plan_at_an_offset_is_the_plan_at_the_scaled_budget_with_physical_compute_unchanged() {
    let data = DataLimit::new(1e11, None).unwrap();
    for name in ["hoffmann2022", "besiroglu2024"] {
        let l = law(name);
        for limit in [None, Some(&data)] {
            for c in [1e19, 1e21, 1e23, 1e25] {
                for months in [0.5, 6.0, 24.0, 120.0] {
                    let later = plan_training_budget_at(&l, c, limit, &HO2024, months).unwrap();
                    let k = 2f64.powf(months / 8.44);
                    let scaled = plan_training_budget(&l, c * k, limit).unwrap();
                    assert_close(later.params, scaled.params, 1e-12);
                    assert_close(later.tokens, scaled.tokens, 1e-12);
                    assert_close(later.loss, scaled.loss, 1e-12);
                    assert_eq!(later.compute, c, "physical compute is the budget");
                    assert_close(later.effective_compute, c * k, 1e-12);
                    assert_close(later.compute_multiplier, k, 1e-12);
                    assert_eq!(later.binding, Constraint::Budget);
                    // The band's ends are the plans at the interval's ends.
                    let slow = plan_training_budget(&l, c * 2f64.powf(months / 14.27), limit);
                    let fast = plan_training_budget(&l, c * 2f64.powf(months / 4.52), limit);
                    assert_close(later.loss_slow, slow.unwrap().loss, 1e-12);
                    assert_close(later.loss_fast, fast.unwrap().loss, 1e-12);
                    assert_eq!((later.compute_slow, later.compute_fast), (c, c));
                }
            }
        }
    }
}

#[test]
fn starting_now_is_the_plan_of_today_bit_for_bit() {
    let l = law("besiroglu2024");
    let data = DataLimit::new(1e10, None).unwrap();
    for limit in [None, Some(&data)] {
        for c in [1e18, 1e22, 1e26] {
            let now = plan_training_budget_at(&l, c, limit, &HO2024, 0.0).unwrap();
            assert_eq!(now, plan_training_budget(&l, c, limit).unwrap());
        }
        let now = plan_training_target_at(&l, 2.0, limit, &HO2024, 0.0).unwrap();
        assert_eq!(now, plan_training_target(&l, 2.0, limit).unwrap());
    }
}

#[test]
fn a_target_later_costs_today_s_compute_divided_by_the_multiplier() {
    let l = law("hoffmann2022");
    let today = plan_training_target(&l, 2.0, None).unwrap();
    let later = plan_training_target_at(&l, 2.0, None, &HO2024, 6.0).unwrap();
    assert_close(later.compute, today.compute / 1.636_83, 1e-5);
    assert_close(later.effective_compute, today.compute, 1e-15);
    assert_close(later.compute_slow, today.compute / 1.338_36, 1e-5);
    assert_close(later.compute_fast, today.compute / 2.509_56, 1e-5);
    assert_eq!((later.params, later.tokens), (today.params, today.tokens));
    assert_eq!((later.loss_slow, later.loss_fast), (today.loss, today.loss));
    assert_eq!(later.binding, Constraint::TargetLoss);
    // An unreachable target stays infeasible, NaN throughout.
    let floor = plan_training_target_at(&l, 1.0, None, &HO2024, 6.0).unwrap();
    assert!(!floor.feasible && floor.compute.is_nan() && floor.loss_slow.is_nan());
}

#[test]
fn the_plan_at_an_offset_is_never_worse_than_an_exhaustive_grid_at_the_effective_budget() {
    // The grid: L(N, C_eff / (6 N)) over 20,001 log-spaced N in [1, C_eff / 6], at the
    // effective budget C_eff = C 2^(months/8.44) computed here, next to the data wall too.
    let l = law("besiroglu2024");
    let data = DataLimit::new(3e10, None).unwrap();
    for limit in [None, Some(&data)] {
        for c in [1e20, 1e22, 1e24] {
            for months in [3.0, 36.0, 120.0] {
                let plan = plan_training_budget_at(&l, c, limit, &HO2024, months).unwrap();
                let eff = c * (months / 8.44f64).exp2();
                let hi = (eff / 6.0).ln();
                let grid = (0..=20_000)
                    .map(|i| {
                        let n = (hi * i as f64 / 20_000.0).exp();
                        l.loss_limited(n, eff / (6.0 * n), limit)
                    })
                    .fold(f64::INFINITY, f64::min);
                assert!(
                    plan.loss <= grid * (1.0 + 1e-12),
                    "{c:e} {months}: {}",
                    plan.loss
                );
                assert!(plan.loss >= grid * (1.0 - 1e-6), "the grid is fine enough");
            }
        }
    }
}

#[test]
fn months_out_of_range_are_errors_naming_start_in_months() {
    let l = law("hoffmann2022");
    for months in [-1.0, -1e-9, 120.000_001, 1e6, f64::NAN, f64::INFINITY] {
        let err = plan_training_budget_at(&l, 1e21, None, &HO2024, months).unwrap_err();
        assert_eq!(err.field(), "start_in_months", "{months}");
        let err = plan_training_target_at(&l, 2.0, None, &HO2024, months).unwrap_err();
        assert_eq!(err.field(), "start_in_months", "{months}");
    }
    // The bound itself is allowed, and a budget the multiplier would overflow is named.
    assert!(plan_training_budget_at(&l, 1e21, None, &HO2024, 120.0).is_ok());
    let err = plan_training_budget_at(&l, 1e305, None, &HO2024, 120.0).unwrap_err();
    assert_eq!(err.field(), "budget_flops");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// The band is ordered: the fast end buys the lowest loss (or costs the least compute), the
    /// slow end the highest; later never loses to now.
    #[test]
    fn the_band_is_ordered(log_c in 18.0f64..27.0, months in 0.01f64..120.0, target in 1.9f64..3.0) {
        let l = law("hoffmann2022");
        let c = 10f64.powf(log_c);
        let p = plan_training_budget_at(&l, c, None, &HO2024, months).unwrap();
        let now = plan_training_budget(&l, c, None).unwrap();
        prop_assert!(p.loss_fast < p.loss && p.loss < p.loss_slow && p.loss_slow < now.loss);
        prop_assert!(
            1.0 < p.compute_multiplier_slow
                && p.compute_multiplier_slow < p.compute_multiplier
                && p.compute_multiplier < p.compute_multiplier_fast
        );
        let t = plan_training_target_at(&l, target, None, &HO2024, months).unwrap();
        prop_assert!(t.compute_fast < t.compute && t.compute < t.compute_slow);
        prop_assert!(t.compute_slow < t.effective_compute);
    }
}
