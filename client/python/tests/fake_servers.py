"""Test certificates (tools/test-certs/make-test-certs.sh, made per test run) and a fake
SessionState server, plaintext or TLS (optionally requiring a client certificate), that records the
``authorization`` metadata and the client certificate's CN of every call, and can refuse calls as an
auth file would (the reasons and metadata of proto/stateward/v1/errors.proto)."""

from __future__ import annotations

import subprocess
import threading
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Optional

import grpc
from google.protobuf import any_pb2
from google.rpc import error_details_pb2, status_pb2

from stateward_client import ERROR_DOMAIN, STATUS_DETAILS_TRAILER
from stateward_client._gen.stateward.v1 import session_state_pb2 as pb
from stateward_client._gen.stateward.v1 import session_state_pb2_grpc as pb_grpc

from fake_pipeline import serve_pipeline
from stateward_server import repo_root

#: The CN of the client certificate make-test-certs.sh makes by default (and of other-client.pem).
CLIENT_CN = "web-01.example"


def make_test_certs(directory: Path) -> Path:
    """Writes the test certificates into ``directory`` (see the script for the files) and returns it."""
    script = repo_root() / "tools" / "test-certs" / "make-test-certs.sh"
    subprocess.run(["bash", str(script), str(directory)], check=True, capture_output=True, timeout=60)
    return directory


@dataclass(frozen=True)
class Principal:
    """A principal of the fake's auth table (the shape of an auth-file entry)."""

    name: str
    apps: tuple[str, ...]
    access: str  # "read-only" | "read-write"


@dataclass(frozen=True)
class Seen:
    """What the fake saw of one call."""

    method: str
    authorization: tuple[str, ...]
    client_cn: Optional[str]


def _refuse(context: grpc.ServicerContext, code: grpc.StatusCode, message: str, reason: str, metadata: Mapping[str, str]) -> None:
    detail = any_pb2.Any()
    detail.Pack(error_details_pb2.ErrorInfo(reason=reason, domain=ERROR_DOMAIN, metadata=dict(metadata)))
    status = status_pb2.Status(code=code.value[0], message=message, details=[detail])
    context.set_trailing_metadata(((STATUS_DETAILS_TRAILER, status.SerializeToString()),))
    context.abort(code, message)


class _Servicer(pb_grpc.SessionStateServicer):
    def __init__(self, tokens: Optional[Mapping[str, Principal]]) -> None:
        self._tokens = tokens
        self.seen: list[Seen] = []
        self._lock = threading.Lock()

    def _admit(self, method: str, app: str, writes: bool, context: grpc.ServicerContext) -> None:
        authorization = tuple(str(v) for k, v in context.invocation_metadata() if k == "authorization")
        cns = context.auth_context().get("x509_common_name") or ()  # a list of bytes, if any
        cn = bytes(next(iter(cns))).decode() if cns else None
        with self._lock:
            self.seen.append(Seen(method, authorization, cn))
        if self._tokens is None:
            return
        if not authorization:
            _refuse(context, grpc.StatusCode.UNAUTHENTICATED, "a credential is required", "MISSING_CREDENTIAL", {})
        token = authorization[0].removeprefix("Bearer ")
        principal = self._tokens.get(token)
        if principal is None:
            _refuse(context, grpc.StatusCode.UNAUTHENTICATED, "unknown credential", "UNKNOWN_CREDENTIAL", {})
            return
        facts = {"principal": principal.name, "app": app}
        if app not in principal.apps and "*" not in principal.apps:
            _refuse(context, grpc.StatusCode.PERMISSION_DENIED, f"{principal.name} may not use app {app}", "APP_NOT_ALLOWED", facts)
        if writes and principal.access == "read-only":
            _refuse(
                context,
                grpc.StatusCode.PERMISSION_DENIED,
                f"{principal.name} is read-only",
                "READ_ONLY_PRINCIPAL",
                {**facts, "access": "read-only", "required": "read-write"},
            )

    def Get(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802 (generated names)
        self._admit("Get", request.app, False, context)
        return pb.GetResponse(outcome=pb.OUTCOME_NOT_FOUND)

    def Set(self, request: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        self._admit("Set", request.app, True, context)
        return pb.SetResponse(version=1, written=True)

    def Pipeline(self, request_iterator: Any, context: grpc.ServicerContext) -> Any:  # noqa: N802
        # Each operation admitted as its unary twin, with the stream's metadata and peer.
        return serve_pipeline(self, request_iterator, context)


class FakeServer:
    """A fake SessionState server on 127.0.0.1, port 0; use as a context manager.

    Args:
        certs: the directory of make_test_certs; ``None`` for plaintext.
        cert: the server certificate's base name in ``certs`` ("server", "expired", ...).
        client_ca: require a client certificate chaining to this CA file (mutual TLS).
        tokens: the auth table (token -> principal); ``None`` admits every call.
    """

    def __init__(
        self,
        certs: Optional[Path] = None,
        *,
        cert: str = "server",
        client_ca: Optional[Path] = None,
        tokens: Optional[Mapping[str, Principal]] = None,
    ) -> None:
        self.servicer = _Servicer(tokens)
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        pb_grpc.add_SessionStateServicer_to_server(self.servicer, self._server)  # type: ignore[no-untyped-call]
        if certs is None:
            port = self._server.add_insecure_port("127.0.0.1:0")
        else:
            pair = ((certs / f"{cert}.key").read_bytes(), (certs / f"{cert}.pem").read_bytes())
            credentials = grpc.ssl_server_credentials(
                [pair],
                root_certificates=client_ca.read_bytes() if client_ca else None,
                require_client_auth=client_ca is not None,
            )
            port = self._server.add_secure_port("127.0.0.1:0", credentials)
        self.address = f"127.0.0.1:{port}"

    @property
    def seen(self) -> list[Seen]:
        return list(self.servicer.seen)

    def __enter__(self) -> "FakeServer":
        self._server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stop(None).wait()
