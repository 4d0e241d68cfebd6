"""A small client for the served model: rows in, prices out, the server's own words on a 4xx.

    from diamonds_mlflow.client import predict
    predict([{"carat": 0.3, "cut": "Ideal", ...}], url="http://127.0.0.1:5000")

or, from a shell, `diamonds-predict rows.csv --url http://127.0.0.1:5000`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import pandas as pd
import requests

from diamonds_mlflow import schema

DEFAULT_URL = "http://127.0.0.1:5000"
# MLflow wraps whatever the model raises as "Failed to predict data '<the input's repr>'. \nError: …";
# a DataFrame repr escapes newlines inside values, so the first marker is MLflow's.
MLFLOW_PREFIX = "Failed to predict data '"
MLFLOW_MARKER = "'. \nError: "


class PredictionError(Exception):
    """The server refused the request (HTTP 4xx); the message says why, in the model's words."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.message = message
        self.status = status


def invocations_url(url: str) -> str:
    """Accept the server's base address as well as its scoring endpoint."""
    url = url.rstrip("/")
    return url if url.endswith("/invocations") else f"{url}/invocations"


def _plain(value):
    """A JSON-ready cell: numpy scalars become Python ones, pandas' missing values null."""
    if hasattr(value, "item"):
        value = value.item()
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def request_body(rows) -> str:
    """The JSON body for a DataFrame or a list of dicts; infinities stay (the server names them)."""
    if not isinstance(rows, (pd.DataFrame, list)) or not all(isinstance(r, dict) for r in (
            [] if isinstance(rows, pd.DataFrame) else rows)):
        raise TypeError("rows must be a DataFrame or a list of dicts (one per diamond)")
    if isinstance(rows, pd.DataFrame):
        # Category columns (seaborn's) leave as their labels; MLflow would refuse the dtype.
        data = [[_plain(v) for v in row] for row in rows.astype(object).itertuples(index=False)]
        body = {"dataframe_split": {"columns": [str(c) for c in rows.columns], "data": data}}
    else:
        body = {"dataframe_records": [{k: _plain(v) for k, v in row.items()} for row in rows]}
    return json.dumps(body, allow_nan=True)


def server_message(response: requests.Response) -> str:
    """The model's part of an error response (MLflow's prefix and data dump removed)."""
    try:
        message = str(response.json().get("message", response.text))
    except (ValueError, AttributeError):
        return response.text.strip()
    if message.startswith(MLFLOW_PREFIX) and MLFLOW_MARKER in message:
        return message.split(MLFLOW_MARKER, 1)[1]
    return message


def predict(rows, url: str = DEFAULT_URL, timeout: float = 60,
            session: requests.Session | None = None) -> pd.DataFrame:
    """Price, price_low and price_high for each row, in order; PredictionError on a 4xx."""
    post = (session or requests).post
    response = post(invocations_url(url), data=request_body(rows), timeout=timeout,
                    headers={"Content-Type": "application/json"})
    if 400 <= response.status_code < 500:
        raise PredictionError(server_message(response), response.status_code)
    response.raise_for_status()
    prices = pd.DataFrame(response.json()["predictions"], columns=list(schema.PREDICTIONS))
    if len(prices) != len(rows):
        # MLflow drops columns the signature does not name before the model sees them, so rows
        # with only misspelt columns arrive empty and come back as no prices at all.
        raise PredictionError(
            f"{len(rows)} row(s) sent but {len(prices)} price(s) returned: check the column names"
            f" ({', '.join(schema.FEATURE_NAMES)})", response.status_code)
    return prices


def read_rows(path: str) -> pd.DataFrame:
    """Rows from a CSV file (comma, semicolon or tab separated), a JSON list of objects, or `-`
    (CSV on standard input)."""
    try:
        if Path(path).suffix.lower() == ".json":
            loaded = json.loads(Path(path).read_text())
            return pd.DataFrame(loaded if isinstance(loaded, list) else [loaded])
        # The separator is sniffed: spreadsheets in many locales export CSV with ';'.
        return pd.read_csv(sys.stdin if path == "-" else path, sep=None, engine="python")
    except (OSError, ValueError, csv.Error) as error:  # JSON's and pandas' are ValueErrors
        name = "standard input" if path == "-" else path
        raise ValueError(f"cannot read rows from {name}: {error}") from None


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="diamonds-predict",
        description="Price diamonds with a served `diamonds` model; prints a JSON list with one "
                    "object (price, price_low, price_high) per row, in order.",
    )
    parser.add_argument("rows", help="a CSV file, a JSON file (a list of objects), or - for CSV on stdin")
    parser.add_argument("--url", default=DEFAULT_URL, help=f"the server (default {DEFAULT_URL})")
    parser.add_argument("--timeout", type=float, default=60, help="seconds to wait (default 60)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Exit 0 with the prices on stdout; 1 with the server's reason (or the failure) on stderr."""
    args = parse_args(argv)
    try:
        prices = predict(read_rows(args.rows), url=args.url, timeout=args.timeout)
    except PredictionError as error:
        what = (f"the server refused the rows (HTTP {error.status})" if error.status >= 400
                else "the server's answer does not fit the rows")
        print(f"diamonds-predict: {what}: {error}", file=sys.stderr)
        return 1
    except requests.Timeout:
        print(f"diamonds-predict: no answer from {invocations_url(args.url)} within "
              f"{args.timeout:g} s", file=sys.stderr)
        return 1
    except requests.ConnectionError:
        print(f"diamonds-predict: cannot reach {invocations_url(args.url)}: is `mlflow models "
              "serve` running there? (--url sets the address)", file=sys.stderr)
        return 1
    except (OSError, ValueError, requests.RequestException) as error:
        print(f"diamonds-predict: {error}", file=sys.stderr)
        return 1
    json.dump(prices.to_dict(orient="records"), sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
