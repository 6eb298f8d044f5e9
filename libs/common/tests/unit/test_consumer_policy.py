from __future__ import annotations

import asyncpg
import pytest

from platform_common.errors import Conflict, DependencyUnavailable, NotFound, PermanentError, TransientError
from platform_common.kafka.consumer import is_transient


@pytest.mark.parametrize(("error", "transient"), [
    (TransientError("db"), True),
    (DependencyUnavailable("kafka"), True),
    (ConnectionResetError(), True),
    (TimeoutError(), True),
    (asyncpg.PostgresConnectionError("gone"), True),
    (PermanentError("bad"), False),
    (NotFound("missing"), False),
    (Conflict("dup"), False),
    (KeyError("bug"), False),
])
def test_transient_classification(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient
