"""A LangGraph Server run passes its context as JSON: `model` arrives as an object and is checked field by
field; the API key never travels in a request."""

from __future__ import annotations

import pytest

from agent.config import ModelSettings
from agent.nodes import context_model
from tools.errors import InputError


def test_settings_and_none_pass_through() -> None:
    settings = ModelSettings(model="m")
    assert context_model(settings) is settings
    assert context_model(None) is None


def test_an_object_becomes_settings_with_the_key_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    settings = context_model({"model": "gpt-x", "base_url": "http://127.0.0.1:9/v1", "temperature": 0.2})
    assert settings == ModelSettings(
        model="gpt-x", base_url="http://127.0.0.1:9/v1", temperature=0.2, api_key="sk-from-env"
    )


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ({"model": "m", "api_key": "sk-in-request"}, "unknown field 'api_key' (the key comes from the server's"),
        ({"model": "m", "tempreature": 0.1}, "unknown field 'tempreature'"),
        ({"base_url": "http://x"}, "context.model.model: Field required"),
        ({"model": "m", "temperature": "hot"}, "context.model.temperature:"),
        ({"model": "m", "structured_method": "telepathy"}, "context.model.structured_method:"),
        ("gpt-4o-mini", "expected an object of model settings, not str"),
    ],
)
def test_a_bad_object_is_named(value: object, message: str) -> None:
    with pytest.raises(InputError, match=None) as exc:
        context_model(value)
    assert message in str(exc.value)
