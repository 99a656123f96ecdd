"""The training method of a new job, and the grader editor of a reinforcement job.

``TrainingMethodSection`` is the create form's method block: a method choice (supervised,
dpo, reinforcement), DPO's beta, and for reinforcement fine-tuning a ``GraderEditor`` and
the RFT hyperparameters (reasoning effort, compute multiplier, eval interval and samples;
epochs, batch size and the LR multiplier are the form's own fields, which the API layer puts
under ``method.reinforcement.hyperparameters``). Its ``form_args()`` are keyword arguments of
``fttui.api.jobs.create_job``; ``lint_args()`` what the training file's lint depends on (the
method, and the grader whose ``{{item.…}}`` fields every example must have).

``GraderEditor`` is a JSON ``TextArea`` with a **Validate** action (``ctrl+g`` or its
button) that asks the provider (``POST /v1/fine_tuning/alpha/graders/validate`` through
``fttui.api.graders``; the same rules locally where the provider lacks the endpoint) and
shows the answer under the editor. It starts from a ``string_check`` example that names a
reference field of the training file's first example.

Both live here, not in the create screen, so the form's other blocks change independently.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Grid, Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Input, Label, Select, Static, TextArea

if TYPE_CHECKING:  # the app imports the screens that use this: typing only, no cycle
    from fttui.api.graders import GraderCheck
    from fttui.datasets.findings import LintReport
    from fttui.tui.app import FtApp

METHODS = ("supervised", "dpo", "reinforcement")
METHOD_LABELS = {
    "supervised": "supervised (chat examples)",
    "dpo": "dpo (preference pairs)",
    "reinforcement": "reinforcement (a grader scores answers)",
}
REASONING_EFFORTS = ("auto", "low", "medium", "high")
#: a training file's first line is read for the example grader's field, up to this much
PREFILL_READ_BYTES = 1 << 20
#: keys of an RFT example that are the prompt, not a reference field for the grader
PROMPT_KEYS = frozenset({"messages", "tools", "parallel_tool_calls", "functions"})
#: a refused request's ``param`` (its last part) → this section's field
PARAM_FIELDS = {
    "grader": "create-grader",
    "beta": "create-beta",
    "reasoning_effort": "create-effort",
    "compute_multiplier": "create-compute",
    "eval_interval": "create-eval-interval",
    "eval_samples": "create-eval-samples",
}
MAX_SHOWN_ERRORS = 3


class MethodFieldError(ValueError):
    """A field of the section holds what the API would refuse; ``field`` is its id."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def example_grader(field: str = "reference_answer") -> dict[str, Any]:
    """A ``string_check`` grader comparing the answer with ``item.<field>``."""
    return {
        "type": "string_check",
        "name": "matches_reference",
        "input": "{{sample.output_text}}",
        "reference": f"{{{{item.{field}}}}}",
        "operation": "eq",
    }


def reference_field(path: str) -> str | None:
    """The first scalar field of the file's first example besides the prompt (the field an
    RFT example's grader usually compares with), or None: not JSONL, no such field."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(PREFILL_READ_BYTES)
    except OSError:
        return None
    for line in head.splitlines():
        if not line.strip():
            continue
        try:
            first = json.loads(line)
        except ValueError:
            return None  # not JSONL, or a first line longer than what was read
        if not isinstance(first, dict):
            return None
        for key, value in first.items():
            if key not in PROMPT_KEYS and isinstance(value, str | int | float):
                return str(key)
        return None
    return None


def parse_grader(text: str, field: str = "create-grader") -> dict[str, Any]:
    """The editor's JSON; ``MethodFieldError`` saying where it is not JSON or not a grader."""
    if not text.strip():
        raise MethodFieldError(field, "A reinforcement job needs a grader: write its JSON")
    try:
        grader = json.loads(text)
    except json.JSONDecodeError as exc:
        raise MethodFieldError(
            field, f"The grader is not JSON: line {exc.lineno}, column {exc.colno}: {exc.msg}"
        ) from None
    if isinstance(grader, dict) and isinstance(grader.get("grader"), dict):
        grader = grader["grader"]  # the graders endpoints' {"grader": …} body, as the CLI takes
    if not isinstance(grader, dict) or not isinstance(grader.get("type"), str):
        raise MethodFieldError(
            field,
            "The grader must be a JSON object with a `type` (string_check, text_similarity, "
            "score_model, label_model, python or multi)",
        )
    return grader


