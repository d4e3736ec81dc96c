#!/usr/bin/env python3
"""Check a signed erasure receipt from tallyfy-admin, with its signer's public key alone.

    python scripts/verify_receipt.py erasure-receipt-12.json --key 'panel+1a2b3c4d+AQ...'

The key is the verifier key of the deletion log's checkpoints (EVIDENCE_VERIFIER_KEYS or the
output of `manage.py evidence_keygen`), obtained from the panel's operators, not from the
receipt. Checks that the receipt's SHA-256, over its canonical JSON (keys sorted, no
whitespace, ASCII with \\uXXXX escapes), is the one the signed note names, and that the note's
Ed25519 signature by that key verifies. Needs Python 3.10+ and the `cryptography` package.
Exit status 0: intact and signed; 1: anything else, with the reason.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys

ORIGIN = "tallyfy-admin/erasure-receipt"
DASH = "\u2014"


class Invalid(Exception):
    pass


def canonical(receipt: object) -> bytes:
    return json.dumps(
        receipt, sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
    ).encode("ascii")


def b64(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Invalid(f"not base64: {text!r}") from None


def parse_key(text: str) -> tuple[str, bytes, bytes]:
    """(name, key id, 32-byte public key) of `<name>+<key id hex>+<base64(0x01 || key)>`."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise Invalid("the key is not <name>+<key id>+<key>")
    name, key_id_hex, blob = parts
    raw = b64(blob)
    if len(raw) != 33 or raw[:1] != b"\x01":
        raise Invalid("the key is not an Ed25519 key")
    key_id = hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4]
    if key_id.hex() != key_id_hex:
        raise Invalid("the key's id does not match the key")
    return name, key_id, raw[1:]


def verify(document: dict, key_text: str) -> str:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    receipt, note = document.get("receipt"), document.get("signature")
    if not isinstance(receipt, dict):
        raise Invalid("no receipt in the file")
    if not isinstance(note, str):
        raise Invalid("the receipt is not signed (the panel had no signing key)")
    digest = base64.b64encode(hashlib.sha256(canonical(receipt)).digest()).decode()
    text, sep, signatures = note.partition("\n\n")
    lines = text.split("\n")
    if not sep or len(lines) != 3 or lines[0] != ORIGIN:
        raise Invalid("the signature is not a signed note of an erasure receipt")
    if lines[1] != str(receipt.get("request", {}).get("id")):
        raise Invalid("the signature is of another request's receipt")
    if lines[2] != digest:
        raise Invalid("the receipt was changed after it was signed (its SHA-256 differs)")
    name, key_id, public = parse_key(key_text)
    for line in signatures.rstrip("\n").split("\n"):
        dash, _, rest = line.partition(" ")
        signer, _, blob = rest.partition(" ")
        raw = b64(blob) if dash == DASH and blob else b""
        if signer != name or raw[:4] != key_id:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(raw[4:], (text + "\n").encode())
        except InvalidSignature:
            raise Invalid(f"the signature by {name} does not verify") from None
        return name
    raise Invalid(f"no signature by the key {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("receipt", help="the receipt's JSON file")
    parser.add_argument("--key", required=True, help="the signer's verifier key")
    args = parser.parse_args(argv)
    try:
        with open(args.receipt, encoding="utf-8") as handle:
            document = json.load(handle)
        signer = verify(document, args.key)
    except (OSError, ValueError, Invalid) as exc:
        print(f"NOT VERIFIED: {exc}")
        return 1
    request = document["receipt"]["request"]
    print(
        f"Receipt of erasure request {request['reference']} (id {request['id']}) intact, "
        f"signed by {signer}: {len(document['receipt']['files'])} file(s)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
