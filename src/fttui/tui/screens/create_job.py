"""Create a fine-tuning job: files, model and hyperparameters; lint, upload, create.

``CreateJobScreen(training_file=None)`` is a ``ModalScreen[str | None]`` that dismisses
with the new job's id (None when backed out). The training file is linted as soon as it
is chosen (a summary: examples, errors, epochs and billed tokens). On ``ctrl+s`` the API
layer (``fttui.api.jobs.create_job``) lints again, uploads with a progress callback (shown
as a progress bar), waits for processing and creates the job — all in a thread worker with
``self.app.backend.client()``. Lint errors refuse the job unless "force" is ticked; every
other failure is one line on the screen, which stays usable.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.suggester import SuggestFromList
from textual.widgets import Button, Checkbox, Input, Label, ProgressBar, Static
from textual.worker import Worker, WorkerState, get_current_worker

from fttui.datasets.model_limits import is_legacy_completion_model
from fttui.text import human_size as _size
from fttui.tui.claim import Claim
from fttui.tui.screens.create_iterate import IterateForm
from fttui.tui.widgets.example_view import one_line
from fttui.tui.widgets.grader_editor import PARAM_FIELDS as METHOD_PARAM_FIELDS
from fttui.tui.widgets.grader_editor import MethodFieldError, TrainingMethodSection

if TYPE_CHECKING:  # the app imports the panes: typing only, no cycle at run time
    from fttui.datasets.findings import LintReport  # (the linter loads with a file)
    from fttui.tui.app import FtApp

DEFAULT_MODEL = "gpt-4o-mini-2024-07-18"
#: the model the form picks for prompt/completion data when nobody chose one
COMPLETIONS_MODEL = "davinci-002"
#: a refused request's ``param`` → the form's field for it (the cursor goes there)
PARAM_FIELDS = {
    "model": "create-model",
    "training_file": "create-training",
    "validation_file": "create-validation",
    "n_epochs": "create-epochs",
    "batch_size": "create-batch",
    "learning_rate_multiplier": "create-lr",
    "suffix": "create-suffix",
    "seed": "create-seed",
    **METHOD_PARAM_FIELDS,  # the method section's (the grader, RFT hyperparameters, beta)
    "metadata": "create-metadata",
}
MAX_ERROR_LINES = 5
LINT_WIDTH = 90
PHASE_LABELS = {
    "lint": "Linting",
    "upload": "Uploading",
    "processing": "Waiting for the provider to process the file",
    "create": "Creating the job",
}


class FormError(ValueError):
    """A field holds a value the API would refuse; ``field`` is the input's id."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _optional_int(value: str, field: str, label: str, lo: int, hi: int) -> int | None:
    value = value.strip()
    if value.lower() in ("", "auto"):
        return None
    try:
        number = int(value)
    except ValueError:
        raise FormError(field, f"{label} must be a whole number or auto") from None
    if not lo <= number <= hi:
        raise FormError(field, f"{label} must be between {lo:,} and {hi:,}")
    return number


def _optional_float(value: str, field: str, label: str) -> float | None:
    value = value.strip()
    if value.lower() in ("", "auto"):
        return None
    try:
        number = float(value)
    except ValueError:
        raise FormError(field, f"{label} must be a number or auto") from None
    if not number > 0:
        raise FormError(field, f"{label} must be greater than 0")
    return number


