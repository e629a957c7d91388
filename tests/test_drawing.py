"""`specc graph`: each example's DOT is its reviewed golden file; boxes show name, Keras class, shape and
parameters; edges follow the dataflow; merges, block-use clusters, folded repeats and --collapse are drawn
as specified; Mermaid output is well formed and escaped; `dot` renders the pictures; a missing `dot` program,
a bad output and a spec with errors give the documented exit codes and messages."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from specc.drawing import BoxKind, dot_source, drawings, mermaid_source, mermaid_text
from specc.pipeline import check_text

from cli_helpers import invoke

REPO = Path(__file__).resolve().parent.parent
GOLDEN = Path(__file__).resolve().parent / "golden"
GOLDEN_EXAMPLES = ("resnet_stages", "unet")
# `specc graph SPEC -o PICTURE` in the README, with the picture it shows.
README_PICTURES = re.compile(r"specc graph (\S+\.cnn) -o (docs/\S+\.svg)\n```\n\n!\[[^\]]*\]\(\2\)")

REPEAT_SPEC = """\
block basic(filters) {
  x = input
  y = conv filters 3x3 same name=1_conv
  y = conv filters 3x3 same name=2_conv
  add x y name=add
}

model net {
  image = input 8x8x4
  conv 4 3x3 same
  basic 4 name=stage repeat=3
  basic 4
}
"""

NESTED_SPEC = """\
block inner(filters) {
  conv filters 3x3 same name=conv
}

block outer(filters) {
  x = input
  y = inner filters name=a
  z = inner filters name=b from x
  concat y z name=join
}

model nested {
  input 8x8x3
  outer 4 name=left
  dense 2
}
"""


def needs_dot() -> None:
    """Skip where Graphviz's dot program is missing, except under CI, which installs it (.ci/run): there, fail."""
    if shutil.which("dot") is not None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail("CI=true but Graphviz's `dot` program is not installed; .ci/run installs it as root via apt-get")
    pytest.skip("Graphviz's `dot` program is not installed (apt-get install graphviz); CI runs this test")


def example(stem: str) -> Path:
    return REPO / "examples" / f"{stem}.cnn"


def picture(text: str, collapse: bool = False):
    checked = check_text(text)
    [drawn] = drawings(checked.reports, collapse, checked.lines)
    return checked, drawn


def clusters_of(dot: str) -> dict[str, tuple[str, ...]]:
    """For each node of a DOT text, the labels of the clusters it is drawn in, outermost first."""
    found: dict[str, tuple[str, ...]] = {}
    stack: list[str] = []
    for line in dot.splitlines():
        stripped = line.strip()
        if stripped.startswith("subgraph cluster_"):
            stack.append("")
        elif stripped == "}":
            if stack:
                stack.pop()
        elif stack and re.match(r"(color|fillcolor|label|style)=", stripped) and " label=" in f" {stripped}":
            stack[-1] = re.search(r'label="([^"]*)"', stripped).group(1)
        elif match := re.match(r'^"?([\w.#]+)"? \[label=', stripped):
            found[match.group(1)] = tuple(stack)
    return found


@pytest.mark.parametrize("stem", GOLDEN_EXAMPLES)
def test_example_dot_is_the_golden_file(stem):
    """The DOT of each example is reviewed once in tests/golden; regenerate with SPECC_UPDATE_GOLDEN=1."""
    golden = GOLDEN / f"{stem}.dot"
    result = invoke("graph", example(stem))
    assert result.exit_code == 0, result.output
    if os.environ.get("SPECC_UPDATE_GOLDEN"):
        golden.write_text(result.stdout, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden}; run with SPECC_UPDATE_GOLDEN=1 and review it"
    assert result.stdout == golden.read_text(encoding="utf-8")


