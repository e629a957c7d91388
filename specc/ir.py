"""IR stage: a spec as typed data. Layer kinds live in specc.layers; this module holds models and files."""

# Annotations are objects, not strings, for pydantic to read without evaluating (see specc.layers).
from pydantic import BaseModel, ConfigDict

from specc.diagnostics import Span
from specc.layers import Layer, Shape


class Model(BaseModel):
    """One `model NAME { ... }` block: its input and its layers in order."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    name: str
    span: Span
    name_span: Span
    # None when the block has no usable `input` line; the checker then infers nothing.
    input_shape: Shape | None
    input_span: Span | None
    layers: tuple[Layer, ...]
    # How many leading layers follow on from each other: a line that failed to lower breaks the
    # chain there, and shapes after it would be guesses. None when every line lowered.
    chain_ends_at: int | None = None


class SpecFile(BaseModel):
    """Every model a spec file declares, in order."""

    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)

    models: tuple[Model, ...]
