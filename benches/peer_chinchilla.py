"""Fit the runs of a CSV (params, tokens, loss) with the `chinchilla` package (PyPI,
kyo-takano/chinchilla 0.2.0) and print one JSON object: its fitted E, A, B, alpha, beta and the
seconds its fit took. Run by benches/bench_fit.py with .venv-peers' Python (benches/
requirements-peers.txt), so the package's dependencies stay out of the project's environment.

Settings, chosen to match scaleplan's method as far as the package allows: the loss function
of Hoffmann et al. 2022 (Huber, delta 1e-3, on log loss: the package's `log_huber`), the
initialisation grid in the paper's log parametrisation (keys e, a, b) given as argv[2] (JSON),
`fit(parallel=False)` (one process: the benchmarks run on one core). The package optimises
with scipy's BFGS from every grid point (not L-BFGS from the best 32) in np.longdouble, and
offers no bootstrap."""

from __future__ import annotations

import functools
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from chinchilla import Chinchilla
from chinchilla._metrics import log_huber


def main() -> None:
    runs = pd.read_csv(sys.argv[1])
    grid = {k: tuple(v) for k, v in json.loads(sys.argv[2]).items()}
    with tempfile.TemporaryDirectory() as project:
        df = pd.DataFrame(
            {
                "C": 6.0 * runs.params * runs.tokens,
                "N": runs.params,
                "D": runs.tokens,
                "loss": runs.loss,
            }
        )
        df.to_csv(Path(project) / "df.csv", index=False)
        cc = Chinchilla(
            project_dir=project,
            param_grid=grid,
            loss_fn=functools.partial(log_huber, delta=1e-3),
            log_level=logging.ERROR,
        )
        cc.visualizer.optim = lambda *a, **k: None  # no plot files in the timing
        start, cpu = time.perf_counter(), time.process_time()
        cc.fit(parallel=False)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
        starts = int(np.prod([len(v) for v in grid.values()]))
        print(
            json.dumps(
                {"fit_s": seconds, "cpu_s": cpu, "params": cc.get_params(), "starts": starts}
            )
        )


if __name__ == "__main__":
    main()
