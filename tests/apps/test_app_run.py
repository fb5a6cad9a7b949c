"""Unmodified programs metered from outside: ``nipype-carbon run`` and the start-up hook.

The programs (``dwiprep.py``, ``pydra_app.py`` here) never import nipype_carbon. The
truth for "every node has a record" is nipype's own: the result file each node it ran
leaves in its working directory. The truth for the known-cost step is the CPU it spins.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import sysconfig
import time
import zipfile
from pathlib import Path

import pytest

from nipype_carbon.record.reader import load_session
from nipype_carbon.record.runs import session_files
from tests.support.optional import needs_example_deps

REPO = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent
DWIPREP = APPS / "dwiprep.py"
PYDRA_APP = APPS / "pydra_app.py"
KNOWN_CPU_S = 0.6  # dwiprep.KNOWN_CPU_S
#: niworkflows, installed by scripts/test.sh without its dependencies (only its plugin is used)
APPS_EXTRA = Path(sys.prefix) / "apps-extra"
#: the most CPU a worker adds to a Function node's own (unpickling, hashing, the result)
WORKER_OVERHEAD_S = 0.5


def clean_env(**extra: str) -> dict[str, str]:
    """The environment a user's shell would give: none of ours, no PYTHONPATH."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("NIPYPE_CARBON_") and k not in ("PYTHONPATH", "VIRTUAL_ENV")
    }
    return {**env, "NO_ET": "1", "NIPYPE_NO_ET": "1", **extra}


def carbon_run(*args: str) -> list[str]:
    """``nipype-carbon run`` from this checkout (what the console script runs)."""
    return [sys.executable, "-c", "import sys; from nipype_carbon.cli.main import main; "
            "sys.exit(main())", "run", *args]  # fmt: skip


def run_env() -> dict[str, str]:
    return clean_env(PYTHONPATH=str(REPO))


