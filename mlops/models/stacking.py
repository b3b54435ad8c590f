"""Stacking that has to earn its place: of three ways to combine the members' out-of-fold predictions, the one
that scores best out of fold becomes the model.

- `stack`: a linear model learnt on them (logistic regression over class probabilities, ridge over values);
- `weighted`: their weighted average, the weights picked greedily for the metric (Caruana et al.'s ensemble
  selection: add, with replacement, the member that most improves the average, 25 times);
- `member`: the best member alone.

scikit-learn's stacking always registers the stack. On digits (about 1,350 training rows) a stack of five
trials scored 0.984-0.987 accuracy on the test split where an average of its two best members scored 0.993:
the linear model had too few rows to learn ten classes' weights over fifty columns, while on 15,000 rows the
stack did best. The choice costs little beyond what stacking pays anyway: the members' out-of-fold predictions
(one fit per fold) are what every combination learns from; each combination's own out-of-fold score comes from
refitting it, not the members, on the other folds' rows. Only the members the chosen combination uses are
refitted on every row.
"""
from __future__ import annotations

from typing import Any

from sklearn.base import ClassifierMixin, RegressorMixin, clone
from sklearn.utils.metaestimators import _BaseComposition

COMBINATIONS = ("stack", "weighted", "member")  # a tie goes to the later one: the simpler model
SELECTION_ROUNDS = 25  # members added, with replacement, to the weighted average
MIN_ROWS = 50  # rows with every given member's prediction needed to learn a combination from them


