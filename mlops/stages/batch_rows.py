"""The input contract (mlops.models.input_contract) applied to a batch file, as both executors share it.

Each scored batch is judged where it is scored (a worker thread, a Ray Data actor) and comes back with
one row per input row and two marker columns: the row's refused cells, and how many cells were nulled.
The driver, which sees the batches in file order, numbers the rows and settles them by `on_error`:

- fail (default): nothing is written; the first LISTED bad cells are named ("row 3, column sqft: value
  'big' is not a number"), with how many there are in all;
- skip: the rows with a bad cell are dropped, and counted;
- null: a bad cell becomes a missing value, imputed as a null is; where the model does not impute the
  column, the row is refused as with fail.

A missing or unknown column is the whole file's problem: refused before any row is scored, whatever
`on_error` says. Rows are numbered from 0, the header not counted, as online requests number them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from mlops.errors import DataError, Problem
from mlops.models.input_contract import CellProblem, InputContract

ON_ERROR = ("fail", "skip", "null")
LISTED = 20  # bad cells a failed batch scoring names
REFUSED = "__mlops_refused__"  # marker columns of a scored batch: the row's refused cells ("column\tmessage" lines)
NULLED = "__mlops_nulled__"  # ... and how many of the row's cells were nulled (on_error: null)
FIELD = "serving.batch.input"


def batch_contract(bundle: Any, params: dict[str, Any]) -> InputContract:
    """The model's input contract for batch files: the id column, the data's timestamp and the views' entity
    keys are accepted and ignored besides the columns the model ignores."""
    from mlops.models.model_contract import contract_for

    keys = [v["key"] for v in params.get("feature_views") or []]
    return contract_for(bundle, also=[params.get("id_column"), params.get("timestamp"), *keys])


def check_columns(contract: InputContract, columns: list[str]) -> None:
    """A DataError naming every input column missing (and not imputed) and every unknown column."""
    import pandas as pd

    problems = contract.judge(pd.DataFrame(columns=list(dict.fromkeys(columns)))).columns
    if problems:
        raise DataError([Problem(FIELD, f"{len(problems)} column problem{'s' if len(problems) > 1 else ''}: nothing was "
                                        "scored (whatever on_error says)"),
                         *(Problem(f"column {p.column}", p.message) for p in problems)])


def scored_rows(bundle: Any, contract: InputContract, frame: Any, on_error: str, score: Any) -> Any:
    """`score(bundle, rows)` (the output frame) for every row of `frame`, judged by the contract, with the
    marker columns. A row refused stays in the output (so the driver can number it), scored as a stand-in
    (the model's sample row), for the driver to drop or report."""
    import numpy as np
    import pandas as pd

    from mlops.models.model_contract import sample_row

    judged = contract.judge(frame)
    if judged.columns:
        check_columns(contract, list(frame.columns))
    rows = judged.frame
    rules = {r.name: r for r in contract.rules}
    nulled = np.zeros(len(rows), dtype=np.int64)
    refused: dict[int, list[CellProblem]] = {}
    for problem in judged.cells:
        if on_error == "null" and problem.kind == "bad_value" and rules[problem.column].may_be_null:
            rows.iloc[problem.row, rows.columns.get_loc(problem.column)] = rules[problem.column].null
            nulled[problem.row] += 1
        else:
            refused.setdefault(problem.row, []).append(problem)
    if refused:
        positions = sorted(refused)
        for column, value in zip(contract.columns, sample_row(bundle)):
            rows.iloc[positions, rows.columns.get_loc(column)] = value
    out = score(bundle, rows)
    texts = [None] * len(rows)
    for position, problems in refused.items():
        texts[position] = "\n".join(f"{p.column}\t{p.message}" for p in problems)
    out[REFUSED] = pd.array(texts, dtype="string")
    out[NULLED] = nulled
    return out


@dataclass
class Settle:
    """The driver's side: takes the scored batches in file order, numbers their rows, and keeps, drops or
    refuses the rows with bad cells as `on_error` says. `take` gives the table to write (None: write
    nothing more, the scoring has failed); `finish` raises the refusal."""

    on_error: str = "fail"
    row: int = 0
    bad_cells: int = 0
    bad_rows: int = 0
    skipped: int = 0
    nulled: int = 0
    listed: list[CellProblem] = field(default_factory=list)

    def take(self, table: Any) -> Optional[Any]:
        """The table without its marker columns (and, with skip, without its refused rows)."""
        import pyarrow.compute as pc

        texts, count = table.column(REFUSED), len(table)
        self.nulled += int(pc.sum(table.column(NULLED)).as_py() or 0)
        table = table.drop_columns([REFUSED, NULLED])
        if texts.null_count < count:
            lines = texts.to_pylist()
            bad = [i for i, text in enumerate(lines) if text]
            for i in bad:
                for line in lines[i].split("\n"):
                    column, _, message = line.partition("\t")
                    self.bad_cells += 1
                    if len(self.listed) < LISTED:
                        self.listed.append(CellProblem("bad_value", column, self.row + i, message))
            self.bad_rows += len(bad)
            if self.on_error == "skip":
                table = table.filter(pc.invert(pc.is_valid(texts)))
                self.skipped += len(bad)
        self.row += count
        return None if self.failed else table

    @property
    def failed(self) -> bool:
        """A row was refused and on_error does not skip it."""
        return self.bad_rows > 0 and self.on_error != "skip"

    def finish(self) -> None:
        """A DataError listing the first LISTED bad cells, when the scoring failed."""
        if not self.failed:
            return
        rows = f"{self.bad_rows} row{'s' if self.bad_rows > 1 else ''}"
        shown = f"; the first {LISTED}" if self.bad_cells > LISTED else ""
        how = ("on_error: null imputes a bad cell only where the model imputes the column" if self.on_error == "null"
               else "--on-error skip (serving.batch.on_error: skip) drops those rows; --on-error null imputes the cells")
        raise DataError([Problem(FIELD, f"{self.bad_cells} bad cell{'s' if self.bad_cells > 1 else ''} in {rows} "
                                        f"(rows count from 0){shown}: nothing was written", hint=how),
                         *(Problem(f"row {p.row}, column {p.column}", p.message) for p in self.listed)])
