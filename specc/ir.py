"""IR stage: a spec as typed data, a graph per model. Layer kinds live in specc.layers; this module holds
models, their inputs and outputs, the block uses that made their layers, and files.

A model is a list of nodes in an order where each reads only nodes before it (torch.fx's Graph):
its inputs, then its layers, each naming the values it reads by the name of the input or layer that
made them. Facts derived from that (who reads a value, what reaches an output) are computed by the
checker, never stored here twice.
"""

# Annotations are objects, not strings, for pydantic to read without evaluating (see specc.layers.base).
from typing import Literal

from pydantic import BaseModel, ConfigDict

from specc.diagnostics import Span
from specc.layers import LayerBase, Shape


class ModelInput(BaseModel):
    """`input 28x28x1`, or `image = input 224x224x3`: a value the model is given. `name` is what layers
    read it by (the value's name, or `input` when it has none)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    shape: Shape
    span: Span
    # `input ?x?x3` or `input HxWx3`: for each axis, the name of an open extent (H, W, or as written), None
    # where the size is given. Empty when every size is given. The shape has 0 for an open extent until the
    # checker chooses the sizes it is evaluated at (specc.input_sizes).
    open_axes: tuple[str | None, ...] = ()

    @property
    def is_open(self) -> bool:
        return bool(self.open_axes)


class Backbone(BaseModel):
    """What a `backbone` line asks of a zoo network (keras.applications' arguments), and the freezing it declares.

    The network's layers are in the model like a block use's; this says how the Keras backend calls
    keras.applications for them and which of them train."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    network: str
    keras_application: str
    weights: Literal["imagenet"] | None = "imagenet"
    include_top: bool = True
    pooling: Literal["avg", "max"] | None = None
    classes: int = 1000
    classifier_activation: str = "softmax"
    # False freezes the whole network (feature extraction).
    trainable: bool = True
    # Fine-tuning: the layer (or block of the network) from which on, in Keras's order of the network's
    # layers, they train; `first_trainable` is that layer, resolved. The layers before it are frozen.
    trainable_from: str | None = None
    first_trainable: str | None = None
    default_size: int
    min_size: int
    argument_spans: dict[str, Span] = {}

    def span_of(self, argument: str, default: Span) -> Span:
        return self.argument_spans.get(argument, default)


class BlockUse(BaseModel):
    """One use of a block in a model: the block's name, the prefix its layers' names build on, its
    arguments as Python values, the values it reads and the one it makes. `parent` is the use it sits
    in when a block uses a block. A repeated use is one BlockUse per repetition."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    block: str
    name: str
    span: Span
    # Of a `repeat=N`, which repetition this is (1 to N; 0 when the use is not repeated), and the text its
    # number follows in its name: `conv2_block` for conv2_block2, `stage2_` for stage2_2.
    repetition: int = 0
    numbered_from: str = ""
    # The number the first repetition takes (`start=2`: conv2_block2, conv2_block3...), 1 unless given.
    start: int = 1
    arguments: dict[str, object]
    inputs: tuple[str, ...]
    output: str
    parent: int | None = None
    # What the block's own `x = input` lines call the values it reads, in order, where they name them.
    input_names: tuple[str, ...] = ()
    # The name the block's lines gave each value in this use (`y` for `conv2_block1_1_conv`), for messages.
    value_names: dict[str, str] = {}
    # Set when the use is a `backbone` line: its layers are a zoo network's.
    backbone: Backbone | None = None


BudgetMetric = Literal["params", "trainable", "macs", "flops", "memory"]


class BudgetLimit(BaseModel):
    """`macs<=600M`: a metric, the comparison and the limit, a count (params, trainable, macs, flops: MACs and
    FLOPs for one example) or bytes (memory). `text` is the quantity as written, for messages."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    metric: BudgetMetric
    operator: Literal["<=", "<"]
    limit: int
    text: str
    span: Span

    def allows(self, figure: int) -> bool:
        return figure <= self.limit if self.operator == "<=" else figure < self.limit


class Budget(BaseModel):
    """A `budget` line: limits on the model's figures. Memory is evaluated for `batch` examples in `dtype`."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    limits: tuple[BudgetLimit, ...]
    batch: int = 1
    dtype: Literal["float32", "float16", "bfloat16"] = "float32"
    span: Span


OptimizerName = Literal["adam", "adamw", "sgd", "rmsprop"]
LossName = Literal["sparse_categorical_crossentropy", "categorical_crossentropy", "binary_crossentropy", "mse"]


class OptimizerSpec(BaseModel):
    """`optimizer adam learning_rate=0.001`: the optimizer and its settings, Keras 3's defaults where not written
    (learning_rate 0.001, sgd 0.01; AdamW's weight_decay 0.004; epsilon 1e-7)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: OptimizerName
    learning_rate: float
    momentum: float = 0.0
    nesterov: bool = False
    weight_decay: float | None = None
    beta_1: float = 0.9
    beta_2: float = 0.999
    epsilon: float = 1e-7
    rho: float = 0.9
    span: Span


class ScheduleSpec(BaseModel):
    """`schedule step step_size=10 gamma=0.1` (the rate times gamma every step_size epochs) or `schedule cosine`
    (cosine decay over the epochs, down to alpha times the rate)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: Literal["step", "cosine"]
    step_size: int = 10
    gamma: float = 0.1
    alpha: float = 0.0
    span: Span


class EarlyStoppingSpec(BaseModel):
    """`early_stopping patience=3`: stop after `patience` epochs without improvement of `monitor`."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    monitor: str = "val_loss"
    patience: int = 3
    restore_best_weights: bool = True
    span: Span


class CheckpointSpec(BaseModel):
    """`checkpoint`: keep the best model by `monitor`, at `path` (default `<model>_best.*`)."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    monitor: str = "val_loss"
    path: str | None = None
    span: Span


class Training(BaseModel):
    """A model's `train { ... }` section as lowered, every setting filled (TRAINING.md's defaults where absent).

    `setting_spans` maps each setting written to its line (`optimizer`, `loss`, ...), and `learning_rate` to its
    argument when written, for diagnostics; `span` is the whole section."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    optimizer: OptimizerSpec
    schedule: ScheduleSpec | None = None
    loss: LossName
    from_logits: bool = False
    metrics: tuple[str, ...] = ("accuracy",)
    epochs: int = 10
    batch_size: int = 32
    validation_split: float = 0.0
    early_stopping: EarlyStoppingSpec | None = None
    checkpoint: CheckpointSpec | None = None
    classes: int | None = None
    span: Span
    setting_spans: dict[str, Span] = {}


class Model(BaseModel):
    """One `model NAME { ... }` block as a graph: inputs, layers in an order where each reads only what
    comes before it, and the names of the values it outputs."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    span: Span
    name_span: Span
    inputs: tuple[ModelInput, ...]
    # Each of a kind of specc.layers (their union is specc.layers.Layer); a Model is assembled from layers already
    # validated and never validated again, so naming the union here would only create every kind's class.
    layers: tuple[LayerBase, ...]
    # The values the model outputs, in order: those an `output` line names, or the last line's value.
    outputs: tuple[str, ...]
    # Where each output was named (the `output` line's words); the last layer's span when implied.
    output_spans: tuple[Span, ...] = ()
    block_uses: tuple[BlockUse, ...] = ()
    # The name the spec gave each node's value where it has one (`dl` for `dropout_1`), for messages.
    value_names: dict[str, str] = {}
    # Values whose line failed to lower or could not be parsed: what reads them is not inferred (and
    # nothing is reported twice for it).
    unknown: frozenset[str] = frozenset()
    # The `budget` lines, in order, with their limits as lowered (those that failed to lower left out).
    budgets: tuple[Budget, ...] = ()
    # The `train { ... }` section as lowered; None when the model has none (or it failed to lower).
    training: Training | None = None

    @property
    def input_shape(self) -> Shape | None:
        """The shape of the first input, for the many models that have one."""
        return self.inputs[0].shape if self.inputs else None

    @property
    def input_span(self) -> Span | None:
        return self.inputs[0].span if self.inputs else None

    def scope_chain(self, scope: int | None) -> tuple[int, ...]:
        """The block use a scope is (a layer's or a use's, by index) and the uses it sits in, innermost first."""
        chain = []
        while scope is not None:
            chain.append(scope)
            scope = self.block_uses[scope].parent
        return tuple(chain)

    def backbone_of(self, scope: int | None) -> int | None:
        """The backbone use (its index) a scope sits in, if it sits in one."""
        return next((index for index in self.scope_chain(scope) if self.block_uses[index].backbone is not None), None)

    def enclosing_uses(self, scope: int | None) -> tuple[BlockUse, ...]:
        """The block uses a scope (a layer's or a use's) sits in, innermost first: where it came from."""
        return tuple(self.block_uses[index] for index in self.scope_chain(scope))

    def layers_within(self, use: int) -> list[LayerBase]:
        """The layers a block use made, those of the uses inside it included."""
        return [layer for layer in self.layers if use in self.scope_chain(layer.scope)]


class SpecFile(BaseModel):
    """Every model a spec file declares, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    models: tuple[Model, ...]
