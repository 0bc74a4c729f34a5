"""``python -m tools.bench.compare BASE PR``: a pull request's benchmark against its base's.

Reads two result files written by the same benchmark on the same machine, in the same
CI job: the base branch's model config measured first, the pull request's second.

- ``make bench-batching`` (``batching.json``, :mod:`tools.bench.batching`): per model,
  the shipped arm's **peak throughput** (``shipped_peak_throughput``) and its **p99 at
  the operating point**, the concurrency at which the base reached its peak throughput
  (from ``points``; the level a capacity plan would run at).
- ``make bench-llm`` (``results.json``, tools/bench/llm.py): output **tokens/s**, **TTFT
  p99** and **ITL p99** at the operating point, the base's best concurrency within the
  SLO (``best_concurrency_within_slo``; the highest concurrency both swept when none
  held it), from the ``sweep-c<N>`` levels.

A folder is read as the ``batching.json`` or ``results.json`` inside it. The kind of
each file is told by its keys; both must be of the same kind.

Tolerances (percent, flags): a regression is a throughput (or tokens/s) drop of more
than ``--max-throughput-drop`` (default 10) or a latency rise (p99, TTFT p99, ITL p99)
of more than ``--max-latency-rise`` (default 15). Two runs on a shared CI runner differ
by a few percent with no change at all; the defaults sit above that noise and below
what a wrong batching setting costs. A model in one file only is listed, not judged.

Prints a markdown table; ``--markdown FILE`` appends it to FILE (the pull-request
comment) and, when ``$GITHUB_STEP_SUMMARY`` is set, to the job summary too.
Exit status: 0 no regression; 1 a regression beyond the tolerance; 2 a file is missing,
unreadable or not a benchmark result (the message names the file and the key).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

EXIT_REGRESSION = 1
EXIT_BAD_INPUT = 2

DEFAULT_THROUGHPUT_DROP = 10.0
DEFAULT_LATENCY_RISE = 15.0

BATCHING, LLM = "batching", "llm"
FILE_NAMES = {BATCHING: "batching.json", LLM: "results.json"}
TITLES = {
    BATCHING: "Dynamic batching (`make bench-batching`, perf_analyzer on Triton)",
    LLM: "LLM serving (`make bench-llm`, aiperf on vLLM)",
}
SWEEP_PREFIX = "sweep-c"
"""tools/bench/llm.py names its concurrency sweep's levels ``sweep-c<N>``."""


class BadInput(Exception):
    """A result file that cannot be compared; the message names the file and the key."""


@dataclass(frozen=True)
class Tolerance:
    throughput_drop_pct: float = DEFAULT_THROUGHPUT_DROP
    latency_rise_pct: float = DEFAULT_LATENCY_RISE


@dataclass(frozen=True)
class Check:
    """One figure of one model, base against pull request."""

    model: str
    metric: str
    unit: str
    base: float | None
    pr: float | None
    higher_is_better: bool
    limit_pct: float
    """The change beyond which this figure is a regression (percent, always positive)."""

    @property
    def change_pct(self) -> float | None:
        if self.base is None or self.pr is None or self.base == 0:
            return None
        return (self.pr - self.base) / self.base * 100

    @property
    def regressed(self) -> bool:
        change = self.change_pct
        if change is None:
            return False
        worse = -change if self.higher_is_better else change
        return worse > self.limit_pct


@dataclass(frozen=True)
class Comparison:
    kind: str
    checks: list[Check]
    levels: list[list[str]]
    """The whole sweep, one row per model and concurrency (shown folded)."""
    level_headers: list[str]
    notes: list[str]

    @property
    def regressions(self) -> list[Check]:
        return [c for c in self.checks if c.regressed]


# ---------------------------------------------------------------------------
# Reading


