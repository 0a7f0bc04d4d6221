"""Shared test setup: tests import the factory of tiny packages from this folder, and every
test writes its audit log and users file to a temporary folder, never the project's data/."""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture(autouse=True, scope="session")
def _private_audit_and_users(tmp_path_factory):
    import os

    tmp = tmp_path_factory.mktemp("security")
    old = {k: os.environ.get(k) for k in ("NEO_MARGIN_AUDIT", "NEO_MARGIN_AUDIT_KEY", "NEO_MARGIN_USERS")}
    os.environ["NEO_MARGIN_AUDIT"] = str(tmp / "audit.jsonl")
    # the audit key is kept outside the audit log's folder (audit.py refuses one inside it)
    os.environ["NEO_MARGIN_AUDIT_KEY"] = str(tmp_path_factory.mktemp("audit-key") / "audit.key")
    os.environ["NEO_MARGIN_USERS"] = str(tmp / "users.json")
    yield tmp
    for k, v in old.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
