"""``SessionClient``: a thin, typed, partition-aware wrapper over the generated stubs."""

from __future__ import annotations

import math
import random
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Literal, Optional, Sequence, Tuple, TypeVar, Union

import grpc

from ._errors import ClientReason, StatewardError
from ._gen.stateward.v1 import session_state_pb2 as pb
from ._gen.stateward.v1 import session_state_pb2_grpc as pb_grpc
from ._pipeline import NotSent, PipelineStream, closed_error
from ._policy import (
    DEFAULT_ADDRESS,
    DEFAULT_CHANNEL_OPTIONS,
    DEFAULT_LOCK_WAIT_MS,
    DEFAULT_RETRY,
    DEFAULT_TIMEOUT,
    DEFAULT_TRANSPORT,
    DEFAULT_WAITER_LIMIT_RETRY,
    IDEMPOTENT_METHODS,
    RetryPolicy,
    Transport,
    WaiterLimitRetry,
    retry_service_config,
    retry_waiter_limit,
)
from ._types import (
    ExpireResult,
    GetResult,
    LockResult,
    Outcome,
    ReleaseResult,
    RemoveResult,
    SetResult,
)
from ._security import TlsOptions, channel_security
from .partitioning import Endpoint, EndpointLike, Partitioner

__all__ = ["LockedSession", "SessionClient"]

_OUTCOMES: "dict[int, Outcome]" = {
    pb.OUTCOME_OK: Outcome.OK,
    pb.OUTCOME_NOT_FOUND: Outcome.NOT_FOUND,
    pb.OUTCOME_LOCKED: Outcome.LOCKED,
}

T = TypeVar("T")
Metadata = Sequence[Tuple[str, str]]

#: The largest value of a uint32 request field.
_UINT32_MAX = 0xFFFFFFFF


def _outcome(value: int) -> Outcome:
    try:
        return _OUTCOMES[value]
    except KeyError:
        raise StatewardError(
            grpc.StatusCode.INTERNAL, f"server sent an unknown outcome {value}", ClientReason.UNKNOWN_OUTCOME.value
        ) from None


def _uint32(name: str, value: int) -> int:
    """A uint32 request field, refused here (as the server would refuse a bad field) when the wire
    cannot carry it, rather than failing deep in protobuf with a ``ValueError``."""
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _UINT32_MAX:
        raise StatewardError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"{name} must be an integer from 0 to {_UINT32_MAX}, got {value!r}",
            "INVALID_FIELD",
            {"field": name, "limit": str(_UINT32_MAX)},
        )
    return value


@dataclass
class LockedSession:
    """A session held under its lock by :meth:`SessionClient.locked`.

    Replace :attr:`data` to have it written back (with set-and-release) when the ``with`` block
    ends normally; leave it unchanged and the lock is only released.
    """

    app: str
    session_id: str = field(repr=False)
    #: The data; assign new bytes to write them back on exit.
    data: bytes = field(repr=False)
    #: The version read under the lock.
    version: int
    #: Your lock id (a fencing token).
    lock_id: int
    #: The session's ttl in seconds.
    ttl_seconds: int
    #: True if the session was created by this lock (``create=True``).
    created: bool
    #: Milliseconds the lease had left when it was granted.
    lease_ms: int
    #: After the block: the version written back, or ``None`` if only released.
    written_version: Optional[int] = None


