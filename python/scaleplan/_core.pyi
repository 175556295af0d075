# Hand-written stub of the Rust extension; `python -m mypy.stubtest scaleplan._core` keeps it true.
from os import PathLike
from typing import Any, final

import numpy as np
import numpy.typing as npt

__version__: str
INFERENCE_COST_FIELDS: list[str]
TRAINING_COST_FIELDS: list[str]
TRAIN_FLOPS_PER_PARAM_TOKEN: float
BINDINGS: list[str]
TRAINING_PLAN_FIELDS: list[str]
TEST_TIME_FIELDS: list[str]
JOINT_FIELDS: list[str]
LIFETIME_PLAN_FIELDS: list[str]
CONSTRAINTS: list[str]
EXTRAPOLATION_VARIABLES: list[str]
SCHEMAS: dict[str, list[tuple[str, str, str, bool]]]
"""Every result's fields as (name, unit, description, is a column), in the order of its
dataclass, keyed by the class name (rust/python/src/schema.rs)."""
FIT_MAX_BOOTSTRAP: int
FIT_MAX_RUNS: int
MAX_SAMPLES: int
MAX_MAJORITY_SAMPLES: int
MEASURED_TABLE_SAMPLES: int
MAX_SEARCH_STEPS: int
MAX_START_IN_MONTHS: float
MAX_STREAMS: int
ALGORITHMIC_PROGRESS: dict[str, Any]
"""The halving time plan_training's start offset uses (Ho et al. 2024): name, source,
halving_months, halving_months_slow, halving_months_fast (rust/core/src/laws/progress.rs)."""

@final
class CancelToken:
    def __new__(cls, timeout_s: float | None = None) -> CancelToken: ...
    def cancel(self) -> None: ...
    @property
    def cancelled(self) -> bool: ...
    @property
    def expired(self) -> bool: ...

__all__ = [
    "AGENT_FIELDS",
    "ALGORITHMIC_PROGRESS",
    "BINDINGS",
    "CALIBRATE_MAX_BOOTSTRAP",
    "CALIBRATE_MAX_RUNS",
    "CONSTRAINTS",
    "EXTRAPOLATION_VARIABLES",
    "FIT_ACCURACY_MAX_BOOTSTRAP",
    "FIT_ACCURACY_MAX_ROWS",
    "FIT_MAX_BOOTSTRAP",
    "FIT_MAX_RUNS",
    "INFERENCE_COST_FIELDS",
    "JOINT_FIELDS",
    "LIFETIME_PLAN_FIELDS",
    "MAX_AGENT_ROWS",
    "MAX_AGENT_TOOLS",
    "MAX_MAJORITY_SAMPLES",
    "MAX_RAG_DOCUMENTS",
    "MAX_RAG_ITERATIONS",
    "MAX_RAG_SHOTS",
    "MAX_SAMPLES",
    "MAX_SEARCH_STEPS",
    "MAX_START_IN_MONTHS",
    "MAX_STREAMS",
    "MEASURED_TABLE_SAMPLES",
    "RAG_DOC_TOKEN_CAP",
    "RAG_PLAN_FIELDS",
    "SCHEMAS",
    "TEST_TIME_FIELDS",
    "TRAINING_COST_FIELDS",
    "TRAINING_PLAN_FIELDS",
    "TRAIN_FLOPS_PER_PARAM_TOKEN",
    "AccuracySource",
    "AgentProblem",
    "CancelToken",
    "Catalog",
    "CostModelPricing",
    "JointProblem",
    "NativeHardware",
    "NativeLaw",
    "NativeModel",
    "NativeRagLaw",
    "Serving",
    "TestTimeProblem",
    "__version__",
    "beta_binomial_pass_at_k",
    "calibrate",
    "csv_lines",
    "fit_accuracy",
    "fit_law",
    "fit_objective",
    "fit_rag",
    "inference_cost",
    "inference_cost_one",
    "plan_lifetime",
    "plan_rag",
    "plan_training",
    "rag_law",
    "rag_law_names",
    "training_cost",
]
# Plans under uncertainty.
__all__ += ["MAX_LAW_SAMPLES", "MAX_SAMPLE_PLANS", "losses_at"]
__all__ += ["AccuracySamples", "losses_limited_at"]

# Parallel streams (ParScale, rust/python/src/parscale.rs).
__all__ += [
    "PARSCALE_MAX_PARAMS",
    "PARSCALE_MIN_PARAMS",
    "PARSCALE_PLAN_FIELDS",
    "PARSCALE_STREAMS",
    "NativeParScaleLaw",
    "parscale_law",
    "parscale_law_names",
    "plan_parscale",
]
PARSCALE_PLAN_FIELDS: list[str]
PARSCALE_STREAMS: list[int]
PARSCALE_MIN_PARAMS: float
PARSCALE_MAX_PARAMS: float

