"""Load, validate, clean and split diamond tables.

Computing functions take and return DataFrames; the few that touch files say so (`load_…`,
`write_…`).
"""

from __future__ import annotations

import gzip
import hashlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from diamonds_mlflow import schema

BUNDLED = "bundled"
BUNDLED_FILE = Path(__file__).parent / "data" / "diamonds.csv.gz"
# The sha256 of seaborn-data's diamonds.csv, which the bundled file decompresses to.
BUNDLED_SHA256 = "9574730b03aba241d899c4a97511c5061b19358fab89510774fb6c24168345c4"
SPLIT_FILES = {"training": "train.parquet", "testing": "test.parquet"}
DEFAULT_TEST_SIZE = 0.2
DEFAULT_SEED = 42


class DataError(ValueError):
    """A data source that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class CleaningReport:
    """How many rows cleaning dropped, and why; logged as metrics so nothing is silent."""

    rows_in: int
    rows_out: int
    duplicates: int
    invalid_rows: int
    faults: dict[str, int]  # rows per fault; a row with two faults counts in both

    def as_metrics(self) -> dict[str, int]:
        metrics = {"rows_in": self.rows_in, "rows_out": self.rows_out,
                   "dropped_duplicates": self.duplicates, "dropped_invalid": self.invalid_rows}
        metrics.update({f"invalid_{key}": count for key, count in self.faults.items()})
        return metrics


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def load_bundled(cache_dir: str | Path | None = None) -> pd.DataFrame:
    """The bundled copy of seaborn's diamonds, checked, and read through seaborn's own cache."""
    import seaborn

    cache = Path(cache_dir or tempfile.mkdtemp(prefix="diamonds-"))
    csv = cache / "diamonds.csv"
    if not csv.exists() or sha256_of(csv) != BUNDLED_SHA256:
        with gzip.open(BUNDLED_FILE, "rb") as src, open(csv, "wb") as dst:
            shutil.copyfileobj(src, dst)
    if sha256_of(csv) != BUNDLED_SHA256:
        raise DataError(f"the bundled data set {BUNDLED_FILE} is corrupt (sha256 mismatch)")
    # With the file already in data_home, seaborn reads it and never touches the network.
    return seaborn.load_dataset("diamonds", data_home=str(cache))


def load_table(source: str) -> pd.DataFrame:
    """A table from the bundled data, a local CSV/Parquet file, or any URI MLflow can fetch."""
    if source == BUNDLED:
        return load_bundled()
    path = fetch(source)
    readers = {".parquet": pd.read_parquet, ".csv": pd.read_csv, ".gz": pd.read_csv}
    if path.suffix not in readers:
        raise DataError(f"source {source!r}: expected a .csv, .csv.gz or .parquet file")
    try:
        return readers[path.suffix](path)
    except (ValueError, OSError) as error:  # pandas' and pyarrow's parse errors derive from these
        raise DataError(f"source {source!r} cannot be read as a table: {error}") from None


def is_uri(source: str) -> bool:
    return "://" in source or source.startswith(("runs:/", "models:/"))


def source_exists(source: str) -> bool:
    """Cheap check before any work: local files must exist; URIs are checked when fetched.

    A relative path is refused even when it exists: MLflow starts every step inside the
    project's folder (a fresh checkout when run from a Git URL), so it would name a file there
    rather than one beside the caller.
    """
    return source == BUNDLED or is_uri(source) or (
        Path(source).is_absolute() and Path(source).is_file())


def source_digest(source: str) -> str:
    """The sha256 of a source's bytes, so a changed price list is noticed even at the same path."""
    return BUNDLED_SHA256 if source == BUNDLED else sha256_of(fetch(source))


