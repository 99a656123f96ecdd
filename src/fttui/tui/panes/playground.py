"""Pane 4 — Playground: prompt the selected job's fine-tuned model (or a checkpoint, or
the base model side by side) and watch the answer stream in.

The prompt box keeps a history (up/down). Settings: system prompt, stop sequences
(comma-separated, kept exactly — `` END`` keeps its leading space; ``\\n`` and ``\\,``
escapes; or a JSON list), temperature and max tokens. Each answer streams in a thread
worker; ``esc`` stops it.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Checkbox, Input, Label, Select, Static, TextArea

from fttui.tui.backend import is_terminal
from fttui.tui.claim import Claim
from fttui.tui.messages import JobSelected
from fttui.tui.panes.base import Pane

#: Seconds between UI updates while tokens stream in (bursts coalesce).
STREAM_REFRESH = 0.05
#: Seconds between looks at a training job's checkpoints while the pane is shown.
CHECKPOINTS_ACTIVE = 5.0


def parse_stop(value: str) -> list[str] | None:
    """Stop sequences from the settings box (see the module docstring). At most 4."""
    if not value:
        return None
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            items = json.loads(stripped)
        except ValueError:
            items = None
        if isinstance(items, list):
            out = [str(i) for i in items if str(i)]
            return out[:4] or None
    parts: list[str] = []
    cur: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            cur.append({"n": "\n", "t": "\t", ",": ",", "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        if ch == ",":
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
        i += 1
    parts.append("".join(cur))
    out = [p for p in parts if p]
    return out[:4] or None


_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\"}


def parse_separator(value: str) -> str | None:
    """The separator box: kept exactly (its leading space too), ``\\n`` / ``\\t`` escapes."""
    out: list[str] = []
    i = 0
    while i < len(value):
        ch = value[i]
        if ch == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append(_ESCAPES.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out) or None


def escape_marker(text: str, *, comma: bool = True) -> str:
    """A separator / stop as typed in its box (the inverse of ``parse_stop`` for one
    sequence, of ``parse_separator`` with ``comma=False``): ``'\\n\\n###\\n\\n'`` →
    ``\\n\\n###\\n\\n``."""
    text = text.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t")
    return text.replace(",", "\\,") if comma else text


def parse_float(value: str) -> float | None:
    value = value.strip()
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def parse_int(value: str) -> int | None:
    value = value.strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        return None


class PromptInput(TextArea):
    """The prompt box, several lines high: enter sends; ``ctrl+j`` (the newline key of
    every terminal), or ``shift+enter`` / ``alt+enter`` where the terminal tells them
    apart, starts a new line, and so does a ``\\`` typed at the end of a line before
    enter; a pasted prompt keeps its newlines. ``up`` on the first line and ``down`` on
    the last walk the history."""

    BINDINGS = [
        Binding("enter", "submit", "Send", id="playground.send"),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "New line", id="playground.newline"),
        Binding("up", "history(-1)", "Previous prompt", show=False, id="playground.history_prev"),
        Binding("down", "history(1)", "Next prompt", show=False, id="playground.history_next"),
    ]

    @dataclass
    class Submitted(Message):
        """enter in the box: send ``value``."""

        input: PromptInput
        value: str

        @property
        def control(self) -> PromptInput:
            return self.input

    def __init__(self, *, placeholder: str = "", id: str | None = None) -> None:
        super().__init__(
            id=id,
            placeholder=placeholder,
            soft_wrap=True,
            show_line_numbers=False,
            tab_behavior="focus",
            compact=False,
        )
        self.past: list[str] = []  # prompts sent (TextArea's own `history` is its undo)
        self._pos: int | None = None
        self._draft = ""

    @property
    def value(self) -> str:
        return self.text

    @value.setter
    def value(self, text: str) -> None:
        self.load_text(text)
        self.move_cursor(self.document.end)

    async def _on_key(self, event: events.Key) -> None:
        # TextArea inserts a newline on enter before any binding sees the key: leave enter
        # to the bindings (enter sends, unless the keymap says otherwise).
        # (Textual calls TextArea's own _on_key after this one unless prevented.)
        if event.key == "enter":
            event.prevent_default()

    def action_submit(self) -> None:
        row, col = self.cursor_location
        line = self.document[row]
        if col == len(line) and line.endswith("\\"):
            # "\" + enter continues the prompt on a new line (as in a shell), for
            # terminals where no key but enter reaches the app
            self.replace("\n", (row, col - 1), (row, col))
            return
        self.post_message(self.Submitted(self, self.text))

    def action_newline(self) -> None:
        self.replace("\n", *self.selection)

    def remember(self, prompt: str) -> None:
        if prompt and (not self.past or self.past[-1] != prompt):
            self.past.append(prompt)
        self._pos = None
        self._draft = ""

    def action_history(self, step: int) -> None:
        row, _col = self.cursor_location
        at_edge = row == 0 if step < 0 else row == self.document.line_count - 1
        if not at_edge or not self.past or (self._pos is None and step > 0):
            # inside a prompt of several lines: the arrow moves the cursor
            if step < 0:
                self.action_cursor_up()
            else:
                self.action_cursor_down()
            return
        if self._pos is None:
            self._draft = self.value
            pos = len(self.past) - 1
        else:
            pos = self._pos + step
        if pos >= len(self.past):
            self._pos = None
            self.value = self._draft
        else:
            self._pos = max(0, pos)
            self.value = self.past[self._pos]


