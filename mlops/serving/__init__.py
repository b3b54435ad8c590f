"""Online serving on Ray Serve: typed endpoints, batching, autoscaling, hot swap, metrics."""
