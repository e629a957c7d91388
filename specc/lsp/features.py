"""Editor edge: what the language server offers, as pure functions of a checked spec.

Each function takes a CheckedSource (the one check path's result) and the text's Lines, and
returns lsprotocol values; none of them talks to a client, so they are tested without one.
Shapes, counts and arithmetic come from the checker's reports, never recomputed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from lsprotocol import types

from specc.check import LayerReport, ModelReport
from specc.diagnostics import Diagnostic, Severity, Span
from specc.ir import Model
from specc.layers import (
    ACTIVATIONS,
    LAYER_KINDS,
    PARAMETER_SHORT_FORMS,
    LayerBase,
    format_shape,
    parameter_names,
)
from specc.lower import documented_kind, placed_parameters
from specc.lsp.positions import Lines, contains
from specc.parse import parse
from specc.pipeline import CheckedSource

SOURCE = "specc"

_SEVERITIES = {Severity.ERROR: types.DiagnosticSeverity.Error, Severity.WARNING: types.DiagnosticSeverity.Warning}


# Diagnostics and their fixes


def to_lsp_diagnostic(diagnostic: Diagnostic, lines: Lines, uri: str | None = None) -> types.Diagnostic:
    """A specc diagnostic as LSP reports it: code, severity, 0-based range; the hint on a line of its own;
    with the document's uri, each note as related information."""
    message = diagnostic.message + (f"\nhint: {diagnostic.hint}" if diagnostic.hint else "")
    related = None
    if uri is not None and diagnostic.notes:
        related = [
            types.DiagnosticRelatedInformation(
                location=types.Location(uri=uri, range=lines.range(note.span)), message=note.message
            )
            for note in diagnostic.notes
        ]
    return types.Diagnostic(
        range=lines.range(diagnostic.span),
        message=message,
        severity=_SEVERITIES[diagnostic.severity],
        code=diagnostic.code,
        source=SOURCE,
        related_information=related,
    )


def diagnostics(checked: CheckedSource, lines: Lines, uri: str | None = None) -> list[types.Diagnostic]:
    return [to_lsp_diagnostic(d, lines, uri) for d in checked.diagnostics]


def _touches(a: types.Range, b: types.Range) -> bool:
    """Whether two ranges overlap or meet, so that a cursor at either end of a diagnostic counts."""
    return (a.start.line, a.start.character) <= (b.end.line, b.end.character) and (
        b.start.line,
        b.start.character,
    ) <= (a.end.line, a.end.character)


def code_actions(checked: CheckedSource, lines: Lines, uri: str, within: types.Range) -> list[types.CodeAction]:
    """One quick fix per Fix of each diagnostic that touches `within`; the only fix of one is preferred."""
    within = lines.clamp_range(within)
    actions = []
    for diagnostic in checked.diagnostics:
        if not diagnostic.fixes:
            continue
        reported = to_lsp_diagnostic(diagnostic, lines)
        if not _touches(reported.range, within):
            continue
        for fix in diagnostic.fixes:
            actions.append(
                types.CodeAction(
                    title=fix.title,
                    kind=types.CodeActionKind.QuickFix,
                    diagnostics=[reported],
                    is_preferred=len(diagnostic.fixes) == 1,
                    edit=types.WorkspaceEdit(
                        changes={uri: [types.TextEdit(range=lines.range(fix.span), new_text=fix.new_text)]}
                    ),
                )
            )
    return actions


# Where things are


def _layer_reports(checked: CheckedSource) -> Iterator[tuple[ModelReport, LayerReport]]:
    for report in checked.reports:
        for layer_report in report.layers:
            yield report, layer_report


def _model_at(checked: CheckedSource, line: int) -> Model | None:
    for model in checked.spec.models:
        if model.span.line <= line <= model.span.end_line:
            return model
    return None


_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _word_at(lines: Lines, line: int, column: int) -> tuple[str, Span] | None:
    """The identifier under (or just before) a 1-based point, with its span."""
    for match in _WORD.finditer(lines.line(line - 1)):
        if match.start() + 1 <= column <= match.end() + 1:
            return match.group(), Span(line, match.start() + 1, line, match.end() + 1)
    return None


# Hover


