"""Emit stage, Keras: a `backbone` line as the code a person writes for it, a keras.applications model made,
frozen as the spec says, and called on the value the line reads.

    vgg16 = keras.applications.VGG16(include_top=False, weights=backbone_weights, input_shape=(150, 150, 3), ...)
    vgg16.trainable = False
    x = vgg16(inputs)

Keras nests the application's model in the user's, its layers keeping their names, so the backend emits no
function for the network or its blocks (`within_backbone`), and `find_layer` finds the network's layers in
the nested model. The ImageNet weights stay real code: the build function of a model with such a backbone
takes WEIGHTS_PARAMETER, 'imagenet' by default, and `build --verify` and the tests pass None
(`offline_arguments`), so that checking shapes downloads nothing. Imports no framework.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Literal

from specc.backbones import first_trainable, keras_layer_order
from specc.backends.bodies import ModelBodies
from specc.backends.python_source import IDENTIFIER, INDENT, MAX_LINE, FreeNames, SourceWriter, call, literal, word
from specc.check import ModelReport
from specc.ir import Backbone, BlockUse, Model
from specc.layers import Shape

# The build function's parameter for the weights its backbones start from: 'imagenet', or None for random ones.
WEIGHTS_PARAMETER = "backbone_weights"

# keras.applications' defaults for the classifier top, left out of the call when the spec keeps them.
KERAS_TOP_DEFAULTS = {"classes": 1000, "classifier_activation": "softmax"}


@dataclass(frozen=True)
class BackbonePlan:
    """One backbone as its build function writes it: the use, the variable holding the application's model, the
    shape it is built for, and which of its layers are frozen: none, all, or (fine-tuning) those before
    `first_trainable` in Keras's order of them (`model.layers`), found by the freezing loop's two variables."""

    use: BlockUse
    variable: str
    input_shape: Shape
    frozen: Literal["none", "all", "before"] = "none"
    first_trainable: str | None = None
    loop_variables: tuple[str, str] | None = None

    @property
    def backbone(self) -> Backbone:
        assert self.use.backbone is not None
        return self.use.backbone

    @property
    def variables(self) -> tuple[str, ...]:
        """The names the backbone's lines take in its build function."""
        return (self.variable, *(self.loop_variables or ()))


def within_backbone(model: Model, use: int | None) -> bool:
    """Whether a block use (None: the model) is a backbone's, or one of the network's own uses inside it: Keras
    builds those inside keras.applications, so the backend emits nothing for them."""
    return model.backbone_of(use) is not None


@dataclass
class BackbonePlans:
    """Every emitted backbone of a module, by (model index, use index), and the block uses holding one that
    starts from ImageNet's weights: their functions take WEIGHTS_PARAMETER and hand it on."""

    plans: dict[tuple[int, int], BackbonePlan]
    holding_weights: set[tuple[int, int]]

    def of_model(self, index: int) -> list[BackbonePlan]:
        return [plan for (model, _), plan in self.plans.items() if model == index]

    def variables(self) -> set[str]:
        return {name for plan in self.plans.values() for name in plan.variables}


def plan_backbones(
    reports: Sequence[ModelReport],
    bodies: Sequence[ModelBodies],
    module_names: set[str],
    python_name: Callable[[str], str],
) -> BackbonePlans:
    """Each emitted backbone with its variables' names, clear of the module's names so far and of each other in
    one model (the module then keeps every other name clear of them), and the uses that hold one."""
    plans: dict[tuple[int, int], BackbonePlan] = {}
    holding: set[tuple[int, int]] = set()
    for index, (report, model_bodies) in enumerate(zip(reports, bodies, strict=True)):
        model = report.model
        shapes = report.value_shapes
        names = FreeNames(set(module_names))
        free = _freeing(names, python_name)

        for use_index in model_bodies.emitted_uses():
            use = model.block_uses[use_index]
            if use.backbone is None or within_backbone(model, use.parent):
                continue
            # A name given as a quoted string may be no identifier; the network's name always is.
            variable = free(use.name if IDENTIFIER.match(use.name) else use.backbone.network)
            # The layers' own flags, whichever line froze them (the backbone's, or a block use around it).
            layers = model.layers_within(use_index)
            plan = BackbonePlan(use, variable, shapes[use.inputs[0]])
            first = first_trainable(model, use_index)
            if not any(layer.trainable for layer in layers):
                plan = replace(plan, frozen="all")
            elif first is not None:
                order = keras_layer_order(layers, (use.output,))
                trainable = {layer.name: layer.trainable for layer in layers}
                if not all(trainable[name] for name in order[order.index(first) :]):
                    raise NotImplementedError(
                        f"the Keras backend freezes a backbone's layers before one layer only; "
                        f"`{use.name}` has frozen layers after trainable ones"
                    )
                plan = replace(
                    plan,
                    frozen="before",
                    first_trainable=first,
                    loop_variables=(free("first_trainable"), free("layer")),
                )
            plans[(index, use_index)] = plan
            if use.backbone.weights is not None:
                holding.update((index, outer) for outer in model.scope_chain(use.parent))
    return BackbonePlans(plans, holding)


