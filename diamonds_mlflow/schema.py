"""The one definition of a diamond: columns, dtypes, category orders and physical ranges.

Data cleaning, the model signature and the served model's request validation all read
this module, so they cannot disagree about what a valid diamond is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Numeric:
    """A measured quantity; valid values lie in (low, high]."""

    name: str
    low: float
    high: float
    unit: str

    def describe(self) -> str:
        return f"a number greater than {self.low:g} and at most {self.high:g} {self.unit}"


@dataclass(frozen=True)
class Category:
    """An ordered grade; `levels` run from worst to best."""

    name: str
    levels: tuple[str, ...]

    def describe(self) -> str:
        return "one of " + ", ".join(self.levels)


# The upper bounds are generous physical limits, not the data's maxima: a 10-carat round
# stone is about 14 mm across, so 20 mm rejects typos such as y = 58.9 while accepting
# any diamond a dealer lists.
FEATURES: tuple[Numeric | Category, ...] = (
    Numeric("carat", 0, 10, "carat"),
    Category("cut", ("Fair", "Good", "Very Good", "Premium", "Ideal")),
    Category("color", ("J", "I", "H", "G", "F", "E", "D")),
    Category("clarity", ("I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF")),
    Numeric("depth", 0, 100, "%"),
    Numeric("table", 0, 100, "%"),
    Numeric("x", 0, 20, "mm"),
    Numeric("y", 0, 20, "mm"),
    Numeric("z", 0, 20, "mm"),
)
TARGET = Numeric("price", 0, 1_000_000, "USD")
PREDICTIONS = ("price", "price_low", "price_high")

FEATURE_NAMES = tuple(f.name for f in FEATURES)
COLUMNS = FEATURE_NAMES + (TARGET.name,)
CATEGORIES = {f.name: f for f in FEATURES if isinstance(f, Category)}
NUMERICS = {f.name: f for f in FEATURES if isinstance(f, Numeric)}
SPEC = {f.name: f for f in FEATURES + (TARGET,)}


class SchemaError(ValueError):
    """Input that does not fit the schema; the message is written for the person who sent it."""


@dataclass(frozen=True)
class Problem:
    """One kind of fault in one column, with the (0-based) rows where it occurs."""

    column: str
    kind: str
    rows: np.ndarray
    examples: tuple[str, ...] = ()

    def message(self, max_rows: int = 5) -> str:
        shown = ", ".join(str(r) for r in self.rows[:max_rows])
        more = f" and {len(self.rows) - max_rows} more" if len(self.rows) > max_rows else ""
        noun = "row" if len(self.rows) == 1 else "rows"
        found = f" (got {', '.join(self.examples)})" if self.examples else ""
        expected = SPEC[self.column].describe()
        return f"'{self.column}' {self.kind} at {noun} {shown}{more}{found}; expected {expected}"


def check_columns(frame: pd.DataFrame, names: tuple[str, ...] = FEATURE_NAMES) -> None:
    """Fail, naming every one, when columns are missing."""
    missing = [name for name in names if name not in frame.columns]
    if missing:
        raise SchemaError(f"missing column(s): {', '.join(missing)}; required: {', '.join(names)}")


def check_dtypes(frame: pd.DataFrame, names: tuple[str, ...] = COLUMNS) -> None:
    """Fail, naming every one, when a column has the wrong kind of values (a raw table's check)."""
    wrong = []
    for name in names:
        numeric = pd.api.types.is_numeric_dtype(frame[name]) and frame[name].dtype != bool
        if isinstance(SPEC[name], Numeric) and not numeric:
            wrong.append(f"{name} should be numeric but is {frame[name].dtype}")
        elif isinstance(SPEC[name], Category) and numeric:
            wrong.append(f"{name} should be text but is {frame[name].dtype}")
    if wrong:
        raise SchemaError("wrong column type(s): " + "; ".join(wrong))


# An example in a message is cut to this many characters: a request may hold a megabyte of text
# in one cell, and the answer should not echo it back.
EXAMPLE_CHARS = 40


def _shown(value) -> str:
    """A sent value as the sender wrote it: 5, not 5.0; a JSON object as JSON; long text cut."""
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and abs(value) < 1e15:
        text = str(int(value))
    elif isinstance(value, (dict, list)):
        text = json.dumps(value, default=str)
    else:
        text = str(value)
    return text if len(text) <= EXAMPLE_CHARS else text[:EXAMPLE_CHARS] + "…"


def _examples(values: pd.Series, rows: np.ndarray, limit: int = 3) -> tuple[str, ...]:
    distinct = dict.fromkeys(_shown(v) for v in values.iloc[rows[:50]])
    return tuple(f"'{v}'" for v in list(distinct)[:limit])


def _floats(series: pd.Series) -> tuple[np.ndarray, np.ndarray | None]:
    """Float values of a column, and where it held text that is not a number (None: nowhere)."""
    if series.dtype.kind in "fiu":
        # What the served model always gets (MLflow has cast to float64): no copy, no scan.
        return series.to_numpy(dtype=np.float64, copy=False), None
    if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
        return series.to_numpy(dtype=np.float64, na_value=np.nan), None
    values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    return values, np.isnan(values) & ~series.isna().to_numpy()


def _problems(series: pd.Series, column: str, faults) -> list[Problem]:
    """A Problem for each (mask, kind, show examples) that marks any row."""
    problems = []
    for mask, kind, show in faults:
        rows = np.flatnonzero(mask)
        if rows.size:
            problems.append(Problem(column, kind, rows, _examples(series, rows) if show else ()))
    return problems


def numeric_values(series: pd.Series, spec: Numeric) -> tuple[np.ndarray, list[Problem]]:
    """Float values of one column and the faults found in it (text, missing, out of range)."""
    values, text = _floats(series)
    finite = np.isfinite(values)
    outside = finite & ((values <= spec.low) | (values > spec.high))
    if text is None and finite.all() and not outside.any():
        return values, []  # the usual case: one pass, nothing else to look for
    text = np.zeros(len(values), dtype=bool) if text is None else text
    faults = (
        (text, "is not a number", True),
        (np.isnan(values) & ~text, "is missing (null or NaN)", False),
        (np.isinf(values), "is infinite", False),
        (outside, "is out of range", True),
    )
    return values, _problems(series, spec.name, faults)


def _level_lookup(spec: Category) -> dict[str, int]:
    return {level.casefold(): code for code, level in enumerate(spec.levels)}


# Up to this many rows a plain Python pass beats factorize's fixed cost (a request of a few rows).
FEW_ROWS = 32


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, (float, np.floating)) and value != value)


