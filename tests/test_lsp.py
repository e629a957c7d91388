"""The language server: a real client talks to `specc lsp` in a subprocess; positions are 0-based.

The conversions and fixes underneath are also tested directly, without a server.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import itertools
import json
import random
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import pytest_lsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsprotocol import types
from lsprotocol.converters import get_converter
from pygls.exceptions import JsonRpcException
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from specc.diagnostics import Span
from specc.layers import ACTIVATIONS
from specc.lsp import features
from specc.lsp import server as server_module
from specc.lsp.incremental import IncrementalChecker
from specc.lsp.positions import Lines, apply_change
from specc.lsp.server import build_server
from specc.parse import parse
from specc.pipeline import check_text

# One server for the module (its loop lives as long); each test opens its own document.
on_server = pytest.mark.asyncio(loop_scope="module")

MNIST = """\
model mnist {
  input 28x28x1
  conv 32 3x3 relu
  maxpool 2x2
  conv 64 3x3 relu name=features
  flatten
  dense 10 softmax
}
"""

_uris = (f"file:///work/spec_{n}.cnn" for n in itertools.count())


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "specc", "lsp"]),
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


async def published(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    """Wait for the next diagnostics published for `uri`."""
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri:
            return list(params.diagnostics)


async def open_document(client: LanguageClient, text: str) -> tuple[str, list[types.Diagnostic]]:
    uri = next(_uris)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="specc", version=1, text=text)
        )
    )
    return uri, await published(client, uri)


async def change_document(client: LanguageClient, uri: str, version: int, text: str) -> list[types.Diagnostic]:
    client.text_document_did_change(
        types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=version),
            content_changes=[types.TextDocumentContentChangeWholeDocument(text=text)],
        )
    )
    return await published(client, uri)


def at(line: int, character: int) -> types.Position:
    return types.Position(line=line, character=character)


def span_of(r: types.Range) -> tuple[int, int, int, int]:
    return (r.start.line, r.start.character, r.end.line, r.end.character)


def doc(uri: str) -> types.TextDocumentIdentifier:
    return types.TextDocumentIdentifier(uri=uri)


async def answered(request: Any) -> Any:
    """The answer to a request; a server that never answers fails the test instead of hanging it."""
    return await asyncio.wait_for(request, timeout=60)


def out_of_range(line: int, character: int = 0) -> types.Position:
    """A position past LSP's uinteger range, which lsprotocol refuses to build but a client can still send."""
    position = at(0, 0)
    object.__setattr__(position, "line", line)
    object.__setattr__(position, "character", character)
    return position


class InProcess:
    """`build_server()` in this process, fed JSON through pygls's own decoding and dispatch (structure_message,
    then handle_message, as its reader loop does), so that a test can look at what the server keeps.
    Every handler is synchronous, so a message has been handled when `send` returns."""

    def __init__(self) -> None:
        self.server = build_server()
        self.received: list[dict[str, Any]] = []
        self.server.protocol.set_writer(self, include_headers=False)
        self.ids = itertools.count(1)
        self.initialized = self.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        self.notify("initialized", {})

    def write(self, data: bytes) -> None:
        self.received.append(json.loads(data))

    def close(self) -> None:
        pass

    def send(self, message: dict[str, Any]) -> None:
        protocol = self.server.protocol
        body = json.dumps({"jsonrpc": "2.0", **message})
        try:
            protocol.handle_message(json.loads(body, object_hook=protocol.structure_message))
        except Exception as error:  # as pygls's reader loop does
            self.server.report_server_error(error, JsonRpcException)

    def notify(self, method: str, params: Any) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any) -> dict[str, Any]:
        msg_id = next(self.ids)
        self.send({"id": msg_id, "method": method, "params": params})
        (answer,) = [m for m in self.received if m.get("id") == msg_id and "method" not in m]
        return answer

    def open(self, uri: str, text: str) -> None:
        self.notify(
            "textDocument/didOpen", {"textDocument": {"uri": uri, "languageId": "specc", "version": 1, "text": text}}
        )

    def change(self, uri: str, version: int, *changes: dict[str, Any]) -> None:
        self.notify(
            "textDocument/didChange", {"textDocument": {"uri": uri, "version": version}, "contentChanges": changes}
        )

    def published(self, uri: str) -> list[dict[str, Any]]:
        """The diagnostics last published for `uri`."""
        for message in reversed(self.received):
            if message.get("method") == "textDocument/publishDiagnostics" and message["params"]["uri"] == uri:
                return message["params"]["diagnostics"]
        raise AssertionError(f"nothing published for {uri}")


@pytest.fixture
def lsp(monkeypatch: pytest.MonkeyPatch) -> Iterator[InProcess]:
    """A server in this process. Its periodic full collection would walk the whole test process's heap,
    not a server's, so it is put off; what the server froze is unfrozen afterwards."""
    monkeypatch.setattr(server_module, "FULL_COLLECTION_EVERY", 10**9)
    yield InProcess()
    gc.unfreeze()


def edit(start: tuple[int, int], end: tuple[int, int], text: str) -> dict[str, Any]:
    """An incremental content change, as a client sends it."""
    point = [{"line": line, "character": character} for line, character in (start, end)]
    return {"range": {"start": point[0], "end": point[1]}, "text": text}


# Diagnostics


@on_server
async def test_diagnostics_on_open_carry_codes_severities_and_0_based_ranges(client: LanguageClient):
    text = "model m {\n  input 28x28x1\n  conv 8 3x3 relu\n  maxpol 2x2\n}\n"
    _, diagnostics = await open_document(client, text)
    assert [(d.code, d.severity, span_of(d.range)) for d in diagnostics] == [
        ("E201", types.DiagnosticSeverity.Error, (3, 2, 3, 8)),
    ]
    assert diagnostics[0].source == "specc"
    assert "did you mean `maxpool`?" in diagnostics[0].message


@on_server
async def test_warnings_are_published_and_a_fixed_document_publishes_an_empty_list(client: LanguageClient):
    text = "model m {\n  input 28x28x1\n  conv 8 3x3\n  dense 10\n}\n"
    uri, diagnostics = await open_document(client, text)
    assert [(d.code, d.severity, span_of(d.range)) for d in diagnostics] == [
        ("W301", types.DiagnosticSeverity.Warning, (3, 2, 3, 10)),
    ]
    fixed = text.replace("  dense", "  flatten\n  dense")
    assert await change_document(client, uri, 2, fixed) == []


@on_server
async def test_every_change_is_checked_again(client: LanguageClient):
    uri, diagnostics = await open_document(client, MNIST)
    assert diagnostics == []
    broken = MNIST.replace("maxpool 2x2", "maxpool 2x2 strides=0")
    diagnostics = await change_document(client, uri, 2, broken)
    assert [(d.code, span_of(d.range)) for d in diagnostics] == [("E204", (3, 22, 3, 23))]


