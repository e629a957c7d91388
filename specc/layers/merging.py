"""IR stage: the element-wise merge kinds (add, subtract, multiply, average, maximum, minimum, scaled_add)."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, format_shape, per_element


def broadcast_shapes(first: Shape, second: Shape) -> Shape | None:
    """The shape of an element-wise operation on two shapes, as Keras's merge layers compute it; None when
    they do not fit. Shapes line up from the last axis; where one has 1 the other's extent is taken, and a
    shorter shape is read with 1s in front (Keras expands it after the batch axis)."""
    if len(first) < len(second):
        first, second = second, first
    if not second:
        return first
    lead = first[: len(first) - len(second)]
    tail = []
    for a, b in zip(first[len(first) - len(second) :], second, strict=True):
        if a != b and 1 not in (a, b):
            return None
        tail.append(b if a == 1 else a)
    return (*lead, *tail)


class _ElementwiseMerge(LayerBase):
    """A merge of two or more values element by element, Keras's `Add`, `Multiply`...: no parameters.

    Output: the operands' shapes broadcast (`broadcast_shapes`), in order; operands that do not fit are E304.
    """

    arity: ClassVar = None
    # Keras's Subtract takes exactly two operands; the others two or more.
    exact_operands: ClassVar[int | None] = None

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """k - 1 operations per output element for k operands (Average: k, the divide included)."""
        operations = len(input_shapes) - 1
        return per_element(operations, output_shape, f"{operations} per element for {len(input_shapes)} operands")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        shape: Shape | None = input_shapes[0]
        for other in input_shapes[1:]:
            merged = broadcast_shapes(shape, other)
            if merged is None:
                return Problem(
                    "E304",
                    f"{self.spellings[0]} needs operands of one shape, or shapes that broadcast "
                    f"(an extent of 1 stretches): {format_shape(shape)} and {format_shape(other)} do not",
                    hint="make the shapes agree, e.g. a 1x1 conv with strides on the shortcut "
                    "(a projection) to match channels and size",
                )
            shape = merged
        return Inference(shape, 0)


class Add(_ElementwiseMerge):
    """Keras `Add`: the sum of its operands."""

    kind: Literal["add"] = "add"
    spellings: ClassVar = ("add",)
    keras_class: ClassVar = "Add"


class Subtract(_ElementwiseMerge):
    """Keras `Subtract`: the first operand minus the second (exactly two)."""

    kind: Literal["subtract"] = "subtract"
    spellings: ClassVar = ("subtract",)
    keras_class: ClassVar = "Subtract"
    exact_operands: ClassVar = 2


class Multiply(_ElementwiseMerge):
    """Keras `Multiply`: the element-wise product, as in squeeze-and-excitation's scaling."""

    kind: Literal["multiply"] = "multiply"
    spellings: ClassVar = ("multiply",)
    keras_class: ClassVar = "Multiply"


class Average(_ElementwiseMerge):
    """Keras `Average`: the element-wise mean."""

    kind: Literal["average"] = "average"
    spellings: ClassVar = ("average",)
    keras_class: ClassVar = "Average"

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """k per output element for k operands: k - 1 adds and the divide."""
        operations = len(input_shapes)
        return per_element(operations, output_shape, f"{operations - 1} adds and a divide per element")


class Maximum(_ElementwiseMerge):
    """Keras `Maximum`: the element-wise maximum."""

    kind: Literal["maximum"] = "maximum"
    spellings: ClassVar = ("maximum",)
    keras_class: ClassVar = "Maximum"


class Minimum(_ElementwiseMerge):
    """Keras `Minimum`: the element-wise minimum."""

    kind: Literal["minimum"] = "minimum"
    spellings: ClassVar = ("minimum",)
    keras_class: ClassVar = "Minimum"


class ScaledAdd(_ElementwiseMerge):
    """keras.applications' `CustomScaleLayer`, Inception-ResNet's scaled residual: the first operand plus the
    second times `scale` (`scaled_add x branch scale=0.17`). Exactly two operands; no parameters."""

    kind: Literal["scaled_add"] = "scaled_add"
    spellings: ClassVar = ("scaled_add",)
    keras_class: ClassVar = "CustomScaleLayer"
    exact_operands: ClassVar = 2

    scale: float = Field(description="the factor the second operand is multiplied by")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """2 per element: a multiply by scale and an add."""
        return per_element(2, output_shape, "a multiply and an add per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """As the other merges, but of one rank: its call adds the tensors as they come, batch axis included,
        so a shorter operand would line its batch up with another axis (Keras's Add layer expands it first)."""
        first, second = input_shapes
        if len(first) != len(second):
            return Problem(
                "E304",
                f"scaled_add needs operands of one rank: {format_shape(first)} and {format_shape(second)} are not",
                hint="reshape the smaller one first, e.g. `reshape (1, 1, C)`",
            )
        return super().infer(input_shapes)
