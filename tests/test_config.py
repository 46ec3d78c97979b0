"""Configuration: the example loads, the catalog layers, and every mistake is located by file, key path and line."""

from __future__ import annotations

import pytest

from gateway.config.settings import hash_key, load_settings
from gateway.config.yaml_source import ConfigError
from tests.conftest import REPO, write_config


def test_example_config_loads_as_it_is():
    settings = load_settings(str(REPO / "config.example.yaml"), environ={})
    assert settings.find_model("gpt-4o").input_per_million == 2.50
    assert settings.find_model("llama-local").name == "llama-3.1-8b-local"
    assert settings.providers["local-vllm"].base_url == "http://127.0.0.1:8000/v1"
    assert settings.redis_url is None and settings.client_keys == {}


def test_user_entry_overrides_one_field_of_a_builtin_model(tmp_path):
    path = write_config(tmp_path, "models:\n  gpt-4o:\n    output_per_million: 12.5\n")
    spec = load_settings(path, environ={}).find_model("gpt-4o")
    assert (spec.output_per_million, spec.input_per_million, spec.cached_input_per_million) == (12.5, 2.5, 1.25)


def test_cached_input_price_defaults_to_input_price(tmp_path):
    path = write_config(tmp_path, "models:\n  m:\n    provider: openai\n    input_per_million: 3\n"
                                  "    output_per_million: 4\n    context_window: 1000\n    tier: standard\n")
    assert load_settings(path, environ={}).find_model("m").cached_input_per_million == 3


def test_env_expansion_with_types_and_defaults(tmp_path):
    path = write_config(tmp_path, "server:\n  port: ${PORT}\n  host: ${HOST:-0.0.0.0}\n"
                                  "auth:\n  keys:\n    - key: ${TEAM_KEY}\n      name: team\n")
    settings = load_settings(path, environ={"PORT": "9001", "TEAM_KEY": "gk-team-secret"})
    assert settings.server.port == 9001 and settings.server.host == "0.0.0.0"
    assert hash_key("gk-team-secret") in settings.client_keys


def test_every_mistake_is_reported_with_file_path_and_line(tmp_path):
    path = write_config(tmp_path, "server:\n  port: nine\n  bogus: 1\nmodels:\n  m:\n    provider: nowhere\n"
                                  "    input_per_million: -1\n    output_per_million: 1\n    context_window: 8\n"
                                  "    tier: standard\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    text = str(caught.value)
    assert f"{path}:2: server.port: must be an integer, got 'nine'" in text
    assert f"{path}:3: server.bogus: unknown key" in text
    assert f"{path}:7: models.m.input_per_million: must be at least 0" in text


def test_unknown_provider_is_located(tmp_path):
    path = write_config(tmp_path, "models:\n  m:\n    provider: nowhere\n    input_per_million: 1\n"
                                  "    output_per_million: 1\n    context_window: 8\n    tier: economy\n")
    with pytest.raises(ConfigError, match=r":3: models\.m\.provider: unknown provider 'nowhere'"):
        load_settings(path, environ={})


def test_unset_env_var_and_bad_yaml_are_located(tmp_path):
    with pytest.raises(ConfigError, match=r":2: redis_url: environment variable NOPE is not set"):
        load_settings(write_config(tmp_path, "catalog: builtin\nredis_url: ${NOPE}\n"), environ={})
    with pytest.raises(ConfigError, match=r":3: \(top level\): invalid YAML"):
        load_settings(write_config(tmp_path, "models:\n  x: [1,\n"), environ={})


def test_keys_from_environment_variable(tmp_path):
    settings = load_settings(None, environ={"GATEWAY_API_KEYS": "k1, k2"})
    assert set(settings.client_keys) == {hash_key("k1"), hash_key("k2")}


def test_upstream_override_reaches_every_provider():
    settings = load_settings(None, upstream_override="http://127.0.0.1:9/v1/", environ={})
    assert {p.base_url for p in settings.providers.values()} == {"http://127.0.0.1:9/v1"}
