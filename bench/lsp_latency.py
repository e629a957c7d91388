"""Benchmark: time from a didChange to its publishDiagnostics in `specc lsp`, on specs of 1,000 layers.

Run from the repository root:  python bench/lsp_latency.py [--layers 1000] [--edits 200]

A small JSON-RPC client starts `python -m specc lsp`, opens generated specs (a stack of layers,
and a graph of named values, merges and a block used many times), and sends edits
one at a time, each time waiting for the diagnostics of that version. The edits are what
typing does: a number changed, a kind misspelt and repaired, a line inserted and removed, a
half-written argument. Each edit is sent twice over, to two copies of the spec, taking turns:
as the whole new text (full sync) and as the range it replaced (incremental sync, which the
server announces). It prints the median and the 95th percentile of each, the bytes each sends per
edit, and the same round trip on an 8-line spec (full sync) measured in this run, so numbers
from different machines compare as ratios. Target: p95 under 50 ms with incremental sync.
"""

from __future__ import annotations

import argparse
import json
import queue
import random
import re
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


def graph_spec(layers: int) -> list[str]:
    """A graph of about `layers` layers that checks clean: named values, merges (add, concat) and a
    block of three layers used many times, once with repeat=2."""
    lines = [
        "# generated for bench/lsp_latency.py: named values, merges and a block used many times",
        "block res(filters, strides=1) {",
        "  x = input",
        "  y = conv filters 3x3 strides=strides same relu",
        "  z = conv filters 3x3 same",
        "  add x z",
        "}",
        "",
        "model graph {",
        "  image = input 32x32x16",
        "  v0 = conv 16 3x3 same from image",
    ]
    # Each step: its line and the layers it makes.
    steps = [
        ("  v{i} = res 16 from v{p}", 3),
        ("  v{i} = batchnorm from v{p}", 1),
        ("  v{i} = add v{p} v{q}", 1),
        ("  v{i} = concat v{p} v{q}", 1),
        ("  v{i} = conv 16 1x1 from v{p}", 1),
        ("  v{i} = res 16 repeat=2 from v{p}", 6),
    ]
    made, i = 1, 0
    while made < layers - 2:
        i += 1
        line, count = steps[(i - 1) % len(steps)]
        lines.append(line.format(i=i, p=i - 1, q=max(i - 2, 0)))
        made += count
    lines += [f"  pooled = global_avgpool from v{i}", "  logits = dense 10 softmax from pooled", "  output logits", "}"]
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
            if move == 0 and " = " in original:  # a number retyped in a named line
                current[index] = re.sub(r"\b16\b", "24", original, count=1)
            elif move == 0:  # a number retyped
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


def change(old: str, new: str) -> dict:
    """The incremental content change that turns `old` into `new`: the range between their common
    prefix and suffix, in UTF-16 units as LSP counts them, and what replaces it."""
    limit = min(len(old), len(new))
    start = 0
    while start < limit and old[start] == new[start]:
        start += 1
    end_old, end_new = len(old), len(new)
    while end_old > start and end_new > start and old[end_old - 1] == new[end_new - 1]:
        end_old -= 1
        end_new -= 1

    def position(offset: int) -> dict:
        line_start = old.rfind("\n", 0, offset) + 1
        units = len(old[line_start:offset].encode("utf-16-le")) // 2
        return {"line": old.count("\n", 0, offset), "character": units}

    return {"range": {"start": position(start), "end": position(end_old)}, "text": new[start:end_new]}


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
        self.sent_bytes = 0
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
        self.sent_bytes += len(body)
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


