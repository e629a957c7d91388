"""Emit stage, weights: copy weights between the Keras model and the PyTorch module built from one spec.

Both builds come from the same checked model, so the checked model (its ModelReport) says where
each weight lives in either framework and how its layout differs:

  conv2d     Keras kernel (kh, kw, in, out)             PyTorch weight (out, in, kh, kw)
  depthwise  Keras kernel (kh, kw, in, multiplier)      PyTorch weight (in*multiplier, 1, kh, kw), grouped
  separable  depthwise_kernel as depthwise's kernel, pointwise_kernel (1, 1, in*multiplier, filters) as
             conv2d's; PyTorch's two convolutions are .0 and .1 of an nn.Sequential, the bias on .1
  transpose  Keras kernel (kh, kw, out, in)             PyTorch weight (in, out, kh, kw); .0 of an
                                                        nn.Sequential when a crop follows it
  layernorm  gamma, beta                                weight, bias
  dense      Keras kernel (in, units)                   PyTorch weight (units, in); on a feature map
                                                        a 1x1 convolution, (units, in, 1, 1)
  batchnorm  gamma, beta, moving_mean, moving_variance  weight, bias, running_mean, running_var
  normalization  mean, variance, count                  buffers mean, variance, count; only when the
                                                        spec gives no statistics (then they are weights)
  (biases are the same in both)

Flatten: the PyTorch module flattens channels-first, as nn.Flatten does, so the features after a
flatten come in (C, H, W) order where Keras has (H, W, C). Rather than make `forward` permute
the tensor, which no hand-written module does, the copy reorders what reads those features: the
input rows of the next dense layer and any batch norm before it. A model whose output is such a
vector gives it in PyTorch's order; `keras_output_to_torch` puts a Keras output in that order.

    keras_model = build_mnist()                     # from `specc build mnist.cnn --backend keras`
    torch_model = Mnist()                           # from `specc build mnist.cnn --backend torch`
    keras_to_torch(keras_model, torch_model, "mnist.cnn")

Needs NumPy, Keras and PyTorch, which this module imports only when called.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from specc.backends.keras_backbones import find_layer
from specc.backends.torch import (
    POINTWISE_CONV_BY_RANK,
    flattens_in_keras_order,
    torch_layout,
    transposed_padding,
)
from specc.check import LayerReport, ModelReport
from specc.layers import (
    BatchNorm,
    Conv2D,
    Conv2DTranspose,
    Dense,
    DepthwiseConv2D,
    Flatten,
    LayerNorm,
    Normalization,
    Reshape,
    SeparableConv2D,
    Shape,
)

Array = np.ndarray


@dataclass(frozen=True)
class WeightPair:
    """One weight as both frameworks hold it, and how to turn one layout into the other."""

    layer: str  # the spec's layer name, which is also the Keras layer's name
    keras_name: str  # the variable's name in the Keras layer: kernel, bias, gamma, moving_mean...
    torch_name: str  # its key in the PyTorch module's state_dict: conv2d.weight...
    to_torch: Callable[[Array], Array]
    to_keras: Callable[[Array], Array]


def _same(array: Array) -> Array:
    return array


def flatten_order(shape: Shape) -> Array:
    """For each position of a PyTorch-flattened (channels-first) feature map, the Keras-flattened position
    that holds the same value."""
    positions = np.arange(int(np.prod(shape))).reshape(shape)
    return np.moveaxis(positions, -1, 0).ravel()


def value_orders(report: ModelReport) -> dict[str, Array | None]:
    """For each value (input or layer, by name), the order of its features in PyTorch relative to Keras (None:
    the same order). Only vectors after a flatten are reordered; a flatten whose features reach a merge is
    emitted in Keras's order (`flattens_in_keras_order`), so a merge always meets values in Keras's order."""
    orders: dict[str, Array | None] = {model_input.name: None for model_input in report.model.inputs}
    in_keras_order = flattens_in_keras_order(report)
    for layer_report in report.layers:
        layer, shape = layer_report.layer, layer_report.input_shape
        order = orders.get(layer.inputs[0]) if layer.inputs else None
        if isinstance(layer, Flatten):
            order = flatten_order(shape) if len(shape) > 1 and layer.name not in in_keras_order else order
        elif isinstance(layer, (Dense, Reshape)) or len(shape) != 1 or layer.arity is None:
            # A new vector (dense, global pooling, a merge) or a feature map: the same order in both. Batch
            # norm, dropout and activations on a vector keep its order.
            order = None
        orders[layer.name] = order
    return orders


def feature_orders(report: ModelReport) -> list[Array | None]:
    """For each layer, the order of its (first) input's features in PyTorch relative to Keras (None: the same
    order), and last the order of the model's (first) output."""
    orders = value_orders(report)
    found = [orders.get(r.layer.inputs[0]) if r.layer.inputs else None for r in report.layers]
    found.append(orders.get(report.model.outputs[0]) if report.model.outputs else None)
    return found


