"""mlops: one declarative spec from research to production, on Ray and MLflow."""
__version__ = "0.1.0"
