"""``FtApp``: the fttui terminal app — Data, Jobs, Metrics, Playground and Evals panes.

Keys 1–5 switch panes, ``?`` lists the keys that work where you are, ``ctrl+p`` opens the
command palette, ``r`` refreshes, ``q``/``ctrl+q`` quit. All network and file work runs in
thread workers that report back with messages (``fttui.tui.messages``); the UI thread
never blocks.
"""

from __future__ import annotations

import asyncio
import gc
import importlib
import io
import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar, cast

from textual import events, work
from textual.app import App, ComposeResult, SystemCommand
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Tab, Tabs

from fttui.tui.backend import Backend
from fttui.tui.collector import PACED_COLLECTOR, TICK_S, IdleCollector
from fttui.tui.collector import THRESHOLDS as GC_THRESHOLDS
from fttui.tui.messages import (
    BackendOk,
    BackendProblem,
    BackendReady,
    JobCheckpoints,
    JobCreated,
    JobSelected,
    JobsMarked,
)
from fttui.tui.panes.base import Pane
from fttui.tui.poller import retry_delay
from fttui.tui.widgets.key_footer import KeyFooter
from fttui.tui.widgets.status_bar import StatusBar

if TYPE_CHECKING:  # each pane's module is imported when the pane is first mounted
    from fttui.tui.panes.data import DataPane
    from fttui.tui.panes.jobs import JobsPane

#: Pane ids in key order (1–5) and their tab labels.
PANES = (
    ("data", "Data"),
    ("jobs", "Jobs"),
    ("metrics", "Metrics"),
    ("playground", "Playground"),
    ("evals", "Evals"),
)


#: Where each pane's class lives (imported when the pane is first mounted).
PANE_CLASSES = {
    "data": ("fttui.tui.panes.data", "DataPane"),
    "jobs": ("fttui.tui.panes.jobs", "JobsPane"),
    "metrics": ("fttui.tui.panes.metrics", "MetricsPane"),
    "playground": ("fttui.tui.panes.playground", "PlaygroundPane"),
    "evals": ("fttui.tui.panes.evals", "EvalsPane"),
}


def make_pane(pane_id: str) -> Pane:
    module, name = PANE_CLASSES[pane_id]
    return cast(Pane, getattr(importlib.import_module(module), name)(id=pane_id))


def readme() -> tuple[str, Path | None]:
    """fttui's README: the checkout's file, else the copy in the installed package's metadata
    (setuptools puts the README there as the long description)."""
    root = Path(__file__).resolve().parents[3]
    if (root / "pyproject.toml").is_file() and (root / "README.md").is_file():
        path = root / "README.md"
        return path.read_text(encoding="utf-8"), path
    from email.message import Message
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        # typed as the PackageMetadata protocol, which has no get_payload; the object is
        # an email.message.Message (importlib.metadata's adapter subclasses it)
        payload = cast(Message, metadata("fttui")).get_payload()
        text = payload if isinstance(payload, str) else ""  # None without a README
    except PackageNotFoundError:
        text = ""
    return text or "# fttui\n\nThe README is not in this installation.\n", None


