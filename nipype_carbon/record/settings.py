"""Carbon settings shared by the Nipype plugin, the Pydra worker and the CLI.

Each setting can be given as a keyword (riding along in ``plugin_args``) or
as an environment variable ``NIPYPE_CARBON_<KEY>``; a keyword wins. Settings
are validated at once, before any node runs: a misspelt key (``regoin``,
``PUE``, ``NIPYPE_CARBON_REGOIN``) is refused with a did-you-mean, and every
number must be finite and within its range (:data:`RANGES`). Keys of the base
plugin or worker (``n_procs``, ``memory_gb``, ``sbatch_args``, ...) pass through,
``n_procs`` and ``memory_gb`` checked (:func:`check_engine_args`): a reservation of
no processes would make every share of the report wrong. The folders a run needs
(``carbon_dir``, ``powercap_root``) are checked where a run starts
(:meth:`CarbonSettings.check_folders`), not in every node.

Examples
--------
>>> settings, rest = CarbonSettings.split({"n_procs": 4, "region": "ca-qc", "pue": 1.2}, env={})
>>> rest, settings.region, settings.pue
({'n_procs': 4}, 'CA-QC', 1.2)
>>> CarbonSettings.from_mapping({"pue": -1}, env={})
Traceback (most recent call last):
...
nipype_carbon.record.settings.SettingsError: pue must be between 1.0 and 3.0, got -1
>>> CarbonSettings.split({"n_procs": 4, "regoin": "GB"}, env={})
Traceback (most recent call last):
...
nipype_carbon.record.settings.SettingsError: unknown carbon setting 'regoin': did you mean 'region'?
>>> CarbonSettings.split({"n_procs": -50}, env={})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
nipype_carbon.record.settings.SettingsError: n_procs must be a whole number of processes, ...
"""

from __future__ import annotations

import difflib
import math
import numbers
import os
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from nipype_carbon.errors import NipypeCarbonError
from nipype_carbon.measure.calibration import CALIBRATION_ENV, CPU_BASELINE_W_RANGE
from nipype_carbon.measure.meters.utilisation import (
    DEFAULT_CPU_IDLE_FRACTION,
    DEFAULT_MEMORY_W_PER_GB,
)
from nipype_carbon.reference.grids import DEFAULT_PUE, check_pue, resolve_intensity

ENV_PREFIX = "NIPYPE_CARBON_"
#: baseline power reported apart, or shared among the nodes running
IDLE_MODES = ("separate", "shared")
#: accepted range of each number, with its unit and what the bounds stand for
RANGES: dict[str, tuple[float, float, str]] = {
    "pue": (1.0, 3.0, ""),
    "intensity_g_per_kwh": (0.0, 2000.0, " g/kWh"),
    "sample_interval_s": (0.01, 3600.0, " s"),
    "baseline_window_s": (0.0, 60.0, " s"),
    "cpu_baseline_w": (*CPU_BASELINE_W_RANGE, " W for all packages"),
    "cpu_tdp_w": (1.0, 1000.0, " W per package"),
    "cpu_idle_fraction": (0.0, 1.0, ""),
    "memory_w_per_gb": (0.0, 1.0, " W/GB"),
    "gpu_w": (1.0, 2000.0, " W per GPU"),
}
#: set by ``nipype-carbon run`` for its COMMAND: meter every workflow of every Python process
RUN_VARIABLE = "NIPYPE_CARBON_RUN"
#: every environment variable of ours that is not a setting, by its exact name: the run
#: marker, the calibration file, the test suite's local SLURM (scripts/slurm/) and
#: scripts/venv.sh's; any other ``NIPYPE_CARBON_*`` name is a typo
ENV_NOT_SETTINGS = (
    RUN_VARIABLE,
    CALIBRATION_ENV,
    "NIPYPE_CARBON_SLURM_DIR",
    "NIPYPE_CARBON_SLURM_TIMEOUT",
    "NIPYPE_CARBON_SLURM_ACCOUNTING",
    "NIPYPE_CARBON_SLURM_AUTOSTART",
    "NIPYPE_CARBON_SLURMCTLD_PORT",
    "NIPYPE_CARBON_SLURMD_PORT",
    "NIPYPE_CARBON_SLURMDBD_PORT",
    "NIPYPE_CARBON_SLURM_DB_PORT",
    "NIPYPE_CARBON_VENV",
    "NIPYPE_CARBON_PYTHON",
)
#: base-plugin keys that reserve resources: each must be a positive number (n_procs whole)
RESERVATIONS = {
    "n_procs": "a whole number of processes, 1 or more",
    "memory_gb": "a number of GB above 0",
}
#: base-plugin keys close to a setting's name that are not misspellings of it
ENGINE_KEYS = frozenset({"n_gpus", "gpu", "n_gpu_procs", "gpu_procs"})