@final
class NativeParScaleLaw:
    @staticmethod
    def from_json(text: str) -> NativeParScaleLaw: ...
    def to_json(self) -> str: ...
    def loss(
        self, params: npt.NDArray[np.float64], streams: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]: ...
    def params_for(
        self, loss: npt.NDArray[np.float64], streams: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]: ...

def parscale_law(catalog: Catalog, name: str) -> NativeParScaleLaw: ...
def parscale_law_names(catalog: Catalog) -> list[str]: ...
def plan_parscale(
    law: NativeParScaleLaw,
    goal: str,
    values: npt.NDArray[np.float64],
    prompt_tokens: npt.NDArray[np.float64],
    gen_tokens: npt.NDArray[np.float64],
    samples: npt.NDArray[np.float64],
    *,
    catalog: Catalog,
    family: str,
    hardware: NativeHardware,
    attention: str,
    kv_budget: float | None,
    block_size: float | None,
    serving: Serving,
    streams: list[float],
    objective: str,
    max_latency_s: float | None,
    cancel: CancelToken | None = None,
) -> list[npt.NDArray[np.float64]]: ...

@final
class Serving:
    def __new__(
        cls,
        *,
        batch: str,
        batch_size: float | None,
        prefix_sharing: bool,
        prefill: bool,
        time_model: str,
        weight_dtype: str,
        kv_dtype: str,
        compute_dtype: str,
        gpus: float,
        prefill_mode: str = "per_query",
    ) -> Serving: ...

@final
class NativeModel:
    @staticmethod
    def from_json(text: str) -> NativeModel: ...
    @staticmethod
    def from_hf_config(name: str, config_json: str) -> NativeModel: ...
    def to_json(self) -> str: ...
    def to_toml(self) -> str: ...

@final
class NativeHardware:
    @staticmethod
    def from_json(text: str) -> NativeHardware: ...
    def to_json(self) -> str: ...
    def to_toml(self) -> str: ...