def fetch(uri: str) -> Path:
    """A local path for `uri`, downloading it with MLflow when it is remote."""
    if not is_uri(uri):
        if not Path(uri).is_absolute():
            raise DataError(f"{uri!r} is a relative path; steps run in the project's folder, "
                            "so give an absolute path or a URI")
        if not Path(uri).exists():
            raise DataError(f"{uri!r} does not exist (give an absolute path or a URI)")
        return Path(uri)
    import mlflow

    try:
        return Path(mlflow.artifacts.download_artifacts(artifact_uri=uri))
    except Exception as error:  # MLflow raises many kinds; the user needs only what and why
        raise DataError(f"cannot fetch {uri!r}: {error}") from error


def slug(words: str) -> str:
    """'has an unknown category' → 'unknown_category': a metric-name-safe fault name."""
    kept = [w for w in words.split("(")[0].split() if w not in ("is", "has", "a", "an")]
    return "_".join(kept)


def clean(raw: pd.DataFrame) -> tuple[pd.DataFrame, CleaningReport]:
    """Keep the schema's columns and drop impossible rows and exact duplicates, counting both."""
    schema.check_columns(raw, schema.COLUMNS)
    schema.check_dtypes(raw, schema.COLUMNS)
    table = raw[list(schema.COLUMNS)]
    _, problems = schema.column_values(table, schema.COLUMNS)
    bad = np.zeros(len(table), dtype=bool)
    faults: dict[str, int] = {}
    for problem in problems:
        key = f"{problem.column}_{slug(problem.kind)}"  # e.g. x_out_of_range
        faults[key] = faults.get(key, 0) + len(problem.rows)
        bad[problem.rows] = True
    valid = table[~bad]
    deduplicated = valid.drop_duplicates()
    report = CleaningReport(len(raw), len(deduplicated), len(valid) - len(deduplicated),
                            int(bad.sum()), faults)
    return canonical(deduplicated.reset_index(drop=True)), report


def canonical(table: pd.DataFrame) -> pd.DataFrame:
    """Grades as ordered categoricals with the schema's spelling, measurements as floats."""
    values, _ = schema.column_values(table, schema.COLUMNS)
    columns = {}
    for name in schema.COLUMNS:
        if name in schema.CATEGORIES:
            levels = schema.CATEGORIES[name].levels
            columns[name] = pd.Categorical.from_codes(values[name], levels, ordered=True)
        else:
            columns[name] = values[name]
    return pd.DataFrame(columns)


def split(table: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A reproducible random split into training and testing rows."""
    test = np.random.default_rng(seed).random(len(table)) < test_size
    if test.all() or not test.any():
        raise DataError(f"{len(table)} valid row(s) cannot be split into non-empty training and"
                        f" testing sets with test_size={test_size}")
    return table[~test].reset_index(drop=True), table[test].reset_index(drop=True)


def write_split(train: pd.DataFrame, test: pd.DataFrame, folder: Path) -> dict[str, Path]:
    """Write the split as Parquet files, keyed by MLflow's dataset context."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = {context: folder / name for context, name in SPLIT_FILES.items()}
    train.to_parquet(paths["training"], index=False)
    test.to_parquet(paths["testing"], index=False)
    return paths


def default_split() -> tuple[pd.DataFrame, pd.DataFrame]:
    """What `prepare` makes with its defaults; used when no prepared data is given."""
    table, _ = clean(load_bundled())
    return split(table, DEFAULT_TEST_SIZE, DEFAULT_SEED)


def load_split(uri: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The training and testing tables of a folder or artifact URI written by `write_split`."""
    folder = fetch(uri)
    paths = [folder / SPLIT_FILES[context] for context in ("training", "testing")]
    missing = [path.name for path in paths if not path.exists()]
    if missing:
        raise DataError(f"{uri!r} holds no {' or '.join(missing)}")
    return tuple(canonical(pd.read_parquet(path)) for path in paths)


def request_rows(table: pd.DataFrame) -> pd.DataFrame:
    """A table's feature columns as a client sends them: grades as plain strings.

    MLflow's signature check accepts text for a string column but not pandas' category dtype.
    """
    rows = table[list(schema.FEATURE_NAMES)]
    return rows.astype({name: str for name in schema.CATEGORIES})
