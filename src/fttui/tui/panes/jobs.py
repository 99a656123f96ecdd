"""Pane 2 — Jobs: the job table, the selected job's details, checkpoints and event log.

Polling: the job list is fetched in a thread worker and the next poll is armed with
``set_timer`` only once that one finished (2 s while a job is active, 10 s when all are
finished, backing off while the provider fails, and skipped while a modal is open). The
selected job's details and events have their own poll on the same pattern.
"""

from __future__ import annotations

import threading
import time
from dataclasses import KW_ONLY, dataclass, field
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from fttui.tui.backend import QUICK_PAGE, event_progress, is_terminal
from fttui.tui.messages import (
    BackendOk,
    BackendProblem,
    JobCheckpoints,
    JobSelected,
    JobsMarked,
)
from fttui.tui.panes.base import Pane
from fttui.tui.poller import Poller
from fttui.tui.widgets.event_log import EventLog, EventPanel
from fttui.tui.widgets.job_table import JobTable, format_time, format_tokens, status_text


# -- the Jobs pane's workers → the Jobs pane ---------------------------------------------
@dataclass
class JobsLoaded(Message):
    """A fresh (or cached) job list; ``jobs`` are plain dicts from ``backend.job_row``.

    ``poll`` marks the job-list poll's own answer: only that one arms the next list poll
    (the selected job's poll and job actions post one-row updates much more often).
    ``read_at`` (``time.monotonic()`` when the read began) lets the pane keep a newer row a
    job action brought over an older one read before it.
    """

    jobs: list[dict[str, Any]]
    _: KW_ONLY
    cached: bool = False
    full: bool = True
    poll: bool = False
    read_at: float | None = None


@dataclass
class Events(Message):
    """New events of the followed job, oldest first (plain dicts).

    ``log`` is the number of the event log they were fetched for: the pane clears its log
    on every selection, and events meant for an older log are dropped.
    """

    job_id: str
    events: list[dict[str, Any]] = field(default_factory=list)
    reset: bool = False
    log: int = 0


@dataclass
class JobsProgress(Message):
    """Job id -> (step, total steps) of training jobs, from their newest events."""

    progress: dict[str, tuple[int, int | None]] = field(default_factory=dict)


#: Seconds between job-list polls.
LIST_ACTIVE, LIST_IDLE = 2.0, 10.0
#: Seconds between polls of the selected job (details + events).
DETAIL_ACTIVE, DETAIL_IDLE = 1.0, 15.0
#: How many events one batch may add to the log (a 10,000-event job shows the newest).
MAX_BATCH = 2000
#: Actions refused in read-only mode.
READ_ONLY_ACTIONS = frozenset({"cancel", "create", "pause"})
#: Statuses whose step the Status column shows, and how many jobs a list poll asks.
TRAINING = frozenset({"running", "paused"})
MAX_PROGRESS = 10
#: Statuses that can be paused / resumed.
PAUSABLE = frozenset({"running"})


