"""What metering costs: a run, a node, a process start, a report, a graph."""
