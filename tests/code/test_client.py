"""The REST client's own logic: what it sends, how it reads refusals, its command line.

Its round trips with a real `mlflow models serve` are in tests/integration/test_serving.py.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import requests

from diamonds_mlflow import client
from diamonds_mlflow.local_server import free_port

ROW = {"carat": 0.3, "cut": "Ideal", "color": "E", "clarity": "SI1",
       "depth": 61.5, "table": 55.0, "x": 4.3, "y": 4.35, "z": 2.68}


def response(status: int, body: str | dict) -> requests.Response:
    made = requests.Response()
    made.status_code = status
    made._content = (json.dumps(body) if isinstance(body, dict) else body).encode()
    return made


def test_a_dataframe_is_sent_split_with_categories_as_labels_and_nulls_as_null():
    frame = pd.DataFrame([ROW, ROW | {"carat": np.nan, "cut": None, "x": np.inf}])
    frame["cut"] = frame["cut"].astype("category")
    frame["table"] = frame["table"].astype(np.int64)
    sent = json.loads(client.request_body(frame).replace("Infinity", '"inf"'))["dataframe_split"]
    assert sent["columns"] == list(ROW)
    assert sent["data"][0] == [0.3, "Ideal", "E", "SI1", 61.5, 55, 4.3, 4.35, 2.68]
    assert sent["data"][1][:2] == [None, None] and sent["data"][1][6] == "inf"


def test_a_list_of_rows_is_sent_as_records_with_numpy_values_made_plain():
    sent = json.loads(client.request_body([ROW | {"carat": np.float32(0.5), "depth": np.int64(61)}]))
    assert sent == {"dataframe_records": [ROW | {"carat": 0.5, "depth": 61}]}


def test_the_model_s_message_is_taken_from_mlflow_s_wrapping():
    ours = "1 problem(s) in the input (rows are counted from 0): 'cut' has an unknown category"
    wrapped = f"Failed to predict data '   carat  cut\\n0    0.3  x\n1  0.4  y'. \nError: {ours}"
    refusal = response(400, {"error_code": "INVALID_PARAMETER_VALUE", "message": wrapped})
    assert client.server_message(refusal) == ours


def test_mlflow_s_own_refusals_and_plain_text_ones_are_kept_whole():
    own = "Invalid input. Data is not compatible with model signature."
    assert client.server_message(response(400, {"message": own})) == own
    assert client.server_message(response(415, "This predictor only supports ...\n")) == \
        "This predictor only supports ..."


def test_the_server_address_may_be_given_with_or_without_the_endpoint():
    for url in ("http://h:5000", "http://h:5000/", "http://h:5000/invocations"):
        assert client.invocations_url(url) == "http://h:5000/invocations"


def test_rows_are_read_from_csv_and_json_files(tmp_path):
    for separator in (",", ";", "\t"):
        pd.DataFrame([ROW, ROW]).to_csv(tmp_path / "rows.csv", index=False, sep=separator)
        assert client.read_rows(str(tmp_path / "rows.csv")).to_dict(orient="records") == [ROW, ROW]
    (tmp_path / "rows.json").write_text(json.dumps([ROW, ROW]))
    assert len(client.read_rows(str(tmp_path / "rows.json"))) == 2


def test_the_command_reports_an_unreachable_server_in_one_line_and_exits_1(tmp_path, capsys):
    pd.DataFrame([ROW]).to_csv(tmp_path / "rows.csv", index=False)
    code = client.main([str(tmp_path / "rows.csv"), "--url", f"http://127.0.0.1:{free_port()}",
                        "--timeout", "5"])
    assert code == 1
    error = capsys.readouterr().err
    assert error.startswith("diamonds-predict: cannot reach http://127.0.0.1:")
    assert "is `mlflow models serve` running there?" in error and "Traceback" not in error
    assert "HTTPConnectionPool" not in error and len(error.splitlines()) == 1


def test_the_command_reports_a_missing_file_and_exits_1(tmp_path, capsys):
    assert client.main([str(tmp_path / "nowhere.csv")]) == 1
    assert "nowhere.csv" in capsys.readouterr().err


def test_the_command_names_a_file_it_cannot_parse_and_exits_1(tmp_path, capsys):
    (tmp_path / "bad.json").write_text('[{"carat": 0.3,')
    (tmp_path / "empty.csv").write_text("")
    for name in ("bad.json", "empty.csv"):
        assert client.main([str(tmp_path / name), "--url", f"http://127.0.0.1:{free_port()}"]) == 1
        error = capsys.readouterr().err
        assert error.startswith(f"diamonds-predict: cannot read rows from {tmp_path / name}: ")
        assert "Traceback" not in error


def test_rows_that_are_not_a_table_are_refused_before_any_request():
    for bad in ({"carat": 1.0}, "hello", [1, 2, 3]):
        with pytest.raises(TypeError, match="DataFrame or a list of dicts"):
            client.request_body(bad)
