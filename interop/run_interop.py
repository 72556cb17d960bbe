"""The interop scenario: Python, Go and TypeScript clients on one Stateward server, then Python and
Go again on a server with TLS and an auth file.

Plaintext (``make run``'s server):

1. Python (the stateward-client wheel) locks a new session with ``client.locked`` and writes it.
2. While Python holds the lock, Go observes it (OUTCOME_LOCKED with Python's lock id), then waits
   for it on the server (Lock with wait), reads what Python wrote, releases, and reads it once more
   through ``WithLock``.
3. TypeScript (the generated client of @stateward/protocol) reads it, takes its lock and removes it.
4. Python sees it gone.

TLS and tokens (``--tls-cert``, ``--tls-key``, ``--auth-file``; certificates made for this run by
tools/test-certs/make-test-certs.sh, tokens minted here, the auth file holding only their SHA-256):
steps 1 and 2 again, each client with its own principal's token and the test CA; then the refusals
as typed errors: Go on an app its principal lacks (PERMISSION_DENIED, APP_NOT_ALLOWED), Python
without a token (UNAUTHENTICATED, MISSING_CREDENTIAL), a read-only principal's write
(PERMISSION_DENIED, READ_ONLY_PRINCIPAL) while its read works, and a plaintext client on the TLS
port (UNAVAILABLE); Python removes the session.

Lock ids must agree (Go sees Python's; each new lock id is larger: fencing tokens) and so must
versions and data. Run with the Python of a venv where the wheel is installed, from the repository
root, after `npx tsc -b`:  python interop/run_interop.py
Output: JSON events with lock ids and versions; never the session id, the data or a token.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import secrets
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import IO, Any, Callable

import grpc

from stateward_client import Outcome, SessionClient, StatewardError, TlsOptions

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "client" / "python" / "tests"))
from stateward_server import StatewardServer  # noqa: E402

APP = "interop"
#: An app none of the TLS scenario's principals may use.
DENIED_APP = "interop-denied"
STEP_TIMEOUT_S = 60.0


class Failure(Exception):
    pass


def check(condition: bool, what: str) -> None:
    if not condition:
        raise Failure(what)


def lines_of(stream: IO[str]) -> "queue.Queue[str | None]":
    q: "queue.Queue[str | None]" = queue.Queue()

    def pump() -> None:
        for line in stream:
            q.put(line)
        q.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return q


def next_event(q: "queue.Queue[str | None]", name: str) -> dict[str, Any]:
    deadline = time.monotonic() + STEP_TIMEOUT_S
    while True:
        remaining = deadline - time.monotonic()
        check(remaining > 0, f"timed out waiting for the Go event {name!r}")
        line = q.get(timeout=remaining)
        check(line is not None, f"the Go participant ended before the event {name!r}")
        assert line is not None
        event = json.loads(line)
        if event.get("event") == name:
            return event


def build_go(out_dir: str) -> str:
    binary = os.path.join(out_dir, "interop-go")
    subprocess.run(["go", "build", "-o", binary, "."], cwd=ROOT / "interop" / "go", check=True, timeout=300)
    return binary


def report(step: str, **values: Any) -> None:
    print(json.dumps({"step": step, **values}), flush=True)


def python_then_go(client: SessionClient, go_binary: str, env: dict[str, str], sid: str, payload: bytes) -> tuple[int, dict[str, Any]]:
    """Steps 1 and 2: Python writes under its lock, Go waits for it and reads. Returns the version
    Python wrote and the Go participant's events after the lock (``locked``, ``with-lock`` and,
    when asked, ``denied``)."""
    digest = hashlib.sha256(payload).hexdigest()
    go: "subprocess.Popen[str] | None" = None
    try:
        with client.locked(APP, sid) as s:
            check(s.created and s.version == 1, "Python did not create the session")
            s.data = payload
            python_lock_id = s.lock_id
            report("python-locked", lock_id=python_lock_id, version=s.version)
            go = subprocess.Popen([go_binary], env=env, stdout=subprocess.PIPE, stderr=sys.stderr, text=True)
            events = lines_of(go.stdout)  # type: ignore[arg-type]
            observed = next_event(events, "observed")
            check(observed["outcome"] == "locked", f"Go saw {observed['outcome']}, not locked")
            check(observed["holder_lock_id"] == python_lock_id, "Go saw another holder's lock id")
            next_event(events, "waiting")
            # Ordering only (not readiness): let Go's waiting Lock reach the server's queue before
            # the release. If it arrived later it would be granted at once and every check
            # below would still hold; waited_ms shows which happened.
            time.sleep(0.3)
        python_version = s.written_version
        check(python_version == 2, f"Python wrote version {python_version}, expected 2")
        assert python_version is not None
        report("python-wrote", version=python_version, released_lock_id=python_lock_id)

        locked = next_event(events, "locked")
        report("go-locked", lock_id=locked["lock_id"], version=locked["version"], waited_ms=locked["waited_ms"])
        check(locked["outcome"] == "ok", "Go did not get the lock")
        check(locked["lock_id"] > python_lock_id, "Go's lock id is not larger than Python's")
        check(locked["version"] == python_version, "Go read another version than Python wrote")
        check(locked["data_sha256"] == digest, "Go read other data than Python wrote")
        check(locked["released"] is True, "Go could not release its lock")
        with_lock = next_event(events, "with-lock")
        check(with_lock["data_sha256"] == digest, "WithLock read other data")
        check(with_lock["version_after"] == python_version, "a read-only WithLock changed the version")
        go_events: dict[str, Any] = {"locked": locked, "with-lock": with_lock}
        if "STATEWARD_DENIED_APP" in env:
            go_events["denied"] = next_event(events, "denied")
        check(go.wait(timeout=STEP_TIMEOUT_S) == 0, "the Go participant failed")
        return python_version, go_events
    finally:
        if go is not None and go.poll() is None:
            go.kill()
            go.wait()


def scenario(server: StatewardServer, go_binary: str) -> None:
    sid = "interop-" + secrets.token_hex(12)
    env = {**os.environ, "STATEWARD_ADDR": server.address, "STATEWARD_APP": APP, "STATEWARD_SESSION": sid}
    for name in ("STATEWARD_CA_FILE", "STATEWARD_TOKEN", "STATEWARD_DENIED_APP"):
        env.pop(name, None)
    payload = b"written by python " + secrets.token_bytes(16)
    digest = hashlib.sha256(payload).hexdigest()

    with SessionClient(endpoints=[server.address]) as client:
        python_version, go_events = python_then_go(client, go_binary, env, sid, payload)
        locked = go_events["locked"]

        ts = subprocess.run(
            ["npx", "--no-install", "tsx", "interop/ts/remove.ts"],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=STEP_TIMEOUT_S,
        )
        check(ts.returncode == 0, f"the TypeScript participant failed:\n{ts.stderr[-2000:]}")
        removed = json.loads([line for line in ts.stdout.splitlines() if line.startswith("{")][-1])
        ts_lock_id = int(removed["lock_id"])
        report("ts-removed", lock_id=ts_lock_id, version=int(removed["get_version"]), removed=removed["removed"])
        check(removed["get_outcome"] == "OUTCOME_OK", "TypeScript could not read the session")
        check(int(removed["get_version"]) == python_version, "TypeScript read another version")
        check(removed["data_sha256"] == digest, "TypeScript read other data")
        check(removed["lock_outcome"] == "OUTCOME_OK", "TypeScript could not lock the session")
        check(int(removed["lock_version"]) == python_version, "TypeScript locked another version")
        check(ts_lock_id > locked["lock_id"], "TypeScript's lock id is not larger than Go's")
        check(removed["removed"] is True and removed["after_outcome"] == "OUTCOME_NOT_FOUND", "the session was not removed")

        final = client.get(APP, sid)
        check(final.outcome is Outcome.NOT_FOUND, f"Python still sees the session ({final.outcome.value})")
        report("python-sees-removed", outcome=final.outcome.value)


class SecureSetup:
    """Certificates, tokens and the auth file of the TLS scenario, in a temporary directory."""

    def __init__(self, directory: Path) -> None:
        script = ROOT / "tools" / "test-certs" / "make-test-certs.sh"
        subprocess.run(["bash", str(script), str(directory)], check=True, capture_output=True, timeout=STEP_TIMEOUT_S)
        self.ca = directory / "ca.pem"
        self.cert = directory / "server.pem"
        self.key = directory / "server.key"
        # What `stateward token create` makes: 256 random bits, base64url.
        self.tokens = {name: secrets.token_urlsafe(32) for name in ("interop-python", "interop-go", "interop-reader")}
        access = {"interop-python": "read-write", "interop-go": "read-write", "interop-reader": "read-only"}
        principals = [
            {"name": name, "token_sha256": hashlib.sha256(token.encode("utf-8")).hexdigest(), "apps": [APP], "access": access[name]}
            for name, token in self.tokens.items()
        ]
        self.auth_file = directory / "auth.json"
        self.auth_file.write_text(json.dumps({"principals": principals}, indent=2), encoding="utf-8")

    def server_args(self) -> list[str]:
        return ["--tls-cert", str(self.cert), "--tls-key", str(self.key), "--auth-file", str(self.auth_file)]

    def tls(self) -> TlsOptions:
        return TlsOptions(ca_file=self.ca)


def refused(what: str, call: Callable[[], object]) -> StatewardError:
    try:
        call()
    except StatewardError as e:
        return e
    raise Failure(f"{what} was not refused")


def secure_scenario(server: StatewardServer, go_binary: str, setup: SecureSetup) -> None:
    sid = "interop-tls-" + secrets.token_hex(12)
    env = {
        **os.environ,
        "STATEWARD_ADDR": server.address,
        "STATEWARD_APP": APP,
        "STATEWARD_SESSION": sid,
        "STATEWARD_CA_FILE": str(setup.ca),
        "STATEWARD_TOKEN": setup.tokens["interop-go"],
        "STATEWARD_DENIED_APP": DENIED_APP,
    }
    payload = b"written by python over tls " + secrets.token_bytes(16)

    with SessionClient(endpoints=[server.address], token=setup.tokens["interop-python"], tls=setup.tls()) as client:
        python_version, go_events = python_then_go(client, go_binary, env, sid, payload)
        denied = go_events["denied"]
        report("go-denied", code=denied["code"], reason=denied["reason"])
        check(denied["code"] == "PermissionDenied" and denied["reason"] == "APP_NOT_ALLOWED", f"Go's call on {DENIED_APP} was not refused as APP_NOT_ALLOWED")
        check(denied["principal"] == "interop-go" and denied["app"] == DENIED_APP, "Go's refusal names another principal or app")

        with SessionClient(endpoints=[server.address], tls=setup.tls()) as anonymous:
            e = refused("a call without a token", lambda: anonymous.get(APP, sid))
        report("python-without-token", code=e.code.name, reason=e.reason)
        check(e.code is grpc.StatusCode.UNAUTHENTICATED and e.reason == "MISSING_CREDENTIAL", f"a call without a token: {e}")

        with SessionClient(endpoints=[server.address], token=setup.tokens["interop-reader"], tls=setup.tls()) as reader:
            read = reader.get(APP, sid)
            check(read.outcome is Outcome.OK and read.version == python_version, "the read-only principal could not read")
            e = refused("a read-only principal's write", lambda: reader.set(APP, sid, b"x"))
        report("python-read-only", code=e.code.name, reason=e.reason)
        check(e.code is grpc.StatusCode.PERMISSION_DENIED and e.reason == "READ_ONLY_PRINCIPAL", f"a read-only write: {e}")
        check(e.metadata.get("principal") == "interop-reader" and e.metadata.get("app") == APP, f"the read-only refusal's metadata: {e.metadata}")
        check(setup.tokens["interop-reader"] not in str(e), "the refusal shows the token")

        with SessionClient(endpoints=[server.address], timeout=5.0) as plaintext:
            e = refused("a plaintext call on the TLS port", lambda: plaintext.get(APP, sid))
        report("python-plaintext-on-tls", code=e.code.name)
        check(e.code is grpc.StatusCode.UNAVAILABLE, f"a plaintext call on the TLS port: {e}")

        check(client.remove(APP, sid).removed, "Python could not remove the session")
        final = client.get(APP, sid)
        check(final.outcome is Outcome.NOT_FOUND, f"Python still sees the session ({final.outcome.value})")
        report("python-removed", outcome=final.outcome.value)


def main() -> int:
    passed, failed = 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        go_binary = build_go(tmp)
        setup = SecureSetup(Path(tmp) / "secure")
        runs: list[tuple[str, Callable[[], StatewardServer], Callable[[StatewardServer], None]]] = [
            ("plaintext: python -> go -> typescript", StatewardServer, lambda server: scenario(server, go_binary)),
            (
                "tls + tokens: python -> go",
                lambda: StatewardServer(*setup.server_args(), tls_ca=setup.ca),
                lambda server: secure_scenario(server, go_binary, setup),
            ),
        ]
        for name, server_of, run in runs:
            started = time.monotonic()
            try:
                with server_of() as server:
                    run(server)
            except (Failure, StatewardError, RuntimeError) as failure:
                print(f"interop: {name}: FAILED: {failure}", file=sys.stderr)
                failed += 1
                continue
            print(f"interop: {name}: agreed on lock ids, versions and data ({time.monotonic() - started:.1f} s)")
            passed += 1
    print(f"interop: {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
