//! Time per phase of the joint and test-time solvers on the problems of
//! `benches/bench_testtime.py`, without Python in the loop (min of `REPEATS` runs; run with
//! `cargo run --release -p scaleplan-core --example solver_profile`). The machine may be
//! shared: the minimum is the least disturbed run.
use scaleplan_core::catalog::Catalog;
use scaleplan_core::cost::{Attention, Batch, FamilyShapes, InferenceOptions};
use scaleplan_core::plan::{
    BudgetUnit, Candidate, CostUnit, JointOptions, JointSolver, TestTimeOptions, TestTimeSolver,
};
use scaleplan_core::testtime::{Aggregator, Curve};
use std::time::Instant;

const REPEATS: usize = 5;

fn min_time<T>(mut f: impl FnMut() -> T) -> (f64, T) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..REPEATS {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed().as_secs_f64());
        out = Some(v);
    }
    (best, out.expect("at least one run"))
}

fn main() {
    let c = Catalog::shipped();
    let law = c.law("gadre2024-redpajama").unwrap().clone();
    let joint = JointOptions {
        family: FamilyShapes::new(c, c.family("qwen3-dense").unwrap()).unwrap(),
        hardware: c.hardware("h100-sxm").unwrap().clone(),
        inference: InferenceOptions {
            batch: Batch::Max,
            ..InferenceOptions::default()
        },
        attention: vec![Attention::Dense],
        unit: CostUnit::GpuHours,
        queries: 1e8,
        prompt_tokens: 128.0,
        half_tokens: 4096.0,
        hill: 1.5,
        kappa: 1.0,
        max_samples: 16,
        min_gen_tokens: 256.0,
        max_gen_tokens: 32768.0,
        min_params: None,
        max_params: None,
        latency_slo_s: None,
        data: None,
        train_mfu: None,
        train_usd_per_hour: None,
        infer_usd_per_hour: None,
        auto_gpus: true,
    };
    let which = std::env::args().nth(1).unwrap_or_default();
    let solver = JointSolver::new(&law, &joint).unwrap();
    let reference = JointSolver::new(&law, &joint).unwrap().reference();
    for budget in [1e4, 1e5, 1e6, 1e7] {
        if which == "testtime" {
            break;
        }
        let (t_plan, plan) = min_time(|| solver.plan(budget).unwrap());
        let (t_marginal, marginal) = min_time(|| solver.marginal(&plan).unwrap());
        println!(
            "joint {budget:e} GPU-h: plan {:.2} ms + marginal {:.2} ms; N {:.6e} k {} L {:.3} \
             g {} accuracy {:.15} marginal {:.6e} binding {:?}",
            t_plan * 1e3,
            t_marginal * 1e3,
            plan.params,
            plan.samples,
            plan.gen_tokens,
            plan.gpus,
            plan.accuracy,
            marginal,
            plan.binding
        );
        // The searches the planner used before (JointSolver::reference), same run.
        if std::env::var_os("NO_REFERENCE").is_some() {
            continue;
        }
        let (t_ref, old) = min_time(|| reference.plan(budget).unwrap());
        let (t_ref_marginal, old_marginal) = min_time(|| reference.marginal(&old).unwrap());
        println!(
            "  reference search: plan {:.2} ms + marginal {:.2} ms; accuracy {:.15} marginal \
             {old_marginal:.6e}; {:.1}x faster now",
            t_ref * 1e3,
            t_ref_marginal * 1e3,
            old.accuracy,
            (t_ref + t_ref_marginal) / (t_plan + t_marginal)
        );
    }

    if which == "joint" {
        return;
    }
    let preset = c.accuracy_preset("aime24-qwen3").unwrap();
    let candidates: Vec<Candidate> = [
        "qwen3-0.6b",
        "qwen3-1.7b",
        "qwen3-4b",
        "qwen3-8b",
        "qwen3-14b",
        "qwen3-32b",
    ]
    .iter()
    .map(|&m| Candidate {
        model: c.model(m).unwrap().clone(),
        curve: Curve::Beta(preset.curve(m, Aggregator::Coverage).unwrap()),
    })
    .collect();
    let options = TestTimeOptions {
        hardware: c.hardware("kinetics-b200").unwrap().clone(),
        inference: InferenceOptions {
            batch: Batch::Amortized,
            prefill: false,
            ..InferenceOptions::default()
        },
        prompt_tokens: 128.0,
        unit: BudgetUnit::Eflops,
        max_samples: 64,
        attention: vec![
            Attention::Dense,
            Attention::TopK { budget: 1024.0 },
            Attention::TopK { budget: 4096.0 },
            Attention::BlockTopK {
                budget: 2048.0,
                block_size: 16.0,
            },
        ],
        latency_slo_s: None,
        min_gen_tokens: 256.0,
        max_gen_tokens: None,
        usd_per_hour: None,
    };
    let tt = TestTimeSolver::new(&candidates, &options).unwrap();
    for budget in [1e13, 1e16, 1e19] {
        let (t, plan) = min_time(|| tt.plan(budget).unwrap());
        println!();
        println!(
            "test-time {budget:e} eFLOPs: {:.3} ms; model {} attention {} k {} L {:.3} accuracy {:.15}",
            t * 1e3,
            plan.candidate,
            plan.attention,
            plan.samples,
            plan.gen_tokens,
            plan.accuracy
        );
    }
    let budgets: Vec<f64> = (0..1000)
        .map(|i| 10f64.powf(13.0 + 6.0 * i as f64 / 999.0))
        .collect();
    let (t, checksum) = min_time(|| {
        budgets
            .iter()
            .map(|&b| tt.solve(b).unwrap().plan.accuracy)
            .filter(|a| a.is_finite())
            .sum::<f64>()
    });
    println!(
        "frontier, 1,000 budgets: {:.1} ms (sum of accuracies {checksum:.15})",
        t * 1e3
    );
}
