"""The create form's iterate half (issue 15): clone a job, continue from a fine-tuned model
or a checkpoint, sweep a hyperparameter grid, and the metadata field.

``IterateForm`` is the base class of ``CreateJobScreen``: the form's own fields, lint and
create stay there; what is here only adds to them, so the two halves change apart.

- **Clone**: ``CreateJobScreen(source=job)`` (the Jobs pane's ``e``) fills the form from
  ``fttui.api.compare.clone_settings(job)``: its files by id (nothing is uploaded again),
  model, hyperparameters, suffix, seed and metadata; a method the form has no field for
  (dpo's beta, an RFT grader) is carried over as it was.
- **Continue**: the model field completes the provider's fine-tuned models and the
  checkpoints (``ft:…:ckpt-step-N``) of the cloned job and of recent succeeded jobs.
- **Sweep**: Epochs, Batch size, LR mult. and Seed take a comma-separated list; every
  combination is a job. The form shows the count, billed tokens and cost as the fields
  change (``fttui.api.compare.plan_sweep``, as ``jobs create --epochs 2,3``), asks, then
  creates them all with a shared ``metadata.sweep`` (``create_sweep_jobs``).
- **Metadata**: ``key=value, key2=value2``, checked against OpenAI's limits as typed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import ModalScreen
from textual.suggester import SuggestFromList
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Static
from textual.widgets.option_list import Option
from textual.worker import get_current_worker

from fttui.tui.claim import Claim

if TYPE_CHECKING:
    from fttui.datasets.findings import LintReport
    from fttui.tui.app import FtApp

#: the hyperparameter fields that may hold a list (a sweep axis): field id → (create_job
#: keyword, type, label, lowest, highest); None: any number above 0
SWEEP_FIELDS: dict[str, tuple[str, type, str, int | None, int | None]] = {
    "create-epochs": ("n_epochs", int, "Epochs", 1, 50),
    "create-batch": ("batch_size", int, "Batch size", 1, 256),
    "create-lr": ("learning_rate_multiplier", float, "LR mult.", None, None),
    "create-seed": ("seed", int, "Seed", 0, 2_147_483_647),
}
#: what a change to re-plans the sweep (its grid, or its tokens and price)
PLAN_FIELDS = (*SWEEP_FIELDS, "create-model", "create-training")


def field_values(field: str, text: str) -> list[Any]:
    """A sweepable field's values: ``[None]`` for auto (or empty), one value, or each value
    of a comma-separated list (repeats dropped; ``auto`` may be one of them). Raises the
    form's ``FormError`` naming the field."""
    from fttui.tui.screens.create_job import FormError, _optional_float, _optional_int

    _dest, cast, label, lo, hi = SWEEP_FIELDS[field]
    parts = [p.strip() for p in text.split(",")]
    if len(parts) > 1 and any(not p for p in parts):
        raise FormError(field, f"{label} takes a value or a comma-separated list, got {text!r}")
    values: list[Any] = []
    for part in parts:
        value: float | None
        if cast is int:
            assert lo is not None and hi is not None
            value = _optional_int(part, field, label, lo, hi)
        else:
            value = _optional_float(part, field, label)
        if value not in values:
            values.append(value)
    return values


def sweep_label(axes: dict[str, list[Any]]) -> str:
    """``epochs 2,3 × LR mult. 0.5,1`` (the form's labels, auto for the default)."""
    labels = {dest: label for dest, _c, label, _lo, _hi in SWEEP_FIELDS.values()}
    return " × ".join(
        f"{labels[d]} {','.join('auto' if v is None else f'{v:g}' for v in vs)}"
        for d, vs in axes.items()
    )


# -- worker → screen messages -------------------------------------------------------------


class _ContinueModels(Message):
    """The models a job can continue from (fine-tuned models, checkpoints)."""

    def __init__(self, models: list[str]) -> None:
        super().__init__()
        self.models = models


class _EpochTokens(Message):
    """One epoch's billed tokens of an uploaded training file (None: not countable)."""

    def __init__(self, training: str, per: tuple[int, int] | None) -> None:
        super().__init__()
        self.training = training
        self.per = per


