"""A pytest plugin for the fast tier: importing torch fails, in this process and in every
child Python it starts, so a test that needs torch cannot hide in that tier.

Loaded with ``-p tests.without_torch`` by ``scripts/test --fast``.
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

BLOCKER = '''
import sys


class _NoTorch:
    """Refuses torch: the fast tier runs without it."""

    def find_spec(self, name, path=None, target=None):
        if name == "torch" or name.startswith("torch."):
            raise ImportError("torch is not available in the fast test tier")
        return None


sys.meta_path.insert(0, _NoTorch())
'''


def _install() -> None:
    folder = Path(tempfile.mkdtemp(prefix="without-torch-"))
    (folder / "sitecustomize.py").write_text(BLOCKER)
    sys.path.insert(0, str(folder))
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(folder), os.environ.get("PYTHONPATH", "")) if p
    )
    exec(compile(BLOCKER, str(folder / "sitecustomize.py"), "exec"), {})


_install()