def _kernel_and_bias(layer: Conv2D | SeparableConv2D | Conv2DTranspose, kernel: str, prefix: str) -> list[WeightPair]:
    """A convolution kernel, Keras's (kh, kw, a, b) as PyTorch's (b, a, kh, kw), and its bias when it has one.
    For Conv2DTranspose (a, b) is (out, in) in Keras and PyTorch reads (in, out): the same permutation."""
    pairs = [
        WeightPair(
            layer.name, kernel, f"{prefix}.weight", lambda k: k.transpose(3, 2, 0, 1), lambda t: t.transpose(2, 3, 1, 0)
        )
    ]
    if layer.use_bias:
        pairs.append(WeightPair(layer.name, "bias", f"{prefix}.bias", _same, _same))
    return pairs


def _conv2d_pairs(layer: Conv2D, attribute: str, order: Array | None, layer_report: LayerReport) -> list[WeightPair]:
    return _kernel_and_bias(layer, "kernel", attribute)


def _dense_pairs(layer: Dense, attribute: str, order: Array | None, layer_report: LayerReport) -> list[WeightPair]:
    rank = len(layer_report.input_shape)
    if rank == 1 and order is not None:
        inverse = np.argsort(order)
        pair = WeightPair(layer.name, "kernel", f"{attribute}.weight", lambda k: k[order].T, lambda t: t.T[inverse])
    elif rank in POINTWISE_CONV_BY_RANK:  # emitted as a 1x1 convolution: (units, in, 1, ...)
        window = (1,) * (rank - 1)
        pair = WeightPair(
            layer.name,
            "kernel",
            f"{attribute}.weight",
            lambda k: k.T.reshape(*k.T.shape, *window),
            lambda t: t.reshape(t.shape[:2]).T,
        )
    else:
        pair = WeightPair(layer.name, "kernel", f"{attribute}.weight", lambda k: k.T, lambda t: t.T)
    pairs = [pair]
    if layer.use_bias:
        pairs.append(WeightPair(layer.name, "bias", f"{attribute}.bias", _same, _same))
    return pairs


_BATCHNORM_NAMES = (
    ("gamma", "weight"),
    ("beta", "bias"),
    ("moving_mean", "running_mean"),
    ("moving_variance", "running_var"),
)


def _per_feature(order: Array | None) -> tuple[Callable[[Array], Array], Callable[[Array], Array]]:
    """To PyTorch and back, a weight with one value per feature, of features in `order` in PyTorch (see
    value_orders; None: the same order in both)."""
    if order is None:
        return _same, _same
    inverse = np.argsort(order)
    return (lambda v: v[order]), (lambda v: v[inverse])


def _batchnorm_pairs(
    layer: BatchNorm, attribute: str, order: Array | None, layer_report: LayerReport
) -> list[WeightPair]:
    present = {"gamma": layer.scale, "beta": layer.center, "moving_mean": True, "moving_variance": True}
    to_torch, to_keras = _per_feature(order)
    return [
        WeightPair(layer.name, keras_name, f"{attribute}.{torch_name}", to_torch, to_keras)
        for keras_name, torch_name in _BATCHNORM_NAMES
        if present[keras_name]
    ]


def _depthwise_kernel(layer: DepthwiseConv2D | SeparableConv2D, keras_name: str, torch_name: str) -> WeightPair:
    """Keras's (kh, kw, C, m) depthwise kernel as a grouped nn.Conv2d's (C*m, 1, kh, kw): output channel c*m + j
    is input channel c's j-th filter in both."""
    kh, kw = layer.kernel_size
    multiplier = layer.depth_multiplier
    return WeightPair(
        layer.name,
        keras_name,
        torch_name,
        lambda k: k.reshape(kh, kw, -1, 1).transpose(2, 3, 0, 1),
        lambda t: t.transpose(2, 3, 0, 1).reshape(kh, kw, -1, multiplier),
    )


