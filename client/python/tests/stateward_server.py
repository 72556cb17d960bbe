"""Starts a real Stateward server (node server/dist/cli.js) on 127.0.0.1 for the tests.

The repository root is found from this file. The server must have been built (`npx tsc -b`, done by
`make test-python`); STATEWARD_SERVER_CLI may name another built cli.js.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Optional

import grpc

READY_TIMEOUT_S = 20.0


def repo_root() -> Path:
    return Path(__file__).resolve().parents[3]


def server_cli() -> Path:
    env = os.environ.get("STATEWARD_SERVER_CLI")
    return Path(env) if env else repo_root() / "server" / "dist" / "cli.js"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _channel(address: str, tls_ca: Optional[Path]) -> grpc.Channel:
    if tls_ca is None:
        return grpc.insecure_channel(address)
    return grpc.secure_channel(address, grpc.ssl_channel_credentials(root_certificates=tls_ca.read_bytes()))


def _health_serving(address: str, timeout: float, tls_ca: Optional[Path] = None) -> bool:
    """One grpc.health.v1.Health/Check call (which needs no credentials, even with an auth file);
    True when the server answers SERVING."""
    with _channel(address, tls_ca) as channel:
        check = channel.unary_unary(
            "/grpc.health.v1.Health/Check",
            request_serializer=lambda _: b"",  # HealthCheckRequest{service: ""} is empty on the wire
            response_deserializer=lambda raw: raw,
        )
        try:
            response = check(None, timeout=timeout)
        except grpc.RpcError:
            return False
    return response == b"\x08\x01"  # HealthCheckResponse{status: SERVING}


class StatewardServer:
    """A server process on a free loopback port; use as a context manager. With ``tls_ca`` (the CA
    of its ``--tls-cert``), the readiness check speaks TLS."""

    def __init__(self, *args: str, tls_ca: Optional[Path] = None) -> None:
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self._args = args
        self._tls_ca = tls_ca
        self._proc: Optional[subprocess.Popen[bytes]] = None
        self._log = tempfile.TemporaryFile()

    def start(self) -> "StatewardServer":
        cli = server_cli()
        if not cli.exists():
            raise RuntimeError(f"{cli} is missing: build the server first (npx tsc -b, or make build)")
        self._proc = subprocess.Popen(
            ["node", str(cli), "serve", "--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warn", *self._args],
            stdout=self._log,
            stderr=self._log,
            cwd=repo_root(),
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        delay = 0.02
        while True:
            if self._proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self._proc.returncode} before it was ready:\n{self.log()}")
            if _health_serving(self.address, timeout=1.0, tls_ca=self._tls_ca):
                return self
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server was not ready within {READY_TIMEOUT_S} s:\n{self.log()}")
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def log(self) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-4000:]

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._log.close()

    def __enter__(self) -> "StatewardServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
