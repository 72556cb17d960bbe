from __future__ import annotations

import itertools
import os
from typing import Iterator

import pytest

from stateward_client import SessionClient

from stateward_server import StatewardServer

# Tests must exercise the installed wheel, not the source tree.
if os.environ.get("STATEWARD_REQUIRE_INSTALLED") == "1":
    import stateward_client

    assert "site-packages" in stateward_client.__file__, stateward_client.__file__


@pytest.fixture(scope="session")
def server() -> Iterator[StatewardServer]:
    # Short leases and waits keep the lease-end tests fast.
    with StatewardServer("--max-wait-ms", "20000") as s:
        yield s


@pytest.fixture(params=["pipeline", "unary"])
def transport(request: pytest.FixtureRequest) -> str:
    """Each test that takes it runs on both transports of SessionClient."""
    return str(request.param)


@pytest.fixture()
def client(server: StatewardServer, transport: str) -> Iterator[SessionClient]:
    with SessionClient(endpoints=[server.address], timeout=10.0, transport=transport) as c:  # type: ignore[arg-type]
        assert c.transport == transport
        yield c


_ids = itertools.count()


@pytest.fixture()
def sid() -> str:
    """A fresh session id per test (the server is shared by the session)."""
    return f"py-test-{os.getpid()}-{next(_ids)}"
