"""Which files on the server a visitor may name (imagery and model paths typed into a page).

One rule for every box that takes a path: in public mode (``DETECTOR_PUBLIC``) only files inside
the folders the operator lists (``DETECTOR_ALLOWED_DIRS``) — none when it lists none, so a public
server takes uploads only; outside public mode, anything the server can read unless folders are
listed. A path is resolved (``..`` and symlinks followed) before it is checked, so neither leads
out of a listed folder, and the refusal reads the same whether or not the path exists.
"""
from __future__ import annotations

from pathlib import Path

from .config import Settings
from .errors import N_, DetectorError


def paths_offered(settings: Settings) -> bool:
    """Whether the pages offer a box for server paths at all."""
    return not settings.public or bool(settings.allowed_dirs)


def allowed_path(text: str, settings: Settings) -> Path:
    """The file or folder a visitor named, resolved, or a DetectorError that says nothing about the server."""
    raw = str(text).strip()
    if not paths_offered(settings):
        raise DetectorError("This server takes uploads only: upload the file instead of naming a path.")
    if not raw or "\0" in raw:
        raise DetectorError("Give the path of a file or folder.")
    p = Path(raw).expanduser() if not settings.public else Path(raw)
    if settings.public and not p.is_absolute():
        raise DetectorError("Give the full path of the file, inside one of the folders this server offers.")
    try:
        resolved = p.resolve(strict=False)
    except (OSError, RuntimeError):  # a symlink loop, a path too long
        raise DetectorError(OUTSIDE) from None
    roots = [Path(d).expanduser().resolve() for d in settings.allowed_dirs]
    if roots and not any(resolved == r or resolved.is_relative_to(r) for r in roots):
        raise DetectorError(OUTSIDE)
    return resolved


OUTSIDE = N_("That path is not one this server offers. Name a file inside the folders its operator has made "
            "available, or upload the file.")
