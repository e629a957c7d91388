"""Emit stage, framework-neutral: a model's graph as bodies of statements, the model's own and one per block use.

A body is what one function (Keras) or module (PyTorch) computes: its statements are the layers made
in its scope and the calls of the block uses nested directly in it, in the IR's order. Only what
reaches the body's results is emitted, the model's outputs or the use's output (Keras's Model would
drop the rest anyway); a use whose output is not made inside it computes nothing and is no statement.
Imports no framework.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from specc.ir import BlockUse, Model
from specc.layers import LayerBase


@dataclass(frozen=True)
class Statement:
    """One layer, or one call of a block use (`use` its index in Model.block_uses): what it reads and makes."""

    reads: tuple[str, ...]
    value: str
    layer: LayerBase | None = None
    use: int | None = None


@dataclass
class Body:
    """The statements of one scope (None: the model's), those reaching its results in `emitted`."""

    scope: int | None
    inputs: tuple[str, ...]
    results: tuple[str, ...]
    statements: list[Statement] = field(default_factory=list)
    emitted: list[Statement] = field(default_factory=list)

    def skipped_lines(self) -> list[int]:
        """The lines of the layers made directly in this body that reach no result, so are not emitted."""
        kept = {id(s) for s in self.emitted}
        return sorted({s.layer.span.line for s in self.statements if s.layer is not None and id(s) not in kept})


@dataclass
class ModelBodies:
    """Every body of one model: `bodies[None]` is the model's own, `bodies[i]` that of block use i."""

    model: Model
    bodies: dict[int | None, Body]

    def emitted_uses(self) -> Iterator[int]:
        """The block uses that are called, outermost first (a parent before the uses inside it)."""
        pending = [None]
        while pending:
            scope = pending.pop(0)
            for statement in self.bodies[scope].emitted:
                if statement.use is not None:
                    yield statement.use
                    pending.append(statement.use)


def _scope_chain(model: Model, scope: int | None) -> list[int | None]:
    """`scope`, its parent use, ..., None (the model)."""
    chain: list[int | None] = [scope]
    while scope is not None:
        scope = model.block_uses[scope].parent
        chain.append(scope)
    return chain


def model_bodies(model: Model) -> ModelBodies:
    """The model's body and each block use's, with what each emits."""
    bodies: dict[int | None, Body] = {
        None: Body(
            None, tuple(i.name for i in model.inputs), tuple(model.outputs) or tuple(i.name for i in model.inputs)
        )
    }
    for index, use in enumerate(model.block_uses):
        bodies[index] = Body(index, use.inputs, (use.output,))
    made_in: dict[int, set[str]] = {index: set() for index in range(len(model.block_uses))}
    added: set[int] = set()
    for layer in model.layers:
        chain = _scope_chain(model, layer.scope)
        bodies[layer.scope].statements.append(Statement(layer.inputs, layer.name, layer=layer))
        for inner in chain[:-1]:
            made_in[inner].add(layer.name)
        for inner, outer in zip(chain[:-1], chain[1:], strict=True):
            if inner not in added:
                added.add(inner)
                use: BlockUse = model.block_uses[inner]
                bodies[outer].statements.append(Statement(use.inputs, use.output, use=inner))
    for body in bodies.values():
        # A use whose output it does not make (it hands on one of its inputs) computes nothing.
        body.statements = [s for s in body.statements if s.use is None or s.value in made_in[s.use]]
        body.emitted = _reaching(body)
    return ModelBodies(model, bodies)


def _reaching(body: Body) -> list[Statement]:
    """The statements whose value the body's results use, walking back from the results."""
    maker = {statement.value: statement for statement in body.statements}
    needed: set[int] = set()
    pending = list(body.results)
    seen: set[str] = set()
    while pending:
        value = pending.pop()
        if value in seen or value not in maker:
            continue
        seen.add(value)
        needed.add(id(maker[value]))
        pending.extend(maker[value].reads)
    return [s for s in body.statements if id(s) in needed]