class _CheckedStacking(_BaseComposition):
    """Shared by the classifier and the regressor. `estimators`: [(name, unfitted estimator)]; `cv`: the folds
    of the out-of-fold predictions; `metric`: the spec's metric name that scores the combinations (None:
    accuracy or R^2)."""

    _method = "predict"

    def __init__(self, estimators: list[tuple[str, Any]], cv: int, metric: str | None = None,
                 random_state: int = 0) -> None:
        self.estimators = estimators
        self.metric = metric
        self.cv = cv
        self.random_state = random_state

    # The members' parameters are the ensemble's (m0_svm__C): label-keyed ones are re-keyed like any model's.
    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return self._get_params("estimators", deep=deep)

    def set_params(self, **params: Any) -> _CheckedStacking:
        self._set_params("estimators", **params)
        return self

    def fit(self, X: Any, y: Any, out_of_fold: list[Any] | None = None) -> _CheckedStacking:
        """`out_of_fold`: per member (in order), its predictions for these rows by models that never trained on
        them, when known (a search's trials made them: mlops.stages.out_of_fold), else None. A row a given member
        has no prediction for is NaN (trials scored on a hold-out predicted only its rows): the combinations then
        learn from the rows every given member predicted (blending), and a member not given is fitted on the
        other rows to predict them. Without any given, each member's are computed over `cv` folds."""
        import numpy as np

        self._prepare(y)
        y = np.asarray(y)
        given = list(out_of_fold) if out_of_fold is not None else [None] * len(self.estimators)
        if len(given) != len(self.estimators):
            raise ValueError(f"out_of_fold has {len(given)} entries for {len(self.estimators)} members")
        given = [self._checked(values, len(y)) if values is not None else None for values in given]
        known = np.ones(len(y), dtype=bool)
        for values in given:
            if values is not None:
                known &= np.isfinite(values).reshape(len(y), -1).all(axis=1)
        if known.sum() < MIN_ROWS:  # too few rows to learn and score a combination on: all computed over folds
            given, known = [None] * len(given), np.ones(len(y), dtype=bool)
        out_of_fold = [values[known] if values is not None else self._predicted(estimator, X, y, known)
                       for (_, estimator), values in zip(self.estimators, given)]
        self.given_, self.rows_ = sum(values is not None for values in given), int(known.sum())
        y_all, y = y, y[known]
        folds = self._folds(y)
        self.member_scores_ = [self._score(y, predictions) for predictions in out_of_fold]
        best = max(range(len(out_of_fold)), key=lambda i: self._signed(self.member_scores_[i]))
        splits = list(folds.split(out_of_fold[0], y))
        self.scores_ = {"stack": self._score(y, self._stack_out_of_fold(out_of_fold, y, splits)),
                        "weighted": self._score(y, self._weighted_out_of_fold(out_of_fold, y, splits)),
                        "member": self.member_scores_[best]}
        self.combination_ = max(reversed(COMBINATIONS), key=lambda name: self._signed(self.scores_[name]))
        if self.combination_ == "stack":
            used, self.weights_ = list(range(len(out_of_fold))), None
            self.final_estimator_ = self._final().fit(self._columns(out_of_fold), y)
        else:
            weights = self._selection(out_of_fold, y) if self.combination_ == "weighted" else np.eye(len(out_of_fold))[best]
            used = [i for i in range(len(out_of_fold)) if weights[i] > 0]
            self.weights_, self.final_estimator_ = weights[used], None
        self.used_ = used
        self.estimators_ = [clone(self.estimators[i][1]).fit(X, y_all) for i in used]
        return self

    def _predicted(self, estimator: Any, X: Any, y: Any, known: Any) -> Any:
        """A member's predictions for the `known` rows from fits that did not see them: over `cv` folds when they
        are every row, else one fit on the other rows."""
        import numpy as np
        from sklearn.model_selection import cross_val_predict

        if known.all():
            return cross_val_predict(clone(estimator), X, y, cv=self._folds(y), method=self._method)
        rows = lambda mask: X.iloc[np.flatnonzero(mask)] if hasattr(X, "iloc") else X[np.flatnonzero(mask)]  # noqa: E731
        return self._predictions_of(clone(estimator).fit(rows(~known), y[~known]), rows(known))

    def _checked(self, values: Any, rows: int) -> Any:
        """Given out-of-fold predictions as floats, when their shape fits these rows (and classes)."""
        import numpy as np

        values = np.asarray(values, dtype=float)
        expected = (rows,) if self._method == "predict" else (rows, len(self.classes_))
        if values.shape != expected:
            raise ValueError(f"out-of-fold predictions of shape {values.shape} where {expected} was expected")
        return values

    def _combined(self, X: Any) -> Any:
        """The used members' predictions on X, combined as chosen."""
        predictions = [getattr(member, self._method)(X) for member in self.estimators_]
        if self.final_estimator_ is not None:
            return getattr(self.final_estimator_, self._method)(self._columns(predictions))
        return sum(w * p for w, p in zip(self.weights_, predictions))

    def _stack_out_of_fold(self, out_of_fold: list[Any], y: Any, splits: list[Any]) -> Any:
        import numpy as np

        columns = self._columns(out_of_fold)
        predictions = np.zeros_like(out_of_fold[0], dtype=float)
        for train, test in splits:
            predictions[test] = self._predictions_of(self._final().fit(columns[train], y[train]), columns[test])
        return predictions

    def _weighted_out_of_fold(self, out_of_fold: list[Any], y: Any, splits: list[Any]) -> Any:
        import numpy as np

        predictions = np.zeros_like(out_of_fold[0], dtype=float)
        for train, test in splits:
            weights = self._selection([p[train] for p in out_of_fold], y[train])
            predictions[test] = sum(w * p[test] for w, p in zip(weights, out_of_fold))
        return predictions

    def _selection(self, predictions: list[Any], y: Any) -> Any:
        """Ensemble selection: weights (summing to 1) of the members, each round adding the one whose addition
        gives the best average; a member that helps only once is still counted once."""
        import numpy as np

        counts = np.zeros(len(predictions))
        total = np.zeros_like(predictions[0], dtype=float)
        for round_ in range(SELECTION_ROUNDS):
            trials = [self._signed(self._score(y, (total + p) / (round_ + 1))) for p in predictions]
            chosen = int(np.argmax(trials))
            counts[chosen] += 1
            total += predictions[chosen]
        return counts / counts.sum()

    def _signed(self, score: float) -> float:
        """Greater is better, whatever the metric's direction."""
        from mlops.metrics import METRICS

        return score if METRICS[self.metric_].greater_is_better else -score

    def _predictions_of(self, final: Any, columns: Any) -> Any:
        return final.predict(columns)

    def _prepare(self, y: Any) -> None:
        raise NotImplementedError

    def _folds(self, y: Any) -> Any:
        raise NotImplementedError

    def _final(self) -> Any:
        raise NotImplementedError

    def _columns(self, predictions: list[Any]) -> Any:
        raise NotImplementedError

    def _score(self, y: Any, predictions: Any) -> float:
        raise NotImplementedError


