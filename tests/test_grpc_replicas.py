"""Replicas and processes: ``Client`` over several targets (gRPC round_robin, retries on
UNAVAILABLE), ``scaleplan serve --processes N`` (SO_REUSEPORT workers, labelled metrics, drain,
restart, no orphans). docs/server.md, "Several processes on one port"."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
import scaleplan as sp
from grpc_support import TIMEOUT_S, ServeProcess, wait_until
from scaleplan.errors import InvalidArgumentError
from scaleplan.grpc.client import channel_target
from scaleplan.grpc.server.processes import label_worker

COST = {"prompt_tokens": 512, "gen_tokens": 8192}


def metrics_url(p: ServeProcess) -> str:
    """The metrics URL the banner printed (after the ``listening on`` line)."""
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = p.lines.get(timeout=1)
        except queue.Empty:
            continue
        if m := re.search(r"metrics:\s+(\S+)", line):
            return m.group(1)
    raise AssertionError("no metrics line in the banner")


def scrape(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as response:
        return str(response.read().decode())


def handled(text: str, worker: str | None = None) -> int:
    """InferenceCost calls answered OK, in all or by one worker."""
    total = 0
    for line in text.splitlines():
        if (
            line.startswith("scaleplan_grpc_server_handled_total")
            and ('grpc_method="InferenceCost"' in line and 'grpc_code="OK"' in line)
            and (worker is None or f'worker="{worker}"' in line)
        ):
            total += int(line.rsplit(" ", 1)[1])
    return total


def children(pid: int) -> set[int]:
    """Processes whose parent is ``pid`` (from /proc)."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Load:
    """Threads calling ``inference_cost`` through one client until stopped; counts calls and
    keeps every failure."""

    def __init__(self, client: sp.Client, threads: int = 4) -> None:
        self.client = client
        self.calls = 0
        self.failures: list[BaseException] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.client.inference_cost("qwen3-8b", "h100-sxm", **COST)
            except BaseException as exc:  # every failure is kept and reported
                with self._lock:
                    self.failures.append(exc)
            else:
                with self._lock:
                    self.calls += 1

    def __enter__(self) -> Load:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(TIMEOUT_S)


def test_round_robin_over_three_replicas_survives_one_stopping() -> None:
    args = ("--grace-s", "5", "--metrics-port", "0", "--access-log", "off")
    with ServeProcess(*args) as a, ServeProcess(*args) as b, ServeProcess(*args) as c:
        urls = [metrics_url(p) for p in (a, b, c)]
        with (
            sp.Client([a.target, b.target, c.target], timeout_s=20) as client,
            Load(client) as load,
        ):
            # round_robin: every replica takes calls.
            assert wait_until(lambda: all(handled(scrape(u)) >= 5 for u in urls))
            assert b.proc is not None
            b.proc.send_signal(signal.SIGTERM)  # mid-load: b drains and exits
            assert b.proc.wait(TIMEOUT_S) == 0
            before = [handled(scrape(u)) for u in (urls[0], urls[2])]
            calls = load.calls
            assert wait_until(lambda: load.calls >= calls + 100)
        assert load.failures == [], load.failures[:3]
        after = [handled(scrape(u)) for u in (urls[0], urls[2])]
        # Both survivors kept taking calls once b was gone.
        assert all(x > y for x, y in zip(after, before, strict=True)), (before, after)


def test_processes_share_one_port_with_labelled_metrics_and_drain() -> None:
    with ServeProcess("--processes", "3", "--metrics-port", "0", "--grace-s", "5") as p:
        url = metrics_url(p)
        with sp.Client(p.target, connections=12, timeout_s=20) as client:
            for _ in range(60):
                client.inference_cost("qwen3-8b", "h100-sxm", **COST)
        text = scrape(url)
        for worker in "012":
            assert f'scaleplan_worker_up{{worker="{worker}"}} 1' in text
        per_worker = [handled(text, w) for w in "012"]
        # Every call is counted once, by the worker that served it; the kernel spread the 12
        # connections over more than one worker (all on one: probability 3 * 3**-12).
        assert sum(per_worker) == 60
        assert sum(n > 0 for n in per_worker) >= 2, per_worker
        assert p.proc is not None
        p.proc.send_signal(signal.SIGTERM)
        assert p.proc.wait(TIMEOUT_S) == 0, p.exit_status()
        with sp.Client(p.target, timeout_s=1) as client, pytest.raises(grpc.RpcError):
            client.health()


