"""Parse stage: spec text -> syntax tree (specc.syntax) and syntax diagnostics. The only module that imports lark."""

from __future__ import annotations

import bisect
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from lark import Lark, Token, Transformer, Tree, UnexpectedCharacters, UnexpectedInput, UnexpectedToken, v_args
from lark.exceptions import UnexpectedEOF

from specc import syntax
from specc.diagnostics import Diagnostic, Fix, Note, Span

GRAMMAR_NAME = "specc.cnn.lark"

# Terminal names as a reader would say them, for "expected ..." messages.
_TERMINAL_WORDS = {
    "NAME": "a name",
    "NUMBER": "a number",
    "SIZE": "a size such as 3x3",
    "STRING": "a quoted string",
    "_NEWLINE": "end of line",
    "SEMICOLON": "`;`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "EQUAL": "`=`",
    "_MODEL": "`model`",
    "_BLOCK": "`block`",
    "_FROM": "`from`",
    "BUDGET": "`budget`",
    "TRAIN": "`train`",
    "QUANTITY": "a quantity such as 5M or 200MB",
    "$END": "end of file",
}

# Recovery parses on as if the offending line were blank; past this many errors the rest is noise.
_MAX_SYNTAX_ERRORS = 20


def grammar_path() -> Path:
    """The grammar file: shipped inside the package when installed, at the repository root when not."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammars" / GRAMMAR_NAME, here.parent / "grammars" / GRAMMAR_NAME):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"grammar {GRAMMAR_NAME} is missing from the installation")


class _CommentTokens(threading.local):
    """The COMMENT tokens lexed by this thread's current parse; the grammar ignores them, the formatter keeps them.
    Also the `model` keywords, which the tree leaves out, for where each model's span starts."""

    def __init__(self) -> None:
        self.tokens: list[Token] = []
        self.keywords: list[Token] = []


_comments = _CommentTokens()


def _collect_comment(token: Token) -> Token:
    _comments.tokens.append(token)
    return token


def _collect_keyword(token: Token) -> Token:
    _comments.keywords.append(token)
    return token


@lru_cache(maxsize=1)
def _parser() -> Lark:
    # Built once per process; lark's cache keeps the LALR tables on disk between processes
    # (lexer callbacks are not part of the cached analysis).
    return Lark(
        grammar_path().read_text(encoding="utf-8"),
        parser="lalr",
        lexer="contextual",
        propagate_positions=False,
        maybe_placeholders=False,
        cache=True,
        lexer_callbacks={"COMMENT": _collect_comment, "_MODEL": _collect_keyword, "_BLOCK": _collect_keyword},
        # specc's syntax nodes are built as each rule is reduced, with no lark tree and no second pass.
        transformer=_ToSyntaxTree(visit_tokens=False),
    )


def _span(token: Token) -> Span:
    return Span(line=token.line, column=token.column, end_line=token.end_line, end_column=token.end_column)


# A number run into letters or dots, such as `32relu`, `3.5.5` or `3x3x`.
_GLUED = re.compile(r"[0-9][A-Za-z0-9_.]*")
_ESCAPE = re.compile(r"\\(.)")
_ESCAPED = {"n": "\n", "t": "\t"}


