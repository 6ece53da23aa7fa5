"""deploy/prometheus (SPEC §11): the scrape configuration and alert rules pass `promtool check config` and
`promtool check rules`, and the rules' unit tests (alerts.test.yml) pass `promtool test rules`. Needs no stack, only
Debian's prometheus package (`scripts/stack.sh deps` installs it)."""
import pathlib
import shutil
import subprocess

import pytest

DEPLOY = pathlib.Path(__file__).resolve().parents[2] / "deploy/prometheus"


def promtool(*args):
    tool = shutil.which("promtool")
    if not tool:
        pytest.fail("promtool is missing: `scripts/stack.sh deps` installs Debian's prometheus package")
    result = subprocess.run([tool, *args], cwd=DEPLOY, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_the_scrape_configuration_is_valid():
    promtool("check", "config", "prometheus.yml")


def test_the_alert_rules_are_valid():
    assert "SUCCESS: 6 rules found" in promtool("check", "rules", "alerts.yml")


def test_the_alert_rules_pass_their_unit_tests():
    output = promtool("test", "rules", "alerts.test.yml")
    assert "SUCCESS" in output


def test_every_alert_has_a_unit_test():
    rules = pathlib.Path(DEPLOY / "alerts.yml").read_text()
    tests = pathlib.Path(DEPLOY / "alerts.test.yml").read_text()
    names = [line.split(":", 1)[1].strip() for line in rules.splitlines() if line.strip().startswith("- alert:")]
    assert len(names) == 6
    for name in names:
        assert f"alertname: {name}" in tests, name
