"""Editor edge of the check path: `specc lsp`, a language server over stdio.

Only `serve` lives here, and it imports pygls when called, so that importing specc.lsp (or
running `specc check`) never loads the server. The features are pure functions of a checked
spec in specc.lsp.features; specc.lsp.server wires them to pygls.
"""

from __future__ import annotations


def serve() -> None:
    """Run the language server on stdin and stdout until the client sends `exit`."""
    import gc

    from specc.lsp.server import build_server

    server = build_server()
    # Everything imported so far (pydantic, lsprotocol's converters, pygls) lives as long as the
    # process: keep it out of the collector's full passes, which otherwise walk it on every edit
    # of a large spec and show up as 20-100 ms pauses between a change and its diagnostics.
    gc.collect()
    gc.freeze()
    server.start_io()