@v_args(meta=False, inline=True)
class _ToSyntaxTree(Transformer):
    """Builds specc.syntax nodes while the parser reduces each rule; spans come from the tokens themselves.
    It keeps no state of its own: the `model` keywords it reads are this thread's."""

    def number(self, token: Token) -> syntax.Number:
        return syntax.Number(text=str(token), span=_span(token))

    def size(self, token: Token) -> syntax.Size:
        parts = token.split("x")
        written = [part.isdigit() for part in parts]
        return syntax.Size(
            dims=tuple(syntax.bounded_int(part) if number else 0 for part, number in zip(parts, written, strict=True)),
            span=_span(token),
            text=str(token),
            open=()
            if all(written)
            else tuple(None if number else part for part, number in zip(parts, written, strict=True)),
        )

    def word(self, token: Token) -> syntax.Word:
        return syntax.Word(text=str(token), span=_span(token))

    def string(self, token: Token) -> syntax.String:
        text = _ESCAPE.sub(lambda m: _ESCAPED.get(m.group(1), m.group(1)), token[1:-1])
        return syntax.String(text=text, span=_span(token), raw=str(token))

    @v_args(inline=False)
    def tuple(self, items) -> syntax.Tuple:
        opening, *values, closing = items
        return syntax.Tuple(items=tuple(values), span=_span_between(opening, closing))

    pair_of_tuples = tuple

    @v_args(inline=False)
    def keyword(self, children) -> syntax.Argument:
        key, value = children
        return syntax.Argument(value=value, span=_span_between(key, value.span), key=str(key), key_span=_span(key))

    def target(self, name: Token) -> syntax.Word:
        return syntax.Word(text=str(name), span=_span(name))

    @v_args(inline=False)
    def sources(self, names) -> tuple[syntax.Word, ...]:
        return tuple(syntax.Word(text=str(name), span=_span(name)) for name in names)

    @v_args(inline=False)
    def layer(self, children) -> syntax.LayerStatement:
        target = children[0] if isinstance(children[0], syntax.Word) else None
        kind, *rest = children[target is not None :]
        sources: tuple[syntax.Word, ...] = ()
        arguments = []
        for child in rest:
            if isinstance(child, tuple):
                sources = child
            else:
                arguments.append(
                    child if isinstance(child, syntax.Argument) else syntax.Argument(value=child, span=child.span)
                )
        ends = [a.span for a in arguments[-1:]] + [w.span for w in sources[-1:]]
        last = max(ends, key=lambda span: (span.end_line, span.end_column)) if ends else kind
        return syntax.LayerStatement(
            kind=str(kind),
            kind_span=_span(kind),
            arguments=tuple(arguments),
            span=_span_between(target.span if target is not None else kind, last),
            target=target,
            sources=sources,
        )

    def limit(self, metric: Token, operator: Token, quantity: Token) -> syntax.Limit:
        return syntax.Limit(
            metric=syntax.Word(text=str(metric), span=_span(metric)),
            operator=str(operator),
            quantity=syntax.Word(text=str(quantity), span=_span(quantity)),
            span=_span_between(metric, quantity),
        )

    @v_args(inline=False)
    def budget(self, children) -> syntax.BudgetStatement:
        keyword, *items = children
        return syntax.BudgetStatement(
            limits=tuple(item for item in items if isinstance(item, syntax.Limit)),
            options=tuple(item for item in items if isinstance(item, syntax.Argument)),
            span=_span_between(keyword, items[-1].span),
            keyword_span=_span(keyword),
        )

    @v_args(inline=False)
    def setting(self, children) -> syntax.LayerStatement:
        return self.layer(children)

    @v_args(inline=False)
    def training_body(self, settings) -> tuple[syntax.LayerStatement, ...]:
        return tuple(settings)

    @v_args(inline=False)
    def training(self, children) -> syntax.TrainingSection:
        keyword, _brace, settings, closing = children
        return syntax.TrainingSection(
            settings=settings, span=_span_between(keyword, closing), keyword_span=_span(keyword)
        )

    @v_args(inline=False)
    def parameter(self, children) -> syntax.Parameter:
        name, *default = children
        end = default[0].span if default else name
        return syntax.Parameter(name=str(name), span=_span_between(name, end), default=default[0] if default else None)

    @v_args(inline=False)
    def parameters(self, children) -> tuple[syntax.Parameter, ...]:
        return tuple(child for child in children if isinstance(child, syntax.Parameter))

    @v_args(inline=False)
    def block(self, children) -> syntax.ModelBlock:
        name, *middle, brace, body, closing = children
        parameters = middle[0] if middle else ()
        statements, budgets, trainings = _split_body(body)
        return syntax.ModelBlock(
            name=str(name),
            name_span=_span(name),
            statements=statements,
            span=_span_between(self._keyword_before(name), closing),
            open_span=_span(brace),
            keyword="block",
            parameters=parameters,
            budgets=budgets,
            trainings=trainings,
        )

    @staticmethod
    def _keyword_before(name: Token) -> Token:
        # The `model` or `block` keyword is the last one lexed before the name: only blanks and comments between.
        keywords = _comments.keywords
        return keywords[bisect.bisect_left(keywords, name.start_pos, key=lambda token: token.start_pos) - 1]

    def body(self, *statements) -> tuple[syntax.LayerStatement | syntax.BudgetStatement, ...]:
        return statements

    @v_args(inline=False)
    def model(self, children) -> syntax.ModelBlock:
        name, brace, body, closing = children
        keyword = self._keyword_before(name)
        statements, budgets, trainings = _split_body(body)
        return syntax.ModelBlock(
            name=str(name),
            name_span=_span(name),
            statements=statements,
            span=_span_between(keyword, closing),
            open_span=_span(brace),
            budgets=budgets,
            trainings=trainings,
        )

    def start(self, *models) -> syntax.SourceFile:
        return syntax.SourceFile(models=models)


