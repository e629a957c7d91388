"""The optimizer settings of the two backends agree: the Keras and the PyTorch modules emitted from one spec,
given the same weights and one training step on the same batch with the same loss, end with the same weights
(within 1e-5), for each optimizer a training section can name. What differs between the frameworks' defaults
(Adam's epsilon, AdamW's weight decay, RMSprop's rho and epsilon, where epsilon goes) shows up here.

Each module is used through what it emits for its model: Keras's `compile_<model>(model)`, the PyTorch
module's `optimizer(parameters)` and `loss_function()`; the step itself is written here, as `fit` and a
training loop take it.
"""

from __future__ import annotations

import numpy as np
import pytest

from specc.pipeline import check_text

pytestmark = [pytest.mark.keras, pytest.mark.torch]

TOLERANCE = 1e-5

SPEC = """
model step {{
  input 8x8x3
  conv 4 3x3 relu
  maxpool 2x2
  flatten
  dense 3 softmax

  train {{
    optimizer {optimizer}
    loss sparse_categorical_crossentropy
  }}
}}
"""

# Settings away from every default, so that a default one backend left out shows.
OPTIMIZERS = {
    "adam": "adam learning_rate=0.01",
    "adamw": "adamw learning_rate=0.01 weight_decay=0.05",
    "sgd": "sgd learning_rate=0.1",
    "sgd momentum nesterov": "sgd learning_rate=0.1 momentum=0.9 nesterov=true",
    "rmsprop": "rmsprop learning_rate=0.01 rho=0.8",
    "rmsprop momentum": "rmsprop learning_rate=0.01 rho=0.8 momentum=0.5",
}


def modules(optimizer: str):
    """The checked report and the Keras and PyTorch modules emitted for the spec with this optimizer line."""
    from specc.backends.keras import emit_keras
    from specc.backends.torch import emit_torch
    from specc.backends.verify import run_module

    checked = check_text(SPEC.format(optimizer=optimizer))
    assert checked.ok, [d.message for d in checked.diagnostics]
    (report,) = checked.reports
    keras_module = run_module(emit_keras(checked.reports, "step.cnn"), "step_keras.py")
    torch_module = run_module(emit_torch(checked.reports, "step.cnn"), "step_torch.py")
    return report, keras_module, torch_module


def batch() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 8, 8, 3)).astype("float32"), rng.integers(0, 3, size=16)


def keras_step(keras_module, keras_model, x, y) -> float:
    """One step as fit takes it: the model compiled by the module (its optimizer and loss), on one batch."""
    keras_module.compile_step(keras_model)
    return float(keras_model.train_on_batch(x, y, return_dict=True)["loss"])


def torch_step(torch_model, x, y) -> float:
    """One step as a training loop takes it: zero the gradients, the loss of the batch, backward, step."""
    import torch

    from specc.backends.transfer import keras_input_to_torch

    optimizer = torch_model.optimizer(torch_model.parameters())
    loss_function = torch_model.loss_function()
    torch_model.train()
    optimizer.zero_grad()
    inputs = torch.from_numpy(np.ascontiguousarray(keras_input_to_torch(x)))
    loss = loss_function(torch_model(inputs), torch.from_numpy(y))
    loss.backward()
    optimizer.step()
    return float(loss.detach())


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS.values()), ids=list(OPTIMIZERS))
def test_one_step_from_the_same_weights_gives_the_same_weights_in_both_backends(optimizer):
    from specc.backends.transfer import keras_to_torch, torch_to_keras

    report, keras_module, torch_module = modules(optimizer)
    keras_model, torch_model = keras_module.build_step(), torch_module.Step()
    keras_to_torch(keras_model, torch_model, report)
    x, y = batch()
    initial = keras_model.get_weights()

    keras_loss = keras_step(keras_module, keras_model, x, y)
    torch_loss = torch_step(torch_model, x, y)
    assert abs(keras_loss - torch_loss) < TOLERANCE, (keras_loss, torch_loss)

    # PyTorch's weights after its step, in Keras's layout, beside Keras's after its own.
    stepped = keras_module.build_step()
    torch_to_keras(torch_model, stepped, report)
    for keras_weight, torch_weight in zip(keras_model.weights, stepped.weights, strict=True):
        difference = np.max(np.abs(np.asarray(keras_weight) - np.asarray(torch_weight)))
        assert difference < TOLERANCE, f"{keras_weight.path}: {difference:.3g} apart after one step"
    # The step moved the weights by far more than the tolerance, so agreeing within it says something.
    moved = max(
        np.max(np.abs(after - before)) for after, before in zip(keras_model.get_weights(), initial, strict=True)
    )
    assert moved > 100 * TOLERANCE
