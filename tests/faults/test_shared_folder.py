"""A second local user attacks a shared carbon directory: no code of theirs runs, no file
is clobbered through a link, no record of the run is lost.

The attacker is a real user (``useradd`` here, acting through ``runuser``); the carbon
directory is shared as project folders are: mode 0777, 1777 (sticky) or 2775 with a
group the attacker is in. The tests need root and are skipped, with the reason, without.
"""

from __future__ import annotations

import grp
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest

from nipype_carbon.cli.runtime import content_digest, runtime_files
from nipype_carbon.record.reader import load_session
from nipype_carbon.record.runs import session_files
from tests.apps.test_app_run import REPO, carbon_run, clean_env
from tests.faults.helpers import run_cli as run_in_process
from tests.plugin.workflows import burn_node, fast

ATTACKER = "nc-mallory"
GROUP = "nc-lab"
#: the code the attacker plants: it leaves a mark wherever it runs
PAYLOAD = "open({mark!r}, 'w').write('pwned')\n"


def _have(*commands: str) -> None:
    if os.geteuid() != 0:
        pytest.skip("needs root: a second local user is made with useradd")
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)}")


@pytest.fixture(scope="module")
def attacker() -> Iterator[str]:
    """A second local user (and a group of the two), made for these tests."""
    _have("useradd", "userdel", "groupadd", "groupdel", "runuser")
    made = []
    if subprocess.run(["getent", "group", GROUP], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", GROUP], check=True)
        made.append(("groupdel", GROUP))
    if subprocess.run(["id", "-u", ATTACKER], capture_output=True).returncode != 0:
        subprocess.run(
            ["useradd", "--no-create-home", "--shell", "/usr/sbin/nologin", "-G", GROUP, ATTACKER],
            check=True,
        )
        made.insert(0, ("userdel", ATTACKER))
    yield ATTACKER
    for command in made:
        subprocess.run(list(command), check=False)


def as_attacker(code: str) -> None:
    """Run Python code as the attacker (Debian's own interpreter, nothing of ours)."""
    subprocess.run(
        [
            shutil.which("runuser") or "runuser",
            "-u",
            ATTACKER,
            "--",
            "/usr/bin/python3",
            "-c",
            code,
        ],
        check=True,
        capture_output=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "HOME": "/nonexistent"},
    )