def test_a_dead_worker_is_restarted_and_the_supervisor_takes_none_along() -> None:
    with ServeProcess("--processes", "2", "--metrics-port", "0") as p:
        assert p.proc is not None
        url = metrics_url(p)
        workers = {pid for pid in children(p.proc.pid) if "worker" in _cmdline(pid)}
        assert len(workers) == 2, [_cmdline(pid) for pid in children(p.proc.pid)]
        os.kill(min(workers), signal.SIGKILL)
        assert wait_until(lambda: "scaleplan_worker_restarts_total 1" in scrape(url))
        text = scrape(url)
        assert 'scaleplan_worker_up{worker="0"} 1' in text
        assert 'scaleplan_worker_up{worker="1"} 1' in text
        with sp.Client(p.target, connections=4, timeout_s=20) as client:
            for _ in range(8):
                client.inference_cost("qwen3-8b", "h100-sxm", **COST)
        workers = {pid for pid in children(p.proc.pid) if "worker" in _cmdline(pid)}
        # The supervisor killed outright: its workers see their pipe close, drain and exit.
        p.proc.kill()
        p.proc.wait(TIMEOUT_S)
        assert wait_until(lambda: not any(alive(pid) for pid in workers))


def _cmdline(pid: int) -> str:
    """How the process was started; a spawned worker's ends in its module's spawn entry."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return ""
    # multiprocessing's spawn runs `python -c 'from multiprocessing.spawn import spawn_main;
    # ...'`; its resource tracker runs `...resource_tracker import main...`.
    text = raw.replace(b"\0", b" ").decode(errors="replace")
    return "worker" if "spawn_main" in text else text


@pytest.mark.parametrize("value", ["0", "65", "-1"])
def test_processes_out_of_range_is_refused_naming_the_option(value: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "scaleplan.cli", "serve", "--processes", value, "--port", "0"],
        capture_output=True,
        text=True,
        timeout=TIMEOUT_S,
    )
    assert result.returncode == 2
    assert "--processes must be 1 to 64" in result.stderr


def test_processes_on_a_taken_port_fail_clearly() -> None:
    with ServeProcess() as first:
        port = first.target.rsplit(":", 1)[1]
        result = subprocess.run(
            [sys.executable, "-m", "scaleplan.cli", "serve", "--processes", "2", "--port", port],
            capture_output=True,
            text=True,
            timeout=TIMEOUT_S,
        )
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr


def test_channel_target_lists_ip_addresses_for_round_robin() -> None:
    assert channel_target("example.org:50051") == "example.org:50051"
    assert channel_target(["10.0.0.1:1"]) == "10.0.0.1:1"
    assert channel_target(["127.0.0.1:5001", "localhost:5002"]) == (
        "ipv4:127.0.0.1:5001,127.0.0.1:5002"
    )
    assert channel_target(["[::1]:5001", "[fe80::1]:5002"]) == "ipv6:[::1]:5001,[fe80::1]:5002"


@pytest.mark.parametrize(
    ("target", "index", "text"),
    [
        (["127.0.0.1:1", "db.internal:2"], 1, "dns:///name:port"),
        (["127.0.0.1:1", "127.0.0.1"], 1, "not an IP-address:port"),
        (["127.0.0.1:1", "127.0.0.1:70000"], 1, "not an IP-address:port"),
        (["127.0.0.1:1", "[::1]:2"], None, "mixes IPv4 and IPv6"),
        ([], None, "empty list"),
        ("", None, "empty"),
    ],
)
def test_bad_targets_are_named(target: list[str] | str, index: int | None, text: str) -> None:
    with pytest.raises(InvalidArgumentError, match=re.escape(text)) as info:
        channel_target(target)
    assert info.value.field == "target"
    assert info.value.index == index


@pytest.mark.parametrize("connections", [0, 65, 1.5, True])
def test_connections_out_of_range_is_named(connections: object) -> None:
    with pytest.raises(InvalidArgumentError, match="connections") as info:
        sp.Client("127.0.0.1:1", connections=connections)  # type: ignore[arg-type]
    assert info.value.field == "connections"


def test_label_worker_adds_the_label_first_and_keeps_families() -> None:
    text = (
        "# HELP a_total A.\n# TYPE a_total counter\n"
        'a_total{m="x"} 3\na_total{} 1\n'
        "# HELP b B.\n# TYPE b gauge\nb 2\n"
    )
    assert label_worker(text, 4) == [
        (
            "# HELP a_total A.\n# TYPE a_total counter",
            ['a_total{worker="4",m="x"} 3', 'a_total{worker="4"} 1'],
        ),
        ("# HELP b B.\n# TYPE b gauge", ['b{worker="4"} 2']),
    ]
