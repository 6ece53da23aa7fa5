"""The deployment files under deploy/: systemd units verify, and the verifier would catch a broken one."""
import pathlib
import shutil
import subprocess

import pytest

from support.stack import ROOT

UNITS = sorted((ROOT / "deploy/systemd").glob("solstice-*"))


def verify(directory, names):
    return subprocess.run(["systemd-analyze", "verify", "--man=no", *names], cwd=directory, capture_output=True,
                          text=True, timeout=60)


@pytest.fixture
def installed_units(tmp_path, stack):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (scripts/stack.sh deps installs systemd)")
    bin_dir = pathlib.Path(stack.fcgi_bin).parent
    for unit in UNITS:
        text = unit.read_text().replace("/usr/local/bin/", str(bin_dir) + "/")
        (tmp_path / unit.name).write_text(text)
    return tmp_path


def test_units_exist():
    assert {u.name for u in UNITS} >= {"solstice-fcgi.socket", "solstice-fcgi.service", "solstice-results.service",
                                        "solstice-fcgi-spawn.service"}


def test_systemd_analyze_verify_passes(installed_units):
    out = verify(installed_units, [u.name for u in UNITS])
    assert out.returncode == 0 and out.stderr.strip() == "" and out.stdout.strip() == "", out.stderr + out.stdout


def test_verify_catches_a_typo(installed_units):
    unit = installed_units / "solstice-fcgi.service"
    unit.write_text(unit.read_text().replace("ProtectSystem=strict", "ProtectSytem=strict"))
    out = verify(installed_units, ["solstice-fcgi.socket", "solstice-fcgi.service"])
    assert "Unknown key" in out.stderr


def test_service_is_hardened_and_gets_the_socket_on_fd0():
    text = (ROOT / "deploy/systemd/solstice-fcgi.service").read_text()
    for line in ["StandardInput=socket", "DynamicUser=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "LoadCredential=webhook-secret:", "GITHUB_WEBHOOK_SECRET_FILE=%d/",
                 "StateDirectory=solstice/spool", "Restart=on-failure"]:
        assert line in text, line
