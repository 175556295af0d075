//! One-dimensional searches the planners are built from. Each one states what it needs of the
//! function for its answer to be exact to the tolerance; the planners document why it holds.

const INV_PHI: f64 = 0.618_033_988_749_894_8;

/// Minimum of `f` on [lo, hi] by golden-section search, exact to `tol` when `f` is unimodal there.
pub fn golden_min(f: &impl Fn(f64) -> f64, mut lo: f64, mut hi: f64, tol: f64) -> (f64, f64) {
    let mut x1 = hi - INV_PHI * (hi - lo);
    let mut x2 = lo + INV_PHI * (hi - lo);
    let (mut f1, mut f2) = (f(x1), f(x2));
    while hi - lo > tol {
        if f1 <= f2 {
            hi = x2;
            x2 = x1;
            f2 = f1;
            x1 = hi - INV_PHI * (hi - lo);
            f1 = f(x1);
        } else {
            lo = x1;
            x1 = x2;
            f1 = f2;
            x2 = lo + INV_PHI * (hi - lo);
            f2 = f(x2);
        }
    }
    let candidates = [(lo, f(lo)), (x1, f1), (x2, f2), (hi, f(hi))];
    candidates.into_iter().fold(
        (lo, f64::INFINITY),
        |best, c| if c.1 < best.1 { c } else { best },
    )
}

/// Minimum of `f` on [lo, hi] by Brent's method: parabolic steps through the three best points
/// where they make progress, golden-section steps otherwise, so it is never slower than golden
/// section and converges superlinearly on smooth minima. Exact to `tol` when `f` is unimodal.
pub fn brent_min(f: &impl Fn(f64) -> f64, lo: f64, hi: f64, tol: f64) -> (f64, f64) {
    const C: f64 = 1.0 - INV_PHI; // 0.381966...
    let (mut a, mut b) = (lo, hi);
    let mut x = a + C * (b - a);
    let (mut w, mut v) = (x, x);
    let mut fx = f(x);
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    for _ in 0..200 {
        let m = 0.5 * (a + b);
        let tol1 = tol * 0.5 + 1e-15 * x.abs();
        if (x - m).abs() <= 2.0 * tol1 - 0.5 * (b - a) {
            break;
        }
        let mut golden = true;
        if e.abs() > tol1 && fx.is_finite() && fw.is_finite() && fv.is_finite() {
            // Parabola through (v, fv), (w, fw), (x, fx).
            let r = (x - w) * (fx - fv);
            let q0 = (x - v) * (fx - fw);
            let mut p = (x - v) * q0 - (x - w) * r;
            let mut q = 2.0 * (q0 - r);
            if q > 0.0 {
                p = -p;
            }
            q = q.abs();
            if p.abs() < (0.5 * q * e).abs() && p > q * (a - x) && p < q * (b - x) {
                e = d;
                d = p / q;
                let u = x + d;
                if u - a < 2.0 * tol1 || b - u < 2.0 * tol1 {
                    d = if x < m { tol1 } else { -tol1 };
                }
                golden = false;
            }
        }
        if golden {
            e = if x < m { b - x } else { a - x };
            d = C * e;
        }
        let u = if d.abs() >= tol1 {
            x + d
        } else {
            x + tol1.copysign(d)
        };
        let fu = f(u);
        if fu <= fx {
            if u < x {
                b = x;
            } else {
                a = x;
            }
            (v, fv, w, fw, x, fx) = (w, fw, x, fx, u, fu);
        } else {
            if u < x {
                a = u;
            } else {
                b = u;
            }
            if fu <= fw || w == x {
                (v, fv, w, fw) = (w, fw, u, fu);
            } else if fu <= fv || v == x || v == w {
                (v, fv) = (u, fu);
            }
        }
    }
    (x, fx)
}

/// Minimum of `f` on [lo, hi]: the best of `points` evenly spaced samples, refined by Brent's
/// method between its neighbours. Exact to `tol` when `f` is unimodal on [lo, hi]; where `f`
/// may be infinite (an infeasible region) or has several basins, the grid picks the basin.
pub fn grid_golden_min(
    f: &impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    points: usize,
    tol: f64,
) -> (f64, f64) {
    let points = points.max(3);
    let step = (hi - lo) / (points - 1) as f64;
    let at = |i: usize| {
        if i == points - 1 {
            hi
        } else {
            lo + step * i as f64
        }
    };
    let (mut best_i, mut best_f) = (0, f64::INFINITY);
    for i in 0..points {
        let v = f(at(i));
        if v < best_f {
            best_i = i;
            best_f = v;
        }
    }
    if !best_f.is_finite() {
        return (at(best_i), best_f);
    }
    let a = at(best_i.saturating_sub(1));
    let b = at((best_i + 1).min(points - 1));
    let (x, fx) = brent_min(f, a, b, tol);
    if fx <= best_f {
        (x, fx)
    } else {
        (at(best_i), best_f)
    }
}

/// The x in [lo, hi] where the increasing predicate first holds, to `tol` (bisection).
pub fn bisect_first(pred: &impl Fn(f64) -> bool, mut lo: f64, mut hi: f64, tol: f64) -> f64 {
    while hi - lo > tol {
        let mid = 0.5 * (lo + hi);
        if pred(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn golden_finds_the_minimum_of_a_convex_function() {
        let (x, fx) = golden_min(&|x: f64| (x - 1.234).powi(2) + 5.0, -10.0, 10.0, 1e-10);
        // near a quadratic minimum f is flat to rounding within ~sqrt(eps) of x*
        assert!((x - 1.234).abs() < 1e-7 && (fx - 5.0).abs() < 1e-15);
    }

    #[test]
    fn brent_matches_golden_with_fewer_evaluations() {
        use std::cell::Cell;
        for (centre, power) in [(1.234, 2), (-3.5, 4), (7.25, 2)] {
            let calls = Cell::new(0);
            let f = |x: f64| {
                calls.set(calls.get() + 1);
                (x - centre).abs().powi(power) + x.exp() * 1e-9
            };
            let (xb, fb) = brent_min(&f, -10.0, 10.0, 1e-9);
            let brent_calls = calls.replace(0);
            let (xg, fg) = golden_min(&f, -10.0, 10.0, 1e-9);
            assert!(fb <= fg + 1e-15, "{centre}: brent {fb} golden {fg}");
            assert!((xb - xg).abs() < 1e-3, "{xb} {xg}");
            assert!(
                brent_calls < calls.get(),
                "{brent_calls} vs {}",
                calls.get()
            );
        }
    }

    #[test]
    fn grid_picks_the_best_basin_and_skips_infinite_regions() {
        // two basins, the deeper at 3; infeasible (infinite) left of -1
        let f = |x: f64| {
            if x < -1.0 {
                f64::INFINITY
            } else {
                ((x - 3.0).powi(2)).min((x + 0.5).powi(2) + 0.25)
            }
        };
        let (x, fx) = grid_golden_min(&f, -5.0, 5.0, 41, 1e-10);
        assert!((x - 3.0).abs() < 1e-8 && fx < 1e-15, "{x} {fx}");
    }

    #[test]
    fn bisection_finds_the_threshold() {
        let x = bisect_first(&|x: f64| x * x >= 2.0, 0.0, 2.0, 1e-12);
        assert!((x - 2f64.sqrt()).abs() < 1e-11);
    }
}
