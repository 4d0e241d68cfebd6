"""The promotion rule, as a pure function: may a candidate replace the Production model?"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Thresholds:
    """Absolute floors every candidate must clear, whatever Production scores."""

    min_r2: float = 0.9
    max_coverage_gap: float = 0.05  # |empirical − nominal| interval coverage


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def decide(
    candidate: dict[str, float],
    champion: dict[str, float] | None,
    nominal_coverage: float,
    thresholds: Thresholds = Thresholds(),
) -> Decision:
    """Promote when the floors hold and RMSE is no worse than Production's on the same rows."""
    if candidate["r2"] < thresholds.min_r2:
        return Decision(False, f"r2 {candidate['r2']:.4f} is below the floor {thresholds.min_r2}")
    gap = abs(candidate["interval_coverage"] - nominal_coverage)
    if gap > thresholds.max_coverage_gap:
        return Decision(
            False,
            f"interval coverage {candidate['interval_coverage']:.3f} is more than "
            f"{thresholds.max_coverage_gap} from the nominal {nominal_coverage}",
        )
    if champion is None:
        return Decision(True, "no other version is in Production to compare with")
    if candidate["rmse"] <= champion["rmse"]:
        return Decision(
            True, f"rmse {candidate['rmse']:.2f} is no worse than Production's {champion['rmse']:.2f}"
        )
    return Decision(
        False, f"rmse {candidate['rmse']:.2f} is worse than Production's {champion['rmse']:.2f}"
    )