def details_text(job: dict[str, Any] | None, checkpoints: list[dict[str, Any]] | None) -> Text:
    """The details panel for one job (plain data in, Rich text out)."""
    if not job:
        return Text("No job selected.\n\nn creates one · r refreshes", style="dim")
    t = Text()
    t.append(job.get("id") or "?", style="bold")
    t.append("  ")
    t.append_text(status_text(job.get("status")))
    t.append("\n\n")

    def row(label: str, value: Any, style: str = "") -> None:
        if value in (None, "", [], {}):
            return
        t.append(f"{label:<13}", style="dim")
        t.append(str(value), style=style)
        t.append("\n")

    row("Model", job.get("model"))
    row("Fine-tuned", job.get("fine_tuned_model"), "bold green")
    row("Created", format_time(job.get("created_at")))
    row("Finished", format_time(job.get("finished_at")) if job.get("finished_at") else None)
    if job.get("estimated_finish") and not is_terminal(job.get("status")):
        row("Est. finish", format_time(job.get("estimated_finish")))
    row(
        "Trained tok.",
        format_tokens(job.get("trained_tokens")) if job.get("trained_tokens") else None,
    )
    row("Training", job.get("training_file"))
    row("Validation", job.get("validation_file"))
    hp = job.get("hyperparameters") or {}
    method = job.get("method")
    if isinstance(method, dict) and method.get("type"):
        inner = method.get(method["type"]) or {}
        if isinstance(inner, dict) and inner.get("hyperparameters"):
            hp = {**hp, **{k: v for k, v in inner["hyperparameters"].items() if v is not None}}
        method = method["type"]
    row("Method", method if isinstance(method, str) else None)
    if isinstance(hp, dict) and hp:
        parts = []
        for key, label in (
            ("n_epochs", "epochs"),
            ("batch_size", "batch"),
            ("learning_rate_multiplier", "lr×"),
            ("beta", "β"),
        ):
            if hp.get(key) is not None:
                parts.append(f"{label} {hp[key]}")
        row("Hyperparams", " · ".join(parts))
    row("Suffix", job.get("suffix"))
    row("Seed", job.get("seed"))
    error = job.get("error")
    if isinstance(error, dict) and (error.get("message") or error.get("code")):
        row("Error", f"{error.get('code') or ''} {error.get('message') or ''}".strip(), "bold red")
    t.append("\n")
    t.append("Checkpoints\n", style="bold")
    if not checkpoints:
        t.append("none yet\n", style="dim")
    else:
        # "step N  loss X" over the checkpoint's model id: the id is too long to share a
        # line at this width (it wrapped mid-id, the loss glued to its end).
        for cp in checkpoints[-5:]:
            metrics = cp.get("metrics") or {}
            head = f"step {cp.get('step_number', '?')}"
            loss = metrics.get("train_loss")
            if isinstance(loss, int | float):
                head += f"  ·  loss {loss:.4f}"
            t.append(head + "\n", style="dim")
            t.append(str(cp.get("fine_tuned_model_checkpoint") or cp.get("id") or ""))
            t.append("\n")
    return t


