"""Test-only assets from the npm registry, installed into the ignored ``.cache/`` folder.

axe-core is pinned here, once. ``scripts/test.sh`` runs ``python -m tests.web.assets`` before
the suite; the browser fixtures call ``ensure_axe()`` too, so a bare ``pytest`` works as well.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
AXE_VERSION = "4.14.1"
AXE_PREFIX = ROOT / ".cache" / "axe"
AXE_PACKAGE = AXE_PREFIX / "node_modules" / "axe-core"


def _installed_version() -> str | None:
    try:
        return json.loads((AXE_PACKAGE / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


def ensure_axe() -> Path:
    """Path of axe.min.js at the pinned version, installed with npm when missing."""
    if _installed_version() != AXE_VERSION:
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is needed to install axe-core for the browser tests")
        AXE_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [npm, "install", "--no-save", "--no-audit", "--no-fund", "--prefix", str(AXE_PREFIX)]
            + [f"axe-core@{AXE_VERSION}"],
            check=True,
            capture_output=True,
            timeout=300,
        )
    return AXE_PACKAGE / "axe.min.js"


if __name__ == "__main__":
    print(ensure_axe())