def _split_body(
    body: tuple[syntax.LayerStatement | syntax.BudgetStatement | syntax.TrainingSection, ...],
) -> tuple[tuple[syntax.LayerStatement, ...], tuple[syntax.BudgetStatement, ...], tuple[syntax.TrainingSection, ...]]:
    """A body's layer statements, its budget lines and its training sections, each in order."""
    if all(isinstance(statement, syntax.LayerStatement) for statement in body):
        return body, (), ()  # type: ignore[return-value]
    return (
        tuple(s for s in body if isinstance(s, syntax.LayerStatement)),
        tuple(s for s in body if isinstance(s, syntax.BudgetStatement)),
        tuple(s for s in body if isinstance(s, syntax.TrainingSection)),
    )


def _span_between(first: Token, last: Token | Span) -> Span:
    """From the start of the first token to the end of the last token (or span)."""
    return Span(line=first.line, column=first.column, end_line=last.end_line, end_column=last.end_column)


_VALUE_STARTS = {"NUMBER", "SIZE", "STRING", "LPAR"}


def _describe_expected(expected: set[str]) -> str:
    expected = set(expected)
    if "NAME" in expected:
        # Where a statement may start, "a name" says it: a budget line starts with a word, as a layer line does.
        expected.discard("BUDGET")
        expected.discard("TRAIN")
    value_word = []
    if _VALUE_STARTS <= expected:
        # Where a line may end, another argument may come; right after `=` only a value may.
        may_end = bool(expected & {"_NEWLINE", "SEMICOLON", "RBRACE"})
        expected -= _VALUE_STARTS | {"NAME"}
        value_word = ["a value or key=value" if may_end else "a value"]
    words = sorted({word for name in expected for word in _terminal_words(name)}) + value_word
    if len(words) == 1:
        return words[0]
    return ", ".join(words[:-1]) + " or " + words[-1]


def _terminal_words(name: str) -> tuple[str, ...]:
    if name == "COMPARISON":  # one terminal, two spellings, each worth naming
        return ("`<=`", "`<`")
    return (_TERMINAL_WORDS.get(name, f"`{name.lower()}`"),)


def _describe_token(token: Token) -> str:
    if token.type == "$END":
        return "end of file"
    if token.type == "_NEWLINE":
        return "end of line"
    return f"`{token}`"