class AnswerView(Vertical):
    """One side: which model, the streamed answer, then finish reason and usage."""

    def __init__(self, side: str, **kwargs) -> None:
        super().__init__(id=f"answer-{side}", **kwargs)
        self.side = side
        self.model: str | None = None
        self.text = ""
        self.prompt = ""

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static("", classes="answer-text", markup=False)
        yield Static("", classes="answer-meta", markup=False)

    def set_model(self, model: str | None, label: str = "") -> None:
        self.model = model
        self.border_title = Text(f"{label}{model or '(no model)'}")  # a str is markup

    def start(self, prompt: str) -> None:
        self.prompt = prompt
        self.text = ""
        self._render_text(streaming=True)
        self.query_one(".answer-meta", Static).update("streaming… (esc stops)")

    def update_text(self, text: str) -> None:
        self.text = text
        self._render_text(streaming=True)

    def finish(self, text: str, meta: str, error: str | None = None) -> None:
        self.text = text
        self._render_text(streaming=False, error=error)
        self.query_one(".answer-meta", Static).update(meta)

    def _render_text(self, *, streaming: bool, error: str | None = None) -> None:
        t = Text()
        t.append("› ", style="bold")
        t.append(self.prompt, style="bold")
        t.append("\n\n")
        t.append(self.text)
        if streaming:
            t.append("▍", style="blink")
        if error:
            t.append(("\n" if self.text else "") + f"⚠ {error}", style="bold red")
        self.query_one(".answer-text", Static).update(t)
        self.query_one(VerticalScroll).scroll_end(animate=False)


@dataclass
class AnswerDelta(Message):
    side: str
    run: int
    text: str


@dataclass
class AnswerDone(Message):
    side: str
    run: int
    text: str
    meta: str
    error: str | None = None


