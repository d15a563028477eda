"""A package namespace whose names are imported on first use (PEP 562), so
importing the package is cheap and pulls in no TensorFlow."""

import contextlib
import importlib

from pipelines.common.install_extras import explain_missing


def lazy_exports(package, exports, extra=None):
    """`(__getattr__, __dir__)` for `package` serving `exports`, a dict from
    public name to the module that defines it. With `extra`, a name whose
    module needs an uninstalled package of that install extra raises the
    one-line hint naming the extra."""
    namespace = importlib.import_module(package).__dict__

    def __getattr__(name):
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        with explain_missing(extra) if extra else contextlib.nullcontext():
            value = getattr(importlib.import_module(exports[name]), name)
        namespace[name] = value  # later look-ups skip this function
        return value

    def __dir__():
        return sorted(set(namespace) | set(exports))

    return __getattr__, __dir__