def _depthwise_pairs(
    layer: DepthwiseConv2D, attribute: str, order: Array | None, layer_report: LayerReport
) -> list[WeightPair]:
    pairs = [_depthwise_kernel(layer, "kernel", f"{attribute}.weight")]
    if layer.use_bias:
        pairs.append(WeightPair(layer.name, "bias", f"{attribute}.bias", _same, _same))
    return pairs


def _separable_pairs(
    layer: SeparableConv2D, attribute: str, order: Array | None, layer_report: LayerReport
) -> list[WeightPair]:
    depthwise = _depthwise_kernel(layer, "depthwise_kernel", f"{attribute}.0.weight")
    return [depthwise, *_kernel_and_bias(layer, "pointwise_kernel", f"{attribute}.1")]


def _conv2d_transpose_pairs(
    layer: Conv2DTranspose, attribute: str, order: Array | None, layer_report: LayerReport
) -> list[WeightPair]:
    _, _, crop = transposed_padding(layer, layer_report.input_shape)
    return _kernel_and_bias(layer, "kernel", attribute if crop == (0, 0) else f"{attribute}.0")


def _layernorm_pairs(
    layer: LayerNorm, attribute: str, order: Array | None, layer_report: LayerReport
) -> list[WeightPair]:
    present = {"gamma": layer.scale, "beta": layer.center}
    to_torch, to_keras = _per_feature(order)  # after flatten: one weight per feature, in each framework's order
    return [
        WeightPair(layer.name, keras_name, f"{attribute}.{torch_name}", to_torch, to_keras)
        for keras_name, torch_name in (("gamma", "weight"), ("beta", "bias"))
        if present[keras_name]
    ]


def _normalization_pairs(
    layer: Normalization, attribute: str, order: Array | None, layer_report: LayerReport
) -> list[WeightPair]:
    if layer.mean is not None:  # statistics given: constants in both frameworks, no weights
        return []
    to_torch, to_keras = _per_feature(order)
    return [
        WeightPair(layer.name, "mean", f"{attribute}.mean", to_torch, to_keras),
        WeightPair(layer.name, "variance", f"{attribute}.variance", to_torch, to_keras),
        WeightPair(layer.name, "count", f"{attribute}.count", _same, _same),
    ]


# The layer kinds that have weights; every other kind has none in either framework.
WEIGHT_PAIRINGS: dict[type, Callable[..., list[WeightPair]]] = {
    Conv2D: _conv2d_pairs,
    Dense: _dense_pairs,
    BatchNorm: _batchnorm_pairs,
    DepthwiseConv2D: _depthwise_pairs,
    SeparableConv2D: _separable_pairs,
    Conv2DTranspose: _conv2d_transpose_pairs,
    LayerNorm: _layernorm_pairs,
    Normalization: _normalization_pairs,
}


def weight_pairs(report: ModelReport) -> list[WeightPair]:
    """Every weight of a checked model, as the Keras and PyTorch builds hold it."""
    layout = torch_layout(report)
    orders = value_orders(report)
    pairs = []
    for layer_report in report.layers:
        layer = layer_report.layer
        pairing = WEIGHT_PAIRINGS.get(type(layer))
        place = layout.get(layer.name)
        # Layers that reach no output are in neither build (Keras's Model leaves them out).
        if pairing is not None and place is not None and place.module is not None:
            order = orders.get(layer.inputs[0]) if layer.inputs else None
            pairs += pairing(layer, place.module, order, layer_report)
    return pairs


def model_report(spec: ModelReport | str | os.PathLike, model_name: str) -> ModelReport:
    """The checked model `model_name`: `spec` itself, or read from the spec file at that path."""
    if isinstance(spec, ModelReport):
        return spec
    from specc.pipeline import check_bytes

    checked = check_bytes(Path(spec).read_bytes())
    if not checked.ok:
        raise ValueError(f"{spec} has errors; run `specc check {spec}`")
    for report in checked.reports:
        if report.model.name == model_name:
            return report
    names = ", ".join(report.model.name for report in checked.reports)
    raise ValueError(f"{spec} has no model `{model_name}`; it has: {names}")


def _keras_variables(keras_model, pair: WeightPair):
    # find_layer: a backbone's layers are in the keras.applications model nested in the user's.
    variables = {variable.name: variable for variable in find_layer(keras_model, pair.layer).weights}
    return variables[pair.keras_name]


