"""What the linter reports: findings and the whole report.

These types are the contract between the dataset core and its users (``fttui lint``, the
local server's ``validating_files`` step, job creation, the TUI's findings list).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER: dict[str, int] = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem in a training file.

    ``code`` is stable (scripts and the docs key on it), ``line`` is the 1-based line of the
    example in the file (None for file-level findings), ``hint`` says how to fix it.
    """

    code: str
    severity: Severity
    line: int | None
    message: str
    hint: str = ""
    column: int | None = None  #: 1-based column, where it means something (invalid_json)
    file: str | None = None  #: set for findings about the validation file

    def to_dict(self) -> dict[str, Any]:
        data = {
            "code": self.code,
            "severity": self.severity,
            "line": self.line,
            "message": self.message,
            "hint": self.hint,
        }
        if self.column is not None:
            data["column"] = self.column
        if self.file is not None:
            data["file"] = self.file
        return data


@dataclass
class LintReport:
    """Everything ``lint`` learns about one file (and optionally its validation file).

    ``format`` is one of ``chat``, ``preference``, ``prompt_completion``, ``mixed`` or
    ``unknown``. ``stats`` holds token statistics, ``estimate`` the epochs / billed tokens /
    cost estimate (see ``fttui.datasets.estimate``).
    """

    file: str
    format: str = "unknown"
    examples: int = 0
    findings: list[Finding] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)
    estimate: dict[str, Any] = field(default_factory=dict)
    findings_truncated: int = 0  #: findings left out by ``max_findings``
    validation: LintReport | None = None
    #: every finding counted by code, including those left out by ``max_findings``
    finding_counts: dict[str, int] = field(default_factory=dict)
    stopped: bool = False  #: ``should_stop`` ended the run early: the report is partial

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def has_errors(self) -> bool:
        """True when any error was found, including errors left out by ``max_findings``."""
        counted = any(
            n and CHECKS[code].severity == "error"
            for code, n in self.finding_counts.items()
            if code in CHECKS
        )
        return (
            counted
            or any(f.severity == "error" for f in self.findings)
            or bool(self.validation and self.validation.has_errors)
        )

    def to_dict(self) -> dict[str, Any]:
        """The ``fttui lint --format json`` object."""
        data: dict[str, Any] = {
            "file": self.file,
            "format": self.format,
            "examples": self.examples,
            "findings": [f.to_dict() for f in self.findings],
            "stats": self.stats,
            "estimate": self.estimate,
            # always here, so a script reads the counts the same way truncated or not
            "finding_counts": dict(self.finding_counts),
        }
        if self.findings_truncated:
            data["findings_truncated"] = self.findings_truncated
        if self.stopped:
            data["stopped"] = True
        if self.validation is not None:
            data["validation"] = self.validation.to_dict()
        return data


@dataclass(frozen=True, slots=True)
class Check:
    """A kind of finding: its stable code, severity, one-line summary and default hint."""

    code: str
    severity: Severity
    summary: str
    hint: str


def _c(code: str, severity: Severity, summary: str, hint: str) -> tuple[str, Check]:
    return code, Check(code, severity, summary, hint)


