"""Who may do what on a server with sign-in: reviewers label, admins also import, export, delete
and start Earth Engine runs.

The operator lists e-mail addresses in the secrets (``[roles] reviewers = [...]``, ``admins =
[...]``). With sign-in and no lists, every signed-in user may do everything (the operator chose who
can sign in); with lists, only those named. Without sign-in there are no identities: labelling is
open (and the page says labels are unauthenticated), and a public server starts no Earth Engine
run under its own account.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import N_, Message

#: What each action is called in a message.
ACTIONS = {"label": N_("label patches"), "import": N_("import labels"), "export": N_("export labels"),
           "delete_run": N_("delete runs"), "earthengine": N_("start Earth Engine runs")}
REVIEWER_ACTIONS = frozenset({"label"})


def _emails(value: Any) -> frozenset[str]:
    if isinstance(value, str):
        value = [v for v in value.replace(";", ",").split(",")]
    return frozenset(str(v).strip().lower() for v in (value or ()) if str(v).strip())


@dataclass(frozen=True)
class Roles:
    reviewers: frozenset[str] = field(default_factory=frozenset)
    admins: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_secrets(cls, secrets: Mapping[str, Any] | None) -> Roles:
        section = (secrets or {}).get("roles", {}) if secrets is not None else {}
        return cls(_emails(section.get("reviewers")), _emails(section.get("admins")))

    @property
    def listed(self) -> bool:
        return bool(self.reviewers or self.admins)

    def may(self, email: str | None, action: str) -> bool:
        """Whether a signed-in user (by e-mail) may do ``action`` (one of :data:`ACTIONS`)."""
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}")
        who = (email or "").strip().lower()
        if not who:
            return False
        if not self.listed or who in self.admins:
            return True
        return action in REVIEWER_ACTIONS and who in self.reviewers


def refusal(email: str | None, action: str) -> Message:
    """The message for a signed-in user who may not do ``action`` (translatable: ui.i18n.text_of)."""
    return Message(N_("Signed in as {email}, who may not {action} on this server. Ask its operator to add you to "
                      "the reviewers or admins."), email=email, action=Message(ACTIONS[action]))
