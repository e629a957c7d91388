"""IR stage: the layer kind `dense` (Keras Dense), its shape rule and parameter count."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import Activation, CostTerms, Extent, Inference, LayerBase, Problem, Shape, format_shape


class Dense(LayerBase):
    """Keras `Dense` on the last axis: (..., C_in) -> (..., units).

    Parameters: C_in*units weights, plus `units` biases when use_bias. On a feature map it
    acts per position, as Keras does, which is usually a forgotten flatten: warned about.
    """

    kind: Literal["dense"] = "dense"
    spellings: ClassVar = ("dense", "fc", "linear")
    keras_class: ClassVar = "Dense"
    positional: ClassVar = ("units",)
    word_arguments: ClassVar = ("activation",)

    units: Extent = Field(description="number of outputs")
    activation: Activation = Field("linear", description="activation applied to the output")
    use_bias: bool = Field(True, description="whether a bias is added per unit")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """MACs: C_in*units for each position of the input's leading axes (one vector: C_in*units)."""
        (*leading, features) = input_shapes[0]
        return CostTerms(macs=((*leading, features, self.units),))

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        features = input_shape[-1]
        weights = features * self.units
        biases = self.units if self.use_bias else 0
        warnings = ()
        if len(input_shape) > 1:
            warnings = (
                Problem(
                    "W301",
                    f"dense on a {format_shape(input_shape)} input acts on its last axis only, "
                    f"giving {format_shape((*input_shape[:-1], self.units))}",
                    hint="add `flatten` (or a global pooling) before it if one vector per example is meant",
                ),
            )
        return Inference(
            (*input_shape[:-1], self.units),
            weights + biases,
            working=(
                f"params: {features}*{self.units}" + (f" + {self.units}" if biases else "") + f" = {weights + biases}",
            ),
            warnings=warnings,
            largest_weight=weights,
        )
