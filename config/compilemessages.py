"""Compile every locale/*/LC_MESSAGES/*.po to the .mo beside it, with Babel (no GNU gettext).

    .venv/bin/python -m config.compilemessages      (also: make messages)

Fuzzy entries are left out, as Django's compilemessages does. Exits non-zero, naming the file
and the line, when a .po has a syntax error (Babel's reader lets some through, so the lines are
checked first) or when a translation's placeholders differ from its msgid's: a %(name)s the
msgid lacks is a KeyError at runtime, one it leaves out loses a value.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import write_mo
from babel.messages.pofile import PoFileError, read_po

ROOT = Path(__file__).resolve().parent.parent

# A C string as a .po writes it, and the lines a .po is made of.
_STRING = r'"(?:[^"\\]|\\(?:[\\"abfnrtv?\']|[0-7]{1,3}|x[0-9a-fA-F]+))*"'
_KEYWORD_LINE = re.compile(rf"^(msgctxt|msgid|msgid_plural|msgstr|msgstr\[(\d+)\])[ \t]+({_STRING})[ \t]*$")
_CONTINUATION = re.compile(rf"^[ \t]*({_STRING})[ \t]*$")
# What may come before each keyword (None: the start of an entry).
_AFTER = {
    "msgctxt": {None, "msgstr", "msgstr[]"},
    "msgid": {None, "msgctxt", "msgstr", "msgstr[]"},
    "msgid_plural": {"msgid"},
    "msgstr": {"msgid"},
    "msgstr[]": {"msgid_plural", "msgstr[]"},
}
# A printf-style conversion as Python's % operator reads it: %(name)s, %s, %5.2f, %%.
_CONVERSION = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])")


class CatalogError(ValueError):
    """A .po that must not be compiled; the message names the lines."""


def check_syntax(text: str) -> dict[int, set[str]]:
    """Check a .po's lines; return the `#,` flags written before each msgid, by its line number."""
    errors: list[str] = []
    flags_by_line: dict[int, set[str]] = {}
    pending_flags: set[str] = set()
    previous: str | None = None  # the last keyword of the entry being read
    seen: dict[tuple[str, str], int] = {}
    entry_key: list[str] = []  # msgctxt and msgid text of the entry being read (escaped form)
    entry_line = 0
    last_was_keyword = False

    def finish() -> None:
        if previous is None:
            return
        if previous in {"msgctxt", "msgid", "msgid_plural"}:
            errors.append(f"line {entry_line}: an entry without its msgstr")
        key = (entry_key[0], entry_key[1]) if len(entry_key) == 2 else ("", entry_key[0] if entry_key else "")
        if key in seen:
            errors.append(f"line {entry_line}: duplicate of the entry at line {seen[key]}")
        else:
            seen[key] = entry_line

    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            if line.startswith("#,"):
                pending_flags |= {flag.strip() for flag in line[2:].split(",") if flag.strip()}
            if not line and previous is not None and previous.startswith("msgstr"):
                finish()
                previous, entry_key = None, []
            last_was_keyword = False
            continue
        if _CONTINUATION.match(raw):
            if not last_was_keyword:
                errors.append(f"line {number}: a string outside an entry")
            elif previous in {"msgctxt", "msgid"}:
                entry_key[-1] += _CONTINUATION.match(raw).group(1)[1:-1]
            continue
        match = _KEYWORD_LINE.match(raw)
        if match is None:
            errors.append(f"line {number}: not a .po line (unknown keyword, unterminated string or a bad escape)")
            last_was_keyword = False
            continue
        keyword = "msgstr[]" if match.group(2) is not None else match.group(1)
        if keyword in {"msgctxt", "msgid"} and previous is not None and previous.startswith("msgstr"):
            finish()  # a new entry without a blank line between
            previous, entry_key = None, []
        if previous not in _AFTER[keyword]:
            errors.append(f"line {number}: {match.group(1)} cannot follow {previous or 'the start of an entry'}")
        if keyword == "msgctxt" or (keyword == "msgid" and previous != "msgctxt"):
            entry_line = number
        if keyword in {"msgctxt", "msgid"}:
            entry_key.append(match.group(3)[1:-1])
        if keyword in {"msgctxt", "msgid"}:
            flags_by_line[number] = pending_flags  # Babel numbers an entry by one or the other
        if keyword == "msgid":
            pending_flags = set()
        previous, last_was_keyword = keyword, True
    finish()
    if errors:
        raise CatalogError("\n".join(errors))
    return flags_by_line


