"""Editor edge: the pygls server that runs the check path on every edit and answers editor requests.

Documents are synced incrementally: a change sends only the range it replaced (in UTF-16 units
unless agreed otherwise), applied by specc.lsp.positions.apply_change. Each open, change or save
checks the text once and publishes its diagnostics, an empty list included, and the result is
kept, with its syntax tree, for the requests that follow (hover, inlay hints, completion,
symbols, quick fixes, definition, references, rename) until the document is closed; its figures
(specc.figures: MACs, memory, receptive fields) are computed once per check, by the first hover or
cost hint that needs them. Settings come from the client's initializationOptions and
workspace/didChangeConfiguration (`specc.inlayHints.costs`; docs/lsp.md). A handler
never lets an exception out: it logs it and answers nothing, so the server stays up on any text a
user can type; a request whose parameters do not even decode is answered with an InvalidParams
error, and a rename that would clash with a RequestFailed error that says why.
"""

from __future__ import annotations

import functools
import gc
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import unquote

import cattrs
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest
from pygls.lsp.server import LanguageServer
from pygls.protocol import LanguageServerProtocol, lsp_method
from pygls.protocol.json_rpc import RPCRequest
from pygls.workspace import TextDocument

from specc import __version__, syntax
from specc.figures import ModelFigures
from specc.lsp import features
from specc.lsp.incremental import IncrementalChecker
from specc.lsp.positions import Lines, apply_change
from specc.lsp.symbols import SymbolIndex, build_index
from specc.pipeline import CheckedSource, cycle_collection_paused

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
            except JsonRpcException:
                raise  # an error meant for the client, such as a refused rename
            except Exception:
                logger.exception("specc lsp: %s failed", handler.__name__)
                return fallback() if callable(fallback) else fallback

        return safe  # type: ignore[return-value]

    return wrap


@dataclass
class Analysis:
    """One document as last checked: the text's version, the checked result, its lines and its syntax tree."""

    version: int | None
    checked: CheckedSource
    lines: Lines
    tree: syntax.SourceFile
    _index: SymbolIndex | None = None
    _figures: tuple[ModelFigures, ...] | None = None

    @property
    def index(self) -> SymbolIndex:
        """The names the text defines and uses, found on the first request that needs them."""
        if self._index is None:
            self._index = build_index(self.tree)
        return self._index

    @property
    def figures(self) -> tuple[ModelFigures, ...]:
        """Each model's figures (float32, batch 1), computed on the first request that needs them: typing,
        which only wants diagnostics, never pays for them, and hovers after a check share one computation."""
        if self._figures is None:
            self._figures = features.figures_of(self.checked)
        return self._figures


@dataclass
class Settings:
    """What the client can turn on, from initializationOptions and workspace/didChangeConfiguration."""

    # `specc.inlayHints.costs`: a second inlay hint with each line's MACs, after its shape.
    cost_hints: bool = False

    def update(self, given: Any) -> bool:
        """Take what `given` says (`{"inlayHints": {"costs": true}}`, under a `specc` key or not; other keys and
        shapes are ignored); whether anything changed."""
        section = given.get("specc", given) if isinstance(given, dict) else None
        hints = section.get("inlayHints") if isinstance(section, dict) else None
        costs = hints.get("costs") if isinstance(hints, dict) else None
        if not isinstance(costs, bool) or costs == self.cost_hints:
            return False
        self.cost_hints = costs
        return True


@dataclass(frozen=True)
class _Refused:
    """A request whose parameters did not decode, kept until it is answered with `error`."""

    id: int | str | None
    error: JsonRpcException


