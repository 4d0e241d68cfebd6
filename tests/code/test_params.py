import pytest

from diamonds_mlflow import params
from diamonds_mlflow.model import ModelParams


def test_defaults_fill_what_is_not_given():
    values = params.parse("train", [])
    assert values["max_depth"] == ModelParams().max_depth
    assert values["registered_model"] == "diamonds"
    assert params.model_params(values) == ModelParams()


def test_whole_floats_and_exponents_are_accepted():
    values = params.parse("main", ["--max_depth", "3.0", "--test_size", "2e-1"])
    assert values["max_depth"] == 3 and isinstance(values["max_depth"], int)
    assert values["test_size"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    "entry_point, argv, named",
    [
        ("train", ["--max_depth", "abc"], "max_depth"),
        ("train", ["--max_depth", "0"], "max_depth"),
        ("train", ["--max_depth", "2.5"], "max_depth"),
        ("prepare", ["--test_size", "1.5"], "test_size"),
        ("prepare", ["--test_size", "nan"], "test_size"),
        ("train", ["--max_dept", "3"], "max_dept"),
        ("prepare", ["--source", "/no/such/file.csv"], "source"),
        ("evaluate", ["--promote", "yes"], "promote"),
    ],
)
def test_bad_values_and_unknown_names_fail_naming_the_parameter(entry_point, argv, named):
    with pytest.raises(params.ParameterError, match=named):
        params.parse(entry_point, argv)


def test_unknown_name_message_lists_the_known_ones():
    with pytest.raises(params.ParameterError, match="known: data, max_depth"):
        params.parse("train", ["--max_dept", "3"])
