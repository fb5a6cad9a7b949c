"""Damaged and foreign files cost bounded memory: read line by line, a cap on each line.

Each case runs ``nipype-carbon report`` in a fresh process and reads its peak memory
from the kernel (``ru_maxrss``), against the same command on the undamaged session.
The damaged parts are sparse files (a gigabyte of NUL bytes costs no disk).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from nipype_carbon.record.reader import MAX_LINE_B
from tests.faults.test_malformed import valid_lines

GB = 1 << 30
PROBE = (
    "import resource, sys\n"
    "from nipype_carbon.cli.main import main\n"
    "status = main(['report', sys.argv[1]])\n"
    "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024\n"
    "sys.stderr.write(f'\\nPEAK {peak}\\n')\n"
    "sys.exit(status)\n"
)


def report_peak(path: Path) -> tuple[int, str, int]:
    """Exit status, output and peak memory (bytes) of ``nipype-carbon report PATH``."""
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(path)],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    peak = int(done.stderr.rsplit("PEAK ", 1)[1].split()[0])
    return done.returncode, done.stdout + done.stderr, peak


def _session_text() -> str:
    return "".join(json.dumps(line) + "\n" for line in valid_lines())


def test_a_gigabyte_damaged_line_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    control = tmp_path / "control" / "session-1.jsonl"
    control.parent.mkdir()
    control.write_text(_session_text())
    _, _, control_peak = report_peak(control)

    damaged = tmp_path / "damaged" / "session-1.jsonl"
    damaged.parent.mkdir()
    lines = _session_text().splitlines(keepends=True)
    with open(damaged, "w") as handle:
        handle.write("".join(lines[:3]))
    with open(damaged, "r+b") as handle:  # a gigabyte of NUL bytes in the middle: one line
        handle.seek(0, os.SEEK_END)
        handle.truncate(handle.tell() + GB)
        handle.seek(0, os.SEEK_END)
        handle.write(b"\n" + "".join(lines[3:]).encode())
    status, out, peak = report_peak(damaged)
    assert status == 0 and "Traceback" not in out, out
    assert f"line 4: longer than {MAX_LINE_B >> 20} MB: skipped" in out
    # at most one capped line held on top of what the undamaged session needs
    assert peak - control_peak < MAX_LINE_B + 200 * (1 << 20), (peak, control_peak)


def test_a_large_foreign_file_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    foreign = tmp_path / "session-1.jsonl"
    with open(foreign, "wb") as handle:
        handle.write(os.urandom(1 << 20))  # random bytes, then 200 MB of nothing
        handle.truncate(201 << 20)
    status, out, peak = report_peak(foreign)
    assert status == 2 and "Traceback" not in out
    assert "not a nipype-carbon session" in out
    assert peak < 400 * (1 << 20), peak
