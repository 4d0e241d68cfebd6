import pytest

from diamonds_mlflow import cli


def test_a_users_mistake_is_one_line_on_stderr_and_exit_status_2(capsys):
    calls = []
    with pytest.raises(SystemExit) as exited:
        cli.main("train", lambda **values: calls.append(values), ["--max_depth", "abc"])
    assert exited.value.code == 2
    assert calls == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "max_depth" in err and "'abc'" in err


def test_good_parameters_reach_the_step_typed():
    calls = []
    cli.main("prepare", lambda **values: calls.append(values), ["--test_size", "0.3"])
    assert calls == [{"source": "bundled", "test_size": 0.3, "seed": 42}]
