"""How StatewardError reads a refusal's reason: the google.rpc.ErrorInfo in grpc-status-details-bin
first, the legacy stateward-reason trailer of older servers otherwise. A fake SessionState server
plays both kinds (no Stateward server needed)."""

from __future__ import annotations

from concurrent import futures
from typing import Iterator

import grpc
import pytest
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from stateward_client import (
    ERROR_DOMAIN,
    REASON_TRAILER,
    STATUS_DETAILS_TRAILER,
    ErrorReason,
    SessionClient,
    StatewardError,
)
from stateward_client._gen.stateward.v1 import session_state_pb2_grpc

APP = "py-errors"


def _status_details(code: grpc.StatusCode, message: str, reason: str, metadata: dict[str, str]) -> bytes:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=metadata))
    return status_pb2.Status(code=code.value[0], message=message, details=[detail]).SerializeToString()


class _Refusing(session_state_pb2_grpc.SessionStateServicer):
    """Set: both trailers (a current server). Remove: the legacy trailer only (an older server).
    Expire: details that do not parse, and the legacy trailer."""

    def Set(self, request, context):  # noqa: N802 (the generated servicer's names)
        message = "data is 2048 bytes; the limit is 1024"
        metadata = {"field": "data", "limit": "1024", "size": "2048"}
        details = _status_details(grpc.StatusCode.INVALID_ARGUMENT, message, "ITEM_TOO_LARGE", metadata)
        context.set_trailing_metadata(((STATUS_DETAILS_TRAILER, details), (REASON_TRAILER, "ITEM_TOO_LARGE")))
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, message)

    def Remove(self, request, context):  # noqa: N802
        context.set_trailing_metadata(((REASON_TRAILER, "LOCKED_BY_OTHER"),))
        context.abort(grpc.StatusCode.ABORTED, "locked")

    def Expire(self, request, context):  # noqa: N802
        context.set_trailing_metadata(((STATUS_DETAILS_TRAILER, b"\xff\xff"), (REASON_TRAILER, "SESSION_GONE")))
        context.abort(grpc.StatusCode.ABORTED, "gone")


@pytest.fixture(scope="module")
def fake_client() -> Iterator[SessionClient]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    session_state_pb2_grpc.add_SessionStateServicer_to_server(_Refusing(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        # The trailers are unary's: the pipeline carries the reason in each OperationError.
        with SessionClient(endpoints=[f"127.0.0.1:{port}"], timeout=10.0, transport="unary") as client:
            yield client
    finally:
        server.stop(None)


def test_reason_and_metadata_from_the_error_info(fake_client: SessionClient) -> None:
    with pytest.raises(StatewardError) as info:
        fake_client.set(APP, "sid", b"x")
    e = info.value
    assert e.code is grpc.StatusCode.INVALID_ARGUMENT
    assert e.reason == "ITEM_TOO_LARGE" and e.error_reason == ErrorReason.ITEM_TOO_LARGE
    assert e.metadata == {"field": "data", "limit": "1024", "size": "2048"}


def test_legacy_trailer_of_older_servers(fake_client: SessionClient) -> None:
    with pytest.raises(StatewardError) as info:
        fake_client.remove(APP, "sid")
    assert info.value.reason == "LOCKED_BY_OTHER" and info.value.error_reason == ErrorReason.LOCKED_BY_OTHER
    assert info.value.metadata == {}


def test_unparsable_details_fall_back_to_the_legacy_trailer(fake_client: SessionClient) -> None:
    with pytest.raises(StatewardError) as info:
        fake_client.expire(APP, "sid")
    assert info.value.reason == "SESSION_GONE" and info.value.metadata == {}


def test_error_reason_of_client_and_unknown_reasons() -> None:
    unspecified = ErrorReason.ERROR_REASON_UNSPECIFIED
    assert StatewardError(grpc.StatusCode.NOT_FOUND, "x", "SESSION_NOT_FOUND").error_reason == unspecified
    newer = StatewardError(grpc.StatusCode.ABORTED, "x", "A_REASON_OF_A_NEWER_SERVER")
    assert newer.reason == "A_REASON_OF_A_NEWER_SERVER" and newer.error_reason == unspecified
    assert StatewardError(grpc.StatusCode.UNAVAILABLE, "x").error_reason == unspecified
    assert ErrorReason.Name(ErrorReason.STALE_LOCK_ID) == "STALE_LOCK_ID"
