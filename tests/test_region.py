"""Regions: uploaded content is content, a file name only ever comes from the CLI."""
from __future__ import annotations

import json

import pytest

from detector import region
from detector.errors import RegionError
from ui import regions

SQUARE = {"type": "Polygon", "coordinates": [[[-70.6, -13.0], [-70.4, -13.0], [-70.4, -12.8], [-70.6, -12.8],
                                              [-70.6, -13.0]]]}


def test_a_file_and_its_content_give_the_same_region(tmp_path):
    f = tmp_path / "r.geojson"
    f.write_text(json.dumps(SQUARE))
    from_file = region.geometry_from_geojson(region.read_geojson(f))
    from_content = region.geometry_from_geojson(region.parse_geojson(f.read_bytes()))
    assert from_file.equals(from_content)


@pytest.mark.parametrize("content", [b"/etc/passwd", b"/root", b"/nonexistent/secret", b"../../x.geojson"])
def test_uploaded_text_naming_a_path_is_not_read(tmp_path, content):
    with pytest.raises(RegionError) as err:
        regions.from_upload(content, "up.geojson")
    text = str(err.value)
    assert "not valid GeoJSON" in text and "exist" not in text and "/etc" not in text


def test_an_uploaded_path_of_a_real_region_file_is_not_followed(tmp_path):
    f = tmp_path / "elsewhere.geojson"
    f.write_text(json.dumps(SQUARE))
    with pytest.raises(RegionError, match="not valid GeoJSON"):
        regions.from_upload(str(f).encode(), "up.geojson")


def test_too_large_content_is_refused_before_parsing(monkeypatch):
    monkeypatch.setattr(region, "MAX_GEOJSON_BYTES", 100)
    with pytest.raises(RegionError, match="MB a region may be"):
        region.parse_geojson(b" " * 101, "big.geojson")


def test_a_missing_or_folder_path_from_the_cli_is_a_clear_error(tmp_path):
    with pytest.raises(RegionError, match="does not exist"):
        region.read_geojson(tmp_path / "none.geojson")
    with pytest.raises(RegionError, match="not a file"):
        region.read_geojson(tmp_path)
