"""The VS Code TextMate grammar (editors/vscode/syntaxes/cnn.tmLanguage.json): generated from specc's own tables
of kinds and parameters, and tokenized by the real engine VS Code uses (vscode-textmate on vscode-oniguruma).

The engine tests need node and the extension's npm packages, installed by `npm ci --prefix editors/vscode`;
without them they are skipped, and the drift tests still run.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from specc.layers import ACTIVATIONS, KIND_BY_SPELLING, LAYER_KINDS, PARAMETER_SHORT_FORMS, parameter_names

REPO = Path(__file__).resolve().parent.parent
VSCODE = REPO / "editors" / "vscode"
GRAMMAR_PATH = VSCODE / "syntaxes" / "cnn.tmLanguage.json"
GRAMMAR = json.loads(GRAMMAR_PATH.read_text(encoding="utf-8"))
TOKENIZE = VSCODE / "scripts" / "tokenize.js"
EXAMPLES = sorted((REPO / "examples").glob("*.cnn"))
BAD = sorted((REPO / "tests" / "bad").glob("*.cnn"))

KIND = "support.class.layer.cnn"
PARAMETER = "variable.parameter.cnn"
ACTIVATION = "support.function.activation.cnn"


def _load_generator():
    spec = importlib.util.spec_from_file_location("generate_grammar", VSCODE / "scripts" / "generate_grammar.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _alternation(rule: str) -> set[str]:
    """The words of the one alternation (a|b|c) in a repository rule's regex."""
    [words] = re.findall(r"[A-Za-z0-9_]+(?:\|[A-Za-z0-9_]+)+", GRAMMAR["repository"][rule]["match"])
    return set(words.split("|"))


# --- drift: the grammar is specc's tables, written out ------------------------------------------


def test_the_committed_grammar_is_what_the_generator_writes():
    assert GRAMMAR_PATH.read_text(encoding="utf-8") == _load_generator().render(), (
        "the grammar is out of date: run python editors/vscode/scripts/generate_grammar.py"
    )


def test_the_grammar_knows_every_layer_kind_spelling_and_no_other():
    kinds = _alternation("layer-kind") | _alternation("merge-kind")
    assert kinds == set(KIND_BY_SPELLING) | {cls.keras_class for cls in LAYER_KINDS}


def test_merges_and_only_merges_take_their_operands_after_the_kind():
    merges = {cls for cls in LAYER_KINDS if cls.arity is None}
    assert merges, "specc.layers has merge kinds"
    assert _alternation("merge-kind") == {s for s, c in KIND_BY_SPELLING.items() if c in merges} | {
        cls.keras_class for cls in merges
    }
    assert not _alternation("merge-kind") & _alternation("layer-kind")


def test_the_grammar_knows_every_parameter_name_short_form_name_repeat_start_and_backbone_argument():
    names = {name for cls in LAYER_KINDS for name in parameter_names(cls)}
    backbone = {"weights", "include_top", "pooling", "classes", "classifier_activation", "trainable_from"}
    assert _alternation("parameter") == names | set(PARAMETER_SHORT_FORMS) | {"name", "repeat", "start"} | backbone


def test_the_grammar_knows_every_activation_and_padding_mode():
    assert _alternation("activation") == set(ACTIVATIONS)
    assert _alternation("padding-mode") == {mode for cls in LAYER_KINDS for mode in cls.padding_modes}


def test_the_package_manifest_contributes_the_grammar_for_cnn_files():
    manifest = json.loads((VSCODE / "package.json").read_text(encoding="utf-8"))
    [language] = manifest["contributes"]["languages"]
    assert language["id"] == "cnn" and language["extensions"] == [".cnn"]
    assert (VSCODE / language["configuration"]).is_file()
    [grammar] = manifest["contributes"]["grammars"]
    assert grammar["language"] == "cnn" and grammar["scopeName"] == GRAMMAR["scopeName"] == "source.cnn"
    assert (VSCODE / grammar["path"]).resolve() == GRAMMAR_PATH
    assert "onLanguage:cnn" in manifest["activationEvents"]
    assert manifest["contributes"]["configuration"]["properties"]["specc.server.path"]["default"] == "specc"
    configuration = json.loads((VSCODE / "language-configuration.json").read_text(encoding="utf-8"))
    assert configuration["comments"]["lineComment"] == "#"


