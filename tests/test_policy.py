"""Policies: the shipped files are valid, mistakes are located, matching follows precedence, reloads are safe."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from gateway.analysis.types import Analysis, Subtask, TokenCounts
from gateway.config.settings import load_settings
from gateway.config.yaml_source import ConfigError
from gateway.policy.loader import Catalog, check_policy_files, load_policy_text
from gateway.policy.matcher import RequestFacts, match
from gateway.policy.store import PolicyStore
from tests.conftest import REPO

CATALOG = Catalog.from_settings(load_settings(None, environ={}))
SHIPPED = sorted(str(REPO / "policies" / name) for name in os.listdir(REPO / "policies"))


def analysis(task="open_question", complexity=2, dependency=0.0, text="What is a monad?", confidence=0.9,
             subtasks=(), tokens=TokenCounts(10, 0, 20, 0)) -> Analysis:
    return Analysis(tokens, task, complexity, dependency, tuple(Subtask(i, s) for i, s in enumerate(subtasks)),
                    confidence, text, 1)


def facts(**overrides) -> RequestFacts:
    values = dict(model="gpt-4o", analysis=analysis())
    values.update(overrides)
    return RequestFacts(**values)


def test_shipped_policies_are_valid_and_the_cli_says_so():
    assert len(SHIPPED) >= 4 and check_policy_files(SHIPPED, CATALOG) == []
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "check", *SHIPPED], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "no problems" in done.stdout


BROKEN = """name: broken
defaults:
  route: gpt-9
  quality_risk: 1.5
rules:
  - name: typo
    when: {task_typ: math}
    then: {route: auto}
  - name: wrong-type
    when: {tools: "yes", complexity: {min: 4, max: 2}}
    then: {split: {max_workers: many}}
  - name: everything
    then: {route: as_requested}
  - name: shadowed
    when: {agent_role: draft}
    then: {route: {tier: economy}}
"""


def test_policy_check_locates_every_likely_mistake(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "check", str(path)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    out = done.stdout
    assert done.returncode == 1
    assert f"{path}:3: defaults.route: unknown model 'gpt-9'" in out
    assert f"{path}:4: defaults.quality_risk: must be a number between 0 and 1" in out
    assert f"{path}:7: rules[0].when.task_typ: unknown key; allowed here: model, agent_role" in out
    assert f"{path}:10: rules[1].when.tools: must be true or false" in out
    assert f"{path}:10: rules[1].when.complexity: min 4 is above max 2" in out
    assert f"{path}:11: rules[1].then.split.max_workers: must be an integer" in out
    assert f"{path}:14: rules[3]: unreachable: rule 'everything' before it has no conditions" in out
    assert "rule 'typo'" not in out and out.strip().endswith("7 problem(s)")


def test_duplicate_conditions_are_unreachable():
    text = ("name: d\nrules:\n  - name: a\n    when: {agent_role: [x, y]}\n    then: {route: auto}\n"
            "  - name: b\n    when: {agent_role: [y, x]}\n    then: {route: as_requested}\n")
    with pytest.raises(ConfigError, match=r":6: rules\[1\]: unreachable: rule 'a' before it has the same"):
        load_policy_text(text, "dup.yaml", CATALOG)


POLICY = load_policy_text("""name: t
defaults:
  route: auto
  quality_risk: 0.1
  cache: {semantic: true, ttl_s: 60}
rules:
  - name: drafts
    when: {agent_role: draft, model: "gpt-4*"}
    then: {route: as_requested, cache: {ttl_s: 5}}
  - name: hard-math
    when: {task_type: math, complexity: {min: 4}}
    then: {quality_floor: premium}
  - name: urgent
    when: {keywords: [URGENT], metadata: {tier: [gold, platinum]}}
    then: {route: {model: gpt-4.1}}
  - name: tickets
    when: {regex: "ticket #\\\\d+", tools: false, stream: true}
    then: {route: {tier: economy}}
  - name: long
    when: {tokens: {min: 1000}, temperature: {max: 0.5}}
    then: {context: {max_tokens: 800}}
