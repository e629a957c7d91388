"""IR stage: the layer kind `concat` (Keras Concatenate), its shape rule."""

from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, format_shape


class Concat(LayerBase):
    """Keras `Concatenate`: operands joined along one axis, channels by default.

    `axis` counts as Keras counts it, the batch axis being 0: -1 (or 3 for a feature map) is channels,
    1 height, 2 width. Output: the operands' common shape with the axis's extents summed; every other
    extent must be equal and every operand of the same rank (E304). No parameters.
    """

    kind: Literal["concat"] = "concat"
    spellings: ClassVar = ("concat", "concatenate")
    keras_class: ClassVar = "Concatenate"
    arity: ClassVar = None

    axis: int = Field(-1, description="axis to join on, counted as Keras does (batch is 0); -1 is channels")

    @model_validator(mode="after")
    def _not_the_batch_axis(self) -> Self:
        if self.axis == 0:
            raise PydanticCustomError("batch_axis", "axis 0 is the batch axis")
        return self

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="copies its operands")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        first = input_shapes[0]
        rank = len(first)
        # Keras's axis counts the batch: axis k of the batched tensor is axis k-1 here.
        index = self.axis if self.axis < 0 else self.axis - 1
        if not -rank <= index < rank:
            return Problem(
                "E304",
                f"concat axis {self.axis} is outside a {format_shape(first)} input, which has axes 1 to {rank} "
                "(0 is the batch)",
                argument="axis",
                hint="axis=-1 joins channels",
            )
        index %= rank
        for other in input_shapes[1:]:
            same_elsewhere = len(other) == rank and all(
                a == b for axis, (a, b) in enumerate(zip(first, other, strict=True)) if axis != index
            )
            if not same_elsewhere:
                return Problem(
                    "E304",
                    f"concat needs operands that agree on every axis but axis {self.axis}: "
                    f"{format_shape(first)} and {format_shape(other)} do not",
                    hint="concat joins along one axis (channels by default); crop, pad or resize so that "
                    "the others match",
                )
        joined = sum(shape[index] for shape in input_shapes)
        output = (*first[:index], joined, *first[index + 1 :])
        return Inference(
            output, 0, working=(f"axis {self.axis}: {' + '.join(str(s[index]) for s in input_shapes)} = {joined}",)
        )
