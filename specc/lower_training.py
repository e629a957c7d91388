"""Lowering stage, training section: a model's `train { ... }` -> ir.Training, with E224 for what does not fit.

Each line of the section is a setting word and its arguments, written as a layer line is. The settings, what
each takes and the defaults of the ones left out (TRAINING.md) are the tables here, read by the lowering, the
editor's completion and the TextMate grammar alike. What is left out is filled: the optimizer Keras 3's Adam,
the loss chosen by the model's output (see default_loss).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, get_args

from specc import syntax
from specc.diagnostics import Diagnostic, Span
from specc.ir import (
    CheckpointSpec,
    EarlyStoppingSpec,
    LossName,
    OptimizerName,
    OptimizerSpec,
    ScheduleSpec,
    Training,
)
from specc.layers import LayerBase

OPTIMIZERS: tuple[str, ...] = get_args(OptimizerName)
LOSSES: tuple[str, ...] = get_args(LossName)
SCHEDULES: tuple[str, ...] = ("none", "step", "cosine")
# Metrics both backends compute, by the names Keras knows them by.
METRICS: tuple[str, ...] = ("accuracy", "mae", "mse")
MONITORS: tuple[str, ...] = ("val_loss", "val_accuracy", "loss", "accuracy")

# Keras 3's default learning rate of each optimizer.
DEFAULT_LEARNING_RATE = {"adam": 0.001, "adamw": 0.001, "sgd": 0.01, "rmsprop": 0.001}
# Keras 3's AdamW weight decay, where Adam has none.
ADAMW_WEIGHT_DECAY = 0.004

# Each optimizer's keyword settings beside learning_rate (Keras 3's names).
OPTIMIZER_SETTINGS: dict[str, tuple[str, ...]] = {
    "adam": ("beta_1", "beta_2", "epsilon"),
    "adamw": ("weight_decay", "beta_1", "beta_2", "epsilon"),
    "sgd": ("momentum", "nesterov"),
    "rmsprop": ("rho", "momentum", "epsilon"),
}


class _Unfit(ValueError):
    """A value that does not fit its setting; the message says what was expected."""


def _number(value: syntax.Value) -> float:
    if isinstance(value, syntax.Number):
        number = float(value.text)
        if not math.isfinite(number):  # 1e400 reads as inf, which no optimizer takes
            raise _Unfit("a finite number")
        return number
    raise _Unfit("a number")


def _positive(value: syntax.Value) -> float:
    number = _number(value)
    if number <= 0:
        raise _Unfit("a number above 0")
    return number


def _at_least_zero(value: syntax.Value) -> float:
    number = _number(value)
    if number < 0:
        raise _Unfit("a number of at least 0")
    return number


def _fraction(value: syntax.Value) -> float:
    """In [0, 1): Keras's validation_split."""
    number = _number(value)
    if not 0 <= number < 1:
        raise _Unfit("a fraction in [0, 1)")
    return number


def _below_one(value: syntax.Value) -> float:
    """In [0, 1): momentum, betas, rho, gamma."""
    number = _number(value)
    if not 0 <= number < 1:
        raise _Unfit("a number in [0, 1)")
    return number


def _count(value: syntax.Value) -> int:
    if isinstance(value, syntax.Number) and value.is_integer and value.integer > 0:
        return value.integer
    raise _Unfit("a whole number above 0")


def _patience(value: syntax.Value) -> int:
    if isinstance(value, syntax.Number) and value.is_integer and value.integer >= 0:
        return value.integer
    raise _Unfit("a whole number of epochs, 0 or more")


def _boolean(value: syntax.Value) -> bool:
    if isinstance(value, syntax.Word) and value.text.lower() in ("true", "false"):
        return value.text.lower() == "true"
    raise _Unfit("true or false")


def _path(value: syntax.Value) -> str:
    if isinstance(value, (syntax.String, syntax.Word)):
        return value.text
    raise _Unfit('a path, such as "best.keras"')