@pytest.fixture
def shared() -> Iterator[Path]:
    """A project folder the attacker can reach (the test's tmp_path is root's alone)."""
    folder = Path(tempfile.mkdtemp(prefix="nc-shared-", dir="/tmp"))
    os.chmod(folder, 0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def shared_carbon_dir(shared: Path, mode: str) -> Path:
    carbon = shared / "carbon"
    carbon.mkdir()
    if mode == "2775":
        os.chown(carbon, 0, grp.getgrnam(GROUP).gr_gid)
    os.chmod(carbon, int(mode, 8))
    return carbon


def runtime_name() -> str:
    """The runtime folder's name, as anyone who can read the installed package computes it."""
    from nipype_carbon._version import __version__

    files = list(runtime_files())
    digest = content_digest((rel, src.read_bytes()) for src, rel in files)
    return f"{__version__}-{digest[:12]}"


def nipype_carbon_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        carbon_run(*args),
        env=clean_env(PYTHONPATH=str(REPO)),
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def victim(shared: Path) -> Path:
    """A file only root can change, outside the carbon directory."""
    path = shared / "precious.txt"
    path.write_text("precious\n")
    os.chmod(path, 0o600)
    return path


@pytest.mark.parametrize("mode", ["0777", "1777", "2775"])
def test_code_planted_in_a_shared_carbon_dir_is_never_run(
    attacker: str, shared: Path, mode: str
) -> None:
    carbon = shared_carbon_dir(shared, mode)
    mark = shared / "pwned"
    planted = carbon / ".runtime" / runtime_name()
    payload = PAYLOAD.format(mark=str(mark))
    as_attacker(
        f"import os; os.makedirs({str(planted)!r}); "
        f"open({str(planted / 'sitecustomize.py')!r}, 'w').write({payload!r})"
    )
    env_file = shared / "carbon.env"
    proc = nipype_carbon_run(
        "--carbon-dir", str(carbon), "--env-file", str(env_file), "--",
        sys.executable, "-c", "print('the app ran')", cwd=shared,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "the app ran" in proc.stdout
    assert not mark.exists()  # the planted sitecustomize never ran
    # the user is told what the shared folder allows, and where the runtime went instead
    assert f"warning: carbon directory {carbon} can be changed by other users" in proc.stderr
    assert "nipype-carbon executes nothing from it" in proc.stderr
    reason = "belongs to nc-mallory" if mode == "1777" else f"{carbon} is writable by"
    assert "not in the carbon directory" in proc.stderr and reason in proc.stderr, proc.stderr
    pythonpath = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    runtime = Path(pythonpath["PYTHONPATH"].split(os.pathsep)[0])
    assert Path(os.environ["XDG_CACHE_HOME"]) in runtime.parents


def test_a_runtime_moved_aside_and_replaced_after_the_first_run_is_never_run(
    attacker: str, shared: Path
) -> None:
    carbon = shared_carbon_dir(shared, "0755")
    first = nipype_carbon_run("--carbon-dir", str(carbon), "--", "true", cwd=shared)
    assert first.returncode == 0, first.stderr
    ours = carbon / ".runtime" / runtime_name()
    assert (ours / "sitecustomize.py").is_file()  # a private carbon directory holds it
    os.chmod(carbon, 0o777)  # the lab opens the folder up
    mark = shared / "pwned"
    as_attacker(
        f"import os; os.rename({str(carbon / '.runtime')!r}, {str(carbon / 'aside')!r}); "
        f"os.makedirs({str(ours)!r}); "
        f"open({str(ours / 'sitecustomize.py')!r}, 'w').write({PAYLOAD.format(mark=str(mark))!r})"
    )
    proc = nipype_carbon_run("--carbon-dir", str(carbon), "--", sys.executable, "-c", "pass",
                             cwd=shared)  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert not mark.exists()


def test_a_changed_file_in_the_users_own_runtime_folder_is_not_reused(
    attacker: str, shared: Path
) -> None:
    """Only this user could have changed it, but what is imported must hash to its name."""
    carbon = shared_carbon_dir(shared, "0755")
    assert nipype_carbon_run("--carbon-dir", str(carbon), "--", "true", cwd=shared).returncode == 0
    ours = carbon / ".runtime" / runtime_name()
    mark = shared / "tampered"
    (ours / "nipype_carbon" / "startup.py").write_text(PAYLOAD.format(mark=str(mark)))
    proc = nipype_carbon_run("--carbon-dir", str(carbon), "--", sys.executable, "-c", "pass",
                             cwd=shared)  # fmt: skip
    assert proc.returncode == 0 and not mark.exists()
    assert "tampered" not in (ours / "nipype_carbon" / "startup.py").read_text()  # made afresh


def test_a_runtime_link_makes_no_folder_where_it_points(attacker: str, shared: Path) -> None:
    carbon = shared_carbon_dir(shared, "0777")
    elsewhere = shared / "elsewhere"
    elsewhere.mkdir()
    as_attacker(f"import os; os.symlink({str(elsewhere)!r}, {str(carbon / '.runtime')!r})")
    proc = nipype_carbon_run("--carbon-dir", str(carbon), "--", "true", cwd=shared)
    assert proc.returncode == 0, proc.stderr
    assert list(elsewhere.iterdir()) == []


@pytest.mark.parametrize("command", ["report", "graph", "env-file"])
def test_outputs_replace_a_planted_link_and_never_write_through_it(
    attacker: str, shared: Path, tmp_path: Path, command: str
) -> None:
    target = victim(shared)
    out = shared / "out"
    out.mkdir()
    os.chmod(out, 0o777)
    name = {"report": "report.html", "graph": "graph.dot", "env-file": "carbon.env"}[command]
    planted = out / name
    as_attacker(f"import os; os.symlink({str(target)!r}, {str(planted)!r})")
    if command == "env-file":
        proc = nipype_carbon_run("--carbon-dir", str(tmp_path / "carbon"), "--env-file",
                                 str(planted), "--", "true", cwd=tmp_path)  # fmt: skip
        assert proc.returncode == 0, proc.stderr
    else:
        session = _small_run(tmp_path)
        args = (
            ["report", str(session), "-o"] if command == "report" else ["graph", str(session), "-o"]
        )
        status, _, err = run_in_process(*args, str(planted))
        assert status == 0, err
    assert target.read_text() == "precious\n"  # not written through the link
    assert not planted.is_symlink() and planted.stat().st_size > 0


def _small_run(base: Path) -> Path:
    wf = fast(pe.Workflow("small", base_dir=str(base)))
    wf.add_nodes([burn_node("b", 0.05)])
    wf.run(plugin="CarbonLinear")
    return session_files(base / "small" / "carbon")[-1]


def test_a_session_file_swapped_for_a_link_mid_run_is_neither_followed_nor_lost(
    attacker: str, shared: Path
) -> None:
    carbon = shared_carbon_dir(shared, "0777")
    target = victim(shared)
    swapped: list[Path] = []

    def swap(node: object, status: str) -> None:
        if status != "end" or swapped:
            return
        (path,) = session_files(carbon)
        swapped.append(path)
        as_attacker(
            f"import os; os.rename({str(path)!r}, {str(shared / 'stolen.jsonl')!r}); "
            f"os.symlink({str(target)!r}, {str(path)!r})"
        )

    os.chmod(shared, 0o777)  # the attacker may put the stolen file beside
    wf = fast(pe.Workflow("victim_wf", base_dir=str(shared / "work")))
    names = [f"b{i}" for i in range(4)]
    nodes = [burn_node(name, 0.05) for name in names]
    for a, b in itertools.pairwise(nodes):
        wf.connect(a, "out", b, "seconds")
    wf.run(
        plugin="CarbonLinear",
        plugin_args={"carbon_dir": str(carbon), "status_callback": swap},
    )
    assert swapped and target.read_text() == "precious\n"
    (moved,) = [p for p in session_files(carbon) if not p.is_symlink()]
    session = load_session(moved)
    assert {n.split(".")[-1] for n in session.nodes if "scheduler" not in n} == set(names)
    assert session.status == "complete"
    assert any("was replaced by someone else" in note for note in session.problems())


def test_records_planted_in_a_replaced_spool_are_not_taken(attacker: str, shared: Path) -> None:
    """The attacker moves the run's spool aside and plants a folder of theirs with a fake
    record: the report never shows it."""
    carbon = shared_carbon_dir(shared, "0777")
    planted = []

    def plant(node: object, status: str) -> None:
        if status != "start" or planted:
            return
        (path,) = session_files(carbon)
        spool = path.with_suffix(".spool")
        fake = '{"name": "victim_wf.evil", "status": "ran", "start": 0, "end": 1, "host": "h"}'
        aside = str(spool) + ".aside"
        as_attacker(
            "import os\n"
            f"if os.path.isdir({str(spool)!r}): os.rename({str(spool)!r}, {aside!r})\n"
            f"os.makedirs({str(spool)!r})\n"
            f"open(os.path.join({str(spool)!r}, 'evil.1.1.node.json'), 'w').write({fake!r})\n"
        )
        planted.append(spool)

    wf = fast(pe.Workflow("victim_wf", base_dir=str(shared / "work")))
    wf.add_nodes([burn_node("b", 0.05)])
    os.chmod(shared, 0o777)
    wf.run(plugin="CarbonLinear", plugin_args={"carbon_dir": str(carbon), "status_callback": plant})
    assert planted
    session = load_session(session_files(carbon)[-1])
    assert "victim_wf.evil" not in session.nodes
    assert "victim_wf.b" in session.nodes and session.nodes["victim_wf.b"].status == "ran"