def check_number(key: str, value: object, limits: str | None = None) -> float:
    """``value`` as a finite number within the range of ``limits`` (default ``key``).

    Examples
    --------
    >>> check_number("pue", "1.4")
    1.4
    >>> check_number("pue", True)
    Traceback (most recent call last):
    ...
    nipype_carbon.record.settings.SettingsError: pue must be a number, got True
    """
    if isinstance(value, bool):
        raise SettingsError(f"{key} must be a number, got {value!r}")
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SettingsError(f"{key} must be a number, got {value!r}") from None
    low, high, unit = RANGES[limits or key]
    if not (math.isfinite(number) and low <= number <= high):
        raise SettingsError(
            f"{key} must be between {_shown(low)} and {_shown(high)}{unit}, got {value!r}"
        )
    return number


def _shown(bound: float) -> str:
    return f"{bound:,g}" if bound >= 10 else str(bound)


def did_you_mean(key: str, names: tuple[str, ...]) -> str | None:
    """The setting a misspelt ``key`` most likely means (case-insensitive), or None."""
    wanted = key.lower().replace("-", "_")
    if wanted in names:
        return wanted
    close = difflib.get_close_matches(wanted, names, n=1, cutoff=0.8)
    if close:
        return close[0]
    longer = [n for n in names if len(wanted) >= 4 and n.startswith(wanted + "_")]
    return longer[0] if longer else None


def check_engine_args(plugin_args: Mapping[str, Any]) -> None:
    """Refuse a base-plugin reservation that is not a positive number (``n_procs`` whole).

    ``None`` passes: the base plugin's own default (all CPUs, most of the memory).
    """
    for key, what in RESERVATIONS.items():
        value = plugin_args.get(key)
        if value is None:
            continue
        kind = numbers.Integral if key == "n_procs" else numbers.Real
        if isinstance(value, bool) or not isinstance(value, kind):
            ok = False
        elif isinstance(value, numbers.Integral):
            ok = int(value) > 0
        else:
            ok = math.isfinite(float(value)) and float(value) > 0
        if not ok:
            raise SettingsError(
                f"{key} must be {what}, got {value!r:.40}: give plugin_args {key}=N, "
                f"or leave it out ({'all CPUs' if key == 'n_procs' else '90 % of memory'})"
            )


def check_powercap_root(path: str | os.PathLike[str]) -> None:
    """Refuse a powercap root that is not an existing directory, naming the fix."""
    root = Path(path)
    if not root.is_dir():
        problem = "is not a directory" if root.exists() else "does not exist"
        raise SettingsError(
            f"powercap_root {root} {problem}: give the folder that holds the intel-rapl zones "
            "(default /sys/class/powercap; in a container, bind-mount it) or leave powercap_root "
            "unset"
        )