def _choice(choices: tuple[str, ...]) -> Callable[[syntax.Value], str]:
    def convert(value: syntax.Value) -> str:
        if isinstance(value, syntax.Word) and value.text in choices:
            return value.text
        raise _Unfit(f"{', '.join(choices[:-1])} or {choices[-1]}", *_closest_of(value, choices))

    return convert


def _closest_of(value: syntax.Value, choices: tuple[str, ...]) -> tuple[str, ...]:
    from specc.lower import closest

    match = closest(value.text, choices) if isinstance(value, (syntax.Word, syntax.String)) else None
    return (match,) if match else ()


class _Setting:
    """What one setting line takes: the arguments that may go without a key, in order, and each argument's form."""

    def __init__(self, positional: tuple[str, ...], converters: dict[str, Callable[[syntax.Value], Any]], what: str):
        self.positional = positional
        self.converters = converters
        self.what = what


_UNIT_FRACTIONS = {name: _below_one for name in ("beta_1", "beta_2", "rho", "momentum")}
_OPTIMIZER_CONVERTERS = {
    "name": _choice(OPTIMIZERS),
    "learning_rate": _positive,
    "weight_decay": _at_least_zero,
    "epsilon": _positive,
    "nesterov": _boolean,
    **_UNIT_FRACTIONS,
}

# Every setting of a training section, in the canonical order `specc fmt` keeps as written and the docs list.
TRAINING_SETTINGS: dict[str, _Setting] = {
    "optimizer": _Setting(
        ("name", "learning_rate"),
        _OPTIMIZER_CONVERTERS,
        "adam | adamw | sgd | rmsprop, learning_rate=, and the optimizer's own settings",
    ),
    "schedule": _Setting(
        ("name",),
        {"name": _choice(SCHEDULES), "step_size": _count, "gamma": _below_one, "alpha": _below_one},
        "none | step (step_size=, gamma=) | cosine (alpha=)",
    ),
    "loss": _Setting(
        ("name",), {"name": _choice(LOSSES), "from_logits": _boolean}, "the loss, and from_logits=true for logits"
    ),
    "metrics": _Setting((), {}, "the metrics, by Keras's names: accuracy, mae, mse"),
    "epochs": _Setting(("epochs",), {"epochs": _count}, "the number of epochs"),
    "batch_size": _Setting(("batch_size",), {"batch_size": _count}, "examples per batch"),
    "validation_split": _Setting(
        ("validation_split",), {"validation_split": _fraction}, "the fraction of the training data held out"
    ),
    "early_stopping": _Setting(
        ("patience",),
        {"patience": _patience, "monitor": _choice(MONITORS), "restore_best_weights": _boolean},
        "stop when monitor (val_loss) has not improved for patience epochs",
    ),
    "checkpoint": _Setting(
        (), {"monitor": _choice(MONITORS), "path": _path}, "keep the best model by monitor (val_loss)"
    ),
    "classes": _Setting(("classes",), {"classes": _count}, "the number of classes the data has"),
}


def output_head(layers: list[LayerBase] | tuple[LayerBase, ...], name: str) -> tuple[str, int | None]:
    """The activation a model's output ends with and its units where a dense layer gives them: `dense 10 softmax`
    is ("softmax", 10); `dense 10` then `activation softmax` too; ("linear", None) when nothing says."""
    by_name = {layer.name: layer for layer in layers}
    layer = by_name.get(name)
    activation = None
    while layer is not None:
        # By kind, not class: a check imports only the kinds its spec uses.
        if layer.kind == "dense":
            return (activation or layer.activation, layer.units)
        if layer.kind == "activation" and activation is None:
            activation = layer.activation
        elif layer.kind not in ("activation", "dropout"):
            break
        layer = by_name.get(layer.inputs[0]) if layer.inputs else None
    return (activation or "linear", None)


