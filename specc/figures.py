"""Check stage: what a checked model costs and sees, before it runs: MACs and FLOPs, memory, receptive fields.

Every number comes from a per-kind fact in specc.layers: `LayerBase.cost` for the arithmetic,
`axis_windows` and `reads_whole_map` for what an output position reads, `allocates_output` for
memory. This module only walks a ModelReport's layers in order and adds them up; it imports no
framework. docs/figures.md states every convention.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import NamedTuple

from specc.check import LayerReport, ModelReport
from specc.layers import AxisWindow, Shape

DTYPE_BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
# Values each trainable parameter keeps in Adam besides its gradient: the first and second moments.
ADAM_STATE_PER_PARAMETER = 2


class ReceptiveField(NamedTuple):
    """What one output position of a layer sees of the model's input, per axis (height, width)."""

    # Input pixels one output position sees (the largest over a merge's operands; an upper bound after upsampling).
    size: tuple[int, int]
    # Input pixels between neighbouring output positions (the effective stride; a fraction after upsampling).
    jump: tuple[Fraction, Fraction]
    # The input coordinate of the first pixel output position (0, 0) sees (negative: it sees padding).
    start: tuple[Fraction, Fraction]
    # True after global pooling or flatten: every output sees the whole input, `size` being all of it.
    whole: bool

    def record(self) -> dict[str, object]:
        """The JSON form (check --format json, diff): whole numbers as ints, a fraction (after upsampling) as
        a float."""
        return {
            "size": list(self.size),
            "jump": [_json_number(j) for j in self.jump],
            "start": [_json_number(s) for s in self.start],
            "whole": self.whole,
        }


def _json_number(value: Fraction) -> int | float:
    return int(value) if value.denominator == 1 else float(value)


class LayerFigures(NamedTuple):
    """One layer's figures: its cost for one example, its output's memory, and what it sees."""

    macs: int
    flops: int
    # The layer's output for `batch` examples in `dtype`; 0 for kinds that are a view of their input.
    output_bytes: int
    # None when the layer's value has no map before it (e.g. dense on a vector input).
    receptive_field: ReceptiveField | None


@dataclass(frozen=True)
class ModelFigures:
    """A model's figures: every inferred layer's, and the totals over the layers that reach an output."""

    layers: dict[str, LayerFigures]
    macs: int
    flops: int
    parameter_bytes: int
    peak_forward_bytes: int
    training_bytes: int
    dtype: str
    batch: int
    # The arithmetic behind each layer's MACs, FLOPs and receptive field, for --explain, by layer name.
    working: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # Each model input's memory for `batch` examples in `dtype`, by name.
    input_bytes: dict[str, int] = field(default_factory=dict)


class _Axis(NamedTuple):
    """One axis of a receptive field while walking: `size` stays a fraction until reported (rounded up), as
    after upsampling a window may cover part of an input pixel's copies."""

    size: Fraction
    jump: Fraction
    start: Fraction


_FIRST = _Axis(Fraction(1), Fraction(1), Fraction(0))


class _Field(NamedTuple):
    axes: tuple[_Axis, _Axis]
    whole: bool = False

    def shown(self) -> ReceptiveField:
        height, width = self.axes
        return ReceptiveField(
            (math.ceil(height.size), math.ceil(width.size)),
            (height.jump, width.jump),
            (height.start, width.start),
            self.whole,
        )


