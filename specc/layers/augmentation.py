"""IR stage: the augmentation kinds, Keras's random image preprocessing layers (random_flip...)."""

# Each is active in training only and the identity at inference (Keras returns its input unchanged when training
# is off), so each keeps the shape, has no weights and costs nothing in the figures, which are for inference.
# Their ranges are checked as Keras 3 checks them when the layer is constructed
# (keras/src/layers/preprocessing/image_preprocessing), so that what Keras refuses is E204 at the argument and
# what it accepts is accepted.

from typing import ClassVar, Literal

from pydantic import Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from specc.layers.base import (
    FLIP_MODES,
    CostTerms,
    Factor,
    FillMode,
    Inference,
    LayerBase,
    Problem,
    Shape,
    needs_feature_map,
)


def _out_of_keras_range(message: str) -> PydanticCustomError:
    return PydanticCustomError("keras_range", message)


def _bounded_factor(argument: str, factor: Factor, low: float, high: float) -> Factor:
    """BaseImagePreprocessingLayer._set_factor: a number in [low, high]; a pair (a, b) with a <= high and
    b >= low (Keras sorts it and checks nothing more)."""
    if isinstance(factor, tuple):
        if len(factor) != 2:
            raise _out_of_keras_range(f"{argument} is a number or a pair (low, high)")
        if factor[0] > high or factor[1] < low:
            raise _out_of_keras_range(
                f"{argument} (a, b) needs a <= {high:g} and b >= {low:g} (Keras refuses other pairs)"
            )
    elif not low <= factor <= high:
        raise _out_of_keras_range(f"{argument} must be in [{low:g}, {high:g}] (Keras refuses other values)")
    return factor


def _each_in(argument: str, factor: Factor, low: float, high: float, low_included: bool) -> Factor:
    """RandomZoom's and RandomTranslation's _set_factor: a number, or a pair, each number in the range."""
    if isinstance(factor, tuple) and len(factor) != 2:
        raise _out_of_keras_range(f"{argument} is a number or a pair (low, high)")
    for number in factor if isinstance(factor, tuple) else (factor,):
        if number > high or number < low or (number == low and not low_included):
            raise _out_of_keras_range(
                f"{argument} must be in {'[' if low_included else '('}{low:g}, {high:g}], each number of a pair too "
                "(Keras refuses other values)"
            )
    return factor


class _Augmentation(LayerBase):
    """A random preprocessing layer: the identity at inference, active in training only."""

    augmentation: ClassVar = True
    allocates_output: ClassVar = False

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """0: the identity at inference (the figures are for inference)."""
        return CostTerms(what="the identity at inference, active in training only")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        return Inference(input_shape, 0)


class RandomFlip(_Augmentation):
    """Keras `RandomFlip`: flips each image left-right (horizontal), top-bottom (vertical) or either, at random.
    Keras does not check `mode` (another word silently flips nothing); specc does."""

    kind: Literal["random_flip"] = "random_flip"
    spellings: ClassVar = ("random_flip",)
    keras_class: ClassVar = "RandomFlip"
    positional: ClassVar = ("mode",)
    word_arguments: ClassVar = ("mode",)

    mode: Literal[FLIP_MODES] = Field(  # type: ignore[valid-type]
        "horizontal_and_vertical", description="horizontal, vertical or horizontal_and_vertical"
    )

    @classmethod
    def bare_word_role(cls, word: str) -> str | None:
        """`random_flip horizontal`: the mode is a bare word (any word: a wrong one is told the modes)."""
        return "mode"


class _Geometric(_Augmentation):
    """What rotation, zoom and translation share: how points from outside the image are filled."""

    fill_mode: FillMode = Field("reflect", description="reflect, wrap, constant or nearest")
    interpolation: Literal["nearest", "bilinear"] = Field("bilinear", description="nearest or bilinear")
    fill_value: float = Field(0.0, description="the value outside the image when fill_mode=constant")


