"""The language server on backbone lines: hover shows the network's shapes and what trains and what is frozen,
the inlay hint its output, and completion offers the zoo's networks and keras.applications' arguments."""

from __future__ import annotations

import itertools
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from specc.lsp.features import completions
from specc.lsp.positions import Lines
from specc.pipeline import check_text
from specc.zoo import ZOO

on_server = pytest.mark.asyncio(loop_scope="module")
_uris = (f"file:///backbones/{n}.cnn" for n in itertools.count())

FINE_TUNING = """\
model fine_tuning {
  input 150x150x3
  backbone vgg16 weights=imagenet include_top=false trainable_from=block5_conv1
  flatten
  dense 1 sigmoid
}
"""


@pytest_lsp.fixture(
    scope="module",
    config=ClientServerConfig(server_command=[sys.executable, "-m", "specc", "lsp"]),
)
async def client(lsp_client: LanguageClient):
    await lsp_client.initialize_session(types.InitializeParams(capabilities=client_capabilities("visual-studio-code")))
    yield
    await lsp_client.shutdown_session()


async def open_document(client: LanguageClient, text: str) -> str:
    uri = next(_uris)
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="specc", version=1, text=text)
        )
    )
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri:
            assert list(params.diagnostics) == []
            return uri


@on_server
async def test_hover_on_a_backbone_shows_its_shapes_and_what_trains_and_what_is_frozen(client: LanguageClient):
    uri = await open_document(client, FINE_TUNING)
    hover = await client.text_document_hover_async(
        types.HoverParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line=2, character=5)
        )
    )
    assert hover is not None
    text = hover.contents.value
    assert "keras.applications.VGG16(include_top=false, weights=imagenet)" in text
    assert "150x150x3 -> 4x4x512, 18 layers" in text
    # block5's three convolutions train: 3 * (3*3*512*512 + 512); blocks 1 to 4 are frozen.
    block5 = 3 * (9 * 512 * 512 + 512)
    assert f"params: 14,714,688 ({block5:,} trainable, {14_714_688 - block5:,} frozen)" in text
    assert "block5_conv1" in text


@on_server
async def test_the_inlay_hint_of_a_backbone_is_its_output_shape_once(client: LanguageClient):
    uri = await open_document(client, FINE_TUNING)
    hints = await client.text_document_inlay_hint_async(
        types.InlayHintParams(
            text_document=types.TextDocumentIdentifier(uri=uri),
            range=types.Range(start=types.Position(line=0, character=0), end=types.Position(line=6, character=0)),
        )
    )
    on_backbone = [h for h in hints if h.position.line == 2]
    assert [h.label for h in on_backbone] == ["→ 4x4x512"]
    assert "14,714,688 params" in on_backbone[0].tooltip


def _labels(text: str, line: int, character: int) -> list[str]:
    items = completions(check_text(text), Lines(text), types.Position(line=line, character=character))
    return [item.label for item in items]


def test_completion_offers_backbone_then_the_zoo_then_keras_applications_arguments():
    assert "backbone" in _labels("model m {\n  input 8x8x3\n  \n}\n", 2, 2)
    assert _labels("model m {\n  input 8x8x3\n  backbone \n}\n", 2, 11) == [network.name for network in ZOO]
    arguments = _labels("model m {\n  input 8x8x3\n  backbone vgg16 weights=none \n}\n", 2, 30)
    assert "weights=" not in arguments and {"include_top=", "pooling=", "trainable_from="} <= set(arguments)
    assert _labels("model m {\n  input 8x8x3\n  backbone vgg16 pooling=\n}\n", 2, 25) == ["avg", "max", "none"]
