"""Date/time columns as numbers, inside the saved pipeline, so training, batch scoring and every online
route compute the same parts from the same raw values.

A value may be a datetime (naive: read as UTC; timezone-aware: converted to UTC), an ISO 8601 string
(with or without an offset), or an epoch number (seconds; milliseconds above 1e11), as a number or as
text. Anything else (a typo, "big", an impossible date) becomes a missing value, which the imputer after
this step fills: a bad cell never fails a prediction. `age_days` is measured from the newest time seen
at fit (kept in the fitted step), never from "now", so a model scores a row the same way every day.
"""
from __future__ import annotations

import re
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin

SECONDS_PER_DAY = 86400.0
EPOCH_MS_ABOVE = 1e11  # an epoch number this large is in milliseconds (1e11 s is the year 5138)
OFFSET = r"(?:Z|[+-]\d{2}:?\d{2})$"  # an ISO time's UTC offset
CYCLES = {"month": 12.0, "day_of_week": 7.0, "hour": 24.0}
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")


def epoch_seconds(values: Any, fmt: str | None = None) -> np.ndarray:
    """Seconds since 1970-01-01 UTC for each value, NaN where the value is missing or not a time. `fmt`: the
    layout of the column's day/month/year texts (mlops.sources.text_values.text_date_format), read first."""
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_datetime64_any_dtype(series):
        return _from_datetimes(series)
    if pd.api.types.is_bool_dtype(series):
        return np.full(len(series), np.nan)
    if pd.api.types.is_numeric_dtype(series):
        return _from_numbers(series.to_numpy(dtype=np.float64, na_value=np.nan))
    out = np.full(len(series), np.nan)
    numbers = pd.to_numeric(series.where(series.map(_is_number_like)), errors="coerce").to_numpy(dtype=np.float64)
    as_number = ~np.isnan(numbers)
    out[as_number] = _from_numbers(numbers[as_number])
    rest = ~as_number & series.notna().to_numpy()
    if rest.any():
        texts = series[rest].astype(str).str.strip()
        parsed = np.full(len(texts), np.nan)
        todo = np.ones(len(texts), dtype=bool)
        if fmt is not None:  # the column's own layout first: '03/04/2024' is read one way, every time
            from mlops.sources.text_values import parse_date_texts

            in_layout = parse_date_texts(texts, fmt)
            read = in_layout.notna().to_numpy()
            parsed[read] = _from_datetimes(in_layout[read])
            todo = ~read
        # Text with an offset and naive text are read apart: pandas would carry one's offset onto the other.
        aware = texts.str.contains(OFFSET).to_numpy()
        for group in (aware & todo, ~aware & todo):
            if group.any():
                parsed[group] = _parse_texts(texts[group], iso_only=fmt is not None)
        out[rest] = parsed
    return out


def _parse_texts(texts: Any, iso_only: bool = False) -> np.ndarray:
    import pandas as pd

    parsed = pd.to_datetime(texts, errors="coerce", utc=True, format="ISO8601")
    retry = parsed.isna().to_numpy()
    if retry.any() and not iso_only:  # not ISO: other spellings pandas reads ("Jan 5 2024"); still nothing that fails
        parsed[retry] = pd.to_datetime(texts[retry], errors="coerce", utc=True, format="mixed")
    return _from_datetimes(parsed)


def _is_number_like(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, np.integer, np.floating)):
        return True
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return False
        return True
    return False


def _from_numbers(numbers: np.ndarray) -> np.ndarray:
    numbers = np.where(np.isfinite(numbers), numbers, np.nan)
    return np.where(np.abs(numbers) > EPOCH_MS_ABOVE, numbers / 1000.0, numbers)


def _from_datetimes(series: Any) -> np.ndarray:
    import pandas as pd

    series = pd.Series(series).reset_index(drop=True)
    if getattr(series.dt, "tz", None) is not None:
        series = series.dt.tz_convert("UTC").dt.tz_localize(None)
    nanos = series.astype("datetime64[ns]").to_numpy().astype("int64").astype(np.float64)
    return np.where(series.isna().to_numpy(), np.nan, nanos / 1e9)


def parts_of(seconds: np.ndarray, parts: list[str], reference: float) -> np.ndarray:
    """The requested parts of each time (columns in `parts` order); NaN rows stay NaN."""
    import pandas as pd

    known = ~np.isnan(seconds)
    # Clip to what datetime64[ns] holds (years 1678-2261), so an absurd epoch is a far date, not an overflow.
    clipped = np.clip(np.where(known, seconds, 0.0), -9.2e9, 9.2e9)
    stamps = pd.to_datetime(clipped, unit="s")
    fields = {"year": stamps.year, "month": stamps.month, "day": stamps.day, "day_of_week": stamps.dayofweek,
              "day_of_year": stamps.dayofyear, "hour": stamps.hour, "minute": stamps.minute}
    out = np.empty((len(seconds), len(parts)), dtype=np.float64)
    for j, part in enumerate(parts):
        if part == "age_days":
            column = (reference - seconds) / SECONDS_PER_DAY
        elif part.endswith(("_sin", "_cos")):
            base = part[:-4]
            offset = 1.0 if base == "month" else 0.0  # months count from 1
            angle = 2 * np.pi * (np.asarray(fields[base], dtype=np.float64) - offset) / CYCLES[base]
            column = np.sin(angle) if part.endswith("_sin") else np.cos(angle)
        else:
            column = np.asarray(fields[part], dtype=np.float64)
        out[:, j] = np.where(known, column, np.nan)
    return out