@on_server
async def test_an_unclosed_block_is_published_with_its_opening_brace_as_related_information(client: LanguageClient):
    uri, diagnostics = await open_document(client, "model m {\n  input 28x28x1\n  conv 8 3x3\n")
    (diagnostic,) = diagnostics
    assert diagnostic.code == "E103"
    (related,) = diagnostic.related_information
    assert related.location.uri == uri
    assert span_of(related.location.range) == (0, 8, 0, 9)
    assert related.message == "the block of model `m` opened here is not closed"


# Hover, inlay hints, symbols


@on_server
async def test_hover_on_a_conv_shows_its_shapes_parameters_and_arithmetic(client: LanguageClient):
    uri, _ = await open_document(client, MNIST)
    hover = await client.text_document_hover_async(types.HoverParams(text_document=doc(uri), position=at(2, 4)))
    assert hover is not None
    text = hover.contents.value
    assert "conv2d (Conv2D): 28x28x1 -> 26x26x32" in text
    assert "params: 320 (320 trainable, 0 non-trainable)" in text
    assert "kernel_size=3x3, strides=1x1, padding=valid, dilation_rate=1x1" in text
    assert "height: floor((28 - 3) / 1) + 1 = 26" in text
    assert "params: 3*3*1*32 + 32 = 320" in text
    assert span_of(hover.range) == (2, 2, 2, 18)


@on_server
async def test_hover_away_from_any_layer_is_empty(client: LanguageClient):
    uri, _ = await open_document(client, "# only a comment\n" + MNIST)
    assert await client.text_document_hover_async(types.HoverParams(text_document=doc(uri), position=at(0, 3))) is None


@on_server
async def test_inlay_hints_give_the_output_shape_after_each_layer_and_the_input(client: LanguageClient):
    uri, _ = await open_document(client, MNIST)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(text_document=doc(uri), range=types.Range(start=at(0, 0), end=at(8, 0)))
    )
    assert [(h.position.line, h.position.character, h.label) for h in hints] == [
        (1, 15, "→ 28x28x1"),
        (2, 18, "→ 26x26x32"),
        (3, 13, "→ 13x13x32"),
        (4, 32, "→ 11x11x64"),
        (5, 9, "→ 7744"),
        (6, 18, "→ 10"),
    ]


@on_server
async def test_document_symbols_outline_models_and_their_named_layers(client: LanguageClient):
    uri, _ = await open_document(client, MNIST + "model tiny {\n  input 4\n  dense 2\n}\n")
    symbols = await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(uri)))
    assert [(s.name, s.kind, span_of(s.selection_range)) for s in symbols] == [
        ("mnist", types.SymbolKind.Class, (0, 6, 0, 11)),
        ("tiny", types.SymbolKind.Class, (8, 6, 8, 10)),
    ]
    assert [c.name for c in symbols[0].children] == [
        "input",
        "conv2d",
        "max_pooling2d",
        "features",
        "flatten",
        "dense",
    ]
    named = symbols[0].children[3]
    assert span_of(named.selection_range) == (4, 24, 4, 32)
    assert named.detail == "Conv2D → 11x11x64"


# Completion


async def labels_at(client: LanguageClient, text: str, line: int, character: int) -> list[str]:
    uri, _ = await open_document(client, text)
    result = await client.text_document_completion_async(
        types.CompletionParams(text_document=doc(uri), position=at(line, character))
    )
    items = result.items if isinstance(result, types.CompletionList) else result
    return [item.label for item in items]


@on_server
async def test_completion_at_the_start_of_a_line_offers_layer_kinds(client: LanguageClient):
    labels = await labels_at(client, "model m {\n  input 28x28x1\n  co\n}\n", 2, 4)
    assert {"conv", "maxpool", "dense", "flatten", "batchnorm"} <= set(labels)


@on_server
async def test_completion_after_a_kind_offers_its_parameters_and_bare_words(client: LanguageClient):
    labels = await labels_at(client, "model m {\n  input 28x28x1\n  conv 8 3x3 strides=2 \n}\n", 2, 23)
    assert {"padding=", "dilation_rate=", "activation=", "use_bias=", "name=", "same", "valid", "relu"} <= set(labels)
    assert "strides=" not in labels  # already given
    assert "units=" not in labels  # a dense parameter


@on_server
async def test_completion_leaves_out_arguments_already_given_by_position_or_bare_word(client: LanguageClient):
    labels = await labels_at(client, "model m {\n  input 28x28x1\n  conv 32 3x3 relu \n}\n", 2, 19)
    assert {"strides=", "padding=", "dilation_rate=", "use_bias=", "name=", "same", "valid"} <= set(labels)
    assert not {"filters=", "kernel_size=", "activation="} & set(labels)
    assert not set(ACTIVATIONS) & set(labels)


def test_completion_offers_the_keras_class_names_after_specc_s_own_kinds():
    text = "model m {\n  input 28x28x1\n  \n}\n"
    items = features.completions(check_text(text), Lines(text), at(2, 2))
    labels = [i.label for i in items]
    assert {"Conv2D", "MaxPooling2D", "Dense", "BatchNormalization"} <= set(labels)
    by_label = {i.label: i for i in items}
    assert (by_label["Conv2D"].sort_text or "Conv2D") > (by_label["conv"].sort_text or "conv")


@pytest.mark.parametrize("kind", ["conv", "conv2d", "Conv2D"])
def test_completion_offers_parameters_after_a_documented_spelling_of_a_kind(kind):
    text = f"model m {{\n  input 28x28x1\n  {kind} \n}}\n"
    labels = {i.label for i in features.completions(check_text(text), Lines(text), at(2, len(kind) + 3))}
    assert "filters=" in labels


@pytest.mark.parametrize("kind", ["CONV", "Conv2d"])
def test_completion_offers_no_parameters_after_a_kind_in_an_undocumented_case(kind):
    # lowering reports E201 for these; completion must not treat them as a kind either
    text = f"model m {{\n  input 28x28x1\n  {kind} \n}}\n"
    assert features.completions(check_text(text), Lines(text), at(2, len(kind) + 3)) == []


@pytest.mark.parametrize(
    ("statement", "given", "offered"),
    [
        ("conv 32 3x3 relu", {"filters=", "kernel_size=", "activation=", "relu", "gelu"}, {"strides=", "same"}),
        ("conv 8 kernel=3 same", {"filters=", "kernel_size=", "padding=", "same", "valid"}, {"activation=", "relu"}),
        ("conv filters=8 3", {"filters=", "kernel_size="}, {"strides=", "relu", "same"}),
        ("dense 10 softmax name=out", {"units=", "activation=", "softmax", "name="}, {"use_bias="}),
        ("activation relu", {"activation=", "relu", "tanh"}, set()),
        ("maxpool 2x2", {"pool_size="}, {"strides=", "same"}),
    ],
)
def test_completion_offers_only_the_parameters_lowering_would_leave_unfilled(statement, given, offered):
    text = f"model m {{\n  input 28x28x1\n  {statement} \n}}\n"
    labels = {i.label for i in features.completions(check_text(text), Lines(text), at(2, len(statement) + 3))}
    assert not given & labels
    assert offered <= labels


