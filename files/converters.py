from __future__ import annotations

from tallyfy_api.ids import ID_PATTERN


class TallyfyIdConverter:
    regex = ID_PATTERN

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