class _SweepCreated(Message):
    def __init__(self, sweep: str, job_ids: list[str]) -> None:
        super().__init__()
        self.sweep = sweep
        self.job_ids = job_ids


class IterateForm(ModalScreen[str | None]):
    """What the create form does beyond one new job (see the module docstring)."""

    app: FtApp  # for the type checker only

    # merged with CreateJobScreen's own (Textual collects BINDINGS along the MRO)
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+l", "continue_from", "Continue from a model", id="create_job.continue_from"),
    ]

    # set by CreateJobScreen.__init__; declared for the type checker
    source: Any
    running: bool
    _models: list[str]
    _uploads: dict[tuple[str, int, int], str]
    _create_worker: Any
    _create_claim: Claim | None
    _reports: dict[str, tuple[str, str, LintReport]]
    _linted: dict[str, str]

    #: the jobs this form created (several for a sweep), once it dismisses
    created: list[str]
    #: the sweep's axes as the fields hold them now (create_job keyword → values)
    sweep_axes: dict[str, list[Any]]
    #: what the plan line shows now (``4 jobs · 1,234 billed tokens · $0.01``), or ""
    plan_text: str

    # the CreateJobScreen methods used here
    _value: Callable[[str], str]
    _status: Callable[..., None]
    _set_running: Callable[[bool], None]

    def _iterate_init(self, source: Any) -> None:
        self.source = source
        self.created = []
        self.sweep_axes = {}
        self.plan_text = ""
        self._continue: list[str] = []
        # training value → (one epoch's tokens, default epochs), None where not countable;
        # model → its configured price. By file, not (file, model): a keystroke in the model
        # field must not count the file again (the tokenizers of one family agree)
        self._epoch_tokens: dict[str, tuple[int, int] | None] = {}
        self._prices: dict[str, float | None] = {}
        self._carry: dict[str, Any] = {}

    # -- compose --------------------------------------------------------------------------
    def continue_fields(self) -> Iterator[Widget]:
        """Below the model field: what there is to continue from (once listed)."""
        yield Static("", id="continue-note", classes="lint")

    def iterate_fields(self) -> Iterator[Widget]:
        """The metadata field and the sweep's plan line, below the hyperparameters."""
        with Horizontal(classes="row"):
            yield Label("Metadata")
            yield Input(
                "",
                id="create-metadata",
                placeholder="optional: key=value, key2=value2 (\\, for a comma)",
            )
        yield Static("", id="metadata-note", classes="lint")
        yield Static("", id="create-sweep")

    def on_mount(self) -> None:
        # runs after CreateJobScreen.on_mount (a subclass's handler comes first)
        if self.source is not None:
            self._fill_from(self.source)
        self._load_continue()
        self._replan()

    # -- clone ----------------------------------------------------------------------------
    def _fill_from(self, job: Any) -> None:
        from fttui.api.compare import clone_settings
        from fttui.api.metadata import format_metadata

        s = clone_settings(job)
        fields = {
            "create-training": s["training_file"],
            "create-validation": s.get("validation_file") or "",
            "create-model": s["model"],
            "create-epochs": s.get("n_epochs"),
            "create-batch": s.get("batch_size"),
            "create-lr": s.get("learning_rate_multiplier"),
            "create-suffix": s.get("suffix") or "",
            "create-seed": s.get("seed"),
            "create-metadata": format_metadata(s.get("metadata")),
        }
        for field, value in fields.items():
            text = "auto" if value is None and field in SWEEP_FIELDS else value
            if field == "create-seed" and value is None:
                text = ""
            self.query_one(f"#{field}", Input).value = "" if text is None else str(text)
        # the file ids are the source job's: nothing to lint or upload
        for field in ("create-training", "create-validation"):
            value = fields[field]
            if value:
                self._linted[field] = str(value)
                note = self.query_one(f"#lint-{field.removeprefix('create-')}", Static)
                note.update(self.file_id_note(str(value)))
        method = s.get("method")
        section = self.query("#create-method-section")
        set_method = getattr(section.first(), "set_method", None) if section else None
        if method and callable(set_method):
            # a form with a method section (the rft branch's TrainingMethodSection) shows
            # the method and sends it: set it there, as the user would
            hp = {"beta": s.get("beta"), **(s.get("rft_hyperparameters") or {})}
            set_method(method, grader=s.get("grader"), hyperparameters=hp)
        elif method and method != "supervised":
            # what the form has no field for is carried over as the job had it
            self._carry = {
                k: s[k]
                for k in ("method", "beta", "grader", "rft_hyperparameters")
                if s.get(k) is not None
            }
        title = self.query_one("#create-title", Label)
        extra = f" ({method} kept)" if self._carry else ""
        title.update(Text(f"Clone of {job.id}{extra} — change what differs, ctrl+s creates"))

    def file_id_note(self, file_id: str) -> Text:
        """The line under a file field holding a file id: a clone's own file says so (a
        relint, as a method change starts, must not turn it into a plain "file id")."""
        job = self.source
        if job is not None and file_id in (job.training_file, job.validation_file):
            return Text(f"{job.id}'s file, by id: not uploaded again", "dim")
        return Text("an uploaded file id: not linted here", style="dim")

    def iterate_args(self, args: dict[str, Any]) -> dict[str, Any]:
        """``form()``'s arguments with the metadata field and a clone's carried method
        (a value the form itself set wins)."""
        out = {k: v for k, v in self._carry.items() if args.get(k) is None}
        out.update(args)
        out["metadata"] = self._metadata()
        return out

    # -- continue -------------------------------------------------------------------------
    @work(
        thread=True,
        exclusive=True,
        group="create-continue",
        exit_on_error=False,
        description="list the models a job can continue from",
    )
    def _load_continue(self) -> None:
        try:
            from fttui.api.compare import continue_candidates

            ids = [self.source.id] if self.source is not None else []
            models = continue_candidates(self.app.backend.client(), job_ids=ids)
        except Exception:
            return  # suggestions only: a model can always be typed
        self.post_message(_ContinueModels(models))

    def on__continue_models(self, message: _ContinueModels) -> None:
        message.stop()
        self._continue = message.models
        self._merge_models()

    def _merge_models(self) -> None:
        """Add the checkpoints to the provider's models (called again once those come)."""
        if not self._continue:
            return
        ckpts = sum(":ckpt-step-" in m for m in self._continue)
        models = len(self._continue) - ckpts
        note = self.query_one("#continue-note", Static)
        note.update(
            Text(
                f"ctrl+l: continue from one of {_count(models, 'fine-tuned model')} and "
                f"{_count(ckpts, 'checkpoint')} (or type ft:… and → completes it)",
                style="dim",
            )
        )
        note.add_class("-shown")
        # listed, a checkpoint is never "not one of the provider's models"
        self._models = sorted({*self._models, *self._continue})
        self.query_one("#create-model", Input).suggester = SuggestFromList(
            self._models, case_sensitive=False
        )

    def action_continue_from(self) -> None:
        """ctrl+l: pick the model to continue from (a fine-tuned model or a checkpoint)."""
        if self.running:
            return
        if not self._continue:
            self._status("No fine-tuned model or checkpoint to continue from (yet).")
            return

        def picked(model: str | None) -> None:
            field = self.query_one("#create-model", Input)
            if model:
                field.value = model
            field.focus()

        self.app.push_screen(ContinueFromScreen(self._continue), picked)

    # -- metadata -------------------------------------------------------------------------
    def _metadata(self) -> dict[str, str] | None:
        from fttui.api.metadata import MetadataError, parse_metadata_text
        from fttui.tui.screens.create_job import FormError

        try:
            return parse_metadata_text(self._value("create-metadata")) or None
        except MetadataError as exc:
            raise FormError("create-metadata", f"Metadata: {exc}") from None

    @on(Input.Changed, "#create-metadata")
    def _metadata_changed(self, event: Input.Changed) -> None:
        from fttui.api.metadata import MetadataError, parse_metadata_text

        note = self.query_one("#metadata-note", Static)
        try:
            parse_metadata_text(event.value)
        except MetadataError as exc:
            note.update(Text(f"✗ {exc}"))
            note.add_class("-shown")
            return
        note.remove_class("-shown")
        event.input.remove_class("-invalid")

    # -- sweep ----------------------------------------------------------------------------
    def hyperparameters(self) -> dict[str, Any]:
        """Each sweepable field's value for ``form()`` (the first, where it holds a list);
        ``sweep_axes`` keeps the lists. Raises ``FormError`` on a bad field."""
        values = {f: field_values(f, self._value(f)) for f in SWEEP_FIELDS}
        self.sweep_axes = {SWEEP_FIELDS[f][0]: v for f, v in values.items() if len(v) > 1}
        return {SWEEP_FIELDS[f][0]: v[0] for f, v in values.items()}

    @on(Input.Changed)
    def _plan_field_changed(self, event: Input.Changed) -> None:
        if event.input.id in PLAN_FIELDS:
            self._replan()

    def _replan(self) -> None:
        """The plan line: what the grid the fields hold costs (hidden for one job)."""
        from fttui.tui.screens.create_job import FormError

        try:
            self.hyperparameters()
        except FormError as exc:
            if any("," in self._value(f) for f in SWEEP_FIELDS):
                self._show_plan(f"✗ {exc}", error=True)
            else:
                self._show_plan("")
            return
        if not self.sweep_axes:
            self._show_plan("")
            return
        from fttui.api.compare import grid, plan_sweep

        points = grid(self.sweep_axes)
        model = self._value("create-model")
        training = self._value("create-training")
        head = f"Sweep ({sweep_label(self.sweep_axes)}): "
        if not (model and training):
            self._show_plan(f"{head}{len(points)} jobs")
            return
        if training not in self._epoch_tokens and not self._count_linted(training):
            self._show_plan(f"{head}{len(points)} jobs · counting billed tokens…")
            return
        if model not in self._prices:
            from fttui.api.models import base_of
            from fttui.config import price_for

            self._prices[model] = price_for(base_of(model))
        plan = plan_sweep(points, self._epoch_tokens[training], model, price=self._prices[model])
        self._show_plan(head + plan.summary())

    def _count_linted(self, training: str) -> bool:
        """Count one epoch's tokens of ``training`` now (True), or start counting them: a
        local file from the form's own lint of it (the pre-lint posts ``_lint_done`` when
        it ends; linting here again would double the work), an uploaded one in a worker."""
        from fttui.api.compare import tokens_per_epoch
        from fttui.tui.screens.create_job import _expand

        value, _model, report = self._reports.get("create-training", ("", "", None))
        if report is not None and value == training:
            self._epoch_tokens[training] = tokens_per_epoch(report)
            return True
        if _expand(training).startswith("file-"):
            self._count_tokens(training, self._value("create-model"))
        return False

    def _show_plan(self, text: str, *, error: bool = False) -> None:
        self.plan_text = text
        line = self.query_one("#create-sweep", Static)
        line.update(Text(text))
        line.set_class(bool(text), "-shown")
        line.set_class(error, "-error")

    @work(
        thread=True,
        exclusive=True,
        group="create-plan",
        exit_on_error=False,
        description="count a sweep's billed tokens",
    )
    def _count_tokens(self, training: str, model: str) -> None:
        # a clone's own file: the source job's trained_tokens, no request; another file id
        # is downloaded and linted (it may be large: never on the UI thread)
        per: tuple[int, int] | None
        try:
            from fttui.api.compare import epoch_tokens
            from fttui.tui.screens.create_job import DEFAULT_MODEL

            per = epoch_tokens(
                self.app.backend.client(),
                model or DEFAULT_MODEL,
                training,
                source=self.source,
                force=True,  # counting is not refusing: create refuses lint errors
            )
        except Exception:
            per = None  # "billed tokens unknown"; creating says what is wrong
        if not get_current_worker().is_cancelled:
            self.post_message(_EpochTokens(training, per))

    def on__epoch_tokens(self, message: _EpochTokens) -> None:
        message.stop()
        self._epoch_tokens[message.training] = message.per
        self._replan()

    def _lint_done(self) -> None:
        """A fresh lint of a file (CreateJobScreen's pre-lint) counts its tokens too."""
        self._epoch_tokens.clear()
        self._replan()

    def start_sweep(self, args: dict[str, Any]) -> bool:
        """On ctrl+s: when the fields hold a grid, ask to create its jobs (True: the form
        handles it; False: one job, as before)."""
        if not self.sweep_axes:
            return False
        from fttui.api.compare import grid, new_sweep_id
        from fttui.tui.screens.confirm import ConfirmScreen

        points = grid(self.sweep_axes)
        sweep = new_sweep_id()
        cost = self.plan_text.split(": ", 1)[-1] if self.plan_text else f"{len(points)} jobs"
        message = (
            f"{sweep}: {cost}\n\n{sweep_label(self.sweep_axes)} — every combination is a job; "
            "they share metadata.sweep."
        )

        def answered(yes: bool | None) -> None:
            if not yes:
                self._status("Nothing created: change the grid, or ctrl+s to create it.")
                return
            self._set_running(True)
            self._status(Text(f"Creating {len(points)} jobs…", style="italic"))
            self._create_claim = Claim()
            self._create_worker = self._run_sweep(args, points, sweep, self._create_claim)

        self.app.push_screen(
            ConfirmScreen(
                f"Create {len(points)} jobs?",
                message,
                confirm_label=f"Create {len(points)} jobs",
                keep_label="Back",
            ),
            answered,
        )
        return True

    @work(
        thread=True,
        exclusive=True,
        group="create-job",
        exit_on_error=False,
        description="create the jobs of a sweep",
    )
    def _run_sweep(
        self, args: dict[str, Any], points: list[dict[str, Any]], sweep: str, claim: Claim
    ) -> None:
        from fttui.tui.screens.create_job import _Failed, _one_line, _Progress

        if not claim.begin():
            return
        worker = get_current_worker()
        settings = {k: v for k, v in args.items() if k != "force"}
        made: list[str] = []

        def progress(phase: str, done: int, total: int) -> None:
            self.post_message(_Progress(phase, done, total))

        def create(**kwargs: Any) -> Any:
            from fttui.api.jobs import create_job

            if worker.is_cancelled:
                from fttui.api.errors import ApiError

                raise ApiError("cancelled", "stopped")
            return create_job(
                client,
                force=args["force"],
                progress=progress,
                uploads=self._uploads,
                should_stop=lambda: worker.is_cancelled,
                **kwargs,
            )

        try:
            from fttui.api.compare import create_sweep_jobs

            client = self.app.backend.client()
            jobs = create_sweep_jobs(
                create,
                settings,
                points,
                sweep=sweep,
                on_created=lambda job, _point: made.append(job.id),
            )
        except Exception as exc:
            self.created = list(made)  # made before the error: they stay, and are named
            if made:  # not "no job was created": the message names the jobs made
                kind = "error"
            else:
                kind = "cancelled" if worker.is_cancelled else getattr(exc, "kind", "error")
            self.post_message(
                _Failed(
                    kind,
                    _one_line(exc),
                    getattr(exc, "report", None),
                    getattr(exc, "param", None),
                )
            )
            return
        self.post_message(_SweepCreated(sweep, [j.id for j in jobs]))

    def on__sweep_created(self, message: _SweepCreated) -> None:
        message.stop()
        self._set_running(False)
        self.created = message.job_ids
        self.app.notify(
            f"{message.sweep}: created {len(message.job_ids)} jobs — " + ", ".join(message.job_ids),
            markup=False,
        )
        self.dismiss(message.job_ids[0])


def _count(n: int, what: str) -> str:
    return f"{n:,} {what}{'s' if n != 1 else ''}"


class ContinueFromScreen(ModalScreen[str | None]):
    """The models a job can continue from: ``enter`` picks one, ``esc`` picks none."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close", id="continue_from.close"),
    ]

    def __init__(self, models: list[str]) -> None:
        super().__init__()
        self.models = models

    def compose(self) -> ComposeResult:
        with Vertical(id="continue-box"):
            yield Static("Continue training from", id="continue-title", markup=False)
            # names are data: plain Text, never markup
            yield OptionList(*(Option(Text(m), id=m) for m in self.models), id="continue-list")
            yield Static("enter picks · esc closes", id="continue-keys", markup=False)

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def action_close(self) -> None:
        self.dismiss(None)
