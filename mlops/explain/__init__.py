"""Why a model predicts what it does: global importance (importance.py) and per-prediction explanations
(explainer.py), both in the spec's column names (mlops.models.feature_names)."""
