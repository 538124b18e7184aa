from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from polyrec_client import Polyrec


@pytest.fixture(scope="session")
def url() -> str:
    value = os.environ.get("POLYREC_URL")
    if not value:
        pytest.fail("POLYREC_URL is not set: the live tests need a running server (scripts/sdk.sh starts one)")
    return value


@pytest.fixture
def tenant() -> str:
    """A tenant of its own per test, so runs and tests never see each other's data."""
    return f"py-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def polyrec(url: str, tenant: str) -> Iterator[Polyrec]:
    with Polyrec(url, tenant=tenant) as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
