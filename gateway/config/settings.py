"""The gateway's typed configuration: server, client keys, providers and the model catalog.

The catalog is layered: the packaged `catalog.yaml` (list prices of well-known models) comes first, and the
operator's file adds or overrides providers and models by name. Operators thus get correct prices for free and only
write what is specific to them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from importlib import resources
from typing import Any

from gateway.config.cache_settings import CacheSettings, read_cache_settings
from gateway.config.key_settings import (AUTH_KEYS, NO_LIMITS, AuthSettings, KeyLimits, hash_key, read_auth_settings,
                                         read_key_entry)
from gateway.config.reader import Reader
from gateway.config.timeouts import MODEL_TIMEOUT_KEYS, PROVIDER_TIMEOUT_KEYS, read_timeouts
from gateway.config.yaml_source import ConfigError, Path, YamlSource, load_yaml, load_yaml_file

TIERS = ("economy", "standard", "premium")
_DEFAULT_KEYS_ENV = "GATEWAY_API_KEYS"


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    max_body_bytes: int = 8 * 1024 * 1024
    access_log: bool = False


@dataclass(frozen=True)
class ProviderSettings:
    """An OpenAI-compatible upstream. Its key lives only in the gateway's environment, named by `api_key_env`."""

    name: str
    base_url: str
    api_key_env: str | None = None
    key_passthrough: bool = False
    timeout_s: float = 600.0                       # a non-streamed call, whole (timeouts.py has them all)
    connect_timeout_s: float = 10.0
    stream_idle_timeout_s: float = 300.0
    first_byte_timeout_s: float | None = None      # None: only the limits above apply before the first byte
    stream_timeout_s: float | None = None          # None: a stream may run as long as it keeps sending
    max_retries: int = 2                 # retries of a failed call before the client sees the error
    # Resolved from `api_key_env` when the settings load; repr=False keeps it out of every debug print and log.
    api_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ModelSpec:
    """A model as the catalog prices it; prices are USD per million tokens."""

    name: str
    provider: str
    upstream_model: str
    input_per_million: float
    cached_input_per_million: float
    output_per_million: float
    context_window: int
    tier: str
    aliases: tuple[str, ...] = ()
    kind: str = "chat"  # chat | embedding: only chat models are routing candidates
    timeouts: tuple[tuple[str, float], ...] = ()   # per-model overrides of the provider's timeouts

    @property
    def is_chat(self) -> bool:
        return self.kind == "chat"


@dataclass(frozen=True)
class ClientKey:
    """A gateway key: only its hash is kept, so a memory dump or a debug print cannot leak it."""

    name: str
    tenant: str | None
    key_sha256: str
    limits: KeyLimits = NO_LIMITS


BUILTIN_POLICIES = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "policies")


@dataclass(frozen=True)
class PolicySettings:
    """Which policy files are loaded (hot-reloaded), which applies by default, and whether clients may choose."""

    paths: tuple[str, ...] = (BUILTIN_POLICIES,)
    default: str = "default"
    client_selectable: bool = True
    reload_interval_s: float = 1.0


@dataclass(frozen=True)
class Settings:
    server: ServerSettings
    providers: dict[str, ProviderSettings]
    models: dict[str, ModelSpec]
    client_keys: dict[str, ClientKey] = field(default_factory=dict)
    redis_url: str | None = None
    source_file: str | None = None
    policies: PolicySettings = field(default_factory=PolicySettings)
    upstream_override: str | None = None
    cache: CacheSettings = field(default_factory=CacheSettings)
    auth: AuthSettings = field(default_factory=AuthSettings)

    def provider_for(self, spec: ModelSpec) -> ProviderSettings:
        """The model's provider, with the model's own timeouts where it sets any."""
        provider = self.providers[spec.provider]
        return replace(provider, **dict(spec.timeouts)) if spec.timeouts else provider

    def find_model(self, name: str) -> ModelSpec | None:
        """The catalog entry for a requested model name or alias."""
        return self.models.get(name)

    def catalog(self) -> list[ModelSpec]:
        """Each model once (aliases collapse to their model)."""
        return list({spec.name: spec for spec in self.models.values()}.values())


def load_settings(path: str | None, upstream_override: str | None = None,
                  environ: dict[str, str] | None = None) -> Settings:
    """Settings from the operator's file (or only the embedded defaults when `path` is None)."""
    env = dict(os.environ if environ is None else environ)
    builtin = load_yaml(resources.files("gateway.config").joinpath("catalog.yaml").read_text(), "<builtin catalog>",
                        env)
    user = load_yaml_file(path, env) if path else YamlSource("<defaults>", {})
    settings = _build(builtin, user, env)
    if upstream_override:
        settings = _with_upstream(settings, upstream_override)
    return settings


