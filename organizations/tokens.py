"""Access tokens encrypted at rest with keys independent of SECRET_KEY.

`TALLYFY_TOKEN_KEYS` is a list of Fernet keys: the first encrypts, every one decrypts, so a new
key is added in front, `rotate_token_keys` re-encrypts, and the old key can then be dropped.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.core.exceptions import ImproperlyConfigured

from organizations.conf import conf


class TokenDecryptionError(Exception):
    pass


def _cipher() -> MultiFernet:
    keys = conf.TALLYFY_TOKEN_KEYS
    if not keys:
        raise ImproperlyConfigured(
            "TALLYFY_TOKEN_KEYS is empty: set at least one key (python -c "
            '"from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())").'
        )
    try:
        return MultiFernet([Fernet(key) for key in keys])
    except ValueError as exc:
        raise ImproperlyConfigured(f"TALLYFY_TOKEN_KEYS holds an invalid key: {exc}") from exc


def encrypt_token(token: str) -> str:
    return _cipher().encrypt(token.encode()).decode()


def decrypt_token(ciphertext: str, *, owner: str) -> str:
    try:
        return _cipher().decrypt(ciphertext.encode()).decode()
    except InvalidToken as exc:
        raise TokenDecryptionError(
            f"The access token of {owner} cannot be decrypted with the keys in "
            "TALLYFY_TOKEN_KEYS. Restore the key it was saved with, or enter the token again."
        ) from exc


def reencrypt_token(ciphertext: str) -> str:
    return _cipher().rotate(ciphertext.encode()).decode()
