"""The Pipeline transport: batching, dispatch by correlation id, deadlines and cancellation, the
release of a Lock granted after its caller gave up, stream failures; against a scripted stream (the
request iterator pulled by the test), fake servers and a real one."""

from __future__ import annotations

import queue
import re
import threading
import time
from concurrent import futures
from typing import Any, Callable, Iterator, Optional

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from stateward_client import ERROR_DOMAIN, STATUS_DETAILS_TRAILER, Outcome, SessionClient, StatewardError
from stateward_client._gen.stateward.v1 import session_state_pb2 as pb
from stateward_client._gen.stateward.v1 import session_state_pb2_grpc as pb_grpc
from stateward_client._pipeline import NotSent, PipelineStream

from fake_pipeline import serve_pipeline
from stateward_server import StatewardServer

APP = "py-pipeline"


def wait_until(condition: Callable[[], bool], what: str, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


class ScriptedCall:
    """Stands in for grpcio's stream call: the test pulls the request iterator and feeds responses."""

    def __init__(self, requests: Iterator[Any]) -> None:
        self.requests = requests
        self.responses: "queue.Queue[Any]" = queue.Queue()
        self.cancelled = False

    def __iter__(self) -> "ScriptedCall":
        return self

    def __next__(self) -> Any:
        item = self.responses.get()
        if item is None:
            raise StopIteration
        if isinstance(item, BaseException):
            raise item
        return item

    def next_request(self, seconds: float = 5.0) -> Any:
        """The next PipelineRequest the stream sends; fails (rather than hangs) if none comes."""
        box: "queue.Queue[Any]" = queue.Queue()
        threading.Thread(target=lambda: box.put(next(self.requests)), daemon=True).start()
        try:
            return box.get(timeout=seconds)
        except queue.Empty:
            raise AssertionError(f"the stream sent nothing within {seconds} s") from None

    def cancel(self) -> None:
        self.cancelled = True
        self.responses.put(None)

    def answer(self, *results: Any) -> None:
        self.responses.put(pb.PipelineResponse(results=list(results)))


class Scripted:
    def __init__(self, **options: int) -> None:
        self.calls: list[ScriptedCall] = []
        self.stream = PipelineStream(self._open, **options)

    def _open(self, requests: Iterator[Any]) -> ScriptedCall:
        self.calls.append(ScriptedCall(requests))
        return self.calls[-1]

    @property
    def call(self) -> ScriptedCall:
        return self.calls[-1]

    def pending(self) -> int:
        return len(self.stream._pending)  # noqa: SLF001 (the test watches the queue fill)

    def in_background(self, kind: str, request: Any, timeout_ms: int = 0, wait_s: float = 10.0) -> "futures.Future[Any]":
        pool = futures.ThreadPoolExecutor(max_workers=1)
        future = pool.submit(self.stream.run, kind, request, timeout_ms, wait_s)
        pool.shutdown(wait=False)
        return future


@pytest.fixture()
def scripted() -> Iterator[Scripted]:
    s = Scripted()
    yield s
    s.stream.close(grpc.StatusCode.CANCELLED, "test over")


def test_idle_operation_goes_at_once_alone(scripted: Scripted) -> None:
    got = scripted.in_background("get", pb.GetRequest(app=APP, session_id="a"))
    message = scripted.call.next_request()
    assert [op.get.session_id for op in message.operations] == ["a"]
    op = message.operations[0]
    scripted.call.answer(pb.PipelineResult(id=op.id, get=pb.GetResponse(outcome=pb.OUTCOME_OK, data=b"A")))
    assert got.result(5).data == b"A"


def test_queued_operations_are_batched_up_to_the_operation_cap(scripted: Scripted) -> None:
    callers = 300
    with futures.ThreadPoolExecutor(max_workers=callers) as pool:
        results = [pool.submit(scripted.stream.run, "get", pb.GetRequest(app=APP, session_id=f"s{n}"), 0, 10.0) for n in range(callers)]
        wait_until(lambda: scripted.pending() == callers, "every caller to queue")
        first = scripted.call.next_request()
        second = scripted.call.next_request()
        assert (len(first.operations), len(second.operations)) == (256, callers - 256)
        # Answered out of order, each result reaches the caller whose id it carries.
        ops = [*first.operations, *second.operations]
        for op in reversed(ops):
            scripted.call.answer(pb.PipelineResult(id=op.id, get=pb.GetResponse(outcome=pb.OUTCOME_OK, data=op.get.session_id.encode())))
        assert [r.result(10).data for r in results] == [f"s{n}".encode() for n in range(callers)]
    assert (scripted.stream.messages_sent, scripted.stream.operations_sent) == (2, callers)


def test_batches_are_bounded_in_bytes() -> None:
    s = Scripted(max_batch_bytes=256 * 1024)
    try:
        payload = b"x" * (100 * 1024)
        sets = [s.in_background("set", pb.SetRequest(app=APP, session_id=f"s{n}", data=payload)) for n in range(5)]
        wait_until(lambda: s.pending() == 5, "every Set to queue")
        sizes = [len(s.call.next_request().operations) for _ in range(3)]
        assert sizes == [2, 2, 1]
        s.stream.close(grpc.StatusCode.CANCELLED, "test over")
        for future in sets:
            with pytest.raises(StatewardError):
                future.result(5)
    finally:
        s.stream.close(grpc.StatusCode.CANCELLED, "test over")


def test_a_sent_operation_that_times_out_is_cancelled_on_the_server(scripted: Scripted) -> None:
    got = scripted.in_background("get", pb.GetRequest(app=APP, session_id="slow", wait_ms=5000), timeout_ms=200, wait_s=0.2)
    sent = scripted.call.next_request()
    assert sent.operations[0].timeout_ms == 200
    with pytest.raises(StatewardError) as info:
        got.result(5)
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    cancel = scripted.call.next_request()
    assert list(cancel.cancel_ids) == [sent.operations[0].id] and not cancel.operations
    # Its late result (the server's CANCELLED answer) is dropped; the stream goes on.
    scripted.call.answer(pb.PipelineResult(id=sent.operations[0].id, error=pb.OperationError(code=1, message="cancelled")))
    after = scripted.in_background("get", pb.GetRequest(app=APP, session_id="next"))
    op = scripted.call.next_request().operations[0]
    scripted.call.answer(pb.PipelineResult(id=op.id, get=pb.GetResponse(outcome=pb.OUTCOME_NOT_FOUND)))
    assert after.result(5).outcome == pb.OUTCOME_NOT_FOUND


def test_an_unsent_operation_that_times_out_is_never_sent(scripted: Scripted) -> None:
    with pytest.raises(StatewardError) as info:
        scripted.stream.run("get", pb.GetRequest(app=APP, session_id="never"), 50, 0.05)
    assert info.value.code is grpc.StatusCode.DEADLINE_EXCEEDED
    later = scripted.in_background("get", pb.GetRequest(app=APP, session_id="later"))
    message = scripted.call.next_request()
    assert [op.get.session_id for op in message.operations] == ["later"] and not message.cancel_ids
    scripted.call.answer(pb.PipelineResult(id=message.operations[0].id, get=pb.GetResponse(outcome=pb.OUTCOME_OK)))
    later.result(5)


def test_a_lock_granted_after_its_caller_gave_up_is_released(scripted: Scripted) -> None:
    request = pb.LockRequest(app=APP, session_id="contended", wait_ms=10_000)
    got = scripted.in_background("lock", request, timeout_ms=150, wait_s=0.15)
    lock = scripted.call.next_request().operations[0]
    with pytest.raises(StatewardError):
        got.result(5)
    assert list(scripted.call.next_request().cancel_ids) == [lock.id]
    assert scripted.stream.abandoned_lock_count == 1
    # The grant crossed the cancel on the wire.
    scripted.call.answer(pb.PipelineResult(id=lock.id, lock=pb.LockResponse(outcome=pb.OUTCOME_OK, lock_id=77)))
    release = scripted.call.next_request().operations
    assert len(release) == 1 and release[0].WhichOneof("request") == "release"
    assert (release[0].release.app, release[0].release.session_id, release[0].release.lock_id) == (APP, "contended", 77)
    assert release[0].id != lock.id
    assert scripted.stream.abandoned_lock_count == 0


def test_an_abandoned_lock_answered_locked_is_not_released(scripted: Scripted) -> None:
    got = scripted.in_background("lock", pb.LockRequest(app=APP, session_id="c", wait_ms=10_000), timeout_ms=100, wait_s=0.1)
    lock = scripted.call.next_request().operations[0]
    with pytest.raises(StatewardError):
        got.result(5)
    scripted.call.next_request()  # the cancel
    scripted.call.answer(pb.PipelineResult(id=lock.id, lock=pb.LockResponse(outcome=pb.OUTCOME_LOCKED, lock_id=5)))
    wait_until(lambda: scripted.stream.abandoned_lock_count == 0, "the result to be taken")
    probe = scripted.in_background("get", pb.GetRequest(app=APP, session_id="probe"))
    message = scripted.call.next_request()
    assert [op.WhichOneof("request") for op in message.operations] == ["get"]
    scripted.call.answer(pb.PipelineResult(id=message.operations[0].id, get=pb.GetResponse(outcome=pb.OUTCOME_OK)))
    probe.result(5)


def test_operation_errors_keep_code_reason_and_metadata(scripted: Scripted) -> None:
    got = scripted.in_background("set", pb.SetRequest(app=APP, session_id="big"))
    op = scripted.call.next_request().operations[0]
    error = pb.OperationError(code=3, message="too large", reason="ITEM_TOO_LARGE", metadata={"field": "data", "limit": "1"})
    scripted.call.answer(pb.PipelineResult(id=op.id, error=error))
    with pytest.raises(StatewardError) as info:
        got.result(5)
    e = info.value
    assert (e.code, e.details, e.reason, e.metadata) == (grpc.StatusCode.INVALID_ARGUMENT, "too large", "ITEM_TOO_LARGE", {"field": "data", "limit": "1"})
    # A result of the wrong kind is the server's fault, not a silent mix-up.
    got = scripted.in_background("get", pb.GetRequest(app=APP, session_id="g"))
    op = scripted.call.next_request().operations[0]
    scripted.call.answer(pb.PipelineResult(id=op.id, set=pb.SetResponse(version=1)))
    with pytest.raises(StatewardError) as info:
        got.result(5)
    assert info.value.code is grpc.StatusCode.INTERNAL


class _StreamError(grpc.RpcError, grpc.Call):
    def __init__(self, code: grpc.StatusCode, details: str, trailers: tuple[tuple[str, Any], ...] = ()) -> None:
        self._code, self._details, self._trailers = code, details, trailers

    def code(self) -> grpc.StatusCode:
        return self._code

    def details(self) -> str:
        return self._details

    def trailing_metadata(self) -> Any:
        return self._trailers

    def initial_metadata(self) -> Any:
        return ()

    def is_active(self) -> bool:
        return False

    def time_remaining(self) -> Optional[float]:
        return None

    def cancel(self) -> bool:
        return False

    def add_callback(self, callback: Any) -> bool:
        return False


def test_a_broken_stream_fails_every_pending_operation(scripted: Scripted) -> None:
    ops = [scripted.in_background("set", pb.SetRequest(app=APP, session_id=f"s{n}")) for n in range(3)]
    wait_until(lambda: scripted.pending() == 3, "the Sets to queue")
    scripted.call.next_request()
    scripted.call.responses.put(_StreamError(grpc.StatusCode.INTERNAL, "connection reset"))
    for future in ops:
        with pytest.raises(StatewardError) as info:
            future.result(5)
        assert info.value.code is grpc.StatusCode.UNAVAILABLE and "connection reset" in info.value.details
    assert scripted.stream.dead
    with pytest.raises(NotSent) as info:
        scripted.stream.run("get", pb.GetRequest(app=APP, session_id="x"), 0, 1.0)
    assert info.value.code is grpc.StatusCode.UNAVAILABLE


def test_a_stream_refused_for_its_credential_keeps_the_reason(scripted: Scripted) -> None:
    got = scripted.in_background("get", pb.GetRequest(app=APP, session_id="x"))
    scripted.call.next_request()
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason="UNKNOWN_CREDENTIAL", domain=ERROR_DOMAIN))
    status = status_pb2.Status(code=16, message="unknown credential", details=[detail]).SerializeToString()
    scripted.call.responses.put(_StreamError(grpc.StatusCode.UNAUTHENTICATED, "unknown credential", ((STATUS_DETAILS_TRAILER, status),)))
    with pytest.raises(StatewardError) as info:
        got.result(5)
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.UNAUTHENTICATED, "UNKNOWN_CREDENTIAL")