@on_server
async def test_completion_after_key_equals_offers_that_parameters_values(client: LanguageClient):
    text = "model m {\n  input 28x28x1\n  conv 8 3x3 padding=\n  dense 10 activation=so\n  dense 3 use_bias=\n}\n"
    assert await labels_at(client, text, 2, 21) == ["valid", "same"]
    assert "softmax" in await labels_at(client, text, 3, 24)
    assert await labels_at(client, text, 4, 19) == ["true", "false"]


# Formatting, quick fixes, definition


@on_server
async def test_formatting_gives_specc_fmt_layout_and_nothing_for_broken_text(client: LanguageClient):
    from specc.fmt import format_text

    messy = "model   m {\ninput 28x28x1\n      conv 8   3x3\n}"
    uri, _ = await open_document(client, messy)
    options = types.FormattingOptions(tab_size=2, insert_spaces=True)
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(uri), options=options)
    )
    formatted, _ = format_text(messy)
    assert formatted is not None and formatted != messy
    assert [(span_of(e.range), e.new_text) for e in edits] == [((0, 0, 3, 1), formatted)]

    uri, _ = await open_document(client, "model m {\n  input 28x28x1\n  conv 8 3x3 (\n}\n")
    edits = await client.text_document_formatting_async(
        types.DocumentFormattingParams(text_document=doc(uri), options=options)
    )
    assert not edits


@on_server
async def test_quick_fix_replaces_a_misspelt_parameter_with_the_suggestion(client: LanguageClient):
    text = "model m {\n  input 28x28x1\n  conv 8 3x3 stride=2\n}\n"
    uri, diagnostics = await open_document(client, text)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(uri),
            range=types.Range(start=at(2, 15), end=at(2, 15)),
            context=types.CodeActionContext(diagnostics=diagnostics),
        )
    )
    assert len(actions) == 1
    action = actions[0]
    assert action.title == "Replace `stride` with `strides`"
    assert action.kind == types.CodeActionKind.QuickFix
    assert [d.code for d in action.diagnostics] == ["E202"]
    (edit,) = action.edit.changes[uri]
    assert (span_of(edit.range), edit.new_text) == ((2, 13, 2, 19), "strides")


@on_server
async def test_quick_fix_inserts_flatten_before_a_dense_on_a_feature_map(client: LanguageClient):
    text = "model m {\n  input 28x28x1\n  conv 8 3x3\n  dense 10\n}\n"
    uri, _ = await open_document(client, text)
    actions = await client.text_document_code_action_async(
        types.CodeActionParams(
            text_document=doc(uri),
            range=types.Range(start=at(3, 0), end=at(3, 10)),
            context=types.CodeActionContext(diagnostics=[]),
        )
    )
    ((edit,),) = [a.edit.changes[uri] for a in actions]
    assert (span_of(edit.range), edit.new_text) == ((3, 2, 3, 2), "flatten\n  ")


@on_server
async def test_definition_of_a_layer_name_or_model_name_is_its_declaration(client: LanguageClient):
    uri, _ = await open_document(client, MNIST)
    location = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(uri), position=at(4, 27))
    )
    assert location.uri == uri and span_of(location.range) == (4, 24, 4, 32)
    location = await client.text_document_definition_async(
        types.DefinitionParams(text_document=doc(uri), position=at(0, 8))
    )
    assert span_of(location.range) == (0, 6, 0, 11)


# Robustness


GARBAGE = [
    "",
    "model",
    "model m {",
    "model m {\n  input 28x28x1\n  conv 32 3x",
    "}}}{{{((((\n\n;;;===",
    "\x00\x01\x02\ufffd\U0001f600 model m { input 28x28x1 conv 1 1 }",
    "model m {\n  input 99999999999999999999999999x1x1\n  conv 1 1\n  dense 1e999\n}",
    'model m {\n  input 28x28x1\n  conv name="\\"\n}',
]


@on_server
async def test_server_survives_garbage_and_answers_the_next_request(client: LanguageClient):
    uri, _ = await open_document(client, "")
    for version, text in enumerate(GARBAGE, start=2):
        diagnostics = await change_document(client, uri, version, text)
        assert all(d.code and d.range.start.line >= 0 for d in diagnostics)
        for position in [at(0, 0), at(0, 5), at(1, 3), at(3, 40)]:
            await client.text_document_hover_async(types.HoverParams(text_document=doc(uri), position=position))
            completion = types.CompletionParams(text_document=doc(uri), position=position)
            await client.text_document_completion_async(completion)
        await client.text_document_document_symbol_async(types.DocumentSymbolParams(text_document=doc(uri)))
    assert await change_document(client, uri, 100, MNIST) == []
    hover = await client.text_document_hover_async(types.HoverParams(text_document=doc(uri), position=at(2, 4)))
    assert "26x26x32" in hover.contents.value


@on_server
async def test_a_completion_at_a_huge_line_is_answered_and_so_is_the_next_request(client: LanguageClient):
    uri, _ = await open_document(client, "model m {\n  input 28x28x1\n  conv 8 3x3\n}\n")
    far = types.CompletionParams(text_document=doc(uri), position=at(2147483647, 0))
    result = await answered(client.text_document_completion_async(far))
    items = result.items if isinstance(result, types.CompletionList) else result
    assert [item.label for item in items] == ["model", "block"]  # the end of the text, after the model
    hover = await answered(
        client.text_document_hover_async(types.HoverParams(text_document=doc(uri), position=at(2, 3)))
    )
    assert "26x26x8" in hover.contents.value


@on_server
async def test_a_request_whose_position_is_out_of_lsps_range_gets_an_invalid_params_error(client: LanguageClient):
    uri, _ = await open_document(client, MNIST)
    params = types.InlayHintParams(text_document=doc(uri), range=types.Range(start=at(0, 0), end=at(1, 0)))
    object.__setattr__(params.range, "end", out_of_range(2147483648))
    with pytest.raises(JsonRpcException) as refused:
        await answered(client.text_document_inlay_hint_async(params))
    assert refused.value.code == -32602
    assert "2147483648" in refused.value.message
    hints = await answered(
        client.text_document_inlay_hint_async(
            types.InlayHintParams(text_document=doc(uri), range=types.Range(start=at(0, 0), end=at(8, 0)))
        )
    )
    assert len(hints) == 6