# --- the real engine ----------------------------------------------------------------------------


def _tokenize(paths: list[Path]) -> dict[str, list[list[dict]]]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the TextMate grammar is tested with VS Code's engine on node")
    if (
        not (VSCODE / "node_modules" / "vscode-textmate").is_dir()
        or not (VSCODE / "node_modules" / "vscode-oniguruma").is_dir()
    ):
        pytest.skip("vscode-textmate and vscode-oniguruma are not installed: run `npm ci --prefix editors/vscode`")
    done = subprocess.run([node, str(TOKENIZE), *map(str, paths)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def shipped():
    """Every example and bad fixture, tokenized in one run of node."""
    return {Path(path).name: lines for path, lines in _tokenize([*EXAMPLES, *BAD]).items()}


@pytest.fixture
def tokenize_text(tmp_path):
    def tokenize_text(text: str) -> list[list[dict]]:
        path = tmp_path / "t.cnn"
        path.write_text(text, encoding="utf-8")
        return _tokenize([path])[str(path)]

    return tokenize_text


def scopes_of(lines: list[list[dict]], line: int, text: str) -> list[str]:
    """The scopes of the first token with this text on a 1-based line, innermost last."""
    matches = [token["scopes"] for token in lines[line - 1] if token["text"] == text]
    assert matches, f"no token {text!r} on line {line}: {[t['text'] for t in lines[line - 1]]}"
    return matches[0]


@pytest.mark.parametrize(
    ("line", "text", "scope"),
    [
        (1, "#", "punctuation.definition.comment.cnn"),
        (2, "model", "keyword.other.model.cnn"),
        (2, "tour", "entity.name.type.model.cnn"),
        (2, "{", "punctuation.section.block.begin.cnn"),
        (3, "input", "keyword.other.input.cnn"),
        (3, "64x64x3", "constant.numeric.size.cnn"),
        (4, "conv", KIND),
        (4, "filters", PARAMETER),
        (4, "=", "keyword.operator.assignment.cnn"),
        (4, "16", "constant.numeric.integer.cnn"),
        (4, "5x5", "constant.numeric.size.cnn"),
        (4, "same", "support.constant.padding.cnn"),
        (4, "relu", ACTIVATION),
        (4, "false", "constant.language.boolean.cnn"),
        (5, "batchnorm", KIND),
        (5, "0.9", "constant.numeric.float.cnn"),
        (6, " dilation=2 is the short form", "comment.line.number-sign.cnn"),
        (7, "(", "punctuation.section.parens.begin.cnn"),
        (7, ",", "punctuation.separator.comma.cnn"),
        (7, ")", "punctuation.section.parens.end.cnn"),
        (7, "name", PARAMETER),
        (7, "tall", "entity.name.function.layer.cnn"),
        (8, "zeropad", KIND),
        (12, "dropout", KIND),
        (12, "0.25", "constant.numeric.float.cnn"),
        (13, "global_avgpool", KIND),
        (14, "softmax", ACTIVATION),
        (15, "}", "punctuation.section.block.end.cnn"),
    ],
)
def test_the_tour_example_gets_the_expected_scopes(shipped, line, text, scope):
    scopes = scopes_of(shipped["tour.cnn"], line, text)
    assert scopes[0] == "source.cnn"
    assert scopes[-1] == scope


def test_every_word_number_and_mark_of_the_examples_has_a_scope(shipped):
    for example in EXAMPLES:
        # A block's use starts a line with the block's name, which only the spec knows, not a grammar.
        blocks = set(re.findall(r"^block\s+(\w+)", example.read_text(encoding="utf-8"), flags=re.MULTILINE))
        for number, line in enumerate(shipped[example.name], start=1):
            for token in line:
                if token["text"].strip() and token["text"].strip() not in blocks:
                    assert len(token["scopes"]) > 1, f"{example.name}:{number}: {token['text']!r} has no scope"
                assert "variable.other.key.cnn" not in token["scopes"], f"{example.name}:{number}: unknown key"


def test_the_tokens_of_every_fixture_cover_each_line_exactly(shipped):
    for path in [*EXAMPLES, *BAD]:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        tokenized = shipped[path.name]
        assert len(tokenized) == len(lines)
        for line, tokens in zip(lines, tokenized, strict=True):
            assert "".join(t["text"] for t in tokens) == line.rstrip("\r")


def test_misspellings_in_the_fixtures_are_not_highlighted_as_known(shipped):
    lines = shipped["e202_unknown_parameter.cnn"]
    assert scopes_of(lines, 3, "stride")[-1] == "variable.other.key.cnn"
    assert scopes_of(lines, 3, "=")[-1] == "keyword.operator.assignment.cnn"
    [maxpol] = [t for t in shipped["e201_unknown_layer.cnn"][3] if "maxpol" in t["text"]]
    assert maxpol["scopes"] == ["source.cnn"]


def test_every_spelling_of_every_kind_starts_a_statement_in_any_case(tokenize_text):
    spellings = sorted(KIND_BY_SPELLING) + sorted({cls.keras_class for cls in LAYER_KINDS})
    lines = tokenize_text("\n".join(f"  {spelling} 3" for spelling in spellings))
    for number, spelling in enumerate(spellings, start=1):
        assert scopes_of(lines, number, spelling)[-1] == KIND


def test_a_kind_in_an_undocumented_case_is_not_highlighted_as_a_kind(tokenize_text):
    """Lowering makes `Conv2d` or `CONV` an E201, so the editor does not colour them as kinds either."""
    variants = ["Conv2d", "CONV", "DENSE", "maxPooling2D", "INPUT"]
    lines = tokenize_text("\n".join(f"  {variant} 3" for variant in variants))
    for number, variant in enumerate(variants, start=1):
        [token] = [t for t in lines[number - 1] if variant in t["text"]]
        assert token["scopes"] == ["source.cnn"], (variant, token)


def test_every_parameter_and_activation_is_highlighted(tokenize_text):
    keys = sorted({name for cls in LAYER_KINDS for name in parameter_names(cls)} | set(PARAMETER_SHORT_FORMS))
    lines = tokenize_text("\n".join([*(f"conv {key}=3" for key in keys), *(f"dense 4 {a}" for a in ACTIVATIONS)]))
    for number, key in enumerate(keys, start=1):
        assert scopes_of(lines, number, key)[-1] == PARAMETER
    for number, activation in enumerate(ACTIVATIONS, start=len(keys) + 1):
        assert scopes_of(lines, number, activation)[-1] == ACTIVATION


def test_a_backbone_line_highlights_the_keyword_the_network_and_its_arguments(tokenize_text):
    (line,) = tokenize_text("  x = backbone resnet50 weights=imagenet trainable_from=conv5_block1\n")[:1]
    scopes = {token["text"].strip(): token["scopes"][-1] for token in line if token["text"].strip()}
    assert scopes["backbone"] == "keyword.other.backbone.cnn"
    assert scopes["resnet50"] == "support.class.network.cnn"
    assert scopes["weights"] == scopes["trainable_from"] == PARAMETER


def test_statements_on_one_line_strings_and_continuations(tokenize_text):
    lines = tokenize_text(
        "model m { input 8x8x3; dense 4 linear; activation relu }\n"
        'conv 8 3 name="a # \\"b\\"" \\\n'
        "  relu\n"
        "dense +4 activation=linear 1e-3 .5\n"
    )
    assert scopes_of(lines, 1, "input")[-1] == "keyword.other.input.cnn"
    assert scopes_of(lines, 1, "dense")[-1] == KIND
    # `linear` is a kind at the start of a statement and an activation after one.
    assert scopes_of(lines, 1, "linear")[-1] == ACTIVATION
    assert scopes_of(lines, 1, "activation")[-1] == KIND
    assert scopes_of(lines, 1, ";")[-1] == "punctuation.terminator.statement.cnn"
    string = [t for t in lines[1] if "string.quoted.double.cnn" in t["scopes"]]
    assert "".join(t["text"] for t in string) == '"a # \\"b\\""'
    assert not any("comment" in scope for t in lines[1] for scope in t["scopes"])
    assert scopes_of(lines, 2, '\\"')[-1] == "constant.character.escape.cnn"
    assert scopes_of(lines, 2, "\\")[-1] == "punctuation.separator.continuation.line.cnn"
    assert scopes_of(lines, 4, "+4")[-1] == "constant.numeric.integer.cnn"
    assert scopes_of(lines, 4, "linear")[-1] == ACTIVATION
    assert scopes_of(lines, 4, "1e-3")[-1] == "constant.numeric.float.cnn"
    assert scopes_of(lines, 4, ".5")[-1] == "constant.numeric.float.cnn"


GRAPH = """\
block basic(filters, strides=1, pad=(1, 2)) {  # a block
  x = input
  y = conv filters 3x3 strides=strides same name=1_conv
  add x y name=add
}
model net {
  image = input 32x32x16
  c = conv 16 3x3 same from image
  s = add c image
  t = basic 16 name=conv2_block repeat=2 from s
  m = concat t s axis=-1
  dense 10 from a, b
  output m s
}
block plain {
  x = input
}
"""

VALUE = "variable.other.value.cnn"
DEFINED = "variable.other.value.definition.cnn"


@pytest.fixture(scope="module")
def graph(tmp_path_factory):
    """GRAPH, tokenized once for the tests below."""
    path = tmp_path_factory.mktemp("graph") / "graph.cnn"
    path.write_text(GRAPH, encoding="utf-8")
    return _tokenize([path])[str(path)]


@pytest.mark.parametrize(
    ("line", "text", "scope"),
    [
        (1, "block", "keyword.other.block.cnn"),
        (1, "basic", "entity.name.type.block.cnn"),
        (1, "filters", "variable.parameter.block.cnn"),
        (1, "strides", "variable.parameter.block.cnn"),
        (1, "pad", "variable.parameter.block.cnn"),
        (1, "1", "constant.numeric.integer.cnn"),
        (1, "{", "punctuation.section.block.begin.cnn"),
        (1, " a block", "comment.line.number-sign.cnn"),
        (2, "x", DEFINED),
        (2, "input", "keyword.other.input.cnn"),
        (3, "y", DEFINED),
        (3, "=", "keyword.operator.assignment.cnn"),
        (3, "conv", KIND),
        (3, "1_conv", "entity.name.function.layer.cnn"),
        (4, "add", KIND),
        (4, "x", VALUE),
        (4, "y", VALUE),
        (4, "name", PARAMETER),
        (8, "from", "keyword.other.from.cnn"),
        (8, "image", VALUE),
        (9, "s", DEFINED),
        (9, "add", KIND),
        (9, "c", VALUE),
        (9, "image", VALUE),
        (10, "repeat", PARAMETER),
        (11, "concat", KIND),
        (11, "t", VALUE),
        (11, "axis", PARAMETER),
        (12, "a", VALUE),
        (12, ",", "punctuation.separator.comma.cnn"),
        (12, "b", VALUE),
        (13, "output", "keyword.other.output.cnn"),
        (13, "m", VALUE),
        (13, "s", VALUE),
        (15, "block", "keyword.other.block.cnn"),
        (15, "plain", "entity.name.type.block.cnn"),
    ],
)
def test_graph_syntax_gets_the_expected_scopes(graph, line, text, scope):
    assert scopes_of(graph, line, text)[-1] == scope


def test_a_block_use_is_not_highlighted_as_a_kind_since_block_names_are_the_users(graph):
    [token] = [t for t in graph[9] if "basic" in t["text"]]
    assert token["scopes"] == ["source.cnn"]


def test_every_merge_kind_after_a_target_takes_value_names(tokenize_text):
    merges = sorted(_alternation("merge-kind"))
    lines = tokenize_text("\n".join(f"  v = {merge} a b axis=1" for merge in merges))
    for number, merge in enumerate(merges, start=1):
        assert scopes_of(lines, number, merge)[-1] == KIND
        assert scopes_of(lines, number, "a")[-1] == VALUE
        assert scopes_of(lines, number, "axis")[-1] == PARAMETER


# --- the extension's client ---------------------------------------------------------------------


def _activate(settings: dict, workspace: str | None = None) -> list[dict]:
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed; the extension's client is tested on node")
    if not (VSCODE / "node_modules" / "vscode-languageclient").is_dir():
        pytest.skip("vscode-languageclient is not installed: run `npm ci --prefix editors/vscode`")
    script = VSCODE / "scripts" / "activate_smoke.js"
    done = subprocess.run(
        [node, str(script), json.dumps(settings), *([workspace] if workspace else [])],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_the_extension_starts_specc_lsp_over_stdio_for_cnn_documents():
    [client] = _activate({})
    assert client["id"] == "specc"
    assert (client["server"]["command"], client["server"]["args"]) == ("specc", ["lsp"])
    assert {"scheme": "file", "language": "cnn"} in client["selector"]


def test_the_extension_runs_the_server_path_setting_with_the_workspace_folder_filled_in(tmp_path):
    settings = {"server.path": "${workspaceFolder}/.venv/bin/specc", "server.args": ["-v", "lsp"]}
    [client] = _activate(settings, str(tmp_path))
    assert client["server"]["command"] == f"{tmp_path}/.venv/bin/specc"
    assert client["server"]["args"] == ["-v", "lsp"]
    assert client["server"]["options"]["cwd"] == str(tmp_path)


def test_a_bare_word_that_a_block_parameter_stands_for_is_a_word_not_plain_text(tokenize_text):
    lines = tokenize_text("block b(filters, s=1) {\n  conv filters 3x3 strides=s\n}")
    assert scopes_of(lines, 2, "filters")[-1] == "variable.other.word.cnn"
    assert scopes_of(lines, 2, "s")[-1] == "variable.other.word.cnn"


def test_a_budget_line_highlights_the_keyword_metrics_comparisons_quantities_and_options(tokenize_text):
    lines = tokenize_text(
        "model m {\n  budget params<=5M macs < 600M memory<=1.5GiB batch=8 dtype=float16  # at most\n"
        "  budget parms<=5M; dense 2\n}\n"
    )
    assert scopes_of(lines, 2, "budget")[-1] == "keyword.other.budget.cnn"
    for metric in ("params", "macs", "memory"):
        assert scopes_of(lines, 2, metric)[-1] == "support.variable.metric.cnn"
    assert scopes_of(lines, 2, "<=")[-1] == scopes_of(lines, 2, "<")[-1] == "keyword.operator.comparison.cnn"
    for quantity in ("5M", "600M", "1.5GiB"):
        assert scopes_of(lines, 2, quantity)[-1] == "constant.numeric.quantity.cnn"
    assert scopes_of(lines, 2, "batch")[-1] == scopes_of(lines, 2, "dtype")[-1] == PARAMETER
    assert scopes_of(lines, 2, "8")[-1] == "constant.numeric.integer.cnn"
    assert scopes_of(lines, 2, "float16")[-1] == "support.type.dtype.cnn"
    assert scopes_of(lines, 2, " at most")[-1] == "comment.line.number-sign.cnn"
    # A misspelt metric is a key specc does not know, and the budget line ends at `;`.
    assert scopes_of(lines, 3, "parms")[-1] == "variable.other.key.cnn"
    assert scopes_of(lines, 3, "dense")[-1] == KIND


def test_the_grammar_knows_every_budget_metric_option_and_dtype():
    from specc.lower import BUDGET_DTYPES, BUDGET_METRICS, BUDGET_OPTIONS

    limit, option, dtype = GRAMMAR["repository"]["budget"]["patterns"][1:4]
    assert set(re.findall(r"\(\?:\(([a-z|]+)\)", limit["match"])[0].split("|")) == set(BUDGET_METRICS)
    assert set(re.findall(r"\(\?:\(([a-z|]+)\)", option["match"])[0].split("|")) == set(BUDGET_OPTIONS)
    assert set(re.findall(r"\(\?:([a-z0-9|]+)\)", dtype["match"])[0].split("|")) == set(BUDGET_DTYPES)


@pytest.mark.parametrize("written", ["?x?x3", "HxWx3", "28x28x1"])
def test_an_input_size_with_open_extents_is_one_size_token(tokenize_text, written):
    (line,) = tokenize_text(f"  input {written}\n")[:1]
    scopes = {token["text"].strip(): token["scopes"][-1] for token in line if token["text"].strip()}
    assert scopes[written] == "constant.numeric.size.cnn"