# -- SessionClient over fake and real servers --------------------------------------------------------------


class _Breaking(pb_grpc.SessionStateServicer):
    """Pipeline streams that break after their first message while ``breaks`` > 0, then serve."""

    def __init__(self) -> None:
        self.breaks = 0
        self.streams = 0
        self.ops: list[str] = []
        self._lock = threading.Lock()

    def Get(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.GetResponse(outcome=pb.OUTCOME_OK, data=b"g")

    def Set(self, request: Any, context: Any) -> Any:  # noqa: N802
        return pb.SetResponse(version=1, written=True)

    def Pipeline(self, request_iterator: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        with self._lock:
            self.streams += 1
            breaking = self.breaks > 0
            self.breaks -= 1 if breaking else 0
        if breaking:
            first = next(request_iterator)
            with self._lock:
                self.ops += [op.WhichOneof("request") for op in first.operations]
            context.abort(grpc.StatusCode.UNAVAILABLE, "scripted break")
        return serve_pipeline(self, request_iterator, context)


@pytest.fixture()
def breaking() -> Iterator[tuple[_Breaking, str]]:
    servicer = _Breaking()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    pb_grpc.add_SessionStateServicer_to_server(servicer, server)  # type: ignore[no-untyped-call]
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        yield servicer, f"127.0.0.1:{port}"
    finally:
        server.stop(grace=None)


def test_after_a_broken_stream_the_next_operation_opens_a_new_one(breaking: tuple[_Breaking, str]) -> None:
    servicer, address = breaking
    with SessionClient([address], transport="pipeline") as client:
        servicer.breaks = 1
        with pytest.raises(StatewardError) as info:
            client.set(APP, "s", b"v")
        assert info.value.code is grpc.StatusCode.UNAVAILABLE
        assert servicer.ops == ["set"], "a Set that may have run is never sent again"
        assert client.set(APP, "s", b"v").version == 1
        assert servicer.streams == 2
    # An idempotent Get is retried on a new stream, within its deadline (a fresh client: the stream
    # above is healthy).
    with SessionClient([address], transport="pipeline") as client:
        servicer.breaks = 2
        assert client.get(APP, "s").data == b"g"
        assert servicer.streams == 5 and servicer.ops == ["set", "get", "get"]


def test_an_operation_refused_by_a_stream_already_dead_goes_on_a_new_one(breaking: tuple[_Breaking, str]) -> None:
    servicer, address = breaking
    with SessionClient([address], transport="pipeline", retry=False) as client:
        client.set(APP, "s", b"v")
        dead = client._stream(0)  # noqa: SLF001
        dead.close(grpc.StatusCode.UNAVAILABLE, "broken")
        picks = iter([dead])
        fresh = client._stream  # noqa: SLF001
        # The stream died after it was picked, before it took the Set.
        client._stream = lambda index: next(picks, None) or fresh(index)  # type: ignore[method-assign]  # noqa: SLF001
        assert client.set(APP, "s", b"v").written
        assert servicer.streams == 2


def test_close_fails_operations_in_flight(breaking: tuple[_Breaking, str]) -> None:
    servicer, address = breaking
    release = threading.Event()

    def slow_get(request: Any, context: Any) -> Any:
        release.wait(10)
        return pb.GetResponse(outcome=pb.OUTCOME_OK)

    servicer.Get = slow_get  # type: ignore[method-assign]
    client = SessionClient([address], transport="pipeline")
    pool = futures.ThreadPoolExecutor(max_workers=1)
    got = pool.submit(client.get, APP, "s")
    wait_until(lambda: servicer.streams == 1, "the stream to open")
    client.close()
    with pytest.raises(StatewardError) as info:
        got.result(5)
    assert (info.value.code, info.value.reason) == (grpc.StatusCode.CANCELLED, "CLIENT_CLOSED")
    release.set()
    pool.shutdown()


def _refusal(call: Callable[[], object]) -> StatewardError:
    with pytest.raises(StatewardError) as info:
        call()
    return info.value


def test_refusals_are_the_same_errors_on_both_transports(server: StatewardServer, sid: str) -> None:
    with SessionClient([server.address], transport="unary") as unary, SessionClient([server.address], transport="pipeline") as pipeline:
        holder = unary.lock(APP, sid, create=True)
        for name, call in {
            "LOCKED_BY_OTHER": lambda c: c.set(APP, sid, b"x"),
            "STALE_LOCK_ID": lambda c: c.set(APP, sid, b"x", lock_id=holder.lock_id + 1000),
            "INVALID_FIELD": lambda c: c.get("bad app", sid),
            "ITEM_TOO_LARGE": lambda c: c.set(APP, f"{sid}-big", b"x" * (1024 * 1024 + 1)),
        }.items():
            a, b = _refusal(lambda: call(unary)), _refusal(lambda: call(pipeline))
            # The message of LOCKED_BY_OTHER says how long the lock was held.
            a_details, b_details = (re.sub(r"held \d+ ms", "held N ms", e.details) for e in (a, b))
            assert (type(b), b.code, b.reason, b.metadata, b_details) == (type(a), a.code, a.reason, a.metadata, a_details), name
            assert a.reason == name
        unary.release(APP, sid, holder.lock_id)


def test_a_lock_wait_within_the_deadline_answers_locked_on_the_server(server: StatewardServer, sid: str) -> None:
    with SessionClient([server.address], transport="pipeline") as client:
        holder = client.lock(APP, sid, create=True)
        started = time.monotonic()
        r = client.lock(APP, sid, wait_ms=10_000, timeout=0.5)
        assert r.outcome is Outcome.LOCKED and r.lock_id == holder.lock_id
        assert time.monotonic() - started < 0.6
        assert client.release(APP, sid, holder.lock_id).released


def test_many_threads_share_one_stream_correctly(server: StatewardServer, sid: str) -> None:
    threads, rounds = 64, 20
    errors: list[BaseException] = []
    with SessionClient([server.address], transport="pipeline") as client:

        def worker(n: int) -> None:
            key = f"{sid}-{n}"
            try:
                for i in range(rounds):
                    client.set(APP, key, f"{n}:{i}".encode())
                    assert client.get(APP, key).data == f"{n}:{i}".encode()
                with client.locked(APP, key) as s:
                    s.data = s.data + b"!"
                assert client.get(APP, key).data == f"{n}:{rounds - 1}!".encode()
            except BaseException as error:  # reported below
                errors.append(error)

        pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        for t in pool:
            t.join(60)
        stream = client._streams[0]  # noqa: SLF001
        assert stream is not None
        sent = (stream.messages_sent, stream.operations_sent)
    assert not errors, errors[:3]
    assert sent[1] == threads * (2 * rounds + 3)
