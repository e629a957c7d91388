"""IR stage: the layer kind `activation` (Keras Activation), its shape rule."""

from typing import ClassVar, Literal

from pydantic import Field

from specc.layers.base import Activation, CostTerms, Inference, LayerBase, Problem, Shape, per_element


class ActivationLayer(LayerBase):
    """Keras `Activation`: a standalone activation; same shape, no parameters."""

    kind: Literal["activation"] = "activation"
    spellings: ClassVar = ("activation",)
    keras_class: ClassVar = "Activation"
    positional: ClassVar = ("activation",)
    word_arguments: ClassVar = ("activation",)

    activation: Activation = Field(description="the activation function")

    def cost_terms(self, input_shapes: tuple[Shape, ...], output_shape: Shape) -> CostTerms:
        """1 per element, whatever the function (linear: 0)."""
        if self.activation == "linear":
            return CostTerms(what="linear is the identity")
        return per_element(1, output_shape, f"{self.activation} per element")

    def infer(self, input_shapes: tuple[Shape, ...]) -> Inference | Problem:
        (input_shape,) = input_shapes
        return Inference(input_shape, 0)
