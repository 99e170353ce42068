"""Roll-call lines: the layout a series signs in with, and one person's line read in that layout."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from chatbot.text import markdown as md

DEFAULT_LAYOUT = "name / institution / GitHub handle"
MAX_LINE = 300  # checked before any pattern runs, so reading stays linear in what may arrive
MAX_PART = 100
FORM = ("Write it as `/meeting profile Min RK / Simula / @minrk`, in the order of the roll call "
        "(institution and GitHub optional).")

_HANDLE = r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}"
_BARE_HANDLE = re.compile(_HANDLE)
# A handle marked as one, wherever it stands: @h, \@h, `@h`, (@h), [@h](github link), a github link.
_MARKED = re.compile(
    r"\[\\?@?(?P<link>" + _HANDLE + r")\]\((?:https?://)?(?:www\.)?github\.com/[A-Za-z0-9-]{1,39}/?\)"
    r"|<?(?:https?://)?(?:www\.)?github\.com/(?P<url>" + _HANDLE + r")/?>?(?![\w/])"
    r"|\([ \t]?\\?@(?P<paren>" + _HANDLE + r")[ \t]?\)"
    r"|`\\?@(?P<code>" + _HANDLE + r")`"
    r"|(?<![\w@.])\\?@(?P<plain>" + _HANDLE + r")(?![\w-])"
)
_EMAIL = re.compile(r"(?<![\w.+%-])[\w.+%-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63}){0,8}"
                    r"\.[A-Za-z]{2,24}\b")
_NONE = frozenset({"", "-", "–", "—", "?", "none", "n/a", "na"})
_PRONOUN = frozenset({"he", "him", "his", "she", "her", "hers", "they", "them", "theirs",
                      "xe", "xem", "ze", "zir", "it", "any"})
# The last part of "Name / word / Santa Cruz, CA" is a place: the word may be an institution.
_PLACE = re.compile(r"[^,]{1,40}(?:,[^,]{1,40}){1,3}|.{0,40}\b(?:UK|USA?|EU)")


class ProfileError(ValueError):
    """A roll-call line that cannot be stored; the message says what to change."""


# -- the layout ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The header of a series' roll call and what each of its parts holds."""

    header: str
    fields: tuple[str, ...]  # "name", "institution", "github", or "extra" (a location, say)
    labels: tuple[str, ...]  # each part as the header words it

    def slot(self, field: str) -> int:
        return self.fields.index(field) if field in self.fields else -1

    def label(self, field: str) -> str:
        return self.labels[self.fields.index(field)] if field in self.fields else field

    def render(self, name: str, institution: str, github: str) -> str:
        """One person's line in this layout; what someone left out is left out."""
        values = {"name": name, "institution": institution, "github": f"@{github}" if github else ""}
        return " / ".join(v for v in (values.get(f, "") for f in self.fields) if v)


@functools.lru_cache(maxsize=64)
def parse_layout(header: str) -> Layout:
    """The layout a roll-call header describes: "Name (pronouns) / GitHub handle / affiliation"."""
    header = " ".join(header.split())
    hint = (f'name the parts people write, in their order and separated by "/", with a name and '
            f'a GitHub handle among them, like "{DEFAULT_LAYOUT}" or "Name (pronouns) / GitHub '
            f'handle / affiliation / geographic location"')
    if not header or len(header) > MAX_LINE:
        raise ValueError(hint)
    labels = tuple(p.strip() for p in _split(header)[0])
    fields = tuple(_field(label) for label in labels)
    for needed in ("name", "github"):
        if fields.count(needed) != 1:
            raise ValueError(f"{header!r} has {fields.count(needed)} {needed} parts; {hint}")
    if fields.count("institution") > 1 or "" in labels:
        raise ValueError(f"{header!r} is not a roll-call layout; {hint}")
    return Layout(header, fields, tuple(re.sub(r"\s*\(.*?\)", "", x) or x for x in labels))


def _field(label: str) -> str:
    words = label.lower()
    if "github" in words or "handle" in words:
        return "github"
    if "name" in words:
        return "name"
    if re.search(r"institution|affiliation|organi[sz]ation|employer|company|team|lab\b", words):
        return "institution"
    return "extra"


# -- one person's line ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """One roll-call line as read: what is stored, and what the reader should be told."""

    name: str
    institution: str = ""  # with any later parts riding along: "NERSC / Bay Area, CA"
    github: str = ""
    remark: str = ""  # written after the handle, like "(will be late)": not part of the line
    unsure: str = ""  # a word in the handle's place not taken as a handle


def github_handle(text: str) -> str:
    """A handle given in a field of its own ("@minrk" or "minrk"); ProfileError if it is none."""
    handle = text.strip().removeprefix("@")
    if len(handle) > 40 or not _BARE_HANDLE.fullmatch(handle):
        raise ProfileError(f"{text.strip()[:40]!r} is not a GitHub handle (letters, digits and single "
                           f"dashes, up to 39). {FORM}")
    return handle


