"""The deletion jobs' settings (see app_settings for how each is read)."""

from __future__ import annotations

from app_settings import Setting, env


class JobsSettings:
    JOBS_MAX_FILES = Setting(env.int, 10_000)
    # A user's jobs confirmed within this window to delete more files than the threshold, all
    # counted together, wait for a second staff user's approval.
    JOBS_APPROVAL_THRESHOLD = Setting(env.int, 25)
    JOBS_APPROVAL_WINDOW_SECONDS = Setting(env.int, 24 * 60 * 60)
    # Files of one job a worker deletes at once: enough requests in flight to reach the rate
    # limit when Tallyfy is far away (at 600 a minute and 200 ms a call, one at a time gives 300).
    JOBS_FILES_IN_FLIGHT = Setting(env.int, 4)
    JOBS_HEARTBEAT_SECONDS = Setting(env.float, 5.0)
    # A worker whose heartbeat the database has not seen for this long is taken for dead: its
    # files go to another worker. At least twice TALLYFY_CALL_DEADLINE, so that a worker starts
    # no call to Tallyfy that could outlast its claim (jobs.machine.call_margin, jobs.checks).
    JOBS_WORKER_TIMEOUT_SECONDS = Setting(env.float, 60.0)
    JOBS_SWEEP_SECONDS = Setting(env.float, 10.0)
    # A worker's pass over one job lasts at most this long; then the job goes to the back of
    # the queue, so that jobs waiting for a worker take turns.
    JOBS_SLICE_SECONDS = Setting(env.float, 20.0)
    # Failure policy. A file whose metadata read or DELETE got no clear answer (timeout, 5xx,
    # unreachable) is tried again after a backoff from this many seconds, doubling each time.
    JOBS_RETRY_BACKOFF_SECONDS = Setting(env.float, 30.0)
    # A job pauses itself when this many of its files in a row failed so, or more than this
    # share of its last JOBS_FAILURE_WINDOW files.
    JOBS_PAUSE_AFTER_FAILURES_IN_A_ROW = Setting(env.int, 10)
    JOBS_PAUSE_AT_FAILURE_SHARE = Setting(env.float, 0.2)
    JOBS_FAILURE_WINDOW = Setting(env.int, 50)
    # Reads of a file's metadata a preview tries before it calls the file unreadable.
    JOBS_PREVIEW_ATTEMPTS = Setting(env.int, 3)
    # How old (on the database's clock) a file's metadata read by the preview may be and still
    # stand as its log row's snapshot, so that the DELETE goes without a second read; older,
    # the file is read again. At the shared 600 calls a minute a job deleted straight after its
    # preview reaches each file about files/10 seconds after reading it, so 600 covers jobs of
    # up to some 6,000 files, while a job that waited for confirmation or approval reads again.
    # 0 always reads again.
    JOBS_SNAPSHOT_MAX_AGE_SECONDS = Setting(env.float, 600.0)


conf = JobsSettings()