@on_server
async def test_closing_a_document_clears_its_diagnostics(client: LanguageClient):
    uri, diagnostics = await open_document(client, "model m {\n  input 28x28x1\n  maxpol 2x2\n}\n")
    assert [d.code for d in diagnostics] == ["E201"]
    client.text_document_did_close(types.DidCloseTextDocumentParams(text_document=doc(uri)))
    assert await answered(published(client, uri)) == []
    hover = types.HoverParams(text_document=doc(uri), position=at(2, 3))
    assert await answered(client.text_document_hover_async(hover)) is None


# In this process: what the server keeps


def test_closing_a_document_frees_what_the_server_kept_for_it(lsp: InProcess):
    lsp.open("file:///a.cnn", MNIST)
    lsp.open("file:///b.cnn", MNIST)
    lsp.notify("textDocument/didClose", {"textDocument": {"uri": "file:///a.cnn"}})
    assert lsp.published("file:///a.cnn") == []
    assert set(lsp.server.analyses) == set(lsp.server.checkers) == {"file:///b.cnn"}
    # A request about the closed document answers nothing and keeps nothing for it.
    answer = lsp.request("textDocument/hover", {"textDocument": {"uri": "file:///a.cnn"}, "position": at_json(2, 3)})
    assert answer["result"] is None
    assert set(lsp.server.analyses) == set(lsp.server.checkers) == {"file:///b.cnn"}


def at_json(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def test_thousands_of_edits_leave_the_servers_bookkeeping_as_it_was(lsp: InProcess):
    uri = "file:///soak.cnn"
    protocol = lsp.server.protocol

    def kept() -> dict[str, int]:
        checker = lsp.server.checkers[uri]
        return {
            "request futures": len(protocol._request_futures),
            "result types": len(protocol._result_types),
            "documents": len(lsp.server.workspace.text_documents),
            "analyses": len(lsp.server.analyses),
            "checkers": len(lsp.server.checkers),
            "lowered statements": len(checker._lowering._entries),
            "inferences": len(checker._inference._entries),
        }

    lsp.open(uri, "model m {\n  input 4\n  dense 2\n}\n")
    after_open = kept()
    assert after_open["request futures"] == 0
    for version in range(2, 2502):
        lsp.change(uri, version, edit((2, 8), (2, 9), str(version % 10)))  # `dense 2` -> `dense <digit>`
        if version % 500 == 0:
            lsp.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at_json(2, 3)})
    assert lsp.server.document(uri).source == "model m {\n  input 4\n  dense 1\n}\n"
    assert kept() == after_open


def test_every_request_is_answered_even_one_whose_params_do_not_decode_or_that_follows_shutdown(lsp: InProcess):
    lsp.open("file:///a.cnn", MNIST)
    far = {"start": at_json(0, 0), "end": at_json(2147483648, 0)}
    answer = lsp.request("textDocument/inlayHint", {"textDocument": {"uri": "file:///a.cnn"}, "range": far})
    assert answer["error"]["code"] == -32602
    assert "Position.line" in answer["error"]["message"] and "2147483648" in answer["error"]["message"]
    answer = lsp.request("textDocument/hover", {"textDocument": {"uri": "file:///a.cnn"}})  # no position at all
    assert answer["error"]["code"] == -32602
    # After shutdown, a request is still answered: with an error, as LSP asks.
    assert lsp.request("shutdown", None)["result"] is None
    answer = lsp.request("textDocument/hover", {"textDocument": {"uri": "file:///a.cnn"}, "position": at_json(2, 3)})
    assert answer["error"]["code"] == -32600
    answer = lsp.request("textDocument/inlayHint", {"textDocument": {"uri": "file:///a.cnn"}, "range": far})
    assert answer["error"]["code"] == -32602


def test_a_notification_whose_params_do_not_decode_is_dropped_and_the_server_goes_on(lsp: InProcess):
    lsp.open("file:///a.cnn", MNIST)
    lsp.change("file:///a.cnn", 2, edit((0, 0), (2147483648, 0), "x"))
    assert lsp.server.document("file:///a.cnn").source == MNIST
    lsp.change("file:///a.cnn", 3, edit((0, 0), (0, 0), "# x\n"))
    assert lsp.published("file:///a.cnn") == [] and lsp.server.document("file:///a.cnn").source == "# x\n" + MNIST


# Without a server


def test_span_to_range_is_0_based_with_end_exclusive():
    lines = Lines("model m {\n  input 28x28x1\n}")
    assert span_of(lines.range(Span(2, 3, 2, 8))) == (1, 2, 1, 7)
    assert lines.point(at(1, 2)) == (2, 3)


def test_span_to_range_counts_utf16_units_and_clamps_past_the_text():
    text = "# \U0001f600 caf\u00e9\nmodel m {}"
    assert span_of(Lines(text).range(Span(1, 3, 1, 4))) == (0, 2, 0, 4)  # the emoji is two UTF-16 units
    assert span_of(Lines(text, "utf-8").range(Span(1, 3, 1, 4))) == (0, 2, 0, 6)
    assert span_of(Lines(text, "utf-32").range(Span(1, 3, 1, 4))) == (0, 2, 0, 3)
    assert Lines(text).point(at(0, 4)) == (1, 4)
    assert span_of(Lines(text).range(Span(9, 1, 9, 50))) == (1, 0, 1, 10)


def test_a_note_is_related_information_at_its_0_based_range_and_diagnostics_without_notes_have_none():
    text = "model m {\n  input 28x28\n  conv 8 3\n}\nmodel n {\n  input 4\n  maxpol 2\n}\n"
    checked = check_text(text)
    with_note, without = features.diagnostics(checked, Lines(text), "file:///m.cnn")
    (related,) = with_note.related_information
    assert (related.location.uri, span_of(related.location.range)) == ("file:///m.cnn", (1, 2, 1, 13))
    assert related.message == "the input is 28x28 here"
    assert without.related_information is None


def test_a_model_keyword_typed_inside_a_block_is_rechecked_whole_so_its_note_points_at_the_real_brace():
    text = "model m {\n  input 4\n  dense 2\n}\n"
    checker = IncrementalChecker()
    checker.check(text)
    edited = text.replace("  dense 2", "  dense 2\n  model")
    checked = checker.check(edited)
    assert checked.diagnostics == check_text(edited).diagnostics
    ((code, hint, notes),) = [(d.code, d.hint, d.notes) for d in checked.diagnostics]
    assert (code, hint) == ("E102", "close the block of model `m` with `}` before the next model")
    assert [(n.span.line, n.span.column) for n in notes] == [(1, 9)]


