"""Detectors over data: column profiles, data contracts, drift and outlier detection, and what a bundle keeps of them."""
