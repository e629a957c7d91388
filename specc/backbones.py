"""IR stage: a zoo network as a `backbone` layer of a user's model, cut and frozen as the line asks.

A zoo spec (specc/zoo) is lowered once per process, on its own, as keras.applications builds it with its
top. A backbone takes from it what keras.applications(include_top=..., pooling=...) would build: all
of it, or the layers up to the network's features layer and the global pooling Keras adds. Keras keeps
a nested model's layer names, and so does specc. Which layers train is decided in the order Keras lists
the network's layers (`model.layers`), so that `trainable_from` means what the fine-tuning loop over
`base.layers` a person writes means.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

from specc.ir import Model
from specc.layers import KIND_BY_SPELLING, LayerBase
from specc.zoo import ZooNetwork

# A backbone's `pooling=` argument to the global pooling kind that ends its features.
_POOLING_KINDS = {"avg": "global_avgpool", "max": "global_maxpool"}


@functools.cache
def zoo_model(network: ZooNetwork) -> Model:
    """The network's spec, lowered on its own; it checks clean (the zoo's tests say so)."""
    # Imported here: lowering a spec is what imports this module.
    from specc.lower import lower
    from specc.parse import parse

    tree, _ = parse(network.text())
    spec, _ = lower(tree)
    return spec.models[0]


@functools.cache
def zoo_layer_names(network: ZooNetwork, include_top: bool, pooling: str | None) -> frozenset[str]:
    """The names a backbone of this network with these arguments gives its layers."""
    return frozenset(layer.name for layer in network_layers(network, include_top, pooling, 1000, "softmax"))


def ancestors(layers: Sequence[LayerBase], of: str) -> set[str]:
    """The layers `of` reads, directly or not, and itself."""
    reads = {layer.name: layer.inputs for layer in layers}
    found: set[str] = set()
    pending = [of]
    while pending:
        name = pending.pop()
        if name in found or name not in reads:
            continue
        found.add(name)
        pending.extend(reads[name])
    return found


def network_layers(
    network: ZooNetwork, include_top: bool, pooling: str | None, classes: int, classifier_activation: str
) -> list[LayerBase]:
    """The layers keras.applications builds for these arguments, in the zoo spec's order."""
    model = zoo_model(network)
    if include_top:
        return [
            layer.model_copy(update={"units": classes, "activation": classifier_activation})
            if layer.name == "predictions"
            else layer
            for layer in model.layers
        ]
    kept = ancestors(model.layers, network.features)
    layers = [layer for layer in model.layers if layer.name in kept]
    if pooling is not None:
        pool = KIND_BY_SPELLING[_POOLING_KINDS[pooling]]
        layers.append(
            pool.model_construct(
                name=network.pooling[pooling], span=layers[-1].span, inputs=(network.features,), keepdims=False
            )
        )
    return layers


def first_trainable(model: Model, use: int) -> str | None:
    """The first layer of a backbone that trains, in Keras's order of its layers; None when all or none do. Read
    from the layers' own flags, whichever line set them (the backbone's, or a block use's around it)."""
    layers = model.layers_within(use)
    trains = {layer.name: layer.trainable for layer in layers}
    if all(trains.values()):
        return None
    return next((name for name in keras_layer_order(layers, (model.block_uses[use].output,)) if trains[name]), None)


def keras_layer_order(layers: Sequence[LayerBase], outputs: Sequence[str]) -> list[str]:
    """The layers' names in the order Keras's functional Model lists them (keras.src.ops.function.map_graph):
    by depth, the longest path to an output, deepest first; at equal depth, in the order a depth-first walk
    back from the outputs, reading each layer's inputs in order, first meets them."""
    reads = {layer.name: layer.inputs for layer in layers}
    first_met: dict[str, int] = {}
    finished: list[str] = []  # inputs before the layers that read them
    for output in outputs:
        stack = [(output, iter(reads.get(output, ())))]
        first_met.setdefault(output, len(first_met))
        while stack:
            name, pending = stack[-1]
            for parent in pending:
                if parent in reads and parent not in first_met:
                    first_met[parent] = len(first_met)
                    stack.append((parent, iter(reads[parent])))
                    break
            else:
                stack.pop()
                finished.append(name)
    depth: dict[str, int] = {}
    for name in reversed(finished):
        here = depth.setdefault(name, 0)
        for parent in reads[name]:
            if parent in reads:
                depth[parent] = max(depth.get(parent, 0), here + 1)
    return sorted(first_met, key=lambda name: (-depth[name], first_met[name]))
