"""Per-prediction explanations (SHAP): each row's contribution per input column, its sign, and the base
value they add to. Tree ensembles (forests, gradient boosting, LightGBM, XGBoost) get SHAP's exact tree
explainer; every other family (linear models, SVMs, k-NN, torch nets, ensembles) the permutation explainer
over a background sample of the training data (the drift reference kept with the model).

Rows come in already judged by the model's input contract (`checked_rows`), as predict's are; the
serving route can build one `ModelExplainer` per loaded model and call `explain(frame, top)`.

Cost bound, enforced by a row limit (`row_limit`): the tree explainer walks every tree once per row
(at most TREE_ROWS rows a call); the permutation explainer scores 2 x PERMUTATIONS x F x BACKGROUND model
rows per explained row (F: columns the estimator sees), and a call may cost at most MODEL_ROWS of them.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from mlops.errors import DataError, Problem

TREE_ROWS = 100_000  # rows one call of the tree explainer may explain
MODEL_ROWS = 20_000_000  # model rows one call of the permutation explainer may score
PERMUTATIONS = 5  # permutations per explained row (each costs 2 x F model calls over the background)
BACKGROUND = 50  # background rows the permutation explainer masks with
TREE_MODULES = ("sklearn.ensemble._forest", "sklearn.ensemble._gb", "sklearn.ensemble._hist_gradient_boosting",
                "sklearn.tree", "lightgbm", "xgboost")


@dataclass
class RowExplanation:
    """One row: the prediction, the output explained (class probability or margin, or the value), the base
    value, and each input column's contribution (base_value + sum(contributions) == output)."""

    row: int
    prediction: Any
    explained: str  # what `output` is: "value", or "P(class=setosa)", "log-odds(class=1)"
    output: float
    base_value: float
    contributions: dict[str, float] = field(default_factory=dict)

    def top(self, k: Optional[int] = None) -> list[tuple[str, float]]:
        """The `k` largest contributions by size (all without k), signs kept."""
        ranked = sorted(self.contributions.items(), key=lambda p: -abs(p[1]))
        return ranked[:k] if k else ranked

    def to_dict(self, k: Optional[int] = None) -> dict[str, Any]:
        """JSON-ready: the top contributions as [{"feature", "contribution"}], most important first."""
        prediction = self.prediction.item() if hasattr(self.prediction, "item") else self.prediction
        return {"row": self.row, "prediction": prediction, "explained": self.explained, "output": self.output,
                "base_value": self.base_value,
                "contributions": [{"feature": n, "contribution": v} for n, v in self.top(k)]}


@dataclass
class Explanations:
    """The explanations of a frame's rows, and how they were computed."""

    method: str  # "tree" or "permutation"
    rows: list[RowExplanation]

    def to_dict(self, k: Optional[int] = None) -> dict[str, Any]:
        """JSON-ready, each row's top `k` contributions."""
        return {"method": self.method, "rows": [r.to_dict(k) for r in self.rows]}


def checked_rows(bundle: Any, frame: Any, field_name: str = "--input", contract: Any = None) -> Any:
    """`frame` read by the model's input contract (exactly as predict reads it); a DataError naming every
    refused column and the first refused cells otherwise."""
    from mlops.models.model_contract import contract_for

    judged = (contract or contract_for(bundle)).judge(frame)
    problems = judged.columns + judged.cells
    if problems:
        shown = problems[:20]
        raise DataError([Problem(field_name, f"{len(problems)} problem{'s' if len(problems) > 1 else ''} with the "
                                             "rows: nothing was explained"),
                         *(Problem(f"row {p.row}, column {p.column}" if p.row is not None else f"column {p.column}",
                                   p.message) for p in shown)])
    return judged.frame[bundle.input_columns]


