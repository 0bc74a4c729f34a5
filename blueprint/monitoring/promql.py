"""A careful PromQL tokenizer that finds the metric selectors in an expression.

Enough of PromQL to answer one question reliably: which metric names (and which
label matchers on them) does an expression read? It is used to check that no
alert, recording rule, dashboard panel or runbook query depends on a metric the
platform does not export. It does not evaluate or fully parse PromQL; Prometheus
and promtool do that (``promtool check rules`` runs on every rule file too).

Handled: string literals of all three quote kinds, comments, durations and
numbers, range and subquery brackets, ``offset`` and ``@`` modifiers, function
and aggregation calls, ``by``/``without``/``on``/``ignoring``/``group_left``/
``group_right`` label lists, ``bool``, set operators, selectors with or without a
name (``{__name__="x"}``), and Grafana template variables (``$model``,
``$__rate_interval``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

KEYWORDS = frozenset(
    {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
    | {"group_left", "group_right", "inf", "nan", "atan2"}
)
"""Words that are operators or modifiers, never metric names."""

AGGREGATIONS = frozenset(
    {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values"}
    | {"bottomk", "topk", "quantile", "limitk", "limit_ratio"}
)
"""Aggregation operators: ``sum by (x) (...)`` puts the grouping before the parentheses."""

LABEL_LIST_KEYWORDS = frozenset({"by", "without", "on", "ignoring", "group_left", "group_right"})
"""Keywords followed by a parenthesised list of label names."""

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<var>\$\{?[A-Za-z_][A-Za-z0-9_]*\}?)
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z0-9]*)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[{}()\[\],=<>+\-*/%^@:])
    """,
    re.VERBOSE,
)


class PromQLSyntaxError(ValueError):
    """The expression could not be tokenized (an unterminated string, a stray char)."""


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


@dataclass(frozen=True)
class Selector:
    """One vector selector: a metric name (or None) and its label matchers."""

    name: str | None
    matchers: tuple[tuple[str, str, str], ...] = field(default=())

    @property
    def label_names(self) -> set[str]:
        return {label for label, _, _ in self.matchers}


def tokenize(expr: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(expr):
        m = _TOKEN.match(expr, pos)
        if m is None:
            raise PromQLSyntaxError(f"unexpected character {expr[pos]!r} at {pos} in {expr!r}")
        kind = m.lastgroup or ""
        if kind not in ("ws", "comment"):
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    return tokens


def _unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", r"\1", body)


def _skip_balanced(tokens: list[Token], i: int, open_: str, close: str) -> int:
    """Index just past the bracket that closes the one at ``tokens[i]``."""
    depth = 0
    while i < len(tokens):
        if tokens[i].text == open_:
            depth += 1
        elif tokens[i].text == close:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    raise PromQLSyntaxError(f"unbalanced {open_!r}")


def _matchers(tokens: list[Token], i: int) -> tuple[tuple[tuple[str, str, str], ...], int]:
    """Parse ``{a="x", b=~"y"}`` starting at the ``{``; return matchers and next index."""
    assert tokens[i].text == "{"
    i += 1
    found: list[tuple[str, str, str]] = []
    while i < len(tokens) and tokens[i].text != "}":
        if tokens[i].text == ",":
            i += 1
            continue
        label = tokens[i]
        if label.kind not in ("ident", "string") or i + 2 >= len(tokens):
            raise PromQLSyntaxError(f"bad label matcher at {label.pos}: {label.text!r}")
        op, value = tokens[i + 1], tokens[i + 2]
        if op.text not in ("=", "!=", "=~", "!~") or value.kind not in ("string", "var"):
            raise PromQLSyntaxError(f"bad label matcher at {label.pos}: {label.text!r}")
        name = _unquote(label.text) if label.kind == "string" else label.text
        found.append(
            (name, op.text, _unquote(value.text) if value.kind == "string" else value.text)
        )
        i += 3
    if i >= len(tokens):
        raise PromQLSyntaxError("unterminated label matchers")
    return tuple(found), i + 1


def selectors(expr: str) -> list[Selector]:
    """Every vector selector in ``expr``, in order of appearance."""
    tokens = tokenize(expr)
    out: list[Selector] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        nxt = tokens[i + 1] if i + 1 < len(tokens) else None
        if tok.text == "[":
            # Range or subquery: durations and a step, never names.
            i = _skip_balanced(tokens, i, "[", "]")
            continue
        if tok.kind == "ident":
            word = tok.text.lower()
            if word in LABEL_LIST_KEYWORDS and nxt is not None and nxt.text == "(":
                i = _skip_balanced(tokens, i + 1, "(", ")")
                continue
            if word == "offset":
                i += 2  # the duration
                continue
            if word in KEYWORDS:
                i += 1
                continue
            if nxt is not None and nxt.text == "(":
                i += 1  # a function or aggregation name
                continue
            if word in AGGREGATIONS and nxt is not None and nxt.text.lower() in ("by", "without"):
                i += 1  # ``sum by (...) (...)``: the grouping comes next
                continue
            if nxt is not None and nxt.text == "{":
                matchers, i = _matchers(tokens, i + 1)
                out.append(Selector(tok.text, matchers))
                continue
            out.append(Selector(tok.text))
            i += 1
            continue
        if tok.text == "{":
            matchers, i = _matchers(tokens, i)
            names = [v for label, op, v in matchers if label == "__name__" and op == "="]
            rest = tuple(m for m in matchers if m[0] != "__name__")
            out.append(Selector(names[0] if names else None, rest))
            continue
        if tok.text == "@" and nxt is not None and nxt.kind == "ident":
            i += 2  # @ start() / @ end()
            continue
        i += 1
    return out


def metric_names(expr: str) -> set[str]:
    """The metric names an expression reads (selectors without a name are ignored)."""
    return {s.name for s in selectors(expr) if s.name is not None}
