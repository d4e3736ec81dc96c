"""Write a development `.env` with fresh secrets, once; later runs keep it.

`python scripts/init_env.py [PATH] [SANDBOX_PORT]`
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

from cryptography.fernet import Fernet


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0] if args else ".env")
    sandbox_port = int(args[1]) if len(args) > 1 else 8001
    try:
        # Private from its first byte (no chmod afterwards), and never through a symlink.
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(descriptor, "w") as env_file:
        env_file.write(
            "# Development settings written by `make run`. Not for production: see README.\n"
            "DJANGO_DEBUG=true\n"
            f"DJANGO_SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"TALLYFY_TOKEN_KEYS={Fernet.generate_key().decode()}\n"
            "# The local sandbox speaks plain http on loopback, on this port only.\n"
            f"TALLYFY_INSECURE_API_HOSTS=127.0.0.1:{sandbox_port},localhost:{sandbox_port}\n"
        )
    print(f"Wrote {path} with generated secrets.")


if __name__ == "__main__":
    main()
