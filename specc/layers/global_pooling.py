"""IR stage: the global pooling kinds (average and max over the whole map), their shape rules."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import CostTerms, Inference, LayerBase, Problem, Shape, needs_feature_map


class _GlobalPool2D(LayerBase):
    reads_whole_map: ClassVar = True
    keepdims: bool = Field(False, description="keep height and width, as 1x1")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """FLOPs: H*W per channel (adds and the divide, or comparisons), over the whole map."""
        height, width, channels = input_shapes[0]
        return CostTerms(flops=((height, width, channels),), what="H*W per channel")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        """Output: (C,), one value per channel over the whole height and width, or (1, 1, C) with keepdims;
        no parameters."""
        (input_shape,) = input_shapes
        if problem := needs_feature_map(self, input_shape):
            return problem
        return Inference((1, 1, input_shape[2]) if self.keepdims else (input_shape[2],), 0)


class GlobalAvgPool2D(_GlobalPool2D):
    """Keras `GlobalAveragePooling2D`."""

    kind: Literal["global_avgpool2d"] = "global_avgpool2d"
    spellings: ClassVar = ("global_avgpool", "global_avgpool2d", "globalavgpool", "globalaveragepooling2d")
    keras_class: ClassVar = "GlobalAveragePooling2D"


class GlobalMaxPool2D(_GlobalPool2D):
    """Keras `GlobalMaxPooling2D`."""

    kind: Literal["global_maxpool2d"] = "global_maxpool2d"
    spellings: ClassVar = ("global_maxpool", "global_maxpool2d", "globalmaxpool", "globalmaxpooling2d")
    keras_class: ClassVar = "GlobalMaxPooling2D"
