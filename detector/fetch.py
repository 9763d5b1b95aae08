"""Published files: read from the mirror folder or downloaded once with a checksum.

The project never ships the published data or models. A file is found, in order, in the
mirror folder named by DETECTOR_MIRROR (tests, CI, offline machines) or in the download
cache under the data folder; otherwise it is downloaded from its public address with pooch,
which verifies the sha256 before the file is used.
"""
from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from .config import layout, mirror_dir
from .errors import DetectorError


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


@lru_cache(maxsize=256)
def _verified(path: str, size: int, mtime_ns: int, expected: str) -> bool:
    return sha256_of(Path(path)) == expected


def verify(path: Path, expected: str) -> None:
    """Raise if a file's sha256 is not the published one (a corrupt or altered copy)."""
    st = path.stat()
    if not _verified(str(path), st.st_size, st.st_mtime_ns, expected):
        raise DetectorError(
            "{path} does not match its published checksum (sha256 {expected}…). The copy is corrupt or "
            "was changed: delete it and fetch it again.",
            path=path, expected=expected[:12]
        )


def local_copy(mirror_path: str) -> Path | None:
    """Where a published file is without downloading, if anywhere."""
    mirror = mirror_dir()
    if mirror is not None and (mirror / mirror_path).is_file():
        return mirror / mirror_path
    cached = layout().downloads / mirror_path
    return cached if cached.is_file() else None


def published_file(mirror_path: str, url: str, sha256: str, progress: bool = True) -> Path:
    """Path of a verified copy of a published file, downloading it on first use."""
    found = local_copy(mirror_path)
    if found is not None:
        verify(found, sha256)
        return found
    mirror = mirror_dir()
    if mirror is not None:
        raise DetectorError(
            "{mirror_path} is not in the mirror folder {mirror} (DETECTOR_MIRROR). Copy it there, or "
            "unset DETECTOR_MIRROR to download it from its public address.",
            mirror_path=mirror_path, mirror=mirror
        )
    import pooch  # imported late: only a real download needs it

    target = layout().downloads / mirror_path
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        path = pooch.retrieve(
            url, known_hash=f"sha256:{sha256}", fname=target.name, path=target.parent, progressbar=progress
        )
    except ValueError as exc:  # pooch's checksum mismatch
        raise DetectorError("The download of {url} did not match its checksum ({exc}). Try again later.", url=url, exc=exc) from None
    except Exception as exc:  # network errors come in many types
        raise DetectorError(
            "Could not download {url} ({name}: {exc}). Connect to the internet, or set DETECTOR_MIRROR "
            "to a folder holding a copy of the published files.",
            url=url, name=type(exc).__name__, exc=exc
        ) from None
    return Path(path)
