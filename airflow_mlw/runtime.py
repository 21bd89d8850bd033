"""Where the in-script runtime (the ``airflow_mlw`` package itself) is found by scripts.

Script processes and containers import ``Run`` from this package without installing it: a folder
holding only ``airflow_mlw`` goes on their ``PYTHONPATH`` (mounted at :data:`RUNTIME_MOUNT` in
containers). Standard library only.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

#: Where containers and pods see the runtime folder.
RUNTIME_MOUNT = "/opt/mlw-runtime"


def runtime_path() -> Path:
    """A folder holding only the ``airflow_mlw`` package, for ``PYTHONPATH`` in any interpreter."""
    import airflow_mlw

    package = Path(airflow_mlw.__file__).parent
    # A stable name (str hashes are salted per process): one shim per installed package, not per task.
    digest = hashlib.sha256(str(package).encode()).hexdigest()[:12]
    shim = Path(tempfile.gettempdir()) / f"mlw-runtime-{airflow_mlw.__version__}-{digest}"
    link = shim / "airflow_mlw"
    if not link.exists():
        shim.mkdir(parents=True, exist_ok=True)
        try:
            link.symlink_to(package, target_is_directory=True)
        except FileExistsError:
            pass
    return shim
