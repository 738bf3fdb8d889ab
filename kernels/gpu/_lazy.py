"""``cupy`` imported on first use, so that the kernel modules import (and their
signatures can be inspected) on machines without cupy; calling a kernel there fails
with cupy's ImportError, and the backend registry never offers ``gpu`` there anyway."""


class _LazyModule:
    def __init__(self, name):
        self._name = name

    def __getattr__(self, attr):
        import importlib

        value = getattr(importlib.import_module(self._name), attr)
        setattr(self, attr, value)  # later lookups are plain attribute reads
        return value


cupy = _LazyModule("cupy")
