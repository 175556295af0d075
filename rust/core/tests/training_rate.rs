//! One conversion from training FLOPs to GPU-hours (docs/design.md#units): `training_cost` and
//! the lifetime and joint planners all run training at the hardware's peak for the plan's
//! compute dtype times the training MFU. Expected values are written out by hand from the
//! shipped h100-sxm entry (dense peaks: bf16 989.4e12, fp8 1978.9e12 FLOP/s; train_mfu 0.40).
mod common;

use common::{assert_close, toy_hardware, toy_model};
use scaleplan_core::cost::FamilyShapes;
use scaleplan_core::plan::*;
use scaleplan_core::*;

const H100_FP8: f64 = 1978.9e12;
const H100_BF16: f64 = 989.4e12;
const H100_MFU: f64 = 0.40;

fn h100() -> Hardware {
    Catalog::shipped().hardware("h100-sxm").unwrap().clone()
}

fn lifetime_options(hw: Hardware, dtype: Dtype) -> LifetimeOptions {
    let c = Catalog::shipped();
    LifetimeOptions {
        pricing: InferencePricing::CostModel {
            family: FamilyShapes::new(c, c.family("qwen3-dense").unwrap()).unwrap(),
            hardware: hw,
            options: InferenceOptions {
                batch: Batch::Max,
                compute_dtype: dtype,
                ..InferenceOptions::default()
            },
            attention: Attention::Dense,
        },
        unit: CostUnit::GpuHours,
        ..common::lifetime_two_n()
    }
}

fn demand() -> Demand {
    Demand {
        queries: 1e9,
        prompt_tokens: 512.0,
        gen_tokens: 1024.0,
        samples: 1.0,
    }
}

fn sardana() -> laws::LossLaw {
    Catalog::shipped().law("sardana2023").unwrap().clone()
}

#[test]
fn training_cost_runs_at_the_fp8_peak() {
    // 6 * 1000 params * 100 tokens = 600000 FLOPs at 2000 FLOP/s (fp8) * 0.5 MFU: 600 s.
    let hw = Hardware {
        peak_flops_fp8: Some(2000.0),
        ..toy_hardware()
    };
    let opt = TrainingOptions {
        compute_dtype: Dtype::Fp8,
        ..TrainingOptions::default()
    };
    let c = cost::training_cost(&toy_model(), &hw, 100.0, &opt).unwrap();
    assert_eq!(c.flops, 600000.0);
    assert_close(c.gpu_hours, 600.0 / 3600.0, 1e-15);
}

#[test]
fn lifetime_gpu_hours_price_training_at_the_fp8_peak() {
    let l = sardana();
    let plan = plan_lifetime(
        &l,
        LifetimeGoal::TargetLoss(2.3),
        demand(),
        &lifetime_options(h100(), Dtype::Fp8),
    )
    .unwrap();
    assert!(plan.feasible);
    let flops = 6.0 * plan.params * plan.tokens;
    assert_close(plan.training_flops, flops, 1e-12);
    // Before the fix this was flops / (989.4e12 * 0.4 * 3600): twice as many GPU-hours.
    assert_close(
        plan.training_cost,
        flops / (H100_FP8 * H100_MFU * 3600.0),
        1e-12,
    );
    assert_close(
        plan.total_cost,
        plan.training_cost + plan.inference_cost,
        1e-12,
    );
}

#[test]
fn lifetime_bf16_keeps_the_bf16_peak() {
    let plan = plan_lifetime(
        &sardana(),
        LifetimeGoal::TargetLoss(2.3),
        demand(),
        &lifetime_options(h100(), Dtype::Bf16),
    )
    .unwrap();
    let flops = 6.0 * plan.params * plan.tokens;
    assert_close(
        plan.training_cost,
        flops / (H100_BF16 * H100_MFU * 3600.0),
        1e-12,
    );
}

#[test]
fn lifetime_budget_spends_the_rest_at_the_fp8_peak() {
    let budget = 1e6; // GPU-hours
    let plan = plan_lifetime(
        &sardana(),
        LifetimeGoal::Budget(budget),
        demand(),
        &lifetime_options(h100(), Dtype::Fp8),
    )
    .unwrap();
    assert!(plan.feasible);
    // D = (budget - inference) GPU-hours * 3600 s * 1978.9e12 FLOP/s * 0.4 / (6 N)
    let tokens =
        (budget - plan.inference_cost) * 3600.0 * H100_FP8 * H100_MFU / (6.0 * plan.params);
    assert_close(plan.tokens, tokens, 1e-9);
}

#[test]
fn fp8_training_on_hardware_without_an_fp8_peak_names_the_dtype() {
    let a100 = Catalog::shipped().hardware("a100-80gb").unwrap().clone();
    let err = plan_lifetime(
        &sardana(),
        LifetimeGoal::TargetLoss(2.3),
        demand(),
        &lifetime_options(a100, Dtype::Fp8),
    )
    .unwrap_err();
    assert!(err.to_string().contains("compute_dtype"), "{err}");
}

#[test]
fn joint_gpu_hours_train_at_the_fp8_peak() {
    let l = Catalog::shipped()
        .law("gadre2024-redpajama")
        .unwrap()
        .clone();
    let mut opt = common::joint_options(h100(), 1e6, 4, false);
    opt.inference.compute_dtype = Dtype::Fp8;
    let solver = JointSolver::new(&l, &opt).unwrap();
    let plan = solver.plan(1e5).unwrap();
    assert!(plan.feasible);
    // The training share of the budget buys D = hours * 3600 * 1978.9e12 * 0.4 / (6 N) tokens.
    let tokens = plan.training_cost * 3600.0 * H100_FP8 * H100_MFU / (6.0 * plan.params);
    assert_close(plan.tokens, tokens, 1e-9);
    assert_close(
        plan.total_cost,
        plan.training_cost + plan.inference_cost,
        1e-9,
    );
}