def apply(text: str, edit: types.TextEdit) -> str:
    """Apply one edit to ASCII text."""
    lines = text.split("\n")

    def offset(p: types.Position) -> int:
        return sum(len(line) + 1 for line in lines[: p.line]) + p.character

    return text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("maxpol 2x2", "E201"),
        ("conv 8 3x3 stride=2", "E202"),
        ("conv 8 3x3 activation=rleu", "E203"),
        ("conv 8 3x3 rleu", "E207"),
        ("conv 8 3x3 strides=2 strides=1", "E206"),
        ("conv 8 3x3; dense 4", "W301"),
        ("dense 4", "W301"),
        ('conv 8 3x3 padding="same"', "E203"),
        ("MaxPooling2D((2, 2))", "E203"),
        ("Conv2d 8 3x3", "E201"),
        ("Flatten()", "E102"),
        ("MaxPooling2D(pool_size=(2, 2), padding='same')", "E102"),
    ],
)
def test_applying_the_fix_clears_the_diagnostic(line: str, code: str):
    text = f"model m {{\n  input 28x28x1\n  conv 8 3x3\n  {line}\n}}\n"
    checked = check_text(text)
    assert [d.code for d in checked.diagnostics] == [code]
    lines = Lines(text)
    (action,) = features.code_actions(checked, lines, "file:///m.cnn", lines.range(checked.diagnostics[0].span))
    (edit,) = action.edit.changes["file:///m.cnn"]
    assert check_text(apply(text, edit)).diagnostics == []


# Re-checking an edited text by reparsing only the changed lines must give what checking it whole gives.

_PIECES = [
    *("conv", "8", "3x3", "relu", "same", "strides=2", "dense", "10", "flatten", "maxpool", "2x2", "input"),
    *("(", ")", "(3, 3)", ",", ";", "#c", '"s"', '"', "{", "}", "\\", "model", "=", "28x28x1", "name=a"),
    *("3relu", "'", "\u00e9", "\U0001f600", "\t", "dropout", "0.5", "padding=(1,1)", "zeropad", "bn", "\r"),
]
_TWO_MODELS = MNIST + "model b {\n  input 32x32x3\n  conv 16 3x3 same\n  bn\n  dense 4\n}\n"
# A graph: named values, merges, a block with parameters used twice, outputs.
GRAPH = """\
block basic(filters, strides=1) {
  x = input
  y = conv filters 3x3 strides=strides same name=1_conv
  z = conv filters 3x3 same name=2_conv
  add y z name=add
}

model net {
  image = input 32x32x16
  c = conv 16 3x3 same from image
  s = add c image
  t = basic 16 name=conv2_block repeat=2 from s
  u = basic 32 strides=2 from t
  m = maxpool 2x2 from t
  output u m
}
"""
_GRAPH_PIECES = [
    *("x", "y", "z", "s", "t", "u", "=", "from", "from x", "from s, t", "add", "concat", "basic", "output"),
    *("add x y", "concat x y axis=-1", "filters", "strides=strides", "name=1_conv", "repeat=2", "subtract x"),
]


def _random_edit(rng: random.Random, lines: list[str], start: str = _TWO_MODELS, pieces=_PIECES) -> list[str]:
    def line() -> str:
        return "  " + " ".join(rng.choice(pieces) for _ in range(rng.randint(0, 5)))

    lines = list(lines)
    at_line = rng.randrange(len(lines))
    move = rng.random()
    if move < 0.4:
        lines[at_line] = line()
    elif move < 0.6:
        lines.insert(at_line, line())
    elif move < 0.75 and len(lines) > 1:
        del lines[at_line]
    elif move < 0.85:
        return start.split("\n")
    else:
        lines[at_line : at_line + rng.randint(1, 3)] = [line() for _ in range(rng.randint(0, 3))]
    return lines


def _shown(tree) -> str:
    """A syntax tree's repr, which shows the fields equality leaves out; the broken lines in order, since a
    frozenset's repr follows the order its elements were added in."""
    return repr(dataclasses.replace(tree, broken_lines=tuple(sorted(tree.broken_lines))))


@pytest.mark.parametrize(
    ("seed", "start", "pieces"),
    [
        *(pytest.param(seed, _TWO_MODELS, _PIECES, id=f"stacks-{seed}") for seed in range(6)),
        *(
            pytest.param(seed, GRAPH + _TWO_MODELS, _PIECES + _GRAPH_PIECES, id=f"mixed-{seed}")
            for seed in range(6, 10)
        ),
        *(pytest.param(seed, GRAPH, _GRAPH_PIECES, id=f"graph-{seed}") for seed in range(10, 14)),
    ],
)
def test_incremental_recheck_agrees_with_checking_the_whole_text(seed: int, start: str, pieces: list[str]):
    rng = random.Random(seed)
    checker = IncrementalChecker()
    lines = start.split("\n")
    partial = 0
    for _ in range(120):
        lines = _random_edit(rng, lines, start, pieces)
        text = "\n".join(lines)
        incremental, whole = checker.check(text), check_text(text)
        assert incremental.diagnostics == whole.diagnostics, text
        assert [d.fixes for d in incremental.diagnostics] == [d.fixes for d in whole.diagnostics], text
        assert (incremental.spec, incremental.reports) == (whole.spec, whole.reports), text
        assert _shown(checker.tree) == _shown(parse(text)[0]), text
        partial += checker.reparsed_lines is not None
    assert partial >= 5  # the shortcut was taken, not just the fallback


# Positions the client chooses: clamped to the text, so the work grows with the document only.


class CountingLines(Lines):
    """Lines that fail a test reading more of them than a few passes over the text would."""

    def __init__(self, text: str):
        super().__init__(text)
        self.reads = 0

    def line(self, index: int) -> str:
        self.reads += 1
        if self.reads > 10 * len(self.lines) + 10:
            raise AssertionError(f"read {self.reads} lines of a {len(self.lines)}-line text")
        return super().line(index)


_FAR = [at(2147483647, 0), at(2147483647, 2147483647), at(1, 2147483647), at(10**7, 3)]


@pytest.mark.parametrize("position", _FAR, ids=str)
def test_features_at_a_position_past_the_text_read_only_the_texts_lines(position: types.Position):
    text = "model m {\n  input 28x28x1\n  conv 8 3x3 relu\n}"
    checked, far = check_text(text), types.Range(start=at(0, 0), end=position)
    for feature in [
        lambda lines: features.completions(checked, lines, position),
        lambda lines: features.hover(checked, lines, position, markdown=True),
        lambda lines: features.definition(checked, lines, "file:///m.cnn", position),
        lambda lines: features.inlay_hints(checked, lines, far),
        lambda lines: features.code_actions(checked, lines, "file:///m.cnn", far),
    ]:
        feature(CountingLines(text))


def test_a_position_past_the_text_is_clamped_to_its_end():
    lines = Lines("model m {\n  input \U0001f600x1\n}")
    assert span_of(lines.clamp_range(types.Range(start=at(1, 99), end=at(2147483647, 0)))) == (1, 12, 2, 1)
    assert lines.clamp(at(1, 3)) == at(1, 3)
    assert lines.point(at(2147483647, 2147483647)) == (3, 2)


# Incremental sync: ranges in the client's units (UTF-16 here), lines split as LSP splits them.


