//! pass@k estimators: the unbiased estimator from per-problem counts (Chen et al. 2021), the
//! beta-binomial coverage and majority vote of the parametric model. All in log space, so large
//! k stays exact and never produces NaN.

use libm::lgamma;

/// ln B(a, b) = lgamma(a) + lgamma(b) - lgamma(a + b).
fn ln_beta(a: f64, b: f64) -> f64 {
    lgamma(a) + lgamma(b) - lgamma(a + b)
}

/// Unbiased pass@k from n samples with c correct: 1 - C(n-c, k) / C(n, k). Requires k <= n.
pub fn unbiased_pass_at_k(n: u32, c: u32, k: u32) -> f64 {
    debug_assert!(k <= n && c <= n);
    if n - c < k {
        return 1.0;
    }
    // C(n-c, k)/C(n, k) = prod_{i=0}^{k-1} (n-c-i)/(n-i), accumulated in logs.
    let log_ratio: f64 = (0..k)
        .map(|i| (f64::from(n - c - i) / f64::from(n - i)).ln())
        .sum();
    1.0 - log_ratio.exp()
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
    let (a, b) = (mean * kappa, (1.0 - mean) * kappa);
    let log_fail = ln_beta(a, b + k) - ln_beta(a, b);
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
    let base = ln_beta(a, b);
    let ln_choose = |x: f64| lgamma(kf + 1.0) - lgamma(x + 1.0) - lgamma(kf - x + 1.0);
    let pmf = |x: u32| {
        let x = f64::from(x);
        (ln_choose(x) + ln_beta(x + a, kf - x + b) - base).exp()
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
