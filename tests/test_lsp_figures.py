"""The language server shows what each layer costs and sees (issue 14): hover and the optional MACs hints.

Every expected number comes from specc.figures on the same text, never copied: these tests prove
the server shows the figures, and where; tests/test_figures.py proves the figures themselves.
"""

from __future__ import annotations

import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from specc.figures import format_bytes, format_count, model_figures
from specc.lsp import features
from specc.lsp.positions import Lines
from specc.lsp.server import Settings
from specc.pipeline import check_text
from tests.test_lsp import MNIST, InProcess, at, at_json, doc, lsp, open_document  # noqa: F401

on_server = pytest.mark.asyncio(loop_scope="module")

STRIDED = """\
model strided {
  input 32x32x3
  conv 8 3x3 strides=2 same
  conv 16 3x3 strides=2 same name=second
  globalavgpool
}
"""

OPEN = """\
model open {
  input ?x?x3
  conv 8 3x3 strides=2
  globalavgpool
}
"""

BLOCKS = """\
block pair(filters) {
  conv filters 3x3 same
  conv filters 3x3 same
}
model net {
  input 16x16x4
  pair 4 name=p repeat=2
  pair 8
}
"""

EVERYTHING = types.Range(start=at(0, 0), end=at(100, 0))


def figures_of(text: str):
    (report,) = check_text(text).reports
    return report, model_figures(report)


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "specc", "lsp"]),
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


async def hover_text(client: LanguageClient, text: str, line: int, character: int) -> str:
    uri, _ = await open_document(client, text)
    hover = await client.text_document_hover_async(
        types.HoverParams(text_document=doc(uri), position=at(line, character))
    )
    assert hover is not None
    return hover.contents.value


@on_server
async def test_hover_on_a_conv_shows_its_macs_flops_output_memory_and_receptive_field(client: LanguageClient):
    _, figures = figures_of(STRIDED)
    second = figures.layers["second"]
    text = await hover_text(client, STRIDED, 3, 4)
    assert f"MACs {format_count(second.macs)} · FLOPs {format_count(second.flops)}" in text
    assert f"output memory {format_bytes(second.output_bytes)} (float32, batch 1)" in text
    field = second.receptive_field
    assert field is not None and field.size[0] == field.size[1]
    assert f"receptive field {field.size[0]}x{field.size[1]}, jump {field.jump[0]}, start {field.start[0]}" in text
    # The arithmetic behind them follows the shapes' own.
    assert all(line in text for line in figures.working["second"])


@on_server
async def test_hover_on_the_model_name_shows_the_models_cost_and_memory_totals(client: LanguageClient):
    _, figures = figures_of(STRIDED)
    text = await hover_text(client, STRIDED, 0, 8)
    assert f"MACs {format_count(figures.macs)} · FLOPs {format_count(figures.flops)} (one example)" in text
    assert f"parameter memory {format_bytes(figures.parameter_bytes)}" in text
    assert f"peak forward memory {format_bytes(figures.peak_forward_bytes)}" in text
    assert f"training estimate {format_bytes(figures.training_bytes)}" in text


@on_server
async def test_hover_on_an_open_input_shows_the_sizes_it_accepts_the_output_formula_and_where_figures_are_taken(
    client: LanguageClient,
):
    report, figures = figures_of(OPEN)
    sizes = report.input_sizes
    assert sizes is not None and sizes.evaluated_at is not None
    text = await hover_text(client, OPEN, 1, 4)
    assert f"accepts {sizes.describe()}" in text
    assert f"output {sizes.describe_outputs()}" in text
    shown = " x ".join(f"{name}={size}" for name, size in sizes.evaluated_at.items())
    assert f"shapes and figures are at {shown}" in text
    assert f"MACs {format_count(figures.macs)}" in text


def test_hover_on_a_block_use_sums_the_macs_of_every_repetitions_layers():
    report, figures = figures_of(BLOCKS)
    checked, lines = check_text(BLOCKS), Lines(BLOCKS, "utf-16")
    repeated = [r.layer.name for r in report.layers if r.layer.span.line in (2, 3) and r.layer.scope in (0, 1)]
    assert len(repeated) == 4  # two convs in each of p1 and p2
    expected = format_count(sum(figures.layers[name].macs for name in repeated))
    for character in (2, 12):  # on the block's name (its symbol hover) and on the line's arguments
        hover = features.hover(checked, lines, at(6, character), markdown=False)
        assert hover is not None
        assert f"MACs {expected} · " in hover.contents.value
        assert "2 repetitions, 4 layers" in hover.contents.value


def test_hover_on_a_backbone_line_sums_its_layers_macs():
    text = "model m {\n  input 32x32x3\n  backbone vgg16 weights=none include_top=false\n}\n"
    report, figures = figures_of(text)
    hover = features.hover(check_text(text), Lines(text, "utf-16"), at(2, 4), markdown=False)
    assert hover is not None
    total = sum(figures.layers[r.layer.name].macs for r in report.layers)
    assert f"MACs {format_count(total)} · " in hover.contents.value


def cost_labels(hints: list[types.InlayHint]) -> list[tuple[int, str]]:
    return [(h.position.line, h.label) for h in hints if isinstance(h.label, str) and h.label.endswith(" MACs")]


@on_server
async def test_cost_inlay_hints_are_absent_by_default(client: LanguageClient):
    uri, _ = await open_document(client, MNIST)
    hints = await client.text_document_inlay_hint_async(types.InlayHintParams(text_document=doc(uri), range=EVERYTHING))
    assert cost_labels(hints) == []
    assert len(hints) == 6  # the shape hints, as before


