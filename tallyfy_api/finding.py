"""Where files sit in Tallyfy's runs, tasks, templates and activity feed, read defensively.

No endpoint lists an organization's files; they are reached through their parents. The
shapes below are partly undocumented (see the API notes, "Finding files"), so every reader
accepts each variant the sources show and skips what it cannot read rather than failing:
- an `assets` include as `{"data": [...]}`, a bare list, `{"data": null}` or absent;
- a file form field's value as a list of objects or one object, in `taskdata` (keyed by
  capture id), `prerun` (an object keyed by field id, or a list of fields) and
  `form_fields.data[]` (`value` or `field_value`);
- `source: "url"` entries, which are links to elsewhere, not Tallyfy files.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tallyfy_api.ids import ID_PATTERN, is_valid_id

_FILE_URL = re.compile(rf"\borganizations/{ID_PATTERN}/(?:file|assets)/(?P<id>{ID_PATTERN})")


@dataclass(frozen=True)
class FoundFile:
    """One file (or link) found in a parent. `key` is the asset id, or for a link a digest
    of its URL, so that a link has a stable identity too."""

    key: str
    asset_id: str
    filename: str
    is_link: bool
    url: str
    uploaded_at: datetime | None
    subject_type: str
    subject_id: str
    step_id: str
    raw: dict[str, Any] = field(repr=False, compare=False)


@dataclass(frozen=True)
class Upload:
    """An `uploaded` entry of the activity feed. `asset_id` is empty when the entry names no
    file (where it would is undocumented); the parent it names (`task_id`, `run_id`,
    `template_id`) and `filename` then help match it."""

    asset_id: str
    actor_email: str
    actor_type: str
    at: datetime | None
    run_id: str
    filename: str
    task_id: str = ""
    template_id: str = ""


def parse_timestamp(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace(" ", "T", 1))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _text(value: Any) -> str:
    if isinstance(value, list):  # some feed fields come as one-element arrays
        value = value[0] if value else None
    if value is None or isinstance(value, dict | list):
        return ""
    return str(value)


def included(value: Any) -> list[dict[str, Any]]:
    """A Fractal include as a list: `{"data": [...]}`, `{"data": {...}}`, a bare list, or
    nothing."""
    if isinstance(value, dict):
        value = value.get("data")
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, dict)]
    return []


def _looks_like_file(value: dict[str, Any]) -> bool:
    has_name = bool(value.get("filename") or value.get("name"))
    has_place = any(value.get(key) for key in ("id", "url", "full_url"))
    return (has_name and has_place) or value.get("source") == "url"


def file_values(value: Any) -> list[dict[str, Any]]:
    """A file field's value (a list of file objects, or one) as a list; other values give []."""
    if isinstance(value, dict):
        value = [value]
    if not isinstance(value, list):
        return []
    return [item for item in value if isinstance(item, dict) and _looks_like_file(item)]


def _asset_id_of(value: dict[str, Any]) -> str:
    candidate = _text(value.get("id"))
    if candidate and is_valid_id(candidate):
        return candidate
    for key in ("url", "full_url"):
        match = _FILE_URL.search(_text(value.get(key)))
        if match:
            return match["id"]
    return ""


def found_file(value: dict[str, Any]) -> FoundFile | None:
    """One asset object or file-field value as a FoundFile; None when it names no file."""
    subject = value.get("subject") if isinstance(value.get("subject"), dict) else {}
    is_link = value.get("source") == "url"
    url = _text(value.get("full_url")) or _text(value.get("url")) or _text(value.get("link"))
    asset_id = "" if is_link else _asset_id_of(value)
    if is_link:
        if not url:
            return None
        key = "link-" + hashlib.sha256(url.encode()).hexdigest()[:32]
    elif asset_id:
        key = asset_id
    else:
        return None
    return FoundFile(
        key=key,
        asset_id=asset_id,
        filename=_text(value.get("filename")) or _text(value.get("name")),
        is_link=is_link,
        url=url,
        uploaded_at=parse_timestamp(value.get("uploaded_at")),
        subject_type=_text(subject.get("type")),
        subject_id=_text(subject.get("id")),
        step_id=_text(value.get("step_id")),
        raw=value,
    )


def _found(values: list[dict[str, Any]]) -> list[FoundFile]:
    return [found for value in values if (found := found_file(value)) is not None]


def _form_field_values(field_value: dict[str, Any]) -> list[dict[str, Any]]:
    values = file_values(field_value.get("value")) + file_values(field_value.get("field_value"))
    if not values and field_value.get("field_type") == "file":
        values = file_values(field_value.get("answer"))
    return values


def files_in_form(values: Any) -> list[FoundFile]:
    """Files in form values: an object keyed by field id (`taskdata`, `prerun`), a list of
    fields (`{id, field_type, value, field_value}`), or a Fractal `form_fields` include."""
    if isinstance(values, dict) and "data" in values and len(values) <= 2:
        values = included(values)
    found: list[dict[str, Any]] = []
    if isinstance(values, dict):
        for value in values.values():
            if isinstance(value, dict) and ("field_type" in value or "field_value" in value):
                found += _form_field_values(value)
            else:
                found += file_values(value)
    elif isinstance(values, list):
        for item in values:
            if isinstance(item, dict):
                found += _form_field_values(item)
    return _found(found)


