"""Every law family the planners use is listed with its source and domain: loss laws (both
forms, Farseer included), parallel-scaling laws (ParScale), RAG allocation models and the
algorithmic-progress table, in ``scaleplan catalog laws``, ``scaleplan catalog --json``, the
Python API's ``scaleplan.catalog()`` and gRPC ListCatalog (with the client's ``catalog()``)."""

from __future__ import annotations

import json

import grpc
import scaleplan as sp
from cli_support import csv_rows, ok
from grpc_support import TIMEOUT_S, ServerThread, stub
from scaleplan.plan import ALGORITHMIC_PROGRESS, MAX_START_IN_MONTHS
from scaleplan.v1 import planner_pb2

PARSCALE = ("parscale2025-pile", "parscale2025-stack")


def _line(text: str, name: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(name + " "))


def test_catalog_laws_lists_every_family_with_source_and_domain() -> None:
    out = ok("catalog", "laws").stdout
    # Loss laws, Farseer's form with its domain bound (the largest validated model).
    farseer = _line(out, "farseer2025")
    assert "arXiv:2506.10972" in farseer and "up to 25.1 G" in farseer
    assert "arXiv:2203.15556" in _line(out, "hoffmann2022")
    # Parallel-scaling laws: their streams, sizes fitted, data and paper.
    for name in PARSCALE:
        law = sp.parscale_law(name)
        line = _line(out, name)
        assert "1,2,4,8" in line and "536 M to 4.41 G" in line
        assert law.domain in line and "arXiv:2505.10475" in line
    # RAG: the metric's range (sigma's) and the paper.
    rag = _line(out, "yue2024-gemini-flash")
    assert "(-2.18, 1.12)" in rag and "arXiv:2410.04343" in rag
    # Algorithmic progress: the halving time, its interval, the start offsets it takes.
    progress = _line(out, "ho2024")
    assert "8.44 months" in progress and "4.52 to 14.27 months" in progress
    assert "start in 0 to 120 months" in progress and "arXiv:2403.05812" in progress
    for title in ("laws:", "parscale:", "rag:", "progress:"):
        assert title in out


def test_catalog_json_holds_every_law_family() -> None:
    doc = json.loads(ok("catalog", "--json").stdout)
    assert [e["name"] for e in doc["parscale"]] == list(PARSCALE) == sp.catalog()["parscale"]
    for entry in doc["parscale"]:
        law = sp.parscale_law(entry["name"])
        assert entry["E"] == law.E and entry["k"] == law.k and entry["source"] == law.source
        assert entry["domain"] == law.domain and entry["params_max"] == law.params_max
    (progress,) = doc["progress"]
    assert progress["halving_months"] == 8.44 and progress["max_start_in_months"] == 120
    assert "arXiv:2403.05812" in progress["source"]
    (rag,) = doc["rag"]
    assert rag["sigma"]["offset"] == -2.18 and "arXiv:2410.04343" in rag["source"]
    farseer = next(e for e in doc["laws"] if e["name"] == "farseer2025")
    assert farseer["fitted"]["params_max"] == 2.51e10 and farseer["units"] == "bits_per_char"
    # One kind alone, and its CSV.
    only = json.loads(ok("catalog", "parscale", "--json").stdout)
    assert list(only) == ["parscale"] and only["parscale"] == doc["parscale"]
    rows = csv_rows(ok("catalog", "parscale", "--csv").stdout)
    assert [float(r["alpha"]) for r in rows] == [sp.parscale_law(n).alpha for n in PARSCALE]


def test_list_catalog_carries_every_law_family(server: ServerThread) -> None:
    with grpc.insecure_channel(server.target) as channel:
        listing = stub(channel).ListCatalog(planner_pb2.ListCatalogRequest(), timeout=TIMEOUT_S)
    assert [p.name for p in listing.parscale_laws] == list(PARSCALE)
    for message in listing.parscale_laws:
        law = sp.parscale_law(message.name)
        assert (message.irreducible_loss, message.params_coefficient) == (law.E, law.A)
        assert (message.params_exponent, message.streams_coefficient) == (law.alpha, law.k)
        assert (message.params_min, message.params_max) == (law.params_min, law.params_max)
        assert list(message.streams) == [1, 2, 4, 8]
        assert message.source == law.source and message.domain == law.domain
    progress = listing.algorithmic_progress
    assert progress.name == ALGORITHMIC_PROGRESS["name"] == "ho2024"
    assert progress.halving_months == 8.44
    assert (progress.halving_months_fast, progress.halving_months_slow) == (4.52, 14.27)
    assert progress.max_start_in_months == MAX_START_IN_MONTHS == 120
    assert "arXiv:2403.05812" in progress.source
    assert [r.name for r in listing.rag_laws] == ["yue2024-gemini-flash"]
    farseer = next(law for law in listing.laws if law.name == "farseer2025")
    assert farseer.HasField("farseer") and farseer.fitted.params_max == 2.51e10
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as client:
        assert client.catalog() == sp.catalog()