def _through_window(axis: _Axis, window: AxisWindow) -> tuple[_Axis, str]:
    """One axis through an AxisWindow, with the arithmetic: a window of k positions over an input spread
    `upsample` times touches at most ceil(k/u) real inputs, `jump` apart."""
    k, s, p, u = window
    touched = -(-k // u)  # ceil(k/u)
    size = axis.size + (touched - 1) * axis.jump
    jump = axis.jump * s / u
    first = -(p // u)  # ceil(-p/u)
    start = axis.start + first * axis.jump
    shown_touched = f"{k}" if u == 1 else f"ceil({k}/{u})"
    shown_jump = f"{str(axis.jump)}*{s}" + ("" if u == 1 else f"/{u}")
    shown_start = (
        f"{str(axis.start)} - {p}*{str(axis.jump)}"
        if u == 1
        else f"{str(axis.start)} + ceil({-p}/{u})*{str(axis.jump)}"
    )
    working = (
        f"rf: {str(axis.size)} + ({shown_touched}-1)*{str(axis.jump)} = {str(size)}, "
        f"jump {shown_jump} = {str(jump)}, start {shown_start} = {str(start)}"
    )
    return _Axis(size, jump, start), working


def _through_whole(axis: _Axis, extent: int) -> tuple[_Axis, str]:
    """Every position of an `extent`-long axis read: the field grows to all of it."""
    size = axis.size + (extent - 1) * axis.jump
    working = f"rf: whole input, {str(axis.size)} + ({extent}-1)*{str(axis.jump)} = {str(size)}"
    return axis._replace(size=size), working


def _per_axis(workings: list[str]) -> tuple[str, ...]:
    """One line when both axes did the same arithmetic, else one per axis."""
    if workings[0] == workings[1]:
        return (workings[0],)
    return (f"height {workings[0]}", f"width {workings[1]}")


def _merged(fields: list[_Field]) -> _Field:
    """A merge sees what its operands see together: per axis, from the smallest start to the furthest end (an
    operand whose field is offset widens it), with the largest jump."""
    axes = tuple(
        _Axis(
            max(a.start + a.size for a in each) - min(a.start for a in each),
            max(a.jump for a in each),
            min(a.start for a in each),
        )
        for each in zip(*(f.axes for f in fields), strict=True)
    )
    return _Field((axes[0], axes[1]), any(f.whole for f in fields))


def _field_of(report: LayerReport, fields: dict[str, _Field | None]) -> tuple[_Field | None, tuple[str, ...]]:
    """The layer's receptive field from those of the values it reads, with the arithmetic."""
    known = [fields[name] for name in report.layer.inputs if fields.get(name) is not None]
    if not known:  # no map before it
        return None, ()
    before = _merged(known) if len(known) > 1 else known[0]
    if before.whole:
        return before, ()
    layer, shape = report.layer, report.input_shape
    if layer.reads_whole_map:
        if len(shape) != 3:
            return _Field(before.axes, True), ()
        moved = [_through_whole(axis, extent) for axis, extent in zip(before.axes, shape[:2], strict=True)]
        return _Field((moved[0][0], moved[1][0]), True), _per_axis([w for _, w in moved])
    windows = layer.axis_windows(shape) if len(shape) == 3 else None
    if windows is None:
        return before, ()
    moved = [_through_window(axis, window) for axis, window in zip(before.axes, windows, strict=True)]
    return _Field((moved[0][0], moved[1][0])), _per_axis([w for _, w in moved])


def _value_bytes(shape: Shape, batch: int, dtype: str) -> int:
    return math.prod(shape) * batch * DTYPE_BYTES[dtype]


def _peak_forward(report: ModelReport, output_bytes: dict[str, int], input_bytes: dict[str, int]) -> int:
    """The most bytes of values alive at once in an inference pass over the counted layers, in model order.

    Inputs are alive throughout: the caller holds them. A layer's output is alive from when it is made; a value
    dies once its last reader has run, unless the model outputs it. A layer with a fused activation makes two
    tensors, the convolution's (or dense layer's) output and then the activation's, so at its step its output
    counts twice. A non-allocating kind's value is its input's memory (counted once), which it keeps alive as
    long as it is alive itself."""
    storage = {name: name for name in input_bytes}
    size = dict(input_bytes)
    counted = report.counted
    for layer_report in counted:
        layer = layer_report.layer
        if layer.allocates_output:
            storage[layer.name] = layer.name
            size[layer.name] = output_bytes[layer.name]
        else:
            storage[layer.name] = storage[layer.inputs[0]]
    end = len(counted)
    last_use = {name: -1 for name in size}
    for step, layer_report in enumerate(counted):
        for name in layer_report.layer.inputs:
            last_use[storage[name]] = max(last_use[storage[name]], step)
    for name in [*report.model.outputs, *input_bytes]:
        if name in storage:
            last_use[storage[name]] = end
    alive = dict(input_bytes)
    peak = sum(alive.values())
    for step, layer_report in enumerate(counted):
        layer = layer_report.layer
        if storage[layer.name] == layer.name:
            alive[layer.name] = size[layer.name]
            activated = getattr(layer, "activation", "linear") not in ("linear",) and layer.kind != "activation"
            transient = size[layer.name] if activated else 0
            peak = max(peak, sum(alive.values()) + transient)
        for gone in [held for held in alive if last_use[held] <= step]:
            del alive[gone]
    return peak


def model_figures(report: ModelReport, dtype: str = "float32", batch: int = 1) -> ModelFigures:
    """Every inferred layer's figures and the model's totals (over report.counted), for `batch` examples in
    `dtype` ("float32", "float16" or "bfloat16"); MACs and FLOPs are for one example."""
    if dtype not in DTYPE_BYTES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPE_BYTES)}, got {dtype!r}")
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    fields: dict[str, _Field | None] = {
        i.name: _Field((_FIRST, _FIRST)) if len(i.shape) == 3 else None for i in report.model.inputs
    }
    layers: dict[str, LayerFigures] = {}
    working: dict[str, tuple[str, ...]] = {}
    output_bytes: dict[str, int] = {}
    for layer_report in report.layers:
        layer, output_shape = layer_report.layer, layer_report.inference.output_shape
        terms = layer.cost_terms(layer_report.input_shapes, output_shape)
        macs, flops = terms.cost()
        seen, seen_working = _field_of(layer_report, fields)
        fields[layer.name] = seen
        output_bytes[layer.name] = _value_bytes(output_shape, batch, dtype) if layer.allocates_output else 0
        layers[layer.name] = LayerFigures(
            macs, flops, output_bytes[layer.name], seen.shown() if seen is not None else None
        )
        working[layer.name] = terms.working() + seen_working
    counted = report.counted
    dtype_bytes = DTYPE_BYTES[dtype]
    input_bytes = {i.name: _value_bytes(i.shape, batch, dtype) for i in report.model.inputs}
    trainable = report.trainable_params
    parameter_bytes = report.total_params * dtype_bytes
    saved = sum(input_bytes.values()) + sum(output_bytes[r.layer.name] for r in counted)
    return ModelFigures(
        layers=layers,
        macs=sum(layers[r.layer.name].macs for r in counted),
        flops=sum(layers[r.layer.name].flops for r in counted),
        parameter_bytes=parameter_bytes,
        peak_forward_bytes=_peak_forward(report, output_bytes, input_bytes),
        # Saved activations, the weights, a gradient per trainable weight, and Adam's two moments per trainable weight.
        training_bytes=saved + parameter_bytes + trainable * dtype_bytes * (1 + ADAM_STATE_PER_PARAMETER),
        dtype=dtype,
        batch=batch,
        working=working,
        input_bytes=input_bytes,
    )


