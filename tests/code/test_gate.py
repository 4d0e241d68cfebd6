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


def full_scores(rmse: float) -> dict[str, float]:
    return scores(rmse=rmse) | {"mae": 260.0, "mape": 0.062, "interval_relative_width": 0.2,
                                "interval_coverage_cut_fair": 0.79,
                                "interval_coverage_cut_very_good": 0.81}


def test_comparison_metrics_sit_beside_the_candidates_and_are_empty_without_a_champion():
    from diamonds_mlflow import promotion

    assert promotion.comparison(full_scores(510.0), None) == {}
    logged = promotion.comparison(full_scores(510.0), full_scores(520.0))
    assert logged["champion_rmse"] == 520.0
    assert logged["rmse_change_vs_champion"] == -10.0


def test_model_card_states_the_decision_and_the_numbers_behind_it():
    from diamonds_mlflow import promotion

    candidate, champion = full_scores(530.0), full_scores(520.0)
    decision = gate.decide(candidate, champion, NOMINAL)
    card = promotion.model_card("7", decision, candidate, "6", champion,
                                {"max_iter": "150", "interval": "0.8"}, "abc123", NOMINAL)
    assert card.startswith("Version 7: not promoted — rmse 530.00 is worse")
    for words in ("digest: abc123", "max_iter=150", "rmse=530", "coverage 0.800",
                  "fair 0.790", "very good 0.810", "Production version 6", "rmse 520.0"):
        assert words in card, card
    tags = promotion.gate_tags(decision, candidate, "6", champion)
    assert tags["gate.decision"] == "rejected" and tags["gate.champion_rmse"] == "520.0000"
