//! One-dimensional searches the planners are built from. Each one states what it needs of the
//! function for its answer to be exact to the tolerance; the planners document why it holds.

//!
//! Every loop here stops after a bounded number of steps whatever the tolerance (a tolerance
//! below the spacing of floats, or a NaN bound, cannot make it spin), and as soon as the call's
//! cancellation token fires (`cancel::fired`; the entry point then returns
//! `PlanError::Cancelled`, docs/limits.md).

use crate::cancel;

const INV_PHI: f64 = 0.618_033_988_749_894_8;

/// `f` with NaN read as +inf (infeasible): a NaN would otherwise order before every number.
fn nan_as_infeasible(f: &impl Fn(f64) -> f64) -> impl Fn(f64) -> f64 + '_ {
    move |x| {
        let v = f(x);
        if v.is_nan() {
            f64::INFINITY
        } else {
            v
        }
    }
}

/// Minimum of `f` on [lo, hi] by golden-section search, exact to `tol` when `f` is unimodal there.
pub fn golden_min(f: &impl Fn(f64) -> f64, mut lo: f64, mut hi: f64, tol: f64) -> (f64, f64) {
    let mut x1 = hi - INV_PHI * (hi - lo);
    let mut x2 = lo + INV_PHI * (hi - lo);
    let (mut f1, mut f2) = (f(x1), f(x2));
    // Golden section shrinks by 0.618 a step: 200 steps reach any tolerance above rounding.
    for _ in 0..200 {
        if hi - lo <= tol || cancel::fired() {
            break;
        }
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
    let x = lo + BRENT_C * (hi - lo);
    let fx = nan_as_infeasible(f)(x);
    brent_min_from(f, lo, hi, (x, fx), tol)
}

const BRENT_C: f64 = 1.0 - INV_PHI; // 0.381966...

/// [`brent_min`] started from a point `start` = (x, f(x)) inside [lo, hi] already evaluated
/// (such as the middle of a bracket), saving the evaluation Brent's method starts with.
pub fn brent_min_from(
    f: &impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    start: (f64, f64),
    tol: f64,
) -> (f64, f64) {
    let f = &nan_as_infeasible(f);
    const C: f64 = BRENT_C;
    let (mut a, mut b) = (lo, hi);
    let (mut x, mut fx) = start;
    if fx.is_nan() {
        fx = f64::INFINITY;
    }
    let (mut w, mut v) = (x, x);
    let (mut fw, mut fv) = (fx, fx);
    let (mut d, mut e) = (0.0f64, 0.0f64);
    for _ in 0..200 {
        if cancel::fired() {
            break;
        }
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
        // An infinite (infeasible) point is never progress, even beside another one.
        if fu <= fx && fu.is_finite() {
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

/// Where a one-dimensional minimum sits in its search interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Strictly inside: no bound or wall stops it.
    Interior,
    /// On the lower or upper end of the interval searched (a bound the caller set).
    LowerBound,
    UpperBound,
    /// On the edge of an infeasible region (where `f` is infinite) below or above it: a wall
    /// such as serving memory or the budget, located by bisection on feasibility.
    LowerWall,
    UpperWall,
}

/// The result of [`min_feasible`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Min1 {
    pub x: f64,
    pub f: f64,
    pub edge: Edge,
}

impl Min1 {
    pub fn none(lo: f64) -> Self {
        Min1 {
            x: lo,
            f: f64::INFINITY,
            edge: Edge::Interior,
        }
    }

    pub fn feasible(&self) -> bool {
        self.f.is_finite()
    }
}

/// Most evaluations [`min_feasible`] spends looking for a feasible point before it concludes
/// there is none (it doubles the grid until then).
const MAX_SCAN_POINTS: usize = 320;

/// Walls are located 1e4 times finer than the minimiser's tolerance: an objective is often
/// steep where it meets one (the cost of the largest model that fits), so a wall found only to
/// `tol` would cost ~`tol` relative in the objective.
pub(crate) const WALL_TOL: f64 = 1e-4;

/// Minimum of `f` on [lo, hi] where `f` is infinite on infeasible points (docs/solvers.md).
///
/// 1. A grid of `points` samples (doubled up to [`MAX_SCAN_POINTS`] while none is finite).
/// 2. Each maximal run of finite samples is a feasible interval; where it borders an infinite
///    sample, the wall between them is located by bisection on `f(x).is_finite()` to `tol`, and
///    the interval's end is put on the feasible side of it.
/// 3. Inside each feasible interval, Brent's method between the best sample's neighbours (never
///    leaving the interval), and the interval's two ends as candidates of their own, so a
///    minimum pressed against a wall is found on the wall and not beyond it.
///
/// Exact to `tol` when `f` is unimodal on each feasible interval and each infeasible stretch is
/// wider than the grid spacing or touches `lo`/`hi`; `edge` says whether the minimum sits on a
/// bound of [lo, hi], on a wall, or inside.
pub fn min_feasible(f: &impl Fn(f64) -> f64, lo: f64, hi: f64, points: usize, tol: f64) -> Min1 {
    search_feasible(f, lo, hi, points, tol, false)
}

/// [`min_feasible`] with one shortcut (docs/solvers.md): where the best sample of a feasible
/// interval is at the interval's end (a bound or wall), f one tolerance inside that end is
/// evaluated, and if it is no lower the end is the minimum to `tol` (for f unimodal on the
/// interval a minimum further inside would make f fall towards it), with no Brent steps
/// creeping to the end. Same assumptions, same answer to `tol`.
pub fn min_feasible_ending(
    f: &impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    points: usize,
    tol: f64,
) -> Min1 {
    search_feasible(f, lo, hi, points, tol, true)
}

fn search_feasible(
    f: &impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    points: usize,
    tol: f64,
    end_test: bool,
) -> Min1 {
    if !lo.is_finite() || !hi.is_finite() || lo > hi {
        return Min1::none(lo);
    }
    let f = &nan_as_infeasible(f);
    if hi - lo <= tol {
        let (flo, fhi) = (f(lo), f(hi));
        return if flo <= fhi {
            Min1 {
                x: lo,
                f: flo,
                edge: Edge::LowerBound,
            }
        } else {
            Min1 {
                x: hi,
                f: fhi,
                edge: Edge::UpperBound,
            }
        };
    }
    let mut points = points.max(3);
    let mut values;
    loop {
        if cancel::fired() {
            return Min1::none(lo);
        }
        let step = (hi - lo) / (points - 1) as f64;
        values = (0..points)
            .map(|i| {
                let x = if i == points - 1 {
                    hi
                } else {
                    lo + step * i as f64
                };
                (x, f(x))
            })
            .collect::<Vec<_>>();
        if values.iter().any(|v| v.1.is_finite()) || points * 2 > MAX_SCAN_POINTS {
            break;
        }
        points = 2 * points - 1; // keeps the old samples, adds the midpoints
    }
    let finite = |x: f64| f(x).is_finite();
    let mut best = Min1::none(lo);
    let mut i = 0;
    while i < points {
        if cancel::fired() {
            break;
        }
        if !values[i].1.is_finite() {
            i += 1;
            continue;
        }
        let mut j = i;
        while j + 1 < points && values[j + 1].1.is_finite() {
            j += 1;
        }
        let k = (i..=j)
            .min_by(|&p, &q| values[p].1.total_cmp(&values[q].1))
            .expect("a run has a sample");
        // The feasible interval [a, b] around samples i..=j. A wall is located only when the
        // run's best sample borders it: otherwise the minimum is inside (f is unimodal there).
        let (a, fa, lower) = if i == 0 {
            (lo, values[0].1, Edge::LowerBound)
        } else if k == i {
            let a = wall(&finite, values[i - 1].0, values[i].0, tol * WALL_TOL);
            (a, f(a), Edge::LowerWall)
        } else {
            (values[i].0, values[i].1, Edge::Interior)
        };
        let (b, fbb, upper) = if j == points - 1 {
            (hi, values[j].1, Edge::UpperBound)
        } else if k == j {
            let b = wall(&finite, values[j + 1].0, values[j].0, tol * WALL_TOL);
            (b, f(b), Edge::UpperWall)
        } else {
            (values[j].0, values[j].1, Edge::Interior)
        };
        let left = if k == i { a } else { values[k - 1].0 };
        let right = if k == j { b } else { values[k + 1].0 };
        // The end test: the best end of the interval beside the best sample, if f rises
        // one tolerance inside it.
        let end = if !end_test || b - a <= 2.0 * tol {
            None
        } else if k == i && fa <= values[k].1 && f(a + tol) >= fa {
            Some((a, fa))
        } else if k == j && fbb <= values[k].1 && f(b - tol) >= fbb {
            Some((b, fbb))
        } else {
            None
        };
        let (xb, fb) = end.unwrap_or_else(|| brent_min(f, left, right, tol));
        let mut candidates = [(values[k].0, values[k].1), (xb, fb), (a, fa), (b, fbb)];
        candidates.sort_by(|p, q| p.1.total_cmp(&q.1));
        let (x, fx) = candidates[0];
        if fx < best.f {
            let edge = if (x - a).abs() <= 2.0 * tol && fa <= fx {
                lower
            } else if (x - b).abs() <= 2.0 * tol && fbb <= fx {
                upper
            } else {
                Edge::Interior
            };
            // Report the end itself when the minimum is within tolerance of it.
            best = match edge {
                Edge::Interior => Min1 { x, f: fx, edge },
                e if e == lower => Min1 { x: a, f: fa, edge },
                _ => Min1 { x: b, f: fbb, edge },
            };
        }
        i = j + 1;
    }
    best
}

/// [`min_feasible`] for an `f` whose feasible points are downward closed on [lo, hi] (where
/// x is feasible, so is every smaller x): infeasible at `lo` means nowhere, and the one wall
/// above is located by bisection before the search, so no scan for narrow windows is needed.
pub fn min_below_wall(f: &impl Fn(f64) -> f64, lo: f64, hi: f64, points: usize, tol: f64) -> Min1 {
    if !lo.is_finite() || !hi.is_finite() || lo > hi || !f(lo).is_finite() {
        return Min1::none(lo);
    }
    if f(hi).is_finite() {
        return min_feasible(f, lo, hi, points, tol);
    }
    let top = wall(&|x: f64| f(x).is_finite(), hi, lo, tol * WALL_TOL);
    let m = min_feasible(f, lo, top, points, tol);
    match m.edge {
        Edge::UpperBound => Min1 {
            edge: Edge::UpperWall,
            ..m
        },
        _ => m,
    }
}

/// The feasible end of the wall between an infeasible `out` and a feasible `inside`, to `tol`.
fn wall(feasible: &impl Fn(f64) -> bool, mut out: f64, mut inside: f64, tol: f64) -> f64 {
    for _ in 0..200 {
        if (out - inside).abs() <= tol || cancel::fired() {
            break;
        }
        let mid = 0.5 * (out + inside);
        if feasible(mid) {
            inside = mid;
        } else {
            out = mid;
        }
    }
    inside
}

/// Minimum of `f` on [lo, hi] as (x, f(x)): [`min_feasible`]'s grid, then Brent's method (the
/// name predates Brent; no golden-section step is taken unless Brent's parabola fails).
pub fn grid_golden_min(
    f: &impl Fn(f64) -> f64,
    lo: f64,
    hi: f64,
    points: usize,
    tol: f64,
) -> (f64, f64) {
    let m = min_feasible(f, lo, hi, points, tol);
    (m.x, m.f)
}

/// The x in [lo, hi] where the increasing predicate first holds, to `tol` (bisection).
pub fn bisect_first(pred: &impl Fn(f64) -> bool, mut lo: f64, mut hi: f64, tol: f64) -> f64 {
    // Halving 200 times reaches any tolerance above rounding from any finite interval.
    for _ in 0..200 {
        if hi - lo <= tol || cancel::fired() {
            break;
        }
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

    #[test]
    fn a_minimum_pressed_against_a_wall_is_found_on_its_feasible_side() {
        // Decreasing towards a wall at 1.3 (the lifetime planner's memory wall): the grid's best
        // sample borders the infeasible side, and the answer is the wall itself.
        let wall_at = 1.3;
        let f = |x: f64| {
            if x > wall_at {
                f64::INFINITY
            } else {
                (-x).exp()
            }
        };
        for points in [3, 7, 24] {
            let m = min_feasible(&f, 0.0, 10.0, points, 1e-10);
            assert!((m.x - wall_at).abs() < 1e-9, "{points}: {m:?}");
            assert!(m.f.is_finite() && m.edge == Edge::UpperWall, "{m:?}");
        }
        // Mirror image: increasing away from a lower wall.
        let g = |x: f64| if x < -2.5 { f64::INFINITY } else { x.exp() };
        let m = min_feasible(&g, -10.0, 10.0, 24, 1e-10);
        assert!(
            (m.x + 2.5).abs() < 1e-9 && m.edge == Edge::LowerWall,
            "{m:?}"
        );
    }

    #[test]
    fn a_feasible_window_narrower_than_the_grid_is_found() {
        // Only [0.31, 0.33] is feasible; 24 samples over [0, 10] all miss it at first.
        let f = |x: f64| {
            if (0.31..=0.33).contains(&x) {
                (x - 0.32).powi(2)
            } else {
                f64::INFINITY
            }
        };
        let m = min_feasible(&f, 0.0, 10.0, 24, 1e-12);
        assert!(
            (m.x - 0.32).abs() < 1e-6 && m.edge == Edge::Interior,
            "{m:?}"
        );
    }

    #[test]
    fn nan_is_infeasible_and_never_hides_a_feasible_minimum() {
        // A NaN stretch where Brent starts (a runtime NaN has its sign bit set, which
        // total_cmp orders before every number).
        let f = |x: f64| {
            if x > 4.7 && x < 4.8 {
                -f64::NAN
            } else {
                (x - 5.0).powi(2)
            }
        };
        let m = min_feasible(&f, 0.0, 10.0, 11, 1e-10);
        assert!(m.feasible() && (m.x - 5.0).abs() < 1e-6, "{m:?}");
    }

    #[test]
    fn below_a_wall_the_wall_is_found_first() {
        let f = |x: f64| if x > 0.3 { f64::INFINITY } else { -x };
        let m = min_below_wall(&f, 0.0, 10.0, 10, 1e-12);
        assert!(
            (m.x - 0.3).abs() < 1e-11 && m.edge == Edge::UpperWall,
            "{m:?}"
        );
        let m = min_below_wall(&|x: f64| (x - 0.1).powi(2), 0.0, 10.0, 10, 1e-12);
        assert!(
            (m.x - 0.1).abs() < 1e-6 && m.edge == Edge::Interior,
            "{m:?}"
        );
        assert!(!min_below_wall(&|_: f64| f64::INFINITY, 0.0, 1.0, 10, 1e-9).feasible());
    }

    #[test]
    fn bounds_are_reported_as_bounds() {
        let m = min_feasible(&|x: f64| x, 2.0, 5.0, 10, 1e-12);
        assert_eq!((m.x, m.edge), (2.0, Edge::LowerBound));
        let m = min_feasible(&|x: f64| -x, 2.0, 5.0, 10, 1e-12);
        assert_eq!((m.x, m.edge), (5.0, Edge::UpperBound));
        let m = min_feasible(&|_: f64| f64::INFINITY, 2.0, 5.0, 10, 1e-12);
        assert!(!m.feasible());
    }

    proptest::proptest! {
        /// Against a fine grid: a unimodal function with a wall anywhere is never beaten.
        #[test]
        fn never_beaten_by_a_fine_grid(
            centre in -5.0f64..5.0,
            wall_at in -4.0f64..4.0,
            upper in proptest::bool::ANY,
            points in 3usize..40,
        ) {
            let f = |x: f64| {
                let out = if upper { x > wall_at } else { x < wall_at };
                if out { f64::INFINITY } else { (x - centre).powi(2) }
            };
            let m = min_feasible(&f, -5.0, 5.0, points, 1e-10);
            let e = min_feasible_ending(&f, -5.0, 5.0, points, 1e-10);
            proptest::prop_assert!(m.feasible() && e.feasible());
            for i in 0..=10_000 {
                let x = -5.0 + 1e-3 * f64::from(i);
                proptest::prop_assert!(m.f <= f(x) + 1e-9, "{:?} beaten at {} ({})", m, x, f(x));
                proptest::prop_assert!(e.f <= f(x) + 1e-9, "{:?} beaten at {} ({})", e, x, f(x));
            }
            // The end test gives the plain search's minimum to its tolerance.
            proptest::prop_assert!((e.x - m.x).abs() <= 1e-8, "{:?} vs {:?}", e, m);
        }
    }

    #[test]
    fn searches_stop_when_the_tolerance_is_below_float_spacing_or_a_bound_is_not_finite() {
        // tol 0 on an interval the floats cannot halve forever: the step cap ends it
        let x = bisect_first(&|x: f64| x >= 1e300, 1e300, 2e300, 0.0);
        assert!((x / 1e300 - 1.0).abs() < 1e-12);
        let (x, _) = golden_min(&|x: f64| (x - 1e300).abs(), 0.0, 2e300, 0.0);
        assert!(x.is_finite());
        for (lo, hi) in [
            (f64::NEG_INFINITY, 1.0),
            (0.0, f64::NAN),
            (f64::NAN, f64::INFINITY),
        ] {
            bisect_first(&|x: f64| x > 0.5, lo, hi, 1e-9);
            golden_min(&|x: f64| x * x, lo, hi, 1e-9);
            brent_min(&|x: f64| x * x, lo, hi, 1e-9);
            grid_golden_min(&|x: f64| x * x, lo, hi, 10, 1e-9);
        }
    }

    #[test]
    fn a_fired_token_stops_every_search_at_once() {
        use crate::cancel::{scope, Cancel};
        use std::cell::Cell;
        let calls = Cell::new(0);
        let f = |x: f64| {
            calls.set(calls.get() + 1);
            x * x
        };
        let token = Cancel::new();
        token.cancel();
        scope(&token, || {
            golden_min(&f, -1.0, 1.0, 1e-12);
            brent_min(&f, -1.0, 1.0, 1e-12);
            grid_golden_min(&f, -1.0, 1.0, 1000, 1e-12);
        });
        assert!(calls.get() < 10, "{} evaluations after cancel", calls.get());
    }
}
