"""tools/setup.sh's platform detection and tools/test-debian13.sh's mirror lookup (no apt, no
network: they stop before installing anything)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args, env=None):
    full = {**os.environ, **(env or {})}
    return subprocess.run(["bash", str(ROOT / "tools" / script), *args], capture_output=True,
                          text=True, timeout=60, env=full)


def test_setup_refuses_an_unsupported_release_in_one_sentence(tmp_path):
    proc = run("setup.sh", env={"BAYESINV_DEBIAN": "11", "VENV": str(tmp_path / "venv")})
    assert proc.returncode == 1
    assert "supports Debian 12 (bookworm) and Debian 13 (trixie)" in proc.stderr
    assert "says 11" in proc.stderr and "conda-forge" in proc.stderr
    assert not (tmp_path / "venv").exists()  # nothing was done


def _apt(tmp_path, sources=None, listing=None):
    (tmp_path / "sources.list.d").mkdir(parents=True)
    if sources is not None:
        (tmp_path / "sources.list.d" / "debian.sources").write_text(sources)
    if listing is not None:
        (tmp_path / "sources.list").write_text(listing)
    return {"APT_DIR": str(tmp_path)}


def test_mirror_from_deb822_sources_skips_security(tmp_path):
    sources = ("Types: deb\nURIs: http://security.example/debian-security\n"
               "Suites: bookworm-security\nComponents: main\n\n"
               "Types: deb\nURIs: http://mirror.example/debian\n"
               "Suites: bookworm bookworm-updates\nComponents: main\n")
    proc = run("test-debian13.sh", "--print-mirror", env=_apt(tmp_path, sources=sources))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "http://mirror.example/debian"


def test_mirror_from_one_line_sources_list(tmp_path):
    listing = ("# comment\ndeb http://security.example/debian-security bookworm-security main\n"
               "deb [arch=amd64] http://mirror.example/debian bookworm main\n")
    proc = run("test-debian13.sh", "--print-mirror", env=_apt(tmp_path, listing=listing))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "http://mirror.example/debian"


def test_no_mirror_is_an_error(tmp_path):
    proc = run("test-debian13.sh", "--print-mirror", env=_apt(tmp_path))
    assert proc.returncode == 1 and "no Debian mirror found" in proc.stderr


@pytest.mark.skipif(not Path("/etc/apt").is_dir(), reason="no apt configuration on this machine")
def test_this_machines_mirror_is_one_of_its_apt_sources():
    proc = run("test-debian13.sh", "--print-mirror")
    if proc.returncode != 0:
        pytest.skip(f"this machine's apt sources name no Debian mirror: {proc.stderr.strip()}")
    mirror = proc.stdout.strip()
    text = "".join(p.read_text() for p in Path("/etc/apt").glob("sources.list*")
                   if p.is_file())
    text += "".join(p.read_text() for p in Path("/etc/apt/sources.list.d").glob("*")
                    if p.is_file())
    assert mirror in text
