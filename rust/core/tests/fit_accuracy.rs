//! The beta-binomial fit of test-time accuracy (testtime::fit): hand-checkable optima,
//! degenerate data, bad rows, the fitted curve the planners read.

use scaleplan_core::testtime::fit::{log_likelihood, MAX_BOOTSTRAP};
use scaleplan_core::testtime::{fit_accuracy, AccuracyFitOptions, Curve, EvalRow, FittedCurve};
use scaleplan_core::PlanError;

fn row(model: &str, gen: f64, problem: usize, n: u32, c: u32) -> EvalRow {
    EvalRow {
        model: model.into(),
        gen_tokens: gen,
        problem: format!("p{problem}"),
        n,
        c,
    }
}

const NO_BOOT: AccuracyFitOptions = AccuracyFitOptions {
    bootstrap: 0,
    seed: 0,
};

/// Rows whose (n, c) histogram is exactly the beta-binomial's expected counts for (a, b) = (2, 3)
/// at n = 4 times `scale` problems, rounded: the fit must come back near (2, 3).
fn expected_rows(scale: f64) -> Vec<EvalRow> {
    // P(c) = C(4, c) B(c + 2, 4 - c + 3) / B(2, 3), by hand: B(x, y) = (x-1)!(y-1)!/(x+y-1)!
    let beta = |x: u64, y: u64| {
        let f = |k: u64| (1..=k).product::<u64>() as f64;
        f(x - 1) * f(y - 1) / f(x + y - 1)
    };
    let choose = [1.0, 4.0, 6.0, 4.0, 1.0];
    let mut rows = Vec::new();
    let mut id = 0;
    for c in 0..=4u64 {
        let p = choose[c as usize] * beta(c + 2, 4 - c + 3) / beta(2, 3);
        let count = (p * scale).round() as usize;
        for _ in 0..count {
            rows.push(row("m", 1000.0, id, 4, c as u32));
            id += 1;
        }
    }
    rows
}

#[test]
fn recovers_the_parameters_of_exact_expected_counts() {
    let fit = fit_accuracy(&expected_rows(1e5), &NO_BOOT).unwrap();
    let g = &fit.groups[0];
    assert!(g.converged, "{}", g.message);
    let (a, b) = g.params.unwrap();
    assert!((a - 2.0).abs() < 0.01 && (b - 3.0).abs() < 0.01, "{a} {b}");
    assert_eq!(g.eval_samples, 4);
    // the mean c/n of the data is a / (a + b) = 0.4 to rounding of the counts
    assert!((g.pass1 - 0.4).abs() < 1e-4);
    // a maximum: every neighbour is lower
    let cells: Vec<(u32, u32, f64)> = expected_rows(1e5).iter().map(|r| (r.n, r.c, 1.0)).collect();
    let best = log_likelihood(&cells, a, b);
    assert!((best - g.log_likelihood).abs() < 1e-6 * best.abs());
    for (da, db) in [
        (1.01, 1.0),
        (0.99, 1.0),
        (1.0, 1.01),
        (1.0, 0.99),
        (1.01, 1.01),
    ] {
        assert!(log_likelihood(&cells, a * da, b * db) < best);
    }
}

