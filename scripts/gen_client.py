#!/usr/bin/env python3
"""Write python/scaleplan/grpc/_remote.py: the typed methods of :class:`scaleplan.Client`,
derived from the signatures of the façade functions they call on the server.

Each method takes the façade function's parameters (names, annotations and defaults read with
``inspect``), less the ones local to the process (``catalog``, ``cancel``, ``max_points``),
plus the client's own (``timeout_s`` everywhere, ``chunk_size`` for frontiers); its body hands
its arguments to ``Client._call``. A façade function that forwards ``**kwargs`` to another
(``plan_test_time`` to ``frontier_test_time``) takes that one's parameters too. So the client
cannot drift from the façade: ``scripts/gen_client.py --check`` (run by the tests) fails when
the file is not what the façade gives, and ``scripts/gen_client.py`` rewrites it.

Usage: scripts/gen_client.py [--check]
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import re
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "python" / "scaleplan" / "grpc" / "_remote.py"
sys.path.insert(0, str(ROOT / "python"))

LOCAL = ("catalog", "cancel", "max_points", "fields", "out")
"""Façade parameters that only mean something in the caller's process (``fields`` and ``out``
of ``inference_cost`` select and place the local kernel's output rows; an RPC returns every
field)."""
TIMEOUT = "timeout_s: float | None = None"
CHUNK = "chunk_size: int = 0"
AccuracySource = "str | Accuracy | AccuracyFit | os.PathLike[str] | Sequence[Mapping[str, Any]]"


@dataclass(frozen=True)
class Method:
    api: str
    """module.function of the façade."""
    forwards: str | None = None
    """The façade function ``api`` passes its ``**kwargs`` to."""
    drop: tuple[str, ...] = ()
    """Parameters of ``forwards`` that ``api`` sets itself."""
    extra: tuple[str, ...] = ()
    """The client's own parameters besides timeout_s."""
    annotations: dict[str, str] = field(default_factory=dict)
    """Where the client accepts more than the façade (measured rows of an accuracy)."""


_ACCURACY = {"accuracy": AccuracySource}
METHODS = (
    Method("cost.inference_cost"),
    Method("sweep.iter_inference_cost_sweep"),
    Method("sweep.inference_cost_sweep"),
    Method("cost.training_cost"),
    Method("plan.plan_training"),
    Method("plan.plan_lifetime"),
    Method(
        "testtime.plan_test_time",
        "testtime.frontier_test_time",
        ("budgets", "unit"),
        annotations=_ACCURACY,
    ),
    Method("testtime.frontier_test_time", extra=(CHUNK,), annotations=_ACCURACY),
    Method("joint.plan_joint"),
    Method(
        "joint.frontier_joint", "joint.plan_joint", ("budget", "target_accuracy"), extra=(CHUNK,)
    ),
    Method("fit.fit_law"),
    Method("calibrate.calibrate"),
    Method("accuracy_fit.fit_accuracy"),
    # Parallel streams (ParScale).
    Method("parscale.plan_parscale"),
    Method("agent.plan_agent"),
    Method("rag.plan_rag"),
    Method("rag.fit_rag"),
)

_STDLIB = {
    "os": "import os",
    "Any": "from typing import Any",
    "Mapping": "from collections.abc import Mapping",
    "Sequence": "from collections.abc import Sequence",
}
"""Names an annotation of the client's own may use beyond its façade module's."""
_BUILTINS = {"str", "int", "float", "bool", "None", "tuple", "list", "dict", "bytes", "type"}
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
_STRING = re.compile(r"\"[^\"]*\"|'[^']*'")


def _function(path: str) -> Any:
    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(f"scaleplan.{module}"), name)


def _source_tree(module: str) -> ast.Module:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin is not None, module
    return ast.parse(Path(spec.origin).read_text())


def _import_of(module: str, name: str) -> str:
    """The import line that brings ``name`` (as used in ``module``) to where it is defined."""
    nodes = list(_source_tree(module).body)
    for node in list(nodes):  # also the imports under `if TYPE_CHECKING:`
        if isinstance(node, ast.If):
            nodes += node.body
    for node in nodes:
        if isinstance(node, ast.ClassDef | ast.FunctionDef) and node.name == name:
            return f"from {module} import {name}"
        targets = (
            node.targets
            if isinstance(node, ast.Assign)
            else [node.target]
            if isinstance(node, ast.AnnAssign)
            else []
        )
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return f"from {module} import {name}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    return f"import {alias.name}" + (f" as {alias.asname}" if alias.asname else "")
        if isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (alias.asname or alias.name) == name:
                    if node.module.startswith("scaleplan") and alias.asname is None:
                        return _import_of(node.module, alias.name)
                    rename = f" as {alias.asname}" if alias.asname else ""
                    return f"from {node.module} import {alias.name}{rename}"
    raise LookupError(f"{name} is not defined or imported in {module}")


