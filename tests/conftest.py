"""Fixtures shared by the test modules: an in-process gRPC server per module (tests/grpc_support.py)
with a façade client and a raw channel on it. A module that needs another server configuration
defines its own ``server`` fixture; ``client`` and ``channel`` then use that one."""

from __future__ import annotations

from collections.abc import Iterator

import grpc
import pytest
import scaleplan as sp
from grpc_support import TIMEOUT_S, ServerThread


@pytest.fixture(scope="module")
def server() -> Iterator[ServerThread]:
    with ServerThread() as s:
        yield s


@pytest.fixture(scope="module")
def client(server: ServerThread) -> Iterator[sp.Client]:
    with sp.Client(server.target, timeout_s=TIMEOUT_S) as c:
        yield c


@pytest.fixture(scope="module")
def channel(server: ServerThread) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(server.target) as ch:
        yield ch
