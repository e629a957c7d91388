"""specc's MACs and FLOPs (specc.figures) against PyTorch's own count: torch.utils.flop_counter.FlopCounterMode
running the module specc's PyTorch backend emits, once, in inference, on one example.

PyTorch's counter counts only the matrix products (convolutions, transposed ones included, and mm, addmm, bmm,
baddbmm), 2 FLOPs per multiply-accumulate, and nothing else: no bias added outside a product, no activation,
pooling, batch norm or merge. specc counts MACs for exactly its weighted linear maps (conv, depthwise, separable,
transposed conv, dense), so the counter's total must be exactly 2 x specc's MACs, for every example spec, the
graphs the PyTorch backend's tests build, random graphs, and every network of the zoo (at its least input size,
to keep the run short). ResNet50 at 224x224 is also held against torchvision's published figure.
"""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from test_examples import EXAMPLES as EXAMPLES_DIRECTORY
from test_torch_graphs import GRAPH_SPECS
from torch.utils.flop_counter import FlopCounterMode

from specc.figures import format_count, model_figures
from specc.pipeline import check_text
from specc.zoo import ZOO, ZOO_BY_NAME, ZooNetwork

from emitted_torch import emitted_module, torch_input_shapes
from graph_strategies import graph_specs

pytestmark = pytest.mark.torch

# torchvision's documented cost of its ResNet50 (ResNet50_Weights.IMAGENET1K_V1.meta["_ops"]: 4.089 GFLOPS, which
# torchvision counts as multiply-accumulates) at 224x224: a figure published apart from specc, not specc's output.
TORCHVISION_RESNET50_MACS = 4.09e9


def reports_of(text: str):
    result = check_text(text)
    errors = [f"line {d.span.line}: {d.code} {d.message}" for d in result.diagnostics if d.code.startswith("E")]
    assert not errors, errors
    return result.reports


def counted_flops(report) -> int:
    """PyTorch's count for one inference pass of the emitted module on one example. The module and its input are
    on PyTorch's meta device: every op runs its shape rule and no arithmetic, and the counter counts from shapes."""
    module = emitted_module(report, device="meta")
    inputs = [torch.empty(shape, device="meta") for shape in torch_input_shapes(report)]
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        module(*inputs)
    return counter.get_total_flops()


def assert_counts_agree(report, label: str) -> None:
    figures = model_figures(report)
    counted = counted_flops(report)
    assert counted == 2 * figures.macs, (
        f"{label}: PyTorch counts {counted:,} FLOPs, specc {figures.macs:,} MACs (x2 = {2 * figures.macs:,})"
    )


EXAMPLES = sorted(EXAMPLES_DIRECTORY.glob("*.cnn"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.name)
def test_an_example_costs_what_pytorch_counts(path):
    for report in reports_of(path.read_text(encoding="utf-8")):
        assert_counts_agree(report, f"{path.name}, model {report.model.name}")


@pytest.mark.parametrize("name", GRAPH_SPECS)
def test_a_graph_of_the_pytorch_backend_tests_costs_what_pytorch_counts(name):
    for report in reports_of(GRAPH_SPECS[name]):
        assert_counts_agree(report, name)


# The weighted kinds one by one, in the forms whose cost differs: strided, dilated and grouped windows, a transposed
# convolution with output padding, a depthwise multiplier, dense on a feature map (PyTorch's Linear on the last axis).
KINDS = {
    "conv_transpose": "conv_transpose 5 3 strides=2 same\nconv_transpose 2 (2, 3) strides=(2, 1) output_padding=(1, 0)",
    "depthwise": "depthwise 3 strides=2 same depth_multiplier=2\ndepthwise (1, 3) dilation=2 use_bias=false",
    "separable": "separable 6 3 same depth_multiplier=3\nseparable 4 (3, 1) strides=2 use_bias=false",
    "dense_on_a_map": "conv 3 3 strides=2 same\ndense 7 relu\ndense 2 use_bias=false",
    "conv_dilated": "conv 4 3 dilation=2 same\nconv 5 (1, 3) strides=(1, 2)",
    "every_kind": "conv 4 3 same\nbatchnorm\nmaxpool 2\ndepthwise 3 same\nseparable 6 3 same\n"
    "conv_transpose 3 2 strides=2\nupsample 2\nzeropad 1\navgpool 3\nglobal_avgpool\ndense 5\ndropout 0.5\ndense 3",
}


@pytest.mark.parametrize("name", KINDS)
def test_each_weighted_kind_costs_what_pytorch_counts(name):
    body = "\n".join(f"  {line}" for line in KINDS[name].splitlines())
    (report,) = reports_of(f"model {name} {{\n  input 12x10x3\n{body}\n}}\n")
    assert_counts_agree(report, name)


@settings(max_examples=10, derandomize=True, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(graph_specs())
def test_a_random_graph_costs_what_pytorch_counts(text):
    result = check_text(text)
    assume(result.ok and result.reports[0].complete)
    assert_counts_agree(result.reports[0], text)


def at_size(network: ZooNetwork, size: int) -> str:
    """The zoo network's spec with its input `size` x `size` (its classifier top kept)."""
    text, count = re.subn(r"^(\s*)input \d+x\d+x3$", rf"\g<1>input {size}x{size}x3", network.text(), flags=re.M)
    assert count == 1, f"{network.name}.cnn: expected one `input HxWx3` line"
    return text


@pytest.mark.parametrize("network", ZOO, ids=lambda network: network.name)
def test_a_zoo_network_costs_what_pytorch_counts(network: ZooNetwork):
    (report,) = reports_of(at_size(network, network.min_size))
    assert_counts_agree(report, f"{network.name} at {network.min_size}x{network.min_size}")


def test_resnet50_at_224_costs_what_torchvision_publishes_and_what_pytorch_counts():
    (report,) = reports_of(ZOO_BY_NAME["resnet50"].text())
    assert report.model.inputs[0].shape == (224, 224, 3)
    macs = model_figures(report).macs
    print(f"ResNet50 at 224x224: specc {format_count(macs)} MACs, torchvision publishes 4.09 G")
    assert abs(macs - TORCHVISION_RESNET50_MACS) <= 0.10 * TORCHVISION_RESNET50_MACS
    assert_counts_agree(report, "resnet50 at 224x224")