@pytest.mark.parametrize(
    ("text", "start", "end", "new", "expected"),
    [
        ("ab\U0001f600c\n", (0, 4), (0, 5), "X", "ab\U0001f600X\n"),  # the emoji is two UTF-16 units
        ("ab\U0001f600c\n", (0, 2), (0, 4), "", "abc\n"),
        ("a\u2028b\nc\n", (1, 0), (1, 1), "X", "a\u2028b\nX\n"),  # U+2028 is no line break in LSP
        ("a\x0cb\x85\nc", (1, 0), (1, 1), "X", "a\x0cb\x85\nX"),
        ("ab\r\ncd\ref", (1, 1), (2, 1), "", "ab\r\ncf"),  # \r\n and a lone \r end lines
        ("abc\ndef\n", (0, 4), (0, 4), "X", "abcX\ndef\n"),  # past the line's end: the line's end
        ("abc\ndef", (1, 3), (2147483647, 2147483647), "!", "abc\ndef!"),  # past the text: its end
        ("abc\n", (1, 0), (1, 0), "z", "abc\nz"),  # the empty line after the last break
        ("abc", (0, 2), (0, 1), "X", "abXc"),  # an end before its start replaces nothing
    ],
)
def test_an_incremental_change_replaces_the_range_as_lsp_counts_it(text, start, end, new, expected):
    change = types.TextDocumentContentChangePartial(range=types.Range(start=at(*start), end=at(*end)), text=new)
    assert apply_change(text, change) == expected


def test_an_incremental_change_counts_utf8_and_utf32_units_when_agreed():
    change = types.TextDocumentContentChangePartial(range=types.Range(start=at(0, 6), end=at(0, 7)), text="X")
    assert apply_change("ab\U0001f600c\n", change, "utf-8") == "ab\U0001f600X\n"
    change = types.TextDocumentContentChangePartial(range=types.Range(start=at(0, 3), end=at(0, 4)), text="X")
    assert apply_change("ab\U0001f600c\n", change, "utf-32") == "ab\U0001f600X\n"


def _client_position(text: str, offset: int) -> tuple[int, int]:
    """Where the client puts code point `offset` of `text`: lines end at \\n, \\r\\n or \\r; characters in UTF-16."""
    before = text[:offset]
    line = len(re.findall(r"\r\n|\r|\n", before))
    start = max(before.rfind("\n"), before.rfind("\r")) + 1
    return line, len(before[start:].encode("utf-16-le")) // 2


_TYPED = st.lists(
    st.sampled_from(["a", "3", " ", "x", "=", "\n", "\r\n", "\r", "\U0001f600", "\u00e9", "\u2028", "{", "}", "#"]),
    max_size=6,
).map("".join)


def _splits_a_line_break(text: str, offset: int) -> bool:
    return 0 < offset < len(text) and text[offset - 1] == "\r" and text[offset] == "\n"


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(text=_TYPED.map(lambda t: MNIST[:40] + t + MNIST[40:]), data=st.data())
def test_an_incremental_change_gives_the_text_the_client_has(text: str, data: st.DataObject):
    a = data.draw(st.integers(0, len(text)).filter(lambda o: not _splits_a_line_break(text, o)))
    b = data.draw(st.integers(a, len(text)).filter(lambda o: not _splits_a_line_break(text, o)))
    new = data.draw(_TYPED)
    start, end = _client_position(text, a), _client_position(text, b)
    change = types.TextDocumentContentChangePartial(range=types.Range(start=at(*start), end=at(*end)), text=new)
    assert apply_change(text, change) == text[:a] + new + text[b:]


def test_the_server_announces_incremental_sync(lsp: InProcess):
    assert (
        lsp.initialized["result"]["capabilities"]["textDocumentSync"]["change"]
        == types.TextDocumentSyncKind.Incremental
    )


_CONVERTER = get_converter()  # building one registers hundreds of hooks: once, not per comparison
_WILD = [
    *_PIECES,
    "\U0001f600",
    "\U0001f600\U0001f601",
    "\u00e9t\u00e9",
    "\n",
    "\n  conv 8 3x3\n",
    "\r\n",
    "\u2028",
    "\x0c",
    "",
]
_TYPING = ["c", "o", "n", "v", "8", "3x3", " ", "relu", "=", "\U0001f600", "\u00e9", "same", "2", "#"]
_EMOJI_MODELS = _TWO_MODELS.replace("# ", "# \U0001f600 ").replace("model b {", "model b { # caf\u00e9 \U0001f680")


def _random_range_edit(rng: random.Random, text: str) -> tuple[int, int, str]:
    """Code points text[a:b] replaced by a new string: mostly typing within a line, sometimes anything."""
    move = rng.random()
    if move < 0.03:
        return 0, len(text), _EMOJI_MODELS  # back to a clean text, as one edit of the whole range
    a = rng.randrange(len(text) + 1)
    b = min(len(text), a + rng.choice([0, 0, 1, 2, 5, 30]))
    # No position falls between the \r and \n of a line break: a client has no such position.
    a, b = (a - 1 if _splits_a_line_break(text, a) else a), (b + 1 if _splits_a_line_break(text, b) else b)
    if move < 0.75:  # typing: no brace, backslash or line break taken or added
        if any(c in "{}\\\r\n" for c in text[a:b]):
            b = a
        return a, b, "".join(rng.choice(_TYPING) for _ in range(rng.choice([0, 1, 1, 2])))
    return a, b, "".join(rng.choice(_WILD) for _ in range(rng.choice([0, 1, 1, 2])))


@pytest.mark.parametrize("seed", range(2))
def test_random_range_edits_keep_the_servers_text_and_diagnostics_those_of_the_client(lsp: InProcess, seed: int):
    rng = random.Random(seed)
    uri = f"file:///random_{seed}.cnn"
    text = _EMOJI_MODELS
    lsp.open(uri, text)
    partial = 0
    for version in range(2, 1002):
        a, b, new = _random_range_edit(rng, text)
        lsp.change(uri, version, edit(_client_position(text, a), _client_position(text, b), new))
        text = text[:a] + new + text[b:]
        assert lsp.server.document(uri).source == text
        expected = features.diagnostics(check_text(text), Lines(text), uri)
        assert lsp.published(uri) == _CONVERTER.unstructure(expected), text
        partial += lsp.server.checkers[uri].reparsed_lines is not None
    assert partial >= 100  # the edits went through the incremental reparse, not only the fallback


# Graphs: named values, blocks and their parameters. GRAPH's lines, 0-based, as the client counts them:
#  0 block basic(filters, strides=1) {          8 image = input 32x32x16
#  1   x = input                                 9 c = conv 16 3x3 same from image
#  2   y = conv filters 3x3 strides=strides ...  10 s = add c image
#  3   z = conv filters 3x3 same name=2_conv     11 t = basic 16 name=conv2_block repeat=2 from s
#  4   add y z name=add                          12 u = basic 32 strides=2 from t
#  7 model net {                                 13 m = maxpool 2x2 from t;  14 output u m

