"""scaleplan: how a compute budget should be split between model size, training tokens and
inference-time compute, with inference priced by compute and memory traffic (Kinetics)."""

from typing import TYPE_CHECKING

from scaleplan._core import __version__
from scaleplan.accuracy_fit import AccuracyFit, FittedAccuracy, PassAtK, fit_accuracy
from scaleplan.agent import AgentPlan, plan_agent
from scaleplan.calibrate import Calibration, calibrate
from scaleplan.cancel import CancelToken
from scaleplan.catalog import (
    Catalog,
    Family,
    Hardware,
    Model,
    Moe,
    catalog,
    default_catalog,
    family,
    hardware,
    load_catalog,
    model,
    register_model,
)
from scaleplan.cost import (
    INFERENCE_COST_FIELDS,
    InferenceCost,
    TrainingCost,
    inference_cost,
    training_cost,
)
from scaleplan.fit import LawFit, fit_law
from scaleplan.joint import JointPlan, frontier_joint, plan_joint
from scaleplan.laws import DEFAULT_LAW, ErrorLaw, Farseer, FittedRange, LossLaw, Repetition, law
from scaleplan.parscale import (
    ParScaleLaw,
    ParScalePlan,
    parscale_law,
    parscale_law_names,
    plan_parscale,
)
from scaleplan.plan import (
    Extrapolation,
    LifetimePlan,
    Plan,
    TrainingPlan,
    plan_lifetime,
    plan_training,
)
from scaleplan.provenance import Input as ProvenanceInput

# Provenance on every plan (docs/planning.md, "Provenance").
from scaleplan.provenance import Provenance
from scaleplan.rag import RagFit, RagLaw, RagPlan, RagSigma, fit_rag, plan_rag, rag_law
from scaleplan.serving import Attention, Serving, attention
from scaleplan.sweep import (
    SweepChunk,
    inference_cost_sweep,
    iter_inference_cost_record_batches,
    iter_inference_cost_sweep,
)
from scaleplan.testtime import (
    Accuracy,
    TestTimeFrontier,
    TestTimePlan,
    frontier_test_time,
    plan_test_time,
)

# Plans under uncertainty (docs/uncertainty.md).
from scaleplan.uncertainty import QUANTILES, Uncertainty

__all__ = [
    "DEFAULT_LAW",
    "INFERENCE_COST_FIELDS",
    "Accuracy",
    "AccuracyFit",
    "AgentPlan",
    "Attention",
    "Calibration",
    "CancelToken",
    "Catalog",
    "Client",
    "ErrorLaw",
    "Extrapolation",
    "Family",
    "Farseer",
    "FittedAccuracy",
    "FittedRange",
    "Hardware",
    "InferenceCost",
    "JointPlan",
    "LawFit",
    "LifetimePlan",
    "LossLaw",
    "Model",
    "Moe",
    "PassAtK",
    "Plan",
    "RagFit",
    "RagLaw",
    "RagPlan",
    "RagSigma",
    "Repetition",
    "Serving",
    "SweepChunk",
    "TestTimeFrontier",
    "TestTimePlan",
    "TrainingCost",
    "TrainingPlan",
    "__version__",
    "attention",
    "calibrate",
    "catalog",
    "default_catalog",
    "family",
    "fit_accuracy",
    "fit_law",
    "fit_rag",
    "frontier_joint",
    "frontier_test_time",
    "hardware",
    "inference_cost",
    "inference_cost_sweep",
    "iter_inference_cost_record_batches",
    "iter_inference_cost_sweep",
    "law",
    "load_catalog",
    "model",
    "plan_agent",
    "plan_joint",
    "plan_lifetime",
    "plan_rag",
    "plan_test_time",
    "plan_training",
    "rag_law",
    "register_model",
    "training_cost",
]
# Plans under uncertainty (docs/uncertainty.md).
__all__ += ["QUANTILES", "Uncertainty"]
# Parallel streams (ParScale).
__all__ += ["ParScaleLaw", "ParScalePlan", "parscale_law", "parscale_law_names", "plan_parscale"]
# Provenance on every plan (docs/planning.md, "Provenance").
__all__ += ["Provenance", "ProvenanceInput"]

if TYPE_CHECKING:
    from scaleplan.grpc.client import Client


def __getattr__(name: str) -> object:
    # The gRPC client imports grpc (about 0.1 s), so only when it is first used.
    if name == "Client":
        from scaleplan.grpc.client import Client

        return Client
    raise AttributeError(f"module 'scaleplan' has no attribute {name!r}")
