"""Which GPUs ``CUDA_VISIBLE_DEVICES`` makes visible, as NVML indices."""

from __future__ import annotations

import re
from collections.abc import Sequence


def parse_visible_devices(spec: str | None, uuids: Sequence[str]) -> list[int]:
    """NVML indices of the GPUs that ``CUDA_VISIBLE_DEVICES`` makes visible.

    Parameters
    ----------
    spec : str or None
        The variable's value; None (unset) makes every GPU visible. Entries are
        indices or GPU UUIDs, whole or a unique prefix such as ``GPU-8a3f``.
        As CUDA does, the list ends at the first invalid entry, so ``""`` and
        ``"-1"`` make no GPU visible. Repeated entries count once. MIG instance
        UUIDs (``MIG-...``) are ignored: NVML meters whole GPUs only.
    uuids : sequence of str
        UUID of each GPU, in NVML order.

    Notes
    -----
    Indices are read in NVML order, which is PCI bus order. CUDA numbers GPUs
    the same way only when ``CUDA_DEVICE_ORDER=PCI_BUS_ID``; by default it puts
    the fastest first, so on a host with mixed GPUs an index may name another
    GPU than CUDA means. UUIDs are unambiguous.

    Examples
    --------
    >>> parse_visible_devices("1,GPU-8a", ["GPU-8a3f", "GPU-12ab"])
    [1, 0]
    >>> parse_visible_devices("0,-1,1", ["GPU-8a3f", "GPU-12ab"])
    [0]
    """
    if spec is None:
        return list(range(len(uuids)))
    chosen: list[int] = []
    for raw in spec.split(","):
        entry = raw.strip()
        if entry.upper().startswith("MIG-"):
            continue
        index = _match_entry(entry, uuids)
        if index is None:
            break
        if index not in chosen:
            chosen.append(index)
    return chosen


def _match_entry(entry: str, uuids: Sequence[str]) -> int | None:
    if re.fullmatch(r"\d+", entry):
        return int(entry) if int(entry) < len(uuids) else None
    if not entry.upper().startswith("GPU-"):
        return None
    matches = [i for i, uuid in enumerate(uuids) if uuid.lower().startswith(entry.lower())]
    return matches[0] if len(matches) == 1 else None