class DatetimeParts(TransformerMixin, BaseEstimator):
    """The numeric branch's first step: date/time columns become `parts`, numbers pass through as floats.

    `datetime` lists columns that are dates even though they hold numbers (epoch seconds); any column
    that is not numeric when fitted (ISO strings, datetimes) is a date too. Output: one column per number
    and `parts` per date, in input order (names from get_feature_names_out: `<column>_<part>`).
    """

    def __init__(self, parts: list[str] | None = None, datetime: list[str] | None = None):
        self.parts = parts
        self.datetime = datetime

    def fit(self, X: Any, y: Any = None) -> "DatetimeParts":
        """Which columns are dates, and the newest time among them (the reference for age_days)."""
        import pandas as pd

        frame = pd.DataFrame(X)
        self.columns_ = [str(c) for c in frame.columns]
        listed = set(self.datetime or [])
        # Text that is numbers as people write them ('$1,200', '5.5%') is numbers; other text is dates.
        self.number_texts_ = [c for c in self.columns_ if c not in listed and not _numeric(frame[c])
                              and _numbers_as_text(frame[c])]
        self.dates_ = [c for c in self.columns_ if (c in listed or not _numeric(frame[c])) and c not in self.number_texts_]
        self.date_formats_ = {c: f for c in self.dates_ if (f := _date_format(frame[c])) is not None}
        newest = [np.nanmax(s) for s in (epoch_seconds(frame[c], self.date_formats_.get(c)) for c in self.dates_)
                  if (~np.isnan(s)).any()]
        self.reference_ = float(max(newest)) if newest else 0.0
        self.n_features_in_ = len(self.columns_)
        return self

    def transform(self, X: Any) -> np.ndarray:
        """Numbers as floats, dates as their parts (unparsable dates: NaN)."""
        import pandas as pd

        frame = pd.DataFrame(X)
        frame.columns = [str(c) for c in frame.columns]
        parts = list(self.parts or [])
        formats = getattr(self, "date_formats_", {})  # a pipeline saved before these existed has none
        number_texts = getattr(self, "number_texts_", [])
        blocks = []
        for column in self.columns_:
            values = frame[column]
            if column in self.dates_:
                blocks.append(parts_of(epoch_seconds(values, formats.get(column)), parts, self.reference_))
            elif column in number_texts:
                from mlops.sources.text_values import parse_number_texts

                blocks.append(parse_number_texts(values)[:, None])
            else:
                # As the imputer would read it: a string here is an error for the caller's input checks to name.
                blocks.append(values.to_numpy(dtype=np.float64, na_value=np.nan)[:, None])
        return np.hstack(blocks) if blocks else np.empty((len(frame), 0))

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        """`<column>` for numbers, `<column>_<part>` for each part of a date."""
        names = []
        for column in self.columns_:
            names.extend([f"{column}_{p}" for p in self.parts or []] if column in self.dates_ else [column])
        return np.asarray(names, dtype=object)

    def source_columns(self) -> dict[str, str]:
        """Output name -> the input column it comes from (importance is reported per input column)."""
        return {name: column for column in self.columns_
                for name in ([f"{column}_{p}" for p in self.parts or []] if column in self.dates_ else [column])}


def time_order(series: Any) -> np.ndarray:
    """The positions that put a time column's rows in time order (stable; unreadable times last): what
    data.timestamp orders by. Text in a day/month/year layout is read in that layout, so '02/01/2024' comes
    after '31/12/2023', which sorting the text would put first. A column that mostly reads as no time at all
    ('2024Q1', 'batch-7') is ordered by its values as they are."""
    seconds = epoch_seconds(series, _date_format(series))
    if np.isnan(seconds).mean() > 0.5 and series.notna().mean() > 0.5:
        return np.asarray(series.reset_index(drop=True).sort_values(kind="stable", na_position="last").index)
    return np.argsort(seconds, kind="stable")


def _present_texts(series: Any, limit: int = 5000) -> list[str]:
    """Up to `limit` of the column's present values, as stripped text (what the text checks look at)."""
    present = series.dropna()
    return [str(v).strip() for v in present.iloc[:limit]]


def _numbers_as_text(series: Any) -> bool:
    """Text that reads as numbers (at least half of it) and not as dates: numbers. A text column reaches the
    numeric branch as numbers written as text (column roles) or because the spec lists it as numeric."""
    from mlops.sources.text_values import SHARE, numbers_as_text, text_date_format

    texts = _present_texts(series)
    if text_date_format(texts) is not None or sum(1 for t in texts if ISO_DATE.match(t)) >= SHARE * len(texts):
        return False
    return numbers_as_text(texts, share=0.5, decorated=False)


def _date_format(series: Any) -> str | None:
    from mlops.sources.text_values import text_date_format

    if _numeric(series) or pd_is_datetime(series):
        return None
    return text_date_format(_present_texts(series))


def pd_is_datetime(series: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_datetime64_any_dtype(series)


def _numeric(series: Any) -> bool:
    import pandas as pd

    return pd.api.types.is_numeric_dtype(series)  # booleans listed as numeric too: 0/1
