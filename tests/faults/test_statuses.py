"""Statuses true to nipype: a node Linear skips after a failure is skipped, not cached."""

from __future__ import annotations

from pathlib import Path

import pytest

from nipype_carbon.record.reader import load_session
from tests.faults.helpers import run_cli
from tests.plugin.workflows import failing


def test_linear_records_nodes_skipped_after_a_failure_as_skipped(tmp_path: Path) -> None:
    wf = failing(tmp_path)  # bad -> later; fine on its own
    with pytest.raises(RuntimeError):
        wf.run(plugin="CarbonLinear", plugin_args={"region": "GB"})
    ran = {p.parent.name for p in (tmp_path / "failing").glob("*/result_*.pklz")}
    assert "later" not in ran  # nipype did not run it
    session = load_session(tmp_path / "failing" / "carbon")
    statuses = {n: r.status for n, r in session.nodes.items()}
    assert statuses["failing.bad"] == "failed"
    assert statuses["failing.later"] == "skipped"
    assert statuses["failing.fine"] == "ran"
    assert "cached" not in statuses.values()
    assert session.status == "failed"
    code, out, _ = run_cli("report", str(tmp_path / "failing" / "carbon"), "--top", "20")
    assert code == 0 and "Run FAILED" in out and "failing.later  (skipped)" in out


def test_signal_handlers_are_ours_only_while_a_run_is_under_way(tmp_path: Path) -> None:
    import signal

    from tests.plugin.workflows import known_costs

    def mine(signum, frame):  # type: ignore[no-untyped-def]
        raise AssertionError("not called")

    previous = signal.signal(signal.SIGTERM, mine)
    try:
        seen = []
        wf = known_costs(tmp_path)
        callback = lambda node, status: seen.append(signal.getsignal(signal.SIGTERM))  # noqa: E731
        wf.run(plugin="CarbonLinear", plugin_args={"status_callback": callback})
        assert seen and all(handler is not mine for handler in seen)  # ours during the run
        assert signal.getsignal(signal.SIGTERM) is mine  # and the user's again after it
    finally:
        signal.signal(signal.SIGTERM, previous)
