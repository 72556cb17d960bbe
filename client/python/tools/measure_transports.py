"""Compares the SDK's two transports (``SessionClient(transport="unary" | "pipeline")``) through the
public API: closed-loop Gets of 1 KiB sessions from N caller threads sharing one client, on one
server, alternating the transports round by round.

    client/python/.venv/bin/python client/python/tools/measure_transports.py [--seconds 4] [--rounds 2] [--threads 64]

The server runs from server/dist (make build first). Not a test: it prints Get/s (and the median
latency a caller saw) per transport and round.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

from stateward_client import Outcome, SessionClient  # noqa: E402
from stateward_server import StatewardServer  # noqa: E402

APP = "bench"
SESSIONS = 1000
PAYLOAD = b"x" * 1024


def run(address: str, transport: str, threads: int, seconds: float) -> tuple[float, float, float]:
    """Get/s over ``seconds``, the median per-Get latency in ms, and (pipeline) operations per
    message, with ``threads`` callers."""
    counts = [0] * threads
    samples: list[float] = []
    errors: list[BaseException] = []
    with SessionClient([address], transport=transport) as client:  # type: ignore[arg-type]
        client.get(APP, "s0")  # opens the connection (and the stream) outside the timed window
        start = threading.Barrier(threads + 1)
        stop_at = [0.0]

        def caller(n: int) -> None:
            start.wait()
            i = n
            count = 0
            mine: list[float] = []
            try:
                while True:
                    t0 = time.perf_counter()
                    if t0 >= stop_at[0]:
                        break
                    if client.get(APP, f"s{i % SESSIONS}").outcome is not Outcome.OK:
                        raise AssertionError("a session is missing")
                    if count % 16 == 0:
                        mine.append(time.perf_counter() - t0)
                    i += threads
                    count += 1
            except BaseException as error:  # reported below
                errors.append(error)
            counts[n] = count
            samples.extend(mine)

        pool = [threading.Thread(target=caller, args=(n,)) for n in range(threads)]
        for t in pool:
            t.start()
        began = time.perf_counter()
        stop_at[0] = began + seconds
        start.wait()
        for t in pool:
            t.join()
        elapsed = time.perf_counter() - began
        # Diagnostics only, not the public API: how full the batches were.
        stream = client._streams[0] if transport == "pipeline" else None  # noqa: SLF001
        per_message = stream.operations_sent / max(1, stream.messages_sent) if stream is not None else 1.0
    if errors:
        raise errors[0]
    return sum(counts) / elapsed, statistics.median(samples) * 1000 if samples else 0.0, per_message


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--threads", type=int, default=64)
    args = parser.parse_args()
    with StatewardServer() as server:
        with SessionClient([server.address], transport="unary") as setup:
            for i in range(SESSIONS):
                setup.set(APP, f"s{i}", PAYLOAD)
        for round_ in range(args.rounds):
            for transport in ("unary", "pipeline"):
                rate, p50, batch = run(server.address, transport, args.threads, args.seconds)
                print(
                    f"round {round_ + 1}  {transport:8s} {args.threads} threads {rate:9.0f} Get/s"
                    f"  p50 {p50:6.2f} ms  {batch:5.1f} ops/message",
                    flush=True,
                )


if __name__ == "__main__":
    main()
