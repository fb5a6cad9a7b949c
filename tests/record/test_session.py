"""Session files: round trip, crash tolerance, clear errors for foreign or damaged files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nipype_carbon import NodeRecord, Session, SessionError, load_session
from nipype_carbon.analyse.attribution import attribute_energy
from nipype_carbon.record.runs import new_session_path
from nipype_carbon.record.session import SCHEMA_VERSION, SESSION_FILE
from testkit.sessions import NodeSpec, build_session


def _written(tmp_path: Path) -> tuple[Session, Session]:
    live = build_session([NodeSpec("a", 0, 2, 1, 3), NodeSpec("b", 1, 2, 0.5, 3)])
    return Session.create(tmp_path, metadata={"workflow": "wf"}), live


def test_round_trip_through_a_carbon_directory(tmp_path: Path) -> None:
    session, live = _written(tmp_path)
    for host in live.hosts.values():
        session.add_host(host)
    for record in live.nodes.values():
        session.add_node(record)
    session.add_edges([("a", "b")])
    session.add_event("end", status="ok")
    loaded = load_session(tmp_path)
    assert (tmp_path / SESSION_FILE).exists()
    assert loaded.metadata == {"workflow": "wf"}
    assert list(loaded.nodes) == ["a", "b"] and loaded.edges == [("a", "b")]
    assert loaded.events[0]["kind"] == "end"
    before, after = attribute_energy(live), attribute_energy(loaded)
    assert after.nodes["a"].energy_j == pytest.approx(before.nodes["a"].energy_j)


def test_a_truncated_last_line_leaves_a_readable_partial_session(tmp_path: Path) -> None:
    session, live = _written(tmp_path)
    session.add_node(live.nodes["a"])
    with open(session.path, "a") as handle:  # type: ignore[arg-type]
        handle.write('{"type": "node", "name": "b", "sta')
    loaded = load_session(tmp_path)
    assert loaded.partial and list(loaded.nodes) == ["a"]


def test_a_damaged_line_in_the_middle_is_named_and_the_rest_kept(tmp_path: Path) -> None:
    session, live = _written(tmp_path)
    with open(session.path, "a") as handle:  # type: ignore[arg-type]
        handle.write("garbage\n")
    session.add_node(live.nodes["a"])
    loaded = load_session(tmp_path)
    assert [n for n, _ in loaded.damaged] == [2]
    assert list(loaded.nodes) == ["a"]
    assert "1 damaged line(s) skipped (line 2: not JSON)" in loaded.problems()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("not json\n", "not a nipype-carbon session"),
        ('{"some": "other tool"}\n', "not a nipype-carbon session"),
        (
            json.dumps({"format": "nipype-carbon-session", "schema_version": SCHEMA_VERSION + 1})
            + "\n",
            "upgrade",
        ),
    ],
)
def test_foreign_or_future_files_are_clear_errors(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text(content)
    with pytest.raises(SessionError, match=message):
        load_session(path)


def test_missing_run_names_the_path(tmp_path: Path) -> None:
    with pytest.raises(SessionError, match="no such session"):
        load_session(tmp_path / "nope.jsonl")
    with pytest.raises(SessionError, match="carbon directory"):
        load_session(tmp_path)


def test_save_is_atomic_and_loadable(tmp_path: Path) -> None:
    live = build_session([NodeSpec("a", 0, 2, 1, 3)])
    target = live.save(tmp_path / "copy.jsonl")
    assert [p.name for p in tmp_path.iterdir()] == ["copy.jsonl"]  # no temporary left behind
    assert list(load_session(target).nodes) == ["a"]


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        Session().add_node(NodeRecord("x", "exploded", 0, 1, "h"))


def test_two_runs_in_one_second_get_two_session_files(tmp_path: Path) -> None:
    first = new_session_path(tmp_path)
    first.write_text("")
    second = new_session_path(tmp_path)
    second.with_suffix(".spool").mkdir()
    third = new_session_path(tmp_path)
    assert len({first, second, third}) == 3 and third.suffix == ".jsonl"


def test_a_node_added_only_if_written_changes_nothing_while_lines_wait(tmp_path: Path) -> None:
    """A record handed over by the driving process goes in only if it reaches the file;
    while earlier lines wait for room (a full disk), it is refused and nothing changes."""
    live = build_session([NodeSpec("a", 0, 2, 1, 3), NodeSpec("b", 1, 2, 0.5, 3)])
    session = Session.create(tmp_path / "session.jsonl")
    assert session.add_node_if_written(live.nodes["a"])
    session.unwritten.append({"type": "event", "kind": "held back", "time": 0.0})
    assert not session.add_node_if_written(live.nodes["b"])
    assert list(session.nodes) == ["a"] and len(session.unwritten) == 1
    session.unwritten.clear()
    loaded = load_session(tmp_path / "session.jsonl")
    assert list(loaded.nodes) == ["a"] and list(loaded.hosts) == list(live.hosts)
