"""Model families: how a spec's `model` section becomes a fitted predictor."""