def check_text(check: GraderCheck, fields: list[str]) -> Text:
    """One line for a check: ✓ and the fields it reads, or ✗ and the first problems."""
    if check.ok:
        text = Text("✓ valid", style="bold green")
        text.append(
            f" (checked by {'the provider' if check.checked_by == 'provider' else 'fttui'})"
        )
        if fields:
            text.append(" · reads " + ", ".join(f"item.{f}" for f in fields), style="dim")
        return text
    text = Text("✗ ", style="bold red")
    for i, error in enumerate(check.errors[:MAX_SHOWN_ERRORS]):
        if i:
            text.append("; ")
        path, _, why = error.partition(": ")
        if why:
            text.append(path, style="bold red")
            text.append(": " + why)
        else:
            text.append(error)
    if len(check.errors) > MAX_SHOWN_ERRORS:
        text.append(f" (and {len(check.errors) - MAX_SHOWN_ERRORS} more)", style="dim")
    return text


def _optional_number(
    value: str, field: str, label: str, *, whole: bool, hi: float | None = None
) -> float | int | None:
    value = value.strip()
    if value.lower() in ("", "auto"):
        return None
    try:
        number: float | int = int(value) if whole else float(value)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise MethodFieldError(field, f"{label} must be {kind} or auto") from None
    if whole and number < 1:
        raise MethodFieldError(field, f"{label} must be 1 or more")
    if not whole and not number > 0:
        raise MethodFieldError(field, f"{label} must be greater than 0")
    if hi is not None and number > hi:
        raise MethodFieldError(field, f"{label} must be at most {hi:g}")
    return number


# -- messages -----------------------------------------------------------------------------


class _Validated(Message):
    def __init__(
        self, text: str, check: GraderCheck | None = None, error: str | None = None
    ) -> None:
        super().__init__()
        self.text = text  # the editor's text that was checked
        self.check = check
        self.error = error


