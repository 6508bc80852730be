"""Property-based fuzzing of every route of ``groundcode serve`` over real HTTP: no input may cause a 5xx.

schemathesis generates requests from the app's own OpenAPI spec, as a member of the project (the path's
project is always that one, so the requests reach the routes' logic instead of the membership 404).
Bounded: a few examples per operation, about a minute in all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.core.failures import FailureGroup
from schemathesis.core.result import Ok

from groundcode.server import create_app
from groundcode.settings import Settings
from tests.live_server import api_token, serve_in_thread

PROJECT = "study"
EXAMPLES = 10
BUDGET_SECONDS = 90.0  # a guard: about 20 s on two busy cores


@pytest.fixture(scope="module")
def fuzz_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    data = tmp_path_factory.mktemp("fuzz")
    return Settings(data_dir=data, database_url=f"sqlite:///{data / 'groundcode.db'}")


@pytest.fixture(scope="module")
def member_headers(fuzz_settings: Settings) -> dict[str, str]:
    return api_token(fuzz_settings, projects=[PROJECT])


@pytest.fixture(scope="module")
def base_url(fuzz_settings: Settings) -> Iterator[str]:
    # No workers: a fuzzed request's background work would fail out of sight, after the response.
    with serve_in_thread(create_app(fuzz_settings, run_workers=False)) as url:
        yield url


def test_no_request_causes_a_server_error(base_url: str, member_headers: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    problems: dict[str, str] = {}
    deadline = time.monotonic() + BUDGET_SECONDS
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results), "the OpenAPI spec has operations schemathesis cannot read"
    assert len(operations) > 30, "the combined app should offer every service's routes"
    for operation in operations:
        if time.monotonic() > deadline:
            pytest.fail(f"fuzzing took over {BUDGET_SECONDS} s before {operation.label}")

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            derandomize=True,
            phases=[Phase.explicit, Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        def check(case: Case[Any]) -> None:
            if "project" in (case.path_parameters or {}):
                case.path_parameters = {**(case.path_parameters or {}), "project": PROJECT}
            response = case.call(headers=member_headers, timeout=30)
            case.validate_response(response, checks=[not_a_server_error], headers=member_headers)

        try:
            check()
        except FailureGroup as error:  # report every operation's failures, not only the first one's
            problems[operation.label] = str(error)
    assert not problems, "\n\n".join(f"{label}:\n{problem}" for label, problem in problems.items())


# Server errors the fuzzing found, now clear 4xx answers.


def test_contradictory_chunk_options_are_refused_by_name(
    base_url: str, member_headers: dict[str, str]
) -> None:
    upload = {"files": ("a.txt", b"P1: Hello there. How are you?", "text/plain")}
    limits = {"min_chars": "500", "max_chars": "100"}
    response = httpx.post(
        f"{base_url}/projects/{PROJECT}/sources", files=upload, data=limits, headers=member_headers
    )
    assert response.status_code == 422
    assert "max_chars must not be smaller than min_chars" in response.text


def test_repeated_segment_ids_are_looked_up_once(base_url: str, member_headers: dict[str, str]) -> None:
    body = {"segment_ids": ["nope", "nope"]}
    response = httpx.post(
        f"{base_url}/projects/{PROJECT}/similar-segments", json=body, headers=member_headers
    )
    assert response.status_code == 404
    assert "segments not indexed in this project: nope" in response.json()["detail"]