_PREFIXES = ("", " K", " M", " G", " T", " P", " E")
_BYTE_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB")


def format_count(n: int) -> str:
    """A count in decimal SI with 3 significant digits: 512, 12.3 K, 600 M, 4.09 G."""
    power = 0
    while power + 1 < len(_PREFIXES) and n >= 1000 ** (power + 1):
        power += 1
    value = n / 1000**power
    if power and float(f"{value:.3g}") >= 1000 and power + 1 < len(_PREFIXES):  # 999.96 K is 1.00 M
        power, value = power + 1, value / 1000
    if not power:
        return str(n)
    digits = 2 if value < 9.995 else 1 if value < 99.95 else 0
    return f"{value:.{digits}f}{_PREFIXES[power]}"


def format_receptive_field(field: ReceptiveField | None) -> str:
    """`7x7 /2`: the size and the jump (one number when both axes agree; `1/2` after upsampling), `whole input`
    after global pooling or flatten, `-` without a map."""
    if field is None:
        return "-"
    if field.whole:
        return "whole input"
    jump_h, jump_w = field.jump
    jump = str(jump_h) if jump_h == jump_w else f"{jump_h}x{jump_w}"
    return f"{field.size[0]}x{field.size[1]} /{jump}"


def format_bytes(n: int) -> str:
    """Bytes in decimal units (1 MB = 10**6 bytes) with one decimal: 512 B, 97.8 MB, 102.2 MB."""
    if n < 1000:
        return f"{n} B"
    power = 1
    while power + 1 < len(_BYTE_UNITS) and round(n / 1000**power, 1) >= 1000:
        power += 1
    return f"{n / 1000**power:.1f} {_BYTE_UNITS[power]}"
