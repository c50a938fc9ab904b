"""requirements.txt and pyproject.toml name the same pinned packages."""
import importlib.util
import subprocess
import sys
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "scripts" / "requirements.py"


def _script():
    spec = importlib.util.spec_from_file_location("requirements_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _lines(path: Path) -> list[str]:
    return [s for s in (line.strip() for line in path.read_text().splitlines())
            if s and not s.startswith("#")]


def test_requirements_pins_exactly_what_pyproject_pins():
    pins = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = _lines(REPO / "requirements.txt")
    assert lines == [*pins, "-e ."]
    assert all("==" in pin for pin in pins)                 # every package pinned
    assert "torch==2.13.0" in pins and any(p.lower().startswith("py3dmol==") for p in pins)


def test_check_passes_on_the_repository_and_fails_on_a_drifted_copy(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--check"], capture_output=True,
                          text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    drifted = tmp_path / "pyproject.toml"
    drifted.write_text((REPO / "pyproject.toml").read_text().replace(
        '"torch==2.13.0"', '"torch==2.14.0"'))
    text = _script().render(drifted)
    assert "torch==2.14.0\n" in text and text != (REPO / "requirements.txt").read_text()