def _shown(value: object) -> str:
    if isinstance(value, tuple) and all(isinstance(v, int) for v in value):
        return "x".join(map(str, value))
    if isinstance(value, tuple):
        return "(" + ", ".join(_shown(v) for v in value) + ")"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _settings(layer: LayerBase) -> str:
    return ", ".join(f"{name}={_shown(getattr(layer, name))}" for name in parameter_names(type(layer)))


def layer_hover_text(layer_report: LayerReport) -> str:
    """What a layer makes of its input: shapes, parameter counts, its arguments and the arithmetic."""
    layer, inference = layer_report.layer, layer_report.inference
    lines = [
        f"{layer.name} ({layer.keras_class}): {format_shape(layer_report.input_shape)} -> "
        f"{format_shape(inference.output_shape)}",
        f"params: {inference.params:,} ({inference.trainable_params:,} trainable, "
        f"{inference.non_trainable_params:,} non-trainable)",
    ]
    if settings := _settings(layer):
        lines.append(settings)
    if inference.working:
        lines += ["", *inference.working]
    return "\n".join(lines)


def _model_hover_text(report: ModelReport) -> str:
    model = report.model
    shapes = (
        f"{format_shape(model.input_shape) if model.input_shape is not None else '?'} -> "
        f"{format_shape(report.output_shape) if report.output_shape is not None else '?'}"
    )
    text = f"model {model.name}: {shapes}, {len(model.layers)} layers, {report.total_params:,} params"
    text += f" ({report.trainable_params:,} trainable, {report.non_trainable_params:,} non-trainable)"
    if not report.complete:
        text += "\nshapes are known only up to the first layer with an error"
    return text


def hover_text(checked: CheckedSource, line: int, column: int) -> tuple[str, Span] | None:
    """The hover at a 1-based point: a layer's shapes and arithmetic, an input's shape, a model's totals."""
    for report in checked.reports:
        model = report.model
        if not (model.span.line <= line <= model.span.end_line):
            continue
        if contains(model.name_span, line, column):
            return _model_hover_text(report), model.name_span
        if model.input_span is not None and contains(model.input_span, line, column):
            if model.input_shape is None:
                return None
            return f"input: {format_shape(model.input_shape)} (height x width x channels)", model.input_span
        for layer_report in report.layers:
            if contains(layer_report.layer.span, line, column):
                return layer_hover_text(layer_report), layer_report.layer.span
        for layer in model.layers[len(report.layers) :]:
            if contains(layer.span, line, column):
                return f"{layer.name} ({layer.keras_class}): shape unknown, a line above has an error", layer.span
    return None


def hover(checked: CheckedSource, lines: Lines, position: types.Position, markdown: bool) -> types.Hover | None:
    line, column = lines.point(position)
    found = hover_text(checked, line, column)
    if found is None:
        return None
    text, span = found
    contents = (
        types.MarkupContent(kind=types.MarkupKind.Markdown, value=f"```text\n{text}\n```")
        if markdown
        else types.MarkupContent(kind=types.MarkupKind.PlainText, value=text)
    )
    return types.Hover(contents=contents, range=lines.range(span))


# Inlay hints


def inlay_hints(checked: CheckedSource, lines: Lines, within: types.Range) -> list[types.InlayHint]:
    """`-> 26x26x32` after each layer statement whose shape is known, and after each input line."""
    within = lines.clamp_range(within)
    first, last = within.start.line + 1, within.end.line + 1
    hints = []

    def add(span: Span, shape: tuple[int, ...], tooltip: str) -> None:
        if first <= span.end_line <= last:
            hints.append(
                types.InlayHint(
                    position=lines.position(span.end_line, span.end_column),
                    label=f"→ {format_shape(shape)}",
                    kind=types.InlayHintKind.Type,
                    padding_left=True,
                    tooltip=tooltip,
                )
            )

    for report in checked.reports:
        model = report.model
        if model.input_shape is not None and model.input_span is not None:
            add(model.input_span, model.input_shape, f"input of model {model.name}")
        for layer_report in report.layers:
            layer, inference = layer_report.layer, layer_report.inference
            add(layer.span, inference.output_shape, f"{layer.name}: {inference.params:,} params")
    return hints


# Document symbols


