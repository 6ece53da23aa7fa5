"""The deployment files under deploy/: systemd units verify, and the verifier would catch a broken one; the services
are hardened, and `systemd-analyze security` rates them so (the web-server examples: test_shipped_configs.py)."""
import pathlib
import re
import shutil
import subprocess

import pytest

from support.stack import ROOT

UNITS = sorted((ROOT / "deploy/systemd").glob("solstice-*"))
SERVICES = ["solstice-fcgi.service", "solstice-fcgi-spawn.service", "solstice-results.service"]

# Every service, whatever it runs: resource limits, no capabilities, a system-call filter, a read-only system, no
# access to other users' files, devices, kernel knobs, namespaces or executable writable memory.
HARDENING = [
    "DynamicUser=yes", "NoNewPrivileges=yes", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
    "PrivateDevices=yes", "DevicePolicy=closed", "PrivateMounts=yes", "ProtectProc=invisible",
    "ProtectKernelTunables=yes", "ProtectKernelModules=yes", "ProtectKernelLogs=yes", "ProtectControlGroups=yes",
    "ProtectClock=yes", "ProtectHostname=yes", "RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6",
    "RestrictNamespaces=yes", "RestrictRealtime=yes", "RestrictSUIDSGID=yes", "LockPersonality=yes",
    "MemoryDenyWriteExecute=yes", "SystemCallArchitectures=native", "SystemCallFilter=@system-service",
    "SystemCallFilter=~@privileged @resources", "SystemCallErrorNumber=EPERM", "CapabilityBoundingSet=",
    "AmbientCapabilities=", "UMask=0077", "Restart=on-failure",
]
LIMITS = ["MemoryMax=", "TasksMax="]
APP_KEY = ["LoadCredential=github-app-key:/etc/solstice/github-app.pem",
           "Environment=GITHUB_APP_KEY_PATH=%d/github-app-key"]

# `systemd-analyze security` exposure (0 = nothing exposed, 10 = everything). Measured with systemd 252: 1.2 for each
# service (before this hardening: 3.2 for solstice-fcgi and solstice-results, 6.2 for solstice-fcgi-spawn). What
# stays exposed is inherent: the network (a webhook receiver and a broker client), the host's root directory, other
# users (PrivateUsers= would hide the web server's group from the spawn-fcgi socket), /proc's non-process files.
MAX_EXPOSURE = 2.0


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


def directives(name):
    """The unit's directive lines (comments aside), as written."""
    text = (ROOT / "deploy/systemd" / name).read_text()
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith(("#", ";"))]


def test_service_is_hardened_and_gets_the_socket_on_fd0():
    lines = directives("solstice-fcgi.service")
    for line in ["StandardInput=socket", "DynamicUser=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "NoNewPrivileges=yes", "LoadCredential=webhook-secret:/etc/solstice/webhook-secret",
                 "Environment=GITHUB_WEBHOOK_SECRET_FILE=%d/webhook-secret", "StateDirectory=solstice/spool",
                 "Environment=SPOOL_DIR=%S/solstice/spool", "Restart=on-failure"]:
        assert line in lines, line


@pytest.mark.parametrize("name", SERVICES)
def test_services_are_hardened_and_limited(name):
    lines = directives(name)
    for line in HARDENING:
        assert line in lines, f"{name}: {line}"
    for prefix in LIMITS:
        assert any(re.fullmatch(re.escape(prefix) + r"\d+[KMG]?", line) for line in lines), f"{name}: {prefix}"


@pytest.mark.parametrize("name", SERVICES)
def test_app_key_is_a_credential_not_the_environment(name):
    """The App's private key arrives by LoadCredential (GITHUB_APP_KEY_PATH into the credentials directory), never
    as GITHUB_APP_KEY text in the unit."""
    lines = directives(name)
    for line in APP_KEY:
        assert line in lines, f"{name}: {line}"
    assert not any("GITHUB_APP_KEY=" in line for line in lines)


def test_spawn_fcgi_socket_is_the_one_nginx_passes_to():
    """spawn-fcgi unprivileged ignores -U/-G: the socket's group comes from the unit (Group=www-data), mode 0660,
    at the path of solstice-fcgi.socket and nginx/production.conf.example's fastcgi_pass."""
    lines = directives("solstice-fcgi-spawn.service")
    exec_start = next(line for line in lines if line.startswith("ExecStart="))
    assert " -U " not in exec_start and " -G " not in exec_start
    assert "Group=www-data" in lines and "-M 0660" in exec_start
    socket_path = re.search(r" -s (\S+)", exec_start).group(1)
    assert f"ListenStream={socket_path}" in directives("solstice-fcgi.socket")
    assert f"fastcgi_pass unix:{socket_path};" in (ROOT / "nginx/production.conf.example").read_text()
    runtime = next(line.split("=", 1)[1] for line in lines if line.startswith("RuntimeDirectory="))
    assert socket_path.startswith(f"/run/{runtime}/")


def exposure(unit_path):
    """The overall exposure `systemd-analyze security --offline=true` gives a unit file."""
    out = subprocess.run(["systemd-analyze", "security", "--offline=true", "--no-pager", str(unit_path)],
                         capture_output=True, text=True, timeout=60)
    match = re.search(r"Overall exposure level for \S+: (\d+(?:\.\d+)?)", out.stdout)
    assert match, out.stdout + out.stderr
    return float(match.group(1))


@pytest.mark.parametrize("name", SERVICES)
def test_security_exposure_is_low(name):
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (scripts/stack.sh deps installs systemd)")
    score = exposure(ROOT / "deploy/systemd" / name)
    assert score <= MAX_EXPOSURE, f"{name}: exposure {score} > {MAX_EXPOSURE}"


def test_security_exposure_catches_a_service_without_hardening(tmp_path):
    """The same measure on solstice-fcgi.service with its hardening removed: well above the bar."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing (scripts/stack.sh deps installs systemd)")
    keep = ("[", "Description=", "Requires=", "After=", "Wants=", "Type=", "ExecStart=", "StandardInput=",
            "LoadCredential=", "Environment=", "StateDirectory=", "Restart=", "WantedBy=")
    lines = [line for line in directives("solstice-fcgi.service") if line.startswith(keep)]
    unit = tmp_path / "solstice-fcgi.service"
    unit.write_text("\n".join(lines) + "\n")
    assert exposure(unit) > MAX_EXPOSURE