def parse_profile(text: str, layout: Layout | None = None) -> Profile:
    """Read a roll-call line as a person would, in the series' layout; ProfileError says why not."""
    layout = layout or parse_layout(DEFAULT_LAYOUT)
    text = " ".join(text.split())
    if len(text) > MAX_LINE:
        raise ProfileError(f"A roll-call line is at most {MAX_LINE} characters. {FORM}")
    if _EMAIL.search(text):
        raise ProfileError(f"A profile never holds an email address; leave it out. {FORM}")
    parts, tight = _split(text)
    github, remark, marked_at = "", "", -1
    for index, part in enumerate(parts):
        match = _MARKED.search(part)
        if match:
            github = next(g for g in match.groups() if g)
            rest = _tidy(part[: match.start()] + " " + part[match.end():])
            if index and rest.startswith("(") and rest.endswith(")"):
                remark, rest = rest, ""
            parts[index], marked_at = rest, index
            break
    groups = _groups(parts, tight, marked_at)
    while len(groups) > 1 and not groups[-1]:
        groups.pop()
    unsure = ""
    if not github:
        github, unsure = _from_slot(groups, layout)
    name_at = max(layout.slot("name"), 0) if len(groups) > layout.slot("name") else 0
    name = groups[name_at] if groups else ""
    if not name or name.lower() in _NONE:
        raise ProfileError(f"Give a name first, then what the roll call asks for, separated by '/'. {FORM}")
    others = [g for i, g in enumerate(groups) if i != name_at and g.lower() not in _NONE]
    if any(len(p) > MAX_PART for p in [name, *others]):
        raise ProfileError(f"Each part of a profile is at most {MAX_PART} characters. {FORM}")
    return Profile(name=name, institution=" / ".join(others), github=github, remark=remark,
                   unsure=unsure)


def _from_slot(groups: list[str], layout: Layout) -> tuple[str, str]:
    """The unmarked word in the handle's place, taken (and emptied) when it must be the handle;
    otherwise the word left as it stands and named as unsure, or nothing."""
    at = layout.slot("github")
    if layout.fields[-1] == "github" and len(groups) > len(layout.fields):
        at = len(groups) - 1  # the handle closes the line; parts added ride before it
    if at >= len(groups) or not _BARE_HANDLE.fullmatch(groups[at]):
        if at < len(groups) and groups[at].lower() in _NONE:
            groups[at] = ""
        return "", ""
    word = groups[at]
    later = [g for g in groups[at + 1:] if g]
    # Only a line that reaches the institution's place shows which place the word is in, and
    # "Name / word / Oakland, CA" may as well have skipped the handle.
    filled = len(groups) > max(layout.slot("name"), at, layout.slot("institution"))
    if not filled or (len(later) == 1 and _PLACE.fullmatch(later[0])):
        return "", word
    groups[at] = ""
    return word, ""


def _groups(parts: list[str], tight: list[bool], marked_at: int) -> list[str]:
    """Parts as the person meant them: where some '/' have spaces around them, an unspaced one
    joins words of one part ("Whole Tale/NCSA"), unless it sets off the name or the handle."""
    if all(tight):
        return parts
    groups = [parts[0]]
    for index in range(1, len(parts)):
        joined = tight[index - 1] and index - 1 not in (0, marked_at) and index != marked_at
        if joined:
            groups[-1] = f"{groups[-1]}/{parts[index]}"
        else:
            groups.append(parts[index])
    return groups


def _split(text: str) -> tuple[list[str], list[bool]]:
    """Split on '|' when the line uses two of them, else on '/' outside (), [] and links, and not
    between pronouns; each separator is marked tight when no space touches it."""
    if text.count(" | ") >= 2:
        parts = [p.strip() for p in text.split("|")]
        return parts, [False] * (len(parts) - 1)
    shielded = _shielded(text)
    parts, tight, start = [], [], 0
    for i, char in enumerate(text):
        if char != "/" or shielded[i] or _between_pronouns(text, i):
            continue
        parts.append(_tidy(text[start:i]))
        tight.append(text[i - 1: i] not in (" ", "") and text[i + 1: i + 2] not in (" ", ""))
        start = i + 1
    parts.append(_tidy(text[start:]))
    return parts, tight


def _shielded(text: str) -> list[bool]:
    """Which characters sit inside a closed () or [] pair, or inside a web address."""
    shielded = [False] * len(text)
    for opening, closing in ("()", "[]"):
        stack: list[int] = []
        for i, char in enumerate(text):
            if char == opening:
                stack.append(i)
            elif char == closing and stack:
                start = stack.pop()
                if not stack:
                    shielded[start:i + 1] = [True] * (i + 1 - start)
    for word in re.finditer(r"\S{1,300}", text):
        if "://" in word.group() or word.group().lower().lstrip("<").startswith(("github.com", "www.")):
            shielded[word.start():word.end()] = [True] * (word.end() - word.start())
    return shielded


def _between_pronouns(text: str, i: int) -> bool:
    before = re.search(r"([A-Za-z]{1,6})[ \t]?\Z", text[max(0, i - 8):i])
    after = re.match(r"[ \t]?([A-Za-z]{1,6})", text[i + 1:i + 9])
    return bool(before and after and before.group(1).lower() in _PRONOUN
                and after.group(1).lower() in _PRONOUN)


def _tidy(text: str) -> str:
    return " ".join(text.split()).strip(" ,;")


def explain(profile: Profile, layout: Layout) -> str:
    """How the line was read, field by field, so a misreading shows at once (people's words made
    safe to show, as in every answer)."""
    lines = [f"- {layout.label('name').capitalize()}: {md.inline(profile.name)}",
             f"- {layout.label('institution').capitalize()}: {md.inline(profile.institution) or 'none'}"]
    if profile.github:
        lines.append(f"- GitHub: @{profile.github}")
    elif profile.unsure:
        lines.append(f"- GitHub: none; '{md.inline(profile.unsure)}' may be a handle or a name, so it was "
                     f"kept as written; write @{md.inline(profile.unsure)} if it is your handle")
    else:
        lines.append("- GitHub: none")
    if profile.remark:
        lines.append(f"- Left out: {md.inline(profile.remark)}, a remark rather than part of the line")
    return "\n".join(lines)
