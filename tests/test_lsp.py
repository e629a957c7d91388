"""The language server: a real client talks to `specc lsp` in a subprocess; positions are 0-based.

The conversions and fixes underneath are also tested directly, without a server.
"""

from __future__ import annotations

import itertools
import random
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from specc.diagnostics import Span
from specc.lsp import features
from specc.lsp.incremental import IncrementalChecker
from specc.lsp.positions import Lines
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
    assert "conv2d_1 (Conv2D): 28x28x1 -> 26x26x32" in text
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
        "conv2d_1",
        "maxpool2d_1",
        "features",
        "flatten_1",
        "dense_1",
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


def _random_edit(rng: random.Random, lines: list[str]) -> list[str]:
    def line() -> str:
        return "  " + " ".join(rng.choice(_PIECES) for _ in range(rng.randint(0, 5)))

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
        return _TWO_MODELS.split("\n")
    else:
        lines[at_line : at_line + rng.randint(1, 3)] = [line() for _ in range(rng.randint(0, 3))]
    return lines


@pytest.mark.parametrize("seed", range(6))
def test_incremental_recheck_agrees_with_checking_the_whole_text(seed: int):
    rng = random.Random(seed)
    checker = IncrementalChecker()
    lines = _TWO_MODELS.split("\n")
    partial = 0
    for _ in range(120):
        lines = _random_edit(rng, lines)
        text = "\n".join(lines)
        incremental, whole = checker.check(text), check_text(text)
        assert incremental.diagnostics == whole.diagnostics, text
        assert [d.fixes for d in incremental.diagnostics] == [d.fixes for d in whole.diagnostics], text
        assert (incremental.spec, incremental.reports) == (whole.spec, whole.reports), text
        assert repr(checker.tree) == repr(parse(text)[0]), text  # repr shows the fields equality leaves out
        partial += checker.reparsed_lines is not None
    assert partial >= 5  # the shortcut was taken, not just the fallback
