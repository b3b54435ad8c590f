"""The scaling a search may choose per trial, for the families whose results depend on it: an SVM's kernel,
k-NN's distances and a linear model's penalty all read the columns' scales; trees do not. (A leaf module: the
registry's tables, the plan and the stages all read these names.) A trial's model section
then carries `preprocessing: {scale: ...}`, which overrides features.scale for that model's pipeline: on
digits (pixels of one range, some nearly always 0), standard scaling blows the rare pixels up and an SVM
scored 0.979 cross-validated where min-max scaling (the pixels' own proportions) gave 0.990.
"""
from __future__ import annotations

from typing import Any

SCALE_KEY = "preprocessing.scale"  # the dotted key in a family's search space, and in a trial's model section
SEARCHED_SCALES = ["standard", "minmax"]


def pipeline_features(features: dict[str, Any], model: dict[str, Any]) -> dict[str, Any]:
    """The features section a model's pipeline is built from: the spec's, with the scaling its model section
    chose (SCALE_KEY), if it chose one."""
    scale = (model.get("preprocessing") or {}).get("scale")
    return {**features, "scale": scale} if scale else features
