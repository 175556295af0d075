"""Reading the files a user hands in (saved fits): one place for their errors."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from scaleplan.errors import InvalidArgumentError


def read_json(path: str | os.PathLike[str], field: str) -> Any:
    """The JSON value in the file at ``path``; an unreadable file or text that is not JSON is an
    InvalidArgumentError naming ``field`` (the argument or option the file was given as)."""
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise InvalidArgumentError(
            f"{field}: cannot read {path}: {exc.strerror}", field=field
        ) from exc
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgumentError(f"{field}: {path}: not JSON ({exc})", field=field) from exc