def _syntax_diagnostic(error: UnexpectedInput, text: str) -> Diagnostic:
    in_budget = _in_budget_line(error)
    if isinstance(error, UnexpectedToken) and error.token.type == "QUANTITY" and "COMPARISON" not in error.expected:
        # Only a budget's limit takes a quantity such as `5M`; anywhere else it is a number run into a word,
        # lexed as a quantity only because the lexer tried every terminal to describe the error.
        token = error.token
        return _glued_diagnostic(str(token), token.line, token.column, in_budget)
    if isinstance(error, UnexpectedCharacters):
        glued = _GLUED.match(text, error.pos_in_stream)
        if glued and glued.group()[-1:] not in "+-.":
            return _glued_diagnostic(glued.group(), error.line, error.column, in_budget)
        char = text[error.pos_in_stream] if error.pos_in_stream < len(text) else ""
        shown = repr(char) if not char.isprintable() or char.isspace() else f"`{char}`"
        line = text.split("\n")[error.line - 1] if error.line else ""
        # A Keras call trips on its quotes or dots first; the rewrite of the whole line helps more.
        hint, fixes = _help_for_call(line, error.line)
        if hint is None and in_budget and char in "<>=!":
            hint = _BUDGET_HINT
        elif hint is None and char == "'":
            hint = "strings take double quotes, and words such as same or relu take none: padding=same"
        elif hint is None and ord(char or " ") > 127:
            hint = "specc source is ASCII outside strings and comments; look for a look-alike character"
        return Diagnostic(
            code="E101",
            message=f"unexpected character {shown}",
            span=Span.point(error.line, error.column),
            hint=hint,
            fixes=fixes,
        )
    if isinstance(error, UnexpectedToken) and error.token.type != "$END":
        token = error.token
        expected = set(error.accepts or error.expected)
        span = _span(token) if token.line is not None else Span.point(error.line, error.column)
        if token.type == "_NEWLINE":
            span = Span.point(token.line, token.column)
        line = _line_around(text, token.start_pos) if token.start_pos is not None else ""
        hint, fixes = _help_for_call(line, token.line)
        hint = hint or (_budget_hint(error) if in_budget else _hint_for_token(token, expected))
        described = _describe_expected(expected)
        if in_budget and expected == {"NAME"}:
            described = "a limit such as `params<=5M`"
        notes: tuple[Note, ...] = ()
        block = _open_block(error)
        if token.type in ("_MODEL", "_BLOCK") and block is not None:
            # The next model starts inside this one: the `}` that ends this one is what is missing.
            hint = f"close {block[0]} with `}}` before the next {'block' if token.type == '_BLOCK' else 'model'}"
            notes = (_unclosed(block),)
        return Diagnostic(
            code="E102",
            message=f"unexpected {_describe_token(token)}; expected {described}",
            span=span,
            hint=hint,
            fixes=fixes,
            notes=notes,
        )
    expected = getattr(error, "expected", None) or set()
    # Point just after the last thing written, so the caret lands on a line that exists.
    content = text.rstrip()
    last_line = content.count("\n") + 1
    last_column = len(content) - (content.rfind("\n") + 1) + 1
    block = _open_block(error)
    hint = "close every `{` with `}` and every `(` with `)`"
    if block is not None:
        hint = f"close {block[0]} with `}}`"
    return Diagnostic(
        code="E103",
        message="unexpected end of file" + (f"; expected {_describe_expected(set(expected))}" if expected else ""),
        span=Span.point(last_line, last_column),
        hint=hint,
        notes=(_unclosed(block),) if block else (),
    )


_BUDGET_HINT = (
    "a budget line lists limits, each a metric, `<=` or `<`, and a quantity, then options: "
    "`budget params<=5M macs<=600M memory<=200MB batch=1 dtype=float32`"
)


def _glued_diagnostic(glued: str, line: int, column: int, in_budget: bool) -> Diagnostic:
    return Diagnostic(
        code="E101",
        message=f"`{glued}` is neither a number nor a size",
        span=Span(line=line, column=column, end_line=line, end_column=column + len(glued)),
        hint=_BUDGET_HINT
        if in_budget
        else "separate numbers from words with a space, as in `conv 32 3x3 relu`; sizes are written 3x3",
    )


