"""``nipype-carbon run``'s own parts: settings refused up front, exit statuses, the runtime
folder, the sitecustomize hand-over, and the plugin swap inside ``Workflow.run``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nipype.pipeline.engine as pe
import pytest
from nipype.interfaces.utility import Function
from nipype.pipeline.plugins import LinearPlugin, MultiProcPlugin

from nipype_carbon.cli.main import main
from nipype_carbon.cli.runtime import prepare_runtime
from nipype_carbon.measure.host import host_name
from nipype_carbon.plugin.apprun import carbon_variant, patch_workflow
from nipype_carbon.plugin.runner import CarbonPlugin
from nipype_carbon.record.runs import UNMETERED_PREFIX
from nipype_carbon.record.settings import ENV_NOT_SETTINGS, RUN_VARIABLE
from nipype_carbon.startup import RUN_VARIABLE as STARTUP_RUN_VARIABLE
from tests.apps.test_app_run import REPO, carbon_run, clean_env


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        carbon_run(*args), env=clean_env(PYTHONPATH=str(REPO)), cwd=cwd,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_the_run_variable_is_one_name_and_not_a_setting() -> None:
    assert STARTUP_RUN_VARIABLE == RUN_VARIABLE
    assert RUN_VARIABLE in ENV_NOT_SETTINGS


def test_a_typo_is_refused_before_the_command_runs(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    proc = run_cli("--set", "regoin=GB", "--", "touch", str(marker), cwd=tmp_path)
    assert proc.returncode == 2
    assert "did you mean" in proc.stderr and "REGION" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not marker.exists()
    proc = run_cli("--pue", "9", "--", "touch", str(marker), cwd=tmp_path)
    assert proc.returncode == 2 and "1.0" in proc.stderr and not marker.exists()


def test_exit_statuses_pass_through(tmp_path: Path) -> None:
    assert run_cli("--", "false", cwd=tmp_path).returncode == 1
    assert run_cli("--", sys.executable, "-c", "raise SystemExit(7)", cwd=tmp_path).returncode == 7
    killed = run_cli("--", sys.executable, "-c", "import os; os.kill(os.getpid(), 9)", cwd=tmp_path)
    assert killed.returncode == 128 + 9
    missing = run_cli("--", "no-such-command-here", cwd=tmp_path)
    assert missing.returncode == 127 and "no-such-command-here" in missing.stderr
    assert run_cli(cwd=tmp_path).returncode == 2  # no command


def test_no_workflow_run_is_said_so(tmp_path: Path) -> None:
    proc = run_cli("--", "true", cwd=tmp_path)
    assert proc.returncode == 0
    assert "no Nipype or Pydra run was metered" in proc.stderr


def test_leftover_processes_are_ended_after_the_command(tmp_path: Path) -> None:
    pidfile = tmp_path / "orphan.pid"
    script = (
        "import os, subprocess, sys\n"
        "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pidfile)!r}, 'w').write(str(p.pid))\n"
    )  # the command exits at once, leaving its sleeping child behind
    proc = run_cli("--", sys.executable, "-c", script, cwd=tmp_path)
    assert proc.returncode == 0
    orphan = int(pidfile.read_text())
    assert "ended 1 process(es) the command left behind" in proc.stderr
    with pytest.raises(ProcessLookupError):
        os.kill(orphan, 0)


def test_the_environment_is_written_for_containers(tmp_path: Path) -> None:
    env_file = tmp_path / "carbon.env"
    proc = run_cli(
        "--carbon-dir", "out", "--region", "GB", "--env-file", str(env_file), "--",
        sys.executable, "-c", "import os; print(os.environ['NIPYPE_CARBON_REGION'])",
        cwd=tmp_path,
    )  # fmt: skip
    assert proc.returncode == 0 and proc.stdout.strip() == "GB"
    written = dict(line.split("=", 1) for line in env_file.read_text().splitlines())
    assert written["NIPYPE_CARBON_REGION"] == "GB"
    assert written["NIPYPE_CARBON_CARBON_DIR"] == str(tmp_path / "out")
    assert written[RUN_VARIABLE].split(":")[0] == host_name()  # which invocation
    runtime = Path(written["PYTHONPATH"].split(os.pathsep)[0])
    assert runtime.parent == tmp_path / "out" / ".runtime"  # one bind mount covers both
    assert (runtime / "sitecustomize.py").is_file()
    assert (runtime / "nipype_carbon" / "reference" / "data").is_dir()  # the shipped tables


def test_runtime_is_made_once_per_content(tmp_path: Path) -> None:
    first = prepare_runtime(tmp_path).path
    stamp = (first / "sitecustomize.py").stat().st_mtime_ns
    assert prepare_runtime(tmp_path).path == first
    assert (first / "sitecustomize.py").stat().st_mtime_ns == stamp
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".building-")]


def test_the_sitecustomize_it_hides_still_runs(tmp_path: Path) -> None:
    runtime = prepare_runtime(tmp_path / "carbon").path
    theirs = tmp_path / "theirs"
    theirs.mkdir()
    (theirs / "sitecustomize.py").write_text("import os\nos.environ['THEIRS_RAN'] = 'yes'\n")
    proc = subprocess.run(
        [sys.executable, "-c",
         "import os, sys; print(os.environ.get('THEIRS_RAN'), 'nipype_carbon' in sys.modules)"],
        env=clean_env(PYTHONPATH=os.pathsep.join([str(runtime), str(theirs)])),
        cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert proc.stdout.split() == ["yes", "True"]


def test_carbon_variant_of_names_and_objects() -> None:
    assert carbon_variant("MultiProc", {"n_procs": 2}) == ("CarbonMultiProc", {"n_procs": 2})
    assert carbon_variant("LinearPlugin", None) == ("CarbonLinear", None)
    assert carbon_variant("CarbonMultiProc", None) == ("CarbonMultiProc", None)
    own = LinearPlugin(plugin_args={"status_callback": None})
    runner, _ = carbon_variant(own, None)
    assert isinstance(runner, CarbonPlugin) and runner.base is own
    assert carbon_variant(runner, None)[0] is runner  # never wrapped twice
    with pytest.raises(ValueError, match="unknown nipype plugin"):
        carbon_variant("NoSuchThing", None)


class _CopiedPlugin:
    """An app's own copy of a plugin (not a nipype subclass), like niworkflows' MultiProc."""

    def __init__(self, plugin_args: dict | None = None) -> None:
        self.plugin_args = plugin_args or {}
        self._status_callback = self.plugin_args.get("status_callback")
        self.seen: list[tuple[str, str]] = []

    def run(self, graph, config, updatehash=False):  # type: ignore[no-untyped-def]
        for node in graph.nodes():
            if self._status_callback:
                self._status_callback(node, "start")
            node.run(updatehash=updatehash)
            if self._status_callback:
                self._status_callback(node, "end")


def _spend(seconds):  # type: ignore[no-untyped-def]
    import time

    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return seconds


def test_a_patched_workflow_runs_an_apps_own_plugin_copy_metered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nipype.pipeline.engine import workflows

    monkeypatch.setattr(workflows.Workflow, "run", workflows.Workflow.run)  # undone after
    monkeypatch.setenv("NIPYPE_CARBON_CARBON_DIR", str(tmp_path / "carbon"))
    patch_workflow(workflows)
    patch_workflow(workflows)  # idempotent
    assert getattr(workflows.Workflow.run, "_nipype_carbon", False)
    seen: list[tuple[str, str]] = []
    own = _CopiedPlugin({"status_callback": lambda node, status: seen.append((node.name, status))})
    wf = pe.Workflow("copied", base_dir=str(tmp_path))
    node = pe.Node(Function(input_names=["seconds"], output_names=["out"], function=_spend),
                   name="spend")  # fmt: skip
    node.inputs.seconds = 0.3
    wf.add_nodes([node])
    wf.run(plugin=own)
    from nipype_carbon import load_session

    session = load_session(tmp_path / "carbon")
    assert session.metadata["plugin"] == "_CopiedPlugin"
    assert 0.3 <= session.nodes["copied.spend"].measurement["cpu_s"] <= 0.8
    assert seen == [("spend", "start"), ("spend", "end")]  # the app's own callback still ran


def test_a_run_that_cannot_be_wrapped_runs_unmetered_and_leaves_a_note(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nipype.pipeline.engine import workflows

    monkeypatch.setattr(workflows.Workflow, "run", workflows.Workflow.run)
    monkeypatch.setenv("NIPYPE_CARBON_CARBON_DIR", str(tmp_path))
    patch_workflow(workflows)

    class NotAPlugin:  # no run method: nipype itself will refuse it, unmetered
        def __init__(self) -> None:
            self.plugin_args: dict = {}

    wf = pe.Workflow("odd", base_dir=str(tmp_path))
    wf.add_nodes([pe.Node(Function(input_names=[], output_names=[], function=_spend), name="n")])
    with pytest.raises(AttributeError):
        wf.run(plugin=NotAPlugin())
    notes = list(tmp_path.glob(f"{UNMETERED_PREFIX}*.json"))
    assert len(notes) == 1 and "needs a run method" in notes[0].read_text()


def test_main_dispatches_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run"]) == 2
    assert "no command given" in capsys.readouterr().err


def test_multiproc_instance_is_not_rebuilt(tmp_path: Path) -> None:
    own = MultiProcPlugin(plugin_args={"n_procs": 1})
    try:
        runner, _ = carbon_variant(own, None)
        assert runner.base is own and own._status_callback == runner._on_status
    finally:
        own.pool.shutdown()


def _runs_a_workflow(base_dir, seconds):  # type: ignore[no-untyped-def]
    """A node that runs a workflow of its own (the inner run is this node's work)."""
    import nipype.pipeline.engine as pe
    from nipype.interfaces.utility import Function

    spend = (  # its source as text: a function defined in here has no file to read it from
        "def spend(seconds):\n    import time\n    start = time.thread_time()\n"
        "    while time.thread_time() - start < seconds:\n        pass\n    return seconds\n"
    )
    inner = pe.Workflow("inner", base_dir=base_dir)
    node = pe.Node(Function(input_names=["seconds"], output_names=["out"], function=spend),
                   name="inner_spend")  # fmt: skip
    node.inputs.seconds = seconds
    inner.add_nodes([node])
    inner.run(plugin="Linear")
    return seconds


def test_a_workflow_run_inside_a_metered_node_is_that_nodes_work(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nipype.pipeline.engine import workflows

    monkeypatch.setattr(workflows.Workflow, "run", workflows.Workflow.run)
    monkeypatch.setenv("NIPYPE_CARBON_CARBON_DIR", str(tmp_path / "carbon"))
    patch_workflow(workflows)
    outer = pe.Workflow("outer", base_dir=str(tmp_path))
    node = pe.Node(
        Function(input_names=["base_dir", "seconds"], output_names=["out"],
                 function=_runs_a_workflow),
        name="runs_inner",
    )  # fmt: skip
    node.inputs.base_dir = str(tmp_path / "inner-work")
    node.inputs.seconds = 0.4
    outer.add_nodes([node])
    outer.run(plugin="Linear")
    from nipype_carbon.record.runs import session_files

    (only,) = session_files(tmp_path / "carbon")  # no second session for the inner run
    from nipype_carbon import load_session

    session = load_session(only)
    assert session.metadata["workflow"] == "outer"
    assert session.nodes["outer.runs_inner"].measurement["cpu_s"] >= 0.4  # the inner work
    assert (tmp_path / "inner-work" / "inner" / "inner_spend").is_dir()  # it did run


def test_one_run_that_cannot_be_read_never_hides_the_others(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from nipype_carbon.cli.run import print_report
    from nipype_carbon.record.session import Session

    launch = "host:1:2.0"
    good = Session.create(tmp_path / "session-1.jsonl", metadata={"workflow": "good",
                          "launched_by": launch, "start": 1.0})  # fmt: skip
    good.add_event("end", status="ok")
    bad = tmp_path / "session-2.jsonl"
    header = {"type": "header", "format": "nipype-carbon-session", "schema_version": 1,
              "metadata": {"workflow": "bad", "launched_by": launch, "start": 2.0},
              "settings": {"pue": "lots"}}  # fmt: skip
    bad.write_text(__import__("json").dumps(header) + "\n")
    print_report(tmp_path, launch, 10)
    err = capsys.readouterr().err
    assert "1 workflow run(s) metered" in err and "good" in err
    assert "NOT READ: session-2.jsonl: SessionError" in err and "settings.pue" in err
    assert "1 run(s) could not be read: the total leaves them out" in err


def test_a_pydra_submitter_that_cannot_be_wrapped_leaves_a_note_the_report_lists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydra.engine import submitter

    from nipype_carbon.record.runs import unmetered_notes
    from pydra_carbon.apprun import patch_submitter

    monkeypatch.setattr(submitter.Submitter, "__init__", submitter.Submitter.__init__)
    monkeypatch.setenv("NIPYPE_CARBON_CARBON_DIR", str(tmp_path))
    monkeypatch.setenv(RUN_VARIABLE, "host:1:2.0")
    patch_submitter(submitter)
    with pytest.raises(Exception, match="no-such-worker"):  # Pydra itself refuses it
        submitter.Submitter(worker="no-such-worker", cache_root=tmp_path / "cache")
    (note,) = unmetered_notes(tmp_path, "host:1:2.0")
    assert note.startswith("pydra workflow pydra submitter: ") and "no-such-worker" in note
    assert unmetered_notes(tmp_path, "another:1:2.0") == []  # another invocation's: not ours
