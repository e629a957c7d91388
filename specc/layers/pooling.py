"""IR stage: the pooling kinds over a window (max, average and min pooling), their shape rules."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import (
    AxisWindow,
    CostTerms,
    Inference,
    LayerBase,
    Pair,
    Problem,
    Shape,
    WindowPadding,
    needs_feature_map,
    per_element,
    sliding_windows,
    windowed,
)


class _Pool2D(LayerBase):
    """A pooling window; strides default to the pool size at lowering, as in Keras."""

    positional: ClassVar = ("pool_size",)
    word_arguments: ClassVar = ("padding",)
    padding_modes: ClassVar = ("valid", "same")

    pool_size: Pair = Field((2, 2), description="window height x width")
    strides: Pair = Field((2, 2), description="step of the window; defaults to pool_size")
    padding: WindowPadding = Field("valid", description="valid or same")

    @classmethod
    def fill_defaults(cls, given: dict[str, object]) -> dict[str, object]:
        """Strides default to the pool size, as in Keras."""
        if "pool_size" in given and "strides" not in given:
            return {**given, "strides": given["pool_size"]}
        return given

    def axis_windows(self, input_shape: Shape) -> tuple[AxisWindow, AxisWindow]:
        return sliding_windows(input_shape, self.pool_size, self.strides, self.padding)

    # Operations per output element for a window of this many positions (max/min: comparisons; average: adds
    # and the divide).
    @staticmethod
    def window_operations(window: int) -> int:
        raise NotImplementedError

    window_what: ClassVar[str] = ""

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """FLOPs per output element from the pool window (padding positions of 'same' counted as positions)."""
        window = self.pool_size[0] * self.pool_size[1]
        return per_element(self.window_operations(window), output_shape, self.window_what)

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """Output: (H', W', C) by `window_output_length` with the pool as window; no parameters."""
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        spatial = windowed(self, input_shape, self.pool_size, self.strides, self.padding, window_argument="pool_size")
        if isinstance(spatial, Problem):
            return spatial
        (height, width), working = spatial
        return Inference((height, width, input_shape[2]), 0, working=working)


class MaxPool2D(_Pool2D):
    """Max pooling, Keras `MaxPooling2D`."""

    kind: Literal["maxpool2d"] = "maxpool2d"
    spellings: ClassVar = ("maxpool", "maxpool2d", "max_pool", "maxpooling2d")
    keras_class: ClassVar = "MaxPooling2D"

    window_what: ClassVar = "window - 1 comparisons per output element"

    @staticmethod
    def window_operations(window: int) -> int:
        return window - 1


class AvgPool2D(_Pool2D):
    """Average pooling, Keras `AveragePooling2D`; 'same' averages only the real inputs."""

    kind: Literal["avgpool2d"] = "avgpool2d"
    spellings: ClassVar = ("avgpool", "avgpool2d", "avg_pool", "averagepooling2d")
    keras_class: ClassVar = "AveragePooling2D"

    window_what: ClassVar = "window - 1 adds and a divide per output element"

    @staticmethod
    def window_operations(window: int) -> int:
        return window


class MinPool2D(_Pool2D):
    """Min pooling, which Keras lacks: the backends emit it as -maxpool(-x), so its shape is max pooling's."""

    kind: Literal["minpool2d"] = "minpool2d"
    spellings: ClassVar = ("minpool", "minpool2d", "min_pool")
    keras_class: ClassVar = "MinPooling2D"

    window_what: ClassVar = "window - 1 comparisons per output element"

    @staticmethod
    def window_operations(window: int) -> int:
        return window - 1