def _names(annotation: str) -> set[str]:
    """The names an annotation needs in scope (``npt`` of ``npt.ArrayLike``)."""
    heads = {n.split(".")[0] for n in _NAME.findall(_STRING.sub("", annotation))}
    return heads - _BUILTINS


def _parameters(method: Method) -> tuple[list[inspect.Parameter], str, Any]:
    api = _function(method.api)
    signature = inspect.signature(api)
    params = [
        p
        for p in signature.parameters.values()
        if p.kind is not inspect.Parameter.VAR_KEYWORD and p.name not in LOCAL
    ]
    if method.forwards is not None:
        forwarded = inspect.signature(_function(method.forwards))
        own = {p.name for p in params}
        params += [
            p
            for p in forwarded.parameters.values()
            if p.name not in (*LOCAL, *method.drop) and p.name not in own
        ]
    return params, str(signature.return_annotation), api


def _render(method: Method, imports: set[str]) -> str:
    params, returns, api = _parameters(method)
    module = api.__module__
    if method.forwards is not None:
        module_of = {p.name: _function(method.forwards).__module__ for p in params}
        own = inspect.signature(api).parameters
        module_of.update({name: module for name in own})
    else:
        module_of = {p.name: module for p in params}
    parts, star = ["self"], False
    for p in params:
        annotation = method.annotations.get(p.name, str(p.annotation))
        if p.annotation is inspect.Parameter.empty:
            annotation = "Any"
        for name in _names(annotation):
            try:
                imports.add(_import_of(module_of[p.name], name))
            except LookupError:
                imports.add(_STDLIB[name])
        if p.kind is inspect.Parameter.KEYWORD_ONLY and not star:
            parts.append("*")
            star = True
        default = "" if p.default is inspect.Parameter.empty else f" = {p.default!r}"
        parts.append(f"{p.name}: {annotation}{default}")
    if not star:
        parts.append("*")
    parts += [*method.extra, TIMEOUT]
    for name in _names(returns):
        imports.add(_import_of(module, name))
    name = method.api.rsplit(".", 1)[1]
    summary = (inspect.getdoc(api) or "").split("\n\n", 1)[0].replace('"""', "'''")
    remote = (
        f"On the server: :func:`scaleplan.{name}`, the same arguments (catalog objects by "
        "name, scalars for the goals). ``timeout_s``: this call's deadline (default: the "
        "client's)."
    )
    if CHUNK in method.extra:
        remote += " ``chunk_size``: budgets per streamed message (0: the server's choice)."
    indent, opening = " " * 8, " " * 8 + '"' * 3
    first, second = (
        textwrap.fill(" ".join(text.split()), 97, initial_indent=start, subsequent_indent=indent)
        for text, start in ((summary, opening), (remote, indent))
    )
    doc = first.removeprefix(opening) + "\n\n" + second
    return (
        f"    def {name}({', '.join(parts)}) -> {returns}:\n"
        f'        """{doc}"""\n'
        f'        return cast("{returns}", self._call("{name}", locals()))\n'
    )


def generate() -> str:
    imports: set[str] = {"from typing import Any, cast"}
    methods = [_render(m, imports) for m in METHODS]
    imports.discard("from typing import Any")
    head = (
        '"""The methods of :class:`scaleplan.Client`, one per façade function, with its\n'
        "parameters. Generated by scripts/gen_client.py from the façade's signatures: do not\n"
        'edit; run the script after changing a façade signature (a test checks it)."""\n\n'
        "from __future__ import annotations\n\n"
        + "\n".join(sorted(imports))
        + "\n\n\nclass RemoteApi:\n"
        '    """The façade functions, run on a server (Client implements ``_call``)."""\n\n'
        "    def _call(self, api: str, arguments: dict[str, Any]) -> Any:\n"
        "        raise NotImplementedError\n\n"
    )
    return _format(head + "\n".join(methods))


def _format(source: str) -> str:
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    assert ruff is not None, "ruff is needed to format the generated file"
    for args in (["check", "--fix-only", "--quiet", "--select", "I,F401"], ["format"]):
        source = subprocess.run(
            [ruff, *args, "--stdin-filename", str(OUT), "-"],
            input=source,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        ).stdout
    return source


def main() -> int:
    text = generate()
    if "--check" in sys.argv[1:]:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT.relative_to(ROOT)} is stale: run scripts/gen_client.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