def _placeholders(text: str) -> tuple[set[str], int]:
    """The %(name)s names in a text, and how many unnamed conversions (%s, %d) it has."""
    names, unnamed = set(), 0
    for match in _CONVERSION.finditer(text or ""):
        if match.group(2) == "%":
            continue
        if match.group(1) is not None:
            names.add(match.group(1))
        else:
            unnamed += 1
    return names, unnamed


def _texts(value) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [text or "" for text in value]
    return [value or ""]


def placeholder_errors(message: Message, written_flags: set[str] | None = None) -> list[str]:
    """The translations of a python-format message whose placeholders differ from the msgid's.

    A singular translation needs exactly the msgid's %(name)s names. A plural form may leave out
    a name that one of msgid and msgid_plural leaves out (“One item” / “%(n)s items”), never one
    both use, and never brings a name neither has. Unnamed conversions (%s) are counted only
    where the .po itself says python-format (Babel guesses the flag for texts like “100% sure”)."""
    if not message.id or message.fuzzy or "python-format" not in message.flags:
        return []
    sources = [_placeholders(text) for text in _texts(message.id)]
    allowed = set().union(*(names for names, _unnamed in sources))
    required = set.intersection(*(names for names, _unnamed in sources))
    plural = isinstance(message.id, (list, tuple))
    errors = []
    for index, text in enumerate(_texts(message.string)):
        if not text:
            continue  # untranslated: the msgid is shown
        names, unnamed = _placeholders(text)
        problems = []
        if missing := sorted(required - names):
            problems.append("missing " + ", ".join(f"%({name})s" for name in missing))
        if unknown := sorted(names - allowed):
            problems.append("unknown " + ", ".join(f"%({name})s" for name in unknown))
        counts = {count for _names, count in sources}
        if "python-format" in (written_flags or set()) and unnamed not in counts:
            problems.append(f"{unnamed} unnamed conversion(s) where the msgid has {max(counts)}")
        if problems:
            which = f"msgstr[{index}]" if plural else "msgstr"
            errors.append(f"line {message.lineno}: {which} of {_texts(message.id)[0]!r}: {'; '.join(problems)}")
    return errors


def read_catalog(po: Path) -> Catalog:
    """Read and check one .po; raises CatalogError naming every bad line."""
    data = po.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CatalogError(f"not UTF-8 ({exc})") from exc
    flags_by_line = check_syntax(text)
    try:
        catalog = read_po([line.encode("utf-8") for line in text.splitlines(keepends=True)],
                          locale=po.parent.parent.name, abort_invalid=True)
    except PoFileError as exc:
        raise CatalogError(str(exc)) from exc
    errors = [error for message in catalog
              for error in placeholder_errors(message, flags_by_line.get(message.lineno))]
    if errors:
        raise CatalogError("\n".join(errors))
    return catalog


def compile_one(po: Path) -> tuple[Path, int, int]:
    """Check and compile one .po; returns (the .mo, translated count, total count)."""
    catalog = read_catalog(po)
    mo = po.with_suffix(".mo")
    tmp = mo.with_name(mo.name + ".tmp")
    with tmp.open("wb") as f:
        write_mo(f, catalog, use_fuzzy=False)
    tmp.replace(mo)
    messages = [message for message in catalog if message.id]
    translated = sum(1 for message in messages if not message.fuzzy and all(_texts(message.string)))
    return mo, translated, len(messages)


def main(root: Path = ROOT) -> int:
    pos = sorted(root.glob("locale/*/LC_MESSAGES/*.po"))
    if not pos:
        print(f"error: no locale/*/LC_MESSAGES/*.po under {root}", file=sys.stderr)
        return 1
    failed = False
    for po in pos:
        name = po.relative_to(root)
        try:
            mo, translated, total = compile_one(po)
        except CatalogError as exc:
            print(f"error: {name} not compiled:\n  " + str(exc).replace("\n", "\n  "), file=sys.stderr)
            failed = True
            continue
        print(f"compiled {name} -> {mo.relative_to(root)} ({translated} of {total} translated)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
