"""Check stage, lints: the warnings a teacher would give about a model that checks (W401-W407, TRAINING.md).

Each lint reads the checked model (ModelReport) and, where it is about training, its training section; each
warning has a code, a message, a hint and the span of the line at fault. A warning is silenced on its line by a
comment `# specc: ignore[W401]` (specc.pipeline applies that to every warning; errors cannot be silenced).
"""

from __future__ import annotations

from specc.check import ModelReport
from specc.diagnostics import Diagnostic
from specc.layers import LayerBase, Problem
from specc.lower_training import output_head

# Fine-tuning pre-trained features wants a small rate; a frozen backbone's head learns too slowly below this.
FINE_TUNING_MAX_LEARNING_RATE = 1e-4
FROZEN_MIN_LEARNING_RATE = 1e-5
# W407: a dense layer holding more than this share of the parameters.
MOST_PARAMETERS = 0.5
_CROSS_ENTROPIES = ("sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy")


def lint(report: ModelReport) -> list[Diagnostic]:
    """Every lint's warnings about one checked model."""
    model = report.model
    by_name = {layer.name: layer for layer in model.layers}
    in_backbone = {layer.name for layer in model.layers if model.backbone_of(layer.scope) is not None}
    own = [layer for layer in model.layers if layer.name not in in_backbone]
    found: list[Diagnostic] = []
    found += _softmax_not_at_output(own, model.outputs)
    found += _dropout_at_output(model.outputs, by_name)
    found += _batchnorm_after_dropout(own, by_name)
    if model.training is not None:
        # Only for a model that is to be trained: the course's small flatten models, checked for their shapes,
        # would all be told this, where it matters for what trains.
        found += _dense_holding_most_parameters(report, in_backbone)
        head = output_head(model.layers, model.outputs[0]) if model.outputs else ("linear", None)
        found += _loss_against_output(report, head)
        found += _classes_against_units(report, head)
        found += _learning_rate_against_freezing(report)
    return found


# Layers are told apart by kind, not class, here: a check imports only the kinds its spec uses.
def _is_softmax(layer: LayerBase) -> bool:
    return layer.kind in ("dense", "activation") and layer.activation == "softmax"


def _softmax_not_at_output(layers: list[LayerBase], outputs: tuple[str, ...]) -> list[Diagnostic]:
    """W402: softmax turns scores into probabilities that sum to 1; anywhere but at an output it squashes the
    features the next layers learn from."""
    return [
        Diagnostic(
            code="W402",
            message=f"softmax in `{layer.name}`, which is not an output: the layers after it see probabilities",
            span=layer.span,
            hint="use relu (or no activation) inside the network; softmax belongs on the output layer only",
        )
        for layer in layers
        if _is_softmax(layer) and layer.name not in outputs
    ]


def _dropout_at_output(outputs: tuple[str, ...], by_name: dict[str, LayerBase]) -> list[Diagnostic]:
    """W403: a dropout whose value is the output zeroes predictions while training (and scales the rest)."""
    return [
        Diagnostic(
            code="W403",
            message=f"dropout `{layer.name}` is the model's output: it zeroes predictions while training",
            span=layer.span,
            hint="put dropout before the last dense layer, not after it",
        )
        for name in outputs
        if (layer := by_name.get(name)) is not None and layer.kind == "dropout"
    ]


def _batchnorm_after_dropout(layers: list[LayerBase], by_name: dict[str, LayerBase]) -> list[Diagnostic]:
    """W406: batch normalization right after dropout learns statistics of dropped-out activations, which differ
    from those at inference (Li et al., "Understanding the disharmony between dropout and batch normalization")."""
    return [
        Diagnostic(
            code="W406",
            message=f"batch normalization `{layer.name}` right after dropout `{layer.inputs[0]}`: its statistics "
            "while training differ from those at inference",
            span=layer.span,
            hint="put dropout after the batch normalization (or drop one of them)",
        )
        for layer in layers
        if layer.kind == "batchnorm"
        and layer.inputs
        and getattr(by_name.get(layer.inputs[0]), "kind", None) == "dropout"
    ]


