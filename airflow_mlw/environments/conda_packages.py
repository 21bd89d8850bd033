"""How an image build installs an environment's conda packages: with conda, or by name from pip.

``[mlw] conda_packages_via``: ``conda`` uses the base image's own ``micromamba``, ``mamba`` or
``conda`` (nothing is downloaded from a fixed URL, and no package index the builds use ships a
micromamba binary); ``pip`` installs the conda package names from the pip index; ``auto`` (the
default) probes each channel's repodata at build time (bounded by ``PROBE_TIMEOUT`` seconds) and
the base image for a conda executable, and takes conda only when both are there. The choice and
its reason go into the build log.
"""

from __future__ import annotations

import re
import ssl
import threading
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_mlw.config import MlwSettings
    from airflow_mlw.environments.spec import Environment

CONDA_EXECUTABLES = ("micromamba", "mamba", "conda")
PROBE_TIMEOUT = 3.0
#: Where conda itself resolves channel names (its default ``channel_alias``) and ``defaults``.
CHANNEL_ALIAS = "https://conda.anaconda.org"
DEFAULTS_CHANNEL = "https://repo.anaconda.com/pkgs/main"

#: Conda names whose pip name differs.
PIP_NAMES = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "py-xgboost": "xgboost",
    "py-opencv": "opencv-python",
    "opencv": "opencv-python",
    "pytables": "tables",
    "matplotlib-base": "matplotlib",
    "python-graphviz": "graphviz",
    "msgpack-python": "msgpack",
    "pyqt": "PyQt5",
}
# fmt: off
#: Conda packages with no pip counterpart: system libraries, compilers, conda's own machinery.
CONDA_ONLY = {
    "python", "pip", "python_abi", "blas", "openblas", "nomkl", "cpuonly", "cudatoolkit", "cudnn",
    "nccl", "magma", "intel-openmp", "llvm-openmp", "tbb", "numpy-base", "ca-certificates",
    "openssl", "bzip2", "xz", "zlib", "zstd", "lz4-c", "ncurses", "readline", "sqlite", "tk",
    "expat", "icu", "krb5", "c-ares", "gettext", "glib", "dbus", "pcre", "pcre2", "jpeg", "freetype",
    "fontconfig", "lcms2", "openjpeg", "giflib", "lerc", "snappy", "gflags", "glog", "re2",
    "thrift-cpp", "orc", "utf8proc", "arrow-cpp", "yaml", "zeromq", "qt", "qt-main", "sip", "conda",
    "conda-package-handling", "mamba", "libmamba", "tzdata",
}
CONDA_ONLY_PREFIXES = ("_", "ld_impl_", "mkl", "cuda-", "gcc", "gxx", "binutils", "sysroot_", "kernel-headers_",
                       "aws-c-", "aws-checksums", "font-ttf", "xorg-")
# fmt: on
#: Python packages whose conda name starts with ``lib`` (other ``lib*`` names are C libraries).
PYTHON_LIB_NAMES = {"librosa", "libcst", "libpysal"}


@dataclass(frozen=True)
class CondaRoute:
    """``via`` is ``conda`` or ``pip``; ``reason`` says why, for the build log."""

    via: str
    reason: str
    executable: str | None = None


def route_from_settings(settings: MlwSettings) -> CondaRoute:
    """The route without probing (a Dockerfile preview): ``auto`` shows what it picks when conda works."""
    if settings.conda_packages_via == "pip":
        return CondaRoute("pip", "[mlw] conda_packages_via = pip")
    return CondaRoute("conda", f"[mlw] conda_packages_via = {settings.conda_packages_via}")


