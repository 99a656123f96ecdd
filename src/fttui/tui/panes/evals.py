"""Pane 5 — Evals: score models on a held-out file, as ``fttui eval`` does, from the app.

Pick a file (the selected job's validation file, downloaded into the cache, else the Data
pane's open file, else any path: ``ctrl+o`` browses), tick models (the job's base model,
its fine-tuned model and checkpoints, plus any typed in), a metric or a grader file, a
limit and a concurrency; ``ctrl+r`` runs it. The run is the CLI's own
(:mod:`fttui.api.evaluate` + :mod:`fttui.evals.session`) in a thread worker; its results
JSONL is kept in the cache, one file per file × models × scorer, so ``x`` / ``esc`` stop
a run with every finished answer kept and the next ``ctrl+r`` continues it. Then a
scoreboard (mean and pass rate with a 95% interval, n, tokens, their cost where the
config's ``[inference_prices]`` prices the model, latency), a score-by-checkpoint sparkline when a job's checkpoints were scored, and the items side by side,
disagreements first; ``e`` exports the results.

As the CLI's flags: a positive class (``--positive-class``: binary classification, its
accuracy, precision, recall, F1 and AUROC — from the first token's logprobs where the
provider gives them — replace the intervals and p95 on the scoreboard), a stop sequence
(``--stop``; escapes as ``\\n``; empty: the one the file's completions end with) and
"allow python graders" (``--allow-python``; off: a python grader is refused, not run).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.message import Message
from textual.widgets import (
    Button,
    Checkbox,
    DataTable,
    Input,
    Label,
    ProgressBar,
    Select,
    SelectionList,
    Sparkline,
    Static,
)
from textual.widgets.selection_list import Selection

from fttui.tui.messages import JobSelected
from fttui.tui.panes.base import Pane
from fttui.tui.widgets.measured_table import MeasuredTable

#: As fttui.api.evaluate.METRICS (not imported: the API layer loads in the worker).
METRICS = ("exact", "contains", "fuzzy", "bleu", "rouge", "classification")
#: Items shown side by side (the results file holds them all; ``e`` exports them all).
SHOW_ITEMS = 500
#: Seconds between progress updates while an eval runs (bursts of answers coalesce).
PROGRESS_EVERY = 0.1
#: The scoreboard's columns and their widths (they fit 120 columns, as the CLI's table).
SCOREBOARD = (
    ("model", 27),
    ("mean", 5),
    ("95% CI", 14),
    ("pass", 6),
    ("95% CI", 11),
    ("n", 4),
    ("err", 3),
    ("tokens", 7),
    ("cost", 8),
    ("p50 ms", 6),
    ("p95 ms", 6),
)
#: With a positive class: the binary classification figures take the intervals' and the
#: p95's place (the same width: the board still fits 120 columns).
CLASSIFICATION_BOARD = (
    ("model", 27),
    ("mean", 5),
    ("pass", 6),
    ("n", 4),
    ("err", 3),
    ("tokens", 7),
    ("cost", 8),
    ("acc", 5),
    ("P", 5),
    ("R", 5),
    ("F1", 5),
    ("AUROC", 5),
    ("p50 ms", 6),
)
#: classification_metrics' keys for the acc, P, R, F1 and AUROC columns
CLASSIFICATION_KEYS = ("accuracy", "precision", "recall", "f1", "auroc")
#: Characters of an input, reference or answer shown in a cell.
CELL = 60


# -- messages from the workers ------------------------------------------------------------
@dataclass
class EvalProgress(Message):
    """Answers scored so far in run ``run`` (of about ``total``)."""

    run: int
    done: int
    total: int | None

    def can_replace(self, message: Message) -> bool:
        # a burst of answers while the UI is busy draws once, with the newest count
        return isinstance(message, EvalProgress) and message.run == self.run


@dataclass
class EvalFinished(Message):
    """Run ``run`` ended: its report (``Report.to_json()``) and items, or why it could not
    start (``errors``: every problem, e.g. each bad field of a grader with its path)."""

    run: int
    report: dict[str, Any] | None = None
    items: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class EvalJobFetched(Message):
    """The selected job read again: its checkpoints and its validation file (downloaded
    into the cache: ``file``), or why the file could not be had (``problem``)."""

    job_id: str
    job: dict[str, Any]
    checkpoints: list[dict[str, Any]]
    file: str | None = None
    problem: str | None = None


# -- plain helpers (no widget) ------------------------------------------------------------
def split_models(text: str) -> list[str]:
    """Models typed into the box: comma- or space-separated."""
    return [m for m in text.replace(",", " ").split() if m]


def results_path(
    file: str, models: list[str], scorer: str, grader: Any, options: dict[str, Any] | None = None
) -> Path:
    """The results JSONL of this file × models × scorer (× the ``options`` that are set:
    stop, positive class) in the cache: the same setup run again continues it (the file's
    size and mtime are in the name: an edit starts over)."""
    from fttui import paths

    try:
        st = os.stat(file)
        stamp = f"{st.st_size}:{st.st_mtime_ns}"
    except OSError:
        stamp = ""
    parts: list[Any] = [os.path.abspath(file), stamp, sorted(models), scorer, grader]
    set_options = {k: v for k, v in (options or {}).items() if v is not None}
    if set_options:  # none set: the name a run had before these options existed
        parts.append(set_options)
    key = json.dumps(parts, sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:12]
    return paths.cache_dir() / "evals" / f"{Path(file).stem}-{digest}.jsonl"


def side_by_side(
    rows: list[dict[str, Any]], models: list[str], inputs: dict[int, str], *, scale: float = 1.0
) -> list[dict[str, Any]]:
    """One entry per item: its input, reference and each model's answer; the items the
    models disagree on first, the widest apart first (a pass beside a fail; without a
    pass mark, scores ``DISAGREE_SPREAD`` × ``scale`` apart or more: the report's rule)."""
    from fttui.evals.session import disagreement

    by_item: dict[int, dict[str, Any]] = {}
    for row in rows:
        if row.get("model") not in models:
            continue
        index = int(row["item"])
        entry = by_item.setdefault(
            index,
            {
                "item": index,
                "line": row.get("line"),
                "input": inputs.get(index, ""),
                "reference": row.get("reference"),
                "answers": {},
            },
        )
        entry["answers"][row["model"]] = {
            "output": row.get("output"),
            "score": row.get("score"),
            "passed": row.get("passed"),
            "error": row.get("error"),
        }
    spreads: dict[int, float] = {}
    for index, entry in by_item.items():
        spread = disagreement(entry["answers"].values(), scale=scale)
        entry["disagree"] = spread is not None
        spreads[index] = spread or 0.0
    return sorted(
        by_item.values(), key=lambda e: (not e["disagree"], -spreads[e["item"]], e["item"])
    )


def _short(text: Any, width: int = CELL) -> str:
    s = " ".join(str(text if text is not None else "").split())
    return s if len(s) <= width else s[: width - 1] + "…"


def short_model(name: str, width: int = 34) -> str:
    """A long model name cut in the middle: its tail (the job, the checkpoint) tells
    a fine-tune's models apart, its head says which base model."""
    if len(name) <= width:
        return name
    head = (width - 1) // 3
    return name[:head] + "…" + name[-(width - 1 - head) :]


def _num(v: Any, pct: bool = False) -> str:
    if v is None:
        return "-"
    return f"{v * 100:.1f}%" if pct else f"{v:.3f}"


def _plain_int(v: Any) -> str:
    return "-" if v is None else f"{v:,}"


class EvalsPane(Pane):
    """The eval form, its progress, the scoreboard and the items side by side."""

    BINDINGS = [
        Binding("ctrl+r", "run", "Run eval", id="evals.run"),
        Binding("x", "stop", "Stop", id="evals.stop"),
        Binding("escape", "stop_or_leave", "Stop / leave input", show=False, id="evals.escape"),
        Binding("e", "export", "Export results", id="evals.export"),
        Binding("ctrl+o", "pick_file", "Pick file", id="evals.pick_file"),
    ]

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job: JobSelected | None = None
        self.checkpoints: list[dict[str, Any]] = []
        self._stale = False
        self._run = 0
        self._stop: threading.Event | None = None
        self.running = False
        self._auto_file: str | None = None  # the file we filled in (replaced when the job changes)
        self._unticked: set[str] = set()  # models the user unticked (kept across refreshes)
        self._ticked: set[str] = set()  # checkpoints the user ticked
        #: the last run's report (``Report.to_json()``), models and items side by side
        self.report: dict[str, Any] | None = None
        self.models: list[str] = []
        self.items: list[dict[str, Any]] = []
        self.results: Path | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="ev-row"):
            yield Label("File", classes="ev-label")
            yield Input(
                placeholder="a .jsonl file in training format (ctrl+o browses)", id="ev-file"
            )
            yield Static("", id="ev-file-source", markup=False)
            yield Button("Browse…", id="ev-browse")
        with Horizontal(id="ev-models-row"):
            yield Label("Models", classes="ev-label")
            yield SelectionList[str](id="ev-models")
            with Vertical(id="ev-extra-box"):
                yield Label("Other models (a, b, job:ftjob-…)")
                yield Input(placeholder="model, job:ftjob-…", id="ev-extra")
        with Horizontal(classes="ev-row"):
            yield Label("Metric", classes="ev-label")
            yield Select(
                [(m, m) for m in METRICS], value="contains", allow_blank=False, id="ev-metric"
            )
            yield Label("Grader", classes="ev-label")
            yield Input(placeholder="grader.json (instead of the metric)", id="ev-grader")
            yield Label("Limit", classes="ev-label")
            yield Input(placeholder="all", restrict=r"[0-9]*", id="ev-limit")
            yield Label("Jobs", classes="ev-label")
            yield Input(
                value="4",
                restrict=r"[0-9]*",
                id="ev-concurrency",
                tooltip="Requests in flight at once",
            )
            yield Button("Run (ctrl+r)", id="ev-run", variant="primary")
        with Horizontal(classes="ev-row"):
            yield Label("Positive", classes="ev-label")
            yield Input(
                placeholder="e.g. yes",
                id="ev-positive",
                tooltip="The label that counts as positive (fttui eval --positive-class)",
            )
            yield Label("Stop", classes="ev-label")
            yield Input(
                placeholder="the file's",
                id="ev-stop",
                tooltip="The stop sequence to send (fttui eval --stop; \\n, \\t escapes); "
                "empty: the one the file's completions end with",
            )
            # off by default: a python grader runs its code on this machine (--allow-python)
            yield Checkbox("allow python graders", False, id="ev-allow-python")
        with Horizontal(id="ev-progress-row"):
            yield ProgressBar(total=None, show_eta=False, id="ev-progress")
            yield Static("ctrl+r runs · x / esc stop · e exports", id="ev-status", markup=False)
        yield Static("", id="ev-error", markup=False)
        yield MeasuredTable(id="ev-scoreboard", cursor_type="row", zebra_stripes=True)
        with Horizontal(id="ev-trend"):
            yield Static("", id="ev-trend-label", markup=False)
            yield Sparkline([], id="ev-sparkline")
        yield Static("Items — disagreements first", id="ev-items-title", markup=False)
        yield MeasuredTable(id="ev-items", cursor_type="row", zebra_stripes=True)
        yield Static("", id="ev-item-detail", markup=False)

    def on_mount(self) -> None:
        self._board_columns(SCOREBOARD)
        self.query_one("#ev-trend").display = False
        self.query_one("#ev-error").display = False
        self.query_one("#ev-item-detail").display = False
        self._refresh_models()

    #: below this many rows the form's three-line fields leave no room for the results
    COMPACT_BELOW = 34

    def on_resize(self) -> None:
        compact = self.ftapp.size.height < self.COMPACT_BELOW
        if compact == self.has_class("-compact"):
            return
        self.set_class(compact, "-compact")
        for widget in self.query("Input, Button, Checkbox, Select, SelectionList"):
            widget.compact = compact  # type: ignore[attr-defined]

    def focus_default(self) -> None:
        self.query_one("#ev-models").focus()

    # -- the selected job -----------------------------------------------------------------
    def select_job(self, message: JobSelected) -> None:
        changed = self.job is None or self.job.job_id != message.job_id
        self.job = message
        if changed:
            self.checkpoints = []
            self._ticked.clear()
            self._unticked.clear()
        if not self.display:
            self._stale = True  # off screen: catch up in on_shown (keeps j/k in Jobs fast)
            return
        self._refresh_models()
        if changed:
            self._fetch_job_if_ready()

    def on_shown(self) -> None:
        self._stale = False
        self._refresh_models()
        self._fetch_job_if_ready()
        self._default_file()

    def refresh_now(self) -> None:
        """``r``: the selected job, its checkpoints and validation file read again."""
        self._fetch_job_if_ready()

    def set_checkpoints(self, job_id: str, cps: list[dict[str, Any]]) -> None:
        """The job's checkpoints as the Jobs pane just fetched them."""
        if self.job and self.job.job_id == job_id and cps != self.checkpoints:
            self.checkpoints = cps
            self._refresh_models()

    def _fetch_job_if_ready(self) -> None:
        if self.job and self.job.job_id and self.ftapp.ready:
            self._fetch_job(self.job.job_id)

    @work(thread=True, exclusive=True, group="evals-job", exit_on_error=False)
    def _fetch_job(self, job_id: str) -> None:
        from fttui import paths
        from fttui.api.errors import friendly

        backend = self.ftapp.backend
        try:
            job = backend.get_job(job_id)
            cps = backend.checkpoints(job_id)
        except Exception:
            return  # the Jobs pane reports provider trouble; typed models still work
        file_id = job.get("validation_file")
        path: str | None = None
        problem = None
        if file_id:
            # downloaded once into the cache: a file id's content never changes
            dest = paths.cache_dir() / "evals" / "files" / f"{file_id}.jsonl"
            try:
                if not dest.is_file():
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    backend.download_file(file_id, dest)
                path = str(dest)
            except Exception as exc:
                problem = f"cannot download the validation file {file_id}: {friendly(exc)}"
        self.post_message(EvalJobFetched(job_id, job, cps, path, problem))

    def on_eval_job_fetched(self, message: EvalJobFetched) -> None:
        message.stop()
        if self.job is None or self.job.job_id != message.job_id:
            return
        job = message.job
        fresh = (job.get("model"), job.get("fine_tuned_model"), job.get("status"))
        if fresh != (self.job.model, self.job.fine_tuned_model, self.job.status):
            self.job = JobSelected(message.job_id, *fresh)
        self.checkpoints = message.checkpoints
        self._refresh_models()
        if message.problem:
            self.notify(message.problem, severity="warning", markup=False)
        if message.file:
            self._set_file(message.file, f"validation file of {message.job_id}", auto=True)
            return
        box = self.query_one("#ev-file", Input)
        if box.value and box.value == self._auto_file:
            # the last job's validation file, filled in for it: not this job's
            box.value = ""
            self._auto_file = None
            self.query_one("#ev-file-source", Static).update("")
        self._default_file()

    def _default_file(self) -> None:
        """No job validation file: the Data pane's open file, if the box is not the user's."""
        box = self.query_one("#ev-file", Input)
        if box.value and box.value != self._auto_file:
            return
        if self.ftapp.has_pane("data"):
            path = getattr(self.ftapp.pane("data"), "path", None)
            if path and path != box.value:
                self._set_file(path, "the Data pane's file", auto=True)

    def _set_file(self, path: str, source: str, *, auto: bool) -> None:
        box = self.query_one("#ev-file", Input)
        if auto and box.value and box.value != self._auto_file:
            return  # the user typed or picked one: theirs wins
        box.value = path
        self._auto_file = path if auto else None
        self.query_one("#ev-file-source", Static).update(f"({source})" if source else "")

    def job_models(self) -> list[tuple[str, str, bool]]:
        """(label, model, ticked by default) for the selected job: its base model, its
        fine-tuned model, then its checkpoints (oldest first, not ticked)."""
        job = self.job
        if job is None or not job.job_id:
            return []
        out: list[tuple[str, str, bool]] = []
        if job.model:
            out.append((f"base · {job.model}", job.model, True))
        if job.fine_tuned_model:
            out.append((f"fine-tuned · {job.fine_tuned_model}", job.fine_tuned_model, True))
        for cp in self.checkpoints:
            model = cp.get("fine_tuned_model_checkpoint")
            if model and model != job.fine_tuned_model:
                out.append((f"step {cp.get('step_number')} · {model}", model, False))
        return out

    def _refresh_models(self) -> None:
        try:
            box = self.query_one("#ev-models", SelectionList)
        except NoMatches:
            # The pane is mounted in the background after the first frame; an app closing
            # in the middle of that removes its children before this pane's Mount runs.
            return
        choices = self.job_models()
        current = [box.get_option_at_index(i).value for i in range(box.option_count)]
        if current == [value for _, value, _ in choices]:
            return
        with self.prevent(SelectionList.SelectedChanged):
            box.clear_options()
            # prompts as Text: a str is parsed as markup (a model name is data)
            box.add_options(
                [
                    Selection(
                        Text(label),
                        value,
                        (default and value not in self._unticked) or value in self._ticked,
                    )
                    for label, value, default in choices
                ]
            )

    @on(SelectionList.SelectedChanged, "#ev-models")
    def _models_changed(self, event: SelectionList.SelectedChanged) -> None:
        event.stop()
        chosen = set(event.selection_list.selected)
        for _label, value, default in self.job_models():
            if default:
                (self._unticked.discard if value in chosen else self._unticked.add)(value)
            else:
                (self._ticked.add if value in chosen else self._ticked.discard)(value)

    def chosen_models(self) -> list[str]:
        ticked = list(self.query_one("#ev-models", SelectionList).selected)
        typed = split_models(self.query_one("#ev-extra", Input).value)
        return list(dict.fromkeys([*ticked, *typed]))

    # -- the file picker ------------------------------------------------------------------
    def action_pick_file(self) -> None:
        from fttui.tui.screens.file_picker import FilePickerScreen

        def chosen(path: str | None) -> None:
            if path:
                self._set_file(path, "", auto=False)

        current = self.query_one("#ev-file", Input).value.strip() or None
        self.ftapp.push_screen(
            FilePickerScreen("Pick a file to evaluate on", start=current), chosen
        )

    @on(Button.Pressed, "#ev-browse")
    def _browse(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_pick_file()

    @on(Button.Pressed, "#ev-run")
    def _run_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_run()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.action_run()

    @on(Input.Changed, "#ev-file")
    def _file_typed(self, event: Input.Changed) -> None:
        if event.value != self._auto_file:
            self.query_one("#ev-file-source", Static).update("")

    # -- running --------------------------------------------------------------------------
    def _show_errors(self, errors: list[str]) -> None:
        box = self.query_one("#ev-error", Static)
        box.update("\n".join(f"⚠ {e}" for e in errors))
        box.display = bool(errors)

    def settings(self) -> dict[str, Any] | list[str]:
        """The form as the run's settings, or the problems with it."""
        problems: list[str] = []
        file = os.path.expanduser(self.query_one("#ev-file", Input).value.strip())
        if not file:
            problems.append("no file: type a path, ctrl+o to browse, or select a job in Jobs")
        elif not os.path.isfile(file):
            problems.append(f"no such file: {file}")
        models = self.chosen_models()
        if not models:
            problems.append("no model: tick one, or type one under Other models")
        limit_text = self.query_one("#ev-limit", Input).value.strip()
        conc_text = self.query_one("#ev-concurrency", Input).value.strip() or "4"
        limit = int(limit_text) if limit_text else None
        concurrency = int(conc_text)
        if (limit is not None and limit < 1) or concurrency < 1:
            problems.append("limit and jobs must be at least 1")
        if problems:
            return problems
        grader = os.path.expanduser(self.query_one("#ev-grader", Input).value.strip()) or None
        metric = self.query_one("#ev-metric", Select).value
        from fttui.text import unescape

        # the label as typed, outer spaces aside (the metrics compare stripped labels)
        positive = self.query_one("#ev-positive", Input).value.strip() or None
        stop = unescape(self.query_one("#ev-stop", Input).value) or None
        return {
            "file": file,
            "models": models,
            "metric": None if grader else str(metric),
            "grader": grader,
            "limit": limit,
            "concurrency": min(concurrency, 64),
            "positive_class": positive,
            "stop": stop,
            "allow_python": self.query_one("#ev-allow-python", Checkbox).value,
        }

    def action_run(self) -> None:
        if self.running:
            self.notify("an eval is running: x stops it", severity="warning")
            return
        settings = self.settings()
        if isinstance(settings, list):
            self._show_errors(settings)
            return
        self._show_errors([])
        self._run += 1
        self._stop = threading.Event()
        self.running = True
        bar = self.query_one("#ev-progress", ProgressBar)
        bar.update(total=None, progress=0)
        self._status(f"evaluating {len(settings['models'])} models… (x or esc stops)")
        self._evaluate(self._run, settings, self._stop)

    def action_stop(self) -> None:
        if not (self.running and self._stop is not None):
            self.notify("no eval is running", severity="information")
            return
        self._stop.set()
        self._status("stopping: the answers in flight finish, then the results are kept…")

    def action_stop_or_leave(self) -> None:
        """esc: stop the run; when none runs, leave the input (so 1–5, q work)."""
        if self.running:
            self.action_stop()
        elif isinstance(self.ftapp.focused, Input):
            self.focus_default()

    def _status(self, text: str) -> None:
        self.query_one("#ev-status", Static).update(text)

    @work(thread=True, exclusive=True, group="evals", exit_on_error=False)
    def _evaluate(self, run: int, settings: dict[str, Any], stop: threading.Event) -> None:
        # Everything heavy is imported here, in the worker: the pane mounts without them.
        from textual.worker import get_current_worker

        from fttui.api.errors import friendly
        from fttui.api.evaluate import (
            EvalSetupError,
            add_costs,
            expand_models,
            file_stops,
            make_call,
            make_scorer,
            read_grader,
        )
        from fttui.evals.items import iter_items, nothing_to_score
        from fttui.evals.session import Evaluation, read_results

        worker = get_current_worker()
        file = settings["file"]
        try:
            grader = read_grader(settings["grader"]) if settings["grader"] else None
            stops = file_stops(file, [settings["stop"]] if settings["stop"] else None)
            client = self.ftapp.backend.client()
            models = expand_models(client, settings["models"])
            scorer = make_scorer(
                client,
                metric=settings["metric"],
                grader=grader,
                allow_python=settings["allow_python"],
            )
        except EvalSetupError as exc:
            self.post_message(EvalFinished(run, errors=exc.errors))
            return
        except Exception as exc:  # the provider: unreachable, a wrong key…
            self.post_message(EvalFinished(run, errors=[str(friendly(exc))]))
            return
        stop_seq = stops[0] if stops else None
        limit = settings["limit"]
        try:
            # the bar's total: items with a reference (a streamed count, flat memory)
            by_grader = grader is not None
            n = sum(
                1
                for it in iter_items(file, stop=stop_seq, limit=limit)
                if it.gradable(by_grader=by_grader)
            )
            empty = (
                None
                if n
                else nothing_to_score(file, stop=stop_seq, limit=limit, by_grader=by_grader)
            )
        except Exception as exc:
            self.post_message(EvalFinished(run, errors=[f"cannot read {file}: {exc}"]))
            return
        if empty:  # an empty file, or no example with a reference: said, nothing run
            self.post_message(EvalFinished(run, errors=[empty]))
            return
        total = n * len(models)
        positive = settings["positive_class"]
        # another stop or positive class asks and scores otherwise: its own results file
        options = {"stop": settings["stop"], "positive_class": positive}
        results = results_path(file, models, scorer.name, grader, options)
        inputs: dict[int, str] = {}

        def items() -> Any:
            for item in iter_items(file, stop=stop_seq, limit=limit):
                if len(inputs) < SHOW_ITEMS:
                    inputs[item.index] = str(item.namespace().get("prompt") or "")
                yield item

        last_post = 0.0

        def progress(done: int, _total: int | None) -> None:
            # At most one message per PROGRESS_EVERY (and can_replace coalesces a backlog):
            # a message per answer kept the UI thread busy enough to slow the run itself.
            nonlocal last_post
            now = time.monotonic()
            if now - last_post >= PROGRESS_EVERY or done >= total:
                last_post = now
                self.post_message(EvalProgress(run, done, total))

        try:
            results.parent.mkdir(parents=True, exist_ok=True)
            report = Evaluation(
                items(),
                models,
                # the first token's logprobs: P(positive) for AUROC, as the CLI asks
                make_call(client, stops=stops, logprobs=positive is not None),
                scorer,
                file=file,
                concurrency=settings["concurrency"],
                results_path=results,
                resume=True,  # the same setup again continues its file (nothing asked twice)
                should_stop=lambda: stop.is_set() or worker.is_cancelled,
                positive_class=positive,
                progress=progress,
            ).run()
            add_costs(report.models)  # the config's [inference_prices], as `fttui eval`
            rows = [r for r in read_results(results) if int(r["item"]) in inputs]
        except Exception as exc:
            self.post_message(EvalFinished(run, errors=[f"the eval failed: {friendly(exc)}"]))
            return
        summary = report.to_json() | {"positive_class": positive, "stop": stops}  # as --json
        self.post_message(
            EvalFinished(
                run, report=summary, items=side_by_side(rows, models, inputs, scale=scorer.scale)
            )
        )

    def on_eval_progress(self, message: EvalProgress) -> None:
        message.stop()
        if message.run != self._run:
            return
        bar = self.query_one("#ev-progress", ProgressBar)
        total = max(message.total or 0, message.done)
        bar.update(total=total or None, progress=message.done)
        if not (self._stop and self._stop.is_set()):
            self._status(f"{message.done}/{total} answers scored… (x or esc stops)")

    def on_eval_finished(self, message: EvalFinished) -> None:
        message.stop()
        if message.run != self._run:
            return
        self.running = False
        bar = self.query_one("#ev-progress", ProgressBar)
        if message.errors or message.report is None:
            bar.update(total=100, progress=0)
            self._show_errors(message.errors or ["the eval did not run"])
            self._status("not run: see above")
            return
        report = message.report
        done = sum(m["n"] + m["errors"] for m in report["models"])
        bar.update(total=max(bar.total or 0, done) or 1, progress=done)
        if report["interrupted"]:
            bar.update(total=max(bar.total or 0, done, 1))
        self.show_results(report, message.items)
        path = report.get("results")
        if report["interrupted"]:
            self.notify(
                f"stopped: {done} answers kept in {path}; ctrl+r continues",
                severity="warning",
                markup=False,
            )

    # -- the results ----------------------------------------------------------------------
    def show_results(self, report: dict[str, Any], items: list[dict[str, Any]]) -> None:
        """Fill the scoreboard, the checkpoint trend and the items from a run's report."""
        from fttui.api.evaluate import score_by_checkpoint

        self.report = report
        self.models = [m["model"] for m in report["models"]]
        self.items = items
        self.results = Path(report["results"]) if report.get("results") else None
        self._show_errors(
            [f"line {e['line']} {e['model']}: {e['error']}" for e in report["errors"][:3]]
        )
        board = self.query_one("#ev-scoreboard", DataTable)
        classified = [m for m in report["models"] if "precision" in (m.get("classification") or {})]
        self._board_columns(CLASSIFICATION_BOARD if classified else SCOREBOARD)
        board.clear()
        for m in report["models"]:
            board.add_row(*scoreboard_row(m, classified=bool(classified)), key=m["model"])
        trend = score_by_checkpoint(report["models"])
        box = self.query_one("#ev-trend")
        box.display = bool(trend)
        if trend:
            self.query_one("#ev-sparkline", Sparkline).data = [mean for _, mean in trend]
            label = " · ".join(f"{name} {mean:.2f}" for name, mean in trend)
            self.query_one("#ev-trend-label", Static).update(f"score by checkpoint: {label}")
        self._fill_items()
        n = max((m["n"] + m["errors"] for m in report["models"]), default=0)
        disagree = sum(1 for e in items if e["disagree"])
        resumed = f", {report['resumed']} resumed" if report.get("resumed") else ""
        if classified:  # where P(positive) came from: the logprobs, or the label's text
            source = classified[0]["classification"]["from"]
            short = "logprobs" if "logprobs" in source else "label text"
            resumed += f" · P({report.get('positive_class') or 'positive'}) from {short}"
        stopped = " — stopped, ctrl+r continues" if report.get("interrupted") else ""
        self._status(
            f"{n} items × {len(self.models)} models, {report['scorer']}{resumed}{stopped}"
            " · e exports"
        )
        self.query_one("#ev-items-title", Static).update(
            f"Items — {disagree} disagreements first" if disagree else "Items"
        )

    def _board_columns(self, columns: tuple[tuple[str, int], ...]) -> None:
        """The scoreboard's columns (fixed widths: the header and the rows stay aligned as
        rows come and go, and the board fits 120 columns; long model names are cut in the
        middle); rebuilt only when a run's report needs the other set."""
        board = self.query_one("#ev-scoreboard", DataTable)
        if [str(c.label) for c in board.ordered_columns] == [label for label, _ in columns]:
            return
        board.clear(columns=True)
        for label, width in columns:
            board.add_column(label, width=width)

    def _fill_items(self) -> None:
        table = self.query_one("#ev-items", DataTable)
        table.clear(columns=True)
        # Fixed widths: the columns fit 120 columns whatever the answers' lengths (the
        # highlighted item is shown in full below); the models share what the line,
        # input and reference leave.
        table.add_column("line", key="line", width=4)
        table.add_column("≠", key="disagree", width=1)
        table.add_column("input", key="input", width=26)
        table.add_column("reference", key="reference", width=18)
        width = max(10, 50 // max(1, len(self.models)) - 9)
        for i, model in enumerate(self.models):
            table.add_column(Text(short_model(model, width + 7)), key=f"model-{i}", width=width + 7)
        for entry in self.items:
            cells: list[Any] = [
                str(entry["line"]),
                "≠" if entry["disagree"] else "",
                Text(_short(entry["input"], 26)),
                Text(_short(entry["reference"], 18)),
            ]
            for model in self.models:
                a = entry["answers"].get(model)
                if a is None:
                    cells.append(Text("—", style="dim"))
                elif a.get("error"):
                    cells.append(Text(f"⚠ {_short(a['error'], width)}", style="red"))
                else:
                    mark = {True: ("✓", "green"), False: ("✗", "red")}.get(a["passed"], ("·", ""))
                    t = Text(f"{mark[0]} ", style=mark[1])
                    t.append(f"{_num(a['score'])[:4]} ", style="bold")
                    t.append(_short(a["output"], width))
                    cells.append(t)
            table.add_row(*cells, key=str(entry["item"]))
        self.show_item(self.items[0] if self.items else None)  # the cursor's row: the first

    @on(DataTable.RowHighlighted, "#ev-items")
    def _item_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        key = event.row_key.value
        entry = next((e for e in self.items if str(e["item"]) == key), None)
        self.show_item(entry)

    def show_item(self, entry: dict[str, Any] | None) -> None:
        """The highlighted item in full width under the table: input, reference, answers."""
        box = self.query_one("#ev-item-detail", Static)
        box.display = entry is not None
        if entry is None:
            return
        width = max(40, (self.size.width or 120) - 24)
        t = Text()
        t.append(f"line {entry['line']}  ", style="bold")
        t.append(_short(entry["input"], width))
        t.append("\nreference  ", style="bold")
        t.append(_short(entry["reference"], width))
        for model in self.models:
            a = entry["answers"].get(model)
            if a is None:
                continue
            mark = {True: ("✓", "green"), False: ("✗", "red")}.get(a["passed"], ("·", ""))
            t.append(f"\n{mark[0]} ", style=mark[1])
            t.append(f"{_num(a['score'])[:4]} {short_model(model, 24)}: ", style="bold")
            t.append(_short(a.get("error") or a["output"], width - 8))
        box.update(t)

    # -- export ---------------------------------------------------------------------------
    def action_export(self) -> None:
        if self.results is None or not self.models:
            self.notify("no results to export yet: run an eval (ctrl+r)", severity="warning")
            return
        self._export(self.results, list(self.models))

    @work(thread=True, exclusive=True, group="evals-export", exit_on_error=False)
    def _export(self, results: Path, models: list[str]) -> None:
        """This run's lines of the results file (one per item × model) to the working
        folder, written whole then renamed: never a half-written file under its name."""
        from fttui.evals.session import read_results

        stem = results.stem.rsplit("-", 1)[0]
        path = Path.cwd() / f"{stem}-eval-results.jsonl"
        n = 2
        while path.exists():
            path = Path.cwd() / f"{stem}-eval-results-{n}.jsonl"
            n += 1
        tmp = path.with_name(f".{path.name}.part")
        try:
            wanted = set(models)
            with tmp.open("w", encoding="utf-8") as fh:
                for row in read_results(results):
                    if row["model"] in wanted:
                        fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            tmp.replace(path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            self.ftapp.call_from_thread(
                self.notify, f"export failed: {exc}", severity="error", markup=False
            )
            return
        self.ftapp.call_from_thread(self.notify, f"wrote {path}", markup=False)
        self.ftapp.call_from_thread(self.ftapp.offer_file, path)


def scoreboard_row(m: dict[str, Any], *, classified: bool = False) -> list[Any]:
    """One model's cells, in SCOREBOARD's order (CLASSIFICATION_BOARD's when
    ``classified``); the cost ``—`` where no price is known, as the CLI prints it."""
    from fttui.api.evaluate import cost_text

    ci = m["ci95"]
    head = [Text(short_model(m["model"], 27)), _num(m["mean"])]
    tokens = _plain_int(m["prompt_tokens"] + m["completion_tokens"])
    counts = [str(m["n"]), str(m["errors"]), tokens, cost_text(m.get("cost"))]
    if classified:
        cls = m.get("classification") or {}
        figures = [_num(cls.get(k)) for k in CLASSIFICATION_KEYS]
        return [
            *head,
            _num(m["pass_rate"], pct=True),
            *counts,
            *figures,
            _plain_int(m["latency_p50_ms"]),
        ]
    return [
        *head,
        f"[{_num(ci[0])}, {_num(ci[1])}]" if ci else "-",
        _num(m["pass_rate"], pct=True),
        _pass_ci(m),
        *counts,
        _plain_int(m["latency_p50_ms"]),
        _plain_int(m["latency_p95_ms"]),
    ]


def _pass_ci(m: dict[str, Any]) -> str:
    """A 95% interval of the pass rate (Wilson's: right at 0 and 1 and for small n)."""
    rate, n = m.get("pass_rate"), m.get("n") or 0
    if rate is None or not n:
        return "-"
    z = 1.96
    denom = 1 + z * z / n
    centre = (rate + z * z / (2 * n)) / denom
    half = z * ((rate * (1 - rate) / n + z * z / (4 * n * n)) ** 0.5) / denom
    return f"[{max(0.0, centre - half) * 100:.0f}%, {min(1.0, centre + half) * 100:.0f}%]"