def _checked(array: Array, shape: tuple[int, ...], pair: WeightPair, into: str) -> Array:
    if tuple(array.shape) != tuple(shape):
        raise ValueError(
            f"layer `{pair.layer}`: {pair.keras_name} / {pair.torch_name} has shape {tuple(array.shape)}, "
            f"but {into} expects {tuple(shape)}; were both models built from the same spec?"
        )
    return np.asarray(array, order="C")  # contiguous, as torch.from_numpy needs; a scalar stays one


def keras_to_torch(keras_model, torch_module, spec: ModelReport | str | os.PathLike) -> None:
    """Copy every weight of a Keras model into the PyTorch module built from the same spec (its model of the
    Keras model's name), batch-norm statistics included."""
    import torch

    report = model_report(spec, keras_model.name)
    state = torch_module.state_dict()
    with torch.no_grad():
        for pair in weight_pairs(report):
            target = state[pair.torch_name]
            array = pair.to_torch(np.asarray(_keras_variables(keras_model, pair).numpy()))
            target.copy_(torch.from_numpy(_checked(array, target.shape, pair, "PyTorch")))


def torch_to_keras(torch_module, keras_model, spec: ModelReport | str | os.PathLike) -> None:
    """Copy every weight of a PyTorch module into the Keras model built from the same spec: keras_to_torch reversed."""
    report = model_report(spec, keras_model.name)
    state = torch_module.state_dict()
    pairs = weight_pairs(report)
    for pair in pairs:
        variable = _keras_variables(keras_model, pair)
        array = pair.to_keras(state[pair.torch_name].detach().cpu().numpy())
        variable.assign(_checked(array, variable.shape, pair, "Keras"))
    # Keras's Normalization computes with copies of its statistics, made again when told its weights changed.
    for name in dict.fromkeys(pair.layer for pair in pairs if pair.keras_name == "variance"):
        find_layer(keras_model, name).finalize_state()


def keras_input_to_torch(batch: Array) -> Array:
    """A batch in Keras's layout, (N, H, W, C), as the PyTorch module takes it, (N, C, H, W)."""
    return np.moveaxis(batch, -1, 1) if batch.ndim > 2 else batch


def keras_output_to_torch(batch: Array, report: ModelReport, output: int = 0) -> Array:
    """A model's output (the `output`-th of several) as Keras gives it, in the layout and feature order the
    PyTorch module gives it."""
    order = value_orders(report).get(report.model.outputs[output]) if report.model.outputs else None
    if order is not None:
        return batch[:, order]
    return keras_input_to_torch(batch)


def output_difference(
    keras_model, torch_module, spec: ModelReport | str | os.PathLike, batch: Array | Sequence[Array]
) -> float:
    """The largest absolute difference between the two builds' outputs for one batch in Keras's layout (a list
    of batches, one per input, for a model of several inputs), both in inference mode: how far apart the two
    frameworks compute the same network with the same weights. Several outputs are compared one by one."""
    import torch

    report = model_report(spec, keras_model.name)
    batches = list(batch) if isinstance(batch, list | tuple) else [batch]
    keras_outputs = keras_model(batches if len(batches) > 1 else batches[0], training=False)
    if not isinstance(keras_outputs, list | tuple):
        keras_outputs = [keras_outputs]
    expected = [keras_output_to_torch(np.asarray(out), report, index) for index, out in enumerate(keras_outputs)]
    was_training = torch_module.training
    torch_module.eval()
    try:
        with torch.no_grad():
            arguments = [torch.from_numpy(np.ascontiguousarray(keras_input_to_torch(b))) for b in batches]
            # A module trained with a loss that applies the softmax returns logits from forward; its probabilities,
            # what the Keras model outputs, come from probabilities().
            returns_logits = getattr(torch_module, "LOGITS", False)
            got = torch_module.probabilities(*arguments) if returns_logits else torch_module(*arguments)
    finally:
        torch_module.train(was_training)
    got = [tensor.numpy() for tensor in (got if isinstance(got, tuple) else (got,))]
    if len(got) != len(expected):
        raise ValueError(f"the builds give {len(expected)} outputs (Keras) and {len(got)} (PyTorch)")
    largest = 0.0
    for theirs, ours in zip(expected, got, strict=True):
        if ours.shape != theirs.shape:
            raise ValueError(f"the builds give outputs of shapes {theirs.shape} (Keras) and {ours.shape} (PyTorch)")
        largest = max(largest, float(np.abs(theirs - ours).max()) if ours.size else 0.0)
    return largest
