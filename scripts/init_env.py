"""Write a development `.env` with fresh secrets, once; later runs keep it."""

from __future__ import annotations

import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet


def main() -> None:
    path = Path(sys.argv[1] if len(sys.argv) > 1 else ".env")
    if path.exists():
        return
    path.write_text(
        "# Development settings written by `make run`. Not for production: see README.\n"
        "DJANGO_DEBUG=true\n"
        f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
        f"TALLYFY_TOKEN_KEYS={Fernet.generate_key().decode()}\n"
        "# The local sandbox speaks plain http on loopback.\n"
        "TALLYFY_INSECURE_API_HOSTS=127.0.0.1,localhost\n"
    )
    path.chmod(0o600)
    print(f"Wrote {path} with generated secrets.")


if __name__ == "__main__":
    main()