def _distinct_keys(series: pd.Series) -> tuple[np.ndarray, list]:
    """A key per row into the column's distinct values (-1 for a null), so that only the few
    distinct values are normalised, not every row."""
    try:
        return _hashed_keys(series)
    except TypeError:  # a JSON list or object in a grade column: compare it by its text
        as_text = [None if _missing(v) else str(v) for v in series.tolist()]
        return _hashed_keys(pd.Series(as_text, dtype=object))


def _hashed_keys(series: pd.Series) -> tuple[np.ndarray, list]:
    if len(series) > FEW_ROWS:
        return series.array.factorize()
    seen: dict = {}
    keys = [-1 if _missing(v) else seen.setdefault(v, len(seen)) for v in series.tolist()]
    return np.array(keys, dtype=np.intp), list(seen)


def category_codes(series: pd.Series, spec: Category) -> tuple[np.ndarray, list[Problem]]:
    """Integer grades (0 = worst) of one column, matched regardless of case and spaces."""
    keys, distinct = _distinct_keys(series)
    lookup = _level_lookup(spec)
    known = [lookup.get(str(value).strip().casefold(), -1) for value in distinct]
    codes = np.array(known + [-1], dtype=np.int8)[keys]
    if codes.min(initial=0) >= 0:
        return codes, []
    faults = (
        (keys < 0, "is missing (null)", False),
        ((codes < 0) & (keys >= 0), "has an unknown category", True),
    )
    return codes, _problems(series, spec.name, faults)


def column_values(frame: pd.DataFrame, names: tuple[str, ...] = FEATURE_NAMES):
    """Each named column as a numpy array (floats or grade codes), plus every fault found."""
    values, problems = {}, []
    for name in names:
        spec = SPEC[name]
        convert = numeric_values if isinstance(spec, Numeric) else category_codes
        values[name], found = convert(frame[name], spec)
        problems.extend(found)
    return values, problems


MAX_REPORTED_PROBLEMS = 20


def validated_values(frame: pd.DataFrame, names: tuple[str, ...] = FEATURE_NAMES):
    """Column arrays of a table that must be entirely valid; else one error listing every fault."""
    missing = [name for name in names if name not in frame.columns]
    values, problems = column_values(frame, tuple(n for n in names if n not in missing))
    if missing or problems:
        raise SchemaError(problems_message(missing, problems))
    return values


def problems_message(missing: list[str], problems: list[Problem]) -> str:
    """All faults of one input in one sentence, capped, rows counted as a client counts them."""
    faults = [f"missing column '{name}'" for name in missing]
    if missing:
        # MLflow passes on only the columns the signature names, so a near miss never arrives.
        faults[-1] += " (column names must match exactly: case and spaces count)"
    faults += [problem.message() for problem in problems]
    shown = faults[:MAX_REPORTED_PROBLEMS]
    if len(faults) > len(shown):
        shown.append(f"and {len(faults) - len(shown)} more problems")
    counting = " (rows are counted from 0)" if problems else ""
    return f"{len(faults)} problem(s) in the input{counting}: " + "; ".join(shown)


def input_signature():
    """The MLflow model signature: categories as strings, measurements as doubles, prices as
    whole dollars."""
    from mlflow.models import ModelSignature
    from mlflow.types.schema import ColSpec, Schema

    # Columns are optional in the signature so that the model itself reports every missing
    # column at once, in plain words, instead of MLflow stopping at its first complaint.
    inputs = Schema(
        [
            ColSpec("string" if isinstance(f, Category) else "double", f.name, required=False)
            for f in FEATURES
        ]
    )
    outputs = Schema([ColSpec("long", name) for name in PREDICTIONS])  # whole US dollars
    return ModelSignature(inputs=inputs, outputs=outputs)
