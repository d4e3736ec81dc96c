"""The files a job is asked to delete: file ids or Tallyfy file URLs, pasted or from a CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from tallyfy_api.ids import InvalidId, parse_file_reference

ID_COLUMNS = ("id", "file id", "file_id", "asset id", "asset_id", "url", "file url", "file_url")


@dataclass(frozen=True)
class BadLine:
    line: int
    text: str
    reason: str


@dataclass(frozen=True)
class WantedFile:
    line: int
    asset_id: str
    org_id: str | None  # the organization a pasted URL names, if it names one


@dataclass
class ParsedFiles:
    files: list[WantedFile] = field(default_factory=list)
    bad: list[BadLine] = field(default_factory=list)
    duplicates: int = 0
    _ids: set[str] = field(default_factory=set, repr=False)

    def add(self, line: int, text: str) -> None:
        text = text.strip()
        if not text:
            return
        try:
            reference = parse_file_reference(text)
        except InvalidId as exc:
            self.bad.append(BadLine(line, text[:200], str(exc)))
            return
        if reference.asset_id in self._ids:
            self.duplicates += 1
            return
        self._ids.add(reference.asset_id)
        self.files.append(WantedFile(line, reference.asset_id, reference.org_id))


def files_from_text(text: str) -> ParsedFiles:
    """One file id or Tallyfy file URL a line; blank lines are skipped, repeats merged."""
    parsed = ParsedFiles()
    for number, line in enumerate(text.splitlines(), start=1):
        parsed.add(number, line)
    return parsed


def files_from_csv(data: bytes) -> ParsedFiles:
    """The id or URL column of a CSV file (found by its header), or its only column."""
    parsed = ParsedFiles()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        parsed.bad.append(BadLine(0, "", "The file is not UTF-8 text: save the CSV as UTF-8."))
        return parsed
    reader = csv.reader(io.StringIO(text))
    try:
        rows = list(reader)
    except csv.Error as exc:  # a field over the csv module's limit, a NUL, …
        line = reader.line_num
        parsed.bad.append(BadLine(line, "", f"Line {line} cannot be read as CSV: {exc}."))
        return parsed
    if not rows:
        return parsed
    header = [cell.strip().lower() for cell in rows[0]]
    column = next((header.index(name) for name in ID_COLUMNS if name in header), None)
    first_data_row = 2
    if column is None:
        if max(len(row) for row in rows) > 1:
            parsed.bad.append(
                BadLine(1, ",".join(rows[0])[:200], "No column named id or url in the header.")
            )
            return parsed
        column, first_data_row = 0, 1
    for number, row in enumerate(rows[first_data_row - 1 :], start=first_data_row):
        parsed.add(number, row[column] if column < len(row) else "")
    return parsed
