"""Stage 0, files: reading and writing in folders that other people can write to.

Carbon directories sit in shared project folders. Everything nipype-carbon
executes, writes or reads there goes through this package:

- :mod:`~nipype_carbon.files.trust` says who besides the user can change a
  path (owner and mode of it and of every folder above it), so code is only
  imported from a place nobody else can change, and a shared carbon directory
  is named as such;
- :mod:`~nipype_carbon.files.safe` creates files exclusively, appends
  without following links, replaces outputs (never writes through a link) and
  reads with a bound on size and line length, refusing special files.

Standard library only, below every stage: the node side uses it too.
"""
