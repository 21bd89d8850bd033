"""A stand-in for the ``conda`` executable, which cannot be installed here (no conda channel is
reachable, and the ``conda`` package on PyPI does not work standalone).

``install_conda_standin(bin_dir, exports)`` writes an executable ``conda`` that answers
``conda env export -n <name>`` with the recorded YAML of ``exports[name]`` and, for any other
name, fails as conda does (``EnvironmentLocationNotFound`` on stderr, exit code 1).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

#: ``conda env export -n py_env`` of a small conda-forge environment, as conda writes it.
PY_ENV_EXPORT = """name: py_env
channels:
  - conda-forge
  - defaults
dependencies:
  - _libgcc_mutex=0.1=conda_forge
  - _openmp_mutex=4.5=2_gnu
  - bzip2=1.0.8=h7f98852_4
  - ca-certificates=2023.7.22=hbcca054_0
  - ld_impl_linux-64=2.40=h41732ed_0
  - libffi=3.4.2=h7f98852_5
  - libgcc-ng=13.1.0=he5830b7_0
  - libzlib=1.2.13=hd590300_5
  - ncurses=6.4=hcb278e6_0
  - openssl=3.1.2=hd590300_0
  - pip=23.2.1=pyhd8ed1ab_0
  - python=3.11.4=hab00c5b_0_cpython
  - readline=8.2=h8228510_1
  - six=1.16.0=pyh6c4a22f_0
  - tk=8.6.12=h27826a3_0
  - tzdata=2023c=h71feb2d_0
  - xz=5.2.6=h166bdaf_0
  - pip:
      - azureml-core==1.53.0
      - idna==3.4
prefix: /opt/conda/envs/py_env
"""

SCRIPT = """#!{python}
import json, sys
exports = json.loads({exports!r})
args = sys.argv[1:]
if args[:2] == ["env", "export"] and "-n" in args:
    name = args[args.index("-n") + 1]
    if name in exports:
        sys.stdout.write(exports[name])
        sys.exit(0)
    sys.stderr.write("\\nEnvironmentLocationNotFound: Not a conda environment: /opt/conda/envs/" + name + "\\n")
    sys.exit(1)
sys.stderr.write("conda stand-in: unsupported arguments " + " ".join(args) + "\\n")
sys.exit(2)
"""


def install_conda_standin(bin_dir: Path, exports: dict[str, str]) -> Path:
    bin_dir.mkdir(parents=True, exist_ok=True)
    conda = bin_dir / "conda"
    conda.write_text(SCRIPT.format(python=sys.executable, exports=json.dumps(exports)))
    conda.chmod(0o755)
    return conda
