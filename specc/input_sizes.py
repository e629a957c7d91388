"""Check stage: the input sizes a network accepts when its input's height and width are left open (`input ?x?x3`).

No shape rule is written twice for this: every size is tried with the layers' own `infer`, through
check_model. What keeps the tries few is how those rules grow. Every spatial rule is a floor or
ceiling of an affine function of its input's extent (a window, 'same' padding, padding, cropping), or
a multiple of it (upsampling, a transposed convolution). So once P is a multiple of every layer's
effective stride (the product of the strides before it, less what upsampling undoes), adding P to
the input adds P/stride to every extent: whether the merges line up repeats with period P, and
within one residue class modulo P every extent is an affine function of the size. One try per
residue class at a large size finds the classes whose merges line up; one more try finds each
extent's slope; the smallest size of a class is then where its first extent would reach zero, and
one try there confirms it (rules that are not affine, such as keras.applications' minimum sizes,
are caught by that try).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import NamedTuple

from specc.ir import Model
from specc.layers import Shape

# The sizes tried first: large enough that every extent is positive in any network specc's limits allow to
# be checked quickly, a multiple of P is added to it.
_LARGE = 1024
# Beyond this period, one try per residue class would take too long; such a network is evaluated at one size.
MAX_PERIOD = 256
# The size an open input is evaluated at when none is asked for: keras.applications' default, or the first
# accepted size above it.
PREFERRED_SIZE = 224


@dataclass(frozen=True)
class SizeRule:
    """The sizes one open extent (by its name, H or W or as written) accepts: every n >= minimum with
    n % modulus in residues, except that below every_from some of those fail too (their class starts later)."""

    name: str
    minimum: int
    modulus: int
    residues: tuple[int, ...]
    every_from: int

    # The smallest accepted size of each accepted residue class modulo `period`.
    class_minimums: dict[int, int] = field(default_factory=dict)
    period: int = 1
    # For a network that takes a few sizes only (a backbone with its ImageNet top), those sizes.
    only: tuple[int, ...] = ()

    def accepts(self, size: int) -> bool:
        if self.only:
            return size in self.only
        start = self.class_minimums.get(size % self.period)
        return start is not None and size >= start

    def describe(self) -> str:
        """`H >= 32, divisible by 16`, `H >= 75`, `H >= 3, odd`, `H = 224 only`."""
        if self.only:
            return f"{self.name} = {' or '.join(map(str, self.only))} only"
        text = f"{self.name} >= {self.minimum}"
        if self.modulus > 1:
            if self.residues == (0,):
                text += f", divisible by {self.modulus}"
            elif self.modulus == 2 and self.residues == (1,):
                text += ", odd"
            else:
                shown = " or ".join(str(r) for r in self.residues)
                text += f", {shown} modulo {self.modulus}"
        if self.every_from > self.minimum:
            text += f" (some sizes below {self.every_from} fail)"
        return text


@dataclass(frozen=True)
class InputSizes:
    """What an open input accepts, and the sizes the model's report was evaluated at."""

    rules: tuple[SizeRule, ...]
    # The extents the report's shapes were computed for, by name; None when no size fits.
    evaluated_at: dict[str, int] | None
    # Each output's shape as formulas of the open extents, e.g. ("H/32", "W/32", "2048").
    output_formulas: tuple[tuple[str, ...], ...] = ()
    # Why no size fits or why the analysis was not done, for people.
    reason: str | None = None
    # True when the sizes were not worked out (too many to try): the model is then evaluated at one size only.
    unanalysed: bool = False

    def describe(self) -> str:
        """`H, W >= 32, divisible by 16` (extents that accept alike share one clause)."""
        if not self.rules:
            return self.reason or "no input size fits"
        clauses: dict[str, list[str]] = {}
        for rule in self.rules:
            clauses.setdefault(rule.describe().removeprefix(f"{rule.name} "), []).append(rule.name)
        return "; ".join(f"{', '.join(names)} {clause}" for clause, names in clauses.items())

    def built_for(self) -> tuple[str, ...]:
        """For generated code, lines saying what the spec leaves open and the size the code is built for; none
        when the sizes were not worked out or none fits. Made of the extents' names (validated capitals) and
        numbers only."""
        if not self.rules or self.evaluated_at is None:
            return ()
        shown = ", ".join(f"{name}={size}" for name, size in self.evaluated_at.items())
        return (
            f"The spec leaves the input's height and width open: it accepts {self.describe()},",
            f"giving {self.describe_outputs()}. This code is built for {shown}.",
        )

    def describe_outputs(self) -> str:
        return ", ".join(written_shape(formula) for formula in self.output_formulas)


