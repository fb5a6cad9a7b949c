"""nipype-carbon beside the whole-process trackers, each in its own venv, on one workload."""