""", "t.yaml", CATALOG)


def test_first_matching_rule_wins_and_actions_merge_over_defaults():
    matched = match(POLICY, facts(agent_role="draft", analysis=analysis(task="math", complexity=5)))
    assert matched.rule.name == "drafts" and matched.actions.route.mode == "as_requested"
    assert (matched.actions.cache.ttl_s, matched.actions.cache.semantic) == (5, True)   # field-by-field merge
    assert match(POLICY, facts(model="o3-mini", agent_role="draft",
                               analysis=analysis(task="math", complexity=5))).rule.name == "hard-math"


@pytest.mark.parametrize("overrides, rule", [
    (dict(analysis=analysis(text="URGENT: fix it"), metadata={"tier": "gold"}), "urgent"),
    (dict(analysis=analysis(text="urgent please"), metadata={"tier": "bronze"}), None),
    (dict(analysis=analysis(text="Close Ticket #42"), stream=True), "tickets"),
    (dict(analysis=analysis(text="Close Ticket #42"), stream=True, tools=True), None),
    (dict(analysis=analysis(tokens=TokenCounts(500, 400, 200, 0)), temperature=0.2), "long"),
    (dict(analysis=analysis(tokens=TokenCounts(500, 400, 200, 0)), temperature=0.9), None),
    (dict(analysis=analysis(tokens=TokenCounts(500, 400, 200, 0))), None),
])
def test_conditions(overrides, rule):
    matched = match(POLICY, facts(**overrides))
    assert (matched.rule.name if matched.rule else None) == rule
    if rule is None:
        assert matched.actions == POLICY.defaults and matched.rule_name == "t:defaults"


def test_hot_reload_keeps_the_last_good_policy(tmp_path, caplog):
    path = tmp_path / "p.yaml"
    path.write_text("name: live\ndefaults: {quality_risk: 0.2}\n")
    store = PolicyStore((str(tmp_path),), "live", True, CATALOG)
    store.load()
    assert store.select(None).defaults.quality_risk == 0.2
    path.write_text("name: live\ndefaults: {quality_risk: 0.3}\n")
    os.utime(path, (time.time() + 5, time.time() + 5))
    store.reload_changed()
    assert store.select(None).defaults.quality_risk == 0.3 and store.status()["reloads"] == 1
    path.write_text("name: live\ndefaults: {quality_risk: lots}\n")
    os.utime(path, (time.time() + 10, time.time() + 10))
    store.reload_changed()
    assert store.select(None).defaults.quality_risk == 0.3          # the broken edit did not take effect
    status = store.status()
    assert status["reload_errors"] == 1 and ":2: defaults.quality_risk" in status["errors"][str(path)]
    assert "keeping policy 'live' as it was" in caplog.text
    path.write_text("name: live\ndefaults: {quality_risk: 0.4}\n")
    os.utime(path, (time.time() + 15, time.time() + 15))
    store.reload_changed()
    assert store.select(None).defaults.quality_risk == 0.4 and store.status()["errors"] == {}


def test_client_may_pick_a_policy_only_where_allowed(tmp_path):
    from gateway.server.errors import APIError

    store = PolicyStore(tuple(SHIPPED), "default", True, CATALOG)
    store.load()
    assert store.select("conservative").name == "conservative"
    with pytest.raises(APIError) as caught:
        store.select("nope")
    assert caught.value.param == "x-gateway-policy" and caught.value.status == 400
    locked = PolicyStore(tuple(SHIPPED), "default", False, CATALOG)
    locked.load()
    assert locked.select("conservative").name == "default"


def test_a_missing_default_policy_stops_start_up(tmp_path):
    (tmp_path / "p.yaml").write_text("name: other\n")
    with pytest.raises(ConfigError, match="default policy 'default' is not among the loaded policies: other"):
        PolicyStore((str(tmp_path),), "default", True, CATALOG).load()


def test_only_a_policy_that_cannot_change_requests_is_passive():
    store = PolicyStore(tuple(SHIPPED), "default", True, CATALOG)
    store.load()
    assert {name for name, policy in store.policies().items() if policy.is_passive} == {"as-asked"}


def test_policy_check_reports_a_name_used_by_two_files_with_both_places(tmp_path):
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("name: shared\ndefaults: {quality_risk: 0.2}\n")
    second.write_text("description: copy\nname: shared\n")
    issues = [str(issue) for issue in check_policy_files([str(first), str(second)], CATALOG)]
    assert f"{first}:1: name: policy 'shared' is also defined in {second}:2; policy names must be unique" in issues
    assert f"{second}:2: name: policy 'shared' is also defined in {first}:1; policy names must be unique" in issues
    done = subprocess.run([sys.executable, "-m", "gateway.cli", "policy", "check", str(first), str(second)],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1 and f"is also defined in {second}:2" in done.stdout


def test_a_duplicate_name_stops_start_up_and_a_reload_that_makes_one_is_refused(tmp_path, caplog):
    live, other = tmp_path / "live.yaml", tmp_path / "other.yaml"
    live.write_text("name: live\ndefaults: {quality_risk: 0.2}\n")
    other.write_text("name: other\n")
    clash = tmp_path / "z.yaml"
    clash.write_text("name: live\n")
    with pytest.raises(ConfigError, match="policy 'live' is also defined in"):
        PolicyStore((str(tmp_path),), "live", True, CATALOG).load()
    clash.unlink()
    store = PolicyStore((str(tmp_path),), "live", True, CATALOG)
    store.load()
    other.write_text("name: live\ndefaults: {quality_risk: 0.9}\n")  # an edit that would shadow 'live'
    os.utime(other, (time.time() + 5, time.time() + 5))
    store.reload_changed()
    assert store.select(None).defaults.quality_risk == 0.2 and sorted(store.policies()) == ["live", "other"]
    status = store.status()
    assert status["reload_errors"] == 1 and f"also defined in {live}:1" in status["errors"][str(other)]
    assert "keeping policy 'other' as it was" in caplog.text
