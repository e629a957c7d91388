"""specc's peak_forward_bytes (specc.figures) against the peak PyTorch really reaches: the module specc's PyTorch
backend emits, run once in inference on the CPU, its live tensor storage measured by tests/memory_measure.py
(weights and buffers excluded, as specc counts them apart).

What PyTorch keeps beyond specc's values, and so what the bounds below allow:
  - the model's input, for the whole pass: the caller holds it (specc frees it after its last reader);
  - a layer's temporaries: a fused activation's input (`F.relu(self.conv(x))` holds the convolution's output and
    the activation's at once), a max pool's int64 indices (twice a float32 output), an uneven 'same' padding's
    padded copy of the input;
  - in a graph, each forward's named values until that forward returns (a block's, the model's), where specc frees
    a value after its last reader.
Nothing PyTorch needs dies earlier than specc says, so specc's figure is a lower bound everywhere. For a stack of
layers without temporaries the two agree to the byte, the input aside.
"""

from __future__ import annotations

import pytest
import torch
from test_examples import EXAMPLES as EXAMPLES_DIRECTORY
from test_flop_oracle import at_size
from test_torch_graphs import GRAPH_SPECS

from specc.backends.torch import is_straight_stack
from specc.figures import model_figures
from specc.pipeline import check_text
from specc.zoo import ZOO_BY_NAME

from emitted_torch import emitted_module, torch_input_shapes
from memory_measure import forward_peak_bytes

pytestmark = pytest.mark.torch

# A stack's emitted forward holds what specc counts: the model's input (the caller holds it), the layer's input
# and output, and a fused activation's second tensor; measured equal on every example stack.
# A graph's emitted forward keeps every named value of a frame (a block's forward, the model's) until the frame
# returns. The widest frames tested are ResNet50's and EfficientNet-B0's blocks, ten to twelve values of the block's
# size each, where specc keeps two or three alive: measured up to 4.2 times specc's peak, at the least input sizes.
GRAPH_FACTOR = 5


def reports_of(text: str):
    result = check_text(text)
    assert not [d for d in result.diagnostics if d.code.startswith("E")], [d.message for d in result.diagnostics]
    return result.reports


def measured_and_estimated(report) -> tuple[int, int, int]:
    """PyTorch's measured peak, specc's peak_forward_bytes and the input's bytes, for one example in float32."""
    measured = forward_peak_bytes(emitted_module(report), torch_input_shapes(report))
    estimated = model_figures(report).peak_forward_bytes
    inputs = sum(4 * torch.Size(shape).numel() for shape in torch_input_shapes(report))
    print(f"{report.model.name}: PyTorch {measured:,} B, specc {estimated:,} B, ratio {measured / estimated:.2f}")
    return measured, estimated, inputs


def test_a_stack_without_temporaries_peaks_at_specc_s_figure_plus_its_input():
    """No fused activation, no max pool, no padding module: PyTorch holds specc's values and the input, exactly."""
    text = """\
model plain {
  input 16x16x3
  conv 8 3 same
  batchnorm
  conv 8 3 same
  avgpool 2
  conv 4 3
  flatten
  dense 5
}
"""
    (report,) = reports_of(text)
    measured, estimated, _ = measured_and_estimated(report)
    assert measured == estimated


def test_a_fused_activation_is_counted_with_the_tensor_it_reads():
    text = "model fused {\n  input 16x16x1\n  conv 32 3 same relu\n  maxpool 4\n}\n"
    (report,) = reports_of(text)
    measured, estimated, _ = measured_and_estimated(report)
    assert measured == estimated


STACKS = [path for path in sorted(EXAMPLES_DIRECTORY.glob("*.cnn")) if path.stem in ("mnist", "cifar10", "tour")]
GRAPHS = [path for path in sorted(EXAMPLES_DIRECTORY.glob("*.cnn")) if path.stem in ("resnet_stages", "unet")]


@pytest.mark.parametrize("path", STACKS + GRAPHS, ids=lambda path: path.name)
def test_an_example_peaks_within_the_bounds_of_specc_s_figure(path):
    for report in reports_of(path.read_text(encoding="utf-8")):
        measured, estimated, _ = measured_and_estimated(report)
        assert estimated <= measured
        if is_straight_stack(report):
            assert measured == estimated
        else:
            assert measured <= GRAPH_FACTOR * estimated


@pytest.mark.parametrize("name", GRAPH_SPECS)
def test_a_graph_of_the_pytorch_backend_tests_peaks_within_the_bounds_of_specc_s_figure(name):
    for report in reports_of(GRAPH_SPECS[name]):
        measured, estimated, _ = measured_and_estimated(report)
        assert estimated <= measured <= GRAPH_FACTOR * estimated


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "efficientnet_b0"])
def test_a_zoo_network_peaks_within_the_bounds_of_specc_s_figure(name):
    network = ZOO_BY_NAME[name]
    (report,) = reports_of(at_size(network, network.min_size))
    measured, estimated, _ = measured_and_estimated(report)
    assert estimated <= measured <= GRAPH_FACTOR * estimated


@pytest.mark.cuda
@pytest.mark.parametrize("name", ["mnist", "resnet_stages"])
def test_on_a_gpu_the_allocator_s_peak_is_at_least_specc_s_figure(name):
    """CUDA's caching allocator: the most it held during the pass beyond what it held before (the weights). It
    rounds every block up (to 512 bytes at least) and cuDNN takes workspaces, so only the lower bound holds,
    and the measured ratio is printed."""
    (report,) = reports_of((EXAMPLES_DIRECTORY / f"{name}.cnn").read_text(encoding="utf-8"))
    module = emitted_module(report).cuda()
    inputs = [torch.randn(shape, device="cuda") for shape in torch_input_shapes(report)]
    torch.cuda.synchronize()
    before = torch.cuda.memory_allocated() - sum(4 * torch.Size(s).numel() for s in torch_input_shapes(report))
    torch.cuda.reset_peak_memory_stats()
    with torch.no_grad():
        module(*inputs)
    torch.cuda.synchronize()
    allocated = torch.cuda.max_memory_allocated() - before
    estimated = model_figures(report).peak_forward_bytes
    cpu = forward_peak_bytes(emitted_module(report), torch_input_shapes(report))
    print(f"{name}: CUDA {allocated:,} B, CPU dispatch {cpu:,} B, specc {estimated:,} B")
    assert estimated <= allocated
