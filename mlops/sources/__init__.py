"""Data sources: spec configs (light) and loaders (import pandas only when called)."""