def round_trips(
    lines: list[str], count: int, name: str, client: Client, modes: tuple[str, ...] = ("full",), warmup: int = 10
) -> dict[str, tuple[list[float], float]]:
    """For each sync mode ("full": the whole new text; "incremental": the range replaced), the seconds
    from each didChange to the publishDiagnostics of its version, after `warmup` untimed edits, and
    the mean bytes sent per timed didChange. Each mode edits its own copy of the spec, and the modes
    take turns edit by edit, so that the machine's load falls on each of them alike."""

    def published(uri: str, version: int):
        return lambda m: (
            m.get("method") == "textDocument/publishDiagnostics"
            and m["params"]["uri"] == uri
            and m["params"].get("version") == version
        )

    text = "\n".join(lines) + "\n"
    uris = {mode: f"file:///bench/{name}_{mode}.cnn" for mode in modes}
    for uri in uris.values():
        item = {"uri": uri, "languageId": "specc", "version": 1, "text": text}
        client.send("textDocument/didOpen", {"textDocument": item})
        client.wait(published(uri, 1))
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    sent = dict.fromkeys(modes, 0)
    for version, new_text in enumerate(edits(lines, warmup + count), start=2):
        # Which mode goes first alternates: the server's periodic full collection (every 100 checks)
        # and anything else that comes in turn then falls on each mode alike.
        for mode in modes if version % 2 else modes[::-1]:
            uri = uris[mode]
            content = change(text, new_text) if mode == "incremental" else {"text": new_text}
            before = client.sent_bytes
            start = time.perf_counter()
            client.send(
                "textDocument/didChange",
                {"textDocument": {"uri": uri, "version": version}, "contentChanges": [content]},
            )
            client.wait(published(uri, version))
            times[mode].append(time.perf_counter() - start)
            if version - 2 >= warmup:
                sent[mode] += client.sent_bytes - before
        text = new_text
    return {mode: (times[mode][warmup:], sent[mode] / count) for mode in modes}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(round(fraction * (len(ordered) - 1))), len(ordered) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--layers", type=int, default=1000)
    parser.add_argument("--edits", type=int, default=200)
    args = parser.parse_args()

    specs = {"layer stack": big_spec(args.layers), "graph": graph_spec(args.layers)}
    client = Client()
    client.start()
    try:
        tiny, _ = round_trips(TINY, args.edits, "tiny", client)["full"]
        runs = {
            name: round_trips(lines, args.edits, name.replace(" ", "_"), client, modes=("full", "incremental"))
            for name, lines in specs.items()
        }
    finally:
        client.stop()

    def figures(times: list[float]) -> tuple[float, float]:
        return statistics.median(times) * 1000, percentile(times, 0.95) * 1000

    tiny_median, tiny_p95 = figures(tiny)
    print(f"didChange -> publishDiagnostics, {args.edits} edits each")
    print(
        f"  {f'baseline, {len(TINY)}-line spec, full sync:':46} median {tiny_median:7.2f} ms   p95 {tiny_p95:7.2f} ms"
    )
    met = True
    for name, run in runs.items():
        (full, full_bytes), (ranged, ranged_bytes) = run["full"], run["incremental"]
        for label, times, sent in (("full sync", full, full_bytes), ("incremental sync", ranged, ranged_bytes)):
            median, p95 = figures(times)
            print(
                f"  {f'{args.layers:,}-layer {name}, {label}:':46} median {median:7.2f} ms   p95 {p95:7.2f} ms"
                f"   ({median / tiny_median:.1f} x / {p95 / tiny_p95:.1f} x baseline; {sent:,.0f} bytes per edit)"
            )
        (full_median, full_p95), (median, p95) = figures(full), figures(ranged)
        print(
            f"  {f'{name}: incremental / full sync:':46} median {median / full_median:7.2f} x"
            f"    p95 {p95 / full_p95:7.2f} x"
            f"    (bytes {ranged_bytes / full_bytes:.4f} x)"
        )
        met = met and p95 < TARGET_P95_MS
        verdict = "met" if p95 < TARGET_P95_MS else "MISSED"
        print(f"  {name}: target p95 < {TARGET_P95_MS:.0f} ms with incremental sync: {verdict}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
