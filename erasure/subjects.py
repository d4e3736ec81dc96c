"""A data subject's identifiers: encrypted with the token keys' Fernet, masked for lists, and
hashed with a key (HMAC) for look-up."""

from __future__ import annotations

import json
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.crypto import salted_hmac

from organizations.tokens import TokenDecryptionError, decrypt_token, encrypt_token


@dataclass(frozen=True)
class Subject:
    emails: tuple[str, ...]
    name: str = ""


def normalize_emails(emails: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Lower-cased, stripped, in the order given, each once; a bad one is a ValidationError."""
    seen: list[str] = []
    for raw in emails:
        email = raw.strip().lower()
        if not email:
            continue
        try:
            validate_email(email)
        except ValidationError:
            raise ValidationError(f"{raw.strip()!r} is not an email address.") from None
        if email not in seen:
            seen.append(email)
    if not seen:
        raise ValidationError("Give at least one email address of the subject.")
    return tuple(seen)


def email_hash(email: str) -> str:
    # Keyed by SECRET_KEY under its own salt: the hash of a known address cannot be computed
    # from outside, so the table does not reveal who asked.
    return salted_hmac(
        "erasure.subject-email", email.strip().lower(), algorithm="sha256"
    ).hexdigest()


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


def mask(subject: Subject) -> str:
    return ", ".join(mask_email(email) for email in subject.emails)


def encrypt_subject(subject: Subject) -> str:
    return encrypt_token(json.dumps({"emails": list(subject.emails), "name": subject.name}))


class SubjectUnreadable(Exception):
    pass


def decrypt_subject(ciphertext: str, *, owner: str) -> Subject:
    try:
        data = json.loads(decrypt_token(ciphertext, owner=owner))
    except TokenDecryptionError:
        raise SubjectUnreadable(
            f"The subject of {owner} cannot be decrypted with the keys in TALLYFY_TOKEN_KEYS: "
            "restore the key it was saved with."
        ) from None
    return Subject(emails=tuple(data["emails"]), name=data["name"])
