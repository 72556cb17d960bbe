"""The Python client against the shared client behaviour spec (proto/client-behaviour.json,
docs/client-behaviour.md), which the TypeScript and Go clients' tests check too: the exported
defaults, and what the client does on the wire (deadlines, lock waits, retries, reasons), seen by a
scripted fake server and by a real one.

The spec is read from the repository (this file's checkout), not from the installed wheel."""

from __future__ import annotations

import inspect
import json
import random
import threading
import time
from concurrent import futures
from typing import Any, Iterator, Optional

import grpc
import pytest

import stateward_client
from stateward_client import (
    DEFAULT_ADDRESS,
    DEFAULT_CHANNEL_OPTIONS,
    DEFAULT_LOCK_WAIT_MS,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    DEFAULT_WAITER_LIMIT_RETRY,
    ClientReason,
    Outcome,
    RetryPolicy,
    SessionClient,
    StatewardError,
    WaiterLimitRetry,
    retry_service_config,
)
from stateward_client._gen.stateward.v1 import session_state_pb2 as pb
from stateward_client._gen.stateward.v1 import session_state_pb2_grpc as pb_grpc

from fake_pipeline import serve_pipeline
from stateward_server import StatewardServer, repo_root

SPEC: dict[str, Any] = json.loads((repo_root() / "proto" / "client-behaviour.json").read_text(encoding="utf-8"))
APP = "py-behaviour"


def code(name: str) -> grpc.StatusCode:
    return getattr(grpc.StatusCode, name)


# -- the exported defaults ---------------------------------------------------------------------------


def test_deadline_address_and_lock_helper_defaults() -> None:
    assert DEFAULT_ADDRESS == SPEC["address"]["default"]
    assert DEFAULT_TIMEOUT * 1000 == SPEC["deadlines"]["default_timeout_ms"]
    assert DEFAULT_LOCK_WAIT_MS == SPEC["lock_helper"]["default_wait_ms"]
    locked = inspect.signature(SessionClient.locked).parameters
    helper = SPEC["lock_helper"]
    assert locked["wait_ms"].default == helper["default_wait_ms"]
    assert locked["create"].default is helper["create"]
    assert locked["lease_ms"].default == helper["lease_ms"]
    assert locked["ttl_seconds"].default == helper["ttl_seconds"]
    assert locked["waiter_limit_retry"].default == DEFAULT_WAITER_LIMIT_RETRY
    assert inspect.signature(SessionClient).parameters["endpoints"].default == (DEFAULT_ADDRESS,)


def test_retry_policies() -> None:
    waiter = SPEC["waiter_limit_retry"]
    assert DEFAULT_WAITER_LIMIT_RETRY == WaiterLimitRetry(waiter["initial_backoff_ms"], waiter["max_backoff_ms"])
    unavailable = SPEC["unavailable_retry"]
    assert DEFAULT_RETRY == RetryPolicy(
        unavailable["max_attempts"],
        unavailable["initial_backoff_ms"],
        unavailable["max_backoff_ms"],
        unavailable["backoff_multiplier"],
    )
    config = json.loads(retry_service_config())
    assert len(config["methodConfig"]) == 1
    method_config = config["methodConfig"][0]
    assert [name["method"] for name in method_config["name"]] == unavailable["methods"]
    assert {name["service"] for name in method_config["name"]} == {"stateward.v1.SessionState"}
    assert method_config["retryPolicy"] == {
        "maxAttempts": unavailable["max_attempts"],
        "initialBackoff": f"{unavailable['initial_backoff_ms'] / 1000:.3f}s",
        "maxBackoff": f"{unavailable['max_backoff_ms'] / 1000:.3f}s",
        "backoffMultiplier": unavailable["backoff_multiplier"],
        "retryableStatusCodes": unavailable["codes"],
    }
    assert json.loads(retry_service_config(False)) == {"methodConfig": []}


def test_channel_options() -> None:
    channel = SPEC["channel"]
    options = dict(DEFAULT_CHANNEL_OPTIONS)
    assert options["grpc.keepalive_time_ms"] == channel["keepalive_time_ms"]
    assert options["grpc.keepalive_timeout_ms"] == channel["keepalive_timeout_ms"]
    assert options["grpc.keepalive_permit_without_calls"] == int(channel["keepalive_permit_without_calls"])
    assert options["grpc.initial_reconnect_backoff_ms"] == channel["initial_reconnect_backoff_ms"]
    assert options["grpc.max_reconnect_backoff_ms"] == channel["max_reconnect_backoff_ms"]
    limit = channel["max_receive_message_bytes"]
    assert options["grpc.max_receive_message_length"] == (-1 if limit is None else limit)