_TOP_KEYS = ("server", "auth", "providers", "models", "catalog", "redis_url", "policies", "cache")


def _build(builtin: YamlSource, user: YamlSource, env: dict[str, str]) -> Settings:
    reader = Reader(user)
    top = reader.mapping(user.data, ())
    reader.known_keys(top, (), _TOP_KEYS)
    use_builtin = reader.value(top, (), "catalog", str, "builtin", choices=("builtin", "none")) == "builtin"
    providers: dict[str, ProviderSettings] = {}
    models: dict[str, ModelSpec] = {}
    if use_builtin:
        _read_catalog(Reader(builtin), builtin.data, providers, models, env)
    _read_catalog(reader, top, providers, models, env)
    _check_model_providers(reader, top, providers, models)
    settings = Settings(
        server=_read_server(reader, reader.mapping(top.get("server"), ("server",))),
        providers=providers,
        models=_index_aliases(reader, models),
        client_keys=_read_client_keys(reader, reader.mapping(top.get("auth"), ("auth",)), env),
        auth=read_auth_settings(reader, reader.mapping(top.get("auth"), ("auth",)), ("auth",)),
        redis_url=reader.value(top, (), "redis_url", str) or None,
        source_file=user.file,
        policies=_read_policies(reader, reader.mapping(top.get("policies"), ("policies",)), user.file),
        cache=read_cache_settings(reader, reader.mapping(top.get("cache"), ("cache",)), env.get("GATEWAY_MODEL_DIR")),
    )
    if builtin.issues or user.issues:
        raise ConfigError(builtin.issues + user.issues)
    return settings


def _read_server(reader: Reader, data: dict[str, Any]) -> ServerSettings:
    path: Path = ("server",)
    reader.known_keys(data, path, ("host", "port", "max_body_bytes", "access_log"))
    defaults = ServerSettings()
    return ServerSettings(
        host=reader.value(data, path, "host", str, defaults.host),
        port=reader.value(data, path, "port", int, defaults.port, minimum=0),
        max_body_bytes=reader.value(data, path, "max_body_bytes", int, defaults.max_body_bytes, minimum=1024),
        access_log=reader.value(data, path, "access_log", bool, defaults.access_log),
    )


def _read_catalog(reader: Reader, top: dict[str, Any], providers: dict[str, ProviderSettings],
                  models: dict[str, ModelSpec], env: dict[str, str]) -> None:
    for name, data in reader.mapping(top.get("providers"), ("providers",)).items():
        provider = _read_provider(reader, str(name), reader.mapping(data, ("providers", name)), env)
        if provider:
            providers[provider.name] = provider
    for name, data in reader.mapping(top.get("models"), ("models",)).items():
        spec = _read_model(reader, str(name), reader.mapping(data, ("models", name)), models.get(str(name)))
        if spec:
            models[spec.name] = spec


_PROVIDER_KEYS = ("base_url", "api_key_env", "key_passthrough", "max_retries") + PROVIDER_TIMEOUT_KEYS


def _read_provider(reader: Reader, name: str, data: dict[str, Any], env: dict[str, str]) -> ProviderSettings | None:
    path: Path = ("providers", name)
    reader.known_keys(data, path, _PROVIDER_KEYS)
    base_url = reader.value(data, path, "base_url", str, required=True)
    if base_url and not base_url.startswith(("http://", "https://")):
        reader.issue(path + ("base_url",), f"must be an http:// or https:// URL, got {base_url!r}")
        return None
    if not base_url:
        return None
    defaults = ProviderSettings(name, base_url)
    api_key_env = reader.value(data, path, "api_key_env", str)
    return ProviderSettings(
        name=name,
        base_url=base_url.rstrip("/"),
        api_key_env=api_key_env,
        api_key=env.get(api_key_env) or None if api_key_env else None,
        key_passthrough=reader.value(data, path, "key_passthrough", bool, False),
        **read_timeouts(reader, data, path, PROVIDER_TIMEOUT_KEYS),
        max_retries=reader.value(data, path, "max_retries", int, defaults.max_retries, minimum=0),
    )


_MODEL_KEYS = ("provider", "upstream_model", "input_per_million", "cached_input_per_million", "output_per_million",
               "context_window", "tier", "aliases", "kind") + MODEL_TIMEOUT_KEYS
MODEL_KINDS = ("chat", "embedding")


