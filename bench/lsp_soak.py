"""Benchmark: what `specc lsp` keeps after many edits of one document, against pygls's own bookkeeping.

Run from the repository root:  python bench/lsp_soak.py [--edits 20000]

pygls 2.1.1 files the future of every notification its built-in handlers take (didOpen,
didChange...) in `protocol._request_futures` and never removes it; specc's SpeccProtocol removes
each one when it is done. This script types the same edits into the server twice, each in a fresh
process: once as specc runs it, and once with pygls's own handler bookkeeping put back (the
baseline). For each it prints the entries left in `_request_futures` and the growth of the
process's resident memory per edit; nothing is asserted (tests/test_lsp.py holds the soak test).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPEC = "model m {\n  input 28x28x1\n  conv 32 3x3 relu\n  maxpool 2x2\n  flatten\n  dense 10 softmax\n}\n"


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


def soak(edits: int, pygls_bookkeeping: bool) -> dict[str, float]:
    """Open one document and change one digit `edits` times, in this process; what the server kept."""
    sys.path.insert(0, str(ROOT))
    from pygls.protocol import LanguageServerProtocol

    from specc.lsp.server import SpeccProtocol, build_server

    if pygls_bookkeeping:
        SpeccProtocol._execute_handler = LanguageServerProtocol._execute_handler

    server = build_server()
    protocol = server.protocol

    class Sink:
        def write(self, data: bytes) -> None:
            pass

        def close(self) -> None:
            pass

    protocol.set_writer(Sink(), include_headers=False)

    def send(message: dict) -> None:
        body = json.dumps({"jsonrpc": "2.0", **message})
        protocol.handle_message(json.loads(body, object_hook=protocol.structure_message))

    send({"id": 1, "method": "initialize", "params": {"processId": None, "rootUri": None, "capabilities": {}}})
    send({"method": "initialized", "params": {}})
    uri = "file:///soak.cnn"
    document = {"uri": uri, "languageId": "specc", "version": 1, "text": SPEC}
    send({"method": "textDocument/didOpen", "params": {"textDocument": document}})
    warm = edits // 10  # let caches and the allocator settle before measuring
    start = 0
    for version in range(2, edits + warm + 2):
        if version == warm + 2:
            start = resident_bytes()
        digit = str(version % 10)
        change = {"range": {"start": {"line": 2, "character": 8}, "end": {"line": 2, "character": 9}}, "text": digit}
        send(
            {
                "method": "textDocument/didChange",
                "params": {"textDocument": {"uri": uri, "version": version}, "contentChanges": [change]},
            }
        )
    return {"futures": len(protocol._request_futures), "bytes_per_edit": (resident_bytes() - start) / edits}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--edits", type=int, default=20_000)
    parser.add_argument("--child", choices=["specc", "pygls"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(soak(args.edits, args.child == "pygls")))
        return
    results = {}
    for mode in ("pygls", "specc"):
        command = [sys.executable, __file__, "--edits", str(args.edits), "--child", mode]
        results[mode] = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    print(f"{args.edits:,} didChange edits of one digit, one document, each run in a fresh process")
    for mode, label in (("pygls", "pygls's bookkeeping (baseline)"), ("specc", "specc lsp")):
        figures = results[mode]
        print(
            f"  {label:32} {figures['futures']:>7,} entries left in _request_futures, "
            f"{figures['bytes_per_edit']:8.1f} bytes of resident memory per edit"
        )
    baseline, ours = results["pygls"]["bytes_per_edit"], results["specc"]["bytes_per_edit"]
    print(f"  memory growth per edit, specc / baseline: {ours / baseline:.3f} x" if baseline > 0 else "")


if __name__ == "__main__":
    main()
