"""Plan -> Ray: cluster connection, feasibility checks, and executing nodes as Ray tasks."""
