"""Shared test setup: one GBENCH_HOME per session (the toy classifier and reference statistics are
computed once and reused), never the user's real cache."""

import os

import pytest


@pytest.fixture(scope="session", autouse=True)
def gbench_home(tmp_path_factory):
    home = tmp_path_factory.mktemp("gbench_home")
    old = os.environ.get("GBENCH_HOME")
    os.environ["GBENCH_HOME"] = str(home)
    yield home
    if old is None:
        os.environ.pop("GBENCH_HOME", None)
    else:
        os.environ["GBENCH_HOME"] = old