def _dense_holding_most_parameters(report: ModelReport, in_backbone: set[str]) -> list[Diagnostic]:
    """W407: a dense layer on the flatten of a feature map larger than 1x1 that holds most of the parameters;
    global average pooling in place of the flatten gives it C inputs instead of H*W*C."""
    counted = report.counted
    total = sum(item.inference.params for item in counted)
    shapes = {item.layer.name: item for item in report.layers}
    found = []
    for item in counted:
        layer = item.layer
        if layer.kind != "dense" or layer.name in in_backbone or not layer.inputs or total == 0:
            continue
        flatten = shapes.get(layer.inputs[0])
        if flatten is None or flatten.layer.kind != "flatten":
            continue
        feature_map = flatten.input_shapes[0]
        if len(feature_map) != 3 or feature_map[0] * feature_map[1] <= 1:
            continue
        params = item.inference.params
        if params <= MOST_PARAMETERS * total:
            continue
        height, width, channels = feature_map
        # The dense layer's own rule, on the channels global pooling would give it.
        pooled = layer.infer(((channels,),))
        assert not isinstance(pooled, Problem)  # a dense layer takes any vector
        with_pooling = pooled.params
        found.append(
            Diagnostic(
                code="W407",
                message=f"`{layer.name}` holds {params:,} of the model's {total:,} parameters "
                f"({params / total:.0%}), from flattening a {height}x{width}x{channels} feature map",
                span=layer.span,
                hint=f"`global_avgpool` in place of `flatten` gives it {with_pooling:,} parameters, "
                f"saving {params - with_pooling:,}",
            )
        )
    return found


def _loss_against_output(report: ModelReport, head: tuple[str, int | None]) -> list[Diagnostic]:
    """W401: a loss that does not fit the output's activation and units."""
    training = report.model.training
    assert training is not None
    if "loss" not in training.setting_spans:
        return []  # the loss was chosen to fit the output
    activation, units = head
    loss, span = training.loss, training.setting_spans["loss"]
    problem = hint = None
    if (
        loss in ("sparse_categorical_crossentropy", "categorical_crossentropy")
        and activation == "sigmoid"
        and units == 1
    ):
        problem = f"{loss} on one sigmoid unit: categorical cross-entropy needs a unit per class"
        hint = "use `loss binary_crossentropy` for one sigmoid unit, or give the output a unit per class with softmax"
    elif loss == "binary_crossentropy" and activation == "softmax" and (units or 2) > 1:
        problem = f"binary_crossentropy on {units or 'several'} softmax units: it treats each unit as its own yes/no"
        hint = "use `loss sparse_categorical_crossentropy` (integer labels) for softmax over classes"
    elif training.from_logits and activation in ("softmax", "sigmoid"):
        problem = f"from_logits=true after a {activation}: the loss applies {activation} a second time"
        hint = f"remove from_logits=true, or remove the output's {activation} so that it gives logits"
    elif not training.from_logits and loss in _CROSS_ENTROPIES and activation not in ("softmax", "sigmoid"):
        problem = f"{loss} expects probabilities, but the output has no softmax or sigmoid"
        hint = "add from_logits=true to the loss line, or give the output layer its softmax (sigmoid for one unit)"
    if problem is None:
        return []
    return [Diagnostic(code="W401", message=problem, span=span, hint=hint)]


def _classes_against_units(report: ModelReport, head: tuple[str, int | None]) -> list[Diagnostic]:
    """W404: the training section's `classes` and the output's units disagree (one sigmoid unit is two classes)."""
    training = report.model.training
    assert training is not None
    activation, units = head
    if training.classes is None or units is None or units == training.classes:
        return []
    if units == 1 and activation == "sigmoid" and training.classes == 2:
        return []
    return [
        Diagnostic(
            code="W404",
            message=f"the data has {training.classes} classes but the output has {units} units",
            span=training.setting_spans["classes"],
            hint=f"give the output layer {training.classes} units (or correct `classes`)",
        )
    ]


def _learning_rate_against_freezing(report: ModelReport) -> list[Diagnostic]:
    """W405: fine-tuning pre-trained layers with a rate meant for training from scratch destroys what they
    learned; a fully frozen backbone with a tiny rate leaves its new head learning too slowly."""
    model, training = report.model, report.model.training
    assert training is not None
    rate = training.optimizer.learning_rate
    span = training.setting_spans.get("learning_rate", training.setting_spans.get("optimizer", training.span))
    for use in model.block_uses:
        backbone = use.backbone
        if backbone is None or backbone.weights is None:
            continue
        fine_tuning = backbone.trainable_from is not None or backbone.trainable
        if fine_tuning and rate > FINE_TUNING_MAX_LEARNING_RATE:
            return [
                Diagnostic(
                    code="W405",
                    message=f"fine-tuning backbone `{use.name}` with learning rate {rate:g}: a rate this high "
                    "destroys the pre-trained features",
                    span=span,
                    hint=f"use learning_rate={FINE_TUNING_MAX_LEARNING_RATE:g} or lower (1e-5 is usual), "
                    "or freeze the backbone with trainable=false",
                )
            ]
        if not fine_tuning and rate < FROZEN_MIN_LEARNING_RATE:
            return [
                Diagnostic(
                    code="W405",
                    message=f"backbone `{use.name}` is frozen, and learning rate {rate:g} trains its new head "
                    "very slowly",
                    span=span,
                    hint="a frozen backbone's head trains from scratch: use learning_rate=0.001 (Adam's default)",
                )
            ]
    return []
