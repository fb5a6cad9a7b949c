"""The example pipelines: energy per subject, per step, per alternative."""