#[test]
fn degenerate_groups_are_unconverged_with_a_reason_and_no_numbers() {
    let cases: Vec<(Vec<EvalRow>, &str)> = vec![
        (
            (0..10).map(|i| row("m", 1.0, i, 8, 0)).collect(),
            "no sample was correct",
        ),
        (
            (0..10).map(|i| row("m", 1.0, i, 8, 8)).collect(),
            "every sample was correct",
        ),
        (vec![row("m", 1.0, 0, 16, 5)], "one problem"),
        (
            (0..20)
                .map(|i| row("m", 1.0, i, 1, (i % 3 == 0) as u32))
                .collect(),
            "n = 1",
        ),
        // every problem all-or-nothing: a, b -> 0
        (
            (0..20)
                .map(|i| row("m", 1.0, i, 8, if i % 4 == 0 { 8 } else { 0 }))
                .collect(),
            "all-or-nothing",
        ),
        // every problem exactly alike, 4 of 8: no spread beyond binomial noise, a + b -> inf
        ((0..40).map(|i| row("m", 1.0, i, 8, 4)).collect(), "alike"),
    ];
    for (rows, why) in cases {
        let fit = fit_accuracy(
            &rows,
            &AccuracyFitOptions {
                bootstrap: 20,
                seed: 1,
            },
        )
        .unwrap();
        let g = &fit.groups[0];
        assert!(!g.converged, "{why} {:?} {}", g.params, g.log_likelihood);
        assert!(g.params.is_none() && g.samples.is_empty(), "{why}");
        assert!(g.message.contains(why), "{why}: {}", g.message);
        assert!(g.pass1.is_finite());
    }
}

#[test]
fn bad_rows_are_named_with_their_index() {
    let mut rows: Vec<EvalRow> = (0..5).map(|i| row("m", 1.0, i, 4, 1)).collect();
    rows[3].c = 5;
    let e = fit_accuracy(&rows, &NO_BOOT).unwrap_err();
    assert_eq!(e.field(), "rows.c");
    assert!(e.to_string().contains('3'), "{e}");
    rows[3].c = 1;
    rows[2].gen_tokens = f64::NAN;
    assert_eq!(
        fit_accuracy(&rows, &NO_BOOT).unwrap_err().field(),
        "rows.gen_tokens"
    );
    rows[2].gen_tokens = 1.0;
    rows[4].problem = "p0".into();
    let e = fit_accuracy(&rows, &NO_BOOT).unwrap_err();
    assert!(e.to_string().contains("twice"), "{e}");
    assert!(fit_accuracy(&[], &NO_BOOT).is_err());
    let e = fit_accuracy(
        &expected_rows(100.0),
        &AccuracyFitOptions {
            bootstrap: MAX_BOOTSTRAP + 1,
            seed: 0,
        },
    )
    .unwrap_err();
    assert!(matches!(e, PlanError::LimitExceeded { .. }), "{e:?}");
}

#[test]
fn bootstrap_is_deterministic_per_seed_and_brackets_the_estimate() {
    let rows = expected_rows(400.0);
    let opts = AccuracyFitOptions {
        bootstrap: 200,
        seed: 7,
    };
    let one = fit_accuracy(&rows, &opts).unwrap();
    let two = fit_accuracy(&rows, &opts).unwrap();
    assert_eq!(one, two);
    let other = fit_accuracy(&rows, &AccuracyFitOptions { seed: 8, ..opts }).unwrap();
    assert_ne!(one.groups[0].samples, other.groups[0].samples);
    let g = &one.groups[0];
    assert_eq!(g.samples.len() + g.bootstrap_failed, 200);
    let (a, _) = g.params.unwrap();
    let below = g.samples.iter().filter(|s| s[0] < a).count();
    assert!((40..160).contains(&below), "{below}");
}

