"""Names a package imports only when first used (PEP 562), so importing the package stays cheap."""

import importlib
import sys
from collections.abc import Callable


def lazy_names(
    package: str, lazy: dict[str, str], public: list[str]
) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """`package`'s module `__getattr__` and `__dir__`: each name in `lazy` is imported from the module
    it maps to on first use, then kept as a module attribute (found at once the next time); `dir()`
    offers the `public` names, not the module's own helpers."""

    def __getattr__(name: str) -> object:
        if name not in lazy:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(lazy[name]), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted(public)

    return __getattr__, __dir__