class GraderEditor(Vertical):
    """A grader's JSON with a Validate action; the result shows under it."""

    app: FtApp  # for the type checker only (no value: Textual's property stays)

    DEFAULT_CSS = """
    GraderEditor { height: auto; }
    GraderEditor #grader-head { height: 1; }
    GraderEditor #grader-head Label { width: 1fr; color: $text-muted; }
    GraderEditor #grader-validate { min-width: 14; height: 1; border: none; margin-left: 1; }
    GraderEditor #create-grader { height: 9; }
    /* app.tcss's $invalid-border, spelt out: the app's variables are not seen here */
    GraderEditor #create-grader.-invalid { border: tall $error; }
    GraderEditor #grader-result { height: auto; min-height: 1; }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+g", "validate", "Validate the grader", id="grader_editor.validate"),
    ]

    class Validated(Message):
        """The grader was checked and is valid (its fields may now be linted)."""

        def __init__(self, grader: dict[str, Any]) -> None:
            super().__init__()
            self.grader = grader

    def __init__(self, grader: dict[str, Any] | None = None, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._initial = grader
        #: the text the editor itself last put there (a text the user changed is kept)
        self._filled = ""

    def compose(self) -> ComposeResult:
        with Horizontal(id="grader-head"):
            yield Label(
                "Grader JSON ({{sample.output_text}} is the answer, {{item.…}} the example)"
            )
            yield Button("Validate ^g", id="grader-validate")
        yield TextArea(
            "",
            id="create-grader",
            soft_wrap=True,
            tab_behavior="focus",  # tab leaves the editor, as in every other field
            show_line_numbers=False,
        )
        yield Static("", id="grader-result")

    def on_mount(self) -> None:
        if self._initial is not None:
            self.set_grader(self._initial)

    @property
    def text(self) -> str:
        return self.query_one("#create-grader", TextArea).text

    @property
    def edited(self) -> bool:
        """Whether the text is the user's (or a caller's), not an example: it is never replaced."""
        return self.text.strip() not in ("", self._filled.strip())

    def set_grader(self, grader: dict[str, Any], *, example: bool = False) -> None:
        """Load ``grader``; an ``example`` is replaced by the next example (a grader the
        caller gave, like one the user typed, never is)."""
        text = json.dumps(grader, indent=2, ensure_ascii=False)
        self._filled = text if example else ""
        self.query_one("#create-grader", TextArea).load_text(text)
        self.show_result(Text(""))

    def grader(self) -> dict[str, Any]:
        """The grader the editor holds; ``MethodFieldError`` when it is not one."""
        return parse_grader(self.text)

    def show_result(self, text: Text, *, invalid: bool = False) -> None:
        self.query_one("#grader-result", Static).update(text)
        self.query_one("#create-grader", TextArea).set_class(invalid, "-invalid")

    def action_validate(self) -> None:
        try:
            grader = self.grader()
        except MethodFieldError as exc:
            self.show_result(Text(f"✗ {exc}", style="bold red"), invalid=True)
            return
        self.show_result(Text("validating…", style="dim italic"))
        self._validate(self.text, grader)

    @work(
        thread=True,
        exclusive=True,
        group="grader-validate",
        exit_on_error=False,
        description="validate the grader",
    )
    def _validate(self, text: str, grader: dict[str, Any]) -> None:
        try:
            from fttui.api.graders import validate_grader

            check = validate_grader(self.app.backend.client(), grader)
        except Exception as exc:
            first = (str(exc).strip() or type(exc).__name__).splitlines()[0]
            self.post_message(_Validated(text, error=first))
            return
        self.post_message(_Validated(text, check))

    def on__validated(self, message: _Validated) -> None:
        message.stop()
        if message.text != self.text:
            return  # edited since: this answer is about another grader
        if message.error is not None:
            self.show_result(Text(f"cannot validate: {message.error}", style="bold red"))
            return
        assert message.check is not None
        from fttui.datasets.rft import grader_item_fields

        grader = parse_grader(message.text)
        self.show_result(
            check_text(message.check, grader_item_fields(grader)), invalid=not message.check.ok
        )
        if message.check.ok:
            self.post_message(self.Validated(grader))

    @on(Button.Pressed, "#grader-validate")
    def _validate_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_validate()


class TrainingMethodSection(Vertical):
    """The create form's method block (see the module docstring)."""

    DEFAULT_CSS = """
    TrainingMethodSection { height: auto; }
    TrainingMethodSection .row { height: 3; }
    TrainingMethodSection .row Label { width: 17; padding-top: 1; }
    TrainingMethodSection #create-method { width: 1fr; }
    TrainingMethodSection #create-dpo, TrainingMethodSection #create-rft { display: none; }
    TrainingMethodSection.-dpo #create-dpo { display: block; }
    TrainingMethodSection.-reinforcement #create-rft { display: block; }
    TrainingMethodSection #create-rft { height: auto; }
    TrainingMethodSection #create-rft-hp {
        /* two rows of two: four "auto" fields stay readable on an 80-column terminal */
        grid-size: 4; grid-columns: 16 1fr 13 1fr; grid-rows: 3; height: 6; grid-gutter: 0 1;
    }
    TrainingMethodSection #create-rft-hp Label { padding-top: 1; }
    TrainingMethodSection Input.-invalid { border: tall $error; }  /* $invalid-border */
    /* a short terminal: one line a field, as the rest of the form */
    .-compact TrainingMethodSection .row { height: 1; }
    .-compact TrainingMethodSection #create-rft-hp { grid-rows: 1; height: 2; }
    .-compact TrainingMethodSection .row Label,
    .-compact TrainingMethodSection #create-rft-hp Label { padding-top: 0; }
    .-compact TrainingMethodSection #create-grader { height: 5; }
    """

    class LintChanged(Message):
        """What the training file's lint depends on changed: the method, or the grader."""

    def __init__(
        self,
        *,
        training: Callable[[], str] | None = None,
        method: str = "supervised",
        id: str | None = None,
    ) -> None:
        super().__init__(id=id)
        #: the form's training file (a path or a file id), for the example grader's field
        self._training = training or (lambda: "")
        self._method = method if method in METHODS else "supervised"
        #: the grader the last lint checked the fields of (a new valid one lints again)
        self._linted_grader: dict[str, Any] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="row"):
            yield Label("Method")
            yield Select(
                [(METHOD_LABELS[m], m) for m in METHODS],
                value=self._method,
                allow_blank=False,
                id="create-method",
            )
        with Horizontal(id="create-dpo", classes="row"):
            yield Label("DPO beta")
            yield Input("auto", id="create-beta", placeholder="auto, or a number > 0")
        with Vertical(id="create-rft"):
            yield GraderEditor(id="grader-editor")
            with Grid(id="create-rft-hp"):
                yield Label("Effort")
                yield Select(
                    [(e, e) for e in REASONING_EFFORTS],
                    value="auto",
                    allow_blank=False,
                    id="create-effort",
                )
                yield Label("Compute ×")
                yield Input("auto", id="create-compute")
                yield Label("Eval every")
                yield Input("auto", id="create-eval-interval")
                yield Label("Eval samples")
                yield Input("auto", id="create-eval-samples")

    def on_mount(self) -> None:
        self._show(self._method)

    @property
    def method(self) -> str:
        return self._method

    @property
    def editor(self) -> GraderEditor:
        return self.query_one(GraderEditor)

    def set_method(
        self,
        method: str,
        *,
        grader: dict[str, Any] | None = None,
        hyperparameters: dict[str, Any] | None = None,
    ) -> None:
        """Choose ``method`` (and load ``grader`` and the method's own ``hyperparameters``:
        beta, reasoning effort, compute multiplier, eval interval and samples), as the user
        would: a "clone from job" prefill or a caller that knows the data's method."""
        if grader is not None:
            self.editor.set_grader(grader)
        hp = hyperparameters or {}
        for key, field in (
            ("beta", "create-beta"),
            ("compute_multiplier", "create-compute"),
            ("eval_interval", "create-eval-interval"),
            ("eval_samples", "create-eval-samples"),
        ):
            if isinstance(hp.get(key), int | float) and not isinstance(hp.get(key), bool):
                self.query_one(f"#{field}", Input).value = f"{hp[key]:g}"
        if hp.get("reasoning_effort") in REASONING_EFFORTS:
            self.query_one("#create-effort", Select).value = hp["reasoning_effort"]
        self.query_one("#create-method", Select).value = method

    def _show(self, method: str) -> None:
        for m in METHODS:
            self.set_class(m == method, f"-{m}")

    @on(Select.Changed, "#create-method")
    def _method_changed(self, event: Select.Changed) -> None:
        event.stop()
        method = str(event.value)
        if method == self._method or method not in METHODS:
            return
        self._method = method
        self._show(method)
        if method == "reinforcement" and not self.editor.edited:
            self._prefill()
        self._linted_grader = self._valid_grader()
        self.post_message(self.LintChanged())

    def _prefill(self) -> None:
        """The example grader, naming the training file's reference field when it has one
        (reading one line: cheap, in the UI thread)."""
        import os

        path = os.path.expanduser(self._training().strip())
        field = reference_field(path) if path and os.path.isfile(path) else None
        self.editor.set_grader(example_grader(field or "reference_answer"), example=True)

    @on(GraderEditor.Validated)
    def _grader_validated(self, event: GraderEditor.Validated) -> None:
        event.stop()
        self._relint_if_new(event.grader)

    @on(TextArea.Changed, "#create-grader")
    def _grader_edited(self, event: TextArea.Changed) -> None:
        event.stop()
        self.query_one("#create-grader", TextArea).remove_class("-invalid")

    @on(
        Input.Submitted,
        "#create-beta, #create-compute, #create-eval-interval, #create-eval-samples",
    )
    def _field_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.screen.focus_next()

    def on_descendant_blur(self, event: Any) -> None:
        # leaving the editor with a new, valid grader: the data is linted for its fields
        if getattr(event.widget, "id", None) == "create-grader" and self._method == "reinforcement":
            grader = self._valid_grader()
            if grader is not None:
                self._relint_if_new(grader)

    def _relint_if_new(self, grader: dict[str, Any]) -> None:
        if self._method == "reinforcement" and grader != self._linted_grader:
            self._linted_grader = grader
            self.post_message(self.LintChanged())

    def _valid_grader(self) -> dict[str, Any] | None:
        """The editor's grader when it parses and passes the local rules, else None."""
        from fttui.api.graders import local_check

        try:
            grader = self.editor.grader()
        except MethodFieldError:
            return None
        return grader if local_check(grader).ok else None

    def lint_args(self) -> dict[str, Any]:
        """What the lint of the training file takes besides the model: ``{}`` for
        supervised (as before there was a choice); the method, and for RFT the grader
        when it is valid (a half-written one checks the RFT shape only)."""
        if self._method == "supervised":
            return {}
        if self._method == "dpo":
            return {"method": "dpo"}
        grader = self._valid_grader()
        return {"method": "reinforcement", **({"grader": grader} if grader else {})}

    def form_args(self) -> dict[str, Any]:
        """``create_job``'s method arguments; ``MethodFieldError`` on a bad field. Nothing
        for supervised: the request stays what the form sent before there was a choice."""
        for inp in self.query(Input):
            inp.remove_class("-invalid")
        if self._method == "supervised":
            return {}
        if self._method == "dpo":
            beta = _optional_number(
                self.query_one("#create-beta", Input).value, "create-beta", "Beta", whole=False
            )
            return {"method": "dpo", **({"beta": beta} if beta is not None else {})}
        from fttui.api.graders import local_check

        grader = self.editor.grader()
        check = local_check(grader)
        if not check.ok:
            self.editor.show_result(check_text(check, []), invalid=True)
            more = f" (and {len(check.errors) - 1} more)" if len(check.errors) > 1 else ""
            raise MethodFieldError(
                "create-grader", f"The grader is invalid: {check.errors[0]}{more}"
            )
        effort = str(self.query_one("#create-effort", Select).value)

        def number(field: str, label: str, *, whole: bool, hi: float | None = None) -> Any:
            value = self.query_one(f"#{field}", Input).value
            return _optional_number(value, field, label, whole=whole, hi=hi)

        hp = {
            "reasoning_effort": None if effort == "auto" else effort,
            "compute_multiplier": number(
                "create-compute", "The compute multiplier", whole=False, hi=10
            ),
            "eval_interval": number("create-eval-interval", "The eval interval", whole=True),
            "eval_samples": number("create-eval-samples", "Eval samples", whole=True),
        }
        return {
            "method": "reinforcement",
            "grader": grader,
            "rft_hyperparameters": {k: v for k, v in hp.items() if v is not None},
        }

    def grader_refusal(self, report: LintReport) -> Text | None:
        """The refusal to show when ``report``'s errors are about the grader's fields (the
        grader is then marked and says which), or None when they are not."""
        missing = [
            f
            for f in report.findings
            if f.severity == "error" and f.code == "rft_grader_field_missing"
        ]
        if not missing or self._method != "reinforcement":
            return None
        import re

        fields = list(
            dict.fromkeys(
                re.findall(r"\{\{item\.([^}]+)\}\}", " ".join(f.message for f in missing))
            )
        )
        names = ", ".join(f"{{{{item.{f}}}}}" for f in fields) or "a field"
        lines = sorted({f.line for f in missing if f.line})
        at = (
            f" (line {lines[0]}" + (f" and {len(lines) - 1} more)" if len(lines) > 1 else ")")
            if lines
            else ""
        )
        text = Text.assemble(
            ("✗ The grader reads ", "bold"),
            (names, "bold"),
            (
                f", which {len(missing):,} example{'s' if len(missing) != 1 else ''} lack{'s' if len(missing) == 1 else ''}",
                "bold",
            ),
            at,
            " — name a field the data has, or add it to the data. Nothing was uploaded.",
        )
        self.editor.show_result(
            Text.assemble(("✗ ", "bold red"), f"not in the data: {names}{at}"), invalid=True
        )
        return text

    def focus_grader(self) -> None:
        self.query_one("#create-grader", TextArea).focus()


__all__ = [
    "PARAM_FIELDS",
    "GraderEditor",
    "MethodFieldError",
    "TrainingMethodSection",
    "example_grader",
    "parse_grader",
    "reference_field",
]