#[test]
fn fitted_curve_is_monotone_in_length_and_interpolates_in_log_length() {
    // at 1000 tokens (a, b) = (1, 3): pass@1 = 0.25; at 4000, (1, 1): 0.5.
    let curve = FittedCurve::new(&[(4000.0, 1.0, 1.0, 8), (1000.0, 1.0, 3.0, 16)]).unwrap();
    assert_eq!(curve.eval_samples, 8);
    assert!((curve.accuracy(1000.0, 1) - 0.25).abs() < 1e-12);
    assert!((curve.accuracy(4000.0, 1) - 0.5).abs() < 1e-12);
    // halfway in ln length: 2000 tokens
    assert!((curve.accuracy(2000.0, 1) - 0.375).abs() < 1e-12);
    // pass@k for Beta(1, b): 1 - B(1, b+k)/B(1, b) = 1 - b/(b+k); k = 5 at 1000: 1 - 3/8
    assert!((curve.accuracy(1000.0, 5) - 0.625).abs() < 1e-12);
    // a length where a fit is worse is held at the best shorter one
    let dip = FittedCurve::new(&[(1000.0, 1.0, 1.0, 4), (2000.0, 1.0, 3.0, 4)]).unwrap();
    assert!((dip.accuracy(2000.0, 1) - 0.5).abs() < 1e-12);
    let c = Curve::Fitted(curve);
    assert_eq!(c.gen_range(), Some((1000.0, 4000.0)));
    assert_eq!(c.max_samples(), None);
    assert_eq!(c.eval_samples(), Some(8));
    for bad in [
        vec![(0.0, 1.0, 1.0, 4)],
        vec![(1.0, f64::NAN, 1.0, 4)],
        vec![(1.0, 1.0, -1.0, 4)],
        vec![(1.0, 1.0, 1.0, 0)],
        vec![(1.0, 1.0, 1.0, 4), (1.0, 2.0, 1.0, 4)],
        vec![],
    ] {
        assert!(FittedCurve::new(&bad).is_err(), "{bad:?}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The planners' fitted curve: in [0, 1], never falling with more samples or a longer
        /// generation, finite for any k up to the planners' limit.
        #[test]
        fn fitted_curve_is_monotone_and_bounded(
            params in proptest::collection::vec((1e-3f64..1e3, 1e-3f64..1e3), 1..5),
            g in 100.0f64..1e5,
            k in 1u32..(1 << 20),
        ) {
            let entries: Vec<(f64, f64, f64, u32)> = params
                .iter()
                .enumerate()
                .map(|(i, &(a, b))| (1000.0 * 2f64.powi(i as i32), a, b, 8))
                .collect();
            let curve = FittedCurve::new(&entries).unwrap();
            let v = curve.accuracy(g, k);
            prop_assert!((0.0..=1.0).contains(&v), "{v}");
            prop_assert!(curve.accuracy(g, k.saturating_add(1)) >= v - 1e-12);
            prop_assert!(curve.accuracy(g * 1.5, k) >= v - 1e-12);
        }

        /// The fit depends on the multiset of (n, c) only: reordering the problems or counting
        /// each twice leaves (a, b) where they were.
        #[test]
        fn fit_depends_on_the_counts_only(
            counts in proptest::collection::vec((1u32..40, 0.0f64..1.0), 8..60),
        ) {
            let rows: Vec<EvalRow> = counts
                .iter()
                .enumerate()
                .map(|(i, &(n, f))| row("m", 512.0, i, n, (f * f64::from(n)).round() as u32))
                .collect();
            let one = fit_accuracy(&rows, &NO_BOOT).unwrap();
            let mut reversed: Vec<EvalRow> = rows.iter().rev().cloned().collect();
            for (i, r) in reversed.iter_mut().enumerate() {
                r.problem = format!("r{i}");
            }
            let two = fit_accuracy(&reversed, &NO_BOOT).unwrap();
            let mut doubled = rows.clone();
            doubled.extend(rows.iter().map(|r| EvalRow { problem: format!("{}-again", r.problem), ..r.clone() }));
            let three = fit_accuracy(&doubled, &NO_BOOT).unwrap();
            let (g1, g2, g3) = (&one.groups[0], &two.groups[0], &three.groups[0]);
            prop_assert_eq!(g1.converged, g2.converged);
            if let (Some((a1, b1)), Some((a2, b2))) = (g1.params, g2.params) {
                prop_assert!((a1 - a2).abs() <= 1e-6 * a1 && (b1 - b2).abs() <= 1e-6 * b1);
            }
            if let (Some((a1, b1)), Some((a3, b3))) = (g1.params, g3.params) {
                prop_assert!((a1 - a3).abs() <= 1e-5 * a1 && (b1 - b3).abs() <= 1e-5 * b1);
            }
        }
    }
}
