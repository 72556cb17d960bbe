"""SessionClient against a real server: the six calls, errors, locked() and partition routing."""

from __future__ import annotations

import threading
import time

import grpc
import pytest

from stateward_client import ErrorReason, Outcome, SessionClient, StatewardError

from stateward_server import StatewardServer

APP = "py-tests"


def test_get_missing_is_an_outcome(client: SessionClient, sid: str) -> None:
    r = client.get(APP, sid)
    assert r.outcome is Outcome.NOT_FOUND
    assert r.data == b""


def test_set_get_expire_remove(client: SessionClient, sid: str) -> None:
    w = client.set(APP, sid, b"hello", ttl_seconds=60)
    assert w.written and w.version == 1
    r = client.get(APP, sid)
    assert (r.outcome, r.data, r.version, r.ttl_seconds) == (Outcome.OK, b"hello", 1, 60)
    e = client.expire(APP, sid, ttl_seconds=120)
    assert e.found and e.ttl_seconds == 120
    assert client.set(APP, sid, b"again", only_if_absent=True).written is False
    assert client.remove(APP, sid).removed is True
    assert client.get(APP, sid).outcome is Outcome.NOT_FOUND
    assert client.expire(APP, sid).found is False


def test_lock_set_and_release(client: SessionClient, sid: str) -> None:
    assert client.lock(APP, sid).outcome is Outcome.NOT_FOUND
    a = client.lock(APP, sid, create=True)
    assert a.outcome is Outcome.OK and a.created and a.version == 1 and a.lock_id > 0
    held = client.get(APP, sid)
    assert held.outcome is Outcome.LOCKED and held.lock_id == a.lock_id and held.data == b""
    other = client.lock(APP, sid)
    assert other.outcome is Outcome.LOCKED and other.lock_id == a.lock_id
    w = client.set(APP, sid, b"v2", lock_id=a.lock_id)
    assert w.version == 2
    b = client.lock(APP, sid)
    assert b.outcome is Outcome.OK and b.lock_id > a.lock_id and b.data == b"v2"
    assert client.release(APP, sid, a.lock_id).released is False
    assert client.release(APP, sid, b.lock_id).released is True


def test_errors_carry_code_and_reason(client: SessionClient, sid: str) -> None:
    a = client.lock(APP, sid, create=True)
    with pytest.raises(StatewardError) as info:
        client.set(APP, sid, b"x")  # unlocked write to a locked session
    assert info.value.code is grpc.StatusCode.ABORTED
    assert info.value.reason == "LOCKED_BY_OTHER"
    assert info.value.error_reason == ErrorReason.LOCKED_BY_OTHER
    client.release(APP, sid, a.lock_id)
    with pytest.raises(StatewardError) as info:
        client.set(APP, sid, b"x", lock_id=a.lock_id)
    assert info.value.code is grpc.StatusCode.ABORTED and info.value.reason == "STALE_LOCK_ID"
    with pytest.raises(StatewardError) as info:
        client.set(APP, sid, b"x", expected_version=99)
    assert info.value.code is grpc.StatusCode.ABORTED and info.value.reason == "VERSION_MISMATCH"
    with pytest.raises(StatewardError) as info:
        client.get("bad app", sid)
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT and info.value.reason == "INVALID_FIELD"
    assert "app" in info.value.details


def test_locked_writes_back_changed_data(client: SessionClient, sid: str) -> None:
    with client.locked(APP, sid) as s:
        assert s.created and s.data == b"" and s.version == 1
        s.data = b"cart=1"
    assert s.written_version == 2
    r = client.get(APP, sid)
    assert (r.outcome, r.data, r.version) == (Outcome.OK, b"cart=1", 2)


def test_locked_releases_unchanged_without_writing(client: SessionClient, sid: str) -> None:
    client.set(APP, sid, b"same")
    with client.locked(APP, sid) as s:
        assert not s.created
        s.data = b"same"  # replaced by equal bytes: nothing to write
    assert s.written_version is None
    r = client.get(APP, sid)
    assert (r.outcome, r.version) == (Outcome.OK, 1)


