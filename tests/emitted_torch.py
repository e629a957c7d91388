"""Test-only: the PyTorch module specc's backend emits for one checked model, and inputs it takes, for the tests
that measure the real module against specc's figures (flops, memory, receptive fields)."""

from __future__ import annotations

import numpy as np

from specc.backends.torch import emit_torch
from specc.backends.transfer import keras_input_to_torch
from specc.backends.verify import run_module
from specc.check import ModelReport


def emitted_module(report: ModelReport, device: str = "cpu"):
    """An instance of the module emit_torch writes for the report's model, in eval mode (its initial weights), on
    this device: on "meta" its tensors have shapes and no data, so that a pass costs no arithmetic."""
    import torch

    source = emit_torch([report], f"{report.model.name}.cnn")
    with torch.device(device):
        return run_module(source, "<generated torch>").MODELS[report.model.name]().eval()


def torch_input_shapes(report: ModelReport, batch: int = 1) -> list[tuple[int, ...]]:
    """The shape of each input the module takes, in order: Keras's batch shape in PyTorch's layout (channels
    first), as specc.backends.transfer moves a Keras batch."""
    return [keras_input_to_torch(np.empty((batch, *i.shape), dtype=np.float32)).shape for i in report.model.inputs]
