"""Emit stage, PyTorch: a `backbone` line's network as an nn.Module class of its own, frozen layer by layer as
Keras freezes it, and a function that copies keras.applications' ImageNet weights into it.

The network is a block use in the IR, so the backend makes its class as it makes a block's (the network's
own blocks are classes too), named as keras.applications names the network (`VGG16`). Freezing is
`requires_grad_(False)` on the fewest submodules that hold exactly the frozen layers' parameters, so that
the module counts what Keras counts as non-trainable. PyTorch has no ImageNet weights in Keras's layout,
so for a backbone with weights=imagenet the module gets `load_keras_imagenet_weights(model, keras_model=None)`:
it builds (or is given) keras.applications' model and copies its weights with specc's transfer code
(`keras_backbone_to_torch`, which runs in the user's program; the rest of this module only writes text).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from specc.backbones import first_trainable
from specc.backends.keras_backbones import KERAS_TOP_DEFAULTS, application_arguments
from specc.backends.python_source import INDENT, SourceWriter, call, identifier, literal, word
from specc.check import LayerReport, ModelReport
from specc.ir import BlockUse
from specc.layers import BatchNorm, Shape, format_shape

LOADER = "load_keras_imagenet_weights"


def backbone_class_name(uses: Sequence[BlockUse]) -> str | None:
    """The class of a network's backbone uses: keras.applications' name for the network (`VGG16`, `ResNet50`);
    None unless every use is a backbone of the same network."""
    applications = {use.backbone.keras_application if use.backbone else None for use in uses}
    if len(applications) != 1 or None in applications:
        return None
    return identifier(applications.pop())  # type: ignore[arg-type]


def backbone_class_title(uses: Sequence[BlockUse]) -> str:
    """What a backbone's class is, for its docstring."""
    backbone = uses[0].backbone
    assert backbone is not None
    top = "with its classifier top" if backbone.include_top else "without its classifier top"
    return f"{word(backbone.keras_application)} {top}, as keras.applications builds it"


def _path_expression(root: str, path: Sequence[str]) -> str:
    """`self.vgg16` + ('block1',) -> `self.vgg16.block1`; an nn.Sequential's items by index: `self.x.stage[0]`."""
    text = root
    for part in path:
        text += f"[{int(part)}]" if part.isdigit() else f".{identifier(part)}"
    return text


