"""Receipt codes: what a visitor keeps to find, show or withdraw their entry."""

import hashlib
import hmac
import re
import secrets

# No 0/O, 1/I/L: a code is read off a phone screen and typed back by people in a hurry.
ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
LENGTH = 13  # 31 ** 13 ≈ 2 ** 64.4: unguessable, so the code alone may show and withdraw an entry


def new_code() -> str:
    """A fresh random receipt code."""
    return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))


def clean(typed: str) -> str:
    """A code as typed back ("abcd-efgh-jklmn ") in its stored form ("ABCDEFGHJKLMN")."""
    return re.sub(r"[\s\-]", "", typed or "").upper()


def is_well_formed(code: str) -> bool:
    """Whether a cleaned code could be one of ours (so junk never reaches the database)."""
    return len(code) == LENGTH and all(ch in ALPHABET for ch in code)


def grouped(code: str) -> str:
    """A code in groups, easier to read aloud and type back: ABCD-EFGH-JKLMN."""
    return f"{code[:4]}-{code[4:8]}-{code[8:]}"


def withdrawn_digest(code: str, key: str) -> str:
    """The keyed hash kept of a withdrawn entry's code: HMAC-SHA-256 under the site's key.

    Keyed, so that the table of withdrawn codes is no list to test guesses against offline;
    the code itself is unguessable, and its hash says nothing about the entry or its entrant.
    """
    message = f"withdrawn-receipt:{code}".encode()
    return hmac.new(key.encode(), message, hashlib.sha256).hexdigest()
