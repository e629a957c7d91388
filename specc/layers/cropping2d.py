"""IR stage: the layer kind `crop` (Keras Cropping2D), its shape rule."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import (
    AxisWindow,
    CostTerms,
    ExplicitPadding,
    Inference,
    LayerBase,
    Problem,
    Shape,
    needs_feature_map,
)


class Cropping2D(LayerBase):
    """Keras `Cropping2D`: (H - top - bottom, W - left - right, C); no parameters. Both must stay positive."""

    kind: Literal["cropping2d"] = "cropping2d"
    spellings: ClassVar = ("crop",)
    keras_class: ClassVar = "Cropping2D"
    positional: ClassVar = ("cropping",)

    cropping: ExplicitPadding = Field(
        description="rows and columns removed: P, (PH, PW) or ((top, bottom), (left, right))"
    )

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        (top, _), (left, _) = self.cropping
        return AxisWindow(1, 1, -top), AxisWindow(1, 1, -left)

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="a slice of its input")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        (top, bottom), (left, right) = self.cropping
        height, width, channels = input_shape
        lengths = []
        for axis, size, before, after in (("height", height, top, bottom), ("width", width, left, right)):
            if size - before - after <= 0:
                return Problem(
                    "E301",
                    f"output {axis} would be {size - before - after}: input {axis} {size}, cropping {before} + {after}",
                    argument="cropping",
                    hint=f"crop fewer than {size} in all along the {axis}",
                )
            lengths.append(size - before - after)
        return Inference(
            (lengths[0], lengths[1], channels),
            0,
            working=(
                f"height: {height} - {top} - {bottom} = {lengths[0]}",
                f"width: {width} - {left} - {right} = {lengths[1]}",
            ),
        )
