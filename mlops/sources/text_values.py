"""Numbers and dates written as text the way spreadsheets and exports write them: `$25,835.17`, `5.5%`,
`(1,200)`, `31/01/2024 18:30`. Read as numbers and dates, they carry what the column means; read as text, a
price is "one distinct value per row" (an id) and a rate a high-cardinality category.

Column roles (mlops.stages.column_roles, on a sample, before anything runs), the saved pipeline (fitted
on the training rows: mlops.models.datetime_parts) and the drift detector ask the same questions here, so `mlops validate`
says what training will do. The pattern checks are plain Python (validate imports no pandas); the parsers
run vectorized on whole columns.
"""
from __future__ import annotations

import re
from typing import Any, Iterable, Optional

SHARE = 0.9  # of a column's present values that must read one way for the column to be read that way
CURRENCY = "$€£¥₹"
# An optional sign, an optional currency symbol (either side), digits with optional comma thousands
# groups, an optional fraction, an optional percent sign; or the same in accounting parentheses.
_BODY = (rf"[-+]?\s*[{CURRENCY}]?\s*[-+]?(?:\d{{1,3}}(?:,\d{{3}})+|\d+)(?:\.\d+)?|[-+]?\s*[{CURRENCY}]?\s*[-+]?\.\d+")
NUMBER_TEXT = re.compile(rf"^\s*(?:(?:{_BODY})\s*[{CURRENCY}]?\s*%?|\(\s*(?:{_BODY})\s*[{CURRENCY}]?\s*%?\s*\))\s*$")
DECORATION = re.compile(rf"[{CURRENCY}%,()]")
LEADING_ZERO = re.compile(r"^\s*0\d")  # a code ('02134', '007'), not a number
# Day, month and year with one separator (/ . -), two- or four-digit years, an optional time.
DMY_TEXT = re.compile(r"^\s*(\d{1,2})([/.-])(\d{1,2})\2(\d{4}|\d{2})(?:[ T](\d{1,2}):(\d{2})(:\d{2})?)?\s*$")


def is_number_text(text: str) -> bool:
    """`text` is a number as people write one (currency, thousands commas, %, parentheses for negatives)."""
    return bool(NUMBER_TEXT.match(text)) and not LEADING_ZERO.match(text.lstrip("(+-" + CURRENCY))


def numbers_as_text(texts: list[str], share: float = SHARE, decorated: bool = True) -> bool:
    """A text column that holds numbers: at least `share` of its values are number texts and, when
    `decorated`, some carry what makes them text (a currency sign, a thousands comma, %, parentheses), so
    that plain digit strings stay text (codes like '02134') unless a column is listed as numeric."""
    if not texts:
        return False
    numbers = [t for t in texts if is_number_text(t) or (not decorated and _plain_number(t))]
    return len(numbers) >= share * len(texts) and (not decorated or any(DECORATION.search(t) for t in numbers))


def _plain_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def parse_number_texts(values: Any) -> Any:
    """Each value as a float: numbers as they are, number texts without their decoration (a percent stays
    the number written: '5.5%' is 5.5), NaN for anything else."""
    import numpy as np
    import pandas as pd

    series = pd.Series(values).reset_index(drop=True)
    if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    out = pd.to_numeric(series.where(series.map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))),
                        errors="coerce").to_numpy(dtype=np.float64)
    texts = series.where(series.map(lambda v: isinstance(v, str)))
    plain = pd.to_numeric(texts.str.strip(), errors="coerce").to_numpy(dtype=np.float64)  # '12', '1.5e3'
    out = np.where(np.isnan(out), plain, out)
    matched = texts.str.match(NUMBER_TEXT, na=False).astype(bool) & np.isnan(out)
    if matched.any():
        kept = texts[matched]
        negative = kept.str.contains(r"\(", regex=True) ^ kept.str.contains("-", regex=False)
        digits = kept.str.replace(rf"[\s{CURRENCY}%,()+-]", "", regex=True)
        numbers = pd.to_numeric(digits, errors="coerce").to_numpy(dtype=np.float64)
        out[matched.to_numpy()] = np.where(negative.to_numpy(), -numbers, numbers)
    return out


def text_date_format(texts: Iterable[str]) -> Optional[str]:
    """The strptime format of a column of day/month/year texts ('31/01/2024 18:30' -> '%d/%m/%Y %H:%M'),
    when at least SHARE of them have one shape; None otherwise (ISO dates need none). Which field is the
    day comes from the values: a first field above 12 means day first, a second one month first; when no
    value says (every field 12 or under), month first, as pandas and dateutil read it."""
    texts = list(texts)
    matches = [m for m in (DMY_TEXT.match(t) for t in texts) if m is not None]
    if not texts or len(matches) < SHARE * len(texts):
        return None
    shapes = {(m.group(2), len(m.group(4)), m.group(5) is not None, m.group(7) is not None) for m in matches}
    if len(shapes) != 1:
        return None
    separator, year_digits, has_time, has_seconds = shapes.pop()
    day_first = any(int(m.group(1)) > 12 for m in matches)
    month_first = any(int(m.group(3)) > 12 for m in matches)
    if day_first and month_first:
        return None  # both orders contradicted: not one format
    year = "%Y" if year_digits == 4 else "%y"
    date = separator.join(["%d", "%m", year] if day_first else ["%m", "%d", year])
    return date + ((" %H:%M:%S" if has_seconds else " %H:%M") if has_time else "")


def readable_format(fmt: str) -> str:
    """'%d/%m/%Y %H:%M' as 'day/month/year hour:minute', for a column's `why`."""
    words = {"%d": "day", "%m": "month", "%Y": "year", "%y": "year", "%H": "hour", "%M": "minute", "%S": "second"}
    return re.sub(r"%[dmYyHMS]", lambda m: words[m.group(0)], fmt)


def parse_date_texts(texts: Any, fmt: str) -> Any:
    """Texts in format `fmt` as UTC datetimes (a time in another layout: NaT; the T between date and time
    in the layout's place is accepted as well)."""
    import pandas as pd

    texts = pd.Series(texts).astype(str).str.strip().str.replace("T", " ", regex=False)
    return pd.to_datetime(texts, format=fmt, errors="coerce", utc=True)
