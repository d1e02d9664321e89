"""What the project publishes and where a user's key may go (issue: trust boundaries)."""
from __future__ import annotations

import pytest

from bench.errors import BenchError
from bench.openai_client import parse_openai_spec


@pytest.mark.parametrize("spec", ["openai:m@notaurl", "openai:m@host/v1", "openai:m@localhost:8000/v1",
                                  "openai:m@ftp://h/v1", "openai:m@http:///v1"])
def test_a_base_url_that_is_not_http_never_falls_back_to_the_hosted_api(spec):
    with pytest.raises(BenchError) as err:
        parse_openai_spec(spec)
    assert "base URL" in str(err.value) and "\n" not in str(err.value)


def test_valid_openai_specs_still_parse():
    assert parse_openai_spec("openai:gpt-4o-mini") == ("gpt-4o-mini", "https://api.openai.com/v1")
    assert parse_openai_spec("openai:org/m@dev@http://127.0.0.1:8000/v1/") == ("org/m@dev", "http://127.0.0.1:8000/v1")
