"""The interface in English, Portuguese and Spanish: a gettext catalogue per language (Babel).

Strings are marked with :func:`_` (:func:`ngettext` for counts) where they are written; the
detector's messages are templates given to its errors and to ``Message`` (:func:`text_of` translates
them). All are extracted into ``locales/messages.pot`` with the keywords of :data:`KEYWORDS`
(``pybabel extract -F babel.cfg -k N_ -k DetectorError -k RegionError -k ImageryError -k ModelError
-k CredentialsError -k Message --no-location -o locales/messages.pot .``); each language's ``locales/<lang>/
LC_MESSAGES/messages.po`` holds its translations and is compiled in memory when first used (no
binary files in the repository). The language comes from the link (``?lang=pt``), else the
visitor's choice in the sidebar, else the browser's language; English where a string has no
translation yet.
"""
from __future__ import annotations

import datetime
import functools
import gettext
import io
import string
from pathlib import Path

import numpy as np
import streamlit as st

from detector.errors import N_  # noqa: F401 - the one marker, re-exported for the pages

LANGS = {"en": "English", "pt": "Português", "es": "Español"}
#: What marks a text for the catalogue (pybabel's -k): gettext's own, N_, and the detector's messages.
KEYWORDS = {"_": None, "N_": None, "ngettext": (1, 2), **dict.fromkeys(
    ("DetectorError", "RegionError", "ImageryError", "ModelError", "CredentialsError", "Message"), None)}
KEY = "lang"
LOCALES = Path(__file__).resolve().parents[1] / "locales"


@functools.lru_cache(maxsize=8)
def catalogue(lang: str) -> gettext.NullTranslations:
    """The language's translations, compiled from its .po file (NullTranslations for English or none)."""
    po = LOCALES / lang / "LC_MESSAGES" / "messages.po"
    if lang == "en" or not po.is_file():
        return gettext.NullTranslations()
    from babel.messages.mofile import write_mo
    from babel.messages.pofile import read_po

    with po.open("rb") as fh:
        cat = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, cat)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def from_browser(locale: str | None) -> str:
    """The first of our languages in a browser locale such as "pt-BR" (English otherwise)."""
    code = (locale or "").split("-")[0].split("_")[0].lower()
    return code if code in LANGS else "en"


def current() -> str:
    """The language of this run: the link's, the session's choice, or the browser's."""
    asked = st.query_params.get(KEY)
    if asked in LANGS:
        st.session_state[KEY] = asked
    if st.session_state.get(KEY) not in LANGS:
        try:
            st.session_state[KEY] = from_browser(st.context.locale)
        except Exception:  # noqa: BLE001 - no browser context (AppTest without one): English
            st.session_state[KEY] = "en"
    return st.session_state[KEY]


def _lang() -> str:
    try:
        return st.session_state.get(KEY, "en")
    except Exception:  # noqa: BLE001 - outside a Streamlit run (tests of pure helpers)
        return "en"


@functools.cache
def _separators(lang: str) -> dict[int, str]:
    """How the language writes 1,234.5 (Babel's symbols for it): Portuguese and Spanish 1.234,5."""
    from babel.numbers import get_decimal_symbol, get_group_symbol

    group, decimal = get_group_symbol(lang), get_decimal_symbol(lang)
    return {} if (group, decimal) == (",", ".") else {ord(","): group, ord("."): decimal}


class _NumberFormatter(string.Formatter):
    """``str.format`` that writes the numbers of its fields as the language does ("{n:,}" → 1.234)."""

    def __init__(self, lang: str):
        super().__init__()
        self.swap = _separators(lang)

    def format_field(self, value, format_spec: str) -> str:
        out = format(value, format_spec)
        # only a field written with a number format ("{n:,}", "{x:.1f}"): a bare "{x}" is often part of
        # something to copy (a command line, a coordinate pair in a file name) and stays as Python writes it
        number = format_spec and isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
        return out.translate(self.swap) if number and self.swap else out


class Text(str):
    """A translated text whose ``format`` writes numbers in the visitor's language."""

    lang = "en"

    def format(self, /, *args, **kwargs) -> str:
        return _NumberFormatter(self.lang).vformat(self, args, kwargs)


def _text(value: str, lang: str) -> str:
    if not _separators(lang):
        return value
    out = Text(value)
    out.lang = lang
    return out


def number(value: float, spec: str = ",") -> str:
    """A number as the visitor's language writes it (``spec`` as in ``format``: ",", ",.1f", ".0%")."""
    return format(value, spec).translate(_separators(_lang()))


def chart(fig):
    """A Plotly figure whose axes and hover labels write numbers as the visitor's language does."""
    swap = _separators(_lang())
    return fig.update_layout(separators=(swap[ord(".")] + swap[ord(",")]) if swap else ".,")


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural text (by the language's own rule) in the visitor's language."""
    lang = _lang()
    return _text(catalogue(lang).ngettext(singular, plural, n), lang)


def _(text: str) -> str:
    """The text in the visitor's language (the text itself where there is no translation); its ``format``
    writes numbers as the language does."""
    lang = _lang()
    return _text(catalogue(lang).gettext(text), lang)


def text_of(obj: object) -> str:
    """A detector message (a ``DetectorError`` or a ``Message``) in the visitor's language.

    The detector writes its messages as templates with named fields; the template is looked up in
    the catalogue and filled with the same fields (fields that are messages themselves are translated
    too). Its English text where the catalogue has no translation.
    """
    template = getattr(obj, "template", None)
    if not template:
        return str(obj)
    params = {k: text_of(v) if getattr(v, "template", None) else v for k, v in getattr(obj, "params", {}).items()}
    try:
        return _(template).format(**params) if params else _(template)
    except (KeyError, IndexError, ValueError):  # a translation whose fields do not fit: the English text
        return str(obj)


def cached(cache, text: str, **options):
    """``cache`` (st.cache_data or st.cache_resource) with its spinner in the visitor's language.

    Streamlit's ``show_spinner`` takes one fixed text; here the cached call runs under
    ``st.spinner(_(text))`` (shown only if it takes a moment). ``.clear()`` clears the cache.
    """
    def wrap(fn):
        inner = cache(show_spinner=False, **options)(fn)

        @functools.wraps(fn)
        def call(*args, **kwargs):
            with st.spinner(_(text)):
                return inner(*args, **kwargs)

        call.clear = inner.clear
        return call
    return wrap


#: What a widget's value can be that is worth keeping across a language change (an upload, a button's
#: click or a map's report is not).
_KEPT_VALUES = (str, int, float, bool, list, tuple, datetime.date)


def _on_choice() -> None:
    """A new language: every widget's label (and ``format_func``) changes, which makes it a new widget to
    Streamlit, one that would start again from its default (the period back to 2018, no basemap chosen).
    Each widget's value is set again through Session State, so the new widget starts from it."""
    from streamlit.errors import StreamlitAPIException

    for key in list(st.session_state.keys()):
        value = st.session_state[key]
        if key in ("lang_choice", KEY) or value is None or not isinstance(value, _KEPT_VALUES):
            continue
        try:
            st.session_state[key] = value
        except StreamlitAPIException:  # a button's or a form's: Streamlit keeps those itself
            pass
    st.query_params[KEY] = st.session_state["lang_choice"]
    st.session_state[KEY] = st.session_state["lang_choice"]


def picker() -> None:
    """The language choice in the sidebar; it goes into the link, so a shared view opens in it."""
    st.session_state["lang_choice"] = current()
    st.sidebar.selectbox(_("Language"), list(LANGS), format_func=LANGS.get, key="lang_choice", on_change=_on_choice)
