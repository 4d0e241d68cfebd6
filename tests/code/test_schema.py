import numpy as np
import pandas as pd
import pytest

from diamonds_mlflow import schema

GOOD = {"carat": 0.5, "cut": "Ideal", "color": "E", "clarity": "VS1",
        "depth": 61.5, "table": 55.0, "x": 5.1, "y": 5.1, "z": 3.2}


def frame(*rows: dict) -> pd.DataFrame:
    return pd.DataFrame([GOOD | row for row in rows])


def test_grades_are_ordered_worst_to_best_as_gia_ranks_them():
    assert schema.CATEGORIES["cut"].levels[0] == "Fair"
    assert schema.CATEGORIES["cut"].levels[-1] == "Ideal"
    assert schema.CATEGORIES["color"].levels[-1] == "D"
    assert schema.CATEGORIES["clarity"].levels[0] == "I1"
    assert schema.CATEGORIES["clarity"].levels[-1] == "IF"


def test_a_valid_row_has_no_problems_and_grades_become_ranks():
    values, problems = schema.column_values(frame({}))
    assert problems == []
    assert values["cut"][0] == schema.CATEGORIES["cut"].levels.index("Ideal")
    assert values["carat"].dtype == np.float64


def test_grades_match_regardless_of_case_and_spaces():
    values, problems = schema.column_values(frame({"cut": " very GOOD ", "clarity": "vvs1"}))
    assert problems == []
    assert schema.CATEGORIES["cut"].levels[values["cut"][0]] == "Very Good"
    assert schema.CATEGORIES["clarity"].levels[values["clarity"][0]] == "VVS1"


def test_pandas_categorical_columns_are_read_by_their_labels():
    table = frame({}, {"color": "J"}).astype({"color": "category"})
    values, problems = schema.column_values(table)
    assert problems == []
    assert list(values["color"]) == [5, 0]


@pytest.mark.parametrize(
    "row, column, words",
    [
        ({"carat": 0.0}, "carat", "out of range"),
        ({"z": -1.0}, "z", "out of range"),
        ({"depth": 101.0}, "depth", "out of range"),
        ({"carat": None}, "carat", "missing"),
        ({"x": float("inf")}, "x", "infinite"),
        ({"table": "wide"}, "table", "not a number"),
        ({"cut": "Perfect"}, "cut", "unknown category"),
        ({"color": None}, "color", "missing"),
    ],
)
def test_each_fault_names_its_column_row_and_what_is_allowed(row, column, words):
    with pytest.raises(schema.SchemaError) as raised:
        schema.validated_values(frame({}, row))
    message = str(raised.value)
    assert f"'{column}'" in message and words in message and "row 1" in message
    assert "expected" in message


def test_unknown_category_message_lists_the_allowed_values():
    with pytest.raises(schema.SchemaError, match="Fair, Good, Very Good, Premium, Ideal"):
        schema.validated_values(frame({"cut": "Perfect"}))


def test_all_problems_of_a_table_are_reported_together():
    table = frame({"carat": -1}, {"cut": "?"}).drop(columns=["z", "y"])
    with pytest.raises(schema.SchemaError) as raised:
        schema.validated_values(table)
    message = str(raised.value)
    for part in ("'y'", "'z'", "'carat'", "'cut'", "4 problem(s)"):
        assert part in message


def test_the_number_of_reported_problems_is_capped():
    faults = [{name: None} for name in schema.FEATURE_NAMES]
    faults += [{name: -1.0} for name in schema.NUMERICS] + [{name: "?"} for name in schema.SPEC]
    with pytest.raises(schema.SchemaError) as raised:
        schema.validated_values(frame(*faults))
    message = str(raised.value)
    assert "more problems" in message
    assert message.count("expected") == schema.MAX_REPORTED_PROBLEMS


def refusal(table: pd.DataFrame) -> str:
    with pytest.raises(schema.SchemaError) as raised:
        schema.validated_values(table)
    return str(raised.value)


@pytest.mark.parametrize("rows", [2, schema.FEW_ROWS + 5])  # both ways of finding distinct grades
def test_a_list_or_an_object_in_a_grade_column_is_an_unknown_category(rows):
    table = frame(*([{}] * (rows - 2)), {"cut": {"a": 1}}, {"clarity": ["SI1", "VS1"]})
    message = refusal(table)
    assert f"'cut' has an unknown category at row {rows - 2} (got '{{\"a\": 1}}')" in message
    assert '(got \'["SI1", "VS1"]\')' in message
    assert f"'clarity' has an unknown category at row {rows - 1}" in message


def test_examples_are_shown_as_sent_and_long_text_is_cut_short():
    message = refusal(frame({"table": -5.0}, {"cut": "x" * 1_000_000}, {"depth": 100.5}))
    assert "(got '-5')" in message and "(got '100.5')" in message
    assert f"(got '{'x' * schema.EXAMPLE_CHARS}…')" in message and len(message) < 1000


def test_missing_columns_come_with_a_hint_that_names_must_match_exactly():
    message = refusal(frame({}).rename(columns={"cut": "Cut", "x": " x"}))
    assert "missing column 'cut'; missing column 'x' (column names must match exactly" in message


def test_missing_columns_and_wrong_dtypes_are_named():
    with pytest.raises(schema.SchemaError, match="missing column.*price"):
        schema.check_columns(frame({}), schema.COLUMNS)
    with pytest.raises(schema.SchemaError, match="carat should be numeric.*cut should be text"):
        schema.check_dtypes(frame({"carat": "big", "cut": 3}), schema.FEATURE_NAMES)


def test_signature_has_grades_as_strings_measurements_as_doubles_prices_as_longs():
    signature = schema.input_signature()
    types = {spec.name: spec.type.name for spec in signature.inputs.inputs}
    assert {types[name] for name in schema.CATEGORIES} == {"string"}
    assert {types[name] for name in schema.NUMERICS} == {"double"}
    assert [spec.name for spec in signature.outputs.inputs] == list(schema.PREDICTIONS)
    assert {spec.type.name for spec in signature.outputs.inputs} == {"long"}
