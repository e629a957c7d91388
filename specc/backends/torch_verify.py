"""Emit stage, verified: run emitted PyTorch source, run a batch of zeros through each model, compare with the checker.

This is the only module of specc besides `transfer` that imports PyTorch, and only when called.
Figures are read from the module itself: each specc layer's output shape, caught by a forward hook
on the layer's submodule and turned back to the checker's channels-last order, and its parameters.
Batch norm's running statistics are buffers in PyTorch; they are counted as the non-trainable
parameters Keras reports (floating-point buffers only: `num_batches_tracked` is a counter).
"""

from __future__ import annotations

import types

from specc.backends.torch import channels_first, channels_last, torch_attribute_names
from specc.backends.verify import LayerFigures, ModelFigures, compare_figures, could_not_build
from specc.check import ModelReport
from specc.diagnostics import Diagnostic

FRAMEWORK = "PyTorch"


def load_torch() -> types.ModuleType:
    import torch

    return torch


def _trainable(module) -> int:
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def _non_trainable(module) -> int:
    frozen = sum(p.numel() for p in module.parameters() if not p.requires_grad)
    return frozen + sum(b.numel() for b in module.buffers() if b.is_floating_point())


def torch_figures(model_class: type, report: ModelReport) -> ModelFigures:
    """Build `model_class`, run one example of zeros through it in inference mode, and read every layer's figures."""
    torch = load_torch()
    module = model_class().eval()
    attributes = torch_attribute_names(report.model)
    shapes: dict[str, tuple[int, ...]] = {}
    submodules = {}
    handles = []
    for layer_report in report.layers:
        name = layer_report.layer.name
        submodules[name] = module.get_submodule(attributes[name])

        def record(_module, _inputs, output, name=name) -> None:
            shapes[name] = channels_last(tuple(output.shape[1:]))

        handles.append(submodules[name].register_forward_hook(record))
    try:
        with torch.no_grad():
            output = module(torch.zeros(1, *channels_first(report.model.input_shape or ())))
    finally:
        for handle in handles:
            handle.remove()
    layers = {}
    for name, submodule in submodules.items():
        if name not in shapes:
            raise RuntimeError(f"layer `{name}` (self.{attributes[name]}) never ran in forward")
        layers[name] = LayerFigures(name, shapes[name], _trainable(submodule), _non_trainable(submodule))
    trainable, non_trainable = _trainable(module), _non_trainable(module)
    return ModelFigures(
        layers=layers,
        output_shape=channels_last(tuple(output.shape[1:])),
        total_params=trainable + non_trainable,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
    )


def compare(report: ModelReport, figures: ModelFigures) -> list[Diagnostic]:
    """One E401 per figure where PyTorch and the checker disagree, at the layer (or model) concerned."""
    return compare_figures(report, figures, FRAMEWORK)


def build_and_compare(module: types.ModuleType, report: ModelReport) -> list[Diagnostic]:
    """Build and run one model of an emitted module with PyTorch and compare it with its report.

    A model PyTorch refuses to build or run is an E401 at the model, with PyTorch's own message.
    """
    try:
        figures = torch_figures(module.MODELS[report.model.name], report)
    except Exception as error:  # noqa: BLE001 - whatever PyTorch raises is the finding to report
        return [could_not_build(report, FRAMEWORK, error)]
    return compare(report, figures)