def document_symbols(checked: CheckedSource, lines: Lines) -> list[types.DocumentSymbol]:
    """Each model, with its input and its layers (by name, kind and output shape) as children."""
    shapes = {id(r.layer): r.inference.output_shape for _, r in _layer_reports(checked)}
    symbols = []
    for model in checked.spec.models:
        children = []
        if model.input_span is not None:
            children.append(
                types.DocumentSymbol(
                    name="input",
                    kind=types.SymbolKind.Variable,
                    range=lines.range(model.input_span),
                    selection_range=lines.range(model.input_span),
                    detail=format_shape(model.input_shape) if model.input_shape is not None else None,
                )
            )
        for layer in model.layers:
            shape = shapes.get(id(layer))
            selection = layer.argument_spans.get("name", layer.span)
            children.append(
                types.DocumentSymbol(
                    name=layer.name,
                    kind=types.SymbolKind.Field,
                    range=lines.range(layer.span),
                    selection_range=lines.range(selection),
                    detail=layer.keras_class + (f" → {format_shape(shape)}" if shape is not None else ""),
                )
            )
        symbols.append(
            types.DocumentSymbol(
                name=model.name,
                kind=types.SymbolKind.Class,
                range=lines.range(model.span),
                selection_range=lines.range(model.name_span),
                detail="model",
                children=children,
            )
        )
    return symbols


# Go to definition


def _declarations(checked: CheckedSource, current: Model | None) -> Iterator[tuple[str, Span]]:
    """Every name the file defines, with where: the current model's layers first, then models, then the rest."""

    def named_layers(model: Model) -> Iterator[tuple[str, Span]]:
        return ((layer.name, layer.argument_spans["name"]) for layer in model.layers if "name" in layer.argument_spans)

    if current is not None:
        yield from named_layers(current)
    yield from ((model.name, model.name_span) for model in checked.spec.models)
    for model in checked.spec.models:
        if model is not current:
            yield from named_layers(model)


def definition(checked: CheckedSource, lines: Lines, uri: str, position: types.Position) -> types.Location | None:
    """Where the name under the cursor is declared: a layer's `name=` value or a model's name."""
    line, column = lines.point(position)
    found = _word_at(lines, line, column)
    if found is None:
        return None
    word, _ = found
    for name, span in _declarations(checked, _model_at(checked, line)):
        if name == word:
            return types.Location(uri=uri, range=lines.range(span))
    return None


# Completion


_STRING = re.compile(r'"([^"\\\n]|\\.)*"?')


def _code_part(line: str) -> str:
    """A line without its strings' contents and its comment, so braces and `#` in them do not count."""
    return _STRING.sub('""', line).split("#", 1)[0]


def _inside_model(lines: Lines, line_index: int, before: str) -> bool:
    depth = 0
    for index in range(line_index):
        code = _code_part(lines.line(index))
        depth = max(depth + code.count("{") - code.count("}"), 0)
    code = _code_part(before)
    return depth + code.count("{") - code.count("}") > 0


@dataclass(frozen=True)
class _Context:
    """What the cursor is in: the kind word of its statement (if typed), a `key=` before it, and the
    statement before the cursor without the partial word."""

    inside_model: bool
    kind: str | None
    key: str | None
    head: str


_TRAILING_WORD = re.compile(r"[A-Za-z0-9_]*\Z")
_KEY_BEFORE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\Z")
_GIVEN_KEY = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)\s*=")


def _context(lines: Lines, position: types.Position) -> _Context | None:
    line, column = lines.point(position)
    before = lines.line(line - 1)[: column - 1]
    if "#" in _STRING.sub('""', before) or before.count('"') % 2:
        return None  # in a comment or a string
    inside = _inside_model(lines, line - 1, before)
    statement = re.split(r"[;{]", _STRING.sub('""', before))[-1]
    head = statement[: len(statement) - len(_TRAILING_WORD.search(statement).group())]
    words = statement.split()
    if not head.strip():
        return _Context(inside_model=inside, kind=None, key=None, head=head)
    key = _KEY_BEFORE.search(head)
    return _Context(inside_model=inside, kind=words[0] if words else None, key=key.group(1) if key else None, head=head)


def _given(cls: type[LayerBase], head: str) -> frozenset[str]:
    """The parameters the statement before the cursor already fills, by key, position or bare word, as
    lowering places them; only the keys written, when that much of the statement does not parse."""
    tree, errors = parse("model _ {\n" + head + "\n}\n")
    if not errors and len(tree.models) == 1 and len(tree.models[0].statements) == 1:
        return placed_parameters(cls, tree.models[0].statements[0])
    return frozenset(PARAMETER_SHORT_FORMS.get(k, k) for k in _GIVEN_KEY.findall(head))


