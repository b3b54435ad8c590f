"""`serving.batch.schedule`: when the always-on controller scores the batch input on its own, as an
interval (`{every: 1d}`) or a cron string in UTC (`'0 6 * * *'`, or `{cron: '0 6 * * *'}`)."""
from __future__ import annotations

from typing import Any, Optional

from pydantic import Field, model_validator

from mlops.durations import Duration
from mlops.spec.base import StrictModel


class BatchSchedule(StrictModel):
    every: Optional[Duration] = Field(None, description="score every this long, e.g. 1h or 1d (counted from the "
                                                        "first run; missed runs while nothing ran collapse into one)")
    cron: Optional[str] = Field(None, description="a cron string read in UTC: 5 fields (minute hour day month "
                                                  "weekday) like '0 6 * * *', or 6 with seconds")

    @model_validator(mode="before")
    @classmethod
    def _from_a_string(cls, value: Any) -> Any:
        """A bare string is a cron string when it has 5+ fields (`'0 6 * * *'`), else a duration (`1d`)."""
        if isinstance(value, str):
            return {"cron": value} if len(value.split()) >= 5 else {"every": value}
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return {"every": value}
        return value

    @model_validator(mode="after")
    def _one_valid_form(self):
        if (self.every is None) == (self.cron is None):
            raise ValueError("a schedule sets exactly one of 'every' (like 1d) or 'cron' (like '0 6 * * *')")
        if self.cron is not None:
            from croniter import croniter  # light, and only specs with a cron string need it

            self.cron = self.cron.strip()
            if not croniter.is_valid(self.cron):
                raise ValueError(f"'{self.cron}' is not a cron string; expected 5 fields (minute hour day month "
                                 "weekday) read in UTC, like '0 6 * * *', or {every: 1d}")
        return self

    def describe(self) -> str:
        """As the spec writes it: every 1d, cron '0 6 * * *'."""
        from mlops.durations import format_duration

        return f"every {format_duration(self.every)}" if self.every is not None else f"cron '{self.cron}'"
