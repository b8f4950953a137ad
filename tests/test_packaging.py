"""Installing the project: `pip install .` and `pip install -e .` both give a working
`handouts` that finds the bundled library, from any folder."""

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from conftest import ROOT

pytestmark = pytest.mark.slow


def _venv_with_our_dependencies(path: Path) -> Path:
    """A new virtual environment that sees this one's packages (so nothing is downloaded)
    but not the project itself."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(path)], check=True)
    python = path / "bin" / "python"
    site = subprocess.run([str(python), "-c",
                           "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          check=True, capture_output=True, text=True).stdout.strip()
    ours = sysconfig.get_paths()["purelib"]
    # The project's own .pth / package stays out: only its dependencies are shared.
    Path(site, "dependencies.pth").write_text(ours + "\n")
    return python


@pytest.mark.parametrize("editable", [True, False], ids=["editable", "wheel"])
def test_install_gives_a_working_command(tmp_path, editable):
    python = _venv_with_our_dependencies(tmp_path / "venv")
    args = ["-e", str(ROOT)] if editable else [str(ROOT)]
    install = subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps",
         "--no-build-isolation", "--no-index", *args],
        capture_output=True, text=True, cwd=tmp_path)
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # The venv's own copy must win over the one this test process runs from.
    where = subprocess.run([str(python), "-I", "-c",
                            "import handoutkit; print(handoutkit.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere)
    assert where.returncode == 0, where.stderr
    package = Path(where.stdout.strip()).parent
    if editable:
        assert package == ROOT / "handoutkit"
    else:
        assert package.is_relative_to(tmp_path / "venv")
        assert (package / "library" / "handouts" / "psychotherapy.en.md").is_file()
    handouts = tmp_path / "venv" / "bin" / "handouts"
    listed = subprocess.run([str(handouts), "list"], capture_output=True, text=True, cwd=elsewhere)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].split()[:2] == ["ID", "VERSION"]
    assert any(line.startswith("psychotherapy ") for line in listed.stdout.splitlines())
    shown = subprocess.run([str(handouts), "show", "psychotherapy"], capture_output=True,
                           text=True, cwd=elsewhere)
    assert shown.returncode == 0 and "crisis" in shown.stdout, shown.stderr
