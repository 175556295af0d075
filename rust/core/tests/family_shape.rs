//! The smooth family rule (docs/cost-model.md, "Families"): members reproduced within the stated
//! tolerances, per-token attention quantities strictly increasing in N, no kinks, and plans
//! that move continuously with the budget instead of sticking to members.
mod common;

use proptest::prelude::*;
use scaleplan_core::cost::{CostShape, FamilyShapes};
use scaleplan_core::plan::*;
use scaleplan_core::*;

fn family(name: &str) -> FamilyShapes {
    let c = Catalog::shipped();
    FamilyShapes::new(c, c.family(name).unwrap()).unwrap()
}

/// Largest |fitted / catalog - 1| over a family's members, per quantity; the bounds stated in
/// docs/cost-model.md ("Families", member tolerances), rounded up.
struct Tolerance {
    layers: f64,
    query_heads: f64,
    kv_heads: f64,
    head_dim: f64,
    attention_dim: f64,
    kv_per_token: f64,
    total_params: f64,
    streamed_params: f64,
}

#[test]
fn members_are_reproduced_within_the_stated_tolerances() {
    let c = Catalog::shipped();
    let cases = [
        (
            "qwen3-dense",
            // 1.7B shares 0.6B's depth and heads and 4B shares 8B's, so the trend misses
            // them most: attention dim +39.6% at 1.7B, KV -16.7% at 32B. Streamed weights
            // -9.9% at 4B, whose Kinetics N (4.02e9) omits its tied head.
            Tolerance {
                layers: 0.17,
                query_heads: 0.29,
                kv_heads: 1e-12,
                head_dim: 1e-12,
                attention_dim: 0.40,
                kv_per_token: 0.17,
                total_params: 0.035,
                streamed_params: 0.10,
            },
        ),
        (
            "llama-3.1",
            Tolerance {
                layers: 0.10,
                query_heads: 0.055,
                kv_heads: 1e-12,
                head_dim: 1e-12,
                attention_dim: 0.055,
                kv_per_token: 0.10,
                total_params: 1e-4,
                streamed_params: 0.002,
            },
        ),
    ];
    for (name, tol) in cases {
        let f = family(name);
        for member in &c.family(name).unwrap().members {
            let m = c.model(member).unwrap();
            let (s, at, real) = (
                f.implied(m.flop_params),
                f.at(m.flop_params),
                m.cost_shape(),
            );
            let check = |what: &str, got: f64, want: f64, bound: f64| {
                let err = (got / want - 1.0).abs();
                assert!(
                    err <= bound,
                    "{member} {what}: {got} vs {want} ({err:.4} > {bound})"
                );
            };
            check("layers", s.layers, m.layers as f64, tol.layers);
            check(
                "query_heads",
                s.query_heads,
                m.query_heads as f64,
                tol.query_heads,
            );
            check("kv_heads", s.kv_heads, m.kv_heads as f64, tol.kv_heads);
            check("head_dim", s.head_dim, m.head_dim as f64, tol.head_dim);
            check(
                "attention_dim",
                at.attention_dim,
                real.attention_dim,
                tol.attention_dim,
            );
            check(
                "kv",
                at.kv_elems_per_token,
                real.kv_elems_per_token,
                tol.kv_per_token,
            );
            check(
                "total_params",
                at.total_params,
                real.total_params,
                tol.total_params,
            );
            check(
                "streamed_params",
                at.total_params - at.gathered_params,
                real.total_params - real.gathered_params,
                tol.streamed_params,
            );
            // N itself is priced exactly.
            assert_eq!(at.flop_params, m.flop_params);
        }
    }
}

