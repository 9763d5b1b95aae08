"""The interface in English, Portuguese and Spanish: a gettext catalogue per language (Babel).

Strings are marked with :func:`_` where they are written and extracted into ``locales/messages.pot``
(``pybabel extract -F babel.cfg -o locales/messages.pot .``); each language's ``locales/<lang>/
LC_MESSAGES/messages.po`` holds its translations and is compiled in memory when first used (no
binary files in the repository). The language comes from the link (``?lang=pt``), else the
visitor's choice in the sidebar, else the browser's language; English where a string has no
translation yet.
"""
from __future__ import annotations

import functools
import gettext
import io
from pathlib import Path

import streamlit as st

LANGS = {"en": "English", "pt": "Português", "es": "Español"}
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


def _(text: str) -> str:
    """The text in the visitor's language (the text itself where there is no translation)."""
    try:
        lang = st.session_state.get(KEY, "en")
    except Exception:  # noqa: BLE001 - outside a Streamlit run (tests of pure helpers)
        lang = "en"
    return catalogue(lang).gettext(text)


def N_(text: str) -> str:
    """Marks a constant for the catalogue; :func:`_` translates it where it is shown."""
    return text


def _on_choice() -> None:
    st.query_params[KEY] = st.session_state["lang_choice"]
    st.session_state[KEY] = st.session_state["lang_choice"]


def picker() -> None:
    """The language choice in the sidebar; it goes into the link, so a shared view opens in it."""
    st.session_state["lang_choice"] = current()
    st.sidebar.selectbox(_("Language"), list(LANGS), format_func=LANGS.get, key="lang_choice", on_change=_on_choice)
