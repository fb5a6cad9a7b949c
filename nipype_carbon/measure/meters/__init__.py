"""Energy meters of the host: RAPL, pyRAPL, NVML and the model.

Meters read host counters and know nothing of workflows. Vendor libraries
(pynvml, pyRAPL) are imported lazily by the meters that need them.
"""

from nipype_carbon.measure.meters.base import (
    EnergyMeter,
    GpuProcessUse,
    MeterAbsent,
    MeterBroken,
    MeterInfo,
    MeterPermissionDenied,
    MeterUnavailable,
)
from nipype_carbon.measure.meters.factory import MeterSelection, select_meters
from nipype_carbon.measure.meters.rapl import RaplMeter
from nipype_carbon.measure.meters.utilisation import ModelMeter

__all__ = [
    "EnergyMeter",
    "GpuProcessUse",
    "MeterAbsent",
    "MeterBroken",
    "MeterInfo",
    "MeterPermissionDenied",
    "MeterSelection",
    "MeterUnavailable",
    "ModelMeter",
    "RaplMeter",
    "select_meters",
]
