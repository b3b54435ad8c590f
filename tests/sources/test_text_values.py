"""Numbers and dates written as text as spreadsheets export them: read the same way by the column roles
(`mlops validate`'s sample) and by the saved pipeline, so a price or a day-first date is a feature, not an id."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlops.sources.text_values import is_number_text, numbers_as_text, parse_number_texts, readable_format, text_date_format


@pytest.mark.parametrize("text,number", [("$25,835.17", 25835.17), ("5.5%", 5.5), ("(1,200)", -1200.0), ("-$3", -3.0),
                                         ("€ 1,000", 1000.0), ("$.5", 0.5), ("1,234,567", 1234567.0), ("12 ", 12.0),
                                         ("£-7.25", -7.25), ("  42%  ", 42.0)])
def test_numbers_as_people_write_them(text, number):
    assert is_number_text(text)
    assert parse_number_texts(pd.Series([text], dtype=object))[0] == pytest.approx(number)


@pytest.mark.parametrize("text", ["1,23", "12,3456", "abc", "$", "1.2.3", "36 months", "N/A", "1,2,3", "02134"])
def test_what_is_not_a_number_text(text):
    assert not is_number_text(text)


def test_a_column_of_number_texts_needs_some_decoration_unless_listed():
    assert numbers_as_text(["$1", "$2,000", "3"])
    assert not numbers_as_text(["1", "2", "3"])  # plain digit strings: codes, unless the spec lists them numeric
    assert numbers_as_text(["1", "2", "3", "1.5e3"], share=0.5, decorated=False)
    assert not numbers_as_text(["$1", "x", "y", "z"])  # too few read as numbers
    parsed = parse_number_texts(pd.Series(["$1,000", None, "junk", 7, 2.5], dtype=object))
    assert parsed[0] == 1000.0 and np.isnan(parsed[1]) and np.isnan(parsed[2]) and parsed[3] == 7.0 and parsed[4] == 2.5


@pytest.mark.parametrize("texts,layout", [
    (["31/01/2024", "01/02/2024"], "%d/%m/%Y"),            # a first field above 12: day first
    (["01/31/2024", "02/01/2024"], "%m/%d/%Y"),            # a second field above 12: month first
    (["01/02/2024", "03/04/2024"], "%m/%d/%Y"),            # nothing says: month first, as pandas reads it
    (["31.01.24 18:30", "01.02.24 07:05"], "%d.%m.%y %H:%M"),
    (["31-01-2024 18:30:05"], "%d-%m-%Y %H:%M:%S"),
    (["2024-01-31"], None), (["31/01/2024", "01/02/2024 10:00"], None),  # ISO needs no layout; two shapes: none
    (["13/01/2024", "01/13/2024"], None),                  # both orders contradicted
])
def test_the_layout_of_day_month_year_text_comes_from_the_values(texts, layout):
    assert text_date_format(texts) == layout


def test_the_layout_reads_as_words():
    assert readable_format("%d/%m/%Y %H:%M") == "day/month/year hour:minute"
