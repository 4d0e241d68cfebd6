"""The one definition of a diamond: columns, dtypes, category orders and physical ranges.

Data cleaning, the model signature and the served model's request validation all read
this module, so they cannot disagree about what a valid diamond is.
"""

from __future__ import annotations

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


def _examples(values: pd.Series, rows: np.ndarray, limit: int = 3) -> tuple[str, ...]:
    distinct = dict.fromkeys(str(v) for v in values.iloc[rows[:50]])
    return tuple(f"'{v}'" for v in list(distinct)[:limit])


def numeric_values(series: pd.Series, spec: Numeric) -> tuple[np.ndarray, list[Problem]]:
    """Float values of one column and the faults found in it (text, missing, out of range)."""
    null = series.isna().to_numpy()
    if pd.api.types.is_numeric_dtype(series) and series.dtype != bool:
        values = series.to_numpy(dtype=np.float64, na_value=np.nan)
        text = np.zeros(len(values), dtype=bool)
    else:
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        text = np.isnan(values) & ~null
    with np.errstate(invalid="ignore"):
        outside = np.isfinite(values) & ((values <= spec.low) | (values > spec.high))
    faults = (
        (text, "is not a number", True),
        (null | (np.isnan(values) & ~text), "is missing (null or NaN)", False),
        (np.isinf(values), "is infinite", False),
        (outside, "is out of range", True),
    )
    problems = []
    for mask, kind, show in faults:
        rows = np.flatnonzero(mask)
        if rows.size:
            problems.append(Problem(spec.name, kind, rows, _examples(series, rows) if show else ()))
    return values, problems


def category_codes(series: pd.Series, spec: Category) -> tuple[np.ndarray, list[Problem]]:
    """Integer grades (0 = worst) of one column, matched regardless of case and spaces."""
    levels = [level.casefold() for level in spec.levels]
    if isinstance(series.dtype, pd.CategoricalDtype):
        # Map the few distinct categories, not every row: seaborn hands us this dtype.
        lookup = pd.Categorical(
            series.cat.categories.astype(str).str.strip().str.casefold(), categories=levels
        ).codes
        raw = series.cat.codes.to_numpy()
        codes = np.where(raw >= 0, lookup[raw], -1).astype(np.int8)
    else:
        keys = series.astype("string").str.strip().str.casefold()
        codes = pd.Categorical(keys, categories=levels).codes
    problems = []
    null = np.flatnonzero(series.isna().to_numpy())
    if null.size:
        problems.append(Problem(spec.name, "is missing (null)", null))
    unknown = np.setdiff1d(np.flatnonzero(codes < 0), null)
    if unknown.size:
        problems.append(
            Problem(spec.name, "has an unknown category", unknown, _examples(series, unknown))
        )
    return codes, problems


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
    faults = [f"missing column '{name}'" for name in missing]
    faults += [problem.message() for problem in problems]
    if faults:
        shown = faults[:MAX_REPORTED_PROBLEMS]
        if len(faults) > len(shown):
            shown.append(f"and {len(faults) - len(shown)} more problems")
        raise SchemaError(f"{len(faults)} problem(s) in the input: " + "; ".join(shown))
    return values


def input_signature():
    """The MLflow model signature: categories as strings, measurements as doubles."""
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
    outputs = Schema([ColSpec("double", name) for name in PREDICTIONS])
    return ModelSignature(inputs=inputs, outputs=outputs)
