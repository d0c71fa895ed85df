"""schemathesis against the served OpenAPI document: no 500, every answer matches the schema.

The server is a real uvicorn on loopback (in a thread, since schemathesis calls are
blocking), on SQLite and on PostgreSQL. Wallet routes are signed for the generated body and
admin routes carry the token, so the generated data reaches the ledger's logic, not only its
doors (the doors have their own tests in test_auth.py).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, TypeAlias
from urllib.parse import urlsplit

import httpx
import pytest
import schemathesis
from hypothesis import given, settings
from nacl.signing import SigningKey
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.errors import InvalidSchema
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from p2ppay.api.signing import sign_request
from tests.ledger.conftest import new_pg_database
from tests.ledger.world import ledger_in_thread, now_s

pytestmark = pytest.mark.slow  # whole processes or fault sweeps: not the fast tier

TOKEN = "schemathesis-token"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def ledger_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    if request.param == "sqlite":
        db = f"sqlite:///{tmp_path_factory.mktemp('openapi') / 'ledger.sqlite3'}"
    else:
        db = new_pg_database(request.getfixturevalue("postgres"))
    with ledger_in_thread(db, admin_token=TOKEN) as url:
        yield url


WALLET = SigningKey.generate()

# schemathesis leaves an operation's type parameters (parameters, request, schema) open.
Operation: TypeAlias = APIOperation[Any, Any, Any, Any]


def _operation(result: Ok[Operation] | Err[InvalidSchema]) -> Operation:
    """The operation, or the schema error that kept schemathesis from reading it."""
    if isinstance(result, Err):
        raise result.err()
    return result.ok()


def _body(kwargs: dict[str, object]) -> bytes:
    if "json" in kwargs:
        return json.dumps(kwargs["json"]).encode()
    data = kwargs.get("data", b"")
    return data if isinstance(data, bytes) else str(data).encode()


def call_and_check(case: Case[Operation], ledger_url: str) -> None:
    """Send ``case`` (signed or with the admin token) and validate the answer."""
    kwargs = case.as_transport_kwargs(base_url=ledger_url)
    content = _body(kwargs)
    headers = {str(k): str(v) for k, v in (kwargs.get("headers") or {}).items()}
    path = urlsplit(str(kwargs["url"])).path
    if path.startswith("/v1/admin/"):
        headers["authorization"] = f"Bearer {TOKEN}"
    elif path.startswith("/v1/"):
        signed = sign_request(WALLET, method=case.method, path=path, body=content, now=now_s())
        headers.update(signed)
    response = httpx.request(
        case.method,
        str(kwargs["url"]),
        content=content,
        headers=headers,
        params=kwargs.get("params"),
        timeout=30,
    )
    case.validate_response(response, checks=CHECKS)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_the_api_never_fails_and_answers_as_documented(
    ledger_url: str, mode: GenerationMode
) -> None:
    # schemathesis' own pytest plugin (subtests) does not run on this pytest; its Hypothesis
    # strategies are driven directly instead, one operation after the other.
    api = schemathesis.openapi.from_url(f"{ledger_url}/openapi.json")
    operations = [_operation(result) for result in api.get_all_operations()]
    assert len(operations) == 14
    if mode is GenerationMode.NEGATIVE:
        # Only a body can be made invalid: the other inputs are optional free-form headers.
        operations = [op for op in operations if len(op.body) > 0]
        assert len(operations) == 6
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=12, deadline=None, database=None, derandomize=True)
        def check(case: Case[Operation]) -> None:
            call_and_check(case, ledger_url)

        check()