def _unique(found: list[FoundFile]) -> list[FoundFile]:
    seen: dict[str, FoundFile] = {}
    for item in found:
        # The asset object (with `uploaded_at`, `subject`) says more than a field value does.
        if item.key not in seen or (item.uploaded_at and not seen[item.key].uploaded_at):
            seen[item.key] = item
    return list(seen.values())


def files_of_run(run: dict[str, Any]) -> list[FoundFile]:
    """A run's own files (`assets` include) and its kick-off form's (`prerun`)."""
    return _unique(_found(included(run.get("assets"))) + files_in_form(run.get("prerun")))


def kickoff_keys(run: dict[str, Any]) -> set[str]:
    return {found.key for found in files_in_form(run.get("prerun"))}


def files_of_task(task: dict[str, Any]) -> list[FoundFile]:
    """A task's files: `assets` include, `taskdata` values, `form_fields` values."""
    return _unique(
        _found(included(task.get("assets")))
        + files_in_form(task.get("taskdata"))
        + files_in_form(task.get("form_fields"))
    )


def files_of_template(checklist: dict[str, Any]) -> list[FoundFile]:
    return _unique(
        _found(included(checklist.get("assets"))) + files_in_form(checklist.get("prerun"))
    )


# Where an entry may name its file, or the file's parent, as `<key>_type`/`<key>_id` or as a
# nested object `{type, id, …}` under `<key>` (the API notes: nothing documents which).
_ENTRY_PLACES = ("auditable", "entity", "object", "asset", "subject", "file", "parentable")
_FILE_KINDS = {"asset", "file", "attachment", "upload"}
_PARENT_KINDS = {
    "task": "task_id",
    "run": "run_id",
    "process": "run_id",
    "checklist": "template_id",
    "blueprint": "template_id",
    "template": "template_id",
}


def _kind(value: Any) -> str:
    """`App\\Models\\Task`, `task`, `Task` → `task`."""
    return _text(value).rsplit("\\", 1)[-1].lower()


def _named_in(entry: dict[str, Any]) -> tuple[str, str, dict[str, str]]:
    """The file id, the file name and the parents (`task_id`, `run_id`, `template_id`) an
    entry names, wherever it names them."""
    asset_id, filename, parents = "", "", {}
    for place in _ENTRY_PLACES:
        nested = entry.get(place)
        pairs = [(entry.get(f"{place}_type"), entry.get(f"{place}_id"), None)]
        if isinstance(nested, dict):
            pairs.append((nested.get("type"), nested.get("id"), nested))
        for kind_value, id_value, holder in pairs:
            kind, named = _kind(kind_value), _text(id_value)
            if not named:
                continue
            if kind in _FILE_KINDS or (not kind and holder and _looks_like_file(holder)):
                asset_id = asset_id or named
                if holder:
                    filename = filename or _text(holder.get("filename") or holder.get("name"))
            elif kind in _PARENT_KINDS:
                parents.setdefault(_PARENT_KINDS[kind], named)
    return asset_id, filename, parents


def upload_of_entry(entry: dict[str, Any]) -> Upload:
    """An activity-feed entry of verb `uploaded`. The file id is looked for where it could
    plausibly be: an asset-typed `auditable_*`, `entity_*` or `object_*`, a nested object
    (`object`, `asset`, `subject`, `entity`, …) with an id, `asset_id`/`file_id` keys,
    `references`, and a file URL in the text. The parents named the same ways (a task, a run,
    a template) are kept to match an entry that names no file."""
    asset_id, nested_name, parents = _named_in(entry)
    for key in ("asset_id", "file_id"):
        asset_id = asset_id or _text(entry.get(key))
    references = entry.get("references")
    for reference in references if isinstance(references, list) else [references]:
        if asset_id:
            break
        if isinstance(reference, dict):
            kind = _kind(reference.get("type"))
            if kind in _FILE_KINDS or "asset" in kind or "file" in kind:
                asset_id = _text(reference.get("id"))
            elif found := found_file(reference):
                asset_id = found.asset_id
    texts = " ".join(_text(entry.get(key)) for key in ("text", "description", "url"))
    if not asset_id and (match := _FILE_URL.search(texts)):
        asset_id = match["id"]
    if asset_id and not is_valid_id(asset_id):
        asset_id = ""
    parents = {key: value for key, value in parents.items() if is_valid_id(value)}
    actor = entry.get("actor")
    actor = actor[0] if isinstance(actor, list) and actor else actor
    actor = actor if isinstance(actor, dict) else {}
    return Upload(
        asset_id=asset_id,
        actor_email=(_text(entry.get("actor_email")) or _text(actor.get("email"))).lower(),
        actor_type=(_text(entry.get("actor_type")) or _text(actor.get("type"))).lower(),
        at=parse_timestamp(_text(entry.get("created_at"))),
        run_id=parents.get("run_id", ""),
        filename=_text(entry.get("filename")) or _text(entry.get("file_name")) or nested_name,
        task_id=parents.get("task_id", ""),
        template_id=parents.get("template_id", ""),
    )