def test_every_layer_box_shows_name_keras_class_output_shape_and_params():
    checked, drawn = picture(example("resnet_stages").read_text(encoding="utf-8"))
    boxes = {box.id: box for box in drawn.boxes}
    assert boxes["input"].lines == ("input · InputLayer", "(None, 32, 32, 3)")
    assert boxes["conv1_conv"].lines == ("conv1_conv · Conv2D", "(None, 32, 32, 64)", "1,728 params")
    [report] = checked.reports
    for layer_report in report.layers:
        box = boxes.get(layer_report.layer.name)
        if box is None:  # folded
            continue
        assert box.lines[0] == f"{layer_report.layer.name} · {layer_report.layer.keras_class}"
        assert box.lines[1] == "(None, " + ", ".join(map(str, layer_report.inference.output_shape)) + ")"
        assert box.lines[2] == f"{layer_report.inference.params:,} params"


def test_edges_follow_each_layers_inputs_in_the_unet():
    checked, drawn = picture(example("unet").read_text(encoding="utf-8"))
    [report] = checked.reports
    expected = [(source, layer.name) for layer in report.model.layers for source in layer.inputs]
    assert drawn.edges == expected
    dot = dot_source([drawn])
    for source, target in expected:
        assert f"\t{source} -> {target}\n" in dot


def test_merges_are_joins_drawn_as_hexagons_and_only_merges_are():
    _, drawn = picture(example("unet").read_text(encoding="utf-8"))
    merges = [box.id for box in drawn.boxes if box.kind is BoxKind.merge]
    assert merges == ["concatenate", "concatenate_1", "concatenate_2"]
    dot = dot_source([drawn])
    hexagons = re.findall(r"^\t+(\w+) \[label=.*shape=hexagon", dot, flags=re.MULTILINE)
    assert hexagons == merges
    # Each join has its two edges in.
    assert all(sum(target == merge for _, target in drawn.edges) == 2 for merge in merges)


def test_block_uses_are_clusters_nested_as_the_uses_nest():
    dot = dot_source([picture(NESTED_SPEC)[1]])
    where = clusters_of(dot)
    assert where["left_a_conv"] == ("left (outer)", "left_a (inner)")
    assert where["left_b_conv"] == ("left (outer)", "left_b (inner)")
    assert where["left_join"] == ("left (outer)",)
    assert where["input"] == () and where["dense"] == ()
    assert dot.count("subgraph cluster_") == 3


def test_a_backbone_is_a_cluster_holding_its_networks_blocks():
    dot = dot_source([picture(example("fine_tuning").read_text(encoding="utf-8"))[1]])
    where = clusters_of(dot)
    assert where["block1_conv1"] == ("vgg16 (backbone)", "block1 (two_convs)")
    assert where["flatten"] == ()
    assert "1,792 params, frozen" in dot


def test_a_repeat_draws_its_first_repetition_and_folds_the_rest_into_one_box():
    checked, drawn = picture(REPEAT_SPEC)
    ids = [box.id for box in drawn.boxes]
    assert {"stage1_1_conv", "stage1_2_conv", "stage1_add"} <= set(ids)
    assert not [name for name in ids if name.startswith(("stage2_", "stage3_"))]
    [fold] = [box for box in drawn.boxes if box.kind is BoxKind.fold]
    [report] = checked.reports
    folded = sum(r.inference.params for r in report.layers if r.layer.name.startswith(("stage2_", "stage3_")))
    assert fold.lines == ("stage2..3 (basic ×2)", "(None, 8, 8, 4)", f"{folded:,} params")
    # The fold reads the first repetition's output, and what follows reads the fold.
    assert ("stage1_add", fold.id) in drawn.edges
    assert (fold.id, "basic_1_1_conv") in drawn.edges
    assert "box3d" in dot_source([drawn])


def test_collapse_draws_each_outermost_block_use_as_one_box_with_its_params_summed():
    checked, drawn = picture(NESTED_SPEC, collapse=True)
    [report] = checked.reports
    [block] = [box for box in drawn.boxes if box.kind is BoxKind.block]
    inside = sum(r.inference.params for r in report.layers if r.layer.name.startswith("left_"))
    assert block.lines == ("left (outer)", "(None, 8, 8, 8)", f"{inside:,} params")
    assert [box.id for box in drawn.boxes] == ["input", block.id, "dense"]
    assert drawn.edges == [("input", block.id), (block.id, "dense")]
    assert "subgraph" not in dot_source([drawn])