def written_shape(extents: tuple[str, ...]) -> str:
    """`HxWx3`, or with spaces where an extent is a formula: `ceil(H/32) x ceil(W/32) x 2048`."""
    simple = all(extent.isalnum() or extent.replace("_", "").isalnum() for extent in extents)
    return "x".join(extents) if simple else " x ".join(extents)


def open_extents(model: Model) -> tuple[str, ...]:
    """The names of the model's open extents, in the order the inputs give them."""
    names: list[str] = []
    for model_input in model.inputs:
        names.extend(name for name in model_input.open_axes if name is not None and name not in names)
    return tuple(names)


def with_sizes(model: Model, sizes: dict[str, int]) -> Model:
    """The model with each open extent of its inputs set to the given size."""
    inputs = tuple(
        i.model_copy(
            update={
                "shape": tuple(
                    sizes[name] if name is not None else extent
                    for extent, name in zip(i.shape, i.open_axes, strict=True)
                )
            }
        )
        if i.open_axes
        else i
        for i in model.inputs
    )
    return model.model_copy(update={"inputs": inputs})


def period(model: Model) -> int:
    """The least common multiple of every layer's effective stride on each axis (as reduced fractions, their
    numerators): adding it to the input adds a whole number to every extent that can still take strides."""
    probe: Shape = (_LARGE, _LARGE, 1)
    jumps: dict[str, tuple[Fraction, Fraction]] = {i.name: (Fraction(1), Fraction(1)) for i in model.inputs}
    found = 1
    for layer in model.layers:
        sources = [jumps[name] for name in layer.inputs if name in jumps]
        if not sources:
            continue
        jump = (max(s[0] for s in sources), max(s[1] for s in sources))
        if layer.reads_whole_map:
            continue  # nothing after it depends on positions
        windows = layer.axis_windows(probe)
        if windows is not None:
            jump = tuple(j * w.stride / w.upsample for j, w in zip(jump, windows, strict=True))  # type: ignore[assignment]
        jumps[layer.name] = jump
        for axis_jump in jump:
            found = math.lcm(found, axis_jump.numerator)
    return found


Evaluate = Callable[[Model], tuple[object, list]]


def _extents(report) -> dict[str, tuple[int, ...]]:
    """Every value's height and width (of the values that have them), by name."""
    return {name: shape[:2] for name, shape in report.value_shapes.items() if len(shape) == 3}


def _passes(outcome) -> bool:
    report, diagnostics = outcome
    return report.complete and not any(d.severity.value == "error" for d in diagnostics)


class _Scan(NamedTuple):
    """What the tries of one open extent found: every value's shape at `large + residue` for each residue
    that fits, each spatial extent's growth per `step` pixels, and (for a width mirroring a height) the axis
    of the height's scan to read it on."""

    shapes: dict[int, dict[str, Shape]]
    slopes: dict[str, tuple[int, ...]]
    large: int
    step: int
    read_axis: int | None = None