def load(path: Path) -> tuple[str, dict[str, Any], Path]:
    """The kind, the document and the file actually read (a folder's result file)."""
    if path.is_dir():
        found = [path / n for n in FILE_NAMES.values() if (path / n).is_file()]
        if len(found) != 1:
            names = " or ".join(FILE_NAMES.values())
            raise BadInput(f"{path}: expected exactly one of {names} in the folder")
        path = found[0]
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise BadInput(f"{path}: cannot be read ({exc})") from None
    except json.JSONDecodeError as exc:
        raise BadInput(f"{path}: not JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(doc, dict):
        raise BadInput(f"{path}: expected a JSON object (got {type(doc).__name__})")
    if "models" in doc and "points" in doc:
        return BATCHING, doc, path
    if "levels" in doc:
        return LLM, doc, path
    raise BadInput(
        f"{path}: not a benchmark result: expected the keys 'models' and 'points' "
        f"(batching.json) or 'levels' (results.json); got {sorted(doc)}"
    )


def field(path: Path, where: str, row: Mapping[str, Any], key: str) -> Any:
    if key not in row:
        raise BadInput(f"{path}: {where}: missing key {key!r}")
    return row[key]


def number(path: Path, where: str, row: Mapping[str, Any], key: str) -> float | None:
    """A figure, or None where the benchmark recorded none (null)."""
    value = field(path, where, row, key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise BadInput(f"{path}: {where}.{key}: expected a number (got {value!r})")
    return float(value)


def mapping(doc: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    """An optional object of the document (descriptive: machine, model), else empty."""
    value = doc.get(key)
    return value if isinstance(value, dict) else {}


def rows(path: Path, doc: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = doc[key]
    if not isinstance(value, list) or not all(isinstance(r, dict) for r in value):
        raise BadInput(f"{path}: {key}: expected a list of objects")
    return value


# ---------------------------------------------------------------------------
# make bench-batching


@dataclass(frozen=True)
class BatchingRun:
    path: Path
    peak: dict[str, float | None]
    """Per model, the shipped arm's peak throughput (infer/s)."""
    shipped: dict[str, dict[int, tuple[float, float]]]
    """Per model and concurrency, the shipped arm's (throughput, p99 ms)."""

    @classmethod
    def read(cls, path: Path, doc: Mapping[str, Any]) -> BatchingRun:
        peak = {}
        for i, m in enumerate(rows(path, doc, "models")):
            name = str(field(path, f"models[{i}]", m, "model"))
            peak[name] = number(path, f"models[{i}]", m, "shipped_peak_throughput")
        shipped: dict[str, dict[int, tuple[float, float]]] = {}
        for i, p in enumerate(rows(path, doc, "points")):
            where = f"points[{i}]"
            if field(path, where, p, "arm") != "shipped":
                continue
            model = str(field(path, where, p, "model"))
            concurrency = int(number(path, where, p, "concurrency") or 0)
            throughput = number(path, where, p, "throughput") or 0.0
            p99 = number(path, where, p, "p99_ms") or 0.0
            shipped.setdefault(model, {})[concurrency] = (throughput, p99)
        return cls(path, peak, shipped)


def compare_batching(base: BatchingRun, pr: BatchingRun, tol: Tolerance) -> Comparison:
    checks: list[Check] = []
    levels: list[list[str]] = []
    notes: list[str] = []
    for model in sorted(base.peak.keys() | pr.peak.keys()):
        if model not in base.peak or model not in pr.peak:
            side = "pull request" if model in pr.peak else "base"
            notes.append(f"`{model}` is measured on the {side} only: listed, not judged.")
        checks.append(
            Check(
                model,
                "peak throughput",
                "infer/s",
                base.peak.get(model),
                pr.peak.get(model),
                higher_is_better=True,
                limit_pct=tol.throughput_drop_pct,
            )
        )
        b_points, p_points = base.shipped.get(model, {}), pr.shipped.get(model, {})
        if b_points:
            at = max(b_points, key=lambda c: b_points[c][0])
            checks.append(
                Check(
                    model,
                    f"p99 at concurrency {at}",
                    "ms",
                    b_points[at][1],
                    p_points[at][1] if at in p_points else None,
                    higher_is_better=False,
                    limit_pct=tol.latency_rise_pct,
                )
            )
        for c in sorted(b_points.keys() | p_points.keys()):
            row = [model, str(c)]
            for i in (0, 1):  # throughput, p99
                b = b_points[c][i] if c in b_points else None
                p = p_points[c][i] if c in p_points else None
                row += [fmt(b), fmt(p), pct(b, p)]
            levels.append(row)
    headers = ["model", "concurrency", "base infer/s", "PR infer/s", "change"]
    headers += ["base p99 ms", "PR p99 ms", "change"]
    return Comparison(BATCHING, checks, levels, headers, notes)


# ---------------------------------------------------------------------------
# make bench-llm


@dataclass(frozen=True)
class LlmLevel:
    tokens_per_s: float | None
    ttft_p99_ms: float | None
    itl_p99_ms: float | None


@dataclass(frozen=True)
class LlmRun:
    path: Path
    model: str
    best: int | None
    sweep: dict[int, LlmLevel]

    @classmethod
    def read(cls, path: Path, doc: Mapping[str, Any]) -> LlmRun:
        model_doc = mapping(doc, "model")
        name = str(model_doc.get("served_model_name") or "llm")
        if model_doc.get("variant"):
            name += f" ({model_doc['variant']})"
        best = doc.get("best_concurrency_within_slo")
        if best is not None and (isinstance(best, bool) or not isinstance(best, int)):
            raise BadInput(f"{path}: best_concurrency_within_slo: expected an integer or null")
        sweep: dict[int, LlmLevel] = {}
        for i, lv in enumerate(rows(path, doc, "levels")):
            where = f"levels[{i}]"
            if not str(field(path, where, lv, "run")).startswith(SWEEP_PREFIX):
                continue  # the prefix-cache arms and the max-num-seqs 1 baseline
            concurrency = int(number(path, where, lv, "concurrency") or 0)
            sweep[concurrency] = LlmLevel(
                number(path, where, lv, "output_tok_s"),
                number(path, where, lv, "ttft_p99_ms"),
                number(path, where, lv, "itl_p99_ms"),
            )
        if not sweep:
            raise BadInput(f"{path}: levels: no concurrency sweep ({SWEEP_PREFIX}<N>) in the file")
        return cls(path, name, best, sweep)


def compare_llm(base: LlmRun, pr: LlmRun, tol: Tolerance) -> Comparison:
    notes = []
    common = sorted(base.sweep.keys() & pr.sweep.keys())
    if base.best is not None and base.best in common:
        at, why = base.best, "the base's best concurrency within the SLO"
    elif common:
        at, why = common[-1], "the highest concurrency both swept (the base held no SLO level)"
    else:
        at, why = None, ""
        notes.append("The two runs share no concurrency level: nothing is judged.")
    if at is not None:
        notes.append(f"Judged at concurrency {at}: {why}.")
    if base.model != pr.model:
        notes.append(f"The runs serve different models: base {base.model}, PR {pr.model}.")
    checks: list[Check] = []
    if at is not None:
        b, p = base.sweep[at], pr.sweep[at]
        metrics: Sequence[tuple[str, str, Callable[[LlmLevel], float | None], bool, float]] = (
            ("output tokens/s", "tok/s", lambda x: x.tokens_per_s, True, tol.throughput_drop_pct),
            ("TTFT p99", "ms", lambda x: x.ttft_p99_ms, False, tol.latency_rise_pct),
            ("ITL p99", "ms", lambda x: x.itl_p99_ms, False, tol.latency_rise_pct),
        )
        for metric, unit, get, higher, limit in metrics:
            checks.append(
                Check(
                    pr.model,
                    f"{metric} at concurrency {at}",
                    unit,
                    get(b),
                    get(p),
                    higher_is_better=higher,
                    limit_pct=limit,
                )
            )
    levels = []
    for c in sorted(base.sweep.keys() | pr.sweep.keys()):
        bl, pl = base.sweep.get(c), pr.sweep.get(c)
        row = [pr.model, str(c)]
        for get in (
            lambda x: x.tokens_per_s,
            lambda x: x.ttft_p99_ms,
            lambda x: x.itl_p99_ms,
        ):
            bv, pv = (get(bl) if bl else None), (get(pl) if pl else None)
            row += [fmt(bv), fmt(pv), pct(bv, pv)]
        levels.append(row)
    headers = ["model", "concurrency"]
    for name in ("tok/s", "TTFT p99 ms", "ITL p99 ms"):
        headers += [f"base {name}", f"PR {name}", "change"]
    return Comparison(LLM, checks, levels, headers, notes)


# ---------------------------------------------------------------------------
# Output


def fmt(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"


def pct(base: float | None, pr: float | None) -> str:
    if base is None or pr is None or base == 0:
        return "-"
    return f"{(pr - base) / base * 100:+.1f} %"


def table(headers: list[str], body: list[list[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "|".join("---" for _ in headers) + "|",
        *("| " + " | ".join(r) + " |" for r in body),
    ]


def verdict(check: Check) -> str:
    if check.change_pct is None:
        return "not judged"
    if check.regressed:
        return f"**regression** (limit {check.limit_pct:g} %)"
    return "ok"


def machine_line(label: str, doc: Mapping[str, Any]) -> str:
    host = mapping(doc, "machine")
    return (
        f"{label}: {doc.get('measured_at', '?')} on {host.get('cpu', '?')} x{host.get('cpus', '?')}"
        f", load {host.get('loadavg_1m_at_start', '?')} at start"
    )


def markdown(
    comparison: Comparison,
    tol: Tolerance,
    base_doc: Mapping[str, Any],
    pr_doc: Mapping[str, Any],
) -> str:
    body = [
        (c.model, f"{c.metric} ({c.unit})", fmt(c.base), fmt(c.pr), pct(c.base, c.pr), verdict(c))
        for c in comparison.checks
    ]
    n = len(comparison.regressions)
    lines = [
        f"### {TITLES[comparison.kind]}: pull request against base",
        "",
        (f"**{n} regression{'s' if n != 1 else ''}**" if n else "No regression")
        + f" beyond the tolerance: throughput drop up to {tol.throughput_drop_pct:g} %, "
        f"latency rise up to {tol.latency_rise_pct:g} % (`tools/bench/compare.py`).",
        "",
        *table(["model", "figure", "base", "PR", "change", "verdict"], [list(r) for r in body]),
        "",
        *(f"- {note}" for note in comparison.notes),
        f"- {machine_line('base', base_doc)}",
        f"- {machine_line('PR', pr_doc)}",
        "",
        "<details><summary>Every concurrency level</summary>",
        "",
        *table(comparison.level_headers, comparison.levels),
        "",
        "</details>",
        "",
    ]
    return "\n".join(lines)


def compare(base_path: Path, pr_path: Path, tol: Tolerance) -> tuple[Comparison, str]:
    base_kind, base_doc, base_file = load(base_path)
    pr_kind, pr_doc, pr_file = load(pr_path)
    if base_kind != pr_kind:
        raise BadInput(
            f"{pr_file}: a `make bench-{pr_kind}` result, but {base_file} is a "
            f"`make bench-{base_kind}` result: compare two runs of the same benchmark"
        )
    if base_kind == BATCHING:
        result = compare_batching(
            BatchingRun.read(base_file, base_doc), BatchingRun.read(pr_file, pr_doc), tol
        )
    else:
        result = compare_llm(LlmRun.read(base_file, base_doc), LlmRun.read(pr_file, pr_doc), tol)
    return result, markdown(result, tol, base_doc, pr_doc)


def percent(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a percentage like 10 (got {text!r})") from None
    if not 0 <= value < 1000:
        raise argparse.ArgumentTypeError(f"expected a percentage from 0 to 1000 (got {text!r})")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m tools.bench.compare", description=__doc__.splitlines()[0]
    )
    p.add_argument("base", type=Path, help="the base's batching.json or results.json (or folder)")
    p.add_argument("pr", type=Path, help="the pull request's, from the same benchmark")
    p.add_argument(
        "--max-throughput-drop",
        type=percent,
        default=DEFAULT_THROUGHPUT_DROP,
        metavar="PCT",
        help=f"largest throughput/tokens-per-second drop that passes (default "
        f"{DEFAULT_THROUGHPUT_DROP:g})",
    )
    p.add_argument(
        "--max-latency-rise",
        type=percent,
        default=DEFAULT_LATENCY_RISE,
        metavar="PCT",
        help=f"largest p99/TTFT p99/ITL p99 rise that passes (default {DEFAULT_LATENCY_RISE:g})",
    )
    p.add_argument(
        "--markdown", type=Path, metavar="FILE", help="append the table to FILE (the PR comment)"
    )
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tol = Tolerance(args.max_throughput_drop, args.max_latency_rise)
    try:
        result, text = compare(args.base, args.pr, tol)
    except BadInput as exc:
        print(f"compare: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(text)
    targets = [args.markdown] if args.markdown else []
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        targets.append(Path(os.environ["GITHUB_STEP_SUMMARY"]))
    for target in targets:
        try:
            with target.open("a", encoding="utf-8") as f:
                f.write(text + "\n")
        except OSError as exc:
            print(f"compare: cannot write {target}: {exc}", file=sys.stderr)
            return EXIT_BAD_INPUT
    return EXIT_REGRESSION if result.regressions else 0


if __name__ == "__main__":
    sys.exit(main())
