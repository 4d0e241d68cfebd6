"""The serving contract, against a real `mlflow models serve -m models:/diamonds/Production`.

One server per module on a free loopback port, started from the session's trained store (read
only) and stopped at the end. Prices are never hard-coded: every path is compared with another.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from diamonds_mlflow import client, data, registry, schema
from diamonds_mlflow.local_server import ModelServer
from tests.conftest import BIN_DIR

pytestmark = pytest.mark.slow

PRODUCTION = "models:/diamonds/Production"
PLAIN_WORDS_ONLY = ("Traceback", "array(", "dtype", "np.float", "stack_trace")


@pytest.fixture(scope="module")
def server(trained_store):
    with ModelServer(PRODUCTION, cwd=trained_store.folder, env=trained_store.env()) as running:
        yield running
    assert running.process.returncode is not None


@pytest.fixture(scope="module")
def rows(split_tables) -> pd.DataFrame:
    """Twenty held-out diamonds as a client sends them (grades as text)."""
    return data.request_rows(split_tables[1].head(20))


def post(server, body, content_type="application/json") -> requests.Response:
    payload = body if isinstance(body, (str, bytes)) else json.dumps(body, allow_nan=True)
    return requests.post(f"{server.url}/invocations", data=payload,
                         headers={"Content-Type": content_type}, timeout=60)


def prices(response: requests.Response) -> pd.DataFrame:
    assert response.status_code == 200, response.text[:2000]
    predictions = response.json()["predictions"]
    assert all(set(p) == set(schema.PREDICTIONS) for p in predictions)
    return pd.DataFrame(predictions, columns=list(schema.PREDICTIONS))


def split(frame: pd.DataFrame) -> dict:
    return {"dataframe_split": frame.to_dict(orient="split", index=False)}


def records(frame: pd.DataFrame) -> dict:
    return {"dataframe_records": frame.to_dict(orient="records")}


def error_message(response: requests.Response, status: int = 400) -> str:
    assert response.status_code == status, response.text[:2000]
    message = client.server_message(response)
    for fragment in PLAIN_WORDS_ONLY:
        assert fragment not in message
    return message


# --- formats ---------------------------------------------------------------------------------

def every_format(frame: pd.DataFrame) -> dict[str, tuple[object, str]]:
    as_records = frame.to_dict(orient="records")
    return {
        "dataframe_split": (split(frame), "application/json"),
        "dataframe_records": (records(frame), "application/json"),
        "instances": ({"instances": as_records}, "application/json"),
        "inputs (records)": ({"inputs": as_records}, "application/json"),
        "inputs (columns)": ({"inputs": frame.to_dict(orient="list")}, "application/json"),
        "text/csv": (frame.to_csv(index=False), "text/csv"),
    }


def test_every_scoring_format_gives_one_price_per_row_and_the_same_prices(server, rows):
    answers = {name: prices(post(server, body, kind)) for name, (body, kind) in every_format(rows).items()}
    reference = answers.pop("dataframe_split")
    assert len(reference) == len(rows) and (reference["price_low"] < reference["price"]).all()
    for name, answer in answers.items():
        pd.testing.assert_frame_equal(answer, reference, obj=name)


def test_rows_come_back_in_order(server, rows):
    together = prices(post(server, split(rows)))
    one_by_one = pd.concat([prices(post(server, split(rows.iloc[[i]]))) for i in range(5)])
    pd.testing.assert_frame_equal(one_by_one.reset_index(drop=True), together.head(5))


def test_load_model_and_mlflow_models_predict_give_the_server_s_prices(server, rows, trained_store, tmp_path):
    import mlflow

    served = prices(post(server, split(rows)))
    client_ = trained_store.client()
    version = registry.production_version(client_, "diamonds").version
    local = client_.get_model_version_download_uri("diamonds", version)
    in_process = mlflow.pyfunc.load_model(local).predict(rows)
    pd.testing.assert_frame_equal(in_process.reset_index(drop=True), served)

    (tmp_path / "in.json").write_text(json.dumps(split(rows)))
    done = trained_store.mlflow("models", "predict", "-m", PRODUCTION, "-i", str(tmp_path / "in.json"),
                                "-t", "json", "-o", str(tmp_path / "out.json"), "--env-manager", "local")
    assert done.returncode == 0, done.stderr[-3000:]
    predicted = json.loads((tmp_path / "out.json").read_text())["predictions"]
    pd.testing.assert_frame_equal(pd.DataFrame(predicted, columns=list(schema.PREDICTIONS)), served)


# --- leniency --------------------------------------------------------------------------------

def integral(rows: pd.DataFrame) -> pd.DataFrame:
    """The rows with every measurement rounded to a whole number (still valid diamonds)."""
    whole = rows.copy()
    for name in schema.NUMERICS:
        whole[name] = whole[name].round().clip(lower=1).astype(int)
    return whole


LENIENT = {
    "columns in another order": lambda rows: rows[list(reversed(rows.columns))],
    "extra id and price columns": lambda rows: rows.assign(id=range(len(rows)), price=1),
    "grades in other case with spaces": lambda rows: rows.assign(
        cut=" " + rows["cut"].str.upper() + "  ", color=rows["color"].str.lower(),
        clarity="\t" + rows["clarity"].str.lower()),
}


@pytest.mark.parametrize("change", LENIENT)
def test_harmless_differences_do_not_change_the_answer(server, rows, change):
    expected = prices(post(server, split(rows)))
    for body in (split(LENIENT[change](rows)), records(LENIENT[change](rows))):
        pd.testing.assert_frame_equal(prices(post(server, body)), expected)


def test_integers_are_accepted_for_decimal_columns_in_json_and_csv(server, rows):
    whole = integral(rows)
    as_floats = prices(post(server, split(whole.astype({n: float for n in schema.NUMERICS}))))
    assert json.dumps(records(whole)).count(".") == 0  # really sent as JSON integers
    pd.testing.assert_frame_equal(prices(post(server, records(whole))), as_floats)
    pd.testing.assert_frame_equal(prices(post(server, whole.to_csv(index=False), "text/csv")), as_floats)
    mixed = pd.concat([whole.head(3).astype(object), rows.tail(3).astype(object)])
    expected = prices(post(server, split(pd.concat([whole.head(3).astype({n: float for n in schema.NUMERICS}),
                                                    rows.tail(3)]))))
    pd.testing.assert_frame_equal(prices(post(server, records(mixed))), expected)


def test_pandas_category_columns_work_through_the_client(server, split_tables):
    seaborn_like = split_tables[1].head(20)  # grades are pandas categoricals, price included
    assert isinstance(seaborn_like["cut"].dtype, pd.CategoricalDtype)
    as_text = prices(post(server, split(data.request_rows(seaborn_like))))
    pd.testing.assert_frame_equal(client.predict(seaborn_like, url=server.url), as_text)


@pytest.mark.parametrize("name", ["dataframe_split", "dataframe_records", "instances",
                                  "inputs (records)", "text/csv"])
def test_empty_input_gives_200_and_an_empty_list(server, rows, name):
    body, kind = every_format(rows.head(0))[name]
    response = post(server, body, kind)
    assert response.status_code == 200 and response.json() == {"predictions": []}


def test_a_thousand_rows_in_one_request(server, split_tables):
    many = data.request_rows(split_tables[1].head(1000))
    answer = prices(post(server, split(many)))
    assert len(answer) == 1000 and np.isfinite(answer.to_numpy()).all()
    pd.testing.assert_frame_equal(answer.tail(7).reset_index(drop=True),
                                  prices(post(server, split(many.tail(7)))))


# --- strictness ------------------------------------------------------------------------------

def spoiled(rows: pd.DataFrame, **cells) -> dict:
    """The first three rows as records, with (row, value) put into the named columns."""
    table = rows.head(3).astype(object).to_dict(orient="records")
    for column, (row, value) in cells.items():
        table[row][column] = value
    return {"dataframe_records": table}


@pytest.mark.parametrize("cells, words", [
    ({"carat": (1, None)}, ["'carat'", "missing", "row 1"]),
    ({"depth": (2, float("nan"))}, ["'depth'", "missing", "row 2"]),
    ({"x": (0, float("inf"))}, ["'x'", "infinite", "row 0"]),
    ({"carat": (1, 0)}, ["'carat'", "out of range", "row 1", "greater than 0"]),
    ({"z": (2, 0.0)}, ["'z'", "out of range", "row 2", "mm"]),
    ({"depth": (0, 101)}, ["'depth'", "out of range", "at most 100 %"]),
    ({"table": (0, -5)}, ["'table'", "out of range", "'-5'"]),
    ({"y": (1, 58.9)}, ["'y'", "out of range", "at most 20 mm"]),
    ({"cut": (1, "Perfect")}, ["'cut'", "unknown category", "'Perfect'", "Fair, Good, Very Good, Premium, Ideal"]),
    ({"clarity": (2, "SI3")}, ["'clarity'", "unknown category", "I1, SI2, SI1, VS2, VS1, VVS2, VVS1, IF"]),
    ({"color": (0, None)}, ["'color'", "missing", "row 0"]),
    ({"cut": (1, {"grade": "Ideal"})}, ["'cut'", "unknown category", "row 1", "Fair, Good"]),
    ({"clarity": (0, ["SI1", "VS1"])}, ["'clarity'", "unknown category", "row 0"]),
    ({"color": (2, "E" * 100_000)}, ["'color'", "unknown category", "row 2", "EEEE…'"]),
])
def test_each_invalid_value_is_a_400_naming_column_row_and_what_is_allowed(server, rows, cells, words):
    message = error_message(post(server, spoiled(rows, **cells)))
    assert message.startswith("1 problem(s) in the input (rows are counted from 0): ")
    for word in words:
        assert word in message


def test_all_problems_of_a_request_are_reported_together(server, rows):
    body = spoiled(rows, carat=(0, -1), cut=(1, "?"), depth=(2, None))
    for row in body["dataframe_records"]:
        del row["z"]
    message = error_message(post(server, body))
    assert message.startswith("4 problem(s)")
    for part in ("missing column 'z'", "'carat'", "'cut'", "'depth'"):
        assert part in message


def test_every_missing_column_is_named_at_once(server, rows):
    message = error_message(post(server, records(rows.drop(columns=["carat", "clarity"]))))
    assert "missing column 'carat'" in message and "missing column 'clarity'" in message


def test_many_bad_rows_are_capped_in_the_message(server, rows):
    many = pd.concat([rows] * 10, ignore_index=True).assign(carat=-1.0)
    message = error_message(post(server, split(many)))
    assert "rows 0, 1, 2, 3, 4 and 195 more" in message and len(message) < 1000


def test_text_in_a_numeric_column_is_refused_by_mlflow_itself(server, rows):
    # MLflow's signature check answers before the model sees the rows (see the README): in
    # JSON it names the column and the value, in CSV only the value.
    bad = spoiled(rows, carat=(1, "heavy"))
    as_json = post(server, bad)
    assert as_json.status_code == 400
    assert "column carat" in as_json.json()["message"] and "'heavy'" in as_json.json()["message"]
    as_csv = post(server, pd.DataFrame(bad["dataframe_records"]).to_csv(index=False), "text/csv")
    assert as_csv.status_code == 400 and "'heavy'" in as_csv.json()["message"]


@pytest.mark.parametrize("body, kind, status", [
    ('{"dataframe_split": {"columns": ["carat"', "application/json", 400),
    ('{"rows": [{"carat": 0.3}]}', "application/json", 400),
    ('{"dataframe_records": [], "instances": []}', "application/json", 400),
    ('[1, 2, 3]', "application/json", 400),
    ('{"dataframe_split": {"columns": ["carat", "cut"], "data": [[0.3]]}}', "application/json", 400),
    ('{"inputs": {"carat": [0.3, 0.4], "cut": ["Ideal"]}}', "application/json", 400),
    ("carat,cut\n0.3,Ideal,E,SI1\n", "text/csv", 400),
    ("", "application/json", 400),
    ('{"dataframe_records": [{"cut": "Tr\u00e8s bon"}]}'.encode("latin-1"), "application/json", 400),
    ('{"dataframe_records": [{"carat": [0.3], "cut": "Ideal"}]}', "application/json", 400),
    ("<diamond carat='0.3'/>", "application/xml", 415),
    ("carat=0.3", "text/plain", 415),
])
def test_malformed_or_unsupported_requests_are_4xx(server, body, kind, status):
    response = post(server, body, kind)
    assert response.status_code == status, response.text[:1000]


@pytest.mark.xfail(strict=True, reason="MLflow 3.17.2 answers 500 to a POST with no Content-Type")
def test_a_request_without_content_type_is_a_4xx(server):
    response = requests.post(f"{server.url}/invocations", data=b"{}", timeout=30)
    assert "Content-Type" not in response.request.headers
    assert response.status_code < 500


@pytest.mark.xfail(strict=True, reason="MLflow 3.17.2's JSON parser answers 500 to nesting deeper "
                                       "than Python's recursion limit")
def test_json_nested_a_thousand_deep_is_a_4xx(server):
    response = post(server, '{"dataframe_records": ' + "[" * 1000 + "]" * 1000 + "}")
    assert server.alive()
    assert response.status_code < 500


# --- MLflow's own handling, as the README documents it: an MLflow upgrade that changes it shows here

def test_true_in_a_measurement_column_is_priced_as_one_by_mlflow(server, rows):
    first = rows.head(1)
    one_carat = prices(post(server, records(first.assign(carat=1.0))))
    assert prices(post(server, records(first.assign(carat=True)))).equals(one_carat)
    as_csv = first.assign(carat="TRUE").to_csv(index=False)
    assert prices(post(server, as_csv, "text/csv")).equals(one_carat)


def without_column_names(rows: pd.DataFrame) -> dict[str, tuple[str, str]]:
    return {
        "misspelt": (json.dumps(records(rows.rename(columns=str.upper))), "application/json"),
        "CSV separated by ;": (rows.to_csv(index=False, sep=";"), "text/csv"),
        "JSON sent as CSV": (json.dumps(records(rows)), "text/csv"),
        "records as lists": (json.dumps({"dataframe_records": rows.values.tolist()}), "application/json"),
        "split without columns": (json.dumps({"dataframe_split": {"data": rows.values.tolist()}}),
                                  "application/json"),
    }


@pytest.mark.parametrize("case", list(without_column_names(pd.DataFrame())))
def test_rows_without_the_signature_s_column_names_reach_the_model_empty(server, rows, case):
    body, kind = without_column_names(rows.head(3))[case]
    assert prices(post(server, body, kind)).empty
    with pytest.raises(client.PredictionError, match="3 row\\(s\\) sent but 0 price\\(s\\) returned"):
        client.predict(rows.head(3).rename(columns=str.upper), url=server.url)


def test_a_column_given_twice_is_read_as_mlflow_reads_it(server, rows):
    first = rows.head(1)
    expected = prices(post(server, records(first)))
    heavy = first.assign(carat=2.0)
    twice = pd.concat([first, heavy[["carat"]]], axis=1)  # columns: carat, …, z, carat
    assert prices(post(server, twice.to_csv(index=False), "text/csv")).equals(expected)  # first kept
    last_key_wins = json.dumps(records(first))[:-3] + ', "carat": 2.0}]}'
    assert prices(post(server, last_key_wins)).equals(prices(post(server, records(heavy))))
    by_hand = {"dataframe_split": {"columns": list(twice.columns), "data": twice.values.tolist()}}
    refused = post(server, by_hand)  # (pandas' own to_dict would drop the second column)
    assert refused.status_code == 400 and "has no attribute 'dtype'" in refused.json()["message"]


def test_load_model_refuses_category_and_whole_number_columns(trained_store, split_tables):
    import mlflow
    from mlflow.exceptions import MlflowException

    store_client = trained_store.client()
    version = registry.production_version(store_client, "diamonds").version
    loaded = mlflow.pyfunc.load_model(store_client.get_model_version_download_uri("diamonds", version))
    seaborn_like = split_tables[1].head(5)
    with pytest.raises(MlflowException, match="Can not safely convert category"):
        loaded.predict(seaborn_like)
    as_text = data.request_rows(seaborn_like)
    with pytest.raises(MlflowException, match="Can not safely convert int64 to float64"):
        loaded.predict(as_text.assign(table=as_text["table"].round().astype("int64")))
    assert len(loaded.predict(as_text)) == 5


# --- concurrency and health ------------------------------------------------------------------

def mixed_requests(rows: pd.DataFrame) -> list[tuple[object, str]]:
    good = [split(rows.iloc[i: i + 3]) for i in range(0, 15, 3)]
    bad = [spoiled(rows, carat=(0, -1)), spoiled(rows, cut=(2, "Perfect")), '{"nope": 1}',
           records(rows.drop(columns=["x"]))]
    return [(body, "application/json") for body in good + bad] + [(rows.to_csv(index=False), "text/csv")]


def answer(server, request) -> tuple[int, str]:
    response = post(server, *request)
    return response.status_code, client.server_message(response) if response.status_code >= 400 \
        else response.text


def test_eight_concurrent_clients_get_the_sequential_answers_and_the_server_lives(server, rows):
    requests_ = mixed_requests(rows)
    sequential = [answer(server, request) for request in requests_]
    assert {status for status, _ in sequential} == {200, 400}
    work = [requests_[i % len(requests_)] for i in range(8 * len(requests_))]
    with ThreadPoolExecutor(8) as pool:
        concurrent = list(pool.map(lambda request: answer(server, request), work))
    assert concurrent == [sequential[i % len(requests_)] for i in range(len(work))]
    assert server.alive() and server.process.poll() is None
    assert post(server, split(rows)).status_code == 200


def test_the_client_raises_the_model_s_message_on_a_4xx(server, rows):
    with pytest.raises(client.PredictionError) as raised:
        client.predict(rows.assign(carat=0.0).head(2), url=server.url)
    assert raised.value.status == 400
    assert str(raised.value).startswith("1 problem(s) in the input") and "Failed to predict" not in str(raised.value)


def test_the_command_line_client_prints_the_prices(server, rows, tmp_path):
    rows.to_csv(tmp_path / "rows.csv", index=False)
    done = subprocess.run([str(BIN_DIR / "diamonds-predict"), str(tmp_path / "rows.csv"), "--url", server.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    printed = pd.DataFrame(json.loads(done.stdout), columns=list(schema.PREDICTIONS))
    pd.testing.assert_frame_equal(printed, prices(post(server, split(rows))))


def test_the_command_line_client_says_when_no_price_came_back_for_misspelt_columns(server, rows, tmp_path):
    rows.rename(columns=str.upper).to_csv(tmp_path / "shouted.csv", index=False)
    done = subprocess.run([str(BIN_DIR / "diamonds-predict"), str(tmp_path / "shouted.csv"), "--url", server.url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("diamonds-predict: the server's answer does not fit the rows: ")
    assert f"{len(rows)} row(s) sent but 0 price(s) returned: check the column names" in done.stderr


# --- security --------------------------------------------------------------------------------

PICKLE_PROTOCOLS = tuple(bytes([0x80, protocol]) for protocol in range(2, 6))


def pickled(blob: bytes) -> bool:
    """Pickle protocols 2-5 open with the PROTO opcode and their number."""
    return blob.startswith(PICKLE_PROTOCOLS)


def npy_holds_objects(blob: bytes) -> bool:
    return blob.startswith(b"\x93NUMPY") and b"'|O'" in blob[:256]


def test_the_production_model_holds_no_pickle(trained_store):
    store_client = trained_store.client()
    version = registry.production_version(store_client, "diamonds").version
    folder = Path(store_client.get_model_version_download_uri("diamonds", version))
    files = [path for path in folder.rglob("*") if path.is_file()]
    assert any(path.parent.name == "artifacts" and path.parent.parent == folder for path in files)
    for path in files:
        assert path.suffix not in (".pkl", ".pickle", ".cloudpickle", ".joblib"), path
        blob = path.read_bytes()
        assert not pickled(blob), path
        if zipfile.is_zipfile(io.BytesIO(blob)):
            with zipfile.ZipFile(io.BytesIO(blob)) as archive:
                for member in archive.namelist():
                    inner = archive.read(member)
                    assert not pickled(inner) and not npy_holds_objects(inner), f"{path}:{member}"
    mlmodel = (folder / "MLmodel").read_text()
    assert "loader_module: mlflow.pyfunc.loaders.code_model" in mlmodel
    assert "python_model.pkl" not in mlmodel


# --- other environments ----------------------------------------------------------------------

@pytest.fixture(scope="session")
def bare_mlflow_venv(tmp_path_factory) -> Path:
    """A new virtual environment with `mlflow==3.17.2` and nothing of this project."""
    venv = tmp_path_factory.mktemp("bare-venv") / "venv"
    uv = BIN_DIR / "uv"
    subprocess.run([str(uv), "venv", "-q", "--python", sys.executable, str(venv)], check=True, timeout=120)
    subprocess.run([str(uv), "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    "mlflow==3.17.2"], check=True, timeout=600)
    return venv


def test_served_from_a_bare_mlflow_venv_in_another_folder_by_alias(bare_mlflow_venv, trained_store,
                                                                   server, rows, tmp_path):
    python = bare_mlflow_venv / "bin" / "python"
    probe = subprocess.run([str(python), "-c", "import diamonds_mlflow"], capture_output=True,
                           timeout=60, env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert probe.returncode != 0, "the bare environment must not see this project"
    env = {"MLFLOW_TRACKING_URI": trained_store.uri, "PATH": "/usr/bin:/bin",
           "PYTHONPATH": "", "VIRTUAL_ENV": str(bare_mlflow_venv)}
    with ModelServer("models:/diamonds@champion", cwd=tmp_path, env=env,
                     mlflow=bare_mlflow_venv / "bin" / "mlflow") as bare:
        pd.testing.assert_frame_equal(prices(post(bare, split(rows))), prices(post(server, split(rows))))
        assert error_message(post(bare, spoiled(rows, cut=(0, "Perfect")))).startswith("1 problem(s)")
    assert list(tmp_path.iterdir()) == [], "serving wrote into the caller's folder"


def test_served_with_env_manager_uv(trained_store, server, rows):
    with ModelServer(PRODUCTION, cwd=trained_store.folder, env=trained_store.env(),
                     env_manager="uv", startup_timeout=400) as built:
        pd.testing.assert_frame_equal(prices(post(built, split(rows))), prices(post(server, split(rows))))
