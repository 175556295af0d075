"""``scaleplan serve`` as a process: it prints how to call it, answers a client in another
process, and on SIGTERM drains the call in flight and exits 0."""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import scaleplan as sp
from grpc_support import TIMEOUT_S
from scaleplan.cli import build_parser, main
from scaleplan.grpc.server.app import ServerConfig
from scaleplan.grpc.server.cli import _token


@pytest.fixture
def serve() -> Iterator[tuple[subprocess.Popen[str], str, queue.Queue[str]]]:
    """A running ``scaleplan serve --port 0`` process, its address and its stdout lines."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop("SCALEPLAN_TOKEN", None)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scaleplan.cli",
            "serve",
            "--port",
            "0",
            "--grace-s",
            "10",
            "--access-log",
            "off",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    try:
        deadline = time.monotonic() + 30
        target = None
        while target is None and time.monotonic() < deadline:
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                continue
            if m := re.search(r"listening on (\S+)", line):
                target = m.group(1)
        assert target is not None, "serve did not print its address"
        yield proc, target, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(TIMEOUT_S)


def test_serve_answers_and_drains_on_sigterm(
    serve: tuple[subprocess.Popen[str], str, queue.Queue[str]],
) -> None:
    proc, target, lines = serve
    assert target.startswith("127.0.0.1:")
    banner = []
    while not lines.empty():
        banner.append(lines.get())
    text = "".join(banner)
    assert "grpcurl -plaintext" in text and "scaleplan.Client(" in text

    with sp.Client(target, timeout_s=TIMEOUT_S) as client:
        assert client.health() == "SERVING"
        want = sp.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192)
        got = client.inference_cost("qwen3-8b", "h100-sxm", prompt_tokens=512, gen_tokens=8192)
        assert got == want
        # A sweep (about a second of work) is in flight when SIGTERM arrives.
        received: list[int] = []
        failures: list[BaseException] = []

        def sweep() -> None:
            try:
                for chunk in client.iter_inference_cost_sweep(
                    "qwen3-8b",
                    "h100-sxm",
                    prompt_tokens=range(300),
                    gen_tokens=range(1, 1001),
                    chunk_size=4096,
                ):
                    received.append(len(chunk.cost.flops))
            except BaseException as exc:
                failures.append(exc)

        reader = threading.Thread(target=sweep)
        reader.start()
        deadline = time.monotonic() + TIMEOUT_S
        while not received and time.monotonic() < deadline:
            time.sleep(0.005)
        assert received, "the sweep did not start"
        proc.send_signal(signal.SIGTERM)
        reader.join(TIMEOUT_S)
        assert not failures and sum(received) == 300 * 1000  # completed, in order (checked)
    assert proc.wait(TIMEOUT_S) == 0
    assert proc.stderr is not None
    log = proc.stderr.read()
    assert "draining: 1 calls in flight" in log and "stopped" in log


def test_serve_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    parser = build_parser()
    args = parser.parse_args(["serve"])
    assert (args.host, args.port, args.max_sweep) == ("127.0.0.1", 50051, 1_000_000)
    monkeypatch.setenv("SCALEPLAN_TOKEN", "from-env")
    assert _token(args) == "from-env"
    (tmp_path / "token").write_text("from-file\n")
    assert _token(parser.parse_args(["serve", "--token-file", str(tmp_path / "token")])) == (
        "from-file"
    )
    monkeypatch.delenv("SCALEPLAN_TOKEN")
    assert _token(args) is None
    for bad in (["--tls-cert", "c.pem"], ["--tls-client-ca", "ca.pem"], ["--grace-s", "-1"]):
        assert main(["serve", *bad]) == 2
    with pytest.raises(ValueError, match="go together"):
        ServerConfig(tls_key=Path("k.pem")).check()


def test_serve_help_shows_every_limit_with_its_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for option, default in [
        ("--max-sweep", "1000000"),
        ("--max-message-bytes", str(4 * 1024 * 1024)),
        ("--max-calls", "64"),
        ("--max-request-bytes-in-flight", str(64 * 1024 * 1024)),
    ]:
        entry = text.split(f" {option} ")[-1].split(" --")[0]  # its help, not the usage line
        assert f"default: {default})" in entry, (option, entry)
    args = build_parser().parse_args(["serve"])
    config = ServerConfig(max_calls=args.max_calls)
    assert (config.max_calls, args.max_request_bytes_in_flight) == (64, 64 * 1024 * 1024)
    assert main(["serve", "--max-calls", "0"]) == 2
