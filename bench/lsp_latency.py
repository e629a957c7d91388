"""Benchmark: time from a didChange to its publishDiagnostics in `specc lsp`, on a spec of 1,000 layers.

Run from the repository root:  python bench/lsp_latency.py [--layers 1000] [--edits 200]

A small JSON-RPC client starts `python -m specc lsp`, opens a generated spec, and sends edits
one at a time (full-document sync, as the server asks), each time waiting for the diagnostics
of that version. The edits are what typing does: a number changed, a kind misspelt and
repaired, a line inserted and removed, a half-written argument. It prints the median and the
95th percentile, and the same figures for the same round trip on an 8-line spec measured in
this run, so numbers from different machines compare as ratios. Target: p95 under 50 ms.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET_P95_MS = 50.0


def big_spec(layers: int) -> list[str]:
    """A model of `layers` layers that checks clean, as lines."""
    lines = ["# generated for bench/lsp_latency.py", "model big {", "  input 64x64x3"]
    pattern = ["  conv 16 3x3 same relu", "  batchnorm", "  dropout 0.1", "  activation relu"]
    lines += [pattern[i % len(pattern)] for i in range(layers - 3)]
    lines += ["  global_avgpool", "  dense 64 relu", "  dense 10 softmax", "}"]
    return lines


TINY = [
    "model mnist {",
    "  input 28x28x1",
    "  conv 32 3x3 relu",
    "  maxpool 2x2",
    "  conv 64 3x3 relu",
    "  flatten",
    "  dense 10 softmax",
    "}",
]


def edits(lines: list[str], count: int, seed: int = 1) -> list[str]:
    """`count` successive texts, each one typing edit away from the one before."""
    rng = random.Random(seed)
    current = list(lines)
    body = range(3 if len(lines) > 20 else 2, len(lines) - 4)
    texts = []
    pending: tuple[int, str] | None = None  # a line to restore, or an inserted line to remove
    for n in range(count):
        if pending is not None:
            index, original = pending
            if original == "":
                del current[index]
            else:
                current[index] = original
            pending = None
        else:
            index = rng.choice(body)
            original = current[index]
            move = n % 5
            if move == 0:  # a number retyped
                current[index] = "  conv 24 3x3 same relu"
            elif move == 1:  # a misspelt kind: an error until the next edit repairs it
                current[index] = original.replace("  ", "  x", 1)
            elif move == 2:  # a line inserted
                current.insert(index, "  dropout 0.2")
                original = ""
            elif move == 3:  # half-written argument: a syntax error
                current[index] = original + " strides="
            else:  # a comment typed
                current[index] = original + f"  # note {n}"
            pending = (index, original)
        texts.append("\n".join(current) + "\n")
    return texts


class Client:
    """Just enough of an LSP client: framed JSON-RPC over the server's stdin and stdout."""

    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "specc", "lsp"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.messages: queue.Queue[dict] = queue.Queue()
        self.next_id = 0
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = self.process.stdout
        assert stream is not None
        while True:
            length = 0
            while (header := stream.readline()) not in (b"\r\n", b""):
                if header.lower().startswith(b"content-length:"):
                    length = int(header.split(b":")[1])
            if not header:
                return
            self.messages.put(json.loads(stream.read(length)))

    def send(self, method: str, params: dict, request: bool = False) -> int | None:
        message: dict = {"jsonrpc": "2.0", "method": method, "params": params}
        if request:
            self.next_id += 1
            message["id"] = self.next_id
        body = json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.process.stdin.flush()
        return message.get("id")

    def wait(self, matches, timeout: float = 30.0) -> dict:
        deadline = time.monotonic() + timeout
        while True:
            message = self.messages.get(timeout=max(deadline - time.monotonic(), 0.001))
            if matches(message):
                return message

    def start(self) -> None:
        request = self.send("initialize", {"processId": None, "rootUri": None, "capabilities": {}}, request=True)
        self.wait(lambda m: m.get("id") == request)
        self.send("initialized", {})

    def stop(self) -> None:
        request = self.send("shutdown", None, request=True)
        self.wait(lambda m: m.get("id") == request)
        self.send("exit", None)
        self.process.wait(timeout=10)


def round_trips(lines: list[str], count: int, uri: str, client: Client, warmup: int = 10) -> list[float]:
    """Seconds from each didChange to the publishDiagnostics of its version, after `warmup` untimed edits."""

    def published(version: int):
        return lambda m: m.get("method") == "textDocument/publishDiagnostics" and m["params"].get("version") == version

    text = "\n".join(lines) + "\n"
    client.send(
        "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "specc", "version": 1, "text": text}}
    )
    client.wait(published(1))
    times = []
    for version, new_text in enumerate(edits(lines, warmup + count), start=2):
        start = time.perf_counter()
        client.send(
            "textDocument/didChange",
            {"textDocument": {"uri": uri, "version": version}, "contentChanges": [{"text": new_text}]},
        )
        client.wait(published(version))
        times.append(time.perf_counter() - start)
    return times[warmup:]


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=200)
    args = parser.parse_args()

    client = Client()
    client.start()
    try:
        tiny = round_trips(TINY, args.edits, "file:///bench/tiny.cnn", client)
        big = round_trips(big_spec(args.layers), args.edits, "file:///bench/big.cnn", client)
    finally:
        client.stop()

    tiny_median, tiny_p95 = statistics.median(tiny) * 1000, percentile(tiny, 0.95) * 1000
    big_median, big_p95 = statistics.median(big) * 1000, percentile(big, 0.95) * 1000
    print(f"didChange -> publishDiagnostics, {args.edits} edits each, full-document sync")
    print(f"  baseline, {len(TINY)}-line spec:   median {tiny_median:7.2f} ms   p95 {tiny_p95:7.2f} ms")
    print(f"  {args.layers:,}-layer spec:        median {big_median:7.2f} ms   p95 {big_p95:7.2f} ms")
    print(f"  ratio to baseline:        median {big_median / tiny_median:7.1f} x    p95 {big_p95 / tiny_p95:7.1f} x")
    verdict = "met" if big_p95 < TARGET_P95_MS else "MISSED"
    print(f"  target p95 < {TARGET_P95_MS:.0f} ms: {verdict}")
    return 0 if big_p95 < TARGET_P95_MS else 1


if __name__ == "__main__":
    sys.exit(main())
