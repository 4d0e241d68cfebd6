"""Data tests: the shipped data set, cleaning counts, the split."""

import gzip
import urllib.request

import numpy as np
import pandas as pd
import pytest

from diamonds_mlflow import data, schema


@pytest.fixture(scope="module")
def raw() -> pd.DataFrame:
    return data.load_bundled()


def test_bundled_copy_is_seaborns_file_byte_for_byte(tmp_path):
    copy = tmp_path / "diamonds.csv"
    copy.write_bytes(gzip.decompress(data.BUNDLED_FILE.read_bytes()))
    assert data.sha256_of(copy) == data.BUNDLED_SHA256


def test_loading_never_touches_the_network(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise AssertionError("the bundled data set must load without the network")

    monkeypatch.setattr(urllib.request, "urlopen", refuse)
    table = data.load_bundled(tmp_path)
    assert len(table) == 53_940


def test_a_corrupted_cache_is_replaced_by_the_checked_copy(tmp_path):
    (tmp_path / "diamonds.csv").write_text("carat,price\n1,2\n")
    assert len(data.load_bundled(tmp_path)) == 53_940


def test_raw_table_has_the_schema_columns_and_seaborns_categories(raw):
    assert set(schema.COLUMNS) <= set(raw.columns)
    for name, spec in schema.CATEGORIES.items():
        assert set(raw[name].cat.categories) == set(spec.levels)


def test_cleaning_drops_and_counts_the_known_quirks(raw):
    table, report = data.clean(raw)
    # README of the data: 20 rows with a zero dimension, 146 exact duplicates, and a few
    # implausible dimensions (y = 58.9, z = 31.8) beyond the schema's 20 mm.
    zero_dimension = ((raw[["x", "y", "z"]] == 0).any(axis=1)).sum()
    assert zero_dimension == 20
    too_large = ((raw[["x", "y", "z"]] > 20).any(axis=1)).sum()
    assert report.rows_in == len(raw)
    assert report.duplicates > 0
    assert report.invalid_rows >= zero_dimension
    assert sum(report.faults.values()) >= report.invalid_rows
    assert report.rows_out == len(table) < len(raw) - zero_dimension - too_large
    assert not table.duplicated().any()
    assert set(report.as_metrics()) >= {"rows_in", "rows_out", "dropped_duplicates"}


def test_cleaned_table_is_valid_against_the_schema(raw):
    table, _ = data.clean(raw)
    _, problems = schema.column_values(table, schema.COLUMNS)
    assert problems == []
    assert list(table["cut"].cat.categories) == list(schema.CATEGORIES["cut"].levels)


def test_split_is_reproducible_disjoint_and_sized(raw):
    table, _ = data.clean(raw)
    train, test = data.split(table, 0.25, seed=7)
    again, _ = data.split(table, 0.25, seed=7)
    other, _ = data.split(table, 0.25, seed=8)
    assert len(train) + len(test) == len(table)
    assert abs(len(test) / len(table) - 0.25) < 0.01
    pd.testing.assert_frame_equal(train, again)
    assert not train.equals(other)
    assert not pd.merge(train, test, how="inner").shape[0]


def test_csv_and_parquet_sources_load_the_same_table(raw, tmp_path):
    sample = raw.head(200).astype({name: str for name in schema.CATEGORIES})
    sample.to_csv(tmp_path / "prices.csv", index=False)
    sample.to_parquet(tmp_path / "prices.parquet", index=False)
    from_csv, _ = data.clean(data.load_table(str(tmp_path / "prices.csv")))
    from_parquet, _ = data.clean(data.load_table(f"file://{tmp_path / 'prices.parquet'}"))
    pd.testing.assert_frame_equal(from_csv, from_parquet)
    assert len(from_csv) == 200 - sample.duplicated().sum() - (sample[["x", "y", "z"]] == 0).any(axis=1).sum()


@pytest.mark.parametrize("name, content", [
    ("nowhere.csv", None),  # no such file
    ("notes.txt", "x"),  # not a table format
    ("empty.csv", ""),
    ("broken.parquet", "not parquet"),
])
def test_a_bad_source_is_a_one_line_data_error_naming_it(tmp_path, name, content):
    if content is not None:
        (tmp_path / name).write_text(content)
    with pytest.raises(data.DataError, match=name.replace(".", "\\.")):
        data.load_table(str(tmp_path / name))


def test_a_table_missing_columns_or_with_wrong_types_is_refused(raw):
    with pytest.raises(schema.SchemaError, match="missing column.*clarity.*price"):
        data.clean(raw.drop(columns=["clarity", "price"]))
    with pytest.raises(schema.SchemaError, match="carat should be numeric"):
        data.clean(raw.head(10).astype({"carat": str}))


def test_split_files_round_trip_with_ordered_grades(raw, tmp_path):
    table, _ = data.clean(raw.head(500))
    train, test = data.split(table, 0.2, 0)
    data.write_split(train, test, tmp_path / "data")
    train_back, test_back = data.load_split(str(tmp_path / "data"))
    pd.testing.assert_frame_equal(train_back, train)
    assert train_back["clarity"].cat.ordered
    assert np.array_equal(test_back["price"], test["price"])


def test_a_split_that_would_leave_a_side_empty_is_refused(raw):
    table, _ = data.clean(raw.head(1))
    with pytest.raises(data.DataError, match="non-empty"):
        data.split(table, 0.2, 0)
