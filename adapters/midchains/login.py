"""Midchains' in-band login: the password sealed with the RSA key the venue serves on this connection.

The ``challenge`` reply's ``key`` is a base64 DER SubjectPublicKeyInfo; the ``login`` request's
``pass`` is the UTF-8 password encrypted with it under RSA PKCS#1 v1.5, base64. The padding is
random, so two logins never send the same text, and only the holder of the private key can read
it. Nothing here keeps the password, and no error names it.
"""

from __future__ import annotations

import base64
import binascii

from cryptography.hazmat.primitives.asymmetric import padding
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey
from cryptography.hazmat.primitives.serialization import load_der_public_key

from sdk.wiretext import WireValueError

KEY_TEXT_LIMIT = 4096
"""Characters of a served key: a 16384-bit RSA key is about 2,800; anything longer is not a key."""
PKCS1_OVERHEAD = 11
"""Bytes PKCS#1 v1.5 padding takes of each RSA block."""


def served_key(text: str) -> RSAPublicKey:
    """The RSA public key a ``challenge`` reply serves; ``WireValueError`` if it is not one."""
    if len(text) > KEY_TEXT_LIMIT:
        raise WireValueError(f"a challenge key of {len(text)} characters (at most {KEY_TEXT_LIMIT})")
    try:
        key = load_der_public_key(base64.b64decode(text, validate=True))
    except (binascii.Error, ValueError) as error:
        raise WireValueError(f"the challenge key is not a base64 DER public key ({type(error).__name__})") from None
    if not isinstance(key, RSAPublicKey):
        raise WireValueError(f"the challenge key is not an RSA key but {type(key).__name__}")
    return key


def seal_password(key_text: str, password: str) -> str:
    """``password`` encrypted with the served key (RSA PKCS#1 v1.5), base64: the login's ``pass``.

    ``ValueError`` (naming only lengths) when the password is longer than one RSA block holds.
    """
    key = served_key(key_text)
    plain = password.encode()
    room = key.key_size // 8 - PKCS1_OVERHEAD
    if len(plain) > room:
        raise ValueError(f"the password is {len(plain)} bytes; a {key.key_size}-bit key seals at most {room}")
    return base64.b64encode(key.encrypt(plain, padding.PKCS1v15())).decode()
