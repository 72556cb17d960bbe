"""The batched transport: the six operations carried over one long-lived ``Pipeline`` stream per
endpoint, as the TypeScript client does (``client/ts/src/pipeline-client.ts``).

Callers on any thread queue an operation and block on it; grpcio's request-iterator thread drains
the queue into one ``PipelineRequest`` per wakeup (one operation at once when idle, everything queued
meanwhile under load, up to the batch caps), and a reader thread hands each result to its caller by
correlation id. grpcio pulls the next request only once the previous one is written, so the batches
grow by themselves while a message is on the wire.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import Any, Callable, Deque, Dict, Iterator, List, Mapping, Optional, Tuple

import grpc

from ._errors import ClientReason, StatewardError, _reason_of_trailers
from ._gen.stateward.v1 import session_state_pb2 as pb

__all__ = ["DEFAULT_MAX_BATCH_BYTES", "DEFAULT_MAX_BATCH_OPERATIONS", "NotSent", "PipelineStream"]

#: Most operations per message (as the TypeScript client).
DEFAULT_MAX_BATCH_OPERATIONS = 256
#: Approximate most payload bytes per message (as the TypeScript client).
DEFAULT_MAX_BATCH_BYTES = 256 * 1024
#: Rough per-operation framing bytes, for the byte cap.
_OPERATION_OVERHEAD_BYTES = 64
#: How long after its wait and deadline an abandoned Lock's result is still awaited: a server that
#: answers every cancelled operation never needs it; one that dropped cancelled waiters silently
#: would otherwise leave one entry per abandoned Lock for the stream's lifetime.
_ABANDONED_LOCK_GRACE_S = 60.0

_CODES: Dict[int, grpc.StatusCode] = {code.value[0]: code for code in grpc.StatusCode}

#: Opens the stream: takes the request iterator, returns grpcio's response iterator (a call).
OpenCall = Callable[[Iterator[Any]], Any]


class NotSent(StatewardError):
    """``UNAVAILABLE`` for an operation refused by a stream that had already died: it never left
    the client, so the caller may send it on a new stream whatever its kind."""


class _Op:
    """One operation in flight: its request until it is sent, then its result."""

    __slots__ = ("id", "kind", "request", "timeout_ms", "size", "done", "result", "error", "sent", "dropped")

    def __init__(self, op_id: int, kind: str, request: Any, timeout_ms: int, size: int) -> None:
        self.id = op_id
        self.kind = kind
        self.request = request
        self.timeout_ms = timeout_ms
        self.size = size
        # A bare lock, held until the result is in: cheaper than an Event per operation.
        self.done = threading.Lock()
        self.done.acquire()
        self.result: Any = None
        self.error: Optional[StatewardError] = None
        self.sent = False
        #: Given up before it was sent: the request iterator skips it.
        self.dropped = False


def operation_error(error: Any) -> StatewardError:
    """An OperationError as the unary call's failure would have been raised: same code, message,
    reason (``None`` when empty) and metadata."""
    return StatewardError(_CODES.get(error.code, grpc.StatusCode.UNKNOWN), error.message, error.reason or None, dict(error.metadata))


class PipelineStream:
    """One ``Pipeline`` stream with its send queue, pending operations and reader thread.

    When the stream ends or fails, every pending operation fails with ``UNAVAILABLE`` (or the
    stream's ``UNAUTHENTICATED`` / ``PERMISSION_DENIED`` with the server's reason, or ``CANCELLED``)
    and is never retried here: it may have run. The owner opens a new stream for the next operation.
    """

    def __init__(
        self,
        open_call: OpenCall,
        *,
        max_batch_operations: int = DEFAULT_MAX_BATCH_OPERATIONS,
        max_batch_bytes: int = DEFAULT_MAX_BATCH_BYTES,
    ) -> None:
        self._max_ops = max(1, max_batch_operations)
        self._max_bytes = max(1, max_batch_bytes)
        self._cond = threading.Condition(threading.Lock())
        self._queue: Deque[_Op] = deque()
        self._cancel_ids: List[int] = []
        self._pending: Dict[int, _Op] = {}
        #: Sent Locks whose callers gave up, until their one result arrives: a grant among them
        #: belongs to nobody and is released at once. id -> (app, session_id, forget at).
        self._abandoned_locks: Dict[int, Tuple[str, str, float]] = {}
        self._ids = itertools.count(1)
        self._dead = False
        #: Messages and operations sent (for tests and measurements).
        self.messages_sent = 0
        self.operations_sent = 0
        self._call = open_call(self._requests())
        self._reader = threading.Thread(target=self._read, name="stateward-pipeline-reader", daemon=True)
        self._reader.start()

    @property
    def dead(self) -> bool:
        return self._dead

    def run(self, kind: str, request: Any, timeout_ms: int, wait_s: float) -> Any:
        """Sends one operation and waits up to ``wait_s`` for its result (the response message).

        Raises:
            StatewardError: the operation's OperationError, the stream's failure, or
                ``DEADLINE_EXCEEDED`` when no result came within ``wait_s`` (the operation is then
                cancelled on the server; a Lock granted meanwhile is released when its grant arrives).
        """
        size = _OPERATION_OVERHEAD_BYTES + (len(request.data) if kind == "set" else 0)
        op = _Op(next(self._ids), kind, request, timeout_ms, size)
        with self._cond:
            if self._dead:
                raise NotSent(grpc.StatusCode.UNAVAILABLE, "the pipeline stream is closed")
            self._pending[op.id] = op
            self._queue.append(op)
            self._cond.notify()
        if not op.done.acquire(timeout=max(0.0, wait_s)):
            self._abandon(op)
        if op.error is not None:
            raise op.error
        result = op.result
        which = result.WhichOneof("result")
        if which == "error":
            raise operation_error(result.error)
        if which != kind:
            raise StatewardError(grpc.StatusCode.INTERNAL, f"the server answered a {kind} with a {which} result")
        return getattr(result, kind)

    def close(self, code: grpc.StatusCode, message: str, reason: Optional[str] = None) -> None:
        """Fails what is pending with ``code`` and cancels the stream (the server drops its waiting
        operations at once: a half-close would let them wait on)."""
        self._fail(code, message, reason)
        self._call.cancel()

    # -- the caller's side ---------------------------------------------------------------------------

    def _abandon(self, op: _Op) -> None:
        """The caller gives up: an unsent operation is dropped, a sent one is cancelled on the server,
        and a sent Lock is remembered until its result comes (the server may grant it before the
        cancel reaches it)."""
        with self._cond:
            if self._pending.pop(op.id, None) is None:
                # The result (or the stream's failure) came in meanwhile: it is the answer.
                op.done.acquire()
                return
            if not op.sent:
                op.dropped = True
            else:
                self._cancel_ids.append(op.id)
                if op.kind == "lock":
                    now = time.monotonic()
                    self._forget_abandoned_locks(now)
                    request = op.request
                    bound = request.wait_ms if op.timeout_ms == 0 else min(request.wait_ms, op.timeout_ms)
                    self._abandoned_locks[op.id] = (request.app, request.session_id, now + bound / 1000.0 + _ABANDONED_LOCK_GRACE_S)
                self._cond.notify()
        op.error = StatewardError(grpc.StatusCode.DEADLINE_EXCEEDED, f"no answer within {op.timeout_ms} ms")

    def _forget_abandoned_locks(self, now: float) -> None:
        if self._abandoned_locks:
            for op_id in [i for i, (_, _, at) in self._abandoned_locks.items() if at <= now]:
                del self._abandoned_locks[op_id]

    @property
    def abandoned_lock_count(self) -> int:
        """Sent Locks given up on whose result is still awaited (for tests)."""
        return len(self._abandoned_locks)

    # -- grpcio's request-iterator thread ------------------------------------------------------------

    def _requests(self) -> Iterator[Any]:
        cond = self._cond
        queue = self._queue
        while True:
            with cond:
                while not queue and not self._cancel_ids and not self._dead:
                    cond.wait()
                if self._dead:
                    return
                request = pb.PipelineRequest()
                operations = request.operations
                count = 0
                size = 0
                while queue and count < self._max_ops:
                    op = queue[0]
                    if op.dropped:
                        queue.popleft()
                        continue
                    if count > 0 and size + op.size > self._max_bytes:
                        break
                    queue.popleft()
                    op.sent = True
                    size += op.size
                    count += 1
                    entry = operations.add(id=op.id, timeout_ms=op.timeout_ms)
                    getattr(entry, op.kind).CopyFrom(op.request)
                if self._cancel_ids:
                    request.cancel_ids.extend(self._cancel_ids)
                    self._cancel_ids = []
                if count == 0 and not request.cancel_ids:
                    continue
                self.messages_sent += 1
                self.operations_sent += count
            yield request

    # -- the reader thread -----------------------------------------------------------------------------

    def _read(self) -> None:
        try:
            for response in self._call:
                self._dispatch(response.results)
        except grpc.RpcError as error:
            self._stream_failed(error)
        except Exception as error:  # noqa: BLE001 (a broken stream must never leave callers waiting)
            self._fail(grpc.StatusCode.UNAVAILABLE, f"the pipeline stream failed: {error}")
        else:
            self._fail(grpc.StatusCode.UNAVAILABLE, "the server ended the pipeline stream")

    def _dispatch(self, results: Any) -> None:
        """Hands a message's results to their callers, taking the books' lock once per message."""
        done: List[_Op] = []
        with self._cond:
            pending = self._pending
            for result in results:
                op = pending.pop(result.id, None)
                if op is not None:
                    op.result = result
                    done.append(op)
                elif self._abandoned_locks:
                    abandoned = self._abandoned_locks.pop(result.id, None)
                    if abandoned is not None and result.WhichOneof("result") == "lock" and result.lock.outcome == pb.OUTCOME_OK:
                        self._release_stale_grant(abandoned[0], abandoned[1], result.lock.lock_id)
        for op in done:
            op.done.release()

    def _release_stale_grant(self, app: str, session_id: str, lock_id: int) -> None:
        """Gives back a lock granted to an operation nobody waits for any more (under the lock).
        Fire-and-forget: its id is a fresh one, never pending, so its result is dropped; if it fails
        the lease still frees the lock."""
        if self._dead:
            return
        release = pb.ReleaseRequest(app=app, session_id=session_id, lock_id=lock_id)
        self._queue.append(_Op(next(self._ids), "release", release, 0, _OPERATION_OVERHEAD_BYTES))
        self._cond.notify()

    def _stream_failed(self, error: grpc.RpcError) -> None:
        """A stream refused for its credential fails its operations with that status and the
        server's reason (a new stream would be refused alike, so it is no UNAVAILABLE to retry); any
        other end is a broken transport: UNAVAILABLE, and the next operation opens a new stream."""
        code = error.code() if isinstance(error, grpc.Call) else grpc.StatusCode.UNKNOWN
        details = (error.details() if isinstance(error, grpc.Call) else None) or str(error)
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            reason, metadata = _reason_of_trailers(error.trailing_metadata() or ()) if isinstance(error, grpc.Call) else (None, {})
            self._fail(code, f"the server refused the pipeline stream: {details}", reason, metadata)
        elif code is grpc.StatusCode.CANCELLED:
            self._fail(code, f"the pipeline stream was cancelled: {details}")
        else:
            self._fail(grpc.StatusCode.UNAVAILABLE, f"the pipeline stream failed: {details}")

    def _fail(
        self, code: grpc.StatusCode, message: str, reason: Optional[str] = None, metadata: Optional[Mapping[str, str]] = None
    ) -> None:
        with self._cond:
            if self._dead:
                return
            self._dead = True
            pending = list(self._pending.values())
            self._pending.clear()
            self._queue.clear()
            self._cancel_ids = []
            # A dead stream drops its waiters on the server: no result can arrive any more.
            self._abandoned_locks.clear()
            self._cond.notify_all()
        for op in pending:
            op.error = StatewardError(code, message, reason, metadata)
            op.done.release()


def closed_error() -> StatewardError:
    return StatewardError(grpc.StatusCode.CANCELLED, "the client is closed", ClientReason.CLIENT_CLOSED.value)