def default_loss(activation: str, units: int | None) -> tuple[str, bool]:
    """The loss (and from_logits) for an output, when the section names none: one sigmoid unit is binary
    cross-entropy; softmax is sparse categorical cross-entropy (integer labels, as the data loaders give);
    a linear output is sparse categorical cross-entropy on logits, or mse when it is one unit (a regression)."""
    if activation == "sigmoid":
        return "binary_crossentropy", False
    if activation == "softmax":
        return "sparse_categorical_crossentropy", False
    if units == 1:
        return "mse", False
    return "sparse_categorical_crossentropy", True


def lower_training(
    section: syntax.TrainingSection, model_name: str, head: tuple[str, int | None]
) -> tuple[Training | None, list[Diagnostic]]:
    """The section as ir.Training, every setting filled, and the diagnostics (E224) for what does not fit; a
    setting with a mistake is left at its default, so the rest still lowers."""
    from specc.lower import closest

    diagnostics: list[Diagnostic] = []

    def report(message: str, span: Span, hint: str | None = None) -> None:
        diagnostics.append(Diagnostic(code="E224", message=message, span=span, hint=hint))

    given: dict[str, dict[str, Any]] = {}
    spans: dict[str, Span] = {}
    for statement in section.settings:
        word = statement.kind
        setting = TRAINING_SETTINGS.get(word)
        if statement.target is not None or statement.sources:
            report("a training setting is a word and its arguments, without `=` or `from`", statement.span)
            continue
        if setting is None:
            match = closest(word, tuple(TRAINING_SETTINGS))
            report(
                f"unknown training setting `{word}`",
                statement.kind_span,
                hint=f"did you mean `{match}`?"
                if match
                else f"a training section takes: {', '.join(TRAINING_SETTINGS)}",
            )
            continue
        if word in given:
            report(f"`{word}` is set twice", statement.kind_span, hint=f"keep one `{word}` line")
            continue
        values = _setting_values(word, setting, statement, report)
        if values is None:
            continue
        given[word] = values
        spans[word] = statement.span
        if "learning_rate" in values.get("_spans", {}):
            spans["learning_rate"] = values["_spans"]["learning_rate"]

    def setting(word: str) -> dict[str, Any]:
        values = dict(given.get(word, {}))
        values.pop("_spans", None)
        return values

    optimizer = setting("optimizer")
    name = optimizer.pop("name", "adam")
    allowed = {"learning_rate", *OPTIMIZER_SETTINGS[name]}
    for key in [k for k in optimizer if k not in allowed]:
        match = closest(key, tuple(sorted(allowed)))
        report(
            f"{name} has no setting `{key}`",
            given["optimizer"]["_spans"][key],
            hint=f"did you mean `{match}`?"
            if match
            else f"{name} takes: {', '.join(['learning_rate', *OPTIMIZER_SETTINGS[name]])}",
        )
        del optimizer[key]
    optimizer.setdefault("learning_rate", DEFAULT_LEARNING_RATE[name])
    if name == "adamw":
        optimizer.setdefault("weight_decay", ADAMW_WEIGHT_DECAY)
    optimizer_spec = OptimizerSpec(name=name, span=spans.get("optimizer", section.keyword_span), **optimizer)

    schedule_spec = None
    schedule = setting("schedule")
    if schedule and schedule.get("name", "none") != "none":
        schedule_name = schedule.pop("name")
        wrong = [k for k in schedule if k not in {"step": ("step_size", "gamma"), "cosine": ("alpha",)}[schedule_name]]
        for key in wrong:
            report(
                f"schedule {schedule_name} has no setting `{key}`",
                given["schedule"]["_spans"][key],
                hint="step takes step_size= and gamma=; cosine takes alpha=",
            )
            del schedule[key]
        schedule_spec = ScheduleSpec(name=schedule_name, span=spans["schedule"], **schedule)

    loss = setting("loss")
    if "name" in loss:
        loss_name, from_logits = loss["name"], loss.get("from_logits", False)
    else:
        loss_name, from_logits = default_loss(*head)
        from_logits = loss.get("from_logits", from_logits)

    metrics = tuple(given["metrics"]["metrics"]) if "metrics" in given else ("accuracy",)
    early = setting("early_stopping")
    checkpoint = setting("checkpoint")
    training = Training(
        optimizer=optimizer_spec,
        schedule=schedule_spec,
        loss=loss_name,
        from_logits=from_logits,
        metrics=metrics,
        epochs=setting("epochs").get("epochs", 10),
        batch_size=setting("batch_size").get("batch_size", 32),
        validation_split=setting("validation_split").get("validation_split", 0.0),
        early_stopping=EarlyStoppingSpec(span=spans["early_stopping"], **early) if "early_stopping" in given else None,
        checkpoint=CheckpointSpec(span=spans["checkpoint"], **checkpoint) if "checkpoint" in given else None,
        classes=setting("classes").get("classes"),
        span=section.span,
        setting_spans=spans,
    )
    return training, diagnostics


