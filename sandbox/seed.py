"""The demo data a fresh sandbox starts with: one organization, its runs and files."""

from __future__ import annotations

import struct
import zlib

from sandbox.places import seed_places
from sandbox.store import Store

DEMO_ORG_ID = "5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d"
DEMO_ORG_NAME = "Sandbox"
DEMO_TOKEN = "sandbox-demo-token"
OTHER_ORG_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
OTHER_TOKEN = "sandbox-other-token"
LARGE_FILE_BYTES = 40 * 1024 * 1024


def png_bytes(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid solid-colour PNG, made without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    row = b"\x00" + bytes(rgb) * width
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(row * height))
        + chunk(b"IEND", b"")
    )


def gif_bytes() -> bytes:
    return bytes.fromhex(
        "47494638396101000100800000ffffff00000021f90401000000002c00000000010001000002024401003b"
    )


def pdf_bytes(text: str) -> bytes:
    stream = f"BT /F1 24 Tf 72 720 Td ({text}) Tj ET".encode()
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def seed(store: Store) -> None:
    store.add_organization(org_id=DEMO_ORG_ID, name=DEMO_ORG_NAME, token=DEMO_TOKEN)
    store.add_organization(org_id=OTHER_ORG_ID, name="Another organization", token=OTHER_TOKEN)
    onboarding = store.add_run(org_id=DEMO_ORG_ID, name="Onboarding: Jane Doe", run_id="a1" * 16)
    audit = store.add_run(org_id=DEMO_ORG_ID, name="Quarterly audit Q1", run_id="b2" * 16)
    files = [
        ("c0" * 16, "report_q1.pdf", "application/pdf", pdf_bytes("Quarterly report Q1"), audit),
        (
            "c1" * 16,
            "Rapport_été_2024.pdf",
            "application/pdf",
            pdf_bytes("Rapport ete 2024"),
            audit,
        ),
        (
            "c2" * 16,
            "passport_scan.png",
            "image/png",
            png_bytes(320, 200, (30, 110, 180)),
            onboarding,
        ),
        ("c3" * 16, "signature.gif", "image/gif", gif_bytes(), onboarding),
        (
            "c4" * 16,
            "notes.txt",
            "text/plain",
            b"Call notes: Jane starts on Monday.\n",
            onboarding,
        ),
        (
            "c5" * 16,
            "salaries.csv",
            "text/csv",
            b"name,salary\nJane Doe,52000\nJohn Roe,48000\n",
            audit,
        ),
        (
            "c6" * 16,
            "payroll.xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            b"PK\x03\x04" + b"\0" * 2000,
            audit,
        ),
        ("c7" * 16, "page.html", "text/html", b"<script>alert('not in the panel')</script>", audit),
    ]
    for asset_id, name, content_type, content, run_id in files:
        store.add_asset(
            asset_id=asset_id,
            org_id=DEMO_ORG_ID,
            filename=name,
            content_type=content_type,
            content=content,
            subject_type="Run",
            subject_id=run_id,
        )
    store.add_asset(
        asset_id="d0" * 16,
        org_id=DEMO_ORG_ID,
        filename="archive_2023.zip",
        content_type="application/zip",
        size=LARGE_FILE_BYTES,
        subject_type="Run",
        subject_id=audit,
    )
    store.add_asset(
        asset_id="e0" * 16,
        org_id=DEMO_ORG_ID,
        filename="logo.png",
        content_type="image/png",
        content=png_bytes(64, 64, (200, 60, 60)),
        subject_type="Organization",
        subject_id=DEMO_ORG_ID,
        uploaded_from="logo",
    )
    store.add_asset(
        asset_id="f0" * 16,
        org_id=OTHER_ORG_ID,
        filename="other.txt",
        content_type="text/plain",
        content=b"another organization's file\n",
        subject_type="Run",
        subject_id="f1" * 16,
    )
    seed_places(store, org_id=DEMO_ORG_ID)