class SpeccProtocol(LanguageServerProtocol):
    """pygls 2.1.1's protocol with the repairs the server needs, made here rather than in pygls's files."""

    def _execute_handler(self, msg_id: Any, handler: Any, callback: Any, args: Any = None, kwargs: Any = None) -> None:
        # pygls files the future of a generator handler under its message id, and only the answer
        # to a request removes it: the futures of its built-in didOpen, didChange, didClose and
        # initialized handlers (notifications, answered by nobody) stay for the life of the
        # process, about 2 KB per keystroke. Remove each entry when its future is done.
        def settled(future: Any) -> None:
            if self._request_futures.get(msg_id) is future:
                del self._request_futures[msg_id]
            callback(future)

        super()._execute_handler(msg_id, handler, settled, args, kwargs)

    def structure_message(self, data: dict[str, Any]) -> Any:
        # pygls raises when a message's params do not decode (a line number past LSP's uinteger
        # range, a missing field), before the request's id is known to anything that answers:
        # the request would never be answered. Keep the id, and answer it in handle_message.
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            if "id" not in data or "method" not in data:
                raise
            msg_id = data["id"]
            if isinstance(error.__cause__, cattrs.BaseValidationError):
                reasons = cattrs.transform_error(error.__cause__, format_exception=lambda e, _: str(e))
                error = type(error)(message=f"{error.message}: {'; '.join(reasons)}")
            valid_id = isinstance(msg_id, (int, str)) and not isinstance(msg_id, bool)
            return _Refused(id=msg_id if valid_id else None, error=error)

    def handle_message(self, message: Any) -> None:
        if isinstance(message, _Refused):
            self._send_response(message.id, error=message.error.to_response_error())
            return
        if self._shutdown and isinstance(message, RPCRequest):
            # pygls drops a request that comes after `shutdown` without a word; LSP wants an error.
            refusal = JsonRpcInvalidRequest(message=f"the server is shutting down; {message.method} not handled")
            self._send_response(message.id, error=refusal.to_response_error())
            return
        super().handle_message(message)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams) -> Any:
        """Apply the changes as LSP counts lines and units, then call the server's didChange handler.

        pygls's own TextDocument splits lines as str.splitlines does (at \\f, \\x85, U+2028 and more,
        which LSP does not) and lets a character one past a line's end take its line break, so an
        edit near such text lands in the wrong place; the text it is given here is whole.
        """
        uri = params.text_document.uri
        document = self.workspace.text_documents.get(unquote(uri))
        if document is None:
            logger.warning("specc lsp: didChange for %s, which is not open", uri)
            return
        text = document.source
        encoding = str(self.workspace.position_encoding or "utf-16")
        for change in params.content_changes:
            text = apply_change(text, change, encoding)
        whole = types.TextDocumentContentChangeWholeDocument(text=text)
        self.workspace.update_text_document(params.text_document, whole)
        if (user_handler := self.fm.features.get(types.TEXT_DOCUMENT_DID_CHANGE)) is not None:
            yield user_handler, (params,), None


class SpeccServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__(
            "specc",
            __version__,
            text_document_sync_kind=types.TextDocumentSyncKind.Incremental,
            protocol_cls=SpeccProtocol,
        )
        self.analyses: dict[str, Analysis] = {}
        self.checkers: dict[str, IncrementalChecker] = {}
        self.checks_since_full_collection = 0
        self.settings = Settings()

    @property
    def encoding(self) -> str:
        return str(self.workspace.position_encoding or "utf-16")

    def analyse(self, uri: str, text: str, version: int | None) -> Analysis:
        checker = self.checkers.setdefault(uri, IncrementalChecker())
        checked = checker.check(text)
        assert checker.tree is not None
        analysis = Analysis(version=version, checked=checked, lines=Lines(text, self.encoding), tree=checker.tree)
        self.analyses[uri] = analysis
        return analysis

    def document(self, uri: str) -> TextDocument | None:
        """An open document; None for one not open (pygls would read it from disk)."""
        return self.workspace.text_documents.get(unquote(uri))

    def analysis(self, uri: str) -> Analysis | None:
        """The latest check of an open document, checked now when its text changed since; None when it is not open."""
        document = self.document(uri)
        if document is None:
            return None
        analysis = self.analyses.get(uri)
        if analysis is not None and analysis.checked.text == document.source:
            return analysis
        return self.analyse(uri, document.source, document.version)

    def publish(self, uri: str, version: int | None) -> None:
        """Check the document and publish its diagnostics; after an internal error, publish nothing."""
        document = self.document(uri)
        if document is None:
            return
        with cycle_collection_paused(freeze=True):
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

    def forget(self, uri: str) -> None:
        """Drop a closed document's check and checker, and clear its diagnostics in the editor."""
        self.analyses.pop(uri, None)
        self.checkers.pop(uri, None)
        self.text_document_publish_diagnostics(types.PublishDiagnosticsParams(uri=uri, diagnostics=[]))


# A check allocates tens of thousands of objects on a large spec (syntax nodes, layers, ranges),
# and the cyclic collector would walk them several times over during the check: a third of its
# time. They hold no reference cycles, so reference counting frees them when the next check
# replaces them; the collector is paused during a check, what it built is then frozen out of
# its reach, and a full collection every FULL_COLLECTION_EVERY checks reclaims any cycle that
# slipped in (that one pause lands on one edit in a hundred).
FULL_COLLECTION_EVERY = 100