def choose_route(env: Environment, settings: MlwSettings, client: Any, base_image: str) -> CondaRoute:
    """The route of this build; ``auto`` probes the channels, then the base image (build time only)."""
    if settings.conda_packages_via != "auto":
        return route_from_settings(settings)
    deps = env.python.conda_dependencies
    for channel in deps.channels or ["conda-forge"]:
        failure = probe_channel(channel, settings)
        if failure:
            return CondaRoute(
                "pip",
                f"[mlw] conda_packages_via = auto: conda channel {channel!r} did not answer ({failure})",
            )
    executable = conda_in_image(client, base_image)
    if executable is None:
        return CondaRoute(
            "pip",
            f"[mlw] conda_packages_via = auto: base image {base_image!r} has no "
            f"{', '.join(CONDA_EXECUTABLES)} on PATH",
        )
    return CondaRoute(
        "conda",
        f"[mlw] conda_packages_via = auto: channels answer, {executable} in the base image",
        executable,
    )


def repodata_url(channel: str) -> str:
    if "://" in channel:
        base = channel.rstrip("/")
    elif channel == "defaults":
        base = DEFAULTS_CHANNEL
    else:
        base = f"{CHANNEL_ALIAS}/{channel.strip('/')}"
    return f"{base}/noarch/repodata.json"


def probe_channel(channel: str, settings: MlwSettings, timeout: float = PROBE_TIMEOUT) -> str | None:
    """``None`` when the channel serves its repodata within ``timeout`` seconds, else what went wrong."""
    url = repodata_url(channel)
    outcome: list[str | None] = []

    def probe() -> None:
        context = ssl.create_default_context(cafile=settings.build_ca_bundle or None)
        request = urllib.request.Request(url, headers={"Range": "bytes=0-0"})
        try:
            with urllib.request.urlopen(request, timeout=timeout, context=context):
                outcome.append(None)
        except urllib.error.HTTPError as exc:
            outcome.append(f"{url}: HTTP {exc.code} {exc.reason}")
        except Exception as exc:  # any failure means: not usable for this build
            outcome.append(f"{url}: {getattr(exc, 'reason', None) or exc}")

    # A thread bounds the DNS lookup too, which urlopen's timeout does not cover.
    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    thread.join(timeout + 0.5)
    return outcome[0] if outcome else f"{url}: no answer within {timeout:g} s"


def conda_in_image(client: Any, base_image: str) -> str | None:
    """Path of the first of ``CONDA_EXECUTABLES`` on the base image's PATH, or ``None``."""
    lookup = " || ".join(f"command -v {name}" for name in CONDA_EXECUTABLES) + " || true"
    try:
        out = client.containers.run(
            base_image, [lookup], entrypoint=["sh", "-c"], remove=True, network_mode="none"
        )
    except Exception:
        return None
    found = out.decode(errors="replace").strip().splitlines()
    return found[0] if found else None


def pip_requirements(conda_specs: list[str]) -> tuple[list[str], list[str]]:
    """The pip requirements of conda package specs, and the conda-only names left out."""
    requirements: list[str] = []
    skipped: list[str] = []
    for spec in conda_specs:
        requirement = pip_requirement(spec)
        if requirement is None:
            skipped.append(spec)
        else:
            requirements.append(requirement)
    return requirements, skipped


def pip_requirement(conda_spec: str) -> str | None:
    """``numpy=1.21`` -> ``numpy==1.21.*``, ``conda-forge::pytorch`` -> ``torch``; ``None`` if conda-only."""
    spec = conda_spec.split("::", 1)[-1].strip()
    spec = re.sub(r"\[.*\]", "", spec)
    match = re.match(r"([A-Za-z0-9_.\-]+)\s*(.*)", spec)
    if match is None:
        return spec
    name, constraint = match.group(1), match.group(2).strip()
    lowered = name.lower()
    if (
        lowered in CONDA_ONLY
        or lowered.startswith(CONDA_ONLY_PREFIXES)
        or (lowered.startswith("lib") and lowered not in PYTHON_LIB_NAMES)
    ):
        return None
    name = PIP_NAMES.get(lowered, name)
    if constraint.startswith("=") and not constraint.startswith("=="):
        version = constraint[1:].split("=", 1)[0]  # a build string after a second '=' has no pip meaning
        constraint = f"=={version}" if "*" in version else f"=={version}.*"
    elif constraint and constraint[0].isdigit():
        constraint = f"=={constraint.split()[0]}"
    return name + constraint.replace(" ", "")
