"""Equivalence tables of a normalisation: variants rewritten to their canonical form before matching.

A variant is matched as whole words, case-folded like the text; inside a multi-word variant any run
of whitespace (and of punctuation, when punctuation is normalised away) matches its spaces, so
"Company,  Limited" meets the variant "company limited". Symbols are variants too ("&" -> "and"):
they are rewritten before punctuation is removed, and need no word boundary on their symbol side.
Chains are followed ({"a": ["b"], "b": ["c"]} rewrites "c" to "a"); a cycle or a variant listed
under two canonicals is a rule error.
"""

from __future__ import annotations

from collections.abc import Mapping

_WORD_EDGE_BEFORE = r"(^|[^\p{L}\p{N}])"
_WORD_EDGE_AFTER = r"($|[^\p{L}\p{N}])"
_REGEX_SPECIAL = set(r"\.+*?()|[]{}^$#&-~")


def word_form(text: str, *, case: bool) -> str:
    """How a canonical or variant is compared: case-folded like the text, whitespace collapsed."""
    return " ".join((text.lower() if case else text).split())


def resolved(equivalences: Mapping[str, list[str]], *, case: bool) -> dict[str, set[str]]:
    """Canonical -> the forms to rewrite to it, chains followed. Raises ValueError on a cycle or on
    a variant claimed by two canonicals."""
    parent: dict[str, str] = {}
    for canonical, variants in equivalences.items():
        target = word_form(canonical, case=case)
        for variant in variants:
            form = word_form(variant, case=case)
            if not form or form == target:
                continue
            if form in parent and parent[form] != target:
                raise ValueError(f"equivalences: {variant!r} is listed under both {parent[form]!r} and {target!r}")
            parent[form] = target
    out: dict[str, set[str]] = {}
    for form in parent:
        root, seen = form, [form]
        while root in parent:
            root = parent[root]
            if root in seen:
                raise ValueError(f"equivalences form a cycle: {' -> '.join([*seen, root])}")
            seen.append(root)
        out.setdefault(root, set()).add(form)
    return out


def rewrite_rules(equivalences: Mapping[str, list[str]], *, case: bool, punctuation: bool) -> list[tuple[str, str]]:
    """(Rust regex, replacement) pairs; each is applied twice, because a match consumes the boundary
    character that an adjacent variant would need ("co co")."""
    separator = r"[^\p{L}\p{N}]+" if punctuation else r"\s+"
    rules = []
    for canonical, forms in sorted(resolved(equivalences, case=case).items()):
        by_edges: dict[tuple[bool, bool], list[str]] = {}
        for form in forms:
            by_edges.setdefault((form[0].isalnum(), form[-1].isalnum()), []).append(form)
        for (word_start, word_end), group in sorted(by_edges.items()):
            alternatives = "|".join(
                separator.join(_escape(token) for token in form.split(" "))
                for form in sorted(group, key=lambda f: (-len(f), f))
            )
            before = _WORD_EDGE_BEFORE if word_start else "()"
            after = _WORD_EDGE_AFTER if word_end else "()"
            # A symbol side gets a space, so "smith&sons" becomes "smith and sons", not "smithandsons".
            replacement = "${1}" + ("" if word_start else " ") + canonical_text(canonical)
            replacement += ("" if word_end else " ") + "${2}"
            rules.append((f"{before}(?:{alternatives}){after}", replacement))
    return rules


def canonical_text(canonical: str) -> str:
    return canonical.replace("$", "$$")


def _escape(text: str) -> str:
    # Rust-regex escaping of a literal; equivalence words come from users.
    return "".join("\\" + ch if ch in _REGEX_SPECIAL else ch for ch in text)
