"""Monitoring: data profile and checks, drift and outlier detectors, reports."""