class CheckedStackingClassifier(ClassifierMixin, _CheckedStacking):
    """Combines the members' class probabilities (the stack: logistic regression over them)."""

    _method = "predict_proba"

    def predict_proba(self, X: Any) -> Any:
        # Rows that sum to 1 to the last bit: members' float32 probabilities (XGBoost's) averaged with float64
        # weights are off by ~1e-7, which log_loss warns about.
        proba = self._combined(X)
        return proba / proba.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> Any:
        from mlops.models.scores import labels_from_proba

        return labels_from_proba(self.classes_, self.predict_proba(X))

    def _prepare(self, y: Any) -> None:
        import numpy as np

        from mlops.metrics import METRICS

        # cross_val_predict orders probability columns the same way; every class of y is one, so roc_auc and
        # log_loss can always score the out-of-fold probabilities
        self.classes_ = np.unique(np.asarray(y))
        self.metric_ = self.metric if self.metric in METRICS and METRICS[self.metric].task == "classification" else "accuracy"

    def _folds(self, y: Any) -> Any:
        import numpy as np
        from sklearn.model_selection import KFold, StratifiedKFold

        smallest = int(np.unique(np.asarray(y), return_counts=True)[1].min())
        if smallest >= self.cv:
            return StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        return KFold(self.cv, shuffle=True, random_state=self.random_state)  # a class rarer than the folds

    def _final(self) -> Any:
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=1000)

    def _predictions_of(self, final: Any, columns: Any) -> Any:
        """The final model's probabilities in every class's column: one fitted on folds that lack a rare class
        has no column for it (that class gets probability 0)."""
        import numpy as np

        proba = np.zeros((len(columns), len(self.classes_)))
        proba[:, np.searchsorted(self.classes_, final.classes_)] = final.predict_proba(columns)
        return proba

    def _columns(self, predictions: list[Any]) -> Any:
        import numpy as np

        # two classes: one column per member (the other is its complement, and would make the columns collinear)
        return np.hstack([p[:, 1:] if p.shape[1] == 2 else p for p in predictions])

    def _score(self, y: Any, proba: Any) -> float:
        from mlops.models.scores import labels_from_proba, metric_value

        return metric_value(self.metric_, y, labels_from_proba(self.classes_, proba), proba, self.classes_)


class CheckedStackingRegressor(RegressorMixin, _CheckedStacking):
    """Combines the members' predicted values (the stack: ridge regression over them, its penalty chosen by
    efficient leave-one-out)."""

    def predict(self, X: Any) -> Any:
        return self._combined(X)

    def _prepare(self, y: Any) -> None:
        from mlops.metrics import METRICS

        self.metric_ = self.metric if self.metric in METRICS and METRICS[self.metric].task == "regression" else "r2"

    def _folds(self, y: Any) -> Any:
        from sklearn.model_selection import KFold

        return KFold(self.cv, shuffle=True, random_state=self.random_state)

    def _final(self) -> Any:
        from sklearn.linear_model import RidgeCV

        return RidgeCV()

    def _columns(self, predictions: list[Any]) -> Any:
        import numpy as np

        return np.column_stack(predictions)

    def _score(self, y: Any, predictions: Any) -> float:
        from mlops.models.scores import metric_value

        return metric_value(self.metric_, y, predictions)
