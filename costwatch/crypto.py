"""Encrypting secrets at rest (provider admin keys): Fernet (AES-128-CBC + HMAC-SHA256,
from `cryptography`), keyed from settings.PROVIDER_KEY_SECRETS — by default SECRET_KEY.

Each secret is a passphrase; its Fernet key is SHA-256 of it. The first secret encrypts,
every one decrypts (MultiFernet), so rotating is: put the new secret first, keep the old
after it, run `manage.py rotate_provider_keys`, then drop the old one.
"""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings


class SecretUnreadable(Exception):
    """No configured secret decrypts the token (a secret was dropped too early)."""


def _fernet() -> MultiFernet:
    keys = [base64.urlsafe_b64encode(hashlib.sha256(("costwatch:" + s).encode()).digest())
            for s in settings.PROVIDER_KEY_SECRETS]
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(plain: str) -> str:
    return _fernet().encrypt(plain.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no secret in PROVIDER_KEY_SECRETS decrypts this key; enter the key again") from None


def rotate(token: str) -> str:
    """The token re-encrypted with the first secret."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable("no secret in PROVIDER_KEY_SECRETS decrypts this key") from None
