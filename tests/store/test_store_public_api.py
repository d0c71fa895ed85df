"""The packages the roles and the CLI import name exactly their public API."""

from __future__ import annotations

import importlib

import pytest


@pytest.mark.parametrize(
    "module",
    [
        "p2ppay.errors",
        "p2ppay.wallet.issuer",
        "p2ppay.store",
        "p2ppay.store.documents",
        "p2ppay.wallet",
    ],
)
def test_all_lists_every_public_name_and_only_those(module: str) -> None:
    mod = importlib.import_module(module)
    public = {
        name
        for name, value in vars(mod).items()
        if not name.startswith("_")
        and getattr(value, "__module__", module).startswith(module)
        and not isinstance(value, type(importlib))
    }
    assert set(mod.__all__) >= public
    assert all(hasattr(mod, name) for name in mod.__all__)