def _markdown_hover(server: SpeccServer) -> bool:
    capabilities = server.client_capabilities.text_document
    formats = capabilities.hover.content_format if capabilities and capabilities.hover else None
    return bool(formats) and types.MarkupKind.Markdown in formats


def _refresh_inlay_hints(server: SpeccServer) -> None:
    """Ask the client to ask for inlay hints again, where it says it can be asked."""
    workspace = server.client_capabilities.workspace
    if workspace and workspace.inlay_hint and workspace.inlay_hint.refresh_support:
        server.workspace_inlay_hint_refresh(None)


def build_server() -> SpeccServer:
    """A server with every feature registered; `start_io()` runs it."""
    server = SpeccServer()

    @server.feature(types.INITIALIZE)
    @guarded()
    def initialize(ls: SpeccServer, params: types.InitializeParams) -> None:
        ls.settings.update(params.initialization_options)

    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    @guarded()
    def did_change_configuration(ls: SpeccServer, params: types.DidChangeConfigurationParams) -> None:
        if ls.settings.update(params.settings):
            _refresh_inlay_hints(ls)

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
        document = ls.document(params.text_document.uri)
        if document is not None:
            ls.publish(params.text_document.uri, document.version)

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
        return features.hover(
            analysis.checked,
            analysis.lines,
            params.position,
            _markdown_hover(ls),
            analysis.tree,
            analysis.index,
            analysis.figures,
        )

    @server.feature(types.TEXT_DOCUMENT_INLAY_HINT, types.InlayHintOptions(resolve_provider=False))
    @guarded(list)
    def inlay_hint(ls: SpeccServer, params: types.InlayHintParams) -> list[types.InlayHint]:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return []
        costs = ls.settings.cost_hints
        figures = analysis.figures if costs else None
        return features.inlay_hints(analysis.checked, analysis.lines, params.range, analysis.tree, costs, figures)

    @server.feature(
        types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=["=", " "], resolve_provider=False)
    )
    @guarded(list)
    def completion(ls: SpeccServer, params: types.CompletionParams) -> list[types.CompletionItem]:
        analysis = ls.analysis(params.text_document.uri)
        return (
            features.completions(analysis.checked, analysis.lines, params.position, analysis.tree) if analysis else []
        )

    @server.feature(types.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
    @guarded(list)
    def document_symbol(ls: SpeccServer, params: types.DocumentSymbolParams) -> list[types.DocumentSymbol]:
        analysis = ls.analysis(params.text_document.uri)
        return features.document_symbols(analysis.checked, analysis.lines, analysis.tree) if analysis else []

    @server.feature(types.TEXT_DOCUMENT_FORMATTING)
    @guarded(list)
    def formatting(ls: SpeccServer, params: types.DocumentFormattingParams) -> list[types.TextEdit]:
        document = ls.document(params.text_document.uri)
        if document is None:
            return []
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
        return features.definition(
            analysis.checked, analysis.lines, params.text_document.uri, params.position, analysis.tree, analysis.index
        )

    @server.feature(types.TEXT_DOCUMENT_REFERENCES)
    @guarded(list)
    def references(ls: SpeccServer, params: types.ReferenceParams) -> list[types.Location]:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return []
        return features.references(
            analysis.checked,
            analysis.lines,
            params.text_document.uri,
            params.position,
            params.context.include_declaration,
            analysis.tree,
            analysis.index,
        )

    @server.feature(types.TEXT_DOCUMENT_PREPARE_RENAME)
    @guarded()
    def prepare_rename(ls: SpeccServer, params: types.PrepareRenameParams) -> types.PrepareRenamePlaceholder | None:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return None
        return features.prepare_rename(analysis.checked, analysis.lines, params.position, analysis.tree, analysis.index)

    # pygls announces prepareRename to the clients that say they support it.
    @server.feature(types.TEXT_DOCUMENT_RENAME)
    @guarded()
    def rename(ls: SpeccServer, params: types.RenameParams) -> types.WorkspaceEdit | None:
        analysis = ls.analysis(params.text_document.uri)
        if analysis is None:
            return None
        try:
            return features.rename(
                analysis.checked,
                analysis.lines,
                params.text_document.uri,
                params.position,
                params.new_name,
                analysis.tree,
                analysis.index,
            )
        except features.RenameRefused as refused:
            raise JsonRpcException(message=str(refused), code=types.LSPErrorCodes.RequestFailed) from None

    return server
