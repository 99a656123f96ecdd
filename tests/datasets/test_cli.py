"""`fttui lint` / `fttui prepare` on the command line: output, golden JSON, exit codes.

Regenerate the golden files with ``FTTUI_UPDATE_GOLDEN=1 pytest tests/datasets/test_cli.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from fttui.cli import main
from support.datasets import chat, valid_chat, write_jsonl

FIXTURES = Path(__file__).parent.parent / "fixtures"
GOLDEN = Path(__file__).parent / "golden"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    ("fixture", "model", "expected_exit"),
    [
        ("chat_errors.jsonl", "gpt-4o-mini-2024-07-18", 1),
        ("chat_valid.jsonl", "gpt-4o-mini-2024-07-18", 0),
        ("superhero.csv", "babbage-002", 0),
    ],
)
def test_golden_json(
    fixture: str, model: str, expected_exit: int, capsys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES)
    code, out, _err = run(capsys, "lint", fixture, "--model", model, "--format", "json")
    assert code == expected_exit
    got = json.loads(out)
    assert list(got)[:6] == ["file", "format", "examples", "findings", "stats", "estimate"]
    for f in got["findings"]:
        assert {"code", "severity", "line", "message", "hint"} <= set(f)
    golden = GOLDEN / (Path(fixture).stem + ".json")
    if os.environ.get("FTTUI_UPDATE_GOLDEN"):
        golden.write_text(json.dumps(got, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert got == json.loads(golden.read_text(encoding="utf-8"))


def test_text_output_groups_by_code(capsys, tmp_path: Path) -> None:
    rows = [
        *valid_chat(12),
        *[{"messages": [{"role": "user", "content": f"q{i}"}]} for i in range(6)],
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    code, out, _ = run(capsys, "lint", str(path))
    assert code == 1
    assert "example_missing_assistant_message ×6" in out
    assert "… and 3 more (lines 16, 17, 18)" in out
    assert "hint:" in out
    assert "tokens (o200k_base, exact)" in out
    assert "estimate for gpt-4o-mini-2024-07-18" in out
    assert out.rstrip().endswith("not ready: fix the errors")


def test_exit_codes(capsys, tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", valid_chat(60))
    assert run(capsys, "lint", str(good))[0] == 0
    bad = write_jsonl(tmp_path / "bad.jsonl", [*valid_chat(12), "{broken"])
    assert run(capsys, "lint", str(bad))[0] == 1
    code, _out, err = run(capsys, "lint", str(tmp_path / "missing.jsonl"))
    assert code == 2 and "no such file" in err
    code, _out, err = run(capsys, "lint", str(tmp_path))
    assert code == 2


def test_exit_codes_through_the_console_entry_point(tmp_path: Path) -> None:
    good = write_jsonl(tmp_path / "good.jsonl", valid_chat(12))
    proc = subprocess.run(
        [sys.executable, "-m", "fttui", "lint", str(good), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["examples"] == 12
    proc = subprocess.run(
        [sys.executable, "-m", "fttui", "lint", str(tmp_path / "none.jsonl")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2 and proc.stderr.startswith("fttui: ")


def test_max_findings_keeps_errors_first(capsys, tmp_path: Path) -> None:
    rows = [
        *valid_chat(12),
        *[{"messages": [{"role": "assistant", "content": f"a{i}"}]} for i in range(5)],
        "{bad",
    ]
    path = write_jsonl(tmp_path / "d.jsonl", rows)
    code, out, _ = run(capsys, "lint", str(path), "--json", "--max-findings", "2")
    got = json.loads(out)
    assert code == 1
    assert len(got["findings"]) == 2
    # the one error survives the cut; then file-level before per-line findings
    assert [f["code"] for f in got["findings"]] == ["few_examples", "invalid_json"]
    assert got["finding_counts"]["missing_user_message"] == 5
    assert got["findings_truncated"] == sum(got["finding_counts"].values()) - 2


def test_validation_file(capsys, tmp_path: Path) -> None:
    train = write_jsonl(tmp_path / "train.jsonl", valid_chat(12))
    val = write_jsonl(tmp_path / "val.jsonl", [chat(5), chat(200), {"messages": []}])
    code, out, _ = run(capsys, "lint", str(train), "--validation", str(val), "--json")
    got = json.loads(out)
    assert code == 1  # the validation file has an error
    vfind = {f["code"]: f for f in got["validation"]["findings"]}
    assert vfind["validation_overlap"]["line"] == 1
    assert "line 6 of the training file" in vfind["validation_overlap"]["message"]
    assert vfind["validation_overlap"]["file"] == str(val)
    assert "missing_messages_list" in vfind


def test_an_ascii_terminal_gets_escapes_not_a_traceback(tmp_path: Path) -> None:
    """`prepare` wrote its file, then died on the "—" of its report under an ASCII locale:
    the user never learnt the separator and stop sequence to use."""
    env = {**os.environ, "PYTHONIOENCODING": "ascii"}
    out = tmp_path / "sh.jsonl"
    proc = subprocess.run(
        [sys.executable, "-m", "fttui", "prepare", str(FIXTURES / "superhero.csv"), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    assert "separator: ' ->'" in proc.stdout and "stop: ' END'" in proc.stdout
    proc = subprocess.run(
        [sys.executable, "-m", "fttui", "lint", str(FIXTURES / "chat_valid.jsonl")],
        capture_output=True,
        text=True,
        check=False,
        env=env,
    )
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr


def test_a_closed_stdout_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "fttui", "lint", str(FIXTURES / "chat_valid.jsonl")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
        preexec_fn=lambda: os.close(1),
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fttui: unexpected error:") and proc.stderr.count("\n") == 1


def test_price_gives_a_cost(capsys, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(12))
    _code, out, _ = run(capsys, "lint", str(path), "--price", "3", "--json")
    est = json.loads(out)["estimate"]
    assert est["price_per_million"] == 3 and est["cost"] == pytest.approx(
        est["billed_tokens"] * 3 / 1e6, abs=1e-4
    )


def test_the_configs_price_gives_a_cost_unless_price_is_given(
    capsys, tmp_path: Path, fttui_home: Path
) -> None:
    from fttui import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('[prices]\n"gpt-4o-mini" = 3.0\n')
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(12))
    _code, out, _ = run(capsys, "lint", str(path), "--json")  # the default gpt-4o-mini-…
    est = json.loads(out)["estimate"]
    assert est["price_per_million"] == 3.0 and est["cost"] > 0
    _code, out, _ = run(capsys, "lint", str(path), "--price", "1", "--json")
    assert json.loads(out)["estimate"]["price_per_million"] == 1.0  # the flag wins
    _code, out, _ = run(capsys, "lint", str(path), "--model", "gpt-4o-2024-08-06")
    assert "cost ≈" not in out and "[prices] entry in the config" in out  # no entry: no cost


@pytest.mark.parametrize("command", ["lint", "prepare"])
def test_help(capsys, command: str) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    assert command in capsys.readouterr().out


def test_prepare_prints_changes_and_stop(capsys, tmp_path: Path) -> None:
    out_path = tmp_path / "out.jsonl"
    code, out, _ = run(capsys, "prepare", str(FIXTURES / "superhero.csv"), "-o", str(out_path))
    assert code == 0
    assert "- appended the separator ' ->' to every prompt" in out
    assert "- added a leading space to 30 completions" in out
    assert "- appended the stop sequence ' END' to every completion" in out
    assert "stop: ' END'" in out
    code, _out, err = run(capsys, "prepare", str(out_path), "-o", str(out_path))
    assert code == 2 and "refusing to overwrite" in err
    code, _out, err = run(
        capsys, "prepare", str(tmp_path / "none.csv"), "-o", str(tmp_path / "x.jsonl")
    )
    assert code == 2


def test_max_findings_zero_still_fails_on_errors(capsys) -> None:
    path = str(FIXTURES / "chat_errors.jsonl")
    code, out, _ = run(capsys, "lint", path, "--json", "--max-findings", "0")
    got = json.loads(out)
    assert code == 1 and got["findings"] == []
    assert got["findings_truncated"] == sum(got["finding_counts"].values()) > 0
    code, out, _ = run(capsys, "lint", path, "--max-findings", "0")
    assert code == 1 and out.rstrip().endswith("not ready: fix the errors")


@pytest.mark.parametrize("price", ["-3", "nan", "inf"])
def test_a_bad_price_is_one_clear_error(capsys, price: str) -> None:
    code, out, err = run(capsys, "lint", str(FIXTURES / "chat_valid.jsonl"), f"--price={price}")
    assert code == 2 and out == ""
    assert err.startswith("fttui: --price must be") and err.count("\n") == 1


def test_prepare_errors_are_one_line_and_write_nothing(capsys, tmp_path: Path) -> None:
    one = write_jsonl(tmp_path / "one.jsonl", valid_chat(1))
    code, _out, err = run(
        capsys, "prepare", str(one), "-o", str(tmp_path / "o.jsonl"), "--split", "0.2"
    )
    assert code == 2 and "--split needs at least 2 examples" in err and err.count("\n") == 1
    bad = tmp_path / "bad.xlsx"
    bad.write_bytes(b"PK\x03\x04 not a workbook")
    code, _out, err = run(capsys, "prepare", str(bad), "-o", str(tmp_path / "b.jsonl"))
    assert code == 2 and "no examples to write (not a readable XLSX workbook" in err
    code, _out, err = run(capsys, "prepare", str(one), "-o", str(tmp_path / "no" / "such.jsonl"))
    assert code == 2 and "no such folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.xlsx", "one.jsonl"]


def test_lint_never_touches_the_network(tmp_path: Path) -> None:
    """A fresh process, with sockets refused and an empty tiktoken cache, counts exactly."""
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(12))
    script = (
        "import socket, sys\n"
        "def refuse(*a, **k):\n"
        "    raise SystemExit('network access: ' + repr(a))\n"
        "socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "socket.create_connection = socket.getaddrinfo = refuse\n"
        "from fttui.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    for model in ("gpt-4o-mini-2024-07-18", "babbage-002"):
        proc = subprocess.run(
            [sys.executable, "-c", script, "lint", str(path), "--json", "--model", model],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, "TIKTOKEN_CACHE_DIR": str(tmp_path / "empty-cache")},
        )
        assert proc.returncode == 0, proc.stderr
        stats = json.loads(proc.stdout)["stats"]
        assert stats["tokens_exact"] is True
        assert stats["encoding"] == ("o200k_base" if model.startswith("gpt-4o") else "cl100k_base")


def test_version_and_every_subcommand_has_help(capsys) -> None:
    from fttui import __version__
    from fttui.cli import COMMAND_MODULES

    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.strip() == f"fttui {__version__}"
    for command in COMMAND_MODULES:
        with pytest.raises(SystemExit) as exc:
            main([command, "--help"])
        assert exc.value.code == 0, command
        assert capsys.readouterr().out.startswith(f"usage: fttui {command}"), command


def test_help_imports_nothing_heavy() -> None:
    script = (
        "import sys\n"
        "from fttui.cli import build_parser\n"
        "build_parser().format_help()\n"
        "heavy = ('textual', 'pandas', 'numpy', 'tiktoken', 'openai', 'torch', 'fastapi')\n"
        "print([m for m in heavy if m in sys.modules])\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert proc.stdout.strip() == "[]"


def tool_rows() -> list[dict]:
    """12 chat examples whose tool call `arguments` is an object (fixable), one with no
    assistant message and one whose tool answer answers no call (not fixable)."""
    rows = [
        {
            "messages": [
                {"role": "user", "content": f"Weather in X{i}?"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {
                            "id": f"call{i}",
                            "type": "function",
                            "function": {"name": "get_weather", "arguments": {"city": f"X{i}"}},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": f"call{i}", "content": "sunny"},
                {"role": "assistant", "content": f"It is sunny in X{i}."},
            ]
        }
        for i in range(12)
    ]
    rows.append({"messages": [{"role": "user", "content": "hi"}]})
    rows.append(
        {
            "messages": [
                {"role": "user", "content": "hi again"},
                {"role": "tool", "tool_call_id": "nope", "content": "x"},
                {"role": "assistant", "content": "ok"},
            ]
        }
    )
    return rows


def test_prepare_fails_when_its_output_still_has_errors(capsys, tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "tools.jsonl", tool_rows())
    out_path = tmp_path / "out.jsonl"
    code, out, err = run(capsys, "prepare", str(src), "-o", str(out_path))
    assert code == 1
    assert "example_missing_assistant_message" in err and "tool_call_invalid" in err
    assert "--allow-errors" in err and str(out_path) in err
    assert "wrote 12 tool call `arguments` object(s) as JSON strings" in out
    rows = [json.loads(line) for line in out_path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 14  # the file is written, errors and all
    args = rows[0]["messages"][1]["tool_calls"][0]["function"]["arguments"]
    assert args == '{"city":"X0"}'
    code, _out, _err = run(capsys, "prepare", str(src), "-o", str(out_path), "--allow-errors")
    assert code == 0
    code, out, _err = run(capsys, "prepare", str(src), "-o", str(out_path), "--json")
    data = json.loads(out)
    assert code == 1
    assert data["error_counts"] == {"example_missing_assistant_message": 1, "tool_call_invalid": 1}


def test_lint_json_always_has_finding_counts(capsys, tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(12))
    _code, out, _ = run(capsys, "lint", str(path), "--format", "json")
    got = json.loads(out)
    assert "findings_truncated" not in got  # not truncated, and still counted
    assert got["finding_counts"] == {f["code"]: 1 for f in got["findings"]}


def test_lint_unknown_model_names_close_ones_before_reading(
    capsys, tmp_path: Path, fttui_home: Path
) -> None:
    code, out, err = run(capsys, "lint", str(tmp_path / "none.jsonl"), "--model", "davinci-0023")
    assert code == 2 and out == ""
    assert err.strip().splitlines() == [
        "fttui: unknown model 'davinci-0023' (did you mean davinci-002?)"
    ]
    # a local model, a fine-tuned one and a name the config prices are taken as they are
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(12))
    for model in ("HuggingFaceTB/SmolLM2-135M-Instruct", "ft:davinci-002:fttui:hero:abc"):
        assert run(capsys, "lint", str(path), "--model", model)[0] in (0, 1)
    from fttui import paths

    paths.config_file().parent.mkdir(parents=True, exist_ok=True)
    paths.config_file().write_text('[prices]\n"davinci-00" = 12.0\n')
    code, out, _err = run(capsys, "lint", str(path), "--model", "davinci-0023")
    assert code in (0, 1) and "cost" in out


def test_lint_estimate_says_what_a_local_jobs_trained_tokens_count(capsys, tmp_path: Path) -> None:
    """The create form's 6,216 billed tokens vs a local job's 8,205 trained_tokens: the
    estimate is OpenAI's count (tiktoken), the local trainer counts its base model's tokens
    with its chat template, so the estimate says which count it is."""
    path = write_jsonl(tmp_path / "d.jsonl", valid_chat(12))
    _code, out, _ = run(capsys, "lint", str(path), "--format", "json")
    est = json.loads(out)["estimate"]
    assert est["encoding"] == "o200k_base"
    assert "o200k_base" in est["note"] and "fttui serve" in est["note"]
    _code, out, _ = run(capsys, "lint", str(path))
    assert "trained_tokens in its own base model's tokens" in out