def test_collapse_keeps_a_repeats_fold_and_draws_a_backbone_as_one_box():
    _, drawn = picture(REPEAT_SPEC, collapse=True)
    assert [box.lines[0] for box in drawn.boxes] == [
        "image · InputLayer",
        "conv2d · Conv2D",
        "stage1 (basic)",
        "stage2..3 (basic ×2)",
        "basic_1 (basic)",
    ]
    _, tuned = picture(example("fine_tuning").read_text(encoding="utf-8"), collapse=True)
    backbone = tuned.boxes[1]
    assert backbone.lines == ("vgg16 (backbone)", "(None, 4, 4, 512)", "14,714,688 params (7,635,264 frozen)")


def test_mermaid_is_a_top_to_bottom_flowchart_with_subgraphs_and_generated_ids():
    _, drawn = picture(NESTED_SPEC)
    text = mermaid_source([drawn])
    lines = text.splitlines()
    assert lines[0] == "flowchart TB"
    opened = [line.strip() for line in lines if line.strip().startswith("subgraph ")]
    assert opened == ['subgraph c0["left (outer)"]', 'subgraph c1["left_a (inner)"]', 'subgraph c2["left_b (inner)"]']
    assert sum(line.strip() == "end" for line in lines) == 3
    # Node ids are generated, so no layer name can clash with Mermaid's words such as `end`.
    nodes = re.findall(r"^\s+(\w+)[\[({]", text, flags=re.MULTILINE)
    assert nodes and all(re.fullmatch(r"n\d+", node) for node in nodes)
    edges = re.findall(r"^  (n\d+) --> (n\d+)$", text, flags=re.MULTILINE)
    assert len(edges) == len(drawn.edges)
    assert '{{"<b>left_join · Concatenate</b>' in text


def test_mermaid_and_dot_escape_a_quoted_source_lines_markup():
    spec = 'model m {\n  input 8x8x1\n  maxpol 2x2  # "odd" <name> [x] & more\n  dense 2\n}\n'
    _, drawn = picture(spec)
    [failed] = [box for box in drawn.boxes if box.kind is BoxKind.failed]
    assert failed.lines[0] == "✗ line 3"
    text = mermaid_source([drawn])
    assert mermaid_text('"odd" <name> [x] & #') == "#quot;odd#quot; #lt;name#gt; [x] #amp; #35;"
    label = next(line for line in text.splitlines() if "line 3" in line)
    assert label.count('"') == 2 and "<name>" not in label and "#quot;odd#quot;" in label
    dot = dot_source([drawn])
    assert "&quot;odd&quot; &lt;name&gt; [x] &amp; more" in dot


def test_graph_of_a_spec_with_errors_prints_diagnostics_draws_what_was_inferred_and_exits_1(write):
    spec = write(
        "bad.cnn",
        "model bad {\n  image = input 8x8x3\n  a = conv 4 3x3 same from image\n  b = conv 2 3x3 from image\n"
        "  s = add a b\n  t = maxpol 2x2 from s\n  dense 2\n}\n",
    )
    result = invoke("graph", spec)
    assert result.exit_code == 1
    assert "error[E304]" in result.stderr and "error[E201]" in result.stderr
    assert "drawn as far as it was inferred" in result.stderr
    dot = result.stdout
    assert dot.startswith("digraph")
    # The add the checker refused, the failed line quoted, and the dense after it not inferred.
    assert re.search(r"<b>add · Add</b><br/>\?<br/>✗ error at line 5>", dot)
    assert "✗ line 6</b><br/>t = maxpol 2x2 from s" in dot
    assert "<b>dense · Dense</b><br/>?<br/>not inferred" in dot


