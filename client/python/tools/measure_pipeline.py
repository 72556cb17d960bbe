"""Measures whether a Pipeline transport would pay off in Python (issue 16): Get throughput of
the generated grpcio stub's unary calls from a thread pool against one Pipeline stream (grpcio's
stream-stream call fed by a request iterator, results read on the calling thread), on one server.

    client/python/.venv/bin/python client/python/tools/measure_pipeline.py [--seconds 5] [--rounds 2]

The server runs from server/dist (make build first). Not a test: it prints ops/s per mode.
"""

from __future__ import annotations

import argparse
import queue
import sys
import threading
import time
from pathlib import Path

import grpc

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "src"))
sys.path.insert(0, str(HERE.parent / "tests"))

from stateward_client._gen.stateward.v1 import session_state_pb2 as pb  # noqa: E402
from stateward_client._gen.stateward.v1 import session_state_pb2_grpc as pb_grpc  # noqa: E402
from stateward_server import StatewardServer  # noqa: E402

SESSIONS = 1000
PAYLOAD = b"x" * 1024


def unary(address: str, seconds: float, threads: int) -> float:
    done = 0
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def worker(n: int) -> None:
        nonlocal done
        with grpc.insecure_channel(address) as channel:
            stub = pb_grpc.SessionStateStub(channel)
            count = 0
            i = n
            while time.monotonic() < stop:
                stub.Get(pb.GetRequest(app="bench", session_id=f"s{i % SESSIONS}"))
                i += threads
                count += 1
        with lock:
            done += count

    started = time.monotonic()
    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    return done / (time.monotonic() - started)


def pipeline(address: str, seconds: float, in_flight: int) -> float:
    """Closed loop: `in_flight` Gets outstanding; every result read sends one more. The sender
    drains what is queued into one PipelineRequest (batching under load)."""
    outbox: "queue.Queue[int | None]" = queue.Queue()

    def requests():
        while True:
            first = outbox.get()
            if first is None:
                return
            ids = [first]
            while len(ids) < 256:
                try:
                    more = outbox.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    yield batch(ids)
                    return
                ids.append(more)
            yield batch(ids)

    def batch(ids: list[int]) -> pb.PipelineRequest:
        return pb.PipelineRequest(
            operations=[pb.PipelineOperation(id=i, get=pb.GetRequest(app="bench", session_id=f"s{i % SESSIONS}")) for i in ids]
        )

    with grpc.insecure_channel(address) as channel:
        stub = pb_grpc.SessionStateStub(channel)
        next_id = 1
        for _ in range(in_flight):
            outbox.put(next_id)
            next_id += 1
        responses = stub.Pipeline(requests())
        started = time.monotonic()
        stop = started + seconds
        done = 0
        outstanding = in_flight
        for response in responses:
            for _ in response.results:
                done += 1
                outstanding -= 1
                if time.monotonic() < stop:
                    outbox.put(next_id)
                    next_id += 1
                    outstanding += 1
            if outstanding == 0:
                break
        elapsed = time.monotonic() - started
        outbox.put(None)
        responses.cancel()
    return done / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    with StatewardServer() as server:
        with grpc.insecure_channel(server.address) as channel:
            stub = pb_grpc.SessionStateStub(channel)
            for i in range(SESSIONS):
                stub.Set(pb.SetRequest(app="bench", session_id=f"s{i}", data=PAYLOAD))
        modes = {
            "unary, 16 threads": lambda: unary(server.address, args.seconds, 16),
            "unary, 64 threads": lambda: unary(server.address, args.seconds, 64),
            "pipeline, 64 in flight": lambda: pipeline(server.address, args.seconds, 64),
            "pipeline, 256 in flight": lambda: pipeline(server.address, args.seconds, 256),
        }
        for round_ in range(args.rounds):
            for name, run in modes.items():
                print(f"round {round_ + 1}  {name:26s} {run():9.0f} Get/s", flush=True)


if __name__ == "__main__":
    main()
