"""The Pydra version of the DWI example (see README.md)."""
