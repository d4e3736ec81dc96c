"""Signed checkpoints of the seal chain, in the C2SP formats `tlog-checkpoint` and
`signed-note` (Ed25519, as Go's golang.org/x/mod/sumdb/note writes them).

A checkpoint is the note text
    <origin>\\n<size>\\n<base64 of the seal at that size>\\n
(size 0: 32 zero bytes), a blank line, then one line per signature
    — <key name> <base64(key id || Ed25519 signature of the note text)>\\n
where the key id is the first 4 bytes of SHA-256(<key name> || "\\n" || 0x01 || public key).
Keys are written as Go's note package writes them: the verifier key
`<name>+<key id, 8 hex digits>+<base64(0x01 || 32-byte public key)>`, the signer key
`PRIVATE+KEY+<name>+<key id>+<base64(0x01 || 32-byte private seed)>`. The hash is the head of
a hash chain (evidence.canonical), not a Merkle tree root: a checkpoint proves what the log
held up to its size, and that any later log still extends it.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

ED25519 = b"\x01"
DASH = "\u2014"  # the em dash that begins each signature line


class CheckpointError(Exception):
    """A checkpoint or key that cannot be read, or a signature that does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    head: bytes


@dataclass(frozen=True)
class VerifierKey:
    name: str
    key_id: bytes
    public: Ed25519PublicKey

    def text(self) -> str:
        raw = self.public.public_bytes(Encoding.Raw, PublicFormat.Raw)
        return f"{self.name}+{self.key_id.hex()}+{_b64(ED25519 + raw)}"


@dataclass(frozen=True)
class SignerKey:
    name: str
    key_id: bytes
    private: Ed25519PrivateKey

    @property
    def verifier(self) -> VerifierKey:
        return VerifierKey(self.name, self.key_id, self.private.public_key())

    def text(self) -> str:
        seed = self.private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return f"PRIVATE+KEY+{self.name}+{self.key_id.hex()}+{_b64(ED25519 + seed)}"


def key_id(name: str, public: Ed25519PublicKey) -> bytes:
    raw = public.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + raw).digest()[:4]


def signer_new(name: str) -> SignerKey:
    _check_name(name)
    private = Ed25519PrivateKey.generate()
    return SignerKey(name, key_id(name, private.public_key()), private)


def signer_parse(text: str) -> SignerKey:
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise CheckpointError("not a signer key (PRIVATE+KEY+<name>+<key id>+<key>)")
    name, key = parts[2], _key_bytes(parts[4])
    private = Ed25519PrivateKey.from_private_bytes(key)
    signer = SignerKey(name, key_id(name, private.public_key()), private)
    if parts[3] != signer.key_id.hex():
        raise CheckpointError(f"signer key {name}: its key id does not match the key")
    return signer


def verifier_parse(text: str) -> VerifierKey:
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise CheckpointError(f"not a verifier key (<name>+<key id>+<key>): {text!r}")
    name, key = parts[0], _key_bytes(parts[2])
    _check_name(name)
    public = Ed25519PublicKey.from_public_bytes(key)
    verifier = VerifierKey(name, key_id(name, public), public)
    if parts[1] != verifier.key_id.hex():
        raise CheckpointError(f"verifier key {name}: its key id does not match the key")
    return verifier


def checkpoint_sign(checkpoint: Checkpoint, signer: SignerKey) -> str:
    return note_sign(_body(checkpoint), signer)


def checkpoint_open(note: str, *, origin: str, verifiers: list[VerifierKey]) -> Checkpoint:
    """The checkpoint a signed note holds, once a signature by one of `verifiers` verifies
    and its origin is this log's."""
    checkpoint = _parse_body(note_open(note, verifiers=verifiers))
    if checkpoint.origin != origin:
        raise CheckpointError(f"a checkpoint of another log: {checkpoint.origin!r}, not {origin!r}")
    return checkpoint


def note_sign(text: str, signer: SignerKey) -> str:
    """A signed note of `text` (one or more lines, each ending in a newline)."""
    if not text.endswith("\n") or "\n\n" in text:
        raise CheckpointError("a note's text is lines ending in newlines, none of them empty")
    signature = signer.private.sign(text.encode())
    return f"{text}\n{DASH} {signer.name} {_b64(signer.key_id + signature)}\n"


def note_open(note: str, *, verifiers: list[VerifierKey]) -> str:
    """The text of a signed note, once a signature by one of `verifiers` verifies.
    Signatures by other keys are passed over (C2SP signed-note); one by a known key that
    does not verify rejects the note."""
    text, sep, signatures = note.partition("\n\n")
    if not sep or not signatures.endswith("\n"):
        raise CheckpointError("not a signed note: no blank line before the signatures")
    text += "\n"
    known = {(v.name, v.key_id): v for v in verifiers}
    verified = []
    for line in signatures.removesuffix("\n").split("\n"):
        dash, _, rest = line.partition(" ")
        name, _, blob = rest.partition(" ")
        if dash != DASH or not name or not blob:
            raise CheckpointError(f"not a signature line: {line!r}")
        raw = _b64decode(blob)
        if len(raw) < 5:
            raise CheckpointError(f"signature by {name} is too short")
        verifier = known.get((name, raw[:4]))
        if verifier is None:
            continue
        try:
            verifier.public.verify(raw[4:], text.encode())
        except InvalidSignature:
            raise CheckpointError(f"the signature by {name} does not verify") from None
        verified.append(name)
    if not verified:
        raise CheckpointError("no signature by a known key (EVIDENCE_VERIFIER_KEYS)")
    return text


def _body(checkpoint: Checkpoint) -> str:
    if not checkpoint.origin or "\n" in checkpoint.origin:
        raise CheckpointError("the origin must be one non-empty line")
    return f"{checkpoint.origin}\n{checkpoint.size}\n{_b64(checkpoint.head)}\n"


def _parse_body(text: str) -> Checkpoint:
    lines = text.split("\n")
    if len(lines) < 4 or not lines[0]:
        raise CheckpointError("a checkpoint has an origin, a size and a hash, one a line")
    origin, size, head = lines[0], lines[1], lines[2]
    if not size.isascii() or not size.isdigit() or (size != "0" and size.startswith("0")):
        raise CheckpointError(f"not a tree size: {size!r}")
    digest = _b64decode(head)
    if len(digest) != 32:
        raise CheckpointError("the checkpoint's hash is not 32 bytes")
    return Checkpoint(origin, int(size), digest)


def _check_name(name: str) -> None:
    if not name or any(c.isspace() or c == "+" for c in name):
        raise CheckpointError(f"a key name has no spaces or '+': {name!r}")


def _key_bytes(text: str) -> bytes:
    raw = _b64decode(text)
    if len(raw) != 33 or raw[:1] != ED25519:
        raise CheckpointError("not an Ed25519 key")
    return raw[1:]


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _b64decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise CheckpointError(f"not base64: {text!r}") from None