def test_client_reasons() -> None:
    ours = [r for r in SPEC["client_reasons"] if "python" in r["sdks"]]
    assert sorted(m.name for m in ClientReason) == sorted(r["name"] for r in ours)
    assert all(ClientReason[r["name"]].value == r["name"] for r in ours)
    # Reasons renamed by the spec are gone, not kept beside the new ones.
    assert not set(SPEC["renamed_reasons"]) & {m.name for m in ClientReason}
    assert stateward_client.ClientReason is ClientReason


# -- on the wire: a scripted fake server --------------------------------------------------------------


class FakeServicer(pb_grpc.SessionStateServicer):
    """Records each call (method, deadline left, request); refuses waiting Locks with
    TOO_MANY_WAITERS while ``too_many_waiters`` > 0; fails calls with UNAVAILABLE per ``unavailable``."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, float, Any]] = []
        self.too_many_waiters = 0
        self.unavailable: dict[str, int] = {}
        self.get_outcome = pb.OUTCOME_OK
        self._lock = threading.Lock()

    def _record(self, method: str, request: Any, context: grpc.ServicerContext) -> None:
        remaining = context.time_remaining()
        with self._lock:
            self.seen.append((method, float("inf") if remaining is None else remaining, request))
            failures = self.unavailable.get(method, 0)
            if failures > 0:
                self.unavailable[method] = failures - 1
        if failures > 0:
            context.abort(grpc.StatusCode.UNAVAILABLE, "scripted outage")

    def calls(self, method: str) -> list[tuple[str, float, Any]]:
        with self._lock:
            return [s for s in self.seen if s[0] == method]

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Get", request, context)
        return pb.GetResponse(outcome=self.get_outcome, data=b"x", version=1)

    def Lock(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Lock", request, context)
        with self._lock:
            refuse = self.too_many_waiters > 0
            # As the server: only a call that would wait can be refused for the queue.
            if refuse and request.wait_ms > 0:
                self.too_many_waiters -= 1
                context.set_trailing_metadata((("stateward-reason", SPEC["waiter_limit_retry"]["on"]["reason"]),))
                context.abort(code(SPEC["waiter_limit_retry"]["on"]["code"]), "queue full")
        if refuse:
            return pb.LockResponse(outcome=pb.OUTCOME_LOCKED, lock_id=7, lock_age_ms=1)
        return pb.LockResponse(outcome=pb.OUTCOME_OK, lock_id=9, version=1, lease_ms=60000, created=request.create)

    def Set(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Set", request, context)
        return pb.SetResponse(version=2, written=True)

    def Release(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Release", request, context)
        return pb.ReleaseResponse(released=True)

    def Expire(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Expire", request, context)
        return pb.ExpireResponse(found=True, ttl_seconds=60)

    def Remove(self, request: Any, context: grpc.ServicerContext) -> Any:
        self._record("Remove", request, context)
        return pb.RemoveResponse(removed=True)

    def Pipeline(self, request_iterator: Any, context: grpc.ServicerContext) -> Any:
        # Each operation through the handlers above, with its timeout_ms as its deadline.
        return serve_pipeline(self, request_iterator, context)


@pytest.fixture()
def fake() -> Iterator[tuple[FakeServicer, str]]:
    servicer = FakeServicer()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_SessionStateServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def assert_deadline(seen: Optional[tuple[str, float, Any]], expected_ms: float, what: str) -> None:
    assert seen is not None, f"{what}: not seen"
    remaining_ms = seen[1] * 1000
    # gRPC's C core sends the timeout rounded up to a few significant digits: up to 1 % above is fine.
    assert expected_ms - 1500 < remaining_ms <= expected_ms * 1.01 + 5, f"{what}: deadline {remaining_ms:.0f} ms, expected about {expected_ms} ms"


def test_deadlines(fake: tuple[FakeServicer, str], transport: str) -> None:
    servicer, address = fake
    deadlines = SPEC["deadlines"]
    with SessionClient([address], retry=False, transport=transport) as client:
        client.set(APP, "s", b"v")
        assert_deadline(servicer.calls("Set")[-1], deadlines["default_timeout_ms"], "Set")
        client.lock(APP, "s", wait_ms=2000)
        assert deadlines["waiting_call_adds_wait"]
        assert_deadline(servicer.calls("Lock")[-1], deadlines["default_timeout_ms"] + 2000, "a waiting Lock")
        client.lock(APP, "s", wait_ms=2000, timeout=1.234)
        assert deadlines["explicit_deadline_is_total"]
        assert_deadline(servicer.calls("Lock")[-1], 1234, "a waiting Lock with its own timeout")


def test_locked_without_options_sends_the_spec_defaults(fake: tuple[FakeServicer, str], transport: str) -> None:
    servicer, address = fake
    helper = SPEC["lock_helper"]
    with SessionClient([address], retry=False, transport=transport) as client:
        with client.locked(APP, "s") as s:
            s.data = b"new"
    lock = servicer.calls("Lock")[-1]
    request = lock[2]
    assert (request.wait_ms, request.create, request.lease_ms, request.ttl_seconds) == (
        helper["default_wait_ms"],
        helper["create"],
        helper["lease_ms"],
        helper["ttl_seconds"],
    )
    assert_deadline(lock, SPEC["deadlines"]["default_timeout_ms"] + helper["default_wait_ms"], "locked()'s Lock")


def test_unavailable_is_retried_for_idempotent_calls_only(fake: tuple[FakeServicer, str], transport: str) -> None:
    servicer, address = fake
    spec = SPEC["unavailable_retry"]
    with SessionClient([address], transport=transport) as client:
        calls = {
            "Get": lambda: client.get(APP, "s"),
            "Expire": lambda: client.expire(APP, "s"),
            "Release": lambda: client.release(APP, "s", 1),
            "Lock": lambda: client.lock(APP, "s"),
            "Set": lambda: client.set(APP, "s", b"v"),
            "Remove": lambda: client.remove(APP, "s"),
        }
        for method, call in calls.items():
            assert (method in spec["methods"]) != (method in spec["never"]), method
            servicer.unavailable[method] = 100
            with pytest.raises(StatewardError) as info:
                call()
            assert info.value.code is grpc.StatusCode.UNAVAILABLE
            expected = spec["max_attempts"] if method in spec["methods"] else 1
            assert len(servicer.calls(method)) == expected, method
            servicer.unavailable[method] = 0


def test_waiter_limit_backoff(fake: tuple[FakeServicer, str], monkeypatch: pytest.MonkeyPatch, transport: str) -> None:
    servicer, address = fake
    spec = SPEC["waiter_limit_retry"]
    refusals = 8
    expected = uncapped = 0.0
    backoff = spec["initial_backoff_ms"]
    for _ in range(refusals):
        expected += min(backoff, spec["max_backoff_ms"])
        uncapped += backoff
        backoff *= spec["backoff_multiplier"]
    servicer.too_many_waiters = refusals
    # The jitter pinned at (nearly) its top: the delays are the backoffs themselves.
    monkeypatch.setattr(random, "random", lambda: 0.999)
    with SessionClient([address], retry=False, transport=transport) as client:
        started = time.monotonic()
        with client.locked(APP, "s") as s:
            s.data = b"v"
        elapsed_ms = (time.monotonic() - started) * 1000
    locks = servicer.calls("Lock")
    assert len(locks) == refusals + 1
    assert elapsed_ms >= expected * 0.99, f"retried after {elapsed_ms:.0f} ms in all; the backoffs add up to {expected} ms"
    assert elapsed_ms < uncapped, f"{elapsed_ms:.0f} ms: the cap of {spec['max_backoff_ms']} ms was not applied"
    waits = [seen[2].wait_ms for seen in locks]
    assert waits[0] <= SPEC["lock_helper"]["default_wait_ms"]
    assert all(b <= a for a, b in zip(waits, waits[1:])), waits


def test_a_queue_full_for_the_whole_wait_ends_as_a_wait_that_ran_out(fake: tuple[FakeServicer, str], transport: str) -> None:
    servicer, address = fake
    servicer.too_many_waiters = 1000
    exhausted = SPEC["lock_helper"]["wait_exhausted"]
    with SessionClient([address], retry=False, transport=transport) as client:
        started = time.monotonic()
        with pytest.raises(StatewardError) as info:
            with client.locked(APP, "s", wait_ms=300):
                pass
        elapsed = time.monotonic() - started
    assert (info.value.code, info.value.reason) == (code(exhausted["code"]), exhausted["reason"])
    assert servicer.calls("Lock")[-1][2].wait_ms == 0, "the last look does not wait"
    assert elapsed < 1.3, f"took {elapsed:.2f} s for a wait of 300 ms"


def test_waiter_limit_retry_can_be_switched_off(fake: tuple[FakeServicer, str], transport: str) -> None:
    servicer, address = fake
    servicer.too_many_waiters = 1
    on = SPEC["waiter_limit_retry"]["on"]
    with SessionClient([address], retry=False, transport=transport) as client:
        with pytest.raises(StatewardError) as info:
            with client.locked(APP, "s", waiter_limit_retry=False):
                pass
    assert (info.value.code, info.value.reason) == (code(on["code"]), on["reason"])
    assert len(servicer.calls("Lock")) == 1


def test_unknown_outcome_is_an_error(fake: tuple[FakeServicer, str], transport: str) -> None:
    servicer, address = fake
    servicer.get_outcome = pb.OUTCOME_UNSPECIFIED
    check = SPEC["client_checks"]["unknown_outcome"]
    with SessionClient([address], retry=False, transport=transport) as client:
        with pytest.raises(StatewardError) as info:
            client.get(APP, "s")
    assert (info.value.code, info.value.reason) == (code(check["code"]), check["reason"])


# -- on the client --------------------------------------------------------------------------------------


def test_values_the_wire_cannot_carry_are_refused_before_sending(transport: str) -> None:
    check = SPEC["client_checks"]["uint32_fields"]
    with SessionClient(["127.0.0.1:1"], retry=False, transport=transport) as client:
        for call, field in (
            (lambda: client.get(APP, "s", wait_ms=-1), "wait_ms"),
            (lambda: client.lock(APP, "s", lease_ms=check["max"] + 1), "lease_ms"),
            (lambda: client.set(APP, "s", b"", ttl_seconds=-5), "ttl_seconds"),
        ):
            with pytest.raises(StatewardError) as info:
                call()
            assert (info.value.code, info.value.reason) == (code(check["code"]), check["reason"])
            assert info.value.metadata == {"field": field, "limit": str(check["max"])}


def test_a_closed_client_refuses_calls(transport: str) -> None:
    check = SPEC["client_checks"]["closed_client"]
    client = SessionClient(transport=transport)
    assert client.endpoints[0].address == SPEC["address"]["default"]
    client.close()
    with pytest.raises(StatewardError) as info:
        client.get(APP, "s")
    assert (info.value.code, info.value.reason) == (code(check["code"]), check["reason"])


# -- against a real server --------------------------------------------------------------------------------


def test_lock_wait_timeout_against_a_real_server(client: SessionClient, sid: str) -> None:
    exhausted = SPEC["lock_helper"]["wait_exhausted"]
    holder = client.lock(APP, sid, create=True)
    with pytest.raises(StatewardError) as info:
        with client.locked(APP, sid, wait_ms=200):
            pass
    assert (info.value.code, info.value.reason) == (code(exhausted["code"]), exhausted["reason"])
    assert client.release(APP, sid, holder.lock_id).released
    with client.locked(APP, f"{sid}-new") as s:
        assert s.created is SPEC["lock_helper"]["create"]


def test_waiter_limit_retry_against_a_real_server(sid: str, transport: str) -> None:
    """With its one queue place (``--max-waiters 1``) taken, the server refuses a waiting Lock with
    TOO_MANY_WAITERS; ``locked()`` retries within its wait and gets the lock after the one queued."""
    on = SPEC["waiter_limit_retry"]["on"]
    with StatewardServer("--max-waiters", "1") as tight, SessionClient([tight.address], timeout=10.0, transport=transport) as c:
        holder = c.lock(APP, sid, create=True)
        errors: list[BaseException] = []

        def first_in_queue() -> None:
            try:
                with c.locked(APP, sid, wait_ms=10_000) as s:
                    s.data = s.data + b"A"
            except BaseException as error:  # reported by the main thread
                errors.append(error)

        queued = threading.Thread(target=first_in_queue)
        queued.start()
        # Until that waiter holds the queue place: a waiting Lock without retries is then refused.
        deadline = time.monotonic() + 5
        while True:
            try:
                probe = c.lock(APP, sid, wait_ms=1)
            except StatewardError as error:
                assert (error.code, error.reason) == (code(on["code"]), on["reason"])
                break
            assert probe.outcome is Outcome.LOCKED
            assert time.monotonic() < deadline, "the waiter never queued"
            time.sleep(0.01)

        def release_holder() -> None:
            # Ordering only: let the locked() below meet the full queue first.
            time.sleep(0.3)
            c.release(APP, sid, holder.lock_id)

        releasing = threading.Thread(target=release_holder)
        releasing.start()
        with c.locked(APP, sid, wait_ms=8_000) as s:
            s.data = s.data + b"B"
        releasing.join(10)
        queued.join(10)
        assert not errors, errors
        assert c.get(APP, sid).data == b"AB"