def test_locked_releases_on_exception(client: SessionClient, sid: str) -> None:
    client.set(APP, sid, b"before")
    with pytest.raises(RuntimeError, match="boom"):
        with client.locked(APP, sid) as s:
            s.data = b"never written"
            raise RuntimeError("boom")
    r = client.get(APP, sid)
    assert (r.outcome, r.data, r.version) == (Outcome.OK, b"before", 1)


def test_locked_without_create_on_missing_session(client: SessionClient, sid: str) -> None:
    with pytest.raises(StatewardError) as info:
        with client.locked(APP, sid, create=False):
            pass
    assert info.value.reason == "SESSION_NOT_FOUND"


def test_locked_wait_timeout(client: SessionClient, sid: str) -> None:
    a = client.lock(APP, sid, create=True)
    with pytest.raises(StatewardError) as info:
        with client.locked(APP, sid, wait_ms=100):
            pass
    assert info.value.reason == "LOCK_WAIT_TIMEOUT"
    assert info.value.code is grpc.StatusCode.ABORTED
    assert client.release(APP, sid, a.lock_id).released


def test_locked_waits_on_the_server_for_the_holder(client: SessionClient, sid: str) -> None:
    holder = client.lock(APP, sid, create=True)
    got: list[bytes] = []
    waiting = threading.Event()

    def waiter() -> None:
        waiting.set()
        with client.locked(APP, sid, wait_ms=15000) as s:
            got.append(s.data)
            s.data = s.data + b"+waiter"

    t = threading.Thread(target=waiter)
    t.start()
    assert waiting.wait(5)
    client.set(APP, sid, b"holder", lock_id=holder.lock_id)  # set-and-release hands over the lock
    t.join(20)
    assert not t.is_alive()
    assert got == [b"holder"]
    assert client.get(APP, sid).data == b"holder+waiter"


def test_write_after_lease_end_fails_loudly(client: SessionClient, sid: str) -> None:
    with pytest.raises(StatewardError) as info:
        with client.locked(APP, sid, lease_ms=200) as s:
            deadline = time.monotonic() + 10
            while client.get(APP, sid).outcome is Outcome.LOCKED:  # until the server ends the lease
                assert time.monotonic() < deadline
                time.sleep(0.05)
            s.data = b"too late"
    assert info.value.code is grpc.StatusCode.ABORTED
    assert client.get(APP, sid).data == b""


def test_routing_across_two_servers(sid: str, transport: str) -> None:
    with StatewardServer() as one, StatewardServer() as two:
        with SessionClient(endpoints=[one.address, two.address], transport=transport) as farm, SessionClient(
            endpoints=[one.address]
        ) as only_one, SessionClient(endpoints=[two.address]) as only_two:
            owners = {one.address: 0, two.address: 0}
            for i in range(40):
                key = f"{sid}-{i}"
                farm.set(APP, key, b"x")
                owner = farm.endpoint_for(APP, key).address
                owners[owner] += 1
                direct = only_one if owner == one.address else only_two
                elsewhere = only_two if owner == one.address else only_one
                assert direct.get(APP, key).outcome is Outcome.OK
                assert elsewhere.get(APP, key).outcome is Outcome.NOT_FOUND
            assert all(n > 0 for n in owners.values()), owners


def test_closed_client_refuses_calls(server: StatewardServer, sid: str, transport: str) -> None:
    c = SessionClient(endpoints=[server.address], transport=transport)
    c.close()
    with pytest.raises(StatewardError) as info:
        c.get(APP, sid)
    assert info.value.reason == "CLIENT_CLOSED"


def test_locked_refused_write_releases_the_lock(client: SessionClient, sid: str) -> None:
    client.set(APP, sid, b"small")
    with pytest.raises(StatewardError) as info:
        with client.locked(APP, sid) as s:
            s.data = b"x" * (1024 * 1024 + 1)  # above the server's default --max-item-bytes
    assert info.value.code is grpc.StatusCode.INVALID_ARGUMENT and info.value.reason == "ITEM_TOO_LARGE"
    r = client.get(APP, sid)
    assert (r.outcome, r.data) == (Outcome.OK, b"small")  # not locked any more, nothing written
