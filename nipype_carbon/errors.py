"""The root of every refusal: catch :class:`NipypeCarbonError` for "anything nipype-carbon
refused" (a setting, a session file, a file in a shared folder, a meter, a region).

Each error also derives from the built-in its kind suggests (``ValueError`` for a bad
value, ``OSError`` for a file), so code that catches those goes on working, and its
message names the fix. Standard library only, below every stage.

Examples
--------
>>> from nipype_carbon import CarbonSettings, NipypeCarbonError
>>> try:
...     CarbonSettings(pue=9)
... except NipypeCarbonError as err:
...     print(type(err).__name__, err)
SettingsError pue must be between 1.0 and 3.0, got 9
"""

from __future__ import annotations


class NipypeCarbonError(Exception):
    """Anything nipype-carbon refused; the message says what to do."""