def _budget_hint(error: UnexpectedToken) -> str:
    stack = getattr(error.state, "value_stack", None) or ()
    if error.token.type == "EQUAL" and stack and isinstance(stack[-1], Token) and stack[-1].type == "BUDGET":
        return "`budget` at the start of a line begins a budget line (`budget params<=5M`); name the value otherwise"
    return _BUDGET_HINT


def _in_budget_line(error: UnexpectedInput) -> bool:
    """Whether the parser failed inside a `budget` line: its keyword is on the stack, not yet reduced to a statement
    (a finished budget line is a BudgetStatement there, built as it was reduced)."""
    state = getattr(error, "state", None) or getattr(getattr(error, "interactive_parser", None), "parser_state", None)
    stack = getattr(state, "value_stack", None) or ()
    for item in reversed(stack):
        if isinstance(item, Token) and item.type in ("BUDGET", "LBRACE"):
            return item.type == "BUDGET"
    return False


def _line_around(text: str, position: int) -> str:
    """The line holding a position of the text, found without splitting the whole text (once per error)."""
    end = text.find("\n", position)
    return text[text.rfind("\n", 0, position) + 1 : end if end >= 0 else len(text)]


def _help_for_call(line: str, number: int) -> tuple[str | None, tuple[Fix, ...]]:
    """Keras habits: `Conv2D(32, (3, 3), ...)` is a call in Python but not a line of specc. The hint is the
    line rewritten as specc where the call's arguments allow it, and then the fix writes it in (unless the
    call also held the input shape, which belongs on a line of its own)."""
    # Imported here: the layer kinds are needed only on this error path, not to parse a good spec.
    from specc import call_lines

    if not call_lines.looks_like_call(line):
        return None, ()
    rewritten = call_lines.rewrite(line)
    if rewritten is None:
        return call_lines.GENERIC_HINT, ()
    fixes: tuple[Fix, ...] = ()
    if rewritten.input_line is None:
        span = Span(number, rewritten.start + 1, number, rewritten.end + 1)
        fixes = (Fix(title=f"Rewrite as `{rewritten.line}`", span=span, new_text=rewritten.line),)
    return rewritten.hint, fixes


def _open_block(error: UnexpectedInput) -> tuple[str, Span] | None:
    """The model or block whose `{` the parser had read and not yet closed when it failed: how the header
    reads (`model m`, `block basic`) and the brace."""
    state = getattr(error, "state", None)
    stack = list(getattr(state, "value_stack", None) or ())
    for index in range(len(stack) - 1, 0, -1):
        item = stack[index]
        if not (isinstance(item, Token) and item.type == "LBRACE"):
            continue
        before = stack[index - 1]
        is_block = isinstance(before, tuple)  # a block's parameters stand between its name and the brace
        if is_block and index >= 2:
            before = stack[index - 2]
        if isinstance(before, Token) and before.type == "NAME":
            keyword = None
            for token in _comments.keywords:
                if token.end_pos is not None and token.end_pos <= (before.start_pos or 0):
                    keyword = token
            word = str(keyword) if keyword is not None else ("block" if is_block else "model")
            # "the block of model `m`", as before blocks existed; a block is simply "block `b`".
            phrase = f"block `{before}`" if word == "block" else f"the block of model `{before}`"
            return phrase, _span(item)
    return None


def _unclosed(block: tuple[str, Span]) -> Note:
    header, brace = block
    return Note(brace, f"{header} opened here is not closed")


def _hint_for_token(token: Token, expected: set[str]) -> str | None:
    if token.type == "NAME" and "_MODEL" in expected:
        if token.startswith("model") and len(token) > len("model"):
            return f"did you mean `model {token[len('model') :]}`?"
        return "layers live inside a block: `model NAME { ... }`"
    if token.type in ("NUMBER", "SIZE") and "NAME" in expected and "_MODEL" not in expected:
        return "a line starts with a layer kind, such as `conv 32 3x3`"
    if token.type == "EQUAL":
        return "a keyword argument is a parameter name, `=`, then a value: `strides=2`"
    if token.type == "LBRACE":
        return "a model block is written `model NAME {`"
    return None