REBOUND = """\
model m {
  x = input 8x8x3
  y = conv 4 3x3 same from x
  x = conv 6 1x1 from y
  z = add x x
  output z
}
"""


def ranges(locations) -> list[tuple[int, int, int, int]]:
    return sorted(span_of(location.range) for location in locations)


def test_definition_of_a_value_is_its_latest_binding_above_and_of_a_block_its_header():
    checked, lines = check_text(GRAPH), Lines(GRAPH)
    assert span_of(features.definition(checked, lines, "u", at(10, 11)).range) == (9, 2, 9, 3)  # c
    assert span_of(features.definition(checked, lines, "u", at(11, 46)).range) == (10, 2, 10, 3)  # s
    assert span_of(features.definition(checked, lines, "u", at(11, 7)).range) == (0, 6, 0, 11)  # basic
    assert span_of(features.definition(checked, lines, "u", at(2, 12)).range) == (0, 12, 0, 19)  # filters
    assert span_of(features.definition(checked, lines, "u", at(12, 17)).range) == (0, 21, 0, 28)  # strides=
    checked, lines = check_text(REBOUND), Lines(REBOUND)
    assert span_of(features.definition(checked, lines, "u", at(2, 27)).range) == (1, 2, 1, 3)
    assert span_of(features.definition(checked, lines, "u", at(4, 12)).range) == (3, 2, 3, 3)


def test_references_of_a_binding_stop_at_the_next_binding_of_its_name():
    checked, lines = check_text(REBOUND), Lines(REBOUND)
    first = features.references(checked, lines, "u", at(1, 2), include_declaration=True)
    assert ranges(first) == [(1, 2, 1, 3), (2, 27, 2, 28)]
    second = features.references(checked, lines, "u", at(4, 10), include_declaration=False)
    assert ranges(second) == [(4, 10, 4, 11), (4, 12, 4, 13)]


def test_references_of_a_block_and_of_a_parameter_reach_every_use():
    checked, lines = check_text(GRAPH), Lines(GRAPH)
    block = features.references(checked, lines, "u", at(0, 8), include_declaration=True)
    assert ranges(block) == [(0, 6, 0, 11), (11, 6, 11, 11), (12, 6, 12, 11)]
    strides = features.references(checked, lines, "u", at(2, 34), include_declaration=True)
    assert ranges(strides) == [(0, 21, 0, 28), (2, 31, 2, 38), (12, 15, 12, 22)]


def renamed(text: str, position: types.Position, new_name: str) -> str:
    edit = features.rename(check_text(text), Lines(text), "file:///m.cnn", position, new_name)
    for change in sorted(edit.changes["file:///m.cnn"], key=lambda e: span_of(e.range), reverse=True):
        text = apply(text, change)
    return text


def test_rename_of_a_rebound_value_renames_that_binding_and_its_uses_only():
    text = renamed(REBOUND, at(2, 27), "image")
    assert text == REBOUND.replace("x = input", "image = input").replace("from x\n", "from image\n")
    after, before = check_text(text), check_text(REBOUND)
    assert after.diagnostics == before.diagnostics == []
    assert [(layer.name, layer.inputs) for layer in after.spec.models[0].layers] == [
        (layer.name, tuple(n.replace("x", "image") for n in layer.inputs)) for layer in before.spec.models[0].layers
    ]


def test_rename_of_a_block_and_of_a_parameter_keeps_the_checked_model_the_same():
    before = check_text(GRAPH)
    text = renamed(renamed(GRAPH, at(12, 8), "residual"), at(2, 33), "stride")
    assert "block residual(filters, stride=1)" in text and "strides=stride " in text
    assert "u = residual 32 stride=2 from t" in text
    after = check_text(text)
    assert after.diagnostics == [] and after.reports[0].output_shapes == before.reports[0].output_shapes
    names = [layer.name.replace("residual", "basic") for layer in after.spec.models[0].layers]
    assert names == [layer.name for layer in before.spec.models[0].layers]


@pytest.mark.parametrize(
    ("position", "new_name", "why"),
    [
        (at(10, 2), "1s", "is not a name"),
        (at(10, 2), "s-t", "is not a name"),
        (at(10, 2), "from", "specc's own words"),
        (at(10, 2), "image", "already used in model `net`"),
        (at(1, 2), "filters", "already used in block `basic`"),
        (at(0, 14), "strides", "already used in block `basic`"),
        (at(0, 14), "repeat", "every use of a block takes `repeat`"),
        (at(0, 14), "same", "already used in block `basic`"),  # the body's bare word `same` would become it
        (at(0, 8), "conv", "is a layer kind"),
    ],
)
def test_rename_refuses_a_new_name_that_is_not_a_name_or_would_clash(position, new_name, why):
    with pytest.raises(features.RenameRefused, match=why):
        features.rename(check_text(GRAPH), Lines(GRAPH), "file:///m.cnn", position, new_name)


def test_rename_and_prepare_rename_away_from_any_name_answer_nothing():
    checked, lines = check_text(GRAPH), Lines(GRAPH)
    assert features.prepare_rename(checked, lines, at(9, 12)) is None  # `16`
    assert features.rename(checked, lines, "u", at(9, 12), "x") is None
    placeholder = features.prepare_rename(checked, lines, at(10, 12))
    assert (span_of(placeholder.range), placeholder.placeholder) == ((10, 12, 10, 17), "image")


def test_a_refused_rename_is_an_error_response_and_a_good_one_an_edit(lsp: InProcess):
    lsp.open("file:///g.cnn", GRAPH)
    params = {"textDocument": {"uri": "file:///g.cnn"}, "position": at_json(10, 2)}
    refused = lsp.request("textDocument/rename", {**params, "newName": "image"})
    assert refused["error"]["code"] == types.LSPErrorCodes.RequestFailed
    assert "`image` is already used in model `net`" in refused["error"]["message"]
    edit = lsp.request("textDocument/rename", {**params, "newName": "summed"})["result"]
    assert len(edit["changes"]["file:///g.cnn"]) == 2
    prepared = lsp.request("textDocument/prepareRename", params)["result"]
    assert prepared["placeholder"] == "s"
    references = lsp.request("textDocument/references", {**params, "context": {"includeDeclaration": True}})
    assert len(references["result"]) == 2
    assert lsp.initialized["result"]["capabilities"]["renameProvider"]


