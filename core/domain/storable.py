"""Whether outside input can be stored as it is: the rules both stores share, checked at the edge.

PostgreSQL text holds no NUL character, UTF-8 has no unpaired surrogate (JSON's `\\ud800` escape makes
one), and our integer columns are signed 64-bit. Input breaking one of these is refused when it arrives,
with the reason, rather than accepted and then failing on every attempt to store it.
"""

from __future__ import annotations

import json
import math

#: Deeper than any event, sale or platform delivery nests; deeper input is refused before it is parsed
#: by anything recursive.
MAX_NESTING = 64
SMALLEST_INTEGER = -(2**63)
LARGEST_INTEGER = 2**63 - 1


def text_problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None."""
    if "\x00" in text:
        return "contains a NUL character"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "contains an unpaired surrogate (not valid Unicode text)"
    return None


def value_problem(value: object) -> str | None:
    """Why a parsed JSON value (its keys, strings and numbers, at any depth) cannot be stored, or None."""
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_NESTING:
            return f"is nested deeper than {MAX_NESTING} levels"
        if isinstance(item, str):
            if problem := text_problem(item):
                return problem
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not SMALLEST_INTEGER <= item <= LARGEST_INTEGER:
                return "holds a number out of range (beyond 64-bit integers)"
        elif isinstance(item, float):
            if not math.isfinite(item):
                return "holds a number out of range (not finite)"
        elif isinstance(item, dict):
            pending.extend((key, depth) for key in item)
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list):
            pending.extend((child, depth + 1) for child in item)
    return None


def nesting_problem(body: bytes) -> str | None:
    """Why a JSON body nests too deeply to be parsed safely, or None; counts brackets outside strings, so it
    never recurses itself."""
    depth = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > MAX_NESTING:
                return f"is nested deeper than {MAX_NESTING} levels"
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return None


def body_problem(body: bytes) -> str | None:
    """Why a raw delivery body cannot be kept as text, or None: UTF-8 without NUL, not nested too deeply,
    and, when it is JSON, with storable strings and numbers once its escapes are read."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        return "is not UTF-8 text"
    if "\x00" in text:
        return "contains a NUL character"
    if problem := nesting_problem(body):
        return problem
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None  # not JSON (a form post, say): the platform's reader judges it; as text it is storable
    except ValueError:  # an integer of thousands of digits, which Python refuses to read
        return "holds a number out of range (beyond 64-bit integers)"
    return value_problem(parsed)
