"""`scripts/run.sh` as a new user meets it, in a copy of the checkout with a stand-in program: when
nothing changed since the last install it goes straight to the program (no pip), and after the first
run `posture-agent` is a command (a link in ~/.local/bin, or the exact PATH line, said once).

The real install and the speed against the installed command: benchmarks/run_sh_bench.py."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
STAND_IN = '#!/bin/sh\necho "ran: $*"\n'


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """A copy of what run.sh reads, its .venv holding a stand-in program installed from this very
    pyproject.toml and bootstrap.sh (the stamp bootstrap.sh leaves)."""
    root = tmp_path / "posture-agent"
    (root / "scripts").mkdir(parents=True)
    for name in ("pyproject.toml", "scripts/run.sh", "scripts/bootstrap.sh"):
        shutil.copy2(ROOT / name, root / name)
    program = root / ".venv" / "bin" / "posture-agent"
    program.parent.mkdir(parents=True)
    program.write_text(STAND_IN)
    program.chmod(0o755)
    key = subprocess.run("cat pyproject.toml scripts/bootstrap.sh | cksum", shell=True, cwd=root,
                         capture_output=True, text=True, check=True).stdout
    (root / ".venv" / ".installed-run").write_text(key)
    return root


def run_sh(root: Path, home: Path, *args: str, path: str | None = None, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if k not in ("POSTURE_AGENT_NO_LINK",)}
    base.update(HOME=str(home), PATH=path or os.environ["PATH"], **env)
    return subprocess.run([str(root / "scripts" / "run.sh"), *args], capture_output=True, text=True, env=base,
                          timeout=30)


def test_nothing_changed_no_pip_and_the_command_is_linked_once(checkout: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    path = f"{home / '.local' / 'bin'}:{os.environ['PATH']}"
    first = run_sh(checkout, home, "drills", path=path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "ran: drills\n"
    assert "install" not in first.stderr, "nothing changed: no pip"
    link = home / ".local" / "bin" / "posture-agent"
    assert os.readlink(link) == str(checkout / ".venv" / "bin" / "posture-agent")
    assert first.stderr == f"posture-agent: 'posture-agent' is now a command ({link} -> {os.readlink(link)})\n"
    again = run_sh(checkout, home, path=path)
    assert again.stdout == "ran: start\n" and again.stderr == "", "said once; start by default"
    on_path = subprocess.run(["posture-agent", "--version"], capture_output=True, text=True,
                             env=dict(os.environ, PATH=path))
    assert on_path.stdout == "ran: --version\n"


def test_without_local_bin_on_path_the_exact_line_is_said_once(checkout: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    first = run_sh(checkout, home, "drills")
    assert first.returncode == 0 and first.stdout == "ran: drills\n"
    assert first.stderr.splitlines()[-1] == '  export PATH="$HOME/.local/bin:$PATH"', first.stderr
    assert "add this line to ~/.profile" in first.stderr
    assert run_sh(checkout, home, "drills").stderr == ""


def test_a_profile_that_adds_local_bin_at_login_and_a_link_of_someone_else(checkout: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    (home / ".profile").write_text('if [ -d "$HOME/.local/bin" ] ; then\n    PATH="$HOME/.local/bin:$PATH"\nfi\n')
    said = run_sh(checkout, home, "drills").stderr
    assert "'posture-agent' is a command from your next login" in said, said
    other = tmp_path / "other-home"
    (other / ".local" / "bin").mkdir(parents=True)
    (other / ".local" / "bin" / "posture-agent").symlink_to("/opt/elsewhere/posture-agent")
    (checkout / ".venv" / ".path-said").unlink()
    kept = run_sh(checkout, other, "drills")
    assert "already exists (not this checkout's)" in kept.stderr
    assert os.readlink(other / ".local" / "bin" / "posture-agent") == "/opt/elsewhere/posture-agent"


def test_no_link_when_asked(checkout: Path, tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    quiet = run_sh(checkout, home, "drills", POSTURE_AGENT_NO_LINK="1")
    assert quiet.stdout == "ran: drills\n" and quiet.stderr == "" and not (home / ".local").exists()


def test_hints_name_the_command_the_user_can_run(tmp_path: Path) -> None:
    """The installed program's hints say `posture-agent` only when that name on PATH is it."""
    program = Path(sys.executable).with_name("posture-agent")
    if not program.exists():
        pytest.skip("no installed posture-agent beside this Python (scripts/bootstrap.sh installs it)")
    bare = "/usr/bin:/bin"
    word, home = str(program.resolve()), str(Path.home())
    word = "~" + word[len(home):] if word.startswith(home + os.sep) else word
    away = subprocess.run([str(program), "--home", str(tmp_path), "drills"], capture_output=True, text=True,
                          env=dict(os.environ, PATH=bare), timeout=60)
    assert away.returncode == 0, away.stderr
    assert f"Tick one off: {word} drill done NAME" in away.stdout, away.stdout
    refused = subprocess.run([str(program), "--home", str(tmp_path), "run", "delete", "0f"], capture_output=True,
                             text=True, env=dict(os.environ, PATH=bare), timeout=60)
    assert f"(see `{word} run list`)" in refused.stderr, refused.stderr
    linked = subprocess.run([str(program), "--home", str(tmp_path), "drills"], capture_output=True, text=True,
                            env=dict(os.environ, PATH=f"{program.parent}:{bare}"), timeout=60)
    assert "Tick one off: posture-agent drill done NAME" in linked.stdout