def lint_summary(report: LintReport) -> Text:
    """One line: examples, errors / warnings, the estimate; then one line per error code."""
    text = Text(no_wrap=True, overflow="ellipsis")
    errors = [f for f in report.findings if f.severity == "error"]
    warnings = [f for f in report.findings if f.severity == "warning"]
    text.append(f"{report.examples:,} examples ({report.format})  ")
    if errors:
        text.append(f"✗ {len(errors):,} error{'s' if len(errors) != 1 else ''}", style="bold red")
    else:
        text.append("✓ no errors", style="bold green")
    if warnings:
        text.append(
            f", {len(warnings):,} warning{'s' if len(warnings) != 1 else ''}", style="yellow"
        )
    est = report.estimate or {}
    if est.get("n_epochs") is not None:
        text.append(f"  ·  {est['n_epochs']} epochs by default", style="dim")
    if est.get("billed_tokens") is not None:
        text.append(f", {est['billed_tokens']:,} billed tokens", style="dim")
    if est.get("cost") is not None:
        text.append(f", ${est['cost']:,.2f}", style="dim")
    if est.get("billed_tokens") is not None:
        # the estimate is OpenAI's billing count; a job on fttui serve reports trained_tokens
        # by its own count (the local model's tokenizer and chat template; the sim: bytes / 4
        # of the JSONL), so the two differ there and the user should know which is which
        text.append(
            f"\n  billed tokens: OpenAI's count for {est.get('model') or 'the model'}; "
            "fttui serve's trained_tokens use its own tokenizer",
            style="dim",
        )
    by_code: dict[str, list[Any]] = {}
    for f in errors:
        by_code.setdefault(f.code, []).append(f)
    for code, items in list(by_code.items())[:MAX_ERROR_LINES]:
        line = Text(f"\n✗ {code}", style="red")
        if len(items) > 1:
            line.append(f" ×{len(items)}", style="red")
        line.append(": ")
        line.append(one_line(items[0].message, 200))
        line.truncate(LINT_WIDTH, overflow="ellipsis")
        text.append_text(line)
    if len(by_code) > MAX_ERROR_LINES:
        text.append(f"\n… and {len(by_code) - MAX_ERROR_LINES} more kinds of error", style="dim")
    return text


# -- worker → screen messages -------------------------------------------------------------


class _PreLinted(Message):
    def __init__(
        self,
        field: str,
        path: str,
        model: str,
        report: LintReport | None = None,
        error: str | None = None,
    ):
        super().__init__()
        self.field = field
        self.path = path
        self.model = model
        self.report = report
        self.error = error


class _Progress(Message):
    def __init__(self, phase: str, done: int, total: int) -> None:
        super().__init__()
        self.phase = phase
        self.done = done
        self.total = total

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, _Progress) and message.phase == self.phase


class _Models(Message):
    def __init__(self, models: list[str]) -> None:
        super().__init__()
        self.models = models


class _Failed(Message):
    def __init__(
        self, kind: str, message: str, report: LintReport | None = None, param: str | None = None
    ) -> None:
        super().__init__()
        self.kind = kind
        self.message = message
        self.report = report
        self.param = param


class _Created(Message):
    def __init__(self, job_id: str) -> None:
        super().__init__()
        self.job_id = job_id


