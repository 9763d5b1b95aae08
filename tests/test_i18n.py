"""The interface in English, Portuguese and Spanish: the catalogue is complete and the pages use it."""
from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po
from streamlit.testing.v1 import AppTest

from ui import i18n

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def _marked() -> set[str | tuple[str, str]]:
    """Every marked text of the interface and of the detector's messages (the CLI's own are English only)."""
    found = set()
    for folder in ("ui", "app_pages", "detector"):
        method_map = [("cli*", "ignore"), ("**.py", "python")]
        for _file, _line, msg, *_rest in extract_from_dir(ROOT / folder, method_map=method_map, keywords=i18n.KEYWORDS):
            found.add(msg)
    for m in extract_from_dir(ROOT, method_map=[("app.py", "python")], keywords=i18n.KEYWORDS):
        found.add(m[2])
    return found


@pytest.mark.parametrize("lang", ["pt", "es"])
def test_every_marked_string_has_a_translation(lang):
    with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        cat = read_po(fh, locale=lang)
    have = {m.id: m.string for m in cat if m.id}
    missing = sorted((s for s in _marked() if not have.get(s) or not all(have[s] if isinstance(s, tuple) else [1])),
                     key=str)
    assert not missing, f"{lang}: add these to locales/{lang}/LC_MESSAGES/messages.po: {missing}"


def test_the_browsers_language_is_used_when_it_is_ours():
    assert i18n.from_browser("pt-BR") == "pt" and i18n.from_browser("es_PE") == "es"
    assert i18n.from_browser("de-DE") == "en" and i18n.from_browser(None) == "en"


def test_pages_in_the_language_of_the_link_and_of_the_choice(mirror, monkeypatch):
    monkeypatch.setenv("DETECTOR_MIRROR", str(mirror))
    at = AppTest.from_file(APP, default_timeout=120)
    at.query_params["lang"] = "pt"
    at = at.run()
    assert not at.exception
    assert at.title[0].value == "Explorar" and at.sidebar.select_slider[0].label == "Período"
    at.switch_page("app_pages/trends.py")
    at = at.run()
    assert "A bacia inteira, por país" in [h.value for h in at.header]
    at = at.sidebar.selectbox(key="lang_choice").set_value("es").run()
    assert "Toda la cuenca, por país" in [h.value for h in at.header]
    assert at.query_params["lang"] == "es", "the choice goes into the link"
    en = AppTest.from_file(APP, default_timeout=120).run()
    assert en.title[0].value == "Explore", "English without a choice (no browser language in AppTest)"


@pytest.mark.parametrize("lang", ["pt", "es"])
def test_translations_keep_every_placeholder_of_their_text(lang):
    """A translation that drops or renames a {placeholder} would fail at .format() or lose a figure."""
    import string

    def fields(text: str) -> set[str]:
        return {f for _lit, f, _spec, _conv in string.Formatter().parse(text) if f is not None}

    with (ROOT / "locales" / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        cat = read_po(fh, locale=lang)
    def pairs(m):  # a plural text: each form keeps the plural's fields
        if isinstance(m.id, tuple):
            return [(m.id[1], form) for form in m.string]
        return [(m.id, m.string)]

    wrong = [m.id for m in cat if m.id and m.string for en, tr in pairs(m) if tr and fields(en) != fields(tr)]
    assert not wrong, f"{lang}: placeholders differ in {wrong}"


def test_no_module_of_the_interface_assigns_to_the_translation_function():
    """`kind, _, ident = …` in a page would turn every later `_("…")` of that page into a TypeError."""
    import ast

    bad = []
    for path in [*(ROOT / "ui").rglob("*.py"), *(ROOT / "app_pages").glob("*.py"), ROOT / "app.py"]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Name) and node.id == "_" and isinstance(node.ctx, ast.Store):
                bad.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not bad, f"`_` is assigned (it is the translation function): {bad}"


def test_detector_messages_are_translated_with_their_fields(monkeypatch):
    """The detector writes templates; the page fills the translation with the same fields (nested ones too)."""
    from detector.errors import Message, RegionError
    from detector.rule import Rule
    from ui import format as fmt

    monkeypatch.setattr(i18n, "_lang", lambda: "pt")
    exc = RegionError("The region covers {km2:,.0f} km², more than the on-demand limit of {limit:,.0f} km². Run it "
                      "from the command line with a higher limit (`python -m detector detect ... --max-area {km2:.0f}` "
                      "or DETECTOR_MAX_AREA_KM2), or split it into smaller regions.", km2=12345.6, limit=10000)
    assert str(exc).startswith("The region covers 12,346 km²"), "English for the CLI and the log"
    pt = i18n.text_of(exc)
    assert pt.startswith("A região cobre 12.346 km², mais do que o limite sob demanda de 10.000 km²"), pt
    assert "--max-area 12346`" in pt, "what is to be copied stays as the command line reads it"
    assert i18n.text_of(Rule(0.5, True, 0.75, 5, 3.0).describe()) == \
        "pontuação ≥ 0,5, recortes isolados (k=5, D=3 km) ≥ 0,75"
    nested = Message("{name}: {note}.", name="scene.tif", note=Message("float reflectance (0–1) multiplied by 10,000"))
    assert i18n.text_of(nested) == "scene.tif: reflectância em ponto flutuante (0–1) multiplicada por 10.000."
    assert i18n.text_of(RegionError("Not in the catalogue: {x}", x=1)) == "Not in the catalogue: 1", "English otherwise"
    assert i18n.text_of(ValueError("plain")) == "plain"
    assert fmt.period_label("2025Q3") == "2025 T3" and fmt.period_label("2018") == "≤2018 (linha de base)"
    assert i18n.ngettext("{n:,} stored tile was damaged and scored again.",
                         "{n:,} stored tiles were damaged and scored again.", 2).format(n=2).startswith("2 blocos")


def test_numbers_are_written_as_the_language_writes_them(monkeypatch):
    """Portuguese and Spanish write 1.234,5 (Babel's symbols); a field without a number format stays as is."""
    from ui import format as fmt

    for lang, ha, share in (("en", "489,241 ha", "12.5%"), ("pt", "489.241 ha", "12,5%"), ("es", "489.241 ha", "12,5%")):
        monkeypatch.setattr(i18n, "_lang", lambda lang=lang: lang)
        assert fmt.hectares(489241.2) == ha and fmt.hectares(12.34).endswith(" ha")
        assert i18n.number(0.125, ".1%") == share
        text = i18n._("{done} of {size} patches of this layer labelled by you; {pending} left in this queue")
        assert text.format(done=i18n.number(1234), size=5, pending=0).startswith("1,234" if lang == "en" else "1.234")
    monkeypatch.setattr(i18n, "_lang", lambda: "pt")
    assert fmt.hectares(13614.0, compact=True) == "13,6 mil ha"
    assert i18n._("{n:,} x").format(n=1234567) == "1.234.567 x" and i18n._("{n} x").format(n=1234.5) == "1234.5 x"
