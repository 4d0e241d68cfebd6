"""Figures for the runs: a first look at the data, and how the model errs. No file I/O here."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # runs happen on servers without a display

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from diamonds_mlflow import schema  # noqa: E402

SAMPLE_ROWS = 5000  # enough to see the shape; scatter plots of 50k points are just ink

def exploration(table: pd.DataFrame) -> dict[str, plt.Figure]:
    """EDA figures of a clean table, named by their artifact file."""
    sample = table.sample(min(SAMPLE_ROWS, len(table)), random_state=0)
    figures = {}
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.histplot(table, x="price", log_scale=True, ax=ax)
    figures["price_distribution.png"] = fig
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.scatterplot(sample, x="carat", y="price", hue="clarity", s=8, linewidth=0, ax=ax)
    ax.set_yscale("log")
    figures["price_vs_carat.png"] = fig
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, name in zip(axes, schema.CATEGORIES):
        sns.boxplot(table, x=name, y="price", ax=ax, fliersize=1)
        ax.set_yscale("log")
    figures["price_by_grade.png"] = fig
    fig, ax = plt.subplots(figsize=(6, 5))
    numeric = [name for name in schema.COLUMNS if name not in schema.CATEGORIES]
    sns.heatmap(table[numeric].corr(), annot=True, fmt=".2f", cmap="vlag", ax=ax)
    figures["correlations.png"] = fig
    return figures

def errors(scored: pd.DataFrame, nominal: float | None = None) -> dict[str, plt.Figure]:
    """Figures of a test table with columns price, price_pred, price_low and price_high.

    `nominal` is the interval's promised coverage, drawn as the line coverage should meet.
    """
    scored = scored.assign(
        residual=scored["price_pred"] - scored["price"],
        abs_pct_error=(scored["price_pred"] - scored["price"]).abs() / scored["price"] * 100,
        covered=(scored["price"] >= scored["price_low"]) & (scored["price"] <= scored["price_high"]),
    )
    sample = scored.sample(min(SAMPLE_ROWS, len(scored)), random_state=0)
    figures = {}
    fig, ax = plt.subplots(figsize=(5, 5))
    sns.scatterplot(sample, x="price", y="price_pred", s=6, linewidth=0, ax=ax)
    top = float(scored[["price", "price_pred"]].max().max())
    ax.plot([0, top], [0, top], color="black", linewidth=1)
    figures["predicted_vs_actual.png"] = fig
    fig, ax = plt.subplots(figsize=(6, 4))
    sns.scatterplot(sample, x="price", y="residual", s=6, linewidth=0, ax=ax)
    ax.axhline(0, color="black", linewidth=1)
    figures["residuals_vs_price.png"] = fig
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for ax, name in zip(axes, schema.CATEGORIES):
        sns.barplot(scored, x=name, y="abs_pct_error", ax=ax, errorbar=None)
        ax.set_ylabel("mean absolute % error")
    figures["error_by_grade.png"] = fig
    bands = pd.qcut(scored["price"], 10, precision=0)
    coverage = scored.groupby(bands, observed=True)["covered"].mean().reset_index()
    fig, ax = plt.subplots(figsize=(8, 4))
    sns.barplot(coverage, x="price", y="covered", ax=ax)
    ax.tick_params(axis="x", rotation=45)
    ax.set_ylabel("interval coverage")
    if nominal is not None:
        ax.axhline(nominal, color="black", linewidth=1, linestyle="--")
    figures["coverage_by_price_band.png"] = fig
    return figures

def close(figures: dict[str, plt.Figure]) -> None:
    for figure in figures.values():
        plt.close(figure)
