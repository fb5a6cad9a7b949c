"""Carbon settings shared by the Nipype plugin, the Pydra worker and the CLI.

Each setting can be given as a keyword (riding along in ``plugin_args``) or
as an environment variable ``NIPYPE_CARBON_<KEY>``; a keyword wins. Settings
are validated at once, before any node runs.

Examples
--------
>>> settings, rest = CarbonSettings.split({"n_procs": 4, "region": "ca-qc", "pue": 1.2}, env={})
>>> rest, settings.region, settings.pue
({'n_procs': 4}, 'CA-QC', 1.2)
>>> CarbonSettings.from_mapping({"pue": -1}, env={})
Traceback (most recent call last):
...
nipype_carbon.record.settings.SettingsError: pue must be >= 1.0 (1.0 for a workstation; ...
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from nipype_carbon.measure.meters.model import DEFAULT_CPU_IDLE_FRACTION, DEFAULT_MEMORY_W_PER_GB
from nipype_carbon.reference.grids import DEFAULT_PUE, check_pue, resolve_intensity

ENV_PREFIX = "NIPYPE_CARBON_"
#: baseline power reported apart, or shared among the nodes running
IDLE_MODES = ("separate", "shared")


class SettingsError(ValueError):
    """A carbon setting that cannot be used; the message names the fix."""


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
        ours = {k: plugin_args.pop(k) for k in cls.names() if k in plugin_args}
        return cls.from_mapping(ours, env), plugin_args

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["gpus"] = list(self.gpus)
        return data

    def _validate(self) -> None:
        try:
            check_pue(self.pue)
            grid = resolve_intensity(self.region, self.intensity_g_per_kwh)
        except ValueError as err:
            raise SettingsError(str(err)) from None
        if self.region and self.intensity_g_per_kwh is None:
            object.__setattr__(self, "region", grid.region)
        if self.idle not in IDLE_MODES:
            raise SettingsError(f"idle must be one of {IDLE_MODES}, got {self.idle!r}")
        if not 0 <= self.baseline_window_s <= 60:
            raise SettingsError(
                f"baseline_window_s must be between 0 and 60 s, got {self.baseline_window_s}"
            )
        if not 0.01 <= self.sample_interval_s <= 3600:
            raise SettingsError(
                f"sample_interval_s must be between 0.01 and 3600 s, got {self.sample_interval_s}"
            )
        for key in ("cpu_tdp_w", "memory_w_per_gb", "cpu_baseline_w"):
            value = getattr(self, key)
            if value is not None and value < 0:
                raise SettingsError(f"{key} must be >= 0, got {value}")
        if not 0 <= self.cpu_idle_fraction <= 1:
            raise SettingsError(
                f"cpu_idle_fraction must be in [0, 1], got {self.cpu_idle_fraction}"
            )


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
            try:
                out[key] = float(out[key])
            except (TypeError, ValueError):
                raise SettingsError(f"{key} must be a number, got {out[key]!r}") from None
    if "exclusive_host" in out:
        out["exclusive_host"] = _boolean("exclusive_host", out["exclusive_host"])
    if "gpus" in out:
        gpus = out["gpus"]
        items = gpus.split(",") if isinstance(gpus, str) else list(gpus)
        out["gpus"] = tuple(g.strip() for g in items if g.strip())
    for key in ("carbon_dir", "powercap_root", "region", "idle"):
        if key in out:
            out[key] = os.fspath(out[key]) if key.endswith(("dir", "root")) else str(out[key])
    return out


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