class SessionClient:
    """Client of one Stateward node or a partitioned farm of them.

    Each (app, session_id) is routed to one endpoint by rendezvous hashing
    (``proto/PARTITIONING.md``), the same way as the TypeScript and Go clients, so every client
    configured with the same endpoints agrees on where a session lives.

    Args:
        endpoints: addresses (``"host:port"``) or :class:`Endpoint` objects (with an optional
            stable ``node_id``). At least one; default ``[DEFAULT_ADDRESS]`` (127.0.0.1:42424).
        timeout: default deadline of each call in seconds (5); a server-side wait (``wait_ms``) is
            added to it. A call's own ``timeout`` is its whole deadline, wait included.
        token: the bearer token of this client's principal (``stateward token create``), sent as
            ``authorization: Bearer <token>``. Over TLS (``tls`` or ``credentials``) it travels as
            gRPC call credentials; a plaintext channel refuses it (``ValueError``) unless
            ``insecure_token`` is set.
        tls: TLS for every endpoint (:class:`TlsOptions`: the CA, an optional client certificate
            and key for mutual TLS, a server name override); plaintext if neither this nor
            ``credentials`` is given.
        insecure_token: send ``token`` as plain metadata over a plaintext channel, for local
            development against a loopback server with an auth file. Anyone on the path can read
            it: never across a network. Changes nothing over TLS.
        credentials: channel credentials built by the caller (``grpc.ssl_channel_credentials``,
            ...), instead of ``tls``; a ``token`` is composed with them.
        metadata: metadata sent with every call (custom headers; the token goes in ``token``).
        options: gRPC channel options, over :data:`DEFAULT_CHANNEL_OPTIONS` (keepalive, reconnect
            backoff, no receive limit) and the retry service config.
        retry: retries of Get, Expire and Release on ``UNAVAILABLE`` (:data:`DEFAULT_RETRY`);
            ``False`` disables them.
        transport: ``"pipeline"`` (:data:`DEFAULT_TRANSPORT`): the operations of all threads
            travel batched over one long-lived ``Pipeline`` stream per endpoint, 2-4 times
            more operations per second than unary calls from many threads; ``"unary"``: one gRPC
            call per operation. Same results, errors (codes, reasons) and deadlines either way;
            on the pipeline a broken stream fails the operations in flight with ``UNAVAILABLE``
            (retried per ``retry`` for Get, Expire and Release only) and the next one opens a new
            stream.

    A client is safe to share between threads. Use it as a context manager, or call
    :meth:`close`.
    """

    def __init__(
        self,
        endpoints: Iterable[EndpointLike] = (DEFAULT_ADDRESS,),
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: Optional[str] = None,
        tls: Optional[TlsOptions] = None,
        insecure_token: bool = False,
        credentials: Optional[grpc.ChannelCredentials] = None,
        metadata: Optional[Metadata] = None,
        options: Optional[Sequence[Tuple[str, Any]]] = None,
        retry: Union[RetryPolicy, Literal[False]] = DEFAULT_RETRY,
        transport: Transport = DEFAULT_TRANSPORT,
    ) -> None:
        if transport not in ("pipeline", "unary"):
            raise ValueError(f'transport must be "pipeline" or "unary", got {transport!r}')
        self._partitioner = Partitioner(endpoints)
        self._transport: Transport = transport
        self._retry = retry
        self._timeout = timeout
        security = channel_security(
            token=token, tls=tls, credentials=credentials, insecure_token=insecure_token, metadata=tuple(metadata or ())
        )
        credentials = security.credentials
        all_metadata = (*(metadata or ()), *security.metadata)
        self._metadata = tuple(all_metadata) if all_metadata else None
        # The caller's options replace the defaults of the same name (the TLS name override too).
        merged = dict(DEFAULT_CHANNEL_OPTIONS)
        merged["grpc.service_config"] = retry_service_config(retry)
        merged.update(security.options)
        merged.update(options or ())
        channel_options = list(merged.items())
        self._channels: list[grpc.Channel] = []
        for ep in self._partitioner.endpoints:
            if credentials is None:
                channel = grpc.insecure_channel(ep.address, options=channel_options)
            else:
                channel = grpc.secure_channel(ep.address, credentials, options=channel_options)
            self._channels.append(channel)
        # The generated stub is untyped; the methods below type every call.
        self._stubs: list[Any] = [pb_grpc.SessionStateStub(c) for c in self._channels]  # type: ignore[no-untyped-call]
        # One Pipeline stream per endpoint, opened by the first operation and again after it broke.
        self._streams: list[Optional[PipelineStream]] = [None] * len(self._channels)
        self._closed = False
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def close(self) -> None:
        """Closes every channel. Calls in flight are cancelled."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            streams = [s for s in self._streams if s is not None]
        for stream in streams:
            stream.close(grpc.StatusCode.CANCELLED, "the client was closed", ClientReason.CLIENT_CLOSED.value)
        for channel in self._channels:
            channel.close()

    @property
    def transport(self) -> Transport:
        """The transport the operations travel over (``"pipeline"`` or ``"unary"``)."""
        return self._transport

    def __enter__(self) -> "SessionClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- routing ---------------------------------------------------------------------------------

    @property
    def endpoints(self) -> Sequence[Endpoint]:
        """The configured endpoints, in order."""
        return self._partitioner.endpoints

    def endpoint_for(self, app: str, session_id: str) -> Endpoint:
        """The endpoint that owns the session."""
        return self._partitioner.endpoint_for(app, session_id)

    def _call(self, method: str, app: str, session_id: str, request: Any, wait_ms: int, timeout: Optional[float]) -> Any:
        if self._closed:
            raise closed_error()
        index = self._partitioner.index_for(app, session_id)
        # The client's default covers the work; a waiting call gets its wait on top. A deadline the
        # caller gives is the whole deadline, as in the other clients and in gRPC.
        deadline = self._timeout + wait_ms / 1000.0 if timeout is None else timeout
        if self._transport == "pipeline":
            return self._pipeline_call(index, method, request, deadline)
        try:
            return getattr(self._stubs[index], method)(request, timeout=deadline, metadata=self._metadata)
        except grpc.RpcError as error:
            raise StatewardError.from_rpc_error(error) from None

    def _stream(self, index: int) -> PipelineStream:
        stream = self._streams[index]
        if stream is not None and not stream.dead:
            return stream
        with self._lock:
            if self._closed:
                raise closed_error()
            stream = self._streams[index]
            if stream is None or stream.dead:
                pipeline = self._stubs[index].Pipeline
                metadata = self._metadata
                stream = PipelineStream(lambda requests: pipeline(requests, metadata=metadata))
                self._streams[index] = stream
            return stream

    def _pipeline_call(self, index: int, method: str, request: Any, deadline: float) -> Any:
        """Runs an operation on the endpoint's stream within ``deadline`` seconds; an idempotent one
        that fails with ``UNAVAILABLE`` (a broken stream, a node restarting) is retried per the
        retry policy on a new stream, with the jittered backoff of gRPC's retries, within the same
        deadline. The others are never retried: they may have run."""
        kind = method.lower()
        retry = self._retry
        attempts = retry.max_attempts if retry is not False and method in IDEMPOTENT_METHODS else 1
        attempts = min(5, max(1, attempts))  # gRPC's own cap, as the unary transport has it
        backoff = 0.0 if retry is False else max(1, retry.initial_backoff_ms) / 1000.0
        end = time.monotonic() + max(0.0, deadline)
        attempt = 1
        # A stream can die between being picked and taking the operation: such an operation never
        # left, so it goes on the next stream without counting as an attempt (a few times at most).
        unsent = 0
        while True:
            left = end - time.monotonic()
            # The operation's own deadline travels with it (a waiting Get or Lock is answered
            # OUTCOME_LOCKED shortly before it); the local wait is the same bound.
            timeout_ms = min(_UINT32_MAX, max(1, math.ceil(left * 1000)))
            try:
                if left <= 0:
                    raise StatewardError(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed before the operation was sent")
                return self._stream(index).run(kind, request, timeout_ms, left)
            except NotSent:
                unsent += 1
                if unsent > 3 or self._closed:
                    raise
                continue
            except StatewardError as error:
                delay = random.random() * backoff
                if (
                    attempt >= attempts
                    or error.code is not grpc.StatusCode.UNAVAILABLE
                    or self._closed
                    or time.monotonic() + delay >= end
                    or retry is False
                ):
                    raise
                time.sleep(delay)
                backoff = min(backoff * max(1.0, retry.backoff_multiplier), max(1, retry.max_backoff_ms) / 1000.0)
                attempt += 1

    # -- the six calls ---------------------------------------------------------------------------

    def get(self, app: str, session_id: str, *, wait_ms: int = 0, timeout: Optional[float] = None) -> GetResult:
        """Reads a session without locking it (ASP.NET GetItem).

        With ``wait_ms``, a locked session is waited for on the server (FIFO) instead of
        answering ``Outcome.LOCKED`` at once.
        """
        wait_ms = _uint32("wait_ms", wait_ms)
        r = self._call("Get", app, session_id, pb.GetRequest(app=app, session_id=session_id, wait_ms=wait_ms), wait_ms, timeout)
        return GetResult(
            outcome=_outcome(r.outcome),
            data=r.data,
            version=r.version,
            lock_id=r.lock_id,
            lock_age_ms=r.lock_age_ms,
            ttl_seconds=r.ttl_seconds,
        )

    def lock(
        self,
        app: str,
        session_id: str,
        *,
        wait_ms: int = 0,
        lease_ms: int = 0,
        create: bool = False,
        ttl_seconds: int = 0,
        timeout: Optional[float] = None,
    ) -> LockResult:
        """Takes the session's exclusive lock and reads it (ASP.NET GetItemExclusive).

        Args:
            wait_ms: wait on the server up to this long for a held lock (0: answer at once).
            lease_ms: the lease; 0 = the server default (110 s).
            create: create a missing session empty and lock it atomically.
            ttl_seconds: ttl of a session created by this call; 0 = server default.
        """
        req = pb.LockRequest(
            app=app,
            session_id=session_id,
            wait_ms=_uint32("wait_ms", wait_ms),
            lease_ms=_uint32("lease_ms", lease_ms),
            create=create,
            ttl_seconds=_uint32("ttl_seconds", ttl_seconds),
        )
        r = self._call("Lock", app, session_id, req, wait_ms, timeout)
        return LockResult(
            outcome=_outcome(r.outcome),
            data=r.data,
            version=r.version,
            lock_id=r.lock_id,
            lock_age_ms=r.lock_age_ms,
            ttl_seconds=r.ttl_seconds,
            created=r.created,
            lease_ms=r.lease_ms,
        )

    def set(
        self,
        app: str,
        session_id: str,
        data: bytes,
        *,
        ttl_seconds: int = 0,
        lock_id: int = 0,
        keep_lock: bool = False,
        expected_version: int = 0,
        only_if_absent: bool = False,
        timeout: Optional[float] = None,
    ) -> SetResult:
        """Writes a session. With ``lock_id`` (the holder's) the write also releases the lock
        unless ``keep_lock`` (ASP.NET SetAndReleaseItemExclusive).

        Raises:
            StatewardError: ``ABORTED`` if the session is locked by someone else, the lock id is
                stale, or ``expected_version`` differs; nothing was written.
        """
        req = pb.SetRequest(
            app=app,
            session_id=session_id,
            data=bytes(data),
            ttl_seconds=_uint32("ttl_seconds", ttl_seconds),
            lock_id=lock_id,
            keep_lock=keep_lock,
            expected_version=expected_version,
            only_if_absent=only_if_absent,
        )
        r = self._call("Set", app, session_id, req, 0, timeout)
        return SetResult(version=r.version, written=r.written)

    def release(self, app: str, session_id: str, lock_id: int, *, timeout: Optional[float] = None) -> ReleaseResult:
        """Releases the lock given the holder's lock id (also a forced release). Never an error
        for a wrong id: ``released`` is then False."""
        r = self._call("Release", app, session_id, pb.ReleaseRequest(app=app, session_id=session_id, lock_id=lock_id), 0, timeout)
        return ReleaseResult(released=r.released)

    def expire(self, app: str, session_id: str, *, ttl_seconds: int = 0, timeout: Optional[float] = None) -> ExpireResult:
        """Restarts the session's sliding window, with a new ttl if ``ttl_seconds`` > 0."""
        r = self._call(
            "Expire",
            app,
            session_id,
            pb.ExpireRequest(app=app, session_id=session_id, ttl_seconds=_uint32("ttl_seconds", ttl_seconds)),
            0,
            timeout,
        )
        return ExpireResult(found=r.found, ttl_seconds=r.ttl_seconds)

    def remove(self, app: str, session_id: str, *, lock_id: int = 0, timeout: Optional[float] = None) -> RemoveResult:
        """Deletes a session (Session.Abandon). A locked session needs the holder's lock id,
        otherwise ``StatewardError`` with ``ABORTED``."""
        r = self._call("Remove", app, session_id, pb.RemoveRequest(app=app, session_id=session_id, lock_id=lock_id), 0, timeout)
        return RemoveResult(removed=r.removed)

    # -- the request pattern -----------------------------------------------------------------------

    @contextmanager
    def locked(
        self,
        app: str,
        session_id: str,
        *,
        wait_ms: int = DEFAULT_LOCK_WAIT_MS,
        lease_ms: int = 0,
        create: bool = True,
        ttl_seconds: int = 0,
        timeout: Optional[float] = None,
        waiter_limit_retry: Union[WaiterLimitRetry, Literal[False]] = DEFAULT_WAITER_LIMIT_RETRY,
    ) -> Iterator[LockedSession]:
        """Holds the session's lock for the ``with`` block::

            with client.locked("shop", sid) as s:
                s.data = update(s.data)

        Acquires with server-side waiting (up to ``wait_ms``, default 10 s), creating a missing
        session unless ``create=False``. On normal exit, writes ``s.data`` back with set-and-release
        if it was replaced by different bytes, and only releases otherwise; on an exception,
        releases and re-raises. Nothing is renewed silently: if the lease ended meanwhile, the write
        fails with ``StatewardError`` (``ABORTED``). A refused write releases the lock before raising.

        ``wait_ms`` is the whole budget for taking the lock: a Lock refused because the session's
        queue was full (``TOO_MANY_WAITERS``) is retried within it, per ``waiter_limit_retry``
        (``False``: raise it at once). ``timeout``, when given, is each call's whole deadline (the
        Lock's retries together), wait included.

        Raises:
            StatewardError: reason ``LOCK_WAIT_TIMEOUT`` (code ``ABORTED``) if the lock was still
                held by another when the wait ran out; reason ``SESSION_NOT_FOUND`` (code
                ``NOT_FOUND``) with ``create=False`` and no such session; or any call failure.
        """
        r = retry_waiter_limit(
            waiter_limit_retry,
            _uint32("wait_ms", wait_ms),
            timeout,
            lambda wait_left, timeout_left: self.lock(
                app,
                session_id,
                wait_ms=wait_left,
                lease_ms=lease_ms,
                create=create,
                ttl_seconds=ttl_seconds,
                timeout=timeout_left,
            ),
        )
        if r.outcome is Outcome.LOCKED:
            # ABORTED, as the server's LOCKED_BY_OTHER for the same conflict without a wait: the
            # call itself did not run out of time, and nothing was done.
            raise StatewardError(
                grpc.StatusCode.ABORTED,
                f"the session was still locked by another holder after waiting {wait_ms} ms",
                ClientReason.LOCK_WAIT_TIMEOUT.value,
            )
        if r.outcome is Outcome.NOT_FOUND:
            raise StatewardError(grpc.StatusCode.NOT_FOUND, "no such session", ClientReason.SESSION_NOT_FOUND.value)
        session = LockedSession(
            app=app,
            session_id=session_id,
            data=r.data,
            version=r.version,
            lock_id=r.lock_id,
            ttl_seconds=r.ttl_seconds,
            created=r.created,
            lease_ms=r.lease_ms,
        )
        try:
            yield session
        except BaseException:
            _release_quietly(lambda: self.release(app, session_id, r.lock_id, timeout=timeout))
            raise
        if bytes(session.data) != r.data:
            try:
                written = self.set(app, session_id, session.data, lock_id=r.lock_id, timeout=timeout)
            except StatewardError:
                # A refused write (too large, memory budget...) leaves the lock held: let it go.
                _release_quietly(lambda: self.release(app, session_id, r.lock_id, timeout=timeout))
                raise
            session.written_version = written.version
        else:
            self.release(app, session_id, r.lock_id, timeout=timeout)


def _release_quietly(release: Callable[[], object]) -> None:
    """Releases on the error path without hiding the original exception."""
    try:
        release()
    except StatewardError:
        pass