def check_carbon_dir(path: str | os.PathLike[str]) -> None:
    """Refuse a carbon directory that cannot be created or written, naming the fix."""
    target = Path(path).expanduser()
    probe = target
    while not probe.exists() and probe.parent != probe:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise SettingsError(
            f"carbon_dir {target}: {probe} is a file, not a directory: "
            "move it away or choose another carbon_dir"
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        problem = (
            "is not writable" if probe == target else f"cannot be created: {probe} is not writable"
        )
        raise SettingsError(
            f"carbon_dir {target} {problem}: choose a writable carbon_dir "
            "(plugin_args carbon_dir=... or NIPYPE_CARBON_CARBON_DIR)"
        )


class SettingsError(NipypeCarbonError, ValueError):
    """A carbon setting that cannot be used; the message names the fix."""


@dataclass(frozen=True)
class MeterSettings:
    """What a node's meters need of the run's settings, and nothing else: small, hashable
    and checked already (it travels with every node and keys each process's meters)."""

    sample_interval_s: float = 1.0
    powercap_root: str | None = None
    cpu_tdp_w: float | None = None
    cpu_idle_fraction: float = DEFAULT_CPU_IDLE_FRACTION
    memory_w_per_gb: float = DEFAULT_MEMORY_W_PER_GB
    gpus: tuple[str, ...] = ()


@dataclass(frozen=True)
class CarbonSettings:
    """Everything a metered run can be told.

    Attributes
    ----------
    region : ISO code of the grid (``GB``, ``CA-QC``, ``US-CA``); world average if unset.
    intensity_g_per_kwh : explicit grid intensity, overrides ``region``.
    pue : power usage effectiveness of the facility (>= 1.0; default 1.0).
    carbon_dir : where the session is written (default chosen by the engine adapter).
    sample_interval_s : interval of the host time series each node records.
    cpu_baseline_w : idle power of the host's CPU packages together, measured on a quiet host
        (``nipype-carbon doctor`` shows how): the baseline of measured CPU counters.
    exclusive_host : the host ran nothing but this run: its installed memory's modelled power is
        the run's (unused memory shown as "unclaimed memory"), not only what the nodes used.
    baseline_window_s : seconds of host readings taken before the first node starts, when a
        measured counter (RAPL, NVML) is there, so the baseline can be told from busy power.
    powercap_root : powercap sysfs root for RAPL (containers, tests).
    cpu_tdp_w : rated CPU power for the model, overriding the table.
    cpu_idle_fraction : idle share of rated CPU power in the model.
    memory_w_per_gb : memory power per GB in the model.
    gpus : GPUs to model when NVML is missing (``NAME`` or ``NAME=WATTS``, comma-separated).
    idle : ``separate`` (baseline power reported apart) or ``shared`` among running nodes.
    subject : the BIDS subject label the run processes (``01`` or ``sub-01``, kept as
        ``01``), for ``nipype-carbon study``; unset, the study reads it from the workflow's
        node names or the command line.
    """

    region: str | None = None
    intensity_g_per_kwh: float | None = None
    pue: float = DEFAULT_PUE
    carbon_dir: str | None = None
    sample_interval_s: float = 1.0
    baseline_window_s: float = 0.5
    cpu_baseline_w: float | None = None
    exclusive_host: bool = False
    powercap_root: str | None = None
    cpu_tdp_w: float | None = None
    cpu_idle_fraction: float = DEFAULT_CPU_IDLE_FRACTION
    memory_w_per_gb: float = DEFAULT_MEMORY_W_PER_GB
    gpus: tuple[str, ...] = field(default_factory=tuple)
    idle: str = "separate"
    subject: str | None = None

    def __post_init__(self) -> None:
        self._validate()

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in fields(cls))

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, Any], env: Mapping[str, str] | None = None
    ) -> CarbonSettings:
        """Settings from keywords, then ``NIPYPE_CARBON_*`` variables, then defaults."""
        env = os.environ if env is None else env
        unknown = set(values) - set(cls.names())
        if unknown:
            raise SettingsError(
                f"unknown carbon setting(s) {sorted(unknown)}; known: {', '.join(cls.names())}"
            )
        check_environment(env, cls.names())
        given: dict[str, Any] = {}
        for key in cls.names():
            if key in values and values[key] is not None:
                given[key] = values[key]
            elif env.get(ENV_PREFIX + key.upper()):
                given[key] = env[ENV_PREFIX + key.upper()]
        return cls(**_coerce(given))

    @classmethod
    def split(
        cls, plugin_args: Mapping[str, Any] | None, env: Mapping[str, str] | None = None
    ) -> tuple[CarbonSettings, dict[str, Any]]:
        """Take the carbon settings out of ``plugin_args``; return them and the rest."""
        plugin_args = dict(plugin_args or {})
        for key in plugin_args:
            meant = (
                None if key in cls.names() or key in ENGINE_KEYS else did_you_mean(key, cls.names())
            )
            if meant is not None:
                raise SettingsError(f"unknown carbon setting {key!r}: did you mean {meant!r}?")
        ours = {k: plugin_args.pop(k) for k in cls.names() if k in plugin_args}
        settings = cls.from_mapping(ours, env)
        check_engine_args(plugin_args)
        settings.check_folders()
        return settings, plugin_args

    @classmethod
    def recorded(cls, values: Mapping[str, Any]) -> CarbonSettings:
        """The settings a session recorded (checked when it was loaded), read as settings:
        names this version does not know are left out."""
        known = {k: v for k, v in values.items() if k in cls.names() and v is not None}
        return cls.from_mapping(known, env={})

    def check_folders(self) -> None:
        """Refuse a ``carbon_dir`` that cannot hold the session and a ``powercap_root`` that
        is not a directory: where a run starts, not in every node (a node on another host
        has its own folders)."""
        if self.carbon_dir:
            check_carbon_dir(self.carbon_dir)
        if self.powercap_root:
            check_powercap_root(self.powercap_root)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gpus"] = list(self.gpus)
        return data

    def meters(self) -> MeterSettings:
        """The part of the settings a node's meters need."""
        return MeterSettings(
            sample_interval_s=self.sample_interval_s,
            powercap_root=self.powercap_root,
            cpu_tdp_w=self.cpu_tdp_w,
            cpu_idle_fraction=self.cpu_idle_fraction,
            memory_w_per_gb=self.memory_w_per_gb,
            gpus=tuple(self.gpus),
        )

    def _validate(self) -> None:
        for key in _FLOATS:
            value = getattr(self, key)
            if value is not None:
                check_number(key, value)
        for gpu in self.gpus:
            if "=" in gpu:
                check_number(f"gpus {gpu!r}: watts", gpu.split("=", 1)[1].strip(), "gpu_w")
        try:
            check_pue(self.pue)
            grid = resolve_intensity(self.region, self.intensity_g_per_kwh)
        except ValueError as err:
            raise SettingsError(str(err)) from err  # the region error kept as the cause
        if self.region and self.intensity_g_per_kwh is None:
            object.__setattr__(self, "region", grid.region)
        if self.subject is not None:
            object.__setattr__(self, "subject", check_subject(self.subject))
        if self.idle not in IDLE_MODES:
            raise SettingsError(f"idle must be one of {IDLE_MODES}, got {self.idle!r}")
        if self.powercap_root is not None:
            # absolute now: a node runs in its own working directory (nipype changes to it)
            if not str(self.powercap_root).strip():
                raise SettingsError("powercap_root must be a folder, got ''")
            root = os.path.abspath(os.path.expanduser(os.fspath(self.powercap_root)))
            object.__setattr__(self, "powercap_root", root)