def _freeing(names: FreeNames, python_name: Callable[[str], str]) -> Callable[[str], str]:
    return lambda wanted: names.free(python_name(wanted))


def takes_weights(plans: Sequence[BackbonePlan]) -> bool:
    """Whether a build function with these backbones takes WEIGHTS_PARAMETER: some backbone starts from ImageNet's."""
    return any(plan.backbone.weights is not None for plan in plans)


def build_parameters(plans: Sequence[BackbonePlan]) -> str:
    """The build function's parameters: the weights its backbones start from, the spec's by default."""
    return f"{WEIGHTS_PARAMETER}={literal('imagenet')}" if takes_weights(plans) else ""


def header_note(plans: Iterable[BackbonePlan]) -> str:
    """What the module's docstring says about the weights parameter, when some build function takes it."""
    if not takes_weights(list(plans)):
        return ""
    return (
        "\n\nBackbones are keras.applications models. A build function with one takes "
        f"{WEIGHTS_PARAMETER}: 'imagenet'\n(the spec's; Keras downloads them once) or None "
        "(random weights, as `specc build --verify` builds it).\n"
    )


def _keras_default_name(backbone: Backbone) -> str:
    """The name keras.applications gives the model when not told one, for most networks: its function's name in
    lower case (VGG16 -> vgg16). Where the rule misses (MobileNetV2), the emitted call names the model itself."""
    return backbone.keras_application.lower()


def application_arguments(backbone: Backbone, input_shape: Shape, weights: str, name: str | None) -> list[str]:
    """keras.applications' arguments for a backbone, as source text: the top, the weights (`weights`, source text),
    the input shape, the pooling without the top, the classifier with it where it is not Keras's, and the model's
    name (None: Keras's default) where Keras's default is not it."""
    arguments = [
        f"include_top={literal(backbone.include_top)}",
        f"weights={weights}",
        f"input_shape={literal(input_shape)}",
    ]
    if backbone.include_top:
        arguments += [
            f"{key}={literal(getattr(backbone, key))}"
            for key, default in KERAS_TOP_DEFAULTS.items()
            if getattr(backbone, key) != default
        ]
    else:
        arguments.append(f"pooling={literal(backbone.pooling)}")
    if name is not None and name != _keras_default_name(backbone):
        arguments.append(f"name={literal(name)}")
    return arguments


def write_backbone(
    writer: SourceWriter, plan: BackbonePlan, source: str, target: str, comment: str, depth: int
) -> None:
    """The backbone's lines in a build function: the application's model made, frozen as the spec says, and
    called on `source` into `target`."""
    backbone, model = plan.backbone, plan.variable
    constructor = f"keras.applications.{backbone.keras_application}"
    weights = WEIGHTS_PARAMETER if backbone.weights is not None else literal(None)
    arguments = application_arguments(backbone, plan.input_shape, weights, plan.use.name)
    writer.lines(call(f"{model} = {constructor}", arguments, depth), comment=comment)
    if plan.frozen == "all":
        writer.line(f"{model}.trainable = False", comment="feature extraction: the whole network is frozen")
    elif plan.frozen == "before" and plan.loop_variables is not None and plan.first_trainable is not None:
        first, layer = plan.loop_variables
        name = plan.first_trainable
        what = word(name)
        if backbone.trainable_from not in (None, name):  # trainable_from named a block of the network
            what += f" (the first layer of {word(backbone.trainable_from)})"
        note = f"Fine-tuning: {what} and the layers after it train; the layers before it stay frozen."
        for text in textwrap.wrap(note, MAX_LINE - len(INDENT) * depth - 2):
            writer.line(f"# {text}")
        writer.line(f"{first} = {model}.layers.index({model}.get_layer({literal(name)}))")
        writer.line(f"for {layer} in {model}.layers[:{first}]:")
        writer.indent()
        writer.line(f"{layer}.trainable = False")
        writer.dedent()
    writer.line(f"{target} = {model}({source})", comment=comment)


def find_layer(keras_model, name: str):
    """The layer of a built Keras model with this name, in the model itself or in a model nested in it (a
    backbone's layers are the application's model's, which keeps their names)."""
    for layer in keras_model.layers:
        if layer.name == name:
            return layer
    for layer in keras_model.layers:
        if hasattr(layer, "layers") and hasattr(layer, "get_layer"):
            try:
                return find_layer(layer, name)
            except ValueError:
                continue
    raise ValueError(f"no layer named {name!r} in model {keras_model.name!r} or in a model nested in it")


def offline_arguments(build: Callable) -> dict[str, None]:
    """The arguments that make an emitted build function start its backbones from random weights, so that
    building it downloads nothing (the shapes and counts are the same)."""
    import inspect

    return {WEIGHTS_PARAMETER: None} if WEIGHTS_PARAMETER in inspect.signature(build).parameters else {}
