"""Check stage: a model's figures against the limits of its `budget` lines, an E306 for each limit exceeded.

A budget line (`budget params<=5M macs<=600M memory<=200MB batch=8 dtype=float16`) is lowered to
ir.Budget; this module compares each limit with the figure it names (specc.figures) and reports at
the limit itself, so `specc check` fails a pull request or a commit that grows a network past what
its spec allows, as it fails one that breaks a shape. docs/budgets.md defines every metric.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

from specc.check import LayerReport, ModelReport
from specc.diagnostics import Diagnostic
from specc.figures import ModelFigures, format_bytes, format_count, model_figures
from specc.ir import Budget, BudgetLimit
from specc.layers import format_shape

# How many layers the hint of an exceeded budget names: those with the most of the metric.
CONTRIBUTORS = 3
# The metrics the figures module computes; params and trainable come from the report alone.
_NEEDS_FIGURES = ("macs", "flops", "memory")


def memory_bytes(figures: ModelFigures) -> int:
    """Peak forward inference memory: the activations alive at once at the peak, plus every weight."""
    return figures.peak_forward_bytes + figures.parameter_bytes


def _figure(metric: str, report: ModelReport, figures: ModelFigures | None) -> int:
    if metric == "params":
        return report.total_params
    if metric == "trainable":
        return report.trainable_params
    assert figures is not None
    if metric == "macs":
        return figures.macs
    if metric == "flops":
        return figures.flops
    return memory_bytes(figures)


def _layer_share(metric: str, figures: ModelFigures | None) -> Callable[[LayerReport], int]:
    """How much of a metric one layer accounts for: its weights, its operations, or (memory) its output."""
    if metric == "params":
        return lambda r: r.inference.trainable_params + r.inference.non_trainable_params
    if metric == "trainable":
        return lambda r: r.inference.trainable_params
    assert figures is not None
    if metric == "macs":
        return lambda r: figures.layers[r.layer.name].macs
    if metric == "flops":
        return lambda r: figures.layers[r.layer.name].flops
    return lambda r: figures.layers[r.layer.name].output_bytes


def shown_amount(metric: str, amount: int) -> str:
    """A figure as messages show it: bytes for memory (`3.0 MB`), else a count (`54.4 K`)."""
    return format_bytes(amount) if metric == "memory" else format_count(amount)


def _limit_shown(limit: BudgetLimit) -> str:
    """The limit as written, number and unit apart (`600M` -> 600 M); a binary one (512MiB) also in the decimal
    units the figures are shown in."""
    number = limit.text.rstrip("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    unit = limit.text[len(number) :]
    shown = f"{number} {unit}" if unit else number
    return f"{shown} ({format_bytes(limit.limit)})" if "i" in unit else shown


def _percent(excess: int, limit: int) -> str:
    if limit == 0:
        return ""
    share = 100 * excess / limit
    return f", {share:.0f}%" if share >= 1 else f", {share:.2g}%"


def _contributors(metric: str, report: ModelReport, figures: ModelFigures | None) -> str | None:
    share = _layer_share(metric, figures)
    ranked = sorted(((share(r), index, r) for index, r in enumerate(report.counted)), key=lambda t: (-t[0], t[1]))
    named = [
        f"`{r.layer.name}` (line {r.layer.span.line}, {shown_amount(metric, amount)})"
        for amount, _, r in ranked[:CONTRIBUTORS]
        if amount > 0
    ]
    if not named:
        return None
    what = "the largest outputs" if metric == "memory" else f"the most {metric}"
    return f"{what}: " + ", ".join(named)


def _evaluated_at(report: ModelReport) -> str:
    """Where an input's height and width were left open, the size the figures were evaluated at."""
    sizes = [format_shape(i.shape) for i in report.model.inputs if i.is_open]
    return f" at input {', '.join(sizes)}" if sizes else ""


def _over(
    limit: BudgetLimit, figure: int, budget: Budget, report: ModelReport, figures: ModelFigures | None
) -> Diagnostic:
    metric = limit.metric
    excess = figure - limit.limit
    if excess > 0:
        message = (
            f"{metric} {shown_amount(metric, figure)} exceeds the budget of {_limit_shown(limit)} "
            f"(by {shown_amount(metric, excess)}{_percent(excess, limit.limit)})"
        )
    else:  # equal to a `<` limit
        message = f"{metric} {shown_amount(metric, figure)} is not below the budget of < {_limit_shown(limit)}"
    if metric == "memory":
        assert figures is not None
        message += (
            f" for batch {budget.batch} in {budget.dtype}: activations at their peak "
            f"{format_bytes(figures.peak_forward_bytes)} + parameters {format_bytes(figures.parameter_bytes)}"
        )
    message += _evaluated_at(report)
    return Diagnostic(code="E306", message=message, span=limit.span, hint=_contributors(metric, report, figures))


class BudgetUse(NamedTuple):
    """One limit of a budget line and the model's figure for it."""

    budget: Budget
    limit: BudgetLimit
    figure: int
    figures: ModelFigures | None

    @property
    def within(self) -> bool:
        return self.limit.allows(self.figure)


def budget_uses(report: ModelReport) -> list[BudgetUse]:
    """Each limit of the model's budget lines with the figure it limits; none for a model whose shapes could not
    all be inferred (it has no figures; its shape errors say why)."""
    model = report.model
    if not model.budgets or not report.complete:
        return []
    if any(0 in i.shape for i in model.inputs):  # an open input the checker chose no size for
        return []
    uses: list[BudgetUse] = []
    evaluated: dict[tuple[str, int], ModelFigures] = {}
    for budget in model.budgets:
        for limit in budget.limits:
            figures = None
            if limit.metric in _NEEDS_FIGURES:
                # MACs and FLOPs are per example in any dtype; only memory depends on the line's batch and dtype.
                key = (
                    (budget.dtype, budget.batch) if limit.metric == "memory" else next(iter(evaluated), ("float32", 1))
                )
                if key not in evaluated:
                    evaluated[key] = model_figures(report, *key)
                figures = evaluated[key]
            uses.append(BudgetUse(budget, limit, _figure(limit.metric, report, figures), figures))
    return uses


def check_budgets(report: ModelReport) -> list[Diagnostic]:
    """An E306 for each limit of the model's budget lines that its figures exceed."""
    return [
        _over(use.limit, use.figure, use.budget, report, use.figures) for use in budget_uses(report) if not use.within
    ]
