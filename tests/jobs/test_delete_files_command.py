"""`manage.py delete_files` against the sandbox, with `jobs.work.job_work` driving the job
(in this process when no worker takes it)."""

from __future__ import annotations

import threading
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse

from files.models import DeletionState, FileDeletion
from jobs import work
from jobs.models import DeletionJob, FileState, JobState
from organizations.models import Organization
from tests.fixtures.accounts import make_staff
from tests.fixtures.organizations import make_organization
from tests.fixtures.sandbox import Sandbox

pytestmark = [pytest.mark.over_the_wire, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice() -> User:
    return make_staff("alice", "lookup_file", "delete_file")


def ids_file(tmp_path: Path, lines: list[str], name: str = "ids.txt") -> str:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def run(
    ids: str, *extra: str, organization: str = "Sandbox", user: str = "alice"
) -> tuple[int, str, str]:
    """The command's exit status, stdout and stderr."""
    out, err = StringIO(), StringIO()
    args = ["--organization", organization, "--ids-file", ids, "--reason", "GDPR-9"]
    try:
        call_command(
            "delete_files",
            *args,
            "--user",
            user,
            "--worker-wait",
            "0",
            *extra,
            stdout=out,
            stderr=err,
        )
    except SystemExit as exc:
        return int(exc.code or 0), out.getvalue(), err.getvalue()
    return 0, out.getvalue(), err.getvalue()


def deletes_sent(sandbox: Sandbox) -> list[str]:
    return [r["path"].rsplit("/", 1)[-1] for r in sandbox.requests() if r["method"] == "DELETE"]


def test_yes_deletes_every_file_and_exits_0(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    files = [sandbox.add_file(filename=f"cli{n}.txt") for n in range(3)]
    status, out, _ = run(ids_file(tmp_path, [f.asset_id for f in files]), "--yes")
    assert status == 0
    assert "doing the preview in this process" in out
    assert "cli1.txt" in out  # the preview table
    assert "3 / 3 file(s) done" in out
    assert "finished: 3 deleted." in out
    assert sorted(deletes_sent(sandbox)) == sorted(f.asset_id for f in files)
    job = DeletionJob.objects.get()
    assert (job.state, job.reason, job.created_by) == (JobState.FINISHED, "GDPR-9", alice)
    assert FileDeletion.objects.filter(job_id=job.pk, state=DeletionState.DELETED).count() == 3


def test_dry_run_prints_the_preview_cancels_the_job_and_deletes_nothing(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    present = sandbox.add_file(filename="keep-me.pdf")
    status, out, _ = run(ids_file(tmp_path, [present.asset_id, "9" * 32]), "--dry-run")
    assert status == 0
    assert "keep-me.pdf" in out
    assert "Not found" in out
    assert "Preview: 1 found, 1 not found." in out
    assert "Dry run: nothing was deleted; the job is cancelled." in out
    assert deletes_sent(sandbox) == []
    job = DeletionJob.objects.get()
    assert job.state == JobState.CANCELLED
    assert job.finished_at is not None
    assert sandbox.exists(present.asset_id)


def test_control_characters_in_a_file_name_are_shown_escaped(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    asset = sandbox.add_file(filename="bad\x1b[2Jname.pdf")
    status, out, _ = run(ids_file(tmp_path, [asset.asset_id]), "--dry-run")
    assert status == 0
    assert "\x1b" not in out
    assert "bad\\x1b[2Jname.pdf" in out


def test_typing_the_number_of_files_confirms(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [sandbox.add_file() for _ in range(2)]
    prompts: list[str] = []
    monkeypatch.setattr("builtins.input", lambda prompt: prompts.append(prompt) or "2")
    status, _, _ = run(ids_file(tmp_path, [f.asset_id for f in files]))
    assert status == 0
    assert prompts == ["Type the number of files to delete (2) to confirm: "]
    assert len(deletes_sent(sandbox)) == 2


def test_a_wrong_number_cancels_the_job_and_exits_4(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    files = [sandbox.add_file() for _ in range(2)]
    monkeypatch.setattr("builtins.input", lambda prompt: "3")
    status, _, err = run(ids_file(tmp_path, [f.asset_id for f in files]))
    assert status == 4
    assert "Not confirmed" in err
    assert DeletionJob.objects.get().state == JobState.CANCELLED
    assert deletes_sent(sandbox) == []


def test_no_answer_does_not_confirm(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def closed(prompt: str) -> str:
        raise EOFError

    monkeypatch.setattr("builtins.input", closed)
    status, _, _ = run(ids_file(tmp_path, [sandbox.add_file().asset_id]))
    assert status == 4
    assert deletes_sent(sandbox) == []


def test_nothing_to_delete_exits_4(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    status, out, _ = run(ids_file(tmp_path, ["9" * 32]), "--yes")
    assert status == 4
    assert "Nothing to delete" in out
    assert DeletionJob.objects.get().state == JobState.CANCELLED


def test_a_job_above_the_threshold_waits_for_approval_and_exits_3(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path, settings: object
) -> None:
    settings.JOBS_APPROVAL_THRESHOLD = 1  # type: ignore[attr-defined]
    files = [sandbox.add_file() for _ in range(2)]
    status, out, _ = run(ids_file(tmp_path, [f.asset_id for f in files]), "--yes")
    job = DeletionJob.objects.get()
    assert status == 3
    assert job.state == JobState.AWAITING_APPROVAL
    assert reverse("admin:jobs_detail", args=[job.pk]) in out
    assert "second staff user" in out
    assert deletes_sent(sandbox) == []


def test_a_token_refused_mid_job_pauses_it_and_exits_5_saying_why(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    settings: object,
) -> None:
    settings.JOBS_SNAPSHOT_MAX_AGE_SECONDS = 0  # type: ignore[attr-defined]  # read again: 401
    asset = sandbox.add_file()

    def confirm_then_expire_the_token(prompt: str) -> str:
        sandbox.faults(expired_tokens=True)
        return "1"

    monkeypatch.setattr("builtins.input", confirm_then_expire_the_token)
    status, _out, err = run(ids_file(tmp_path, [asset.asset_id]))
    assert status == 5
    assert "paused before it finished" in err
    assert "401" in err
    assert FileDeletion.objects.count() == 0
    assert sandbox.exists(asset.asset_id)


def test_a_csv_with_an_id_column_is_read(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    asset = sandbox.add_file()
    path = tmp_path / "ids.csv"
    path.write_text(f"name,file id\nthe file,{asset.asset_id}\n")
    status, _, _ = run(str(path), "--yes")
    assert status == 0
    assert deletes_sent(sandbox) == [asset.asset_id]


def test_bad_lines_are_listed_with_their_numbers_and_nothing_is_created(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    ids = ids_file(tmp_path, [sandbox.add_file().asset_id, "not an id!", "", "also/bad"])
    with pytest.raises(CommandError, match="2 line") as raised:
        run(ids, "--yes")
    assert raised.value.returncode == 2
    assert DeletionJob.objects.count() == 0
    assert sandbox.requests() == []


def test_a_csv_field_too_long_to_read_exits_2_with_its_line(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    path = tmp_path / "ids.csv"
    path.write_text("file id\n" + "x" * 200_000 + "\n")
    with pytest.raises(CommandError, match="1 line") as raised:
        run(str(path), "--yes")
    assert raised.value.returncode == 2
    assert DeletionJob.objects.count() == 0


def test_bad_lines_go_to_stderr_with_line_numbers(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    err = StringIO()
    ids = ids_file(tmp_path, ["c" * 32, "not an id!"])
    with pytest.raises(CommandError):
        call_command(
            "delete_files",
            *("--organization", "Sandbox", "--ids-file", ids, "--reason", "r", "--user", "alice"),
            stderr=err,
        )
    assert err.getvalue().startswith("line 2: ")


@pytest.mark.parametrize(
    ("organization", "message"),
    [
        ("Nowhere", "No organization is named 'Nowhere'"),
        ("5a6d1b0f3c2e4d8a9b7c6e5f4a3b2c1d", "names 2"),
    ],
)
def test_an_unknown_or_ambiguous_organization_is_refused(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    tmp_path: Path,
    organization: str,
    message: str,
) -> None:
    # Another organization named like the sandbox's Tallyfy organization id: that id is ambiguous.
    make_organization(base_url=sandbox.base_url, org_id="d" * 32, name=sandbox.org_id)
    with pytest.raises(CommandError, match=message) as raised:
        run(ids_file(tmp_path, ["c" * 32]), "--yes", organization=organization)
    assert raised.value.returncode == 2
    assert DeletionJob.objects.count() == 0


def test_the_organization_can_be_named_by_its_tallyfy_id(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    status, _, _ = run(
        ids_file(tmp_path, [sandbox.add_file().asset_id]), "--yes", organization=sandbox.org_id
    )
    assert status == 0


@pytest.mark.parametrize("who", ["nobody", "viewer", "inactive", "not-staff"])
def test_the_user_must_be_active_staff_allowed_to_delete(
    sandbox: Sandbox, sandbox_org: Organization, tmp_path: Path, who: str
) -> None:
    make_staff("viewer", "lookup_file")
    User.objects.filter(pk=make_staff("inactive", "delete_file").pk).update(is_active=False)
    User.objects.filter(pk=make_staff("not-staff", "delete_file").pk).update(is_staff=False)
    with pytest.raises(CommandError) as raised:
        run(ids_file(tmp_path, ["c" * 32]), "--yes", user=who)
    assert raised.value.returncode == 2
    assert DeletionJob.objects.count() == 0


def test_a_background_worker_that_takes_the_job_does_the_work(
    sandbox: Sandbox, sandbox_org: Organization, alice: User, tmp_path: Path
) -> None:
    """A stand-in for run_worker: it works on whatever job is open, as a woken worker does."""
    files = [sandbox.add_file() for _ in range(2)]
    stop = threading.Event()

    def worker() -> None:
        from django.db import connection

        try:
            while not stop.wait(0.05):
                for job in DeletionJob.objects.filter(
                    state__in=[JobState.PREVIEWING, JobState.SCHEDULED]
                ):
                    work.job_work(job_id=job.pk)
        finally:
            connection.close()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        out, err = StringIO(), StringIO()
        call_command(
            "delete_files",
            *(
                "--organization",
                "Sandbox",
                "--ids-file",
                ids_file(tmp_path, [f.asset_id for f in files]),
            ),
            *("--reason", "r", "--user", "alice", "--yes", "--worker-wait", "30"),
            stdout=out,
            stderr=err,
        )
    finally:
        stop.set()
        thread.join()
    assert "A background worker is doing the preview." in out.getvalue()
    assert "A background worker is doing the deletions." in out.getvalue()
    assert "in this process" not in out.getvalue()
    assert sorted(deletes_sent(sandbox)) == sorted(f.asset_id for f in files)
    assert set(DeletionJob.objects.get().files.values_list("state", flat=True)) == {FileState.DONE}


def test_a_job_cancelled_meanwhile_exits_5(
    sandbox: Sandbox,
    sandbox_org: Organization,
    alice: User,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from jobs import services

    files = [sandbox.add_file() for _ in range(2)]

    original = services.job_confirm

    def confirm_and_cancel(**kwargs: object) -> DeletionJob:
        job = original(**kwargs)  # type: ignore[arg-type]
        return services.job_cancel(job=job)

    monkeypatch.setattr(services, "job_confirm", confirm_and_cancel)
    status, _, err = run(ids_file(tmp_path, [f.asset_id for f in files]), "--yes")
    assert status == 5
    assert "cancelled before it finished" in err
    assert deletes_sent(sandbox) == []
