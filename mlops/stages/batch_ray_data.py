"""The Ray Data executor of batch_predict: read -> map_batches over an actor pool -> ordered write."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from mlops.stages.batch_output import OutputWriter, check_input, feature_join, output_frame, output_path
from mlops.stages.batch_rows import Settle, batch_contract, scored_rows


class _Scorer:
    """Ray Data actor: holds the (already verified) model once, scores pandas batches as the input contract
    takes them (the driver settles the rows it refused: mlops.stages.batch_rows)."""

    def __init__(self, bundle_ref: Any, contract: Any, params: dict[str, Any], join: Any = None):
        import ray

        self.bundle = ray.get(bundle_ref) if isinstance(bundle_ref, ray.ObjectRef) else bundle_ref
        if self.bundle.meta.get("flavor") == "torch":  # on the GPU this actor holds (scorer_gpus), else the CPU
            from mlops.models.device import place

            place(self.bundle.model)
        self.contract, self.params, self.join = contract, params, join

    def __call__(self, batch: Any) -> Any:
        frame = self.join(batch) if self.join is not None else batch  # feature views, read once per actor
        params = self.params
        return scored_rows(self.bundle, self.contract, frame, params.get("on_error", "fail"),
                           lambda model, rows: output_frame(model, rows, params["id_column"], params["include_proba"]))


def _dataset(source: dict[str, Any], base_dir: Path):
    import ray.data

    from mlops.sources.loaders import resolve_files

    field = "serving.batch.input.path"
    if source["type"] == "parquet":
        return ray.data.read_parquet([str(p) for p in resolve_files(source["path"], base_dir, field, ".parquet")])
    if source["type"] == "csv" and not source.get("thousands"):  # Arrow's CSV reader has no thousands separator
        import pyarrow.csv as pcsv

        from mlops.spec.sources import text_encoding

        encoding = text_encoding(source)  # Arrow skips a UTF-8 byte-order mark itself; other encodings transcode
        return ray.data.read_csv([str(p) for p in resolve_files(source["path"], base_dir, field, ".csv")],
                                 read_options=pcsv.ReadOptions(encoding="utf8" if encoding == "utf-8-sig" else encoding),
                                 parse_options=pcsv.ParseOptions(delimiter=source.get("separator", ",")),
                                 convert_options=pcsv.ConvertOptions(decimal_point=source.get("decimal", ".")))
    from mlops.stages.load import read_source

    return ray.data.from_pandas(read_source(source, str(base_dir), "serving.batch.input"))


def actor_pool_size() -> int:
    """Leave at least one CPU for the read tasks: a pool that takes every CPU starves them and hangs."""
    import ray

    cpus = int(ray.available_resources().get("CPU", 1))
    return max(1, cpus - 1)


def run_ray_data(bundle: Any, params: dict[str, Any]) -> Settle:
    """Score the batch input on Ray Data with a pool of actors, in order, into the output; returns what the
    input contract's judgement settled (rows, rows skipped, cells nulled)."""
    import ray
    from ray.data import DataContext

    context = DataContext.get_current()
    context.execution_options.preserve_order = True
    context.enable_progress_bars = False
    join = feature_join(params)
    ds = _dataset(params["input"], Path(params["base_dir"]))
    contract, settle = batch_contract(bundle, params), Settle(params.get("on_error", "fail"))
    check_input(contract, list(ds.schema().names), join)
    scored = ds.map_batches(_Scorer, fn_constructor_args=(ray.put(bundle), contract, params, join),
                            batch_format="pandas", batch_size=params["batch_size"], compute=ray.data.ActorPoolStrategy(size=actor_pool_size()),
                            num_cpus=1, **({"num_gpus": params["scorer_gpus"]} if params.get("scorer_gpus") else {}))
    with OutputWriter(output_path(params)) as writer:
        for table in scored.iter_batches(batch_format="pyarrow", batch_size=None):
            table = settle.take(table)
            if table is not None:
                writer.write(table)
        settle.finish()  # before the output replaces the previous one
    return settle