def _cost_hints_expected(text: str) -> list[tuple[int, str]]:
    """One hint per line whose layer multiplies weights, with its MACs from specc.figures."""
    report, figures = figures_of(text)
    return [
        (r.layer.span.end_line - 1, f"{format_count(figures.layers[r.layer.name].macs)} MACs")
        for r in report.layers
        if figures.layers[r.layer.name].macs
    ]


def test_cost_inlay_hints_appear_after_initialization_options_turn_them_on(lsp: InProcess):  # noqa: F811
    uri = "file:///work/default.cnn"
    lsp.open(uri, MNIST)  # a server initialized without options: no cost hints
    answer = lsp.request("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": _json(EVERYTHING)})
    assert not any(h["label"].endswith(" MACs") for h in answer["result"])

    turned_on = _initialized_with({"inlayHints": {"costs": True}})
    turned_on.open(uri, MNIST)
    answer = turned_on.request("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": _json(EVERYTHING)})
    labels = [(h["position"]["line"], h["label"]) for h in answer["result"] if h["label"].endswith(" MACs")]
    assert labels == _cost_hints_expected(MNIST)
    # Each cost hint comes after its line's shape hint.
    by_line = [h["label"] for h in answer["result"] if h["position"]["line"] == 2]
    assert by_line[0].startswith("→ ") and by_line[1].endswith(" MACs")


def test_cost_inlay_hints_turn_on_and_off_with_did_change_configuration(lsp: InProcess):  # noqa: F811
    uri = "file:///work/configured.cnn"
    lsp.open(uri, MNIST)

    def labels() -> list[tuple[int, str]]:
        answer = lsp.request("textDocument/inlayHint", {"textDocument": {"uri": uri}, "range": _json(EVERYTHING)})
        return [(h["position"]["line"], h["label"]) for h in answer["result"] if h["label"].endswith(" MACs")]

    assert labels() == []
    lsp.notify("workspace/didChangeConfiguration", {"settings": {"specc": {"inlayHints": {"costs": True}}}})
    assert labels() == _cost_hints_expected(MNIST)
    lsp.notify("workspace/didChangeConfiguration", {"settings": {"specc": {"inlayHints": {"costs": False}}}})
    assert labels() == []


def test_the_figures_are_computed_once_per_check_not_per_request(lsp: InProcess, monkeypatch):  # noqa: F811
    calls = []
    computed = features.figures_of
    monkeypatch.setattr(features, "figures_of", lambda checked: calls.append(1) or computed(checked))
    uri = "file:///work/once.cnn"
    lsp.open(uri, MNIST)
    assert calls == []  # typing, which wants only diagnostics, does not pay for them
    for line in range(1, 7):
        lsp.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at_json(line, 4)})
    assert calls == [1]
    lsp.change(uri, 2, {"text": MNIST.replace("conv 32", "conv 16")})
    lsp.request("textDocument/hover", {"textDocument": {"uri": uri}, "position": at_json(2, 4)})
    assert calls == [1, 1]


@pytest.mark.parametrize(
    "given",
    [None, [], "costs", {"inlayHints": "yes"}, {"inlayHints": {"costs": "true"}}, {"specc": None}, {"other": 1}],
)
def test_settings_that_do_not_say_true_or_false_change_nothing(given):
    settings = Settings()
    assert not settings.update(given)
    assert settings.cost_hints is False


def _json(r: types.Range) -> dict:
    return {"start": at_json(r.start.line, r.start.character), "end": at_json(r.end.line, r.end.character)}


def _initialized_with(options: dict) -> InProcess:
    """An in-process server whose client sent `options` as initializationOptions."""
    server = InProcess.__new__(InProcess)
    original = InProcess.request

    def request(self, method, params):
        if method == "initialize":
            params = {**params, "initializationOptions": options}
        return original(self, method, params)

    server.request = request.__get__(server)  # type: ignore[method-assign]
    InProcess.__init__(server)
    return server


@pytest.mark.parametrize("costs", [False, True])
def test_the_vscode_extension_passes_the_cost_hints_setting_and_synchronizes_the_specc_section(costs):
    from tests.test_textmate_grammar import _activate

    [client] = _activate({"inlayHints.costs": costs})
    assert client["initializationOptions"] == {"inlayHints": {"costs": costs}}
    assert client["synchronize"] == {"configurationSection": "specc"}
    settings = Settings()
    settings.update(client["initializationOptions"])
    assert settings.cost_hints is costs


def test_the_vscode_extension_declares_the_cost_hints_setting_off_by_default():
    import json
    from pathlib import Path

    manifest = json.loads((Path(__file__).parent.parent / "editors" / "vscode" / "package.json").read_text())
    setting = manifest["contributes"]["configuration"]["properties"]["specc.inlayHints.costs"]
    assert (setting["type"], setting["default"]) == ("boolean", False)


def test_hover_on_a_model_with_an_error_shows_no_totals_since_no_layer_reaches_an_output_yet():
    text = "model broken {\n  input 28x28x1\n  conv 32 3x3\n  dense 10 nosuch\n}\n"
    hover = features.hover(check_text(text), Lines(text, "utf-16"), at(0, 8), markdown=False)
    assert hover is not None
    assert "the totals once it is fixed" in hover.contents.value
    assert "MACs" not in hover.contents.value
