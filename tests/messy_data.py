"""A generated housing table as users have it: every problem at once.

`house_id` (an id), `sqft` (skewed), `rooms`, `city`, `zip_code` (600 values), `built_date` (ISO text, some
with an offset, some unparsable), `sold_at` (epoch seconds), `garage` (yes/no with nulls), `description`
(free text), `country` (one value) and the target `price` (or `expensive` for a classification task).
"""
from __future__ import annotations

import numpy as np
import pandas as pd

ZIP_CODES = 600
EXPECTED_ROLES = {
    "house_id": "id-like", "sqft": "numeric", "rooms": "numeric", "city": "categorical",
    "zip_code": "high-cardinality categorical", "built_date": "datetime", "sold_at": "numeric",
    "garage": "categorical", "description": "text-like", "country": "constant", "price": "target",
}
WORDS = ["sunny", "quiet", "renovated", "spacious", "garden", "close", "to", "schools", "new", "roof", "view"]


def messy_frame(rows: int = 3000, seed: int = 0, shift: float = 0.0) -> pd.DataFrame:
    """The table; `shift` > 0 moves sizes up and concentrates sales in a few zip codes (a drifted batch)."""
    rng = np.random.default_rng(seed)
    sqft = np.round(rng.lognormal(7.0 + shift, 0.5, rows))
    rooms = np.clip(np.round(sqft / 400 + rng.normal(0, 1, rows)), 1, 12).astype(int)
    city = rng.choice(["austin", "boston", "chicago", "denver", "el paso", "fresno"], rows, p=[.3, .2, .2, .1, .1, .1])
    zip_weights = 1.0 / (np.arange(ZIP_CODES) + 5.0)  # a few busy zip codes, a long tail of quiet ones
    if shift:
        zip_weights[-10:] = zip_weights.sum() / 15  # ten quiet zip codes take 40% of the sales
    zips = rng.choice([f"{10000 + 7 * i}" for i in range(ZIP_CODES)], rows, p=zip_weights / zip_weights.sum())
    built = pd.Timestamp("1950-01-01") + pd.to_timedelta(rng.integers(0, 70 * 365, rows), unit="D")
    built_text = [d.strftime("%Y-%m-%d") for d in built]
    for i in range(0, rows, 10):  # some with a time and an offset: timezone-aware values in the same column
        built_text[i] = built[i].strftime("%Y-%m-%dT08:30:00+02:00")
    for i in range(5, rows, 97):  # cells no one can read as a date
        built_text[i] = "unknown"
    sold = (pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 4 * 365 * 24, rows), unit="h"))
    garage = rng.choice(["yes", "no", None], rows, p=[.5, .35, .15])
    description = [" ".join(rng.choice(WORDS, rng.integers(3, 9))) + f" #{i}" for i in range(rows)]
    age = (pd.Timestamp("2024-01-01") - built).days.to_numpy() / 365.0
    zip_effect = (np.array([int(z) for z in zips]) % 13) * 4000.0
    price = (150 * sqft + 8000 * rooms - 900 * age + zip_effect + (garage == "yes") * 15000
             + np.where(city == "boston", 60000, 0) + rng.normal(0, 20000, rows))
    return pd.DataFrame({
        "house_id": np.arange(100000, 100000 + rows), "sqft": sqft, "rooms": rooms, "city": city, "zip_code": zips,
        "built_date": built_text, "sold_at": (sold.astype("int64") // 10**9).to_numpy(), "garage": garage,
        "description": description, "country": "US", "price": np.round(price, 2),
    })