def analyse(model: Model, evaluate: Evaluate) -> InputSizes:
    """The sizes the model's open extents accept, found with `evaluate` (check_model), and the sizes to
    evaluate it at: the first accepted size from PREFERRED_SIZE on."""
    names = open_extents(model)
    step = period(model)
    if step > MAX_PERIOD:
        return InputSizes(
            (),
            None,
            reason=f"its strides repeat only every {step} pixels, too many sizes to try (at most {MAX_PERIOD})",
            unanalysed=True,
        )
    large = _LARGE + (-_LARGE) % step
    # A base where every extent fits, found by moving all of them together.
    base = None
    for residue in range(step):
        if _passes(evaluate(with_sizes(model, dict.fromkeys(names, large + residue)))):
            base = large + residue
            break
    if base is None:
        # A network may take one size only: a backbone with its ImageNet top takes its default size.
        exact = [n for n in _usual_sizes(model) if _passes(evaluate(with_sizes(model, dict.fromkeys(names, n))))]
        if exact:
            rules = tuple(SizeRule(name, exact[0], 1, (0,), exact[0], only=tuple(exact)) for name in names)
            at = dict.fromkeys(names, exact[0])
            shapes = evaluate(with_sizes(model, at))[0].value_shapes
            formulas = tuple(tuple(str(extent) for extent in shapes.get(output, ())) for output in model.outputs)
            return InputSizes(rules, at, formulas)
        # Floors can make branches agree at a few small sizes by coincidence; a network is not meant for them.
        few = [n for n in range(1, 2 * step + 1) if _passes(evaluate(with_sizes(model, dict.fromkeys(names, n))))]
        shown = ", ".join(f"{n}x{n}" for n in few[:4])
        return InputSizes(
            (),
            None,
            reason="no input height and width make every layer fit"
            if not few
            else f"no input size above {few[-1]}x{few[-1]} fits: its merged branches line up only at {shown}, "
            "by coincidence of rounding",
        )
    rules = []
    scans: dict[str, _Scan] = {}
    mirrored = _mirrored(model)
    for name in names:
        if name in mirrored and mirrored[name] in scans:
            # A network that treats height and width alike accepts for W what it accepts for H.
            rule = next(r for r in rules if r.name == mirrored[name])
            rules.append(replace(rule, name=name))
            # The width follows W as the height follows H: the height's scan, read on the height's axis.
            scans[name] = scans[mirrored[name]]._replace(read_axis=0)
            continue
        others = dict.fromkeys(names, base)
        passing: dict[int, dict[str, Shape]] = {}
        for residue in range(step):
            size = large + residue
            outcome = evaluate(with_sizes(model, {**others, name: size}))
            if _passes(outcome):
                passing[residue] = outcome[0].value_shapes
        first = min(passing)
        further = evaluate(with_sizes(model, {**others, name: large + first + step}))
        slopes = {
            value: tuple(b - a for a, b in zip(passing[first][value][:2], extents, strict=True))
            for value, extents in _extents(further[0]).items()
            if value in passing[first]
        }
        minimums = {}
        for residue, shapes in passing.items():
            size = large + residue
            steps_down = (size - 1) // step
            for value, slope in slopes.items():
                for extent, rate in zip(shapes.get(value, ())[:2], slope, strict=False):
                    if rate > 0:
                        steps_down = min(steps_down, (extent - 1) // rate)
            candidate = size - steps_down * step
            # Confirm with the layers' own rules; a rule that is not affine (a minimum size) moves it up.
            while candidate < size and not _passes(evaluate(with_sizes(model, {**others, name: candidate}))):
                candidate += step
            minimums[residue] = candidate
        modulus, residues = _lattice(tuple(sorted(passing)), step)
        # `large` is a multiple of the period, so a residue is also the class of the sizes it stands for.
        lowest = min(minimums.values())
        gaps = [size for size in range(lowest, max(minimums.values())) if size % modulus in residues]
        failing = [size for size in gaps if size < minimums.get(size % step, size + 1)]
        every_from = failing[-1] + modulus if failing else lowest
        rules.append(SizeRule(name, lowest, modulus, residues, every_from, minimums, step))
        scans[name] = _Scan(passing, slopes, large, step)
    evaluated_at = {rule.name: _preferred_size(rule) for rule in rules}
    # Each extent was searched with the others held at one size; unequal sizes must fit too, or the extents are
    # tied to each other (a merge of `HxW` with `WxH`), which this search does not describe.
    apart = {rule.name: evaluated_at[rule.name] + index * rule.period for index, rule in enumerate(rules)}
    if len(rules) > 1 and not _passes(evaluate(with_sizes(model, apart))):
        return InputSizes(
            (), None, reason="its open extents are tied to each other (a merge joins one with another)", unanalysed=True
        )
    return InputSizes(tuple(rules), evaluated_at, _output_formulas(model, scans))


def _usual_sizes(model: Model) -> list[int]:
    """Sizes worth trying when no large size fits: PREFERRED_SIZE and the default size of each backbone."""
    found = {PREFERRED_SIZE}
    found.update(use.backbone.default_size for use in model.block_uses if use.backbone is not None)
    return sorted(found)


def _mirrored(model: Model) -> dict[str, str]:
    """For a network whose every layer treats height and width alike, each input's open width named after
    the open height it mirrors ({'W': 'H'}); empty otherwise."""
    probe: Shape = (_LARGE, _LARGE, 1)
    for layer in model.layers:
        windows = layer.axis_windows(probe)
        if windows is not None and windows[0] != windows[1]:
            return {}
    pairs = {(i.open_axes[0], i.open_axes[1]) for i in model.inputs if i.open_axes}
    if len(pairs) != 1:
        return {}
    ((height, width),) = pairs
    if height is None or width is None or height == width:
        return {}
    return {width: height}


def _preferred_size(rule: SizeRule) -> int:
    """PREFERRED_SIZE or the first accepted size after it; the minimum where that is larger."""
    if rule.minimum >= PREFERRED_SIZE:
        return rule.minimum
    return next(size for size in range(PREFERRED_SIZE, PREFERRED_SIZE + rule.period) if rule.accepts(size))


def _lattice(residues: tuple[int, ...], step: int) -> tuple[int, tuple[int, ...]]:
    """The smallest modulus (a divisor of the period) whose classes make up exactly these residues."""
    chosen = set(residues)
    for modulus in sorted(d for d in range(1, step + 1) if step % d == 0):
        kept = {r % modulus for r in chosen}
        if {r for r in range(step) if r % modulus in kept} == chosen:
            return modulus, tuple(sorted(kept))
    return step, tuple(sorted(chosen))


def _output_formulas(model: Model, scans: dict[str, _Scan]) -> tuple[tuple[str, ...], ...]:
    """Each output's shape with its height and width written as formulas of the open extents (axis i of the
    output following the first open input's axis i), its other extents as numbers."""
    axis_names: list[str | None] = [None, None]
    for model_input in model.inputs:
        for axis, name in enumerate(model_input.open_axes[:2]):
            if name is not None and axis_names[axis] is None:
                axis_names[axis] = name
    formulas = []
    for output in model.outputs:
        reference = None
        shown = []
        for name in axis_names:
            if name in scans:
                reference = reference or next(iter(scans[name].shapes.values())).get(output)
        if reference is None:
            formulas.append(("?",))
            continue
        for axis, extent in enumerate(reference):
            name = axis_names[axis] if axis < 2 and len(reference) == 3 else None
            if name is None or name not in scans:
                shown.append(str(extent))
                continue
            scan = scans[name]
            read_axis = axis if scan.read_axis is None else scan.read_axis
            samples = [
                (scan.large + r, shapes[output][read_axis]) for r, shapes in scan.shapes.items() if output in shapes
            ]
            rate = scan.slopes.get(output)
            formula = _formula(name, samples, Fraction(rate[read_axis], scan.step)) if rate is not None else str(extent)
            shown.append(f"({formula})" if _is_sum(formula) else formula)
        formulas.append(tuple(shown))
    return tuple(formulas)


def _is_sum(formula: str) -> bool:
    """Whether a formula is a sum at its top level (`H - 2`), which a shape writes in parentheses."""
    depth = 0
    for character in formula:
        depth += {"(": 1, ")": -1}.get(character, 0)
        if character == " " and depth == 0:
            return True
    return False


def _formula(name: str, samples: list[tuple[int, int]], rate: Fraction) -> str:
    """An extent that grows by `rate` per pixel of `name`, as a formula that gives every sample."""
    if rate == 0:
        return str(samples[0][1])
    offsets = {extent - rate * size for size, extent in samples}
    if len(offsets) == 1:
        (offset,) = offsets
        return _affine(name, rate, offset)
    if rate.numerator == 1:
        # floor((n + shift)/stride) for every sample, with the shift written as simply as it can be.
        stride = rate.denominator
        low = max(extent * stride - size for size, extent in samples)
        high = min(extent * stride - size + stride - 1 for size, extent in samples)
        forms = []
        for shift in range(low, high + 1):
            forms.append((abs(shift - stride + 1), "ceil", shift - stride + 1))
            forms.append((abs(shift), "floor", shift))
        if forms:
            _, rounding, shift = min(forms)
            inner = name if shift == 0 else f"({name} {'+' if shift > 0 else '-'} {abs(shift)})"
            return f"{rounding}({inner}/{stride})"
    return f"{rate}*{name} (about)"


def _affine(name: str, rate: Fraction, offset: Fraction) -> str:
    """`H`, `H/16`, `2*H`, `(H - 4)/2`, `H/32 + 1`..."""
    if rate == 1:
        term = name
    elif rate.denominator == 1:
        term = f"{rate.numerator}*{name}"
    elif rate.numerator == 1:
        term = f"{name}/{rate.denominator}"
    else:
        term = f"{rate.numerator}*{name}/{rate.denominator}"
    if offset == 0:
        return term
    if rate.denominator > 1 and (offset * rate.denominator).denominator == 1 and offset.denominator != 1:
        inner = offset / rate
        sign = "+" if inner > 0 else "-"
        numerator = f"{rate.numerator}*" if rate.numerator != 1 else ""
        return f"{numerator}({name} {sign} {abs(inner)})/{rate.denominator}"
    sign = "+" if offset > 0 else "-"
    return f"{term} {sign} {abs(offset)}"
