"""POST {route}/explain on the replica: SHAP explanations of a request's rows by the version that would
answer them (mlops.explain.explainer), computed in a worker thread so the event loop goes on answering
/predict. Mixed into the replica (mlops.serving.replica.Endpoint), which batches the requests
(`_explain_batch`) as it batches predictions: one explainer call covers the rows of several requests,
within the explainer's row limit (its cost bound).

A request's rows are read by the same request model as /predict's (the route validates them), so every
4xx is /predict's; a model input error names the row as /predict does (mlops.serving.scoring.refusal).
"""
from __future__ import annotations

import importlib.util
import time
import uuid
from typing import Any, Optional

from mlops.serving.live_versions import Routed, version_of
from mlops.serving.scoring import INPUT_ERRORS, RowRefused, refusal, store_refusal


class NotExplainable(RowRefused):
    """501: the served model cannot be explained here (SHAP not installed, or no preprocessing pipeline)."""

    def __init__(self, message: str) -> None:
        super().__init__("model", message, 501)


class ServedExplanations:
    """Per-version SHAP explainers of the replica's loaded models, and the /explain answer. The replica
    provides `loaded`, `router`, `metrics`, `store`, `views`, `row_fields`, `columns`, `request_rows`,
    `sticky_value`, `count_error` and `_explain_batch`."""

    loaded: dict[str, tuple]
    router: Any
    _explainers: dict[str, Any]  # version -> ModelExplainer (the replica's constructor makes it empty)

    def explainer(self, version: str) -> Any:
        """The version's ModelExplainer, built on first use (in the worker thread) and dropped with the version."""
        cache = self._explainers
        for gone in [v for v in cache if v not in self.loaded]:
            del cache[gone]
        if version not in cache:
            if importlib.util.find_spec("shap") is None:
                raise NotExplainable("explanations need SHAP where the endpoint runs: pip install 'mlops[explain]'")
            from mlops.errors import DataError
            from mlops.explain.explainer import ModelExplainer

            try:
                cache[version] = ModelExplainer(self.loaded[version][0])
            except DataError as exc:
                raise NotExplainable(exc.problems[0].message) from None
        return cache[version]

    async def explain(self, body: Any, top: Optional[int] = None, headers: Optional[dict] = None) -> dict[str, Any]:
        """Each row's top contributions, base value and output, by the version the router picks (the
        champion outside a rollout). Raises RowRefused (422 naming the row or `rows`, 404 from the online
        store) or NotExplainable (501)."""
        started = time.perf_counter()
        router = self.router
        version = router.only or router.pick(self.sticky_value(router, body, headers) if router.routing.sticky else None)
        if version not in self.loaded:
            version = self.version
        self.metrics.request("explain", version)
        values, ids = self.request_rows(body)
        try:
            outcome = await self._explain_batch(Routed(values, version))
            if isinstance(outcome, BaseException):
                raise outcome
            method, rows = outcome
        except NotExplainable:
            raise
        except RowRefused:
            self.count_error("validation", version)
            raise
        except Exception:
            self.count_error("internal", version)
            raise
        response = {"explanations": [row.to_dict(top) for row in rows], "method": method, "model_version": version,
                    "request_id": uuid.uuid4().hex}
        if ids is not None:
            response["ids"] = ids
        self.metrics.observe_explain((time.perf_counter() - started) * 1000, version)
        return response

    def explain_requests(self, requests: list[Routed]) -> list[Any]:
        """(method, [RowExplanation]) per request, or the exception that request alone gets; in a worker thread."""
        out: list[Any] = [None] * len(requests)
        for version in dict.fromkeys(version_of(r) for r in requests):
            mine = [k for k, r in enumerate(requests) if version_of(r) == version]
            try:
                explainer = self.explainer(version)
            except Exception as exc:  # noqa: BLE001 - every request of this version gets it
                for k in mine:
                    out[k] = exc
                continue
            for k, answer in zip(mine, self._explain_version(explainer, [requests[k] for k in mine])):
                out[k] = answer
        return out

    def _explain_version(self, explainer: Any, requests: list[list[list[Any]]]) -> list[Any]:
        """One explainer call per chunk of requests that stays within its row limit; a failed call is
        retried request by request, so a bad request fails alone."""
        limit, out, chunk, size = explainer.row_limit(), [], [], 0
        for rows in self._filled(requests):
            if isinstance(rows, Exception) or len(rows) > limit:
                out.extend(self._explain_chunk(explainer, chunk))
                chunk, size = [], 0
                out.append(rows if isinstance(rows, Exception) else RowRefused(
                    "rows", f"{len(rows)} rows: the {explainer.method} explainer takes at most {limit} a request "
                            "(its cost bound); explain fewer rows"))
                continue
            if size + len(rows) > limit:
                out.extend(self._explain_chunk(explainer, chunk))
                chunk, size = [], 0
            chunk.append(rows)
            size += len(rows)
        out.extend(self._explain_chunk(explainer, chunk))
        return out

    def _explain_chunk(self, explainer: Any, requests: list[list[list[Any]]]) -> list[Any]:
        if not requests:
            return []
        import pandas as pd

        bundle = explainer.bundle
        frame = pd.DataFrame([row for rows in requests for row in rows], columns=bundle.input_columns)
        try:
            explained = explainer.explain(frame)
        except Exception as exc:  # noqa: BLE001 - sorted out request by request
            if len(requests) == 1:
                return [refusal(bundle, requests[0], exc) if isinstance(exc, INPUT_ERRORS) else exc]
            return [answer for rows in requests for answer in self._explain_chunk(explainer, [rows])]
        out, start = [], 0
        for rows in requests:
            mine = explained.rows[start:start + len(rows)]
            for i, row in enumerate(mine):
                row.row = i
            out.append((explained.method, mine))
            start += len(rows)
        return out

    def _filled(self, requests: list[list[list[Any]]]) -> list[Any]:
        """The requests' model input rows: filled from the online store where the endpoint reads it (a row
        it cannot fill refuses its own request, as on /predict)."""
        if self.store is None:
            return requests
        from mlops.feature_store.lookup import fill_requests

        names, columns = self.row_fields, self.columns
        filled = fill_requests([[dict(zip(names, row)) for row in rows] for rows in requests], self.store, self.views)
        return [store_refusal(rows) if isinstance(rows, Exception) else [[row[c] for c in columns] for row in rows]
                for rows in filled]
