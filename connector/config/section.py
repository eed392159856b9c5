"""The base of every config section, apart from the models so platforms can build on it."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every config section: unknown keys are errors, values are checked on assign."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)
