"""The tcpip fuzz targets (``targets``), the steps their programs are made of (``steps``)
and the encoder that turns captured traffic into seeds for them (``fdp``)."""

from plugins.tcpip.fuzzing.targets import FUZZ_TARGETS, RECIPE

__all__ = ["FUZZ_TARGETS", "RECIPE"]