class RandomRotation(_Geometric):
    """Keras `RandomRotation`: rotates by a random fraction of a full turn in [-factor, factor] (or (lo, hi))."""

    kind: Literal["random_rotation"] = "random_rotation"
    spellings: ClassVar = ("random_rotation",)
    keras_class: ClassVar = "RandomRotation"
    positional: ClassVar = ("factor",)

    factor: Factor = Field(description="fraction of a full turn: f for [-f, f], or (lo, hi); within [-1, 1]")

    @field_validator("factor")
    @classmethod
    def _keras_range(cls, factor: Factor) -> Factor:
        return _bounded_factor("factor", factor, -1.0, 1.0)


class RandomZoom(_Geometric):
    """Keras `RandomZoom`: zooms by a random fraction (negative zooms in, positive out) of the height, and of the
    width (the same as the height, keeping the aspect, when width_factor is not given)."""

    kind: Literal["random_zoom"] = "random_zoom"
    spellings: ClassVar = ("random_zoom",)
    keras_class: ClassVar = "RandomZoom"
    positional: ClassVar = ("height_factor", "width_factor")

    height_factor: Factor = Field(description="f for [-f, f], or (lo, hi); each in (-1, 1]")
    width_factor: Factor | None = Field(None, description="as height_factor; none keeps the aspect")

    @field_validator("height_factor", "width_factor")
    @classmethod
    def _keras_range(cls, factor: Factor | None, info: ValidationInfo) -> Factor | None:
        return None if factor is None else _each_in(str(info.field_name), factor, -1.0, 1.0, low_included=False)


class RandomTranslation(_Geometric):
    """Keras `RandomTranslation`: shifts by a random fraction of the height and of the width."""

    kind: Literal["random_translation"] = "random_translation"
    spellings: ClassVar = ("random_translation",)
    keras_class: ClassVar = "RandomTranslation"
    positional: ClassVar = ("height_factor", "width_factor")

    height_factor: Factor = Field(description="fraction of the height: f for [-f, f], or (lo, hi); each in [-1, 1]")
    width_factor: Factor = Field(description="fraction of the width: f for [-f, f], or (lo, hi); each in [-1, 1]")

    @field_validator("height_factor", "width_factor")
    @classmethod
    def _keras_range(cls, factor: Factor, info: ValidationInfo) -> Factor:
        return _each_in(str(info.field_name), factor, -1.0, 1.0, low_included=True)


class _Photometric(_Augmentation):
    """Contrast and brightness: the range the image's values lie in."""

    value_range: tuple[float, float] = Field((0.0, 255.0), description="the range of the image's values, (low, high)")


class RandomContrast(_Photometric):
    """Keras `RandomContrast`: (x - mean) * c + mean per image and channel, c drawn from [1 - lo, 1 + hi]."""

    kind: Literal["random_contrast"] = "random_contrast"
    spellings: ClassVar = ("random_contrast",)
    keras_class: ClassVar = "RandomContrast"
    positional: ClassVar = ("factor",)

    factor: Factor = Field(description="f for [1 - f, 1 + f], or (lo, hi); within [0, 1]")

    @field_validator("factor")
    @classmethod
    def _keras_range(cls, factor: Factor) -> Factor:
        return _bounded_factor("factor", factor, 0.0, 1.0)


class RandomBrightness(_Photometric):
    """Keras `RandomBrightness`: adds a random fraction of value_range's width to each image."""

    kind: Literal["random_brightness"] = "random_brightness"
    spellings: ClassVar = ("random_brightness",)
    keras_class: ClassVar = "RandomBrightness"
    positional: ClassVar = ("factor",)

    factor: Factor = Field(description="fraction of the value range: f for [-f, f], or (lo, hi); within [-1, 1]")

    @field_validator("factor")
    @classmethod
    def _keras_range(cls, factor: Factor) -> Factor:
        return _bounded_factor("factor", factor, -1.0, 1.0)
