"""The promotion rule: floors first, then no worse RMSE than Production on the same rows."""

from __future__ import annotations

from diamonds_mlflow import gate

NOMINAL = 0.8


def scores(rmse=520.0, r2=0.98, coverage=0.80) -> dict[str, float]:
    return {"rmse": rmse, "r2": r2, "interval_coverage": coverage}


def test_first_candidate_is_promoted_when_it_clears_the_floors():
    decision = gate.decide(scores(), None, NOMINAL)
    assert decision.promote
    assert "no other version is in Production" in decision.reason


def test_candidate_below_the_r2_floor_is_refused_even_without_a_champion():
    decision = gate.decide(scores(r2=0.85), None, NOMINAL)
    assert not decision.promote
    assert "r2" in decision.reason


def test_miscalibrated_interval_is_refused_on_either_side():
    floor = gate.Thresholds().max_coverage_gap
    for coverage in (NOMINAL - floor - 0.01, NOMINAL + floor + 0.01):
        decision = gate.decide(scores(coverage=coverage), scores(), NOMINAL)
        assert not decision.promote
        assert "coverage" in decision.reason


def test_interval_is_judged_against_the_candidates_own_nominal_coverage():
    assert gate.decide(scores(coverage=0.9), None, 0.9).promote
    assert not gate.decide(scores(coverage=0.9), None, 0.8).promote


def test_worse_rmse_than_production_is_refused_and_equal_or_better_promoted():
    champion = scores(rmse=520.0)
    worse = gate.decide(scores(rmse=520.5), champion, NOMINAL)
    assert not worse.promote
    assert "worse" in worse.reason
    assert gate.decide(scores(rmse=520.0), champion, NOMINAL).promote
    assert gate.decide(scores(rmse=480.0), champion, NOMINAL).promote


def test_floors_win_over_a_better_rmse():
    decision = gate.decide(scores(rmse=100.0, r2=0.5), scores(rmse=520.0), NOMINAL)
    assert not decision.promote


def test_thresholds_can_be_tightened():
    strict = gate.Thresholds(min_r2=0.99)
    assert not gate.decide(scores(r2=0.98), None, NOMINAL, strict).promote