def check_environment(env: Mapping[str, str], names: tuple[str, ...]) -> None:
    """Refuse a ``NIPYPE_CARBON_*`` variable that is neither a setting nor one of
    :data:`ENV_NOT_SETTINGS` (a typo), with a did-you-mean over both.

    Examples
    --------
    >>> check_environment({"NIPYPE_CARBON_CALIBRATON": "c.json"}, ("region",))
    Traceback (most recent call last):
    ...
    nipype_carbon.record.settings.SettingsError: unknown environment variable \
NIPYPE_CARBON_CALIBRATON: did you mean NIPYPE_CARBON_CALIBRATION?
    """
    others = tuple(v[len(ENV_PREFIX) :].lower() for v in ENV_NOT_SETTINGS)
    for variable in env:
        if not variable.startswith(ENV_PREFIX) or variable in ENV_NOT_SETTINGS:
            continue
        key = variable[len(ENV_PREFIX) :]
        if key.lower() in names and key == key.upper():
            continue
        meant = did_you_mean(key, names + others)
        hint = (
            f": did you mean {ENV_PREFIX + meant.upper()}?"
            if meant
            else (f"; settings: {', '.join(ENV_PREFIX + n.upper() for n in names)}")
        )
        raise SettingsError(f"unknown environment variable {variable}{hint}")


_FLOATS = (
    "intensity_g_per_kwh",
    "pue",
    "sample_interval_s",
    "baseline_window_s",
    "cpu_baseline_w",
    "cpu_tdp_w",
    "cpu_idle_fraction",
    "memory_w_per_gb",
)


def _coerce(given: dict[str, Any]) -> dict[str, Any]:
    out = dict(given)
    for key in _FLOATS:
        if key in out:
            out[key] = check_number(key, out[key])
    if "exclusive_host" in out:
        out["exclusive_host"] = _boolean("exclusive_host", out["exclusive_host"])
    if "gpus" in out:
        gpus = out["gpus"]
        items = gpus.split(",") if isinstance(gpus, str) else list(gpus)
        out["gpus"] = tuple(g.strip() for g in items if g.strip())
    for key in ("carbon_dir", "powercap_root", "region", "idle", "subject"):
        if key in out:
            out[key] = os.fspath(out[key]) if key.endswith(("dir", "root")) else str(out[key])
    return out


#: a BIDS label: letters and digits only (BIDS specification, "entities")
_LABEL = re.compile(r"[A-Za-z0-9]{1,64}")


def check_subject(value: object) -> str:
    """A subject label as BIDS writes it, without its ``sub-`` prefix.

    >>> check_subject("sub-01"), check_subject(" 02 ")
    ('01', '02')
    >>> check_subject("01_a")
    Traceback (most recent call last):
    ...
    nipype_carbon.record.settings.SettingsError: subject must be a BIDS label (letters and \
digits, e.g. 01 or sub-01), got '01_a'
    """
    text = str(value).strip()
    label = text[4:] if text.lower().startswith("sub-") else text
    if not _LABEL.fullmatch(label):
        raise SettingsError(
            f"subject must be a BIDS label (letters and digits, e.g. 01 or sub-01), got {text!r}"
        )
    return label


def _boolean(key: str, value: Any) -> bool:
    """A yes/no setting: a bool, or its usual spellings in an environment variable."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise SettingsError(f"{key} must be true or false, got {value!r}")
