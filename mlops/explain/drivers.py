"""Which features drive a model's predictions: each input column's share of the mean absolute SHAP
contribution over a set of rows, and two such sets side by side (served traffic against training).

A share is mean |contribution| of the column over the rows divided by the sum over columns, so shares add
up to 1 whatever the output's scale; a column whose share grows on served traffic drives today's
predictions more than it drove them on training data.
"""
from __future__ import annotations

from typing import Any


def shares(explanations: Any) -> dict[str, float]:
    """Each column's share of the mean |contribution| over the explained rows (largest first; sums to 1)."""
    totals: dict[str, float] = {}
    for row in explanations.rows:
        for name, value in row.contributions.items():
            totals[name] = totals.get(name, 0.0) + abs(value)
    overall = sum(totals.values())
    if not overall:
        return {name: 0.0 for name in totals}
    return dict(sorted(((name, total / overall) for name, total in totals.items()), key=lambda p: -p[1]))


def compared(today: dict[str, float], training: dict[str, float]) -> list[dict[str, Any]]:
    """One row per column, by today's share: both shares, the change and both ranks (1: the top driver)."""
    rank_today = {name: i + 1 for i, name in enumerate(sorted(today, key=lambda n: -today[n]))}
    rank_training = {name: i + 1 for i, name in enumerate(sorted(training, key=lambda n: -training[n]))}
    names = sorted(set(today) | set(training), key=lambda n: (n not in today, -today.get(n, 0.0), -training.get(n, 0.0), n))
    return [{"feature": n, "today": today.get(n), "training": training.get(n),
             "change": None if n not in today or n not in training else today[n] - training[n],
             "rank_today": rank_today.get(n), "rank_training": rank_training.get(n)} for n in names]
