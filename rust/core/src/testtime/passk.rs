//! pass@k estimators: the unbiased estimator from per-problem counts (Chen et al. 2021), the
//! beta-binomial coverage and majority vote of the parametric model. All in log space, so large
//! k stays exact and never produces NaN.

use libm::lgamma;

/// ln Γ(x + k) - ln Γ(x) for x > 0, k >= 0, without the cancellation of two huge log-gammas
/// when x is large: a Beta concentration of 1e308 (a point mass) gives exact, finite values
/// instead of inf - inf = NaN. For x >= 20 by Stirling's series (truncation below 1e-14),
/// with (x+k-1/2) ln(x+k) - (x-1/2) ln x rewritten as (x-1/2) ln(1+k/x) + k ln(x+k).
pub(crate) fn ln_gamma_ratio(x: f64, k: f64) -> f64 {
    if k == 0.0 {
        return 0.0;
    }
    if x < 20.0 {
        return lgamma(x + k) - lgamma(x);
    }
    let y = x + k;
    let series = |z: f64| {
        let z2 = z * z;
        (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * z2)) / z2) / z2) / z
    };
    (x - 0.5) * (k / x).ln_1p() + k * y.ln() - k + (series(y) - series(x))
}

/// Terms up to which the unbiased estimator multiplies exactly; beyond, it uses log-gamma.
const EXACT_TERMS: u32 = 64;

/// Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k). Requires k <= n.
/// Constant work whatever n, c and k (docs/limits.md): the ratio is a product of min(k, c)
/// factors, multiplied out when there are few and taken from log-gamma otherwise.
pub fn unbiased_pass_at_k(n: u32, c: u32, k: u32) -> f64 {
    debug_assert!(k <= n && c <= n);
    if n - c < k {
        return 1.0;
    }
    if c == 0 {
        return 0.0;
    }
    // C(n-c, k)/C(n, k) = prod_{i=0}^{k-1} (n-c-i)/(n-i) = prod_{j=0}^{c-1} (n-k-j)/(n-j).
    let (terms, shift) = if k <= c { (k, c) } else { (c, k) };
    let log_ratio: f64 = if terms <= EXACT_TERMS {
        (0..terms)
            .map(|i| (-f64::from(shift) / f64::from(n - i)).ln_1p())
            .sum()
    } else {
        // prod_{i<terms} (n-shift-i)/(n-i) = Γ(n-shift+1) Γ(n-terms+1) / (Γ(n-shift-terms+1) Γ(n+1))
        let (n, t, s) = (f64::from(n), f64::from(terms), f64::from(shift));
        lgamma(n - s + 1.0) + lgamma(n - t + 1.0) - lgamma(n - s - t + 1.0) - lgamma(n + 1.0)
    };
    (1.0 - log_ratio.exp()).clamp(0.0, 1.0)
}

/// Coverage with a perfect verifier when per-problem success p ~ Beta(a, b):
/// E[1 - (1-p)^k] = 1 - B(a, b+k) / B(a, b).
pub fn beta_pass_at_k(mean: f64, kappa: f64, k: f64) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    if mean >= 1.0 {
        return 1.0;
    }
    pass_at_k_ab(mean * kappa, (1.0 - mean) * kappa, k)
}

/// Coverage 1 - B(a, b+k) / B(a, b) for per-problem success p ~ Beta(a, b), a, b > 0.
pub fn pass_at_k_ab(a: f64, b: f64, k: f64) -> f64 {
    // B(a, b+k) / B(a, b) = [Γ(b+k)/Γ(b)] / [Γ(a+b+k)/Γ(a+b)]
    let log_fail = ln_gamma_ratio(b, k) - ln_gamma_ratio(a + b, k);
    (1.0 - log_fail.exp()).clamp(0.0, 1.0)
}

