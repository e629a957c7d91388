"""Editor edge: the pygls server that runs the check path on every edit and answers editor requests.

Documents are synced whole (full sync); each open, change or save checks the text once and
publishes its diagnostics, an empty list included, and the result is kept for the requests
that follow (hover, inlay hints, completion, symbols, quick fixes, definition). A handler
never lets an exception out: it logs it and answers nothing, so the server stays up on any
text a user can type.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from specc import __version__
from specc.lsp import features
from specc.lsp.incremental import IncrementalChecker
from specc.lsp.positions import Lines
from specc.pipeline import CheckedSource

logger = logging.getLogger("specc.lsp")

F = TypeVar("F", bound=Callable[..., Any])


def guarded(fallback: Any = None) -> Callable[[F], F]:
    """Catch and log anything a handler raises, answering `fallback` instead: one bad request
    must not take the server, or the editor session, down."""

    def wrap(handler: F) -> F:
        @functools.wraps(handler)
        def safe(*args: Any, **kwargs: Any) -> Any:
            try:
                return handler(*args, **kwargs)
            except Exception:
                logger.exception("specc lsp: %s failed", handler.__name__)
                return fallback() if callable(fallback) else fallback

        return safe  # type: ignore[return-value]

    return wrap


@dataclass
class Analysis:
    """One document as last checked: the text's version, the checked result and its lines."""

    version: int | None
    checked: CheckedSource
    lines: Lines


class SpeccServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("specc", __version__, text_document_sync_kind=types.TextDocumentSyncKind.Full)
        self.analyses: dict[str, Analysis] = {}
        self.checkers: dict[str, IncrementalChecker] = {}
        self.checks_since_full_collection = 0

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def analyse(self, uri: str, text: str, version: int | None) -> Analysis:
        checker = self.checkers.setdefault(uri, IncrementalChecker())
        analysis = Analysis(version=version, checked=checker.check(text), lines=Lines(text, self.encoding))
        self.analyses[uri] = analysis
        return analysis

    def analysis(self, uri: str) -> Analysis | None:
        """The latest check of an open document; checked now when its text changed since."""
        document = self.workspace.get_text_document(uri)
        analysis = self.analyses.get(uri)
        if analysis is not None and analysis.checked.text == document.source:
            return analysis
        return self.analyse(uri, document.source, document.version)

    def publish(self, uri: str, version: int | None) -> None:
        """Check the document and publish its diagnostics; after an internal error, publish nothing."""
        document = self.workspace.get_text_document(uri)
        with _collector_paused():
            analysis = self.analyse(uri, document.source, version)
            self.text_document_publish_diagnostics(
                types.PublishDiagnosticsParams(
                    uri=uri, version=version, diagnostics=features.diagnostics(analysis.checked, analysis.lines, uri)
                )
            )
        self.checks_since_full_collection += 1
        if self.checks_since_full_collection >= FULL_COLLECTION_EVERY:
            self.checks_since_full_collection = 0
            gc.unfreeze()
            gc.collect()
            gc.freeze()


# A check allocates tens of thousands of objects on a large spec (syntax nodes, layers, ranges),
# and the cyclic collector would walk them several times over during the check: a third of its
# time. They hold no reference cycles, so reference counting frees them when the next check
# replaces them; the collector is paused during a check, what it built is then frozen out of
# its reach, and a full collection every FULL_COLLECTION_EVERY checks reclaims any cycle that
# slipped in (that one pause lands on one edit in a hundred).
FULL_COLLECTION_EVERY = 100


@contextmanager
def _collector_paused() -> Iterator[None]:
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()

    def forget(self, uri: str) -> None:
        self.analyses.pop(uri, None)
        self.checkers.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


def _markdown_hover(server: SpeccServer) -> bool:
    capabilities = server.client_capabilities.text_document
    formats = capabilities.hover.content_format if capabilities and capabilities.hover else None
    return bool(formats) and types.MarkupKind.Markdown in formats


def build_server() -> SpeccServer:
    """A server with every feature registered; `start_io()` runs it."""
    server = SpeccServer()

    @server.feature(types.TEXT_DOCUMENT_DID_OPEN)
    @guarded()
    def did_open(ls: SpeccServer, params: types.DidOpenTextDocumentParams) -> None:
        ls.publish(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
    @guarded()
    def did_change(ls: SpeccServer, params: types.DidChangeTextDocumentParams) -> None:
        ls.publish(params.text_document.uri, params.text_document.version)

    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    @guarded()
    def did_save(ls: SpeccServer, params: types.DidSaveTextDocumentParams) -> None:
        uri = params.text_document.uri
        ls.publish(uri, ls.workspace.get_text_document(uri).version)

    @server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
    @guarded()
    def did_close(ls: SpeccServer, params: types.DidCloseTextDocumentParams) -> None:
        ls.forget(params.text_document.uri)

    @server.feature(types.TEXT_DOCUMENT_HOVER)
    @guarded()
    def hover(ls: SpeccServer, params: types.HoverParams) -> types.Hover | None:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return None
        return features.hover(analysis.checked, analysis.lines, params.position, _markdown_hover(ls))

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
    @guarded(list)
    def inlay_hint(ls: SpeccServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        analysis = ls.analysis(params.text_document.uri)
        return features.inlay_hints(analysis.checked, analysis.lines, params.range) if analysis else []

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", " "], resolve_provider=False)
    )
    @guarded(list)
    def completion(ls: SpeccServer, params: types.CompletionParams) -> list[types.CompletionItem]:
        analysis = ls.analysis(params.text_document.uri)
        return features.completions(analysis.checked, analysis.lines, params.position) if analysis else []

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded(list)
    def document_symbol(ls: SpeccServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        analysis = ls.analysis(params.text_document.uri)
        return features.document_symbols(analysis.checked, analysis.lines) if analysis else []

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    @guarded(list)
    def formatting(ls: SpeccServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        document = ls.workspace.get_text_document(params.text_document.uri)
        return features.formatting(document.source, Lines(document.source, ls.encoding))

    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION, types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix])
    )
    @guarded(list)
    def code_action(ls: SpeccServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return []
        return features.code_actions(analysis.checked, analysis.lines, params.text_document.uri, params.range)

    @server.feature(types.TEXT_DOCUMENT_DEFINITION)
    @guarded()
    def definition(ls: SpeccServer, params: types.DefinitionParams) -> types.Location | None:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return None
        return features.definition(analysis.checked, analysis.lines, params.text_document.uri, params.position)

    return server