class ModelExplainer:
    """SHAP explanations for one loaded model (a bundle): built once, used for many calls."""

    def __init__(self, bundle: Any, background: Any = None):
        from mlops.models.feature_names import encoded_names, input_sources, split_pipeline

        self.bundle = bundle
        self.transform, self.estimator = split_pipeline(bundle.model)
        if self.transform is None:
            raise DataError(Problem("model", "this model is no preprocessing pipeline: its columns cannot be explained"))
        self.names = encoded_names(bundle.model) or []
        self.sources = input_sources(bundle.model)
        self.classes = getattr(self.estimator, "classes_", None)
        self.method = "tree" if type(self.estimator).__module__.startswith(TREE_MODULES) else "permutation"
        self._background = background
        self._shap: Any = None

    def row_limit(self) -> int:
        """The most rows one call may explain (the cost bound, in rows)."""
        if self.method == "tree":
            return TREE_ROWS
        per_row = 2 * PERMUTATIONS * max(1, len(self.names)) * BACKGROUND
        return max(1, MODEL_ROWS // per_row)

    def explain(self, frame: Any, top: Optional[int] = None) -> Explanations:
        """Each row of `frame` (contract-checked input columns) explained; a DataError over the row limit."""
        import numpy as np

        self._prepare()
        limit = self.row_limit()
        if len(frame) > limit:
            raise DataError(Problem("rows", f"{len(frame)} rows: the {self.method} explainer takes at most {limit} "
                                            "a call (its cost bound)", hint="explain a sample of the rows"))
        X = np.asarray(self.transform.transform(frame), dtype=float)
        values, base = self._tree(X) if self.method == "tree" else self._permutation(X)
        return Explanations(self.method, self._rows(frame, X, values, base, top))

    def _prepare(self) -> None:
        """Build the tree explainer once; a tree model SHAP cannot walk (multiclass sklearn gradient boosting)
        gets the permutation explainer instead, and its row limit."""
        if self.method != "tree" or self._shap is not None:
            return
        import shap

        try:
            self._shap = shap.TreeExplainer(self.estimator)
        except (ValueError, NotImplementedError):
            self.method = "permutation"

    def _tree(self, X: Any) -> tuple[Any, Any]:
        import warnings

        import numpy as np

        with warnings.catch_warnings():  # SHAP's note that a binary LightGBM's output layout changed (handled below)
            warnings.simplefilter("ignore", UserWarning)
            values = np.asarray(self._shap.shap_values(X, check_additivity=False))
        if values.ndim == 3 and values.shape[0] != len(X):  # older layout: one matrix per class
            values = np.moveaxis(values, 0, -1)
        base = np.atleast_1d(np.asarray(self._shap.expected_value, dtype=float))
        return values, np.broadcast_to(base, (len(X), len(base)))

    def _permutation(self, X: Any) -> tuple[Any, Any]:
        import numpy as np
        import shap

        if self._shap is None:
            background = self._background_matrix(X)
            model = self.estimator.predict_proba if self.classes is not None and hasattr(self.estimator, "predict_proba") \
                else self.estimator.predict
            self._shap = shap.PermutationExplainer(model, shap.maskers.Independent(background, max_samples=BACKGROUND),
                                                   seed=0)
        explained = self._shap(X, max_evals=2 * PERMUTATIONS * X.shape[1] + 1, silent=True)
        return np.asarray(explained.values), np.asarray(explained.base_values, dtype=float).reshape(len(X), -1)

    def _background_matrix(self, X: Any) -> Any:
        """The drift reference's rows (a sample of training), else the rows explained, transformed."""
        import numpy as np

        frame = self._background
        if frame is None:
            reference = getattr(getattr(self.bundle, "monitoring", None), "reference", None)
            frame = getattr(reference, "frame", None)
        columns = self.bundle.input_columns
        if frame is not None and set(columns) <= set(frame.columns) and len(frame):
            frame = frame[columns].sample(min(len(frame), BACKGROUND), random_state=0)
            return np.asarray(self.transform.transform(frame), dtype=float)
        return X[:BACKGROUND]

    def _rows(self, frame: Any, X: Any, values: Any, base: Any, top: Optional[int]) -> list[RowExplanation]:
        """Per row: the output explained (the predicted class's, or the only one), grouped to input columns."""
        import numpy as np

        from mlops.models.feature_names import grouped

        predictions = self.estimator.predict(X)
        names = self.names if len(self.names) == X.shape[1] else [f"feature_{i}" for i in range(X.shape[1])]
        module = type(self.estimator).__module__
        margin = self.method == "tree" and not module.startswith(("sklearn.ensemble._forest", "sklearn.tree"))
        out = []
        for i, prediction in enumerate(predictions):
            row_values, row_base = values[i], base[i]
            if row_values.ndim == 2:  # one column per class: the predicted class's
                c = int(np.flatnonzero(np.asarray(self.classes) == prediction)[0]) if self.classes is not None else 0
                row_values, row_base = row_values[:, c], row_base[c]
                explained = f"{'log-odds' if margin else 'P'}(class={self.classes[c]})"
            else:  # one output: the value, or a binary booster's margin of the positive class
                row_base = row_base[0]
                explained = "value" if self.classes is None else \
                    f"{'log-odds' if margin else 'P'}(class={self.classes[-1]})"
            contributions = grouped(row_values, names, self.sources)
            out.append(RowExplanation(i, prediction, explained, float(row_base) + float(np.sum(row_values)),
                                      float(row_base), {k: float(v) for k, v in contributions.items()}))
        return out