def _first_line(doc: str | None) -> str:
    return (doc or "").strip().split("\n", 1)[0]


def _kind_items(inside_model: bool) -> list[types.CompletionItem]:
    if not inside_model:
        return [
            types.CompletionItem(
                label="model",
                kind=types.CompletionItemKind.Keyword,
                detail="model NAME { input HxWxC ... }",
                insert_text="model ",
            )
        ]
    items = [
        types.CompletionItem(
            label="input",
            kind=types.CompletionItemKind.Keyword,
            detail="the input shape, first line of a model: input 28x28x1",
        )
    ]
    for cls in LAYER_KINDS:
        items.append(
            types.CompletionItem(
                label=cls.spellings[0],
                kind=types.CompletionItemKind.Class,
                detail=f"{cls.keras_class}" + (f" ({', '.join(cls.positional)})" if cls.positional else ""),
                documentation=_first_line(cls.__doc__),
            )
        )
    # The Keras class names are documented spellings too; listed after specc's own, which the README teaches.
    for cls in LAYER_KINDS:
        items.append(
            types.CompletionItem(
                label=cls.keras_class,
                kind=types.CompletionItemKind.Class,
                detail=f"the same as `{cls.spellings[0]}`",
                documentation=_first_line(cls.__doc__),
                sort_text=f"~{cls.keras_class}",
            )
        )
    return items


def _value_items(cls: type[LayerBase], key: str) -> list[str]:
    if key == "padding":
        return list(cls.padding_modes)
    if key == "activation":
        return list(ACTIVATIONS)
    if cls.model_fields.get(key) is not None and cls.model_fields[key].annotation is bool:
        return ["true", "false"]
    return []


def _defined_names(checked: CheckedSource) -> list[str]:
    names = {model.name for model in checked.spec.models}
    names |= {layer.name for model in checked.spec.models for layer in model.layers if "name" in layer.argument_spans}
    return sorted(names)


def completions(checked: CheckedSource, lines: Lines, position: types.Position) -> list[types.CompletionItem]:
    """Layer kinds at the start of a statement; then the kind's parameters and bare words; after
    `key=`, that parameter's allowed values, or the names the file defines where there is no fixed set."""
    context = _context(lines, position)
    if context is None:
        return []
    if context.kind is None:
        return _kind_items(context.inside_model)
    cls = documented_kind(context.kind)
    if cls is None:
        return []
    if context.key is not None:
        key = PARAMETER_SHORT_FORMS.get(context.key, context.key)
        values = _value_items(cls, key)
        if values:
            return [types.CompletionItem(label=v, kind=types.CompletionItemKind.EnumMember) for v in values]
        if key == "name" or key in parameter_names(cls):
            return []
        return [types.CompletionItem(label=n, kind=types.CompletionItemKind.Reference) for n in _defined_names(checked)]
    given = _given(cls, context.head)
    items = []
    for name in (*parameter_names(cls), "name"):
        if name in given:
            continue
        field = cls.model_fields.get(name)
        items.append(
            types.CompletionItem(
                label=f"{name}=",
                kind=types.CompletionItemKind.Property,
                detail=field.description if field is not None else "the layer's name, unique in its model",
                insert_text=f"{name}=",
                sort_text=f"1{name}",
            )
        )
    if "activation" in cls.word_arguments and "activation" not in given:
        items += [
            types.CompletionItem(
                label=a, kind=types.CompletionItemKind.EnumMember, detail="activation", sort_text=f"2{a}"
            )
            for a in ACTIVATIONS
        ]
    if "padding" in cls.word_arguments and "padding" not in given:
        items += [
            types.CompletionItem(label=p, kind=types.CompletionItemKind.EnumMember, detail="padding", sort_text=f"0{p}")
            for p in cls.padding_modes
        ]
    return items


# Formatting


def formatting(text: str, lines: Lines) -> list[types.TextEdit]:
    """`specc fmt`'s layout as one edit of the whole text; none when the text is already so, or has syntax errors."""
    from specc.fmt import format_text

    formatted, _ = format_text(text)
    if formatted is None or formatted == text:
        return []
    return [types.TextEdit(range=lines.whole(), new_text=formatted)]