def _read_model(reader: Reader, name: str, data: dict[str, Any], base: ModelSpec | None) -> ModelSpec | None:
    """A model entry; a user entry for a built-in model only needs the fields it changes."""
    path: Path = ("models", name)
    reader.known_keys(data, path, _MODEL_KEYS)
    required = base is None

    def field_value(key: str, kind: type, **checks: Any) -> Any:
        fallback = getattr(base, key) if base else None
        return reader.value(data, path, key, kind, fallback, required=required, **checks)

    input_price = field_value("input_per_million", float, minimum=0)
    cached = reader.value(data, path, "cached_input_per_million", float,
                          base.cached_input_per_million if base and "input_per_million" not in data else input_price,
                          minimum=0)
    values = dict(
        provider=field_value("provider", str),
        upstream_model=reader.value(data, path, "upstream_model", str, base.upstream_model if base else name),
        input_per_million=input_price,
        cached_input_per_million=cached,
        output_per_million=field_value("output_per_million", float, minimum=0),
        context_window=field_value("context_window", int, minimum=1),
        tier=field_value("tier", str, choices=TIERS),
        aliases=tuple(reader.string_list(data, path, "aliases")) or (base.aliases if base else ()),
        kind=reader.value(data, path, "kind", str, base.kind if base else "chat", choices=MODEL_KINDS),
    )
    if any(value is None for value in values.values()):
        return None
    timeouts = {**dict(base.timeouts if base else ()), **read_timeouts(reader, data, path, MODEL_TIMEOUT_KEYS)}
    return ModelSpec(name=name, **values, timeouts=tuple(sorted(timeouts.items())))


def _check_model_providers(reader: Reader, top: dict[str, Any], providers: dict[str, ProviderSettings],
                           models: dict[str, ModelSpec]) -> None:
    user_models = reader.mapping(top.get("models"), ("models",))
    for name, spec in list(models.items()):
        if spec.provider not in providers:
            if name in user_models:
                reader.issue(("models", name, "provider"),
                             f"unknown provider {spec.provider!r}; defined: {', '.join(sorted(providers))}")
            del models[name]


def _index_aliases(reader: Reader, models: dict[str, ModelSpec]) -> dict[str, ModelSpec]:
    index = dict(models)
    for spec in models.values():
        for alias in spec.aliases:
            if alias in index and index[alias].name != spec.name:
                reader.issue(("models", spec.name, "aliases"), f"alias {alias!r} is already the name of a model")
                continue
            index[alias] = spec
    return index


def _read_client_keys(reader: Reader, data: dict[str, Any], env: dict[str, str]) -> dict[str, ClientKey]:
    path: Path = ("auth",)
    reader.known_keys(data, path, AUTH_KEYS)
    keys: dict[str, ClientKey] = {}
    for index, entry in enumerate(reader.value(data, path, "keys", list, [])):
        entry_path = path + ("keys", index)
        entry = reader.mapping(entry, entry_path)
        digest, limits = read_key_entry(reader, entry, entry_path)
        if digest:
            keys[digest] = ClientKey(reader.value(entry, entry_path, "name", str, f"key-{index}"),
                                     reader.value(entry, entry_path, "tenant", str), digest, limits)
    keys_env = reader.value(data, path, "keys_env", str, _DEFAULT_KEYS_ENV)
    for index, key in enumerate(k.strip() for k in env.get(keys_env, "").split(",")):
        if key:
            keys[hash_key(key)] = ClientKey(f"{keys_env}[{index}]", None, hash_key(key))
    return keys


def _read_policies(reader: Reader, data: dict[str, Any], config_file: str) -> PolicySettings:
    """Policy paths are files or folders of *.yaml, relative to the config file."""
    path: Path = ("policies",)
    reader.known_keys(data, path, ("paths", "default", "client_selectable", "reload_interval_s"))
    defaults = PolicySettings()
    base = os.path.dirname(os.path.abspath(config_file)) if os.path.isfile(config_file) else os.getcwd()
    paths = tuple(os.path.join(base, item) for item in reader.string_list(data, path, "paths"))
    for index, item in enumerate(paths):
        if not os.path.exists(item):
            reader.issue(path + ("paths", index), f"no such file or folder: {item}")
    return PolicySettings(
        paths=paths or defaults.paths,
        default=reader.value(data, path, "default", str, defaults.default),
        client_selectable=reader.value(data, path, "client_selectable", bool, defaults.client_selectable),
        reload_interval_s=reader.value(data, path, "reload_interval_s", float, defaults.reload_interval_s,
                                       minimum=0.05),
    )


def _with_upstream(settings: Settings, base_url: str) -> Settings:
    """Send every provider's traffic to one base URL (a simulator or a local vLLM) for keyless trials."""
    providers = {name: ProviderSettings(**{**provider.__dict__, "base_url": base_url.rstrip("/")})
                 for name, provider in settings.providers.items()}
    return Settings(**{**settings.__dict__, "providers": providers, "upstream_override": base_url})
