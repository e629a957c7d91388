"""IR stage: the layer kind `reshape` (Keras Reshape), its shape rule."""

import math
from typing import Annotated, ClassVar, Literal, Self

from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from specc.layers.base import MAX_EXTENT, CostTerms, Inference, LayerBase, Problem, Shape, format_shape

MAX_RESHAPE_RANK = 8


TargetDimension = Annotated[int, Field(ge=-1, le=MAX_EXTENT)]


class Reshape(LayerBase):
    """Keras `Reshape`, of the channels-last layout: the same elements in a new shape; no parameters.

    One dimension may be -1: it is the element count divided by the product of the others, which must
    divide it. The target's element count must equal the input's.
    """

    kind: Literal["reshape"] = "reshape"
    spellings: ClassVar = ("reshape",)
    keras_class: ClassVar = "Reshape"
    positional: ClassVar = ("target_shape",)

    target_shape: tuple[TargetDimension, ...] = Field(
        min_length=1, max_length=MAX_RESHAPE_RANK, description="the new shape: 7x7x64, or (7, 7, -1) to infer one"
    )

    @model_validator(mode="after")
    def _one_inferred_dimension(self) -> Self:
        if 0 in self.target_shape or self.target_shape.count(-1) > 1:
            raise PydanticCustomError(
                "target_shape", "target_shape takes sizes of at least 1, and at most one -1 to be inferred"
            )
        return self

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        return CostTerms(what="a view of its input")

    allocates_output: ClassVar = False

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        elements = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        written = format_shape(self.target_shape)
        if -1 in self.target_shape:
            if elements % known:
                return Problem(
                    "E204",
                    f"target_shape {written}: the input {format_shape(input_shape)} has {elements} elements, "
                    f"which {known} does not divide",
                    argument="target_shape",
                    hint=f"the other dimensions must multiply to a divisor of {elements}",
                )
            output = tuple(elements // known if d == -1 else d for d in self.target_shape)
            working = (f"-1: {elements} / {known} = {elements // known}",)
        else:
            if known != elements:
                return Problem(
                    "E204",
                    f"target_shape {written} has {known} elements, the input {format_shape(input_shape)} "
                    f"has {elements}",
                    argument="target_shape",
                    hint="the element count must stay the same; write one dimension as -1 to have it inferred",
                )
            output, working = self.target_shape, ()
        return Inference(output, 0, working=working)