class CreateJobScreen(IterateForm):
    """The "new job" form. ``ctrl+s`` creates, ``esc`` stops an upload or backs out.
    Clone, continue, sweeps and metadata: ``IterateForm`` (create_iterate.py)."""

    app: FtApp  # for the type checker only (no value: Textual's property stays)

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+s", "create", "Create job", id="create_job.create", priority=True),
        Binding("ctrl+o", "browse", "Browse for the file", id="create_job.browse"),
        Binding("escape", "cancel", "Cancel", id="create_job.cancel"),
    ]

    def __init__(
        self, training_file: str | None = None, *, model: str | None = None, source: Any = None
    ) -> None:
        super().__init__()
        # source: the job to clone (an SDK job), its settings filled in on mount
        self._iterate_init(source)
        if source is not None:
            training_file, model = source.training_file, model or source.model
        self.training_file = training_file
        self.model = model or DEFAULT_MODEL
        # nobody chose the model (neither the caller, e.g. the Data pane's m, nor the user in
        # the field): it may follow the data (prompt/completion → a completions model)
        self._model_auto = model is None
        self._model_set = self.model  # the last value the form itself put in the field
        self._models: list[str] = []  # the provider's models, once listed
        # (path, size, mtime_ns) → file id: a retry after a refused create reuses the upload
        self._uploads: dict[tuple[str, int, int], str] = {}
        self._focus_before: str | None = None
        self.running = False
        # field id -> (the field's value and the model it was linted for, the report): a
        # report is only used for what it belongs to (a refusal must not come from the last
        # file, nor from a lint for another model)
        self._reports: dict[str, tuple[str, str, LintReport]] = {}
        self._linted: dict[str, str] = {}
        self._create_worker: Worker[None] | None = None
        self._create_claim: Claim | None = None
        #: every (phase, done, total) progress report shown, in order
        self.progress_log: list[tuple[str, int, int]] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="create-box"):
            yield Label("New fine-tuning job", id="create-title")
            with VerticalScroll(id="create-form"):
                with Horizontal(classes="row"):
                    yield Label("Training file")
                    yield Input(
                        self.training_file or "",
                        id="create-training",
                        placeholder="path to a JSONL / CSV / … file, or a file id",
                    )
                    yield Button("Browse ^o", id="browse-training")
                yield Static("", id="lint-training", classes="lint")
                with Horizontal(classes="row"):
                    yield Label("Validation file")
                    yield Input("", id="create-validation", placeholder="optional")
                    yield Button("Browse", id="browse-validation")
                yield Static("", id="lint-validation", classes="lint")
                with Horizontal(classes="row"):
                    yield Label("Model")
                    yield Input(
                        self.model,
                        id="create-model",
                        placeholder="base model or ft:… model to continue from",
                    )
                yield from self.continue_fields()  # create_iterate: what to continue from
                with Grid(id="create-hp"):
                    yield Label("Epochs")
                    yield Input("auto", id="create-epochs")
                    yield Label("Batch size")
                    yield Input("auto", id="create-batch")
                    yield Label("LR mult.")
                    yield Input("auto", id="create-lr")
                with Grid(id="create-hp2"):
                    yield Label("Suffix")
                    yield Input("", id="create-suffix", placeholder="optional, ≤ 64 chars")
                    yield Label("Seed")
                    yield Input("", id="create-seed", placeholder="optional")
                # -- the training method (supervised / dpo / reinforcement + its grader) --
                yield TrainingMethodSection(
                    training=lambda: self._value("create-training"), id="create-method-section"
                )
                # clone / continue / sweep / metadata: create_iterate.IterateForm
                yield from self.iterate_fields()
                yield Checkbox("Create even if the linter finds errors (force)", id="create-force")
            yield Static("", id="create-status")
            with Horizontal(id="create-progress-row"):
                yield Label("", id="create-phase")
                yield ProgressBar(total=100, show_eta=False, id="create-progress")
            with Horizontal(id="create-buttons"):
                yield Button("Create ^s", id="create-ok", variant="primary")
                yield Button("Cancel esc", id="create-cancel")

    #: below this many rows the form's three-line fields do not all fit: one line each
    COMPACT_BELOW = 34

    def on_resize(self) -> None:
        compact = self.size.height < self.COMPACT_BELOW
        self.set_class(compact, "-compact")
        for widget in self.query("Input, Button, Checkbox, Select"):
            widget.compact = compact  # type: ignore[attr-defined]

    def on_mount(self) -> None:
        training = self.query_one("#create-training", Input)
        if self.training_file:
            self.query_one("#create-model", Input).focus()
            self._prelint("create-training", self.training_file)
        else:
            training.focus()
        self._load_models()

    # -- helpers --------------------------------------------------------------------------
    def _status(self, message: str | Text, *, error: bool = False) -> None:
        status = self.query_one("#create-status", Static)
        status.update(message)
        status.set_class(error, "-error")

    def _value(self, field: str) -> str:
        return self.query_one(f"#{field}", Input).value.strip()

    def form(self) -> dict[str, Any]:
        """The job's arguments from the form; raises ``FormError`` on a bad field."""
        for inp in self.query(Input):
            inp.remove_class("-invalid")
        training = self._value("create-training")
        if not training:
            raise FormError("create-training", "Choose a training file")
        model = self._value("create-model")
        if not model:
            raise FormError("create-model", "Name the model to fine-tune")
        unfinished = self._unfinished_model(model)
        if unfinished:
            raise FormError("create-model", unfinished)
        suffix = self._value("create-suffix") or None
        if suffix is not None and len(suffix) > 64:
            raise FormError("create-suffix", "The suffix takes at most 64 characters")
        # epochs, batch size, LR multiplier, seed: a value each, or a list (a sweep)
        hp = self.hyperparameters()
        args = {
            "model": model,
            "training_file": _expand(training),
            "validation_file": _expand(self._value("create-validation")) or None,
            **hp,
            "suffix": suffix,
            "force": self.query_one("#create-force", Checkbox).value,
            # the method and its arguments (grader, RFT hyperparameters, beta); none for
            # supervised, so that request stays as it was
            **self._method().form_args(),
        }
        return self.iterate_args(args)  # + metadata, a clone's carried method

    def _unfinished_model(self, model: str) -> str | None:
        """Why ``model`` looks half-typed (the start of a listed model, or close to one but
        listed itself not), or None. A name close to no listed model goes to the provider."""
        if not self._models or model in self._models:
            return None
        import difflib

        starts = [m for m in self._models if m.lower().startswith(model.lower())]
        close = starts or difflib.get_close_matches(model, self._models, n=3, cutoff=0.8)
        if not close:
            return None
        names = ", ".join(close[:3]) + (" …" if len(close) > 3 else "")
        return f"{model} is not one of the provider's models — did you mean {names}?"

    def _accept_shown_completion(self) -> None:
        """What the model field shows is what is sent: a greyed completion on screen (the
        field has the focus, the cursor at the end) is taken on ctrl+s, as → would."""
        inp = self.query_one("#create-model", Input)
        # Input keeps the completion it shows in _suggestion (Textual 8), drawn only while
        # the field has the focus
        shown = str(getattr(inp, "_suggestion", "") or "")
        if (
            inp.has_focus
            and inp.cursor_at_end
            and len(shown) > len(inp.value)
            and shown.lower().startswith(inp.value.lower())
        ):
            inp.value = shown

    def _set_running(self, running: bool) -> None:
        self.running = running
        for widget in self.query(
            "#create-form Input, #create-form Button, #create-form Select, "
            "#create-form TextArea, #create-force"
        ):
            widget.disabled = running
        self.query_one("#create-ok", Button).disabled = running
        self.query_one("#create-progress-row").set_class(running, "-running")
        self.query_one("#create-cancel", Button).label = "Stop esc" if running else "Cancel esc"

    # -- pre-lint -------------------------------------------------------------------------
    @on(Input.Submitted, "#create-training, #create-validation")
    def _file_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if event.value.strip():
            self._prelint(event.input.id or "", event.value.strip())
        self.focus_next()

    @on(Input.Blurred, "#create-training, #create-validation")
    def _file_blurred(self, event: Input.Blurred) -> None:
        value = event.input.value.strip()
        if value and self._linted.get(event.input.id or "") != value:
            self._prelint(event.input.id or "", value)

    @on(
        Input.Submitted,
        "#create-model, #create-epochs, #create-batch, #create-lr, #create-suffix, #create-seed,"
        " #create-metadata",
    )
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.focus_next()

    def _prelint(self, field: str, value: str) -> None:
        target = self.query_one(f"#lint-{field.removeprefix('create-')}", Static)
        path = _expand(value)
        self._linted[field] = value
        self._reports.pop(field, None)  # the last file's report says nothing about this one
        if not os.path.exists(path):
            if value.startswith("file-"):
                target.update(self.file_id_note(value))
            else:
                target.update(Text(f"No such file: {path}", style="bold red"))
            return
        target.update(Text("linting…", style="dim italic"))
        self._run_prelint(field, path, *self._lint_context())

    def _lint_model(self) -> str:
        return self._value("create-model") or DEFAULT_MODEL

    def _lint_context(self) -> tuple[str, dict[str, Any]]:
        """What a lint depends on besides the file: a key (a report is used only for the key
        it was made for: the model alone for supervised data) and the lint's arguments (the
        model; the method, and an RFT job's grader whose fields every example must have)."""
        model = self._lint_model()
        extra = self._method().lint_args()
        key = model + (" " + json.dumps(extra, sort_keys=True) if extra else "")
        return key, {"model": model, **extra}

    def _method(self) -> TrainingMethodSection:
        return self.query_one(TrainingMethodSection)

    @on(TrainingMethodSection.LintChanged)
    def _method_changed(self, event: TrainingMethodSection.LintChanged) -> None:
        """Another method (or grader) checks the data by other rules: lint it again."""
        event.stop()
        for field in ("create-training", "create-validation"):
            if self._value(field):
                self._prelint(field, self._value(field))

    @work(
        thread=True,
        exclusive=False,
        group="create-prelint",
        exit_on_error=False,
        description="lint the chosen file",
    )
    def _run_prelint(self, field: str, path: str, key: str, lint_args: dict[str, Any]) -> None:
        worker = get_current_worker()
        try:
            from fttui.tui.lint_process import lint

            report = lint(
                path, **lint_args, max_findings=2000, should_stop=lambda: worker.is_cancelled
            )
        except Exception as exc:
            self.post_message(_PreLinted(field, path, key, error=_one_line(exc)))
            return
        if report is not None and not worker.is_cancelled:
            self.post_message(_PreLinted(field, path, key, report))

    def on__pre_linted(self, message: _PreLinted) -> None:
        message.stop()
        if _expand(self._linted.get(message.field, "")) != message.path:
            return  # the field changed since
        target = self.query_one(f"#lint-{message.field.removeprefix('create-')}", Static)
        if message.error is not None:
            target.update(Text(f"cannot lint: {message.error}", style="bold red"))
            return
        if message.report is None:  # not sent: a lint without an error always has its report
            return
        self._reports[message.field] = (
            self._linted.get(message.field, ""),
            message.model,
            message.report,
        )
        target.update(lint_summary(message.report))
        self._lint_done()  # the sweep's plan counts its tokens from this report
        if (
            message.field == "create-training"
            and self._model_auto
            and message.report.format == "prompt_completion"
            and not is_legacy_completion_model(self._lint_model())
        ):
            self._follow_the_data(COMPLETIONS_MODEL)

    def _follow_the_data(self, model: str) -> None:
        """Prompt/completion data with a chat model nobody chose: take a completions model
        (and lint again for it: the tokenizer, limit and format check depend on it)."""
        self._model_set = model
        self.query_one("#create-model", Input).value = model
        self._status(
            Text.assemble(
                "Model ",
                (model, "bold"),
                ": the training file is prompt/completion data, which chat models do not train on.",
            )
        )
        for field in ("create-training", "create-validation"):
            if self._value(field):
                self._prelint(field, self._value(field))

    @on(Input.Changed, "#create-model")
    def _model_changed(self, event: Input.Changed) -> None:
        if event.value != self._model_set:
            self._model_auto = False  # typed by the user: the form no longer picks it

    # -- models list ----------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="create-models",
        exit_on_error=False,
        description="list the provider's models",
    )
    def _load_models(self) -> None:
        try:
            from fttui.api.models import iter_models

            models = sorted({m.id for m in iter_models(self.app.backend.client())})
        except Exception:
            return  # suggestions only: the model can always be typed
        self.post_message(_Models(models))

    def on__models(self, message: _Models) -> None:
        message.stop()
        if message.models:
            self._models = message.models
            self.query_one("#create-model", Input).suggester = SuggestFromList(
                message.models, case_sensitive=False
            )
            self._merge_models()  # and the checkpoints to continue from

    # -- create ---------------------------------------------------------------------------
    def action_create(self) -> None:
        if self.running:
            return
        if self.app.read_only:
            self._status("Read-only mode: creating jobs is disabled.", error=True)
            return
        self._accept_shown_completion()
        focused = self.focused
        # a field to come back to after a failure (never a button: the cursor belongs in
        # something to fix)
        self._focus_before = focused.id if isinstance(focused, Input | Checkbox) else None
        try:
            args = self.form()
        except (FormError, MethodFieldError) as exc:
            inp = self.query_one(f"#{exc.field}")
            inp.add_class("-invalid")
            inp.focus()
            self._status(f"✗ {exc}", error=True)
            return
        linted_value, linted_model, report = self._reports.get("create-training", ("", "", None))
        if (
            report is not None
            and report.has_errors
            and not args["force"]
            and linted_value == self._value("create-training")
            and linted_model == self._lint_context()[0]
        ):
            self._refuse(report)
            return
        if self.start_sweep(args):  # a field holds a list: ask, then create the grid
            return
        # no report for this value yet (its lint still running, or a file id): the job layer
        # lints again before uploading, and a file with errors is refused there
        self._set_running(True)
        self._status(Text("Starting…", style="italic"))
        self._create_claim = Claim()
        self._create_worker = self._run_create(args, self._create_claim)

    def _refuse(self, report: LintReport) -> None:
        grader_refusal = self._method().grader_refusal(report)
        if grader_refusal is not None:  # the grader names fields the data lacks: fix it there
            self._status(grader_refusal, error=True)
            self._method().focus_grader()
            return
        errors = [f for f in report.findings if f.severity == "error"]
        self._status(
            Text.assemble(
                (
                    f"✗ The training file has {len(errors):,} lint error"
                    f"{'s' if len(errors) != 1 else ''}",
                    "bold",
                ),
                " — fix them (the Data pane shows each one) or tick ",
                ("force", "bold"),
                " to create the job anyway.",
            ),
            error=True,
        )
        self.query_one("#create-force", Checkbox).focus()

    @work(
        thread=True,
        exclusive=True,
        group="create-job",
        exit_on_error=False,
        description="upload the files and create the job",
    )
    def _run_create(self, args: dict[str, Any], claim: Claim) -> None:
        if not claim.begin():
            return  # stopped before it began: action_cancel already reset the form
        worker = get_current_worker()

        def progress(phase: str, done: int, total: int) -> None:
            self.post_message(_Progress(phase, done, total))

        try:
            from fttui.api.jobs import create_job

            client = self.app.backend.client()
            job = create_job(
                client,
                progress=progress,
                uploads=self._uploads,
                should_stop=lambda: worker.is_cancelled,
                **args,
            )
        except Exception as exc:
            kind = getattr(exc, "kind", "error")
            if worker.is_cancelled:
                kind = "cancelled"
            self.post_message(
                _Failed(
                    kind, _one_line(exc), getattr(exc, "report", None), getattr(exc, "param", None)
                )
            )
            return
        self.post_message(_Created(job.id))

    def on__progress(self, message: _Progress) -> None:
        message.stop()
        if not self.running:
            return
        self.progress_log.append((message.phase, message.done, message.total))
        label = PHASE_LABELS.get(message.phase, message.phase.capitalize())
        bar = self.query_one("#create-progress", ProgressBar)
        if message.phase == "upload" and message.total:
            label += f" {_size(message.done)} of {_size(message.total)}"
            bar.update(total=message.total, progress=message.done)
        elif message.done >= message.total:
            bar.update(total=100, progress=100)
        else:
            bar.update(total=None)
        self.query_one("#create-phase", Label).update(label + "…")

    def on__failed(self, message: _Failed) -> None:
        message.stop()
        self._set_running(False)
        if message.kind == "lint" and message.report is not None:
            self._linted["create-training"] = self._value("create-training")
            self._reports["create-training"] = (
                self._linted["create-training"],
                self._lint_context()[0],
                message.report,
            )
            self.query_one("#lint-training", Static).update(lint_summary(message.report))
            self._refuse(message.report)
            return
        if message.kind == "cancelled":
            self._status("Stopped: no job was created.", error=True)
            self._restore_focus()
            return
        self._status(f"✗ {message.message}", error=True)
        field = _field_of(message.param)
        if field is not None:
            inp = self.query_one(f"#{field}")
            inp.add_class("-invalid")
            inp.focus()
        else:
            self._restore_focus()

    def _restore_focus(self) -> None:
        """Back to the field ctrl+s was pressed in (the disabled form lost the focus)."""
        target = self.query(f"#{self._focus_before}") if self._focus_before else None
        if target:
            target.first().focus()
        else:
            self.query_one("#create-model", Input).focus()

    def on__created(self, message: _Created) -> None:
        message.stop()
        self._set_running(False)
        self.created = [message.job_id]
        self.dismiss(message.job_id)

    # -- other actions --------------------------------------------------------------------
    def action_cancel(self) -> None:
        if self.running and self._create_worker is not None:
            self._create_worker.cancel()
            if self._create_claim is not None and self._create_claim.abandon():
                # cancelled before its thread ran: it will never post _Failed, so the
                # form would stay disabled on "Stopping…" (and esc would only repeat it)
                self._set_running(False)
                self._status("Stopped: no job was created.", error=True)
                return
            self._status(Text("Stopping…", style="italic"))
            return
        self.workers.cancel_node(self)
        if self._uploads:
            self._delete_uploads(list(self._uploads.values()))
        self.dismiss(None)

    def _delete_uploads(self, file_ids: list[str]) -> None:
        """Backing out after a refused create: what the form uploaded, no job uses; left
        there it would be an orphan in ``fttui files list``. The app runs it (the screen's
        own workers go with the screen)."""
        backend = self.app.backend

        def delete() -> None:
            from fttui.api.files import delete_file

            client = backend.client()
            for file_id in file_ids:
                try:
                    delete_file(client, file_id)
                except Exception:
                    pass  # best effort: a file that stays is listed, never lost data

        self.app.run_worker(
            delete,
            thread=True,
            exclusive=True,
            group="create-cleanup",
            exit_on_error=False,
            description="delete the uploads no job uses",
        )

    def action_browse(self, field: str | None = None) -> None:
        if self.running:
            return
        if field is None:
            focused = self.focused
            field = (
                "create-validation"
                if focused is not None and focused.id in ("create-validation", "browse-validation")
                else "create-training"
            )
        from fttui.tui.screens.file_picker import FilePickerScreen

        current = self._value(field)

        def chosen(path: str | None) -> None:
            if path:
                inp = self.query_one(f"#{field}", Input)
                inp.value = path
                self._prelint(field, path)
                inp.focus()

        title = "Training file" if field == "create-training" else "Validation file"
        self.app.push_screen(FilePickerScreen(title, start=current or None), chosen)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        button = event.button.id
        if button == "create-ok":
            self.action_create()
        elif button == "create-cancel":
            self.action_cancel()
        elif button == "browse-training":
            self.action_browse("create-training")
        elif button == "browse-validation":
            self.action_browse("create-validation")

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        # a worker that died outside its own try (should not happen): never leave a
        # spinning, disabled form behind
        if event.worker is self._create_worker and event.state == WorkerState.ERROR:
            self._set_running(False)
            self._status(f"✗ {event.worker.error}", error=True)


def _field_of(param: str | None) -> str | None:
    """The form's field for a refused request's ``param`` (``hyperparameters.n_epochs``,
    ``method.supervised.hyperparameters.batch_size`` → its last part), or None."""
    if not param:
        return None
    if "grader" in param.split("."):  # method.reinforcement.grader.graders.x.operation
        return PARAM_FIELDS["grader"]
    return PARAM_FIELDS.get(param.rsplit(".", 1)[-1])


def _expand(value: str) -> str:
    if not value:
        return ""
    if value.startswith("file-") and not os.path.exists(value):
        return value
    return os.path.abspath(os.path.expanduser(value))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