/// Majority vote without a verifier when every wrong sample gives the same wrong answer (a
/// binary vote, the conservative case): P(X > k/2) + P(X = k/2)/2 with X ~ BetaBinomial(k, a, b).
pub fn beta_majority(mean: f64, kappa: f64, k: u32) -> f64 {
    if mean <= 0.0 {
        return 0.0;
    }
    if mean >= 1.0 {
        return 1.0;
    }
    let (a, b) = (mean * kappa, (1.0 - mean) * kappa);
    let kf = f64::from(k);
    let ln_choose = |x: f64| lgamma(kf + 1.0) - lgamma(x + 1.0) - lgamma(kf - x + 1.0);
    // C(k, x) B(x+a, k-x+b) / B(a, b), with the Beta ratio as three Gamma ratios.
    let whole = ln_gamma_ratio(a + b, kf);
    let pmf = |x: u32| {
        let x = f64::from(x);
        (ln_choose(x) + ln_gamma_ratio(a, x) + ln_gamma_ratio(b, kf - x) - whole).exp()
    };
    let mut total = 0.0;
    for x in (k / 2)..=k {
        let weight = if 2 * x > k {
            1.0
        } else if 2 * x == k {
            0.5
        } else {
            0.0
        };
        if weight > 0.0 {
            total += weight * pmf(x);
        }
    }
    total.clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unbiased_estimator_hand_cases() {
        // n=5, c=2, k=1: 1 - C(3,1)/C(5,1) = 1 - 3/5
        assert!((unbiased_pass_at_k(5, 2, 1) - 0.4).abs() < 1e-15);
        // k=2: 1 - C(3,2)/C(5,2) = 1 - 3/10
        assert!((unbiased_pass_at_k(5, 2, 2) - 0.7).abs() < 1e-15);
        // k=3: 1 - C(3,3)/C(5,3) = 1 - 1/10
        assert!((unbiased_pass_at_k(5, 2, 3) - 0.9).abs() < 1e-15);
        // n-c < k: certain
        assert_eq!(unbiased_pass_at_k(5, 2, 4), 1.0);
        assert_eq!(unbiased_pass_at_k(10, 0, 10), 0.0);
        // n=16, c=1, k=16 covers the one success
        assert!((unbiased_pass_at_k(16, 1, 16) - 1.0).abs() < 1e-15);
    }

    /// C(n, k) by exact integer arithmetic (u128), for small n.
    fn choose(n: u64, k: u64) -> u128 {
        if k > n {
            return 0;
        }
        (0..k).fold(1u128, |acc, i| acc * u128::from(n - i) / u128::from(i + 1))
    }

    #[test]
    fn unbiased_estimator_matches_the_combinatorial_count() {
        // Every (n, c, k) with n <= 90, both branches (exact product and log-gamma) included.
        for n in 1..=90u32 {
            for c in 0..=n {
                for k in 1..=n {
                    let want = 1.0
                        - choose(u64::from(n - c), u64::from(k)) as f64
                            / choose(u64::from(n), u64::from(k)) as f64;
                    let got = unbiased_pass_at_k(n, c, k);
                    assert!(
                        (got - want).abs() < 1e-9,
                        "n={n} c={c} k={k}: {got} vs {want}"
                    );
                }
            }
        }
    }

    #[test]
    fn unbiased_estimator_is_constant_work_and_finite_at_u32_max() {
        let start = std::time::Instant::now();
        for (n, c, k) in [
            (u32::MAX, 1, u32::MAX / 2),
            (u32::MAX, u32::MAX / 3, 1 << 20),
            (2_147_483_647, 1_000_000, 2_000_000),
            (u32::MAX, u32::MAX, 1),
        ] {
            let v = unbiased_pass_at_k(n, c, k);
            assert!((0.0..=1.0).contains(&v), "{n} {c} {k}: {v}");
        }
        // c/n = 1e-6 at k = 1e6 samples: 1 - (1 - 1e-6)^1e6 ~ 1 - 1/e, to sampling precision
        let v = unbiased_pass_at_k(1_000_000_000, 1000, 1_000_000);
        assert!((v - (1.0 - (-1.0f64).exp())).abs() < 1e-3, "{v}");
        // generous: a per-term loop would take seconds here; the closed form takes microseconds
        assert!(start.elapsed().as_secs_f64() < 1.0);
    }

    #[test]
    fn beta_pass_at_one_is_the_mean_and_large_k_is_finite() {
        for mean in [0.01, 0.3, 0.75, 0.99] {
            assert!((beta_pass_at_k(mean, 2.0, 1.0) - mean).abs() < 1e-12);
        }
        let mut last = 0.0;
        for k in [1.0, 10.0, 1e3, 1e6] {
            let v = beta_pass_at_k(0.2, 0.5, k);
            assert!(v.is_finite() && v >= last && v <= 1.0);
            last = v;
        }
    }

    #[test]
    fn gamma_ratio_matches_lgamma_and_a_point_mass_at_huge_concentration() {
        for x in [0.3, 10.0, 20.0, 25.5, 1e3, 1e6] {
            for k in [1.0, 2.0, 7.0, 100.0] {
                let want = lgamma(x + k) - lgamma(x);
                let got = ln_gamma_ratio(x, k);
                assert!((got - want).abs() <= 1e-11 * want.abs().max(1.0), "{x} {k}");
            }
        }
        // kappa -> infinity: every problem has success mu, pass@k = 1 - (1-mu)^k
        for kappa in [1e12, 1e100, 1e308, f64::MAX] {
            for k in [1.0, 5.0, 1e6] {
                let got = beta_pass_at_k(0.3, kappa, k);
                let want = 1.0 - 0.7f64.powf(k);
                assert!((got - want).abs() < 1e-6, "{kappa} {k}: {got} vs {want}");
            }
            let m = beta_majority(0.3, kappa, 3);
            // P(Bin(3, .3) >= 2) = 3 * .09 * .7 + .027
            assert!(
                (m - (3.0 * 0.09 * 0.7 + 0.027)).abs() < 1e-6,
                "{kappa}: {m}"
            );
        }
    }

    #[test]
    fn beta_pass_at_two_by_hand() {
        // E[1-(1-p)^2] = 2 mu - E[p^2]; E[p^2] = mu (a+1)/(a+b+1). mu=0.3, kappa=2: a=.6, b=1.4
        let (mu, a) = (0.3, 0.6);
        let want = 2.0 * mu - mu * (a + 1.0) / 3.0;
        assert!((beta_pass_at_k(mu, 2.0, 2.0) - want).abs() < 1e-13);
    }

    #[test]
    fn majority_by_hand() {
        // k=1: the sample's answer, P = mean
        assert!((beta_majority(0.4, 3.0, 1) - 0.4).abs() < 1e-12);
        // k=2: P(X=2) + P(X=1)/2 = E[p^2] + E[p(1-p)] = mean
        assert!((beta_majority(0.4, 3.0, 2) - 0.4).abs() < 1e-12);
        // k=3: P(X>=2) = 3E[p^2] - 2E[p^3]; a=1.2,b=1.8: E[p^2]=.4*2.2/4, E[p^3]=E[p^2]*3.2/5
        let e2 = 0.4 * 2.2 / 4.0;
        let e3 = e2 * 3.2 / 5.0;
        assert!((beta_majority(0.4, 3.0, 3) - (3.0 * e2 - 2.0 * e3)).abs() < 1e-12);
    }
}