class FtApp(App[None]):
    """The fine-tuning app."""

    CSS_PATH = str(Path(__file__).with_name("app.tcss"))
    TITLE = "fttui"
    ENABLE_COMMAND_PALETTE = True
    #: Focus is given explicitly to the pane's main widget (auto-focus would pick the
    #: first focusable widget, hidden or not — e.g. the jobs filter box).
    AUTO_FOCUS = None

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("1", "show_pane('data')", "Data", show=False, id="app.pane.data"),
        Binding("2", "show_pane('jobs')", "Jobs", show=False, id="app.pane.jobs"),
        Binding("3", "show_pane('metrics')", "Metrics", show=False, id="app.pane.metrics"),
        Binding("4", "show_pane('playground')", "Playground", show=False, id="app.pane.playground"),
        Binding("5", "show_pane('evals')", "Evals", show=False, id="app.pane.evals"),
        # From any box too, where a digit is typed into it (the prompt, the filter, the
        # max tokens): alt+1–5 (esc, then 1–5, in terminals without alt).
        *(
            Binding(
                f"alt+{i}",
                f"show_pane('{pane}')",
                label,
                show=False,
                priority=True,
                id=f"app.pane.{pane}.alt",
            )
            for i, (pane, label) in enumerate(PANES, 1)
        ),
        Binding("M", "models", "Models", show=False, id="app.models"),
        Binding("question_mark", "help", "Help", id="app.help"),
        Binding("r", "refresh", "Refresh", id="app.refresh"),
        Binding("q", "quit", "Quit", id="app.quit"),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True, id="app.quit_ctrl"),
        Binding("f1", "help", "Help", show=False, id="app.help_f1"),
        Binding("ctrl+c", "help_quit", show=False, system=True, id="app.help_quit"),
    ]

    def __init__(
        self,
        *,
        profile: str | None = None,
        base_url: str | None = None,
        api_key: str | None = None,
        data_file: str | None = None,
        read_only: bool = False,
        initial_pane: str | None = None,
        live: bool = True,
        backend: Backend | None = None,
    ) -> None:
        super().__init__()
        self.backend = backend or Backend(profile=profile, base_url=base_url, api_key=api_key)
        self.read_only = read_only
        self.data_file = data_file
        self.initial_pane = initial_pane or ("data" if data_file else "jobs")
        if self.initial_pane not in dict(PANES):
            raise ValueError(f"unknown pane {self.initial_pane!r}")
        #: False: show cached data only, never touch the network (tests, screenshots).
        self.live = live
        self.ready = False
        self.panes_ready = False
        self._mount_lock = asyncio.Lock()
        self._selection: JobSelected | None = None
        self._marks: JobsMarked | None = None
        self._connect_failures = 0
        self._retry_timer: Timer | None = None
        self._restarting = False  # starting the local server again (see on_backend_problem)
        #: the collector's thresholds before freeze_long_lived set GC_THRESHOLDS
        self._gc_thresholds: tuple[int, int, int] | None = None
        #: runs the collector's older generations between keys (see freeze_long_lived)
        self.collector = IdleCollector()
        self.keymap: dict[str, str] = {}
        self.keymap_problems: list[str] = []

    # -- layout -------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        tabs = Tabs(
            *(Tab(f"{i} {label}", id=f"tab-{pane}") for i, (pane, label) in enumerate(PANES, 1)),
            active=f"tab-{self.initial_pane}",
            id="pane-tabs",
        )
        tabs.can_focus = False
        yield tabs
        # Only the pane on screen (and Jobs, which keeps the list fresh) before the first
        # frame; the others are mounted right after it (see _mount_rest).
        with ContentSwitcher(initial=self.initial_pane, id="panes"):
            yield make_pane(self.initial_pane)
            if self.initial_pane != "jobs":
                yield make_pane("jobs")
        yield StatusBar(read_only=self.read_only, id="status-bar")
        yield KeyFooter()

    def on_mount(self) -> None:
        self.call_after_refresh(self._apply_keymap)  # reads config.toml: after the first frame
        if self.data_file:
            cast("DataPane", self.query_one("#data")).open_file(self.data_file)
        self._focus_pane(self.initial_pane)
        # After the first frame: importing openai alone takes about a second.
        self.call_after_refresh(self._start_backend)
        self.call_after_refresh(self._mount_rest)

    async def _mount_rest(self) -> None:
        for pane_id, _label in PANES:
            await self._ensure_pane(pane_id)
        self.panes_ready = True
        # The CLI starts the app with the garbage collector off (fttui.cli.data._launch):
        # on again now the first frame is long written (its first pass would have held
        # up the writer thread).
        self.freeze_long_lived()
        gc.enable()
        self._check_keymap()

    def freeze_long_lived(self) -> None:
        """Collect the garbage, then leave every object alive now (Textual, the panes,
        their styles; the job list once it is shown) out of the collector's passes.

        They live as long as the app, and each full pass walked them all again: with
        5,000 jobs listed a pass took 80–400 ms, and a key pressed meanwhile waited for it
        (the slowest o, pane switch and cursor move in bench/tui.py were these pauses).
        Called once every pane is mounted and once the first job list is shown.

        The collector also runs less often: each frame makes thousands of short-lived
        objects (segments, strips), and at the default thresholds (700, 10, 10) they were
        collected young many times a frame and a full pass came every few keys; at these
        o's slowest presses in bench/tui.py went from ~90 ms of CPU to ~35. Its older
        generations no longer start from an allocation mid-frame: ``IdleCollector`` runs
        them between keys."""
        gc.collect()
        gc.freeze()
        if self._gc_thresholds is None and PACED_COLLECTOR:
            self._gc_thresholds = gc.get_threshold()
            gc.set_threshold(*GC_THRESHOLDS)
            self.set_interval(TICK_S, self.collector.tick, name="idle collector")

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.InputEvent):
            self.collector.input_seen()
        await super().on_event(event)

    def on_unmount(self) -> None:
        # The app's objects are collectable again once it ends, at the usual thresholds:
        # a process that runs one app after another (the tests) kept them all otherwise.
        gc.unfreeze()
        if self._gc_thresholds is not None:
            gc.set_threshold(*self._gc_thresholds)

    def _handle_exception(self, error: Exception) -> None:
        # An app closed while _mount_rest is still mounting a pane (q in the first second,
        # or a test's run_test ending): shutdown prunes the pane's children while their own
        # Mount handlers are queued, and Textual's Select (Evals, Playground) then looks
        # up a child that is gone. Nothing is lost (the app is closing); without this the
        # user would get a traceback on the way out.
        from textual.css.query import NoMatches

        if isinstance(error, NoMatches) and not self.is_running:
            return
        super()._handle_exception(error)

    def has_pane(self, pane_id: str) -> bool:
        # the switcher's children, not a CSS query: ~2 ms a call, and every cursor move and
        # mark asks (JobSelected, JobsMarked); an id lookup and 4 children take microseconds
        from textual.css.query import NoMatches

        try:
            switcher = self.query_one("#panes", ContentSwitcher)
        except NoMatches:  # not composed yet, or closing
            return False
        return any(child.id == pane_id for child in switcher.children)

    async def _ensure_pane(self, pane_id: str) -> Pane | None:
        """The pane, mounting it first if it is not there yet (None while shutting down)."""
        from textual.css.query import NoMatches
        from textual.widget import MountError

        async with self._mount_lock:
            try:
                if not self.has_pane(pane_id):
                    switcher = self.query_one(ContentSwitcher)
                    if not switcher.is_attached or self._exit:
                        return None
                    pane = make_pane(pane_id)
                    pane.display = False
                    await switcher.mount(pane)
                    if self._selection is not None:
                        pane.select_job(self._selection)
                    if self._marks is not None:
                        pane.set_marked(self._marks)
                return self.pane(pane_id)
            except (NoMatches, MountError):
                return None  # the app is closing under us

    def _start_backend(self) -> None:
        self._describe_provider()
        if self.live:
            self.connect()

    # -- keymap -------------------------------------------------------------------------
    def known_binding_classes(self) -> list[type]:
        from fttui.tui.panes.data import DataPane
        from fttui.tui.panes.evals import EvalsPane
        from fttui.tui.panes.jobs import JobsPane
        from fttui.tui.panes.metrics import MetricsPane
        from fttui.tui.panes.playground import PlaygroundPane
        from fttui.tui.screens.confirm import ConfirmScreen
        from fttui.tui.screens.create_job import CreateJobScreen
        from fttui.tui.screens.help import HelpScreen
        from fttui.tui.screens.models import ModelsScreen

        classes: list[type] = [type(self), DataPane, JobsPane, MetricsPane, PlaygroundPane]
        classes.append(EvalsPane)
        classes += [ConfirmScreen, HelpScreen, CreateJobScreen, ModelsScreen]
        classes += [type(w) for w in self.query("*")]
        return classes

    def _apply_keymap(self) -> None:
        from fttui.tui.keymap import load_keymap

        self.keymap = load_keymap()
        if self.keymap:
            self.set_keymap(self.keymap)

    def _check_keymap(self) -> None:
        """Warn about keymap ids no binding has (once every pane is mounted)."""
        from fttui.tui.keymap import binding_ids, unknown_ids

        if not self.keymap:
            return
        unknown = unknown_ids(self.keymap, binding_ids(self.known_binding_classes()))
        if unknown:
            self.keymap_problems = unknown
            self.notify(
                "keymap: no binding has the id " + ", ".join(unknown) + " (see ? for ids)",
                severity="warning",
                timeout=8,
                markup=False,
            )

    # -- panes --------------------------------------------------------------------------
    @property
    def status_bar(self) -> StatusBar:
        return self.query_one(StatusBar)

    @property
    def current_pane(self) -> str:
        return self.query_one("#panes", ContentSwitcher).current or self.initial_pane

    def pane(self, pane_id: str) -> Pane:
        return self.query_one(f"#{pane_id}", Pane)

    @property
    def jobs_pane(self) -> JobsPane:
        """The Jobs pane (always mounted: it keeps the job list fresh)."""
        return cast("JobsPane", self.pane("jobs"))

    async def action_show_pane(self, pane_id: str) -> None:
        if await self._ensure_pane(pane_id) is not None:
            self.show_pane(pane_id)

    def show_pane(self, pane_id: str) -> None:
        if not self.has_pane(pane_id):
            self.call_later(self.action_show_pane, pane_id)
            return
        switcher = self.query_one(ContentSwitcher)
        if switcher.current != pane_id:
            switcher.current = pane_id
            self.query_one(Tabs).active = f"tab-{pane_id}"
            self.pane(pane_id).on_shown()
        self._focus_pane(pane_id)

    def _focus_pane(self, pane_id: str) -> None:
        self.pane(pane_id).focus_default()

    def on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        event.stop()
        if event.tab is None or not event.tab.id:
            return
        pane_id = event.tab.id.removeprefix("tab-")
        # Every pane switch comes back here (show_pane sets the active tab): an id lookup,
        # not a query of the whole DOM (~2 ms, within the switch's frame).
        from textual.css.query import NoMatches

        try:
            current = self.current_pane
        except NoMatches:  # not composed yet, or closing
            return
        if pane_id != current:
            self.show_pane(pane_id)

    # -- help, refresh, palette ----------------------------------------------------------
    def action_help(self) -> None:
        from fttui.tui.screens.help import HelpScreen, collect_key_help

        if isinstance(self.screen, HelpScreen):
            self.screen.dismiss(None)
            return
        focused = self.focused
        where = dict(PANES).get(self.current_pane, self.current_pane)
        if not isinstance(self.screen, ModalScreen) and self.screen is not self.screen_stack[0]:
            where = type(self.screen).__name__.removesuffix("Screen")  # e.g. Models (M)
        if focused is not None:
            where += f" · {focused.id or type(focused).__name__}"
        self.push_screen(HelpScreen(collect_key_help(self.screen), where))

    def action_models(self) -> None:
        """M: the provider's models (a screen of its own; M or esc comes back)."""
        from fttui.tui.screens.models import ModelsScreen

        if isinstance(self.screen, ModelsScreen):
            self.screen.dismiss(None)
            return
        self.push_screen(ModelsScreen())

    def action_refresh(self) -> None:
        if not self.live:
            self.notify("live updates are off", severity="warning", markup=False)
            return
        if not self.ready:
            self.connect()
            return
        if not self.has_pane(self.current_pane):
            return
        self.pane(self.current_pane).refresh_now()
        if self.current_pane != "jobs":
            self.jobs_pane.refresh_now(full=False)

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        # Textual's own "Keys" (its key panel) beside ours (the ? screen) listed Keys twice.
        yield from (c for c in super().get_system_commands(screen) if c.title != "Keys")
        for i, (pane, label) in enumerate(PANES, 1):
            yield SystemCommand(
                f"Go to {label}",
                f"Show the {label} pane (key {i})",
                lambda pane=pane: self.show_pane(pane),
            )
        yield SystemCommand(
            "Refresh", "Fetch jobs, events and metrics now (r)", self.action_refresh
        )
        yield SystemCommand("Keys", "List the keys that work here (?)", self.action_help)
        yield SystemCommand(
            "Models", "The provider's models; delete a fine-tuned one (M)", self.action_models
        )

        def on(pane_id: str, action: str):
            async def run() -> None:
                pane = await self._ensure_pane(pane_id)
                if pane is None:
                    return
                result = getattr(pane, action)()
                if asyncio.iscoroutine(result):
                    await result

            return run

        yield SystemCommand(
            "Cancel selected job",
            "Cancel the job under the cursor (x)",
            on("jobs", "action_cancel"),
        )
        yield SystemCommand(
            "Pause or resume selected job",
            "Pause a running job, resume a paused one (p)",
            on("jobs", "action_pause"),
        )
        yield SystemCommand("New job", "Create a fine-tuning job (n)", on("jobs", "action_create"))
        yield SystemCommand(
            "Copy fine-tuned model name",
            "Copy the selected job's fine-tuned model to the clipboard (C)",
            on("jobs", "action_copy_model"),
        )
        yield SystemCommand(
            "Copy job id",
            "Copy the selected job's id to the clipboard (c)",
            on("jobs", "action_copy"),
        )
        yield SystemCommand("Filter jobs", "Filter the job list (/)", on("jobs", "action_filter"))
        yield SystemCommand(
            "Follow events",
            "Toggle following the event log (s)",
            on("jobs", "action_toggle_follow"),
        )
        yield SystemCommand(
            "Export metrics CSV",
            "Write the selected job's series to a CSV (e)",
            on("metrics", "action_export"),
        )
        yield SystemCommand(
            "Run eval",
            "Score the ticked models on the Evals pane's file (ctrl+r)",
            on("evals", "action_run"),
        )
        yield SystemCommand(
            "Export eval results",
            "Write the last eval's results to a JSONL (e on the Evals pane)",
            on("evals", "action_export"),
        )
        yield SystemCommand(
            "Open the README",
            "fttui's manual: a browser tab under fttui web, else your browser",
            self.action_open_readme,
        )

    # -- links and files: under `fttui web` they go to the browser -------------------------
    def offer_file(self, path: Path) -> None:
        """Send a file the app wrote to the browser under ``fttui web``: there the path in
        the notice names a file on the machine that runs the app, maybe not the user's. In
        a terminal the path is the link."""
        if self.is_web:
            self.deliver_text(path, open_method="download")

    def action_open_readme(self) -> None:
        text, path = readme()
        if self.is_web:  # a file:// link would name the server's disk: send the text
            self.deliver_text(
                io.StringIO(text),
                save_filename="README.md",
                open_method="browser",
                mime_type="text/plain",
                encoding="utf-8",
            )
            return
        if path is None:  # an installed package: its README is in the metadata only
            from fttui import paths

            path = paths.cache_dir() / "README.md"
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
            except OSError as exc:
                self.notify(f"cannot write the README: {exc}", severity="error", markup=False)
                return
        # Without a desktop, webbrowser would run a console browser (w3m, lynx) over the
        # app's own screen: the path alone then, which the user (or the terminal) opens.
        if (
            sys.platform in ("darwin", "win32")
            or os.environ.get("DISPLAY")
            or os.environ.get("WAYLAND_DISPLAY")
        ):
            self.open_url(path.as_uri())
        self.notify(f"README: {path}", markup=False)

    # -- backend ------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="describe", exit_on_error=False)
    def _describe_provider(self) -> None:
        info = self.backend.describe()
        self.call_from_thread(
            self.status_bar.set_provider, info["name"], info["base_url"], info["detail"]
        )
        if not self.backend.connected:
            self.call_from_thread(self.jobs_pane.load_cache)

    def connect(self) -> None:
        """Connect to the provider (start the local server if needed) in a worker."""
        if self._retry_timer is not None:
            self._retry_timer.stop()
            self._retry_timer = None
        self._connect_worker()

    @work(thread=True, exclusive=True, group="connect", exit_on_error=False)
    def _connect_worker(self) -> None:
        from fttui.api.errors import friendly

        try:
            self.backend.client()
            info = self.backend.describe()
        except Exception as exc:
            err = friendly(exc)
            if not err.transient:  # a wrong key or profile: retrying will not help (r will)
                self.post_message(BackendProblem(err.kind, str(err), retry_in=None))
                return
            delay = retry_delay(self._connect_failures, err.retry_after)
            self.post_message(BackendProblem(err.kind, str(err), retry_in=delay))
            self.call_from_thread(self._schedule_reconnect, delay)
            return
        self.post_message(BackendReady(info["name"], info["base_url"], info["detail"]))

    def _schedule_reconnect(self, delay: float) -> None:
        if self.ready:
            return  # a failed attempt that ended after another one connected
        self._connect_failures += 1
        if self._retry_timer is not None:  # one pending retry, never two
            self._retry_timer.stop()
        self._retry_timer = self.set_timer(delay, self.connect)

    def on_backend_ready(self, message: BackendReady) -> None:
        first = not self.ready
        self.ready = True
        self._connect_failures = 0
        if self._retry_timer is not None:
            self._retry_timer.stop()
            self._retry_timer = None
        self.status_bar.set_provider(message.name, message.base_url, message.detail)
        self.status_bar.banner.clear_problem()
        self.jobs_pane.start_polling()
        if not first:
            return  # connected again (r while connected): nothing more to catch up on
        if self._restarting:
            self._restarting = False
            self.jobs_pane.refresh_now()  # its polls were backing off the dead port
            self.notify(
                f"Started the local server again ({message.detail}) at {message.base_url}",
                timeout=6,
                markup=False,
            )
        elif message.detail.startswith("local server"):
            self.notify(
                f"Using the {message.detail} at {message.base_url}", timeout=6, markup=False
            )
        # A pane shown before we were connected could fetch nothing then (the playground's
        # checkpoints, the metrics): catch up now rather than on the next selection.
        for pane_id in ("metrics", "playground", "evals"):
            if self.has_pane(pane_id) and self.pane(pane_id).display:
                self.pane(pane_id).refresh_now()

    def on_backend_problem(self, message: BackendProblem) -> None:
        self.status_bar.banner.show_problem(message.kind, message.message, message.retry_in)
        if message.kind == "network" and self.ready and self.backend.manages_local_server:
            self._restart_local_server()

    def _restart_local_server(self) -> None:
        """The local server the app started went away (``fttui serve --stop``, a crash):
        start it again rather than retry a dead port for ever under "local server · sim"."""
        self.ready = False
        self._restarting = True
        name = self.backend.profile or "local"
        self.backend.reset()
        self.status_bar.set_provider(name, "", "local server · starting it again…")
        self.notify("The local server stopped: starting it again…", severity="warning")
        self.connect()

    def on_backend_ok(self, message: BackendOk) -> None:
        self.status_bar.banner.clear_problem()
        if message.what == "jobs":
            self.status_bar.mark_refreshed()

    # -- between panes ------------------------------------------------------------------
    def on_job_selected(self, message: JobSelected) -> None:
        self._selection = message
        for pane_id in ("metrics", "playground", "evals"):
            if self.has_pane(pane_id):
                self.pane(pane_id).select_job(message)

    def on_jobs_marked(self, message: JobsMarked) -> None:
        self._marks = message
        if self.has_pane("metrics"):
            self.pane("metrics").set_marked(message)

    def on_job_checkpoints(self, message: JobCheckpoints) -> None:
        for pane_id in ("playground", "evals"):
            if self.has_pane(pane_id):
                self.pane(pane_id).set_checkpoints(message.job_id, message.checkpoints)

    def on_job_created(self, message: JobCreated) -> None:
        # the Jobs pane is mounted on first use: not yet there (started on Data), it lists
        # the new job when it is
        if self.has_pane("jobs"):
            self.jobs_pane.job_created(message.job_id)
