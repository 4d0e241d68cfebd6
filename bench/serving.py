"""Serving benchmark: the Production model against MLflow's own floor, side by side.

    python bench/serving.py                 # from the project root, after `mlflow run .`

Serves `models:/diamonds/Production` and a trivial pyfunc that returns zeros (same signature,
same `mlflow models serve` settings) on free loopback ports, then reports the median latency
of 1-row and 10,000-row requests for both and their ratios, the throughput of 8 concurrent
clients, and the in-process cost of predicting one row against a plain scikit-learn pipeline
(ColumnTransformer + HistGradientBoosting). Every loop is bounded; nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
import textwrap
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import requests
import threadpoolctl

from diamonds_mlflow import data, features, local_server, schema

ZEROS_MODEL = textwrap.dedent('''
    import mlflow
    import numpy as np
    import pandas as pd


    class Zeros(mlflow.pyfunc.PythonModel):
        def predict(self, context, model_input: pd.DataFrame, params=None) -> pd.DataFrame:
            # Whole-dollar zeros: the output type the signature declares (long), so the floor
            # writes the same kind of JSON numbers as the model.
            return pd.DataFrame(np.zeros((len(model_input), 3), dtype=np.int64),
                                columns=["price", "price_low", "price_high"])


    mlflow.models.set_model(Zeros())
''')


def zeros_model(folder: Path) -> str:
    """The floor: a models-from-code pyfunc with our signature that does no work at all."""
    code = folder / "zeros_model.py"
    code.write_text(ZEROS_MODEL)
    path = folder / "zeros"
    mlflow.pyfunc.save_model(path, python_model=str(code), signature=schema.input_signature())
    return str(path)


def request_rows(n: int, seed: int = 0) -> pd.DataFrame:
    """n real rows from the held-out split (drawn with replacement), as a client sends them."""
    _, test = data.default_split()
    rows = data.request_rows(test)
    return rows.sample(n, replace=n > len(rows), random_state=seed).reset_index(drop=True)


def body(rows: pd.DataFrame) -> bytes:
    return json.dumps({"dataframe_split": rows.to_dict(orient="split", index=False)}).encode()


def post(session: requests.Session, url: str, payload: bytes) -> float:
    """Seconds for one request (which must succeed)."""
    start = time.perf_counter()
    response = session.post(f"{url}/invocations", data=payload,
                            headers={"Content-Type": "application/json"}, timeout=120)
    elapsed = time.perf_counter() - start
    response.raise_for_status()
    return elapsed


def medians(urls: dict[str, str], payload: bytes, repeats: int, warmup: int) -> dict[str, float]:
    """Median latency (ms) per server; requests alternate so both see the same machine load."""
    sessions = {name: requests.Session() for name in urls}
    times: dict[str, list[float]] = {name: [] for name in urls}
    for round_ in range(warmup + repeats):
        for name, url in urls.items():
            elapsed = post(sessions[name], url, payload)
            if round_ >= warmup:
                times[name].append(elapsed)
    return {name: 1000 * float(np.median(values)) for name, values in times.items()}


def throughput(url: str, payload: bytes, clients: int, per_client: int) -> float:
    """Requests per second that `clients` threads, each on its own connection, get answered."""
    def client(_):
        with requests.Session() as session:
            for _ in range(per_client):
                post(session, url, payload)

    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(client, range(clients)))
    return clients * per_client / (time.perf_counter() - start)


def median_ms(call, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def sklearn_pipeline(max_iter: int):
    """The plain alternative: ordinal-encode grades in a ColumnTransformer, one boosted model."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingRegressor
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    grades = list(schema.CATEGORIES)
    encoder = ColumnTransformer(
        [("grades", OrdinalEncoder(categories=[list(schema.CATEGORIES[g].levels) for g in grades]),
          grades)],
        remainder="passthrough",
    )
    train, _ = data.default_split()
    rows = data.request_rows(train)
    regressor = HistGradientBoostingRegressor(max_iter=max_iter, early_stopping=False)
    return make_pipeline(encoder, regressor).fit(rows, np.log(train[schema.TARGET.name]))


def in_process(model_uri: str, one: pd.DataFrame, repeats: int, max_iter: int) -> dict[str, float]:
    """One-row predict cost (ms): our pyfunc (with and without MLflow's checks) vs sklearn."""
    loaded = mlflow.pyfunc.load_model(model_uri)
    ours = loaded.unwrap_python_model()
    pipeline = sklearn_pipeline(max_iter)
    x = features.encode(one)
    calls = {
        "pyfunc.predict (MLflow schema checks + ours)": lambda: loaded.predict(one),
        "DiamondPriceModel.predict (validate, encode, model)": lambda: ours.predict(None, one),
        "PriceModel.predict alone (the estimators)": lambda: ours.price_model.predict(x),
        "sklearn ColumnTransformer+HGB pipeline.predict": lambda: pipeline.predict(one),
    }
    for call in calls.values():
        call()  # warm up caches and thread pools before timing
    return {name: median_ms(call, repeats) for name, call in calls.items()}


def production_max_iter(model_uri: str) -> int:
    """The boosting rounds of the model under test, so the sklearn pipeline is as deep."""
    try:
        info = mlflow.models.get_model_info(model_uri)
        return int(mlflow.get_run(info.run_id).data.params.get("max_iter", 500))
    except Exception:  # an odd store should not stop the benchmark; 500 is the default
        return 500


def serve_and_measure(args) -> dict:
    one, many = request_rows(1), request_rows(args.rows)
    results: dict = {"rows": args.rows}
    with tempfile.TemporaryDirectory(prefix="bench-serving-") as folder:
        floor_uri = zeros_model(Path(folder))
        env = {"OMP_NUM_THREADS": str(args.threads)} if args.threads else {}
        with local_server.ModelServer(args.model_uri, env=env) as model, \
                local_server.ModelServer(floor_uri, env=env) as floor:
            urls = {"model": model.url, "floor": floor.url}
            results["1 row median ms"] = medians(urls, body(one), args.repeats, 10)
            results[f"{args.rows} rows median ms"] = medians(urls, body(many), args.big_repeats, 2)
            results["8 clients 1-row req/s"] = {
                name: throughput(url, body(one), 8, args.per_client) for name, url in urls.items()
            }
    return results


def ratios(results: dict) -> dict[str, float]:
    return {key: value["model"] / value["floor"] for key, value in results.items()
            if isinstance(value, dict) and "median" in key}


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-uri", default="models:/diamonds/Production")
    parser.add_argument("--rows", type=int, default=10_000, help="rows of the large request")
    parser.add_argument("--repeats", type=int, default=200, help="1-row requests per server")
    parser.add_argument("--big-repeats", type=int, default=20, help="large requests per server")
    parser.add_argument("--per-client", type=int, default=40, help="requests per concurrent client")
    parser.add_argument("--threads", type=int, default=0,
                        help="OMP_NUM_THREADS for both servers (0: leave the environment's)")
    parser.add_argument("--json", help="also write the figures to this file")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    warnings.simplefilter("ignore")
    results = serve_and_measure(args)
    results["model / floor"] = ratios(results)
    # OpenMP threads that spin on a busy machine would dominate a 1-row sklearn predict.
    with threadpoolctl.threadpool_limits(args.threads or None):
        results["in-process 1-row ms"] = in_process(
            args.model_uri, request_rows(1), args.repeats, production_max_iter(args.model_uri))
    print(json.dumps(results, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
