"""How a step consumes a dataset: ``as_named_input(name)``, ``as_download()``, ``as_mount()``."""

from __future__ import annotations

from typing import Any

MODES = ("direct", "download", "mount")


class DatasetConsumptionConfig:
    """A dataset input of a step, resolved to a version when the step runs.

    :param name: the input's name (``run.input_datasets[name]`` in the script)
    :param dataset: the dataset (registered: its name is resolved at run time; else its definition)
    :param mode: ``direct`` (tabular: read in the script), ``download`` or ``mount``
    :param validate: check a registered version's files for drift before reading (and before a
        reuse hit); ``False`` reads the version's paths as they are now, and the reuse key follows
        their current content
    """

    def __init__(
        self,
        name: str | None,
        dataset: Any,
        mode: str = "direct",
        path_on_compute: str | None = None,
        validate: bool = True,
    ) -> None:
        self.name = name or (dataset.name if dataset.name else "input")
        self.dataset = dataset
        self.mode = mode
        self.path_on_compute = path_on_compute
        self.validate = validate

    def as_download(
        self, path_on_compute: str | None = None, validate: bool | None = None
    ) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(
            self.name,
            self.dataset,
            "download",
            path_on_compute,
            self.validate if validate is None else validate,
        )

    def as_mount(
        self, path_on_compute: str | None = None, validate: bool | None = None
    ) -> DatasetConsumptionConfig:
        return DatasetConsumptionConfig(
            self.name, self.dataset, "mount", path_on_compute, self.validate if validate is None else validate
        )

    def __repr__(self) -> str:
        return f"DatasetConsumptionConfig(name={self.name!r}, mode={self.mode!r})"