/// On main, KV bytes per token were flat from 0.752e9 (Qwen3-0.6B) to 2.03e9 (Qwen3-1.7B),
/// 114,688 B at each (2 * 8 KV heads * 128 * 28 layers * 2 B), because both have 28 layers.
#[test]
fn kv_bytes_grow_between_the_two_smallest_qwen3_members() {
    let f = family("qwen3-dense");
    let kv = |n: f64| 2.0 * f.at(n).kv_elems_per_token;
    let (a, b, c) = (kv(0.752e9), kv(1.0e9), kv(2.03e9));
    assert!(a < b && b < c, "{a} {b} {c}");
    // l(N) = exp(-0.8964) * N^0.2013 (least squares over the six members), G = 8, d = 128:
    // 4096 B/token/layer * l -> 102,216 B at 0.752e9, 124,830 B at 2.03e9.
    common::assert_close(a, 102_216.0, 1e-4);
    common::assert_close(c, 124_830.1, 1e-4);
}

#[test]
fn attention_kv_and_weights_strictly_increase_over_a_wide_range() {
    for name in ["qwen3-dense", "llama-3.1"] {
        let f = family(name);
        let mut last = f.at(1e6);
        for i in 1..=20_000 {
            let n = (1e6f64.ln() + (1e13f64.ln() - 1e6f64.ln()) * i as f64 / 20_000.0).exp();
            let s = f.at(n);
            assert!(
                s.kv_elems_per_token > last.kv_elems_per_token,
                "{name} kv at {n:e}"
            );
            assert!(
                s.attention_dim > last.attention_dim,
                "{name} attention at {n:e}"
            );
            assert!(s.total_params > last.total_params, "{name} total at {n:e}");
            let streamed = |s: &CostShape| s.total_params - s.gathered_params;
            assert!(streamed(&s) > streamed(&last), "{name} streamed at {n:e}");
            assert!(s.total_params > 0.0 && s.total_params <= n * (1.0 + 1e-12));
            last = s;
        }
    }
}

type Quantity = fn(&CostShape) -> f64;

