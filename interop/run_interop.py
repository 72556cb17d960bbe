"""The interop scenario: Python, Go and TypeScript clients on one Stateward server.

1. Python (the stateward-client wheel) locks a new session with ``client.locked`` and writes it.
2. While Python holds the lock, Go observes it (OUTCOME_LOCKED with Python's lock id), then waits
   for it on the server (Lock with wait), reads what Python wrote, releases, and reads it once more
   through ``WithLock``.
3. TypeScript (the generated client of @stateward/protocol) reads it, takes its lock and removes it.
4. Python sees it gone.

Lock ids must agree (Go sees Python's; each new lock id is larger: fencing tokens) and so must
versions and data. Run with the Python of a venv where the wheel is installed, from the repository
root, after `npx tsc -b`:  python interop/run_interop.py
Output: JSON events with lock ids and versions; never the session id or data.
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
from typing import IO, Any

from stateward_client import Outcome, SessionClient

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "client" / "python" / "tests"))
from stateward_server import StatewardServer  # noqa: E402

APP = "interop"
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


def scenario(server: StatewardServer, go_binary: str) -> None:
    sid = "interop-" + secrets.token_hex(12)
    env = {**os.environ, "STATEWARD_ADDR": server.address, "STATEWARD_APP": APP, "STATEWARD_SESSION": sid}
    payload = b"written by python " + secrets.token_bytes(16)
    digest = hashlib.sha256(payload).hexdigest()

    with SessionClient(endpoints=[server.address]) as client:
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
            check(go.wait(timeout=STEP_TIMEOUT_S) == 0, "the Go participant failed")
        finally:
            if go is not None and go.poll() is None:
                go.kill()
                go.wait()

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


def main() -> int:
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        go_binary = build_go(tmp)
        with StatewardServer() as server:
            try:
                scenario(server, go_binary)
            except Failure as failure:
                print(f"interop: FAILED: {failure}", file=sys.stderr)
                print("interop: 0 passed, 1 failed")
                return 1
    print(f"interop: python -> go -> typescript agreed on lock ids, versions and data ({time.monotonic() - started:.1f} s)")
    print("interop: 1 passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