def _frozen_roots(weighted: list[tuple[tuple[str, ...], bool]]) -> list[tuple[str, ...]]:
    """The fewest submodule paths whose parameters are exactly those of the frozen layers, given each layer with
    weights as (its module's path, whether it trains): a submodule whose layers are all frozen stands for them."""

    def roots(prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
        under = [(path, trains) for path, trains in weighted if path[: len(prefix)] == prefix]
        if not any(trains for _, trains in under):
            return [prefix]
        if all(trains for _, trains in under):
            return []
        children = dict.fromkeys(path[len(prefix)] for path, _ in under if len(path) > len(prefix))
        return [root for child in children for root in roots((*prefix, child))]

    return roots(()) if weighted else []


def _weighted_places(report: ModelReport, places: dict, inside: int | None) -> list[tuple[LayerReport, tuple]]:
    """The layers with weights that have a module in `places` (and sit in use `inside`, unless None), with its path."""
    found = []
    for layer_report in report.layers:
        layer = layer_report.layer
        place = places.get(layer.name)
        if place is None or place.module is None or not layer_report.inference.params:
            continue
        if inside is not None and inside not in report.model.scope_chain(layer.scope):
            continue
        found.append((layer_report, tuple(place.module.split("."))))
    return found


def freezing(report: ModelReport, use: int, attribute: str, places: dict) -> tuple[tuple[str, str], ...]:
    """The lines of `__init__`, after the backbone's instance `self.<attribute>` is made, that freeze its frozen
    layers (`places`: where its layers are in it), each with the reason: none when every layer trains, or when
    the use is no backbone's."""
    if report.model.block_uses[use].backbone is None:
        return ()
    # The attribute comes from the backbone's name=, which may be a quoted string: refuse one that is no identifier.
    root = f"self.{identifier(attribute)}"
    weighted = [(path, r.layer.trainable) for r, path in _weighted_places(report, places, use)]
    roots = _frozen_roots(weighted)
    if not roots:
        return ()
    if roots == [()]:
        return ((f"{root}.requires_grad_(False)", "feature extraction: the whole network is frozen"),)
    first = first_trainable(report.model, use)
    backbone = report.model.block_uses[use].backbone
    reason = "fine-tuning: some layers are frozen"
    if first is not None:
        what = word(first)
        if backbone is not None and backbone.trainable_from not in (None, first):
            what += f" ({word(backbone.trainable_from)})"
        reason = f"fine-tuning from {what}: the layers before it stay frozen"
    modules = [_path_expression(root, path) for path in roots]
    if len(modules) == 1:
        return ((f"{modules[0]}.requires_grad_(False)", reason),)
    loop = call("for frozen in ", modules, indent=2, trailer=":")
    return (("\n".join([*loop, f"{INDENT}frozen.requires_grad_(False)"]), reason),)


def write_frozen_batchnorm_mode(writer: SourceWriter, report: ModelReport, places: dict) -> None:
    """A `train` that keeps the frozen batch normalizations in inference mode, as Keras runs a BatchNormalization
    whose `trainable` is False (with its moving statistics, which it does not update); nothing when none is."""
    weighted = _weighted_places(report, places, None)
    roots = _frozen_roots([(path, r.layer.trainable) for r, path in weighted])
    frozen_norms = [
        root
        for root in roots
        if any(isinstance(r.layer, BatchNorm) and path[: len(root)] == root for r, path in weighted)
    ]
    if not frozen_norms:
        return
    modules = [_path_expression("self", root) for root in frozen_norms]
    writer.line()
    writer.line("def train(self, mode: bool = True) -> nn.Module:")
    writer.indent()
    writer.line('"""Keras runs a frozen BatchNormalization in inference mode, training or not, and so do these."""')
    writer.line("super().train(mode)")
    depth = 2
    if len(modules) > 1:
        writer.lines(call("for frozen in ", modules, depth, trailer=":"))
        writer.indent()
        depth += 1
    writer.line(f"for module in {modules[0] if len(modules) == 1 else 'frozen'}.modules():")
    writer.indent()
    writer.line("if isinstance(module, nn.modules.batchnorm._BatchNorm):")
    writer.indent()
    writer.line("module.eval()")
    for _ in range(depth):
        writer.dedent()
    writer.line("return self")
    writer.dedent()


@dataclass(frozen=True)
class _Loaded:
    """A backbone the loader fills: where it is in the model (`model.vgg16`), and what keras.applications builds."""

    use: BlockUse
    path: str
    input_shape: Shape


def _top_arguments(loaded: _Loaded) -> list[str]:
    backbone = loaded.use.backbone
    assert backbone is not None
    if not backbone.include_top:
        return [f"pooling={literal(backbone.pooling)}"]
    return [f"{key}={literal(getattr(backbone, key))}" for key in KERAS_TOP_DEFAULTS]


def _transfer_arguments(loaded: _Loaded, keras_model: str) -> list[str]:
    backbone = loaded.use.backbone
    assert backbone is not None
    return [
        keras_model,
        loaded.path,
        f"network={literal(backbone.network)}",
        f"input_shape={literal(loaded.input_shape)}",
        f"include_top={literal(backbone.include_top)}",
        *_top_arguments(loaded),
    ]


def _loaded_backbones(report: ModelReport, emission, full_places: dict) -> list[_Loaded]:
    """The model's emitted backbones with weights=imagenet, and where each is in it: the path of any of its layers
    in the model less the path of that layer in the backbone's own class."""
    shapes = report.value_shapes
    found = []
    for index, use in enumerate(report.model.block_uses):
        backbone = use.backbone
        if backbone is None or backbone.weights is None or index not in emission.members[id(report)]:
            continue
        inner = emission.instance(report, index).places
        name, place = next((name, place) for name, place in inner.items() if place.module is not None)
        path = full_places[name].module.removesuffix("." + place.module)
        found.append(_Loaded(use, _path_expression("model", path.split(".")), shapes[use.inputs[0]]))
    return found


def write_loaders(
    writer: SourceWriter, models: Iterable[tuple[ModelReport, dict]], class_names: dict[str, str], emission
) -> None:
    """For each model with a backbone with weights=imagenet, `load_keras_imagenet_weights(model, keras_model=None)`
    (one per model, `_<model>` after it when several models have one). `models`: each graph model's report and
    where its layers are; `emission`: the backend's plan of the modules, which knows each backbone's class."""
    loading = [(report, loaded) for report, places in models if (loaded := _loaded_backbones(report, emission, places))]
    for report, backbones in loading:
        name = LOADER if len(loading) == 1 else identifier(f"{LOADER}_{report.model.name}")
        class_name = class_names[report.model.name]
        several = len(backbones) > 1
        parameter = "keras_models: dict | None = None" if several else "keras_model=None"
        writer.line()
        writer.line()
        writer.line(f"def {name}(model: {class_name}, {parameter}) -> None:")
        writer.indent()
        where = ", ".join(loaded.path for loaded in backbones)
        applications = ", ".join(f"keras.applications.{loaded.use.backbone.keras_application}" for loaded in backbones)
        given = "keras_models: by backbone name, a" if several else "keras_model: a"
        writer.line(f'"""Copy keras.applications\' ImageNet weights into the backbone{"s" * several}, {where}.')
        writer.line()
        writer.line(f"{given} {applications} built as below, if you have one; else it is built here, and")
        writer.line("Keras downloads the weights the first time. Needs Keras, and specc for its weight transfer.")
        writer.line('"""')
        writer.line("from specc.backends.torch_backbones import keras_backbone_to_torch")
        writer.line()
        for loaded in backbones:
            backbone = loaded.use.backbone
            constructor = f"keras.applications.{backbone.keras_application}"
            variable = "keras_model"
            if several:
                writer.line(f"keras_model = (keras_models or {{}}).get({literal(loaded.use.name)})")
            writer.line(f"if {variable} is None:")
            writer.indent()
            writer.line("import keras")
            writer.line()
            arguments = application_arguments(backbone, loaded.input_shape, literal("imagenet"), None)
            writer.lines(call(f"{variable} = {constructor}", arguments, 2))
            writer.dedent()
            writer.lines(call("keras_backbone_to_torch", _transfer_arguments(loaded, variable), 1))
        writer.dedent()


def backbone_spec(
    network: str,
    input_shape: Shape,
    include_top: bool = True,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str = "softmax",
) -> str:
    """A spec of one model that is only this backbone, as keras.applications builds it for these arguments."""
    arguments = [f"include_top={str(include_top).lower()}"]
    if include_top:
        arguments += [f"classes={int(classes)}", f"classifier_activation={word(classifier_activation)}"]
    else:
        arguments.append(f"pooling={word(pooling or 'none')}")
    return (
        f"model {word(network)} {{\n  input {format_shape(tuple(input_shape))}\n"
        f"  backbone {word(network)} weights=none {' '.join(arguments)}\n}}\n"
    )


def keras_backbone_to_torch(
    keras_model,
    torch_backbone,
    network: str,
    input_shape: Shape,
    include_top: bool = True,
    pooling: str | None = None,
    classes: int = 1000,
    classifier_activation: str = "softmax",
) -> None:
    """Copy the weights of keras.applications' model of a zoo network into the PyTorch module specc emits for a
    backbone of it with these arguments (the instance in the user's model, `model.vgg16`). specc checks the
    backbone on its own, and its transfer code pairs each Keras weight with its parameter in the module.
    Needs Keras and PyTorch, imported only when called."""
    from torch import nn

    from specc.backends.torch import torch_layout
    from specc.backends.transfer import keras_to_torch
    from specc.pipeline import check_text

    checked = check_text(backbone_spec(network, input_shape, include_top, pooling, classes, classifier_activation))
    if not checked.ok:
        raise ValueError(f"specc cannot check backbone {network} at {format_shape(tuple(input_shape))}")
    (report,) = checked.reports
    # The backbone-only model holds the network's module under one attribute; the user's module stands there.
    attribute = next(place.module for place in torch_layout(report).values() if place.module).split(".")[0]
    holder = nn.Module()
    holder.add_module(attribute, torch_backbone)
    keras_to_torch(keras_model, holder, report)