def test_hover_on_a_value_name_shows_the_shape_of_what_it_refers_to():
    checked, lines = check_text(GRAPH), Lines(GRAPH)

    def shown(line: int, character: int) -> str:
        return features.hover(checked, lines, at(line, character), markdown=False).contents.value

    assert shown(9, 29) == "value `image` (line 9): 32x32x16"
    assert shown(12, 30) == "value `t` (line 12): 32x32x16"  # a block use: its output
    assert shown(14, 9) == "value `u` (line 13): 16x16x32"
    per_use = shown(4, 6)
    assert per_use.startswith("value `y` (line 3) in block `basic`: 32x32x16 | 16x16x32, per use:")
    assert "conv2_block1_1_conv: 32x32x16" in per_use and "basic_1_1_conv: 16x16x32" in per_use
    assert "basic_1: 32" in shown(2, 13)  # the parameter `filters` at each use
    assert "basic_1: 16x16x32" in shown(12, 8)  # a block's use: its output


def test_inlay_hints_give_one_hint_per_line_and_each_shape_where_a_blocks_uses_differ():
    checked, lines = check_text(GRAPH), Lines(GRAPH)
    hints = features.inlay_hints(checked, lines, types.Range(start=at(0, 0), end=at(16, 0)))
    assert [(h.position.line, h.label) for h in hints] == [
        (1, "→ 32x32x16"),  # the block's input: the same at every use
        (2, "→ 32x32x16 | 16x16x32"),
        (3, "→ 32x32x16 | 16x16x32"),
        (4, "→ 32x32x16 | 16x16x32"),
        (8, "→ 32x32x16"),
        (9, "→ 32x32x16"),
        (10, "→ 32x32x16"),
        (11, "→ 32x32x16"),  # a block use: its output
        (12, "→ 16x16x32"),
        (13, "→ 16x16x16"),
    ]
    assert hints[1].tooltip.split("\n") == [
        "conv2_block1_1_conv: 32x32x16",
        "conv2_block2_1_conv: 32x32x16",
        "basic_1_1_conv: 16x16x32",
    ]


def test_completion_offers_the_values_above_after_from_as_operands_and_after_output():
    text = GRAPH.replace("  output u m\n", "  v = conv 8 1x1 from \n  w = add t \n  output \n")
    checked, lines = check_text(text), Lines(text)

    def labels(line: int, character: int) -> list[str]:
        return [item.label for item in features.completions(checked, lines, at(line, character))]

    assert labels(14, 23) == ["m", "u", "t", "s", "c", "image"]  # the latest first
    # (line 14 does not parse while `from` has no name after it, so `v` is not offered below it)
    assert labels(15, 12)[:6] == ["m", "u", "t", "s", "c", "image"]  # not `w`, the line's own value
    assert labels(16, 9)[:2] == ["w", "m"]
    assert labels(2, 52) == []  # not a place for values
    inside_block = "block b {\n  x = input\n  y = dense 2 from \n}\n"
    assert [i.label for i in features.completions(check_text(inside_block), Lines(inside_block), at(2, 19))] == ["x"]


def test_completion_offers_blocks_as_kinds_and_their_parameters_after_a_use():
    text = GRAPH.replace("  output u m\n", "  v = \n  basic 8 \n")
    checked, lines = check_text(text), Lines(text)
    kinds = {item.label for item in features.completions(checked, lines, at(14, 6))}
    assert {"basic", "conv", "add", "input"} <= kinds
    assert [item.label for item in features.completions(checked, lines, at(15, 10))] == [
        "filters=",
        "strides=",
        "name=",
        "repeat=",
    ]


def test_a_shape_error_inside_a_block_is_published_with_its_call_sites_as_related_information(lsp: InProcess):
    # The block adds its input to its convolution's output: the same shape at the uses with strides 1, not at `u`.
    lsp.open("file:///e.cnn", GRAPH.replace("  add y z name=add", "  add y x name=add"))
    (diagnostic,) = [d for d in lsp.published("file:///e.cnn") if d["code"] == "E304"]
    assert diagnostic["range"]["start"]["line"] == 4
    related = diagnostic["relatedInformation"]
    uses = [r for r in related if r["message"].startswith("in block `basic`, used here as")]
    assert [r["location"]["range"]["start"]["line"] for r in uses] == [12]
    assert all(r["location"]["uri"] == "file:///e.cnn" for r in related)


def test_document_symbols_list_blocks_with_parameters_and_block_uses_without_their_inner_layers():
    symbols = features.document_symbols(check_text(GRAPH), Lines(GRAPH))
    assert [(s.name, s.kind) for s in symbols] == [
        ("basic", types.SymbolKind.Function),
        ("net", types.SymbolKind.Class),
    ]
    assert [c.name for c in symbols[0].children] == ["filters", "strides"]
    assert [c.name for c in symbols[1].children] == [
        "image",
        "conv2d",
        "add",
        "conv2_block2",
        "basic_1",
        "max_pooling2d",
    ]
    for child in symbols[1].children:
        assert symbols[1].range.start.line <= child.range.start.line <= symbols[1].range.end.line


# Many uses of one block written alike, as a real network has them: lines typed, deleted and moved above them.
_REPEATED_USES = (
    "block res(filters, strides=1) {\n  x = input\n  y = conv filters 3x3 strides=strides same\n"
    "  z = conv filters 3x3 same\n  add x z\n}\n\nmodel deep {\n  v0 = input 8x8x4\n"
    + "".join(f"  v{i} = res 4{' repeat=2' if i % 3 == 0 else ''} from v{i - 1}\n" for i in range(1, 13))
    + "  global_avgpool\n  dense 2 softmax\n}\n"
)


@pytest.mark.parametrize("seed", range(4))
def test_incremental_recheck_of_many_alike_block_uses_moved_by_edits_agrees_with_checking_the_whole_text(seed):
    """A block's lines are kept per use and moved with a use that an edit moved; uses written alike must never
    take each other's layers or spans, and an argument that does not fit is reported where it now stands."""
    rng = random.Random(seed)
    checker = IncrementalChecker()
    lines = _REPEATED_USES.split("\n")
    checker.check("\n".join(lines))
    body = [i for i, line in enumerate(lines) if line.startswith("  v") and "= res" in line]
    for step in range(60):
        lines = list(lines)
        move = rng.random()
        at_line = rng.randrange(body[0] - 1, len(lines) - 3)
        if move < 0.35:
            # A new use of the block renumbers the uses after it, so their expansions are lowered again.
            lines.insert(at_line, rng.choice(["  dropout 0.1", "  # a note", "  w = res 4 from v0"]))
        elif move < 0.6 and lines[at_line].strip() in ("dropout 0.1", "# a note", "w = res 4 from v0"):
            del lines[at_line]
        elif move < 0.8:
            target = rng.choice([i for i, line in enumerate(lines) if "= res" in line])
            lines[target] = lines[target].replace("res 4", "res same") if step % 2 else lines[target]
        else:
            lines = _REPEATED_USES.split("\n")
        text = "\n".join(lines)
        incremental, whole = checker.check(text), check_text(text)
        assert incremental.diagnostics == whole.diagnostics, text
        assert (incremental.spec, incremental.reports) == (whole.spec, whole.reports), text