class PlaygroundPane(Pane):
    """The prompt box, settings and one or two streamed answers."""

    BINDINGS = [
        Binding("escape", "stop", "Stop / leave input", id="playground.stop"),
        Binding("ctrl+b", "toggle_compare", "Side by side", id="playground.compare"),
        Binding("ctrl+l", "focus_prompt", "Prompt", id="playground.prompt"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.job: JobSelected | None = None
        self.checkpoints: list[dict[str, Any]] = []
        self._run = 0
        self._streaming: set[str] = set()
        self._claims: dict[str, Claim] = {}  # side → its running stream's claim
        self._chosen: str | None = None  # a target the user picked (kept across updates)
        self._auto: str | None = None  # the target picked for the user
        self._stale = False
        self._checkpoint_timer: Timer | None = None
        #: job id → the separator / stop of its training data (None: it has none)
        self._markers: dict[str, dict[str, Any] | None] = {}
        #: what the separator and stop boxes were filled with (so a value the user typed
        #: is never overwritten, and one filled in goes when another job is chosen)
        self._filled: dict[str, str] = {}

    def compose(self) -> ComposeResult:
        with Horizontal(id="pg-target-row"):
            yield Label("Model", classes="pg-label")
            yield Select(
                [], prompt="select a job in Jobs (2 or alt+2)", allow_blank=True, id="pg-target"
            )
            yield Checkbox("vs. base model", id="pg-compare")
        # Each setting has a visible label: placeholders vanish once a value is typed.
        with Horizontal(id="pg-settings"):
            yield Label("System", classes="pg-label")
            yield Input(placeholder="optional", id="pg-system")
            yield Label("Sep", classes="pg-label")
            yield Input(
                placeholder="none",
                id="pg-separator",
                tooltip="Prompt separator: appended to each prompt that does not end with it "
                "(kept exactly; \\n escapes), as the model's training prompts ended",
            )
            yield Label("Stop", classes="pg-label")
            yield Input(
                placeholder="a, b (optional)",
                id="pg-stop",
                tooltip="Stop sequences, comma-separated and kept exactly "
                "(\\n and \\, escapes, or a JSON list); at most 4",
            )
            yield Label("Temp", classes="pg-label")
            yield Input(
                placeholder="default",
                id="pg-temperature",
                restrict=r"[0-9.]*",
                tooltip="Sampling temperature (0–2); empty: the model's default",
            )
            yield Label("Max tokens", classes="pg-label")
            yield Input(
                placeholder="default",
                id="pg-max-tokens",
                restrict=r"[0-9]*",
                tooltip="Longest answer in tokens; empty: the provider's default",
            )
        # where the separator / stop came from (the job's metadata or its training file)
        yield Static("", id="pg-markers-note", markup=False)
        with Horizontal(id="pg-answers"):
            yield AnswerView("a")
            yield AnswerView("b")
        yield PromptInput(
            placeholder="Ask the model… (enter sends, ctrl+j or \\ then enter: new line, "
            "↑/↓ history, esc stops)",
            id="pg-prompt",
        )

    def on_mount(self) -> None:
        self.query_one("#answer-b").display = False
        self.query_one("#pg-markers-note").display = False
        self._refresh_targets()

    def focus_default(self) -> None:
        self.query_one("#pg-prompt").focus()

    def action_focus_prompt(self) -> None:
        self.focus_default()

    # -- targets ------------------------------------------------------------------------
    def select_job(self, message: JobSelected) -> None:
        """The selected job, or news of it (its status or fine-tuned model changed)."""
        old = self.job
        changed = old is None or old.job_id != message.job_id
        updated = (
            old is not None
            and not changed
            and (
                (old.status, old.fine_tuned_model, old.model)
                != (message.status, message.fine_tuned_model, message.model)
            )
        )
        self.job = message
        if changed:
            self.checkpoints = []
            self._chosen = None
        if not (changed or updated):
            return
        if not self.display:
            self._stale = True  # off screen: catch up in on_shown (keeps j/k in Jobs fast)
            return
        self._refresh_targets()
        if message.job_id and self.ftapp.ready:
            # a new job, or one that finished since: its checkpoints are new (the last
            # ones were written, older ones pruned by the provider)
            self._fetch_checkpoints(message.job_id)

    def on_shown(self) -> None:
        if self._stale:
            self._stale = False
            self._refresh_targets()
        if self.job and self.job.job_id and self.ftapp.ready:
            self._fetch_checkpoints(self.job.job_id)

    def refresh_now(self) -> None:
        """``r``: the selected job and its checkpoints (and a separator / stop that could
        not be read), fetched again."""
        self._markers = {k: v for k, v in self._markers.items() if not (v and "error" in v)}
        self.on_shown()

    def _checkpoint_tick(self) -> None:
        self._checkpoint_timer = None
        job = self.job
        if self.display and job and job.job_id and not is_terminal(job.status) and self.ftapp.ready:
            self._fetch_checkpoints(job.job_id)

    @work(thread=True, exclusive=True, group="playground-checkpoints", exit_on_error=False)
    def _fetch_checkpoints(self, job_id: str) -> None:
        backend = self.ftapp.backend
        try:
            # The job too: its fine-tuned model may have come since it was selected.
            job = backend.get_job(job_id)
            cps = backend.checkpoints(job_id)
        except Exception:
            # the jobs pane reports provider trouble; the base model still works
            self.ftapp.call_from_thread(self._arm_checkpoints, job_id)
            return
        self.ftapp.call_from_thread(self._set_fetched, job_id, job, cps)

    def _set_fetched(self, job_id: str, job: dict[str, Any], cps: list[dict[str, Any]]) -> None:
        current = self.job
        if current is None or current.job_id != job_id:
            return
        fresh = (job.get("model"), job.get("fine_tuned_model"), job.get("status"))
        if fresh != (current.model, current.fine_tuned_model, current.status):
            self.job = JobSelected(job_id, *fresh)
            self._refresh_targets()
        self.set_checkpoints(job_id, cps)
        self._arm_checkpoints(job_id)
        if job_id not in self._markers:
            # until it is answered (a worker cancelled by the next job's never answers):
            # the training file's head is read once and kept in the cache folder
            self._fetch_markers(job_id, job)

    @work(thread=True, exclusive=True, group="playground-markers", exit_on_error=False)
    def _fetch_markers(self, job_id: str, job: dict[str, Any]) -> None:
        try:
            found = self.ftapp.backend.data_markers(job)
        except Exception as exc:
            from fttui.api.errors import friendly

            # OpenAI does not let fine-tune files be downloaded: say so, the boxes stay empty
            found = {"error": str(friendly(exc))}
        self.ftapp.call_from_thread(self._set_markers, job_id, found)

    def _set_markers(self, job_id: str, found: dict[str, Any] | None) -> None:
        self._markers[job_id] = found  # None: the data has neither
        if self.job and self.job.job_id == job_id:
            self._apply_markers()

    def _apply_markers(self) -> None:
        """Fill the separator and stop boxes for a fine-tuned model (or checkpoint) of the
        selected job with what its training data uses; empty them again (unless the user
        typed there) for the base model or a job without them."""
        job = self.job
        found = self._markers.get(job.job_id) if job and job.job_id else None
        target = self.target_model
        tuned = bool(job and target and target != job.model)
        note = self.query_one("#pg-markers-note", Static)
        wanted: dict[str, str] = {}
        if tuned and found and "error" not in found:
            if found.get("separator"):
                wanted["pg-separator"] = escape_marker(found["separator"], comma=False)
            if found.get("stop"):
                wanted["pg-stop"] = escape_marker(found["stop"])
        for box_id in ("pg-separator", "pg-stop"):
            box = self.query_one(f"#{box_id}", Input)
            before = self._filled.get(box_id)
            if box.value and box.value != before:
                continue  # typed by the user: theirs
            box.value = wanted.get(box_id, "")
            if box_id in wanted:
                self._filled[box_id] = wanted[box_id]
            else:
                self._filled.pop(box_id, None)
        text = ""
        if tuned and found and "error" in found:
            text = f"separator / stop: the training file cannot be read ({found['error']})"
        elif tuned and found and wanted:
            parts = []
            if found.get("separator"):
                parts.append(f"separator {found['separator']!r}")
            if found.get("stop"):
                parts.append(f"stop {found['stop']!r}")
            where = (
                "the job's metadata"
                if found.get("source") == "metadata"
                else f"its {found.get('source')}"
            )
            text = f"{' and '.join(parts)} from {where}, as the model was trained (editable)"
        note.update(text)
        note.display = bool(text)

    def _arm_checkpoints(self, job_id: str) -> None:
        """While the job trains, new checkpoints come (and old ones are pruned): look
        again in a while, armed only once the last look finished."""
        if self._checkpoint_timer is not None:
            self._checkpoint_timer.stop()
            self._checkpoint_timer = None
        job = self.job
        if job and job.job_id == job_id and not is_terminal(job.status) and self.display:
            self._checkpoint_timer = self.set_timer(CHECKPOINTS_ACTIVE, self._checkpoint_tick)

    def set_checkpoints(self, job_id: str, cps: list[dict[str, Any]]) -> None:
        """The job's checkpoints as the provider lists them now (from here or Jobs)."""
        if self.job and self.job.job_id == job_id and cps != self.checkpoints:
            self.checkpoints = cps
            self._refresh_targets()

    def targets(self) -> list[tuple[str, str]]:
        """(label, model id) choices for the selected job."""
        job = self.job
        if job is None or not job.job_id:
            return []
        out: list[tuple[str, str]] = []
        if job.fine_tuned_model:
            out.append((f"fine-tuned · {job.fine_tuned_model}", job.fine_tuned_model))
        for cp in reversed(self.checkpoints):
            model = cp.get("fine_tuned_model_checkpoint")
            if model and model != job.fine_tuned_model:
                out.append((f"step {cp.get('step_number')} · {model}", model))
        if job.model:
            out.append((f"base · {job.model}", job.model))
        return out

    def _refresh_targets(self) -> None:
        select = self.query_one("#pg-target", Select)
        choices = self.targets()
        values = [v for _, v in choices]
        # Set here, not chosen: no Changed message, or an auto pick that landed after a
        # newer one (a checkpoint, then the fine-tuned model) counted as the user's choice.
        # The blank entry says what to do now (it said "select a job" with one selected).
        job = self.job
        if job is None or not job.job_id:
            select.prompt = "select a job in Jobs (2 or alt+2)"
        else:
            select.prompt = f"choose a model of {job.job_id}"
        with self.prevent(Select.Changed):
            # labels as Text: a str option is parsed as markup (a model name is data)
            select.set_options([(Text(label), value) for label, value in choices])
            if self._chosen in values:
                select.value = self._chosen
            elif values:
                # The best there is: the fine-tuned model, else the newest checkpoint.
                self._auto = values[0]
                select.value = values[0]
        self._label_answers()
        self._apply_markers()

    @on(Select.Changed, "#pg-target")
    def _target_changed(self, event: Select.Changed) -> None:
        event.stop()
        if isinstance(event.value, str) and event.value != self._auto:
            self._chosen = event.value
        self._label_answers()
        self._apply_markers()

    @on(Checkbox.Changed, "#pg-compare")
    def _compare_changed(self, event: Checkbox.Changed) -> None:
        event.stop()
        self.query_one("#answer-b").display = event.value
        self._label_answers()

    def action_toggle_compare(self) -> None:
        box = self.query_one("#pg-compare", Checkbox)
        box.value = not box.value

    @property
    def target_model(self) -> str | None:
        value = self.query_one("#pg-target", Select).value
        return value if isinstance(value, str) else None

    @property
    def compare(self) -> bool:
        return self.query_one("#pg-compare", Checkbox).value

    def _label_answers(self) -> None:
        self.query_one("#answer-a", AnswerView).set_model(self.target_model)
        base = self.job.model if self.job else None
        self.query_one("#answer-b", AnswerView).set_model(base, "base · ")

    # -- prompting ----------------------------------------------------------------------
    @on(PromptInput.Submitted, "#pg-prompt")
    def _prompt_submitted(self, event: PromptInput.Submitted) -> None:
        event.stop()
        self.send(event.value)

    def settings(self) -> dict[str, Any]:
        system = self.query_one("#pg-system", Input).value.strip() or None
        return {
            "system": system,
            "separator": parse_separator(self.query_one("#pg-separator", Input).value),
            "stop": parse_stop(self.query_one("#pg-stop", Input).value),
            "temperature": parse_float(self.query_one("#pg-temperature", Input).value),
            "max_tokens": parse_int(self.query_one("#pg-max-tokens", Input).value),
        }

    def send(self, prompt: str) -> None:
        # Sent exactly as typed: a legacy model's separator may be whitespace ("\n\n###\n\n").
        if not prompt.strip():
            return
        model = self.target_model
        if not model:
            self.notify("no model: select a job in Jobs (2) first", severity="warning")
            return
        if not self.ftapp.ready:
            self.notify("not connected yet", severity="warning")
            return
        box = self.query_one("#pg-prompt", PromptInput)
        box.remember(prompt)
        box.value = ""
        settings = self.settings()
        separator = settings.pop("separator")
        if separator and not prompt.endswith(separator):
            # the model learnt that its prompts end there: the answer starts after it
            prompt += separator
        self._run += 1
        sides = [("a", model)]
        if self.compare and self.job and self.job.model and self.job.model != model:
            sides.append(("b", self.job.model))
        asked = {side for side, _ in sides}
        for side in self._streaming - asked:
            # still streaming the last prompt, not asked this one: its ending will carry
            # an old run number and be ignored, so stop it and end it here
            self._cancel_side(side)
            view = self.query_one(f"#answer-{side}", AnswerView)
            view.finish(view.text, f"{view.model or '?'} · stopped (a new prompt was sent)")
        self._streaming = set()
        for side, side_model in sides:
            view = self.query_one(f"#answer-{side}", AnswerView)
            view.start(prompt)
            self._streaming.add(side)
            self._claims[side] = claim = Claim()
            self._stream(side, self._run, side_model, prompt, settings, claim)

    def action_stop(self) -> None:
        """Stop the answers streaming in; when none is, leave the input (so 1–5, q work)."""
        if not self._streaming:
            if isinstance(self.ftapp.focused, Input | TextArea):
                self.query_one("#answer-a VerticalScroll").focus()
            return
        for side in list(self._streaming):
            self._cancel_side(side)
            claim = self._claims.get(side)
            if claim is not None and claim.abandon():
                # cancelled before its thread ran: no AnswerDone will ever come
                self._streaming.discard(side)
                view = self.query_one(f"#answer-{side}", AnswerView)
                view.finish(view.text, f"{view.model or '?'} · stopped")

    def _cancel_side(self, side: str) -> None:
        group = "playground-chat" if side == "a" else "playground-chat-b"
        for worker in self.workers:
            if worker.node is self and worker.group == group:
                worker.cancel()

    @work(thread=True, exclusive=True, group="playground-chat", exit_on_error=False)
    def _stream_a(self, *args: Any) -> None:
        self._stream_body(*args)

    @work(thread=True, exclusive=True, group="playground-chat-b", exit_on_error=False)
    def _stream_b(self, *args: Any) -> None:
        self._stream_body(*args)

    def _stream(
        self, side: str, run: int, model: str, prompt: str, settings: dict[str, Any], claim: Claim
    ) -> None:
        (self._stream_a if side == "a" else self._stream_b)(
            side, run, model, prompt, settings, claim
        )

    def _stream_body(
        self, side: str, run: int, model: str, prompt: str, settings: dict[str, Any], claim: Claim
    ) -> None:
        if not claim.begin():
            return  # stopped before it began: action_stop already ended the answer
        from textual.worker import get_current_worker

        from fttui.api.errors import friendly

        worker = get_current_worker()
        started = time.monotonic()
        text = ""
        last_post = 0.0
        stream = None
        try:
            stream = self.ftapp.backend.stream_chat(
                model, prompt, should_stop=lambda: worker.is_cancelled, **settings
            )
            for delta in stream:
                if worker.is_cancelled:
                    break
                text += delta
                now = time.monotonic()
                if now - last_post >= STREAM_REFRESH:
                    last_post = now
                    self.post_message(AnswerDelta(side, run, text))
        except Exception as exc:
            err = friendly(exc)
            self.post_message(AnswerDone(side, run, text, f"{model} · failed", error=str(err)))
            return
        finally:
            if stream is not None and worker.is_cancelled:
                try:
                    stream.close()
                except Exception:
                    pass
        elapsed = time.monotonic() - started
        if worker.is_cancelled:
            self.post_message(
                AnswerDone(side, run, text, f"{model} · stopped after {elapsed:.1f}s")
            )
            return
        result = getattr(stream, "result", None)
        parts = [model]
        finish = getattr(result, "finish_reason", None)
        if finish:
            parts.append(f"finish: {finish}")
        usage = getattr(result, "usage", None) or {}
        if isinstance(usage, dict) and usage.get("completion_tokens") is not None:
            parts.append(f"{usage.get('prompt_tokens', '?')} → {usage['completion_tokens']} tokens")
        parts.append(f"{elapsed:.1f}s")
        self.post_message(AnswerDone(side, run, text, " · ".join(parts)))

    def on_answer_delta(self, message: AnswerDelta) -> None:
        message.stop()
        if message.run == self._run:
            self.query_one(f"#answer-{message.side}", AnswerView).update_text(message.text)

    def on_answer_done(self, message: AnswerDone) -> None:
        message.stop()
        if message.run != self._run:
            return
        self._streaming.discard(message.side)
        self.query_one(f"#answer-{message.side}", AnswerView).finish(
            message.text, message.meta, error=message.error
        )
