"""Emit stage, verified: run emitted PyTorch source, run a batch of zeros through each model, compare with the checker.

This is the only module of specc besides `transfer` that imports PyTorch, and only when called.
Figures are read from the module itself: each specc layer's output shape, caught by a forward hook
on the layer's submodule and turned back to the checker's channels-last order, and its parameters.
A frozen layer's parameters (requires_grad False) and the buffers (batch norm's running statistics,
normalization's) are counted as the non-trainable parameters Keras reports, all but batch norm's
`num_batches_tracked`, a counter Keras does not keep.
"""

from __future__ import annotations

import sys
import types
from dataclasses import replace

from specc.backends.torch import channels_first, channels_last, torch_layout
from specc.backends.verify import BuiltLayerFigures, BuiltModelFigures, compare_figures, could_not_build
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
    kept = (b for name, b in module.named_buffers() if not name.endswith("num_batches_tracked"))
    return frozen + sum(b.numel() for b in kept)


def torch_figures(model_class: type, report: ModelReport) -> BuiltModelFigures:
    """Build `model_class`, run one example of zeros through it in inference mode, and read every layer's figures.

    A layer's output shape is caught by a forward hook on its submodule. A merge has none (it is arithmetic
    in forward), so its value is read from the local that holds it, in the frame of the forward computing it,
    as that forward returns (a profile function, set for this one call). Only the layers that reach an output
    are built, as in Keras; those are the ones compared.
    """
    torch = load_torch()
    module = model_class().eval()
    layout = torch_layout(report)
    shapes: dict[str, tuple[int, ...]] = {}
    submodules = {}
    handles = []
    # Merges: (id of the module whose forward computes it, local) -> layer name.
    locals_wanted: dict[int, dict[str, str]] = {}
    for name, place in layout.items():
        if place.module is None:
            owner = module.get_submodule(place.owner) if place.owner else module
            locals_wanted.setdefault(id(owner), {})[place.local] = name
            continue
        submodules[name] = module.get_submodule(place.module)

        def record(_module, _inputs, output, name=name) -> None:
            shapes[name] = channels_last(tuple(output.shape[1:]))

        handles.append(submodules[name].register_forward_hook(record))

    def read_locals(frame, event, _argument) -> None:
        if event != "return" or frame.f_code.co_name != "forward":
            return
        wanted = locals_wanted.get(id(frame.f_locals.get("self")))
        for local, name in (wanted or {}).items():
            value = frame.f_locals.get(local)
            if isinstance(value, torch.Tensor):
                shapes[name] = channels_last(tuple(value.shape[1:]))

    previous = sys.getprofile()
    if locals_wanted:
        sys.setprofile(read_locals)
    try:
        with torch.no_grad():
            inputs = [torch.zeros(1, *channels_first(i.shape)) for i in report.model.inputs]
            output = module(*inputs)
    finally:
        sys.setprofile(previous)
        for handle in handles:
            handle.remove()
    layers = {}
    for name, place in layout.items():
        if name not in shapes:
            raise RuntimeError(f"layer `{name}` ({place.module or place.local}) never ran in forward")
        submodule = submodules.get(name)
        counts = (_trainable(submodule), _non_trainable(submodule)) if submodule is not None else (0, 0)
        layers[name] = BuiltLayerFigures(name, shapes[name], *counts)
    trainable, non_trainable = _trainable(module), _non_trainable(module)
    first = output[0] if isinstance(output, tuple) else output
    return BuiltModelFigures(
        layers=layers,
        output_shape=channels_last(tuple(first.shape[1:])),
        total_params=trainable + non_trainable,
        trainable_params=trainable,
        non_trainable_params=non_trainable,
    )


def compare(report: ModelReport, figures: BuiltModelFigures) -> list[Diagnostic]:
    """One E401 per figure where PyTorch and the checker disagree, at the layer (or model) concerned. Only the
    layers that reach an output are built, so only those are compared (the totals count only those anyway)."""
    return compare_figures(replace(report, layers=report.counted), figures, FRAMEWORK)


def build_and_compare(module: types.ModuleType, report: ModelReport) -> list[Diagnostic]:
    """Build and run one model of an emitted module with PyTorch and compare it with its report.

    A model PyTorch refuses to build or run is an E401 at the model, with PyTorch's own message.
    """
    try:
        figures = torch_figures(module.MODELS[report.model.name], report)
    except Exception as error:  # noqa: BLE001 - whatever PyTorch raises is the finding to report
        return [could_not_build(report, FRAMEWORK, error)]
    return compare(report, figures)