def _setting_values(
    word: str, setting: _Setting, statement: syntax.LayerStatement, report: Callable[..., None]
) -> dict[str, Any] | None:
    """One setting line's arguments by name (and `_spans`: where each was written); None after reporting a
    line that is wrong as a whole."""
    from specc.lower import closest, render

    if word == "metrics":
        names = []
        for argument in statement.arguments:
            value = argument.value
            if argument.key is not None or not isinstance(value, syntax.Word) or value.text not in METRICS:
                match = closest(value.text, METRICS) if isinstance(value, syntax.Word) else None
                report(
                    f"unknown metric {render(value) if argument.key is None else argument.key + '='}",
                    argument.span,
                    hint=f"did you mean `{match}`?" if match else f"metrics are named: {', '.join(METRICS)}",
                )
                continue
            names.append(value.text)
        if not statement.arguments:
            report("metrics names one metric or more", statement.kind_span, hint="write `metrics accuracy`")
            return None
        return {"metrics": names}
    values: dict[str, Any] = {}
    spans: dict[str, Span] = {}
    free = list(setting.positional)
    # An optimizer's keys depend on which it is: checked once it is known (lower_training).
    known = tuple(_OPTIMIZER_CONVERTERS) if word == "optimizer" else tuple(setting.converters)
    for argument in statement.arguments:
        if argument.key is None:
            if not free:
                named = ", ".join(k + "=..." for k in known if k not in setting.positional)
                report(
                    f"too many values for {word}: {render(argument.value)}",
                    argument.span,
                    hint=f"name it: {named}" if named else f"{word} takes one value",
                )
                continue
            key = free.pop(0)
        else:
            key = argument.key
            if key not in known or key == "name":
                match = closest(key, [k for k in known if k != "name"])
                report(
                    f"{word} has no setting `{key}`",
                    argument.key_span or argument.span,
                    hint=f"did you mean `{match}`?" if match else setting.what,
                )
                continue
            if key in free:
                free.remove(key)
        if key in values:
            report(f"`{key}` is given twice", argument.span, hint=f"keep one `{key}`")
            continue
        try:
            values[key] = setting.converters.get(key, _OPTIMIZER_CONVERTERS.get(key))(argument.value)
        except _Unfit as wrong:
            expected, *match = wrong.args
            report(
                f"{key if key != 'name' else word} expects {expected}, got {render(argument.value)}",
                argument.value.span,
                hint=f"did you mean `{match[0]}`?" if match else None,
            )
            continue
        spans[key] = argument.span if key != "learning_rate" else argument.value.span
    missing = [
        key for key in setting.positional if key not in values and key != "name" and word not in ("early_stopping",)
    ]
    if word in ("epochs", "batch_size", "validation_split", "classes") and missing:
        if not any(d for d in statement.arguments):
            report(f"{word} needs a value", statement.kind_span, hint=f"write `{word} <{missing[0]}>`")
        return None
    if word in ("optimizer", "loss", "schedule") and "name" not in values and not statement.arguments:
        report(f"{word} needs a name", statement.kind_span, hint=setting.what)
        return None
    values["_spans"] = spans
    return values