@final
class NativeLaw:
    @staticmethod
    def from_json(text: str) -> NativeLaw: ...
    def to_json(self) -> str: ...
    def loss(
        self,
        params: npt.NDArray[np.float64],
        tokens: npt.NDArray[np.float64],
        unique_tokens: float | None = None,
        r_star: float | None = None,
    ) -> npt.NDArray[np.float64]: ...
    def error_rate(self, loss: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | None: ...

@final
class Catalog:
    @staticmethod
    def from_env() -> Catalog: ...
    @staticmethod
    def shipped() -> Catalog: ...
    def add_file(self, path: str | PathLike[str]) -> None: ...
    def add_toml(self, text: str, file: str = "<string>") -> None: ...
    def copy(self) -> Catalog: ...
    def register_model(self, model: NativeModel) -> None: ...
    def to_toml(self) -> str: ...
    def model(self, name: str) -> NativeModel: ...
    def hardware(self, name: str) -> NativeHardware: ...
    def family(self, name: str) -> list[str]: ...
    def family_json(self, name: str) -> str: ...
    def hardware_names(self) -> list[str]: ...
    def model_names(self) -> list[str]: ...
    def family_names(self) -> list[str]: ...
    def law(self, name: str) -> NativeLaw: ...
    def law_names(self) -> list[str]: ...
    def accuracy_names(self) -> list[str]: ...
    def accuracy_json(self, name: str) -> str: ...

def inference_cost(
    model: NativeModel,
    hardware: NativeHardware,
    prompt_tokens: npt.NDArray[np.float64],
    gen_tokens: npt.NDArray[np.float64],
    samples: npt.NDArray[np.float64],
    kv_budget: npt.NDArray[np.float64] | None,
    block_size: npt.NDArray[np.float64] | None,
    batch_size: npt.NDArray[np.float64] | None,
    *,
    attention: str,
    serving: Serving,
    fields: list[int] | None = None,
    out: object | None = None,
    streams: float = 1.0,
) -> npt.NDArray[np.float64]: ...
def inference_cost_one(
    model: NativeModel,
    hardware: NativeHardware,
    prompt_tokens: float,
    gen_tokens: float,
    samples: float,
    kv_budget: float | None,
    block_size: float | None,
    *,
    attention: str,
    serving: Serving,
    streams: float = 1.0,
) -> list[float]: ...
def training_cost(
    model: NativeModel,
    hardware: NativeHardware,
    tokens: npt.NDArray[np.float64],
    *,
    gpus: float,
    mfu: float | None,
    seq_len: float | None,
    compute_dtype: str,
) -> tuple[list[npt.NDArray[np.float64]], bool]: ...

@final
class CostModelPricing:
    def __new__(
        cls,
        catalog: Catalog,
        family: str,
        hardware: NativeHardware,
        *,
        attention: str,
        kv_budget: float | None,
        block_size: float | None,
        serving: Serving,
    ) -> CostModelPricing: ...

def plan_training(
    law: NativeLaw,
    goal: str,
    values: npt.NDArray[np.float64],
    *,
    unique_tokens: float | None,
    r_star: float | None,
    start_in_months: float = 0.0,
    cancel: CancelToken | None = None,
    law_samples: npt.NDArray[np.float64] | None = None,
) -> list[npt.NDArray[np.float64]]: ...
def plan_lifetime(
    law: NativeLaw,
    goal: str,
    values: npt.NDArray[np.float64],
    queries: npt.NDArray[np.float64],
    prompt_tokens: npt.NDArray[np.float64],
    gen_tokens: npt.NDArray[np.float64],
    samples: npt.NDArray[np.float64],
    *,
    pricing: CostModelPricing | None,
    unit: str,
    train_hardware: NativeHardware | None,
    train_mfu: float | None,
    train_usd_per_hour: float | None,
    infer_usd_per_hour: float | None,
    unique_tokens: float | None,
    r_star: float | None,
    min_params: float | None,
    max_params: float | None,
    auto_gpus: bool = False,
    cancel: CancelToken | None = None,
    law_samples: npt.NDArray[np.float64] | None = None,
) -> list[npt.NDArray[np.float64]]: ...

@final
class AccuracySource:
    @staticmethod
    def preset(catalog: Catalog, name: str, aggregator: str) -> AccuracySource: ...
    @staticmethod
    def measured(
        model: list[str], gen_tokens: list[float], problem: list[str], n: list[int], c: list[int]
    ) -> AccuracySource: ...
    @staticmethod
    def fitted(
        model: list[str],
        gen_tokens: list[float],
        a: list[float],
        b: list[float],
        eval_samples: list[int],
    ) -> AccuracySource: ...
    def models(self, catalog: Catalog) -> list[str]: ...
    def task(self) -> str | None: ...
    def aggregator(self) -> str: ...
    def accuracy(
        self,
        catalog: Catalog,
        model: str,
        gen_tokens: npt.NDArray[np.float64],
        samples: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]: ...

@final
class TestTimeProblem:
    def __new__(
        cls,
        catalog: Catalog,
        models: list[str],
        accuracy: AccuracySource,
        hardware: NativeHardware,
        *,
        unit: str,
        prompt_tokens: float,
        k_max: int,
        attention: list[tuple[str, float | None, float | None]],
        latency_slo_s: float | None,
        min_gen_tokens: float,
        max_gen_tokens: float | None,
        usd_per_hour: float | None,
        serving: Serving,
    ) -> TestTimeProblem: ...
    def solve(
        self, budgets: npt.NDArray[np.float64], *, cancel: CancelToken | None = None
    ) -> tuple[list[npt.NDArray[np.float64]], npt.NDArray[np.float64]]: ...
    def solve_samples(
        self,
        budgets: npt.NDArray[np.float64],
        accuracy_samples: AccuracySamples,
        *,
        cancel: CancelToken | None = None,
    ) -> list[npt.NDArray[np.float64]]:
        """The plans of every budget under each accuracy sample, sample-major."""
    def solve_hardware_samples(
        self,
        budgets: npt.NDArray[np.float64],
        hardware_samples: npt.NDArray[np.float64],
        *,
        cancel: CancelToken | None = None,
    ) -> list[npt.NDArray[np.float64]]:
        """The plans of every budget on each calibration sample's hardware, sample-major."""
    def latency_at(
        self,
        hardware_samples: npt.NDArray[np.float64],
        candidate: npt.NDArray[np.float64],
        gen_tokens: npt.NDArray[np.float64],
        samples: npt.NDArray[np.float64],
        attention: npt.NDArray[np.float64],
        *,
        cancel: CancelToken | None = None,
    ) -> npt.NDArray[np.float64]:
        """Latency of fixed plans on each calibration sample's hardware, sample-major."""
    def accuracy_at(
        self,
        accuracy_samples: AccuracySamples,
        candidate: npt.NDArray[np.float64],
        gen_tokens: npt.NDArray[np.float64],
        samples: npt.NDArray[np.float64],
        *,
        cancel: CancelToken | None = None,
    ) -> npt.NDArray[np.float64]:
        """Accuracy of fixed plans under each accuracy sample, sample-major."""

@final
class JointProblem:
    def __new__(
        cls,
        catalog: Catalog,
        law: NativeLaw,
        family: str,
        hardware: NativeHardware,
        *,
        unit: str,
        queries: float,
        prompt_tokens: float,
        half_tokens: float,
        hill: float,
        kappa: float,
        k_max: int,
        attention: list[tuple[str, float | None, float | None]],
        min_gen_tokens: float,
        max_gen_tokens: float,
        min_params: float | None,
        max_params: float | None,
        latency_slo_s: float | None,
        unique_tokens: float | None,
        r_star: float | None,
        train_mfu: float | None,
        train_usd_per_hour: float | None,
        infer_usd_per_hour: float | None,
        serving: Serving,
        auto_gpus: bool = False,
    ) -> JointProblem: ...
    def evaluate(
        self,
        budget: float,
        params: npt.NDArray[np.float64],
        samples: npt.NDArray[np.float64],
        gen_tokens: npt.NDArray[np.float64],
        attention: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]: ...
    def solve(
        self,
        goal: str,
        values: npt.NDArray[np.float64],
        *,
        cancel: CancelToken | None = None,
        law_samples: npt.NDArray[np.float64] | None = None,
    ) -> list[npt.NDArray[np.float64]]: ...
    def accuracy_at(
        self,
        law_samples: npt.NDArray[np.float64],
        budgets: npt.NDArray[np.float64],
        params: npt.NDArray[np.float64],
        samples: npt.NDArray[np.float64],
        gen_tokens: npt.NDArray[np.float64],
        attention: npt.NDArray[np.float64],
        gpus: npt.NDArray[np.float64],
        *,
        cancel: CancelToken | None = None,
    ) -> npt.NDArray[np.float64]: ...

CALIBRATE_MAX_BOOTSTRAP: int
CALIBRATE_MAX_RUNS: int

def calibrate(
    hardware: NativeHardware,
    models: list[NativeModel],
    batch: npt.NDArray[np.float64],
    prompt_tokens: npt.NDArray[np.float64],
    gen_tokens: npt.NDArray[np.float64],
    gpus: npt.NDArray[np.float64],
    ttft_s: npt.NDArray[np.float64],
    tpot_s: npt.NDArray[np.float64],
    *,
    name: str | None = None,
    bootstrap: int = 0,
    seed: int = 0,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Keys: hardware (NativeHardware), names, parameters, stderr, at_bound (lists of 3),
    ttft_predicted_s, tpot_predicted_s, ttft_relative, tpot_relative (arrays),
    prefill_compute_bound (list), rms_relative_error, n_runs, samples (array, one row of 3 per
    bootstrap refit), bootstrap_failed."""

def fit_law(
    params: npt.NDArray[np.float64],
    tokens: npt.NDArray[np.float64],
    loss: npt.NDArray[np.float64],
    *,
    form: str,
    delta: float,
    bootstrap: int,
    seed: int,
    unique_tokens: float | None,
    starts: list[list[float]] | None = None,
    cancel: CancelToken | None = None,
) -> dict[str, Any]:
    """Keys: law (NativeLaw | None), params, theta (lists of 5), covariance (5x5 array | None),
    covariance_source, samples (bootstrap x 5 array), bootstrap_unconverged, residuals,
    n_points, objective, converged, message."""

def fit_objective(
    params: npt.NDArray[np.float64],
    tokens: npt.NDArray[np.float64],
    loss: npt.NDArray[np.float64],
    delta: float,
    theta: tuple[float, float, float, float, float] | list[float],
) -> tuple[float, list[float]]: ...
def csv_lines(columns: list[object], n: int) -> bytes: ...

# Plans under uncertainty (rust/python/src/uncertainty.rs, docs/uncertainty.md).
MAX_LAW_SAMPLES: int
MAX_SAMPLE_PLANS: int

def losses_at(
    law: NativeLaw,
    law_samples: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    effective_tokens: npt.NDArray[np.float64],
    *,
    cancel: CancelToken | None = None,
) -> npt.NDArray[np.float64]:
    """Loss of each plan (params, effective_tokens) under each sample's law, sample-major."""

def losses_limited_at(
    law: NativeLaw,
    law_samples: npt.NDArray[np.float64],
    params: npt.NDArray[np.float64],
    tokens: npt.NDArray[np.float64],
    unique_tokens: float,
    r_star: float | None = None,
    *,
    cancel: CancelToken | None = None,
) -> npt.NDArray[np.float64]:
    """Loss of each plan (params, tokens) under each sample's law with a data limit."""

@final
class AccuracySamples:
    """An accuracy fit's bootstrap samples: (a, b) per fitted (model, length) per sample."""

    def __new__(
        cls,
        models: list[str],
        gen_tokens: list[float],
        eval_samples: list[int],
        samples: npt.NDArray[np.float64],
    ) -> AccuracySamples: ...
    def __len__(self) -> int: ...

# ---- accuracy fit (rust/python/src/fit_accuracy.rs) ----
FIT_ACCURACY_MAX_ROWS: int
FIT_ACCURACY_MAX_BOOTSTRAP: int

def fit_accuracy(
    model: list[str],
    gen_tokens: list[float],
    problem: list[str],
    n: list[int],
    c: list[int],
    *,
    bootstrap: int,
    seed: int,
    cancel: CancelToken | None = None,
) -> list[dict[str, Any]]:
    """One dict per (model, gen_tokens), by model then length. Keys: model, gen_tokens,
    problems, eval_samples, pass1, a, b, log_likelihood (None without a fit), converged,
    message, samples (resamples x 2 array), bootstrap_failed."""

def beta_binomial_pass_at_k(
    a: npt.NDArray[np.float64], b: npt.NDArray[np.float64], k: npt.NDArray[np.float64]
) -> npt.NDArray[np.float64]: ...

# ---- agent planner (rust/python/src/agent.rs) ----
AGENT_FIELDS: list[str]
MAX_AGENT_ROWS: int
MAX_AGENT_TOOLS: int

@final
class AgentProblem:
    def __new__(
        cls,
        catalog: Catalog,
        models: list[str],
        hardware: NativeHardware,
        *,
        model: list[int],
        tool_budget: list[float],
        accuracy: list[float],
        calls: list[list[float]],
        input_tokens: list[float],
        output_tokens: list[float],
        turns: list[float],
        unit: str,
        tool_prices: list[float],
        usd_per_hour: float | None,
        serving: Serving,
    ) -> AgentProblem: ...
    def solve(
        self, goal: str, values: npt.NDArray[np.float64], *, cancel: CancelToken | None = None
    ) -> list[npt.NDArray[np.float64]]: ...

# RAG (rust/python/src/rag.rs; docs/planning.md#rag).
RAG_PLAN_FIELDS: list[str]
MAX_RAG_DOCUMENTS: int
MAX_RAG_SHOTS: int
MAX_RAG_ITERATIONS: int
RAG_DOC_TOKEN_CAP: float

@final
class NativeRagLaw:
    @staticmethod
    def from_json(text: str) -> NativeRagLaw: ...
    def to_json(self) -> str: ...
    def metric(
        self,
        documents: npt.NDArray[np.float64],
        shots: npt.NDArray[np.float64],
        iterations: npt.NDArray[np.float64],
        i_doc: npt.NDArray[np.float64],
        i_shot: npt.NDArray[np.float64],
    ) -> npt.NDArray[np.float64]: ...

def rag_law(catalog: Catalog, name: str) -> NativeRagLaw: ...
def rag_law_names(catalog: Catalog) -> list[str]: ...
def plan_rag(
    law: NativeRagLaw,
    *,
    i_doc: npt.NDArray[np.float64],
    i_shot: npt.NDArray[np.float64],
    doc_tokens: float,
    question_tokens: float,
    answer_tokens: float,
    gen_tokens: float,
    max_documents: int,
    max_shots: int,
    max_iterations: int,
    context_budget_tokens: npt.NDArray[np.float64] | None,
    budget_eflops: npt.NDArray[np.float64] | None,
    latency_budget_s: npt.NDArray[np.float64] | None,
    model: NativeModel | None,
    hardware: NativeHardware | None,
    serving: Serving | None,
    cancel: CancelToken | None = None,
) -> list[npt.NDArray[np.float64]]:
    """One array per RAG_PLAN_FIELDS column, one entry per element of the equal-length inputs."""

def fit_rag(
    base: NativeRagLaw,
    documents: list[float],
    shots: list[float],
    iterations: list[float],
    i_doc: list[float],
    i_shot: list[float],
    metric: list[float],
    *,
    name: str,
    cancel: CancelToken | None = None,
) -> tuple[NativeRagLaw, npt.NDArray[np.float64], npt.NDArray[np.float64], float]:
    """(law, residuals, logit_residuals, rms)."""