def plugin_file(tmp: Path, plugin: str, **plugin_args: object) -> Path:
    path = tmp / f"plugin-{plugin}.yml"
    lines = [f"plugin: {plugin}", "plugin_args:"]
    lines += [f"  {k}: {json.dumps(v)}" for k, v in {"n_procs": 2, **plugin_args}.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def nipype_ran(work: Path, workflow: str) -> set[str]:
    """The nodes nipype ran, by the result file each leaves: ``a/b/mapflow/_c0`` -> ``a.b._c0``."""
    names = set()
    for result in (work / workflow).rglob("result_*.pklz"):
        parts = [p for p in result.parent.relative_to(work).parts if p != "mapflow"]
        names.add(".".join(parts))
    return names


def sessions(carbon_dir: Path) -> dict[str, object]:
    """The sessions in a carbon directory, by workflow name."""
    found = {}
    for path in session_files(carbon_dir):
        session = load_session(path)
        found[session.metadata["workflow"]] = session
    return found


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from examples.dwi_pipeline.prepare_data import prepare

    out = tmp_path_factory.mktemp("dwiprep-data")
    prepare(out)
    return out


def thin_site(root: Path, deps: Path) -> Path:
    """A venv whose site-packages sees ``deps`` only (through a .pth): no pip, nothing else."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    site = Path(sysconfig.get_path("purelib", vars={"base": str(root), "platbase": str(root)}))
    (site / "deps.pth").write_text(f"{deps}\n")
    return site


@pytest.fixture(scope="module")
def app_deps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This environment's packages less pandas, psutil and nipype-carbon (links, not copies).

    nipype keeps its own dependencies (networkx among them: nipype's graphs are networkx
    graphs); what nipype-carbon must not need beside the nodes is anything more.
    """
    deps = tmp_path_factory.mktemp("app-deps")
    site = Path(sysconfig.get_path("purelib"))
    skip = ("pandas", "psutil", "nipype_carbon", "pydra_carbon", "__editable__", "nipype-carbon")
    for entry in site.iterdir():
        name = entry.name.lower().replace("-", "_")
        if name.startswith(tuple(s.replace("-", "_") for s in skip)) or entry.suffix == ".pth":
            continue
        (deps / entry.name).symlink_to(entry)
    return deps


@pytest.fixture(scope="module")
def full_run(data: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """dwiprep (the whole diffusion branch, its own MultiProc over forkserver) under run."""
    tmp = tmp_path_factory.mktemp("full")
    proc = subprocess.run(
        [*carbon_run("--carbon-dir", str(tmp / "carbon"), "--region", "GB", "--"),
         sys.executable, str(DWIPREP), str(data), str(tmp / "work"),
         "--use-plugin", str(plugin_file(tmp, "MultiProc"))],
        env=run_env(), cwd=tmp, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    return {"proc": proc, "tmp": tmp}


@pytest.mark.example
@needs_example_deps
def test_every_node_of_an_unmodified_app_has_a_record(full_run: dict) -> None:
    proc, tmp = full_run["proc"], full_run["tmp"]
    assert proc.returncode == 0, proc.stderr[-3000:]
    found = sessions(tmp / "carbon")
    assert set(found) == {"dwiprep", "dwiprep_summary"}  # two workflows in one process
    ran = nipype_ran(tmp / "work", "dwiprep")
    assert len(ran) >= 15 and "dwiprep.diffusion.denoise_dipy" in ran
    records = found["dwiprep"].nodes
    assert ran <= set(records), f"no record for {sorted(ran - set(records))}"
    assert all(records[n].status == "ran" for n in ran)
    # the app's own plugin object drove the run: its class, not nipype's
    assert found["dwiprep"].metadata["plugin"] == "DwiprepMultiProcPlugin"
    cpu = records["dwiprep.known_cpu"].measurement["cpu_s"]
    assert KNOWN_CPU_S <= cpu <= KNOWN_CPU_S + WORKER_OVERHEAD_S
    # one report across both runs, on stderr, after the app's own output
    assert "2 workflow run(s) metered" in proc.stderr
    assert "dwiprep.known_cpu" in proc.stderr.split("workflow run(s) metered")[1]
    assert "nipype_carbon loaded: True" in proc.stdout  # loaded by the hook, not by the app
    launches = {s.metadata["launched_by"] for s in found.values()}
    assert len(launches) == 1  # both sessions name the one invocation
    assert "import nipype_carbon" not in DWIPREP.read_text()


@pytest.mark.example
@needs_example_deps
def test_a_failing_app_keeps_its_exit_status_and_its_failure_is_recorded(
    data: Path, tmp_path: Path
) -> None:
    proc = subprocess.run(
        [*carbon_run("--carbon-dir", str(tmp_path / "carbon"), "--"),
         sys.executable, str(DWIPREP), str(data), str(tmp_path / "work"),
         "--use-plugin", str(plugin_file(tmp_path, "MultiProc")), "--light", "--fail"],
        env=run_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 1, proc.stderr[-3000:]
    session = sessions(tmp_path / "carbon")["dwiprep"]
    assert session.status == "failed"
    assert session.nodes["dwiprep.broken_step"].status == "failed"
    assert session.nodes["dwiprep.dwi_mask"].status == "ran"
    assert "failed" in proc.stderr.split("workflow run(s) metered")[1]


@pytest.mark.example
@needs_example_deps
@pytest.mark.skipif(
    not (APPS_EXTRA / "niworkflows" / "engine" / "plugin.py").is_file(),
    reason=f"niworkflows not in {APPS_EXTRA}: run bash scripts/test.sh --setup-only",
)
def test_niworkflows_multiproc_as_fmriprep_builds_it(data: Path, tmp_path: Path) -> None:
    """niworkflows' own copy of MultiProcPlugin (not nipype's class) over a forkserver pool."""
    proc = subprocess.run(
        [*carbon_run("--carbon-dir", str(tmp_path / "carbon"), "--"),
         sys.executable, str(DWIPREP), str(data), str(tmp_path / "work"), "--light",
         "--use-plugin", str(plugin_file(tmp_path, "MultiProc")), "--multiproc", "niworkflows"],
        env=clean_env(PYTHONPATH=os.pathsep.join([str(REPO), str(APPS_EXTRA)])),
        cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    session = sessions(tmp_path / "carbon")["dwiprep"]
    assert session.metadata["plugin"] == "MultiProcPlugin"
    engine = next(r for r in session.nodes.values() if r.is_engine)
    assert engine.interface == "niworkflows.engine.plugin.MultiProcPlugin"
    assert nipype_ran(tmp_path / "work", "dwiprep") <= set(session.nodes)
    cpu = session.nodes["dwiprep.known_cpu"].measurement["cpu_s"]
    assert KNOWN_CPU_S <= cpu <= KNOWN_CPU_S + WORKER_OVERHEAD_S


@pytest.mark.example
@needs_example_deps
def test_a_plugin_name_from_the_apps_file_is_metered_too(data: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*carbon_run("--carbon-dir", str(tmp_path / "carbon"), "--"),
         sys.executable, str(DWIPREP), str(data), str(tmp_path / "work"),
         "--use-plugin", str(plugin_file(tmp_path, "Linear")), "--light"],
        env=run_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    session = sessions(tmp_path / "carbon")["dwiprep"]
    assert session.metadata["plugin"] == "LinearPlugin"
    assert nipype_ran(tmp_path / "work", "dwiprep") <= set(session.nodes)
    # Linear runs nodes in the app's process: the known cost is the node's own thread
    cpu = session.nodes["dwiprep.known_cpu"].measurement["cpu_s"]
    assert KNOWN_CPU_S <= cpu <= KNOWN_CPU_S + WORKER_OVERHEAD_S


@pytest.mark.example
@needs_example_deps
def test_pythonpath_only_in_a_venv_without_pandas_gives_the_same_records(
    data: Path, full_run: dict, app_deps: Path, tmp_path: Path
) -> None:
    """nipype-carbon reaches the app only through PYTHONPATH (a container's situation)."""
    venv = tmp_path / "app-venv"
    thin_site(venv, app_deps)
    python = str(venv / "bin" / "python")
    for module in ("pandas", "psutil", "nipype_carbon"):
        probe = subprocess.run([python, "-c", f"import {module}"], env=clean_env(),
                               cwd=tmp_path, capture_output=True, text=True)  # fmt: skip
        assert probe.returncode != 0, f"{module} is importable in the app's venv"
    proc = subprocess.run(
        [*carbon_run("--carbon-dir", str(tmp_path / "carbon"), "--region", "GB", "--"),
         python, str(DWIPREP), str(data), str(tmp_path / "work"),
         "--use-plugin", str(plugin_file(tmp_path, "MultiProc"))],
        env=run_env(), cwd=tmp_path, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "summary skipped" in proc.stdout + proc.stderr  # no pandas in the app: no summary
    thin, full = sessions(tmp_path / "carbon"), sessions(full_run["tmp"] / "carbon")
    assert set(thin) == set(full)
    for workflow in full:
        assert set(thin[workflow].nodes) == set(full[workflow].nodes)
        assert all(r.status == "ran" for r in thin[workflow].nodes.values() if not r.is_engine)
    cpu = thin["dwiprep"].nodes["dwiprep.known_cpu"].measurement["cpu_s"]
    assert KNOWN_CPU_S <= cpu <= KNOWN_CPU_S + WORKER_OVERHEAD_S
    assert "2 workflow run(s) metered" in proc.stderr  # rendered here, where pandas is


@pytest.mark.example
@needs_example_deps
def test_sigterm_reaches_the_app_and_the_run_says_interrupted(data: Path, tmp_path: Path) -> None:
    carbon = tmp_path / "carbon"
    child = subprocess.Popen(
        [*carbon_run("--carbon-dir", str(carbon), "--"),
         sys.executable, str(DWIPREP), str(data), str(tmp_path / "work"),
         "--use-plugin", str(plugin_file(tmp_path, "MultiProc"))],
        env=run_env(), cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not list((tmp_path / "work").rglob("result_*.pklz")):
            time.sleep(0.1)  # a node has finished: the run is under way
        child.send_signal(signal.SIGTERM)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
    assert child.returncode == 128 + signal.SIGTERM, err[-3000:]
    session = sessions(carbon)["dwiprep"]
    assert session.status == "interrupted"
    assert "SIGTERM" in session.status_text()
    assert "interrupted" in err.split("workflow run(s) metered")[1]


@pytest.mark.example
@needs_example_deps
def test_pip_installed_start_up_hook_resolves_carbon_plugin_names(
    data: Path, app_deps: Path, tmp_path: Path
) -> None:
    """``plugin: CarbonMultiProc`` in the app's file, nipype-carbon installed, app unchanged."""
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
         "-w", str(wheels), str(REPO)],
        check=True, env=clean_env(), capture_output=True, timeout=300,
    )  # fmt: skip
    (wheel,) = wheels.glob("*.whl")
    shipped = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    # what tests and benchmarks share stays in the repository; the runtime's boot file ships
    assert not shipped & {"testkit", "tests", "benchmarks", "examples"}, shipped
    assert "nipype_carbon/boot_sitecustomize.py" in zipfile.ZipFile(wheel).namelist()
    venv = tmp_path / "app-venv"
    site = thin_site(venv, app_deps)
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--quiet",
         "--target", str(site), *map(str, wheels.glob("*.whl"))],
        check=True, env=clean_env(), capture_output=True, timeout=300,
    )  # fmt: skip
    assert (site / "nipype_carbon-startup.pth").is_file()
    python = str(venv / "bin" / "python")
    # start-up loads none of nipype, pandas or numpy: only the plugin names' import hook
    probe = subprocess.run(
        [python, "-c", "import sys; print(sorted(m.split('.')[0] for m in sys.modules))"],
        env=clean_env(), cwd=tmp_path, capture_output=True, text=True, check=True,
    )  # fmt: skip
    loaded = set(eval(probe.stdout))  # a printed list of names
    assert "nipype_carbon" in loaded
    assert not loaded & {"nipype", "pydra", "pandas", "numpy", "networkx"}
    carbon = tmp_path / "carbon"
    proc = subprocess.run(
        [python, str(DWIPREP), str(data), str(tmp_path / "work"), "--light",
         "--use-plugin", str(plugin_file(tmp_path, "CarbonMultiProc", carbon_dir=str(carbon)))],
        env=clean_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    session = sessions(carbon)["dwiprep"]
    assert session.metadata["plugin"] == "MultiProcPlugin"
    assert nipype_ran(tmp_path / "work", "dwiprep") <= set(session.nodes)


@pytest.mark.slurm
@pytest.mark.example
@needs_example_deps
def test_an_app_in_a_slurm_batch_script(
    slurm_env: dict[str, str], data: Path, tmp_path: Path
) -> None:
    """The wrapper in a batch script, as a user would put it: the job's report in its log."""
    carbon, work = tmp_path / "carbon", tmp_path / "work"
    command = [
        *carbon_run("--carbon-dir", str(carbon), "--region", "GB", "--"),
        sys.executable, str(DWIPREP), str(data), str(work), "--light",
        "--use-plugin", str(plugin_file(tmp_path, "MultiProc")),
    ]  # fmt: skip
    script = tmp_path / "job.sh"
    script.write_text(f"#!/bin/bash\ncd {shlex.quote(str(tmp_path))}\n{shlex.join(command)}\n")
    log = tmp_path / "job.out"
    proc = subprocess.run(
        ["sbatch", "--wait", "--parsable", "--time=5", "--cpus-per-task=1", "-o", str(log),
         str(script)],
        env={**run_env(), **slurm_env, "LOGNAME": os.environ.get("LOGNAME", "root")},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    output = log.read_text() if log.exists() else ""
    assert proc.returncode == 0, proc.stderr + output[-3000:]
    found = sessions(carbon)
    assert set(found) == {"dwiprep", "dwiprep_summary"}
    assert nipype_ran(work, "dwiprep") <= set(found["dwiprep"].nodes)
    assert found["dwiprep"].status == "complete"
    assert "2 workflow run(s) metered" in output


def test_pydra_script_under_run_is_metered(tmp_path: Path) -> None:
    def run_app(cache: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*carbon_run("--carbon-dir", str(tmp_path / "carbon"), "--"),
             sys.executable, str(PYDRA_APP), str(tmp_path / cache)],
            env=run_env(), cwd=tmp_path, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    proc = run_app("cache")
    assert proc.returncode == 0, proc.stderr[-3000:]
    session = sessions(tmp_path / "carbon")["TwoSteps"]
    assert session.metadata["worker"] == "carbon" and session.metadata["base"] == "cf"
    for step in ("TwoSteps.first", "TwoSteps.second"):
        cpu = session.nodes[step].measurement["cpu_s"]
        assert 0.4 <= cpu <= 0.4 + WORKER_OVERHEAD_S, (step, cpu)
    assert "1 workflow run(s) metered" in proc.stderr
    # a second invocation into the same folder reports its own run only, not the first one's
    again = run_app("cache2")
    assert again.returncode == 0 and "1 workflow run(s) metered" in again.stderr
    assert len(session_files(tmp_path / "carbon")) == 2