/// No kinks: the log-log slope of every priced quantity is continuous, in particular across
/// the members' sizes, where the piecewise rule on main changed slope.
#[test]
fn log_log_slopes_are_continuous_across_members() {
    for name in ["qwen3-dense", "llama-3.1"] {
        let f = family(name);
        let quantities: [(&str, Quantity); 4] = [
            ("kv", |s| s.kv_elems_per_token),
            ("attention", |s| s.attention_dim),
            ("total", |s| s.total_params),
            ("streamed", |s| s.total_params - s.gathered_params),
        ];
        for member in f.breakpoints() {
            let x = member.ln();
            let h = 1e-4;
            for (what, q) in quantities {
                let y = |x: f64| q(&f.at(x.exp())).ln();
                let left = (y(x) - y(x - h)) / h;
                let right = (y(x + h) - y(x)) / h;
                assert!(
                    (left - right).abs() < 1e-3,
                    "{name} {what} at {member:e}: slope {left} then {right}"
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn kv_and_attention_flops_increase_with_n(a in 6.0f64..13.0, b in 6.0f64..13.0) {
        prop_assume!((a - b).abs() > 1e-9);
        let (lo, hi) = if a < b { (a, b) } else { (b, a) };
        let f = family("qwen3-dense");
        let (s, t) = (f.at(10f64.powf(lo)), f.at(10f64.powf(hi)));
        prop_assert!(t.kv_elems_per_token > s.kv_elems_per_token);
        prop_assert!(t.attention_dim > s.attention_dim);
        // and the price of a query with them
        let hw = Catalog::shipped().hardware("kinetics-b200").unwrap();
        let q = InferenceQuery {
            prompt_tokens: 512.0,
            gen_tokens: 4096.0,
            samples: 1.0,
            attention: Attention::Dense,
        };
        let opt = InferenceOptions::default();
        let cs = Pricer::for_shape(s, hw, &opt).unwrap().price(&q).unwrap();
        let ct = Pricer::for_shape(t, hw, &opt).unwrap().price(&q).unwrap();
        prop_assert!(ct.kv_bytes > cs.kv_bytes && ct.eflops > cs.eflops);
    }
}

fn lifetime_options() -> LifetimeOptions {
    let c = Catalog::shipped();
    LifetimeOptions {
        pricing: InferencePricing::CostModel {
            family: family("qwen3-dense"),
            hardware: c.hardware("kinetics-b200").unwrap().clone(),
            options: InferenceOptions::default(),
            attention: Attention::Dense,
        },
        unit: CostUnit::Eflops,
        ..common::lifetime_two_n()
    }
}

/// The chosen N moves with the budget at every step of a fine sweep: never stuck on a member,
/// never jumping. A budget step of 1.3% (ln 0.0125) moves ln N by at most 0.05.
#[test]
fn lifetime_optimum_moves_continuously_with_the_budget() {
    let law = Catalog::shipped().law("sardana2023").unwrap().clone();
    let opt = lifetime_options();
    let demand = Demand {
        queries: 1e8,
        prompt_tokens: 512.0,
        gen_tokens: 1024.0,
        samples: 1.0,
    };
    let members = family("qwen3-dense").breakpoints();
    let steps = 400;
    let (lo, hi) = (2e22f64.ln(), 3e24f64.ln());
    let mut last: Option<LifetimePlan> = None;
    let mut near_member = 0;
    for i in 0..=steps {
        let budget = (lo + (hi - lo) * i as f64 / steps as f64).exp();
        let p = plan_lifetime(&law, LifetimeGoal::Budget(budget), demand, &opt).unwrap();
        assert!(p.feasible, "{budget:e}");
        if members.iter().any(|m| (p.params / m - 1.0).abs() < 1e-3) {
            near_member += 1;
        }
        if let Some(prev) = last {
            let step = (p.params / prev.params).ln();
            assert!(
                step > 0.0 && step < 0.05,
                "{budget:e}: N {:e} -> {:e}",
                prev.params,
                p.params
            );
            assert!(p.loss < prev.loss);
        }
        last = Some(p);
    }
    // N sweeps ln N from ~21.6 to ~24.8 (~0.008 per step) past 8.19e9, 14.77e9 and 32.76e9:
    // a smooth path passes within 0.1% of a member in a step or two, not a run of steps.
    assert!(
        near_member <= 2 * members.len(),
        "{near_member} plans sit on members"
    );
}

/// The joint planner's N also moves continuously (one sample, one attention: no discrete
/// choice to jump between) while it is inside the family's range.
#[test]
fn joint_optimum_moves_continuously_with_the_budget() {
    let c = Catalog::shipped();
    let law = c.law("gadre2024-redpajama").unwrap().clone();
    let opt = JointOptions {
        family: family("qwen3-dense"),
        ..common::joint_options(c.hardware("h100-sxm").unwrap().clone(), 1e8, 1, false)
    };
    let solver = JointSolver::new(&law, &opt).unwrap();
    let members = family("qwen3-dense").breakpoints();
    let (n_lo, n_hi) = (members[0], members[members.len() - 1]);
    let steps = 200;
    let (lo, hi) = (1e4f64.ln(), 1e8f64.ln());
    let mut last: Option<JointPlan> = None;
    let mut near_member = 0;
    let mut inside = 0;
    for i in 0..=steps {
        let budget = (lo + (hi - lo) * i as f64 / steps as f64).exp();
        let p = solver.plan(budget).unwrap();
        assert!(p.feasible, "{budget:e}");
        let interior = p.params > n_lo * (1.0 + 1e-6) && p.params < n_hi * (1.0 - 1e-6);
        if interior {
            inside += 1;
            if members.iter().any(|m| (p.params / m - 1.0).abs() < 1e-3) {
                near_member += 1;
            }
        }
        if let Some(prev) = last {
            let step = (p.params / prev.params).ln().abs();
            assert!(
                step < 0.1,
                "{budget:e}: N {:e} -> {:e}",
                prev.params,
                p.params
            );
            assert!(p.accuracy >= prev.accuracy - 1e-12);
        }
        last = Some(p);
    }
    assert!(
        inside > steps / 4,
        "only {inside} plans inside the family's range"
    );
    assert!(
        near_member <= 2 * members.len(),
        "{near_member} plans sit on members"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(40))]

    /// Continuity: a budget 0-2% larger moves ln N by at most 3x its own ln step (plus the
    /// solver's tolerance), and a target loss 0-1% lower raises the cost continuously.
    #[test]
    fn lifetime_plans_are_continuous_in_the_goal(x in 0.0f64..1.0, step in 1e-6f64..0.02) {
        let law = Catalog::shipped().law("sardana2023").unwrap().clone();
        let opt = lifetime_options();
        let demand = Demand { queries: 1e8, prompt_tokens: 512.0, gen_tokens: 1024.0, samples: 1.0 };
        let budget = (2e22f64.ln() + x * (3e24f64.ln() - 2e22f64.ln())).exp();
        let plan = |b: f64| plan_lifetime(&law, LifetimeGoal::Budget(b), demand, &opt).unwrap();
        let (a, b) = (plan(budget), plan(budget * (1.0 + step)));
        prop_assert!(a.feasible && b.feasible);
        let moved = (b.params / a.params).ln().abs();
        prop_assert!(moved <= 3.0 * step.ln_1p() + 1e-6, "{budget:e}: {moved} for {step}");

        let target = 2.05 + 0.3 * x;
        let cost = |t: f64| plan_lifetime(&law, LifetimeGoal::TargetLoss(t), demand, &opt).unwrap();
        let (c, d) = (cost(target), cost(target * (1.0 - step / 2.0)));
        prop_assert!(c.feasible && d.feasible);
        let rise = (d.total_cost / c.total_cost).ln();
        // The least cost is smooth in the target, so a lower target costs more by a bounded
        // multiple of the step; 40x is loose for these losses, far below a jump.
        prop_assert!(rise >= -1e-9 && rise <= 40.0 * step + 1e-6, "{target}: {rise} for {step}");
    }
}

/// A user family: two members are enough (fitted exactly), a table as large as N is refused,
/// and an all-untied family has u = 1 exactly (weights held = N).
#[test]
fn user_families_fit_or_say_why_not() {
    let mut c = Catalog::shipped().clone();
    c.add_toml(
        "mine.toml",
        r#"
[[family]]
name = "two-llamas"
members = ["llama-3.1-8b", "llama-3.1-70b"]
"#,
    )
    .unwrap();
    let f = FamilyShapes::new(&c, c.family("two-llamas").unwrap()).unwrap();
    // two points: the power laws pass through both members exactly
    for name in ["llama-3.1-8b", "llama-3.1-70b"] {
        let m = c.model(name).unwrap();
        let s = f.implied(m.flop_params);
        common::assert_close(s.layers, m.layers as f64, 1e-12);
        common::assert_close(s.query_heads, m.query_heads as f64, 1e-12);
        common::assert_close(f.at(m.flop_params).total_params, m.total_params, 1e-12);
    }
    assert_eq!(f.implied(3e10).untied, 1.0);
    // the catalog already refuses members of equal size; the rule refuses a member whose
    // embedding table is as large as its N (no room for a logistic share)
    c.add_toml(
        "tiny.toml",
        r#"
[[model]]
name = "tiny"
total_params = 8030261248
flop_params = 525336576
layers = 32
hidden_size = 4096
intermediate_size = 14336
query_heads = 32
kv_heads = 8
head_dim = 128
vocab_size = 128256
max_context = 131072
tied_embeddings = false

[[family]]
name = "tiny-first"
members = ["tiny", "llama-3.1-70b"]
"#,
    )
    .unwrap();
    let err = FamilyShapes::new(&c, c.family("tiny-first").unwrap()).unwrap_err();
    assert_eq!(err.field(), "family");
    assert!(err.to_string().contains("embedding table"), "{err}");
}
