"""Where the sandbox's files sit: templates and one-off tasks (some of each archived), runs
(some archived), kick-off and task form fields, comments, links, and who uploaded each file
(the activity feed).

`seed_places` adds a small, fixed set to the demo organization (the tests name its ids);
`populate` adds generated volume: `make run`'s demo and the scan benchmark's organization.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sandbox import listing
from sandbox.store import Store, new_id

TEMPLATE_ID = "71" * 16
ARCHIVED_TEMPLATE_ID = "72" * 16
ARCHIVED_TEMPLATE_FILE = "ab" * 16
ARCHIVED_ONEOFF_TASK = "ac" * 16
ARCHIVED_ONEOFF_FILE = "ad" * 16
KICKOFF_FILE = "a0" * 16
TASK_FILE = "a2" * 16
COMMENT_FILE = "a6" * 16
TEMPLATE_FILE = "a7" * 16
ARCHIVED_FILE = "a8" * 16
ONEOFF_FILE = "a9" * 16
ONBOARDING_RUN = "a1" * 16
AUDIT_RUN = "b2" * 16
ARCHIVED_RUN = "a4" * 16
COLLECT_ID_TASK = "a3" * 16
ONEOFF_TASK = "a5" * 16
COLLECT_ID_STEP = "5e" * 16
GUEST_EMAIL = "jane.guest@example.com"
MEMBER_EMAIL = "olivia.ops@example.com"
LINK_URL = "https://drive.example.com/offer-letter"


def _at(days_ago: float) -> str:
    moment = datetime(2025, 6, 1, 9, 0, tzinfo=UTC) - timedelta(days=days_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _file(
    store: Store,
    *,
    org_id: str,
    name: str,
    subject_type: str,
    subject_id: str,
    at: str,
    uploader: tuple[str, str],
    run_id: str | None,
    asset_id: str | None = None,
    step_id: str | None = None,
    uploaded_from: str = "ko_field",
    size: int = 2048,
    task_id: str | None = None,
    template_id: str | None = None,
    in_feed: bool = True,
    feed_shape: str | None = None,
) -> str:
    """A stored file and, unless `in_feed` is false, its upload entry in the activity feed,
    naming its task, else its run, else its template as the parent."""
    asset = store.add_asset(
        org_id=org_id,
        asset_id=asset_id,
        filename=name,
        content_type="application/octet-stream",
        size=size,
        subject_type=subject_type,
        subject_id=subject_id,
        step_id=step_id,
        uploaded_from=uploaded_from,
        uploaded_at=at,
    )
    if in_feed:
        listing.feed_add(
            store,
            org_id=org_id,
            actor_email=uploader[0],
            actor_type=uploader[1],
            asset_id=asset.asset_id,
            run_id=run_id,
            filename=name,
            created_at=at,
            task_id=task_id,
            template_id=template_id,
            shape=feed_shape,
        )
    return asset.asset_id


def seed_places(store: Store, *, org_id: str) -> None:
    """One file in each place the index must find, on runs a1 and b2 of the demo seed."""
    member, guest = (MEMBER_EMAIL, "member"), (GUEST_EMAIL, "guest")
    listing.template_add(store, org_id=org_id, template_id=TEMPLATE_ID, title="Employee onboarding")
    listing.run_details_set(
        store,
        run_id=ONBOARDING_RUN,
        status="active",
        created_at=_at(30),
        checklist_id=TEMPLATE_ID,
    )
    listing.run_details_set(store, run_id=AUDIT_RUN, status="complete", created_at=_at(20))
    _file(
        store,
        org_id=org_id,
        asset_id=TEMPLATE_FILE,
        name="handbook.pdf",
        subject_type="Checklist",
        subject_id=TEMPLATE_ID,
        at=_at(90),
        uploader=member,
        run_id=None,
        uploaded_from="template",
        template_id=TEMPLATE_ID,
    )
    kickoff = _file(
        store,
        org_id=org_id,
        asset_id=KICKOFF_FILE,
        name="contract_signed.pdf",
        subject_type="Checklist",
        subject_id=TEMPLATE_ID,
        at=_at(30),
        uploader=member,
        run_id=ONBOARDING_RUN,
    )
    listing.field_value_add(store, owner_id=ONBOARDING_RUN, field_id="contract", asset_id=kickoff)
    listing.field_value_add(
        store,
        owner_id=ONBOARDING_RUN,
        field_id="contract",
        link_url=LINK_URL,
        link_name="Offer letter (Drive)",
    )
    listing.task_add(
        store,
        org_id=org_id,
        task_id=COLLECT_ID_TASK,
        run_id=ONBOARDING_RUN,
        step_id=COLLECT_ID_STEP,
        title="Collect ID",
        created_at=_at(29),
        completed_at=_at(28),
    )
    listing.task_guest_add(store, task_id=COLLECT_ID_TASK, email=GUEST_EMAIL)
    task_file = _file(
        store,
        org_id=org_id,
        asset_id=TASK_FILE,
        name="Führerschein_scan.jpg",
        subject_type="Run",
        subject_id=ONBOARDING_RUN,
        step_id=COLLECT_ID_STEP,
        at=_at(28),
        uploader=guest,
        run_id=ONBOARDING_RUN,
        uploaded_from="capture_id",
        task_id=COLLECT_ID_TASK,
        feed_shape="auditable",
    )
    listing.field_value_add(store, owner_id=COLLECT_ID_TASK, field_id="id_scan", asset_id=task_file)
    _file(
        store,
        org_id=org_id,
        asset_id=COMMENT_FILE,
        name="comment_photo.jpg",
        subject_type="Run",
        subject_id=ONBOARDING_RUN,
        step_id=COLLECT_ID_STEP,
        at=_at(27),
        uploader=guest,
        run_id=ONBOARDING_RUN,
        uploaded_from="comment",
        task_id=COLLECT_ID_TASK,
        feed_shape="parent",  # its entry names only the task, and the file by name
    )
    store.add_run(org_id=org_id, name="Offboarding: John Roe", run_id=ARCHIVED_RUN)
    listing.run_details_set(
        store, run_id=ARCHIVED_RUN, status="complete", created_at=_at(60), archived_at=_at(40)
    )
    _file(
        store,
        org_id=org_id,
        asset_id=ARCHIVED_FILE,
        name="exit_interview.docx",
        subject_type="Run",
        subject_id=ARCHIVED_RUN,
        at=_at(59),
        uploader=member,
        run_id=ARCHIVED_RUN,
    )
    listing.task_add(
        store,
        org_id=org_id,
        task_id=ONEOFF_TASK,
        title="Send NDA",
        is_oneoff=True,
        created_at=_at(10),
        completed_at=_at(9),
    )
    # Assigned to the guest, who uploaded nothing to it: only the guest's tasks find its file.
    listing.task_guest_add(store, task_id=ONEOFF_TASK, email=GUEST_EMAIL)
    _file(
        store,
        org_id=org_id,
        asset_id=ONEOFF_FILE,
        name="nda_signed.pdf",
        subject_type="Task",
        subject_id=ONEOFF_TASK,
        at=_at(9),
        uploader=member,
        run_id=None,
        task_id=ONEOFF_TASK,
    )
    _archived_places(store, org_id=org_id, uploader=member)


def _archived_places(store: Store, *, org_id: str, uploader: tuple[str, str]) -> None:
    """An archived template and an archived one-off task, each with a file: Tallyfy lists
    them only under `archived=only`."""
    listing.template_add(
        store,
        org_id=org_id,
        template_id=ARCHIVED_TEMPLATE_ID,
        title="Onboarding (2023 edition)",
        archived_at=_at(200),
    )
    _file(
        store,
        org_id=org_id,
        asset_id=ARCHIVED_TEMPLATE_FILE,
        name="handbook_2023.pdf",
        subject_type="Checklist",
        subject_id=ARCHIVED_TEMPLATE_ID,
        at=_at(500),
        uploader=uploader,
        run_id=None,
        uploaded_from="template",
        template_id=ARCHIVED_TEMPLATE_ID,
    )
    listing.task_add(
        store,
        org_id=org_id,
        task_id=ARCHIVED_ONEOFF_TASK,
        title="Collect old W-9",
        is_oneoff=True,
        created_at=_at(300),
        archived_at=_at(250),
    )
    _file(
        store,
        org_id=org_id,
        asset_id=ARCHIVED_ONEOFF_FILE,
        name="w9_2024.pdf",
        subject_type="Task",
        subject_id=ARCHIVED_ONEOFF_TASK,
        at=_at(299),
        uploader=uploader,
        run_id=None,
        task_id=ARCHIVED_ONEOFF_TASK,
    )


_TEMPLATES = [
    "Client onboarding",
    "Vendor due diligence",
    "Expense approval",
    "Contract renewal",
    "Incident report",
    "Hiring: engineering",
    "Audit evidence",
    "Offboarding",
]
_PEOPLE = ["Jane Doe", "John Roe", "Zoë Martín", "Ana Lima", "Björn Åberg", "Chen Wei", "Olu Ade"]
_FILE_NAMES = [
    "passport_scan.png",
    "signed_contract.pdf",
    "invoice_{n}.pdf",
    "bank_details.xlsx",
    "Résumé_{p}.pdf",
    "photo_id_{n}.jpg",
    "meeting_notes.docx",
    "tax_form_W9.pdf",
    "évaluation_{n}.pdf",
    "receipt_{n}.png",
]
_MEMBERS = ["olivia.ops@example.com", "sam.finance@example.com", "lee.hr@example.com"]
_GUESTS = [f"guest{n}@client{n}.example" for n in range(1, 6)]


def populate(
    store: Store,
    *,
    org_id: str,
    runs: int,
    files: int,
    archived_share: float = 0.1,
    oneoff_tasks: int = 20,
    seed: int = 1,
    unrecorded_share: float = 0.02,
) -> None:
    """Generated volume: `runs` runs (a share archived) holding about `files` files, in
    kick-off fields, task fields and comments, plus templates' and one-off tasks' files.
    Tasks of completed runs are completed, and about half of the others; `unrecorded_share`
    of the uploads have no entry in the activity feed."""
    rng = random.Random(seed)
    extra = random.Random(seed + 1)  # apart, so `rng` draws what it always drew
    templates = []
    for number, title in enumerate(_TEMPLATES):
        template_id = new_id()
        # The last two are archived since (their runs and files stay).
        archived_at = _at(100) if number >= len(_TEMPLATES) - 2 else None
        listing.template_add(
            store, org_id=org_id, template_id=template_id, title=title, archived_at=archived_at
        )
        templates.append((template_id, title))
        for _ in range(rng.randint(0, 2)):
            _file(
                store,
                org_id=org_id,
                name=f"{title.split(':')[0].lower().replace(' ', '_')}_guide.pdf",
                subject_type="Checklist",
                subject_id=template_id,
                at=_at(400 + rng.random() * 100),
                uploader=(_MEMBERS[0], "member"),
                run_id=None,
                uploaded_from="template",
                template_id=template_id,
                in_feed=extra.random() >= unrecorded_share,
            )
    for number in range(runs):
        template_id, title = rng.choice(templates)
        person = rng.choice(_PEOPLE)
        run_id = store.add_run(org_id=org_id, name=f"{title}: {person} #{number + 1}")
        age = 365 * (1 - number / max(runs, 1)) + rng.random()
        archived = rng.random() < archived_share
        status = rng.choice(["active", "complete", "complete", "problem"])
        listing.run_details_set(
            store,
            run_id=run_id,
            status=status,
            created_at=_at(age),
            archived_at=_at(age / 2) if archived else None,
            checklist_id=template_id,
        )
        steps = [new_id() for _ in range(2)]
        task_ids = []
        for index, step_id in enumerate(steps):
            task_id = new_id()
            listing.task_add(
                store,
                org_id=org_id,
                task_id=task_id,
                run_id=run_id,
                step_id=step_id,
                title=["Collect documents", "Review and sign"][index],
                created_at=_at(age),
                completed_at=_at(age - 0.5)
                if status == "complete" or extra.random() < 0.5
                else None,
            )
            task_ids.append(task_id)
        count = files // runs + (1 if number < files % runs else 0)
        for _ in range(count):
            name = rng.choice(_FILE_NAMES).format(n=rng.randint(100, 999), p=person.split()[0])
            guest = rng.random() < 0.3
            uploader = (rng.choice(_GUESTS), "guest") if guest else (rng.choice(_MEMBERS), "member")
            at = _at(age - rng.random())
            place = rng.random()
            if place < 0.25:
                asset_id = _file(
                    store,
                    org_id=org_id,
                    name=name,
                    subject_type="Checklist",
                    subject_id=template_id,
                    at=at,
                    uploader=uploader,
                    run_id=run_id,
                    in_feed=extra.random() >= unrecorded_share,
                )
                listing.field_value_add(
                    store, owner_id=run_id, field_id="ko_docs", asset_id=asset_id
                )
                continue
            index = rng.randrange(len(steps))
            asset_id = _file(
                store,
                org_id=org_id,
                name=name,
                subject_type="Run",
                subject_id=run_id,
                step_id=steps[index],
                at=at,
                uploader=uploader,
                run_id=run_id,
                uploaded_from="comment" if place > 0.85 else "capture_id",
                task_id=task_ids[index],
                in_feed=extra.random() >= unrecorded_share,
            )
            if guest:  # a guest uploads to the tasks assigned to them
                listing.task_guest_add(store, task_id=task_ids[index], email=uploader[0])
            if place <= 0.85:
                listing.field_value_add(
                    store, owner_id=task_ids[index], field_id="upload", asset_id=asset_id
                )
        if rng.random() < 0.05:
            listing.field_value_add(
                store,
                owner_id=run_id,
                field_id="ko_link",
                link_url=f"https://drive.example.com/{run_id[:8]}",
                link_name="Shared folder",
            )
    for number in range(oneoff_tasks):
        task_id = new_id()
        age = rng.random() * 200
        listing.task_add(
            store,
            org_id=org_id,
            task_id=task_id,
            title=f"One-off: request #{number + 1}",
            is_oneoff=True,
            created_at=_at(age),
            archived_at=_at(age / 2) if rng.random() < archived_share else None,
            completed_at=_at(age / 3) if extra.random() < 0.5 else None,
        )
        name = rng.choice(_FILE_NAMES).format(n=rng.randint(100, 999), p="guest")
        guest = rng.choice(_GUESTS)  # drawn after the name, as it always was
        listing.task_guest_add(store, task_id=task_id, email=guest)
        _file(
            store,
            org_id=org_id,
            name=name,
            subject_type="Task",
            subject_id=task_id,
            at=_at(age),
            uploader=(guest, "guest"),
            run_id=None,
            task_id=task_id,
            in_feed=extra.random() >= unrecorded_share,
        )


def generate_organization(
    store: Store, *, runs: int = 2000, files: int = 10_000, name: str = "Generated"
) -> tuple[str, str]:
    """A fresh organization of `runs` runs and about `files` files: its id and token."""
    org_id, token = new_id(), new_id()
    store.add_organization(org_id=org_id, name=name, token=token)
    populate(store, org_id=org_id, runs=runs, files=files, oneoff_tasks=0)
    return org_id, token