class JobsPane(Pane):
    """The job table, the details of the selected job and its event log."""

    BINDINGS = [
        Binding("slash", "filter", "Filter", id="jobs.filter"),
        Binding("escape", "clear_filter", "Clear filter", show=False, id="jobs.clear_filter"),
        Binding("x", "cancel", "Cancel job", id="jobs.cancel"),
        Binding("p", "pause", "Pause/resume", id="jobs.pause"),
        Binding("n", "create", "New job", id="jobs.create"),
        Binding("c", "copy", "Copy id", id="jobs.copy"),
        Binding("C", "copy_model", "Copy model", id="jobs.copy_model"),
        Binding("s", "toggle_follow", "Follow", id="jobs.follow"),
        # v (view), not e: e clones the job into the create form (issue 15)
        Binding("v", "focus_events", "Events", show=False, id="jobs.events"),
        Binding("e", "clone", "Clone and edit", show=False, id="jobs.clone"),
        Binding("space", "mark", "Mark to compare", show=False, id="jobs.mark"),
        Binding("o", "sort_next", "Sort by next column", show=False, id="jobs.sort"),
        Binding("O", "sort_reverse", "Reverse the sort", show=False, id="jobs.sort_reverse"),
        Binding("w", "same_sweep", "Jobs of this sweep", show=False, id="jobs.sweep"),
    ]

    #: the job table's subtitle ("12 jobs · 2 marked"): set after each change of the list,
    #: the filter or the marks; the watcher puts it on the table's border (init=False: no
    #: table to put it on before the pane is composed)
    count_label: var[str] = var("", init=False)

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._list_timer: Timer | None = None
        self._detail_timer: Timer | None = None
        self._filter_timer: Timer | None = None
        #: when the list poll and the selected job's poll run again (re-armed after each)
        self._list_poll = Poller(LIST_ACTIVE, LIST_IDLE, held=0.5, permanent_floor=60.0)
        self._detail_poll = Poller(DETAIL_ACTIVE, DETAIL_IDLE, held=0.5)
        self._polling = False
        self._live_loaded = False
        self._list_frozen = False  # the first list shown: see FtApp.freeze_long_lived
        self._selected: str | None = None
        self._pending_select: str | None = None
        self.checkpoints: dict[str, list[dict[str, Any]]] = {}
        #: job id -> what the job looked like when its checkpoints were fetched: a
        #: finished job's list is fetched again only when that changed (it went from
        #: running to succeeded since: the last ones and the pruning came after)
        self._checkpoints_seen: dict[str, tuple[Any, ...]] = {}
        #: the (id, model, fine-tuned model, status) last told to the other panes
        self._announced: tuple[Any, ...] | None = None
        self._follower: Any = None
        self._follower_job: str | None = None
        self._follower_log = -1  # the event log the follower fills (see _log below)
        self._follower_lock = threading.Lock()
        self._log = 0  # bumps each time the event log is cleared for a new selection
        self._polls = 0
        # a whole-list fetch was asked for and has not landed yet: quick fetches (which, being
        # exclusive, cancel it) fetch the whole list instead, so it is never lost
        self._full_wanted = False
        #: job id -> time.monotonic() when a job action's answer for it was read
        self._changed_at: dict[str, float] = {}
        #: jobs created from this app: their end is told even when first seen ended
        self._created: set[str] = set()
        #: jobs whose end was told (toast, bell, desktop notification) already
        self._told: set[str] = set()
        self._notifications: Any = None  # [notifications] of the config, read once
        #: the marks last told to the other panes (JobsMarked)
        self._marks_told: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        box = Input(
            placeholder="filter jobs: id, model, status, name… (enter keeps, esc clears)",
            id="jobs-filter",
        )
        box.display = False  # hidden (and not focusable) until /
        yield box
        yield JobTable(id="job-table")
        with Horizontal(id="jobs-bottom"):
            with VerticalScroll(id="job-details-box"):
                yield Static(details_text(None, None), id="job-details")
            yield EventPanel(id="job-events")

    def on_mount(self) -> None:
        self.query_one("#job-details-box").border_title = "Details"
        self.query_one("#job-events").border_title = "Events"
        self.query_one("#job-table").border_title = "Jobs"

    # -- helpers ------------------------------------------------------------------------
    @property
    def table(self) -> JobTable:
        return self.query_one(JobTable)

    @property
    def event_log(self) -> EventLog:
        return self.query_one(EventLog)

    @property
    def selected_job(self) -> dict[str, Any] | None:
        return self.table.selected_job

    def focus_default(self) -> None:
        self.table.focus()

    def _modal_open(self) -> bool:
        return self.ftapp.screen.is_modal

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in READ_ONLY_ACTIONS and self.ftapp.read_only:
            return None  # shown disabled; on_key explains why
        return True

    def on_key(self, event: events.Key) -> None:
        if not self.ftapp.read_only:
            return
        active = self.screen.active_bindings.get(event.key)
        if active is not None and not active.enabled:
            action = active.binding.action
            if action in READ_ONLY_ACTIONS:
                event.stop()
                self.notify(
                    f"read-only mode: {active.binding.description.lower()} is disabled",
                    severity="warning",
                )

    # -- the job list -------------------------------------------------------------------
    def load_cache(self) -> None:
        self._load_cache_worker()

    @work(thread=True, exclusive=True, group="jobs-cache", exit_on_error=False)
    def _load_cache_worker(self) -> None:
        rows = self.ftapp.backend.load_cached_jobs()
        if rows:
            self.post_message(JobsLoaded(rows, cached=True))

    def start_polling(self) -> None:
        """Begin live updates (called once the backend is connected)."""
        if self._polling:
            return
        self._polling = True
        self._fetch_jobs(full=True)
        if self._selected:  # a job picked from the cached list before we were connected
            self._poll_detail_now()

    def on_shown(self) -> None:
        """Back on screen: the selected job's details and events catch up at once."""
        if self._polling and self._selected:
            self._poll_detail_now()

    def refresh_now(self, full: bool = True) -> None:
        if not self._polling:
            return
        if self._list_timer is not None:
            self._list_timer.stop()
        self._fetch_jobs(full=full)
        self._poll_detail_now()

    def _list_tick(self) -> None:
        self._list_timer = None
        if self._modal_open():  # nothing changes under a dialog
            self._list_timer = self.set_timer(self._list_poll.held, self._list_tick)
            return
        self._polls += 1
        # Newest page each time; the whole list now and then (it can be thousands of jobs).
        self._fetch_jobs(full=self._polls % 150 == 0)

    def _arm_list(self, delay: float) -> None:
        if self._list_timer is not None:
            self._list_timer.stop()
        self._list_timer = self.set_timer(delay, self._list_tick)

    def _fetch_jobs(self, full: bool) -> None:
        full = full or self._full_wanted
        self._full_wanted = full
        # Active jobs older than the first page still need fresh statuses (worked out
        # here, on the UI thread, so the worker never reads the table).
        stale = [
            job_id for job_id, row in self.table.jobs.items() if not is_terminal(row.get("status"))
        ]
        self._fetch_jobs_worker(full, stale)

    @work(thread=True, exclusive=True, group="jobs-list", exit_on_error=False)
    def _fetch_jobs_worker(self, full: bool, active_ids: list[str]) -> None:
        from textual.worker import get_current_worker

        from fttui.api.errors import friendly

        worker = get_current_worker()
        backend = self.ftapp.backend
        read_at = time.monotonic()
        try:
            if full:
                rows = backend.list_jobs(should_stop=lambda: worker.is_cancelled)
            else:
                rows = backend.list_jobs(limit=QUICK_PAGE)
                seen = {r["id"] for r in rows}
                stale = [j for j in active_ids if j not in seen][:20]
                rows += [backend.get_job(j) for j in stale]
        except Exception as exc:
            err = friendly(exc)
            if worker.is_cancelled:
                return
            # not transient (e.g. a revoked key): keep trying, but slowly (permanent_floor)
            delay = self._list_poll.backoff(err.retry_after, transient=err.transient)
            self.post_message(BackendProblem(err.kind, str(err), retry_in=delay))
            self.ftapp.call_from_thread(self._arm_list, delay)
            return
        if worker.is_cancelled:
            return
        self._list_poll.reset()  # the next delay is worked out when the rows are shown
        self.post_message(JobsLoaded(rows, full=full, poll=True, read_at=read_at))
        self.post_message(BackendOk("jobs"))
        # The Status column's "running 12/48": the job object has no step, its events do.
        training = [r["id"] for r in rows if r.get("status") in TRAINING][:MAX_PROGRESS]
        progress = {}
        for job_id in training:
            try:
                found = backend.latest_progress(job_id)
            except Exception:
                break  # the next poll tries again; the list itself came
            if found:
                progress[job_id] = found
        if progress and not worker.is_cancelled:
            self.post_message(JobsProgress(progress))
        if full:
            backend.save_cached_jobs(rows)

    def on_jobs_loaded(self, message: JobsLoaded) -> None:
        message.stop()
        if message.cached and self._live_loaded:
            return
        if message.cached:
            self.ftapp.status_bar.cached = True  # "cached list" until the first refresh
        else:
            self._live_loaded = True
            if message.full:
                self._full_wanted = False
        table = self.table
        jobs = message.jobs
        if message.read_at is not None and self._changed_at:
            # read before a job action answered: keep the row the action brought (a job
            # just cancelled flashed "running" again until the next poll)
            jobs = [
                table.jobs.get(j.get("id", ""), j)
                if self._changed_at.get(j.get("id", ""), float("-inf")) > message.read_at
                else j
                for j in jobs
            ]
        watched = self._watched()
        before = {j: table.jobs[j].get("status") for j in watched if j in table.jobs}
        table.set_jobs(jobs, full=message.full)
        if tuple(table.marked) != self._marks_told:
            self._post_marks()  # a marked job left the list: the compare view drops it
        if not message.cached:
            self._tell_ended(watched, before)
        self.count_label = self._count_label()
        if self._pending_select and table.select_job(self._pending_select):
            self._pending_select = None
        self._after_jobs_changed()
        if not self._list_frozen and table.jobs:
            self._list_frozen = True
            # the rows live until the app ends; after the list is drawn, not before it
            self.call_after_refresh(self.ftapp.freeze_long_lived)
        if message.poll:
            # Only the list poll's answer arms the next one: the selected job's poll (1 s)
            # and job actions post one-row updates; re-arming on those pushed the 2 s list
            # timer back forever while a running job was selected.
            active = any(not is_terminal(r.get("status")) for r in table.jobs.values())
            delay = self._list_poll.next_delay(active=active)
            if delay is not None:
                self._arm_list(delay)

    # -- watched jobs: told when they end -----------------------------------------------
    def _watched(self) -> set[str]:
        """The jobs the user watches: created here, marked, and the selected one."""
        watched = self._created | set(self.table.marked)
        if self._selected:
            watched.add(self._selected)
        return watched - self._told

    def _tell_ended(self, watched: set[str], before: dict[str, Any]) -> None:
        from fttui.tui.notify import load_notifications, notify_job_end

        jobs = self.table.jobs
        for job_id in watched:
            job = jobs.get(job_id)
            if job is None or not is_terminal(job.get("status")):
                continue
            was = before.get(job_id)
            # seen ending (active before this list), or created here and ended unseen
            if (was is not None and not is_terminal(was)) or (
                job_id in self._created and was is None
            ):
                self._told.add(job_id)
                if self._notifications is None:
                    self._notifications = load_notifications()
                notify_job_end(self.app, job, self._notifications)
            elif was is not None:
                self._told.add(job_id)  # ended before it was watched: nothing to tell

    def watch_count_label(self, label: str) -> None:
        self.table.border_subtitle = label

    def _count_label(self) -> str:
        table = self.table
        shown, total = table.row_count, len(table.jobs)
        label = f"{total} job{'s' if total != 1 else ''}"
        if table.filter_text:
            label = f"{shown} of {total} match “{table.filter_text}”"
        if table.marked:
            label += f" · {len(table.marked)} marked"
        return label

    def _after_jobs_changed(self) -> None:
        job = self.selected_job
        job_id = job.get("id") if job else None
        if job_id != self._selected:
            self._on_selection(job_id)
        else:
            self._show_details()
            # The same job, but it may have changed (running → succeeded, a fine-tuned
            # model): the Metrics and Playground panes follow it (they offered a job's
            # fine-tuned model only when it was selected again).
            self._announce(job_id, job)

    def _announce(self, job_id: str | None, job: dict[str, Any] | None) -> None:
        """Tell the other panes about the selected job when anything they show changed."""
        state = (
            job_id,
            job.get("model") if job else None,
            job.get("fine_tuned_model") if job else None,
            job.get("status") if job else None,
        )
        if state == self._announced:
            return
        self._announced = state
        self.post_message(JobSelected(*state))

    # -- selection ----------------------------------------------------------------------
    @on(DataTable.RowHighlighted, "#job-table")
    def _row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        job_id = event.row_key.value if event.row_key is not None else None
        if job_id != self._selected:
            self._on_selection(job_id)

    @on(DataTable.RowSelected, "#job-table")
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        """enter on a job: read its events."""
        event.stop()
        self.event_log.focus()

    def _on_selection(self, job_id: str | None) -> None:
        self._selected = job_id
        job = self.table.jobs.get(job_id) if job_id else None
        self._show_details()
        self.event_log.reset()
        self._log += 1  # the next detail poll starts the events over, for this empty log
        self._announced = None  # a new selection is always announced
        self._announce(job_id, job)
        if self._detail_timer is not None:
            self._detail_timer.stop()
        if job_id and self._polling:
            # A short delay so holding j/k over 50 rows does not fire 50 requests.
            self._detail_timer = self.set_timer(0.15, self._detail_tick)

    def _show_details(self) -> None:
        job = self.selected_job
        cps = self.checkpoints.get(job["id"]) if job else None
        self.query_one("#job-details", Static).update(details_text(job, cps))

    def select(self, job_id: str) -> bool:
        return self.table.select_job(job_id)

    def job_created(self, job_id: str) -> None:
        self._created.add(job_id)
        self._pending_select = job_id
        self.ftapp.show_pane("jobs")
        if self._polling:
            self.refresh_now(full=False)

    # -- the selected job: details, checkpoints, events ---------------------------------
    def _poll_detail_now(self) -> None:
        if self._detail_timer is not None:
            self._detail_timer.stop()
        if self._selected:
            self._fetch_detail(self._selected, self._log)

    def _detail_tick(self) -> None:
        self._detail_timer = None
        if not self._selected or not self._polling:
            return
        if not self.display:  # another pane is shown: on_shown fetches when we are back
            return
        if self._modal_open():
            self._detail_timer = self.set_timer(self._detail_poll.held, self._detail_tick)
            return
        self._fetch_detail(self._selected, self._log)

    def _arm_detail(self, job_id: str, delay: float, log: int) -> None:
        # A poll that began before the selection changed (even away and back to the same
        # job) must not re-arm: the new selection's own short timer is already set, and
        # replacing it with this poll's 15 s idle delay left the cleared log empty that long.
        if job_id != self._selected or log != self._log:
            return
        if self._detail_timer is not None:
            self._detail_timer.stop()
        self._detail_timer = self.set_timer(delay, self._detail_tick)

    @work(thread=True, exclusive=True, group="jobs-detail", exit_on_error=False)
    def _fetch_detail(self, job_id: str, log: int) -> None:
        from textual.worker import get_current_worker

        from fttui.api.errors import friendly

        worker = get_current_worker()
        backend = self.ftapp.backend
        read_at = time.monotonic()
        try:
            job = backend.get_job(job_id)
            with self._follower_lock:
                reset = False
                if (
                    self._follower is None
                    or self._follower_job != job_id
                    or self._follower_log != log
                ):
                    # a new job, or the same one in a log cleared since (away and back
                    # between two polls): from the first event again
                    self._follower = backend.event_follower(job_id)
                    self._follower_job = job_id
                    self._follower_log = log
                    reset = True
                new = [_event_dict(e) for e in self._follower.poll()]
                # Posted at once, under the lock, even if this worker is cancelled later or
                # the calls below fail: the follower has moved past these events, so they
                # would never come again, and the lock keeps them in the order polled.
                self.post_message(Events(job_id, new, reset=reset, log=log))
            old = self.checkpoints.get(job_id)
            seen = _checkpoint_state(job)
            if (
                old is None
                or reset
                or not is_terminal(job.get("status"))
                or self._checkpoints_seen.get(job_id) != seen
            ):
                cps = backend.checkpoints(job_id)
            else:
                cps = old
        except Exception as exc:
            err = friendly(exc)
            if worker.is_cancelled:
                return
            delay = self._detail_poll.backoff(err.retry_after)
            if err.kind == "not_found":
                self.ftapp.call_from_thread(self.notify, str(err), severity="error", markup=False)
                return
            self.post_message(BackendProblem(err.kind, str(err), retry_in=delay))
            self.ftapp.call_from_thread(self._arm_detail, job_id, delay, log)
            return
        if worker.is_cancelled:
            return
        self.checkpoints[job_id] = cps
        self._checkpoints_seen[job_id] = seen
        if cps != old:
            self.post_message(JobCheckpoints(job_id, cps))
        self.post_message(JobsLoaded([job], full=False, read_at=read_at))
        next_in = self._detail_poll.next_delay(active=not is_terminal(job.get("status")))
        if next_in is not None:
            self.ftapp.call_from_thread(self._arm_detail, job_id, next_in, log)

    def on_jobs_progress(self, message: JobsProgress) -> None:
        message.stop()
        for job_id, (step, total) in message.progress.items():
            self.table.set_progress(job_id, step, total)

    def on_events(self, message: Events) -> None:
        message.stop()
        for event in reversed(message.events):  # the selected job's newest step
            found = event_progress(event)
            if found:
                self.table.set_progress(message.job_id, *found)
                break
        if message.job_id != self._selected or message.log != self._log:
            return  # for another job, or for a log cleared since
        log = self.event_log
        if message.reset and log.total:
            log.reset()
        items = message.events
        if len(items) > MAX_BATCH:
            skipped = len(items) - MAX_BATCH
            items = [
                {
                    "created_at": items[0].get("created_at"),
                    "level": "info",
                    "message": f"… {skipped:,} earlier events not shown",
                },
                *items[-MAX_BATCH:],
            ]
        log.add_events(items)

    # -- filter -------------------------------------------------------------------------
    def action_filter(self) -> None:
        box = self.query_one("#jobs-filter", Input)
        box.display = True
        box.focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#jobs-filter", Input)
        if not box.display and not self.table.filter_text:
            return
        box.value = ""
        box.display = False
        self._apply_filter("")
        self.table.focus()

    @on(Input.Changed, "#jobs-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        event.stop()
        value = event.value
        if value != event.input.value:
            return  # stale: the box changed again since (its own event follows)
        if self._filter_timer is not None:
            self._filter_timer.stop()
        if value == self.table.filter_text:
            # Already applied: `w` and `esc` set the box and the filter at once. A debounced
            # refilter here would land after them and could undo the next one.
            return
        # Debounced: refiltering 5,000 rows on every keystroke would lag the typing.
        self._filter_timer = self.set_timer(0.12, lambda: self._apply_filter(value))

    @on(Input.Submitted, "#jobs-filter")
    def _filter_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._apply_filter(event.value)
        if not event.value:
            event.input.display = False
        self.table.focus()

    def _apply_filter(self, text: str) -> None:
        if self._filter_timer is not None:
            self._filter_timer.stop()
            self._filter_timer = None
        self.table.set_filter(text.strip())
        self.count_label = self._count_label()
        self._after_jobs_changed()

    # -- actions on the selected job ----------------------------------------------------
    def _require_job(self) -> dict[str, Any] | None:
        job = self.selected_job
        if job is None:
            self.notify("no job selected", severity="warning")
        return job

    def action_cancel(self) -> None:
        from fttui.tui.screens.confirm import ConfirmScreen

        if self.ftapp.read_only:
            self.notify("read-only mode: cancel is disabled", severity="warning")
            return
        job = self._require_job()
        if job is None:
            return
        if is_terminal(job.get("status")):
            self.notify(
                f"{job['id']} has already {job.get('status')}", severity="warning", markup=False
            )
            return
        job_id = job["id"]
        message = (
            f"Cancel {job_id}?\n\n"
            f"Model {job.get('model') or '?'}, status {job.get('status') or '?'}. "
            "Training stops and cannot be resumed."
        )

        def done(confirmed: bool | None) -> None:
            if confirmed:
                self._run_job_action("cancel", job_id)

        self.ftapp.push_screen(
            ConfirmScreen("Cancel job?", message, confirm_label="Cancel job", keep_label="Keep"),
            done,
        )

    def action_pause(self) -> None:
        if self.ftapp.read_only:
            self.notify("read-only mode: pause is disabled", severity="warning")
            return
        job = self._require_job()
        if job is None:
            return
        status = job.get("status")
        if status == "paused":
            self._run_job_action("resume", job["id"])
        elif status in PAUSABLE:
            self._run_job_action("pause", job["id"])
        else:
            self.notify(
                f"{job['id']} is {status}: nothing to pause", severity="warning", markup=False
            )

    @work(thread=True, group="jobs-action", exit_on_error=False)
    def _run_job_action(self, action: str, job_id: str) -> None:
        from fttui.api.errors import friendly

        backend = self.ftapp.backend
        call = {
            "cancel": backend.cancel_job,
            "pause": backend.pause_job,
            "resume": backend.resume_job,
        }[action]
        try:
            row = call(job_id)
        except Exception as exc:
            err = friendly(exc)
            self.ftapp.call_from_thread(
                self.notify, f"{action} {job_id}: {err}", severity="error", markup=False
            )
            return
        self._changed_at[job_id] = time.monotonic()
        self.post_message(JobsLoaded([row], full=False))
        past = {"cancel": "cancelling", "pause": "pausing", "resume": "resuming"}[action]
        self.ftapp.call_from_thread(
            self.notify, f"{past} {job_id} — now {row.get('status')}", markup=False
        )
        self.ftapp.call_from_thread(self.refresh_now, False)

    def action_create(self) -> None:
        from fttui.tui.screens.create_job import CreateJobScreen

        if self.ftapp.read_only:
            self.notify("read-only mode: creating jobs is disabled", severity="warning")
            return
        training_file = model = None
        try:
            data = self.ftapp.query_one("#data")
            training_file = getattr(data, "path", None)
            model = getattr(data, "chosen_model", None)  # what m chose there, if anything
        except Exception:
            pass

        self._open_create(CreateJobScreen(training_file=training_file, model=model))

    def _open_create(self, screen: Any) -> None:
        """Push the create form; each job it created (a sweep's several) is watched."""

        def done(job_id: str | None) -> None:
            if job_id:
                ids = list(getattr(screen, "created", None) or [job_id])
                if len(ids) == 1:
                    self.notify(f"created {job_id}", markup=False)
                for jid in ids:
                    self.job_created(jid)

        self.ftapp.push_screen(screen, done)

    def action_clone(self) -> None:
        """e: the create form filled from the selected job (files by id: no new upload)."""
        if self.ftapp.read_only:
            self.notify("read-only mode: creating jobs is disabled", severity="warning")
            return
        job = self._require_job()
        if job is not None:
            self._fetch_for_clone(job["id"])

    @work(thread=True, exclusive=True, group="jobs-clone", exit_on_error=False)
    def _fetch_for_clone(self, job_id: str) -> None:
        # the row holds a summary; cloning needs the job itself (method, grader)
        from fttui.api.errors import friendly
        from fttui.api.jobs import get_job

        try:
            job = get_job(self.ftapp.backend.client(), job_id)
        except Exception as exc:
            self.ftapp.call_from_thread(
                self.notify, f"clone {job_id}: {friendly(exc)}", severity="error", markup=False
            )
            return
        self.ftapp.call_from_thread(self._open_clone, job)

    def _open_clone(self, job: Any) -> None:
        from fttui.tui.screens.create_job import CreateJobScreen

        if not isinstance(self.ftapp.screen, CreateJobScreen):  # e twice: one form
            self._open_create(CreateJobScreen(source=job))

    def action_copy(self) -> None:
        job = self._require_job()
        if job is None:
            return
        self.ftapp.copy_to_clipboard(job["id"])
        model = job.get("fine_tuned_model")
        # the model name is what a client needs next: say how to get it too
        also = f" · C copies its model {model}" if model else ""
        self.notify(f"copied {job['id']} (OSC 52){also}", markup=False)

    def action_copy_model(self) -> None:
        """C: the fine-tuned model name, to paste into `fttui ask` or a client."""
        job = self._require_job()
        if job is None:
            return
        model = job.get("fine_tuned_model")
        if not model:
            self.notify(
                f"{job['id']} has no fine-tuned model (yet): it is {job.get('status')}",
                severity="warning",
                markup=False,
            )
            return
        self.ftapp.copy_to_clipboard(model)
        self.notify(f"copied {model} (OSC 52)", markup=False)

    def action_mark(self) -> None:
        """space: mark or unmark the job for comparing (the Metrics pane overlays them)."""
        job = self._require_job()
        if job is None:
            return
        table = self.table
        table.toggle_mark(job["id"])
        self.count_label = self._count_label()
        self._post_marks()

    def _post_marks(self) -> None:
        table = self.table
        marked = tuple(table.marked)
        self._marks_told = marked
        self.post_message(JobsMarked(marked, tuple(table.jobs.get(j) or {"id": j} for j in marked)))

    def action_sort_next(self) -> None:
        self.table.sort_next()

    def action_sort_reverse(self) -> None:
        table = self.table
        table.sort_by(table.sort_column, reverse=not table.sort_reverse)

    def action_same_sweep(self) -> None:
        """w: only the jobs of the selected job's sweep (the filter box holds its id)."""
        from fttui.tui.widgets.job_table import sweep_of

        job = self._require_job()
        if job is None:
            return
        sweep = sweep_of(job)
        if not sweep:
            self.notify(f"{job['id']} is not part of a sweep", severity="warning", markup=False)
            return
        box = self.query_one("#jobs-filter", Input)
        box.value = sweep
        box.display = True
        self._apply_filter(sweep)
        self.table.focus()

    def action_toggle_follow(self) -> None:
        self.event_log.toggle_following()

    def action_focus_events(self) -> None:
        self.event_log.focus()


def _checkpoint_state(job: dict[str, Any]) -> tuple[Any, ...]:
    """What a job's checkpoint list depends on: while any of it changes, fetch it again."""
    return (
        job.get("status"),
        job.get("fine_tuned_model"),
        job.get("trained_tokens"),
        job.get("finished_at"),
    )


def _event_dict(event: Any) -> dict[str, Any]:
    if isinstance(event, dict):
        return event
    if hasattr(event, "model_dump"):
        return event.model_dump()
    return {"message": str(event), "created_at": int(time.time()), "level": "info"}
