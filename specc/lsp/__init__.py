"""Editor edge of the check path: `specc lsp`, a language server over stdio.

Only `serve` lives here, and it imports pygls when called, so that importing specc.lsp (or
running `specc check`) never loads the server. The features are pure functions of a checked
spec in specc.lsp.features; specc.lsp.server wires them to pygls.
"""

from __future__ import annotations


def serve() -> None:
    """Run the language server on stdin and stdout until the client sends `exit`."""
    from specc.lsp.server import build_server

    build_server().start_io()
