//! Fitting a loss law (docs/fitting.md): recovery, determinism, bad input.

use scaleplan_core::laws::fit::{fit_law, FitOptions, MAX_BOOTSTRAP};
use scaleplan_core::PlanError;

/// Runs on a grid of (N, D) drawn from a known law, with multiplicative log-normal-ish noise
/// from a fixed generator.
fn runs(law: [f64; 5], n_runs: usize, noise: f64, seed: u64) -> (Vec<f64>, Vec<f64>, Vec<f64>) {
    let [e, a, b, al, be] = law;
    let mut state = seed.wrapping_add(1);
    let mut unif = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 11) as f64 / (1u64 << 53) as f64
    };
    let (mut ns, mut ds, mut ls) = (vec![], vec![], vec![]);
    for _ in 0..n_runs {
        let n = 10f64.powf(7.0 + 3.0 * unif());
        let d = 10f64.powf(9.0 + 3.0 * unif());
        let z: f64 = (0..12).map(|_| unif()).sum::<f64>() - 6.0;
        let l = (e + a * n.powf(-al) + b * d.powf(-be)) * (noise * z).exp();
        ns.push(n);
        ds.push(d);
        ls.push(l);
    }
    (ns, ds, ls)
}

const TRUTH: [f64; 5] = [1.8172, 482.01, 2085.43, 0.3478, 0.3658];

#[test]
fn exact_runs_recover_the_law() {
    let (n, d, l) = runs(TRUTH, 60, 0.0, 1);
    let fit = fit_law(&n, &d, &l, &FitOptions::default()).unwrap();
    assert!(fit.converged, "{}", fit.message);
    let law = fit.law.unwrap();
    let got = [law.e, law.a, law.b, law.alpha, law.beta];
    for k in 0..5 {
        assert!(
            (got[k] / TRUTH[k] - 1.0).abs() < 1e-4,
            "param {k}: {} vs {}",
            got[k],
            TRUTH[k]
        );
    }
    assert!(fit.residuals.iter().all(|r| r.abs() < 1e-6));
    assert_eq!(law.name, "fitted(n=60)");
}

#[test]
fn bootstrap_is_deterministic_whatever_the_threads() {
    let (n, d, l) = runs(TRUTH, 40, 0.01, 2);
    let opts = FitOptions {
        bootstrap: 24,
        seed: 7,
        ..FitOptions::default()
    };
    let one = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let two = rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build()
        .unwrap();
    let a = one.install(|| fit_law(&n, &d, &l, &opts).unwrap());
    let b = two.install(|| fit_law(&n, &d, &l, &opts).unwrap());
    assert_eq!(a.samples, b.samples);
    assert_eq!(a.samples.len(), 24);
    let c = fit_law(&n, &d, &l, &FitOptions { seed: 8, ..opts }).unwrap();
    assert_ne!(a.samples, c.samples);
}

/// The field an error is about, `field[i]` (this test's notation) when it is located at run i.
fn field_of(r: scaleplan_core::Result<scaleplan_core::laws::fit::LawFit>) -> String {
    match r {
        Err(e) => match e.location().and_then(|at| at.index) {
            Some(i) => format!("{}[{i}]", e.field()),
            None => e.field().to_string(),
        },
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn bad_input_names_its_field() {
    let (n, d, l) = runs(TRUTH, 10, 0.01, 3);
    let o = FitOptions::default();
    assert_eq!(field_of(fit_law(&n[..4], &d[..4], &l[..4], &o)), "params");
    assert_eq!(field_of(fit_law(&n, &d[..9], &l, &o)), "tokens");
    assert_eq!(field_of(fit_law(&n, &d, &l[..9], &o)), "loss");
    let mut bad = l.clone();
    bad[3] = f64::NAN;
    assert_eq!(field_of(fit_law(&n, &d, &bad, &o)), "loss[3]");
    let mut bad = n.clone();
    bad[0] = -1.0;
    assert_eq!(field_of(fit_law(&bad, &d, &l, &o)), "params[0]");
    let mut bad = d.clone();
    bad[9] = 0.0;
    assert_eq!(field_of(fit_law(&n, &bad, &l, &o)), "tokens[9]");
    let delta = FitOptions {
        delta: 0.0,
        ..FitOptions::default()
    };
    assert_eq!(field_of(fit_law(&n, &d, &l, &delta)), "delta");
    let many = FitOptions {
        bootstrap: MAX_BOOTSTRAP + 1,
        ..FitOptions::default()
    };
    let err = fit_law(&n, &d, &l, &many).unwrap_err();
    assert!(matches!(err, PlanError::LimitExceeded { ref field, .. } if field == "bootstrap"));
    let u = FitOptions {
        unique_tokens: Some(-3.0),
        ..FitOptions::default()
    };
    assert_eq!(field_of(fit_law(&n, &d, &l, &u)), "unique_tokens");
}

#[test]
fn runs_that_do_not_identify_a_law_are_not_converged() {
    // Loss rising with N and D: the best fit has no valid law (or does not converge).
    let n: Vec<f64> = (0..8).map(|k| 1e7 * 2f64.powi(k)).collect();
    let d: Vec<f64> = (0..8).map(|k| 1e9 * 2f64.powi(k)).collect();
    let l: Vec<f64> = (0..8).map(|k| 2.0 + 0.1 * k as f64).collect();
    let fit = fit_law(&n, &d, &l, &FitOptions::default()).unwrap();
    assert!(!fit.converged);
    assert!(fit.law.is_none());
    assert!(!fit.message.is_empty());
}

#[test]
#[ignore = "timing, run by hand: cargo test --release -- --ignored --nocapture"]
fn timing_240_runs_1000_bootstraps() {
    let (n, d, l) = runs(TRUTH, 240, 0.02, 4);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let t = std::time::Instant::now();
    let fit = pool.install(|| {
        fit_law(
            &n,
            &d,
            &l,
            &FitOptions {
                bootstrap: 1000,
                ..FitOptions::default()
            },
        )
        .unwrap()
    });
    let t0 = std::time::Instant::now();
    let p0 = pool.install(|| fit_law(&n, &d, &l, &FitOptions::default()).unwrap());
    eprintln!("point fit alone {:?} obj {}", t0.elapsed(), p0.objective);
    eprintln!(
        "{:?} converged={} unconverged boots={} params={:?}",
        t.elapsed(),
        fit.converged,
        fit.bootstrap_unconverged,
        fit.params
    );
}
