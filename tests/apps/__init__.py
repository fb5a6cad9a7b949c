"""Unmodified app-like programs metered from outside (``nipype-carbon run``, start-up hook)."""
