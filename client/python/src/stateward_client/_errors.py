"""The one exception class of the client, and how a refusal's reason is read."""

from __future__ import annotations

import enum
from typing import Iterable, Mapping, Optional, Tuple

import grpc
from google.protobuf.message import DecodeError
from google.rpc import error_details_pb2, status_pb2

from ._gen.stateward.v1 import errors_pb2

__all__ = ["ERROR_DOMAIN", "REASON_TRAILER", "STATUS_DETAILS_TRAILER", "ClientReason", "ErrorReason", "StatewardError"]

#: The stable reasons of the contract (``stateward.v1.ErrorReason``, proto/stateward/v1/errors.proto):
#: ``ErrorReason.STALE_LOCK_ID`` is the number, ``ErrorReason.Name(...)`` the name that
#: :attr:`StatewardError.reason` holds.
ErrorReason = errors_pb2.ErrorReason

#: Standard trailer with the serialized ``google.rpc.Status`` whose details hold the refusal's
#: ``google.rpc.ErrorInfo`` (reason, domain, metadata).
STATUS_DETAILS_TRAILER = "grpc-status-details-bin"

#: Trailer in which servers also send the bare reason (e.g. ``STALE_LOCK_ID``); the only one that
#: servers before the ErrorInfo send, hence the fallback.
REASON_TRAILER = "stateward-reason"

#: ``google.rpc.ErrorInfo.domain`` of Stateward's reasons.
ERROR_DOMAIN = "stateward.v1"

_ERROR_INFO_TYPE = error_details_pb2.ErrorInfo.DESCRIPTOR.full_name


class ClientReason(str, enum.Enum):
    """The reasons the client itself gives (in :attr:`StatewardError.reason`), the same names for
    the same events as the TypeScript and Go clients (``docs/client-behaviour.md``). Members are
    strings: ``e.reason == ClientReason.LOCK_WAIT_TIMEOUT``."""

    #: ``ABORTED``: :meth:`SessionClient.locked` waited, and another holder still held the lock.
    LOCK_WAIT_TIMEOUT = "LOCK_WAIT_TIMEOUT"
    #: ``NOT_FOUND``: :meth:`SessionClient.locked` with ``create=False`` found no session.
    SESSION_NOT_FOUND = "SESSION_NOT_FOUND"
    #: ``INTERNAL``: the server answered an outcome this client does not know.
    UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"
    #: ``CANCELLED``: the client was closed.
    CLIENT_CLOSED = "CLIENT_CLOSED"


class StatewardError(Exception):
    """A failed Stateward call.

    Attributes:
        code: the gRPC status code (``grpc.StatusCode``): ``ABORTED`` for a conflicting write
            (lock held by someone else, stale lock id, version mismatch), ``INVALID_ARGUMENT``,
            ``RESOURCE_EXHAUSTED``, ``UNAVAILABLE`` (also a refused TLS handshake),
            ``DEADLINE_EXCEEDED``; against a server with an auth file ``UNAUTHENTICATED`` (reason
            ``MISSING_CREDENTIAL`` or ``UNKNOWN_CREDENTIAL``) and ``PERMISSION_DENIED``
            (``APP_NOT_ALLOWED``, ``READ_ONLY_PRINCIPAL``, with ``principal`` and ``app`` in
            :attr:`metadata`)...
        reason: the server's stable reason, the name of an :data:`ErrorReason` (from the
            ``google.rpc.ErrorInfo`` in the ``grpc-status-details-bin`` trailer, or the
            ``stateward-reason`` trailer of older servers), for branching without parsing
            messages; or a client-side reason (a :class:`ClientReason`: ``LOCK_WAIT_TIMEOUT``,
            ``SESSION_NOT_FOUND``, ``UNKNOWN_OUTCOME``, ``CLIENT_CLOSED``; and ``INVALID_FIELD`` for a
            value the wire cannot carry, refused before sending); ``None`` if none was sent. A newer
            server's reason that this client's :data:`ErrorReason` lacks is passed through as it came.
        details: the status message.
        metadata: the facts that go with the reason (the ErrorInfo's metadata, e.g. ``field`` and
            ``limit`` for ``INVALID_FIELD``; the keys of each reason are documented in errors.proto);
            empty when none were sent.
    """

    def __init__(
        self,
        code: grpc.StatusCode,
        details: str,
        reason: Optional[str] = None,
        metadata: Optional[Mapping[str, str]] = None,
    ) -> None:
        self.code = code
        self.details = details
        self.reason = reason
        self.metadata: dict[str, str] = dict(metadata or {})
        suffix = f" [{reason}]" if reason else ""
        super().__init__(f"{code.name}: {details}{suffix}")

    @property
    def error_reason(self) -> int:
        """:attr:`reason` as an :data:`ErrorReason` number (``e.error_reason == ErrorReason.STALE_LOCK_ID``);
        ``ERROR_REASON_UNSPECIFIED`` when there is none, or it is a client-side reason or one this
        client does not know."""
        if self.reason is None or self.reason == "ERROR_REASON_UNSPECIFIED":
            return ErrorReason.ERROR_REASON_UNSPECIFIED
        try:
            return ErrorReason.Value(self.reason)
        except ValueError:
            return ErrorReason.ERROR_REASON_UNSPECIFIED

    @classmethod
    def from_rpc_error(cls, error: grpc.RpcError) -> "StatewardError":
        """Wraps an error raised by a gRPC call, with the reason from its trailers if present."""
        code = grpc.StatusCode.UNKNOWN
        details = str(error)
        reason: Optional[str] = None
        metadata: Mapping[str, str] = {}
        if isinstance(error, grpc.Call):
            code = error.code() or grpc.StatusCode.UNKNOWN
            details = error.details() or ""
            reason, metadata = _reason_of_trailers(error.trailing_metadata() or ())
        return cls(code, details, reason, metadata)


def _reason_of_trailers(trailers: Iterable[Tuple[str, str | bytes]]) -> Tuple[Optional[str], Mapping[str, str]]:
    """The reason and its metadata in a call's trailing metadata: the ErrorInfo in
    ``grpc-status-details-bin`` first; else the bare ``stateward-reason`` (no metadata). A details
    trailer that does not parse or holds no ErrorInfo (a proxy's, say) falls back too."""
    details: Optional[bytes] = None
    legacy: Optional[str] = None
    for key, value in trailers:
        if key == STATUS_DETAILS_TRAILER and details is None and isinstance(value, bytes):
            details = value
        elif key == REASON_TRAILER and legacy is None:
            legacy = value if isinstance(value, str) else value.decode("utf-8", "replace")
    if details is not None:
        info = _error_info(details)
        if info is not None and info.reason:
            return info.reason, dict(info.metadata)
    return legacy, {}


def _error_info(serialized: bytes) -> Optional[error_details_pb2.ErrorInfo]:
    """The ErrorInfo of a serialized google.rpc.Status (Stateward's domain first), or None."""
    status = status_pb2.Status()
    try:
        status.ParseFromString(serialized)
    except DecodeError:
        return None
    chosen: Optional[error_details_pb2.ErrorInfo] = None
    for detail in status.details:
        if detail.TypeName() != _ERROR_INFO_TYPE:
            continue
        info = error_details_pb2.ErrorInfo()
        try:
            detail.Unpack(info)
        except DecodeError:
            continue
        if info.domain == ERROR_DOMAIN:
            return info
        if chosen is None:
            chosen = info
    return chosen