def test_graph_exit_codes_and_usage_errors(write, tmp_path):
    spec = example("mnist")
    assert invoke("graph", spec).exit_code == 0
    for args, message in [
        (("-o", tmp_path / "x.txt"), "name a file ending in .dot, .gv, .mmd, .svg, .png, .pdf"),
        (("-o", tmp_path / "x.svg", "--format", "mermaid"), "--format mermaid does not write .svg files"),
        (("-o", tmp_path / "x.mmd", "--format", "dot"), "--format dot does not write .mmd files"),
        (("-o", tmp_path / "missing" / "x.dot"), "no directory"),
        (("--model", "nope"), "has no model `nope`; it has: mnist"),
    ]:
        result = invoke("graph", spec, *args)
        assert result.exit_code == 2, args
        assert message in result.stderr, (args, result.stderr)
        assert not list(tmp_path.iterdir())
    assert invoke("graph", tmp_path / "nothing.cnn").exit_code == 2


def test_graph_writes_dot_and_mermaid_files_and_stdout_without_the_dot_program(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))  # no dot here
    spec = example("resnet_stages")
    dot_file, mermaid_file = tmp_path / "r.dot", tmp_path / "r.mmd"
    assert invoke("graph", spec, "-o", dot_file).exit_code == 0
    assert dot_file.read_text(encoding="utf-8") == (GOLDEN / "resnet_stages.dot").read_text(encoding="utf-8")
    result = invoke("graph", spec, "-o", mermaid_file)
    assert result.exit_code == 0 and f"wrote {mermaid_file} (model resnet_stages)" in result.stderr
    assert mermaid_file.read_text(encoding="utf-8") == invoke("graph", spec, "--format", "mermaid").stdout
    assert mermaid_file.read_text(encoding="utf-8").startswith("flowchart TB\n")


@pytest.mark.parametrize("suffix", ["svg", "png", "pdf"])
def test_rendering_without_the_dot_program_is_a_usage_error_that_says_how_to_install_it(suffix, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    target = tmp_path / f"net.{suffix}"
    result = invoke("graph", example("mnist"), "-o", target)
    assert result.exit_code == 2
    message = result.stderr
    assert message.startswith("specc: error: ") and "`dot` program" in message
    for way in ("apt-get install graphviz", "brew install graphviz", "https://graphviz.org/download/"):
        assert way in message
    assert not target.exists()


def test_dot_renders_the_svg_png_and_pdf_of_an_example(tmp_path):
    needs_dot()
    spec = example("unet")
    for suffix, start in [("svg", b"<?xml"), ("png", b"\x89PNG"), ("pdf", b"%PDF")]:
        target = tmp_path / f"unet.{suffix}"
        result = invoke("graph", spec, "-o", target)
        assert result.exit_code == 0, result.output
        assert target.read_bytes().startswith(start)
    svg = (tmp_path / "unet.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and "concatenate_2 · Concatenate" in svg and "up_1 (up)" in svg


def test_several_models_are_drawn_each_in_its_own_cluster_and_model_picks_one(write):
    spec = write("two.cnn", "model a {\n  input 8x8x1\n  dense 2\n}\n\nmodel b {\n  input 4x4x1\n  dense 3\n}\n")
    both = invoke("graph", spec)
    assert both.exit_code == 0
    assert 'label="model a · 4 params"' in both.stdout and 'label="model b · 6 params"' in both.stdout
    assert "a.dense" in both.stdout and "b.dense" in both.stdout
    only = invoke("graph", spec, "--model", "b")
    assert only.exit_code == 0 and "model a" not in only.stdout and 'label="model b · 6 params"' in only.stdout


def test_the_readmes_picture_is_the_file_its_command_writes_and_shows_that_example():
    pictures = README_PICTURES.findall((REPO / "README.md").read_text(encoding="utf-8"))
    assert pictures, "the README's Pictures section shows a `specc graph ... -o docs/...` command and its picture"
    for spec, picture_path in pictures:
        picture = REPO / picture_path
        assert picture.exists(), picture_path
        [report] = check_text((REPO / spec).read_text(encoding="utf-8")).reports
        assert f"model {report.model.name} · {report.total_params:,} params" in picture.read_text(encoding="utf-8")
