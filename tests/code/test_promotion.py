"""The gate's comparison set: Production is never scored on rows it trained on."""

import pandas as pd

from diamonds_mlflow import data, promotion


def test_rows_production_trained_on_are_left_out_of_the_comparison(tmp_path):
    table, _ = data.clean(data.load_bundled().head(3000))
    champion_train, champion_test = data.split(table, 0.2, seed=1)
    data.write_split(champion_train, champion_test, tmp_path / "champion")
    _, candidate_test = data.split(table, 0.25, seed=2)

    unseen = promotion.unseen_by(candidate_test, {"data": str(tmp_path / "champion")})

    assert 0 < len(unseen) < len(candidate_test)
    overlap = unseen.merge(champion_train, how="inner")
    assert overlap.empty
    expected = candidate_test.merge(champion_test, how="inner")
    pd.testing.assert_frame_equal(unseen.reset_index(drop=True), expected, check_like=True)


def test_with_the_same_split_every_test_row_is_compared(tmp_path):
    table, _ = data.clean(data.load_bundled().head(2000))
    train, test = data.split(table, 0.2, seed=3)
    data.write_split(train, test, tmp_path / "same")
    assert len(promotion.unseen_by(test, {"data": str(tmp_path / "same")})) == len(test)


def test_a_champion_trained_on_the_default_split_is_compared_on_unseen_rows():
    # `mlflow run` logs the empty default of `data` as the two characters ''.
    train, test = data.default_split()
    assert len(promotion.unseen_by(test.head(500), {"data": "''"})) == 500
    assert promotion.unseen_by(train.head(500), {"data": "''"}).empty