#: Every code the dataset core can report (the README lists them all; a test keeps it so).
# fmt: off
CHECKS: dict[str, Check] = dict(
    [
        # -- reading the file
        _c("file_too_large", "warning", "the file is over 512 MB",
           "The Files API takes up to 512 MB; split the file or upload it with the Uploads API."),
        _c("bom", "warning", "the file starts with a UTF-8 byte-order mark",
           "Save the file as UTF-8 without BOM (`fttui prepare` writes it clean)."),
        _c("crlf_line_endings", "info", "Windows (CRLF) line endings",
           "Harmless here; `fttui prepare` rewrites the file with \\n endings."),
        _c("blank_line", "warning", "a blank line between examples",
           "Remove blank lines: every line of a JSONL file must be one JSON object."),
        _c("missing_final_newline", "info", "the last line has no newline at its end",
           "End the file with a newline (`fttui prepare` does)."),
        _c("invalid_encoding", "error", "bytes that are not valid UTF-8",
           "Re-save the file as UTF-8; the column points at the first bad byte."),
        _c("invalid_json", "error", "a line that is not valid JSON",
           "Fix the JSON at the given column; each line must be one complete JSON object."),
        _c("invalid_table", "error", "a CSV / TSV / XLSX table that cannot be parsed",
           "Check the quoting and the delimiter (CSV needs a header row), or re-save the workbook as .xlsx."),
        _c("line_too_long", "warning", "a line over 10 MB",
           "Examples this large are usually a mistake (a pasted document or inline image data)."),
        _c("line_too_large", "error", "a line too large to read (over 128 MB); skipped",
           "Split the example or move large images to https URLs."),
        _c("multiple_sheets", "warning", "the workbook has more than one sheet; only the first is read",
           "Move the training data to the first sheet, or save that sheet as CSV."),
        _c("needs_conversion", "info", "a table or text file: fine-tuning APIs take JSONL",
           "Convert it with `fttui prepare FILE -o FILE.jsonl` before uploading."),
        _c("empty_file", "error", "the file holds no examples",
           "Add training examples, one JSON object per line."),
        # -- the cookbook's checks (names kept exactly)
        _c("data_type", "error", "a line whose JSON value is not an object",
           "Each line must be a JSON object such as {\"messages\": [...]}."),
        _c("missing_messages_list", "error", "an example without a non-empty `messages` list",
           "Put the conversation in a `messages` list of {\"role\", \"content\"} objects."),
        _c("message_missing_key", "error", "a message without `role`, or without `content` and no tool call",
           "Every message needs `role` and `content` (an assistant message may have `tool_calls` instead)."),
        _c("message_unrecognized_key", "error", "a message with a key the API does not accept",
           "Allowed keys: role, content, name, tool_calls, tool_call_id, function_call, weight."),
        _c("unrecognized_role", "error", "a role outside system, user, assistant, tool, function",
           "Use one of: system, user, assistant, tool, function (developer is not accepted in training files)."),
        _c("missing_content", "error", "empty content, or content of the wrong type",
           "Give the message a non-empty string (or, for user messages, a list of text/image parts)."),
        _c("example_missing_assistant_message", "error", "an example with no assistant message",
           "Each example must end with the assistant reply the model should learn."),
        # -- chat structure
        _c("missing_user_message", "warning", "an example without a user message",
           "Most examples should contain at least one user message."),
        _c("missing_system_message", "info", "examples without a system message",
           "Optional; use the same system message here as at inference time."),
        _c("example_unrecognized_key", "warning", "an example with a top-level key the API ignores or rejects",
           "Chat examples hold `messages` and optionally `tools`, `parallel_tool_calls`, `functions`."),
        _c("weight_invalid", "error", "a `weight` that is not 0 or 1, or not on an assistant message",
           "`weight` goes on assistant messages only and must be 0 (skip) or 1 (train)."),
        _c("tool_call_invalid", "error", "a malformed tool call or tool reply",
           "tool_calls[] = {\"id\", \"type\": \"function\", \"function\": {\"name\", \"arguments\": \"<JSON string>\"}}; a tool message needs the matching tool_call_id."),
        _c("tools_invalid", "error", "a malformed `tools` / `functions` list",
           "tools = [{\"type\": \"function\", \"function\": {\"name\", \"description\"?, \"parameters\"?}}]."),
        _c("functions_deprecated", "info", "`functions` / `function_call` are deprecated",
           "Prefer `tools` and `tool_calls`; both still train."),
        _c("image_invalid", "error", "a malformed image part, or one not in RGB/RGBA mode",
           "Use {\"type\": \"image_url\", \"image_url\": {\"url\": \"https://... or data:image/png;base64,...\"}} in user messages; ≤ 10 images, JPEG/PNG/WEBP in RGB or RGBA mode, ≤ 10 MB."),
        _c("preference_invalid", "error", "a malformed preference (DPO) example",
           "{\"input\": {\"messages\": [...]}, \"preferred_output\": [assistant message], \"non_preferred_output\": [assistant message]}."),
        _c("preference_old_field_names", "info", "`preferred_completion` / `non_preferred_completion` field names",
           "Accepted; current docs name them `preferred_output` / `non_preferred_output` (`fttui prepare` renames them)."),
        _c("prompt_completion_invalid", "error", "a prompt/completion example without string `prompt` and `completion`",
           "Each example needs string `prompt` and `completion` fields."),
        _c("extra_columns", "warning", "fields besides prompt and completion",
           "They are ignored by training; `fttui prepare` drops them."),
        _c("mixed_formats", "error", "examples of different formats in one file",
           "A job takes one format: keep chat, preference and prompt/completion examples in separate files."),
        _c("model_format_mismatch", "warning", "the data's format does not suit the target model",
           "prompt/completion data trains babbage-002 / davinci-002; chat models need chat data (`fttui prepare --to-chat`)."),
        _c("duplicate_example", "warning", "an example identical to an earlier one",
           "Remove duplicates (`fttui prepare` drops them); they skew training."),
        _c("example_too_long", "warning", "an example over the model's token limit (it will be truncated)",
           "Shorten the example or split the conversation."),
        _c("special_token_in_content", "error", "a special token such as <|endoftext|> inside the text",
           "Remove special tokens from the text; they have failed real fine-tuning jobs."),
        _c("too_few_examples", "error", "fewer than 10 examples (the API minimum)",
           "Add examples: the API needs at least 10, and 50–100 is a good start."),
        _c("few_examples", "warning", "fewer than 50 examples",
           "50–100 well-chosen examples usually improve results clearly."),
        _c("validation_overlap", "warning", "a validation example also present in the training file",
           "Keep validation examples out of the training file, or the validation loss means little."),
        # -- reinforcement fine-tuning (`lint --method reinforcement [--grader G.json]`)
        _c("method_format_mismatch", "error", "the data's format is not the one the method trains on",
           "supervised jobs take chat or prompt/completion data, dpo jobs preference data, reinforcement jobs chat prompts ending with the user's turn."),
        _c("rft_example_invalid", "error", "an example that is not chat `messages` (RFT data is)",
           "RFT examples are {\"messages\": [..., {\"role\": \"user\", ...}], <reference fields>}."),
        _c("rft_last_message_not_user", "error", "an RFT example whose messages do not end with the user's turn",
           "The model writes the answer in RFT: end `messages` with the user message and move the expected answer to a reference field the grader reads."),
        _c("rft_data_suspected", "info", "chat data with no replies, each ending with the user's turn",
           "That is the shape of RFT data: lint it with `--method reinforcement --grader GRADER.json`."),
        _c("rft_grader_field_missing", "error", "an RFT example without a field the grader reads",
           "Add the field to every example (or change the grader's {{item.…}} template): a missing reference fails the job."),
        # -- the legacy prepare_data checks (prompt/completion)
        _c("empty_completion", "warning", "an example with an empty completion",
           "Fill in the completion or drop the example (`fttui prepare` drops it)."),
        _c("no_common_separator", "warning", "prompts do not end with one common separator",
           "End every prompt with the same separator, e.g. ` ->` (`fttui prepare` appends one)."),
        _c("separator_repeated", "warning", "the separator also occurs inside a prompt",
           "Use a separator that appears nowhere else in the prompts."),
        _c("completion_no_leading_space", "warning", "completions that do not start with a space",
           "Start every completion with a space (`fttui prepare` adds it): tokenizers encode words with their leading space."),
        _c("no_common_stop_sequence", "warning", "completions do not end with one common stop sequence",
           "End every completion with the same stop sequence, e.g. ` END`, and pass it as `stop` at inference (`fttui prepare` appends one)."),
        _c("stop_sequence_repeated", "warning", "the stop sequence also occurs inside a completion",
           "Use a stop sequence that appears nowhere else in the completions, or generation stops early."),
        _c("common_prefix", "info", "every prompt or completion starts with the same long text",
           "A long shared prefix adds no information; consider removing it."),
        _c("uppercase_text", "info", "most of the text is upper case",
           "Consider lower-casing; upper-case text tokenizes into many more tokens."),
        _c("long_example", "warning", "a prompt/completion example over 10,000 characters",
           "Very long examples are usually a mistake; the legacy models take 2,048 tokens."),
    ]
)
# fmt: on


def make_finding(
    code: str,
    line: int | None,
    message: str,
    *,
    hint: str | None = None,
    column: int | None = None,
    file: str | None = None,
) -> Finding:
    """A :class:`Finding` with the severity and (unless given) hint of its code's :data:`CHECKS` entry."""
    check = CHECKS[code]
    return Finding(
        code=code,
        severity=check.severity,
        line=line,
        message=message,
        hint=check.hint if hint is None else hint,
        column=column,
        file=file,
    )


def finding_sort_key(finding: Finding) -> tuple[int, int, int]:
    """File-level findings first, then by line, then errors before warnings before info."""
    return (
        0 if finding.line is None else 1,
        finding.line or 0,
        SEVERITY_ORDER.get(finding.severity, 3),
    )


__all__ = [
    "CHECKS",
    "SEVERITY_ORDER",
    "Check",
    "Finding",
    "LintReport",
    "Severity",
    "asdict",
    "finding_sort_key",
    "make_finding",
]