class _Checkpoint(NamedTuple):
    """The LALR parser's stacks before the first token of a line, enough to parse on as if that line were blank.

    Reductions extend a left-recursive list in place (lark reuses the children of the tree it
    reduces), so the length of each tree's children is kept with it and restored."""

    line: int
    states: list
    values: list[tuple[object, int]]


def _checkpoint(line: int, state) -> _Checkpoint:
    values = [(value, len(value.children) if isinstance(value, Tree) else -1) for value in state.value_stack]
    return _Checkpoint(line, list(state.state_stack), values)


def _restore(checkpoint: _Checkpoint, state) -> None:
    for value, length in checkpoint.values:
        if length >= 0:
            del value.children[length:]
    state.state_stack[:] = checkpoint.states
    state.value_stack[:] = [value for value, _ in checkpoint.values]


def _line_starts(text: str) -> list[int]:
    return [0, *(match.end() for match in re.finditer("\n", text))]


def _blanked(text: str, broken: set[int]) -> str:
    lines = text.split("\n")
    for line in broken:
        lines[line - 1] = " " * len(lines[line - 1])
    return "\n".join(lines)


def parse(text: str) -> tuple[syntax.SourceFile, list[Diagnostic]]:
    """Parse spec text; returns the syntax tree (of what could be parsed) and syntax diagnostics.

    On a syntax error the parse goes on as if the offending line were blank, so one run reports
    each broken line and the editor still sees the models around it. It goes on from the parser's
    state at the start of that line rather than from the start of the text, so each broken line
    costs the same however long the file is.
    """
    diagnostics: list[Diagnostic] = []
    broken: set[int] = set()
    line_starts: list[int] | None = None
    _comments.tokens, _comments.keywords = [], []
    interactive = _parser().parse_interactive(text)
    state, lexer = interactive.parser_state, interactive.lexer_thread
    checkpoint = _checkpoint(0, state)
    while True:
        token = None
        try:
            for token in lexer.lex(state):
                if token.line != checkpoint.line:
                    checkpoint = _checkpoint(token.line, state)
                state.feed_token(token)
            end = Token.new_borrow_pos("$END", "", token) if token else Token("$END", "", 0, 1, 1)
            source = state.feed_token(end, True)
            break
        except UnexpectedInput as error:
            # As lark's own parse loop does, so that the error can tell which tokens would have fitted.
            error.interactive_parser = interactive
            at_end = isinstance(error, UnexpectedEOF) or (
                isinstance(error, UnexpectedToken) and error.token.type == "$END"
            )
            # The end of the file is described from the text as the blanked lines left it.
            diagnostic = _syntax_diagnostic(error, _blanked(text, broken) if at_end else text)
            diagnostics.append(diagnostic)
            line = diagnostic.span.line
            if line_starts is None:
                line_starts = _line_starts(text)
            start = line_starts[line - 1] if line <= len(line_starts) else len(text)
            end_of_line = line_starts[line] - 1 if line < len(line_starts) else len(text)
            broken_line = text[start:end_of_line]
            if at_end or diagnostic.code == "E103" or "{" in broken_line or "}" in broken_line:
                return syntax.SourceFile(), diagnostics
            if len(diagnostics) >= _MAX_SYNTAX_ERRORS:
                return syntax.SourceFile(), diagnostics
            broken.add(line)
            if checkpoint.line == line:
                _restore(checkpoint, state)
            # Lex on from the line break that ends the broken line, as if the line held only spaces.
            counter = lexer.state.line_ctr
            counter.char_pos, counter.line, counter.line_start_pos = end_of_line, line, start
            counter.column = end_of_line - start + 1
    comments = tuple(
        syntax.Comment(text=t.removesuffix("\r"), span=_span(t)) for t in _comments.tokens if t.line not in broken
    )
    _comments.tokens, _comments.keywords = [], []
    return syntax.SourceFile(models=source.models, broken_lines=frozenset(broken), comments=comments), diagnostics
