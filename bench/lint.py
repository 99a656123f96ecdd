"""Benchmark `fttui lint` against the floor of its work, on a generated chat JSONL.

    python bench/lint.py                  # 50 MB, quick
    python bench/lint.py --size-mb 1024   # the real figure (1 GB)

Generates a realistic chat JSONL (English prose, code, CJK, Cyrillic, tool calls, a few
system prompts) of the given size in a temporary folder, then measures, each in a fresh
process:

- the floor: parse every line with orjson and encode every string value with tiktoken,
  using both cores (the main thread parses, two threads encode batches);
- ``lint_path`` on the same file.

Prints throughput (MB/s, examples/s), peak RSS, and the ratio lint / floor. Budgets: lint
time ≤ 1.25 × the floor; peak RSS ≤ 150 MB (on 1 GB). Exit status 1 when a budget is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TIME_BUDGET = 1.25
RSS_BUDGET_MB = 150

EN_WORDS = [
    "the",
    "model",
    "learns",
    "from",
    "examples",
    "that",
    "show",
    "the",
    "answer",
    "we",
    "want",
    "in",
    "a",
    "clear",
    "and",
    "friendly",
    "voice",
    "please",
    "check",
    "your",
    "order",
    "status",
    "before",
    "contacting",
    "support",
    "because",
    "most",
    "delivery",
    "questions",
    "are",
    "answered",
    "there",
    "weather",
    "forecast",
    "tomorrow",
    "shows",
    "light",
    "rain",
    "in",
    "the",
    "morning",
    "and",
    "sun",
    "later",
    "refund",
    "policy",
    "allows",
    "returns",
    "within",
    "thirty",
    "days",
    "when",
    "the",
    "item",
    "is",
    "unused",
    "and",
    "in",
    "its",
    "box",
    "database",
    "index",
    "query",
    "performance",
    "improves",
    "when",
    "you",
    "avoid",
    "scanning",
    "the",
    "whole",
    "table",
    "customer",
    "account",
    "password",
    "reset",
    "link",
    "expires",
    "after",
    "one",
    "hour",
    "for",
    "security",
    "reasons",
]
RU_WORDS = [
    "модель",
    "учится",
    "на",
    "примерах",
    "которые",
    "показывают",
    "нужный",
    "ответ",
    "погода",
    "завтра",
    "будет",
    "дождливой",
    "пожалуйста",
    "проверьте",
    "статус",
    "заказа",
    "перед",
    "обращением",
    "в",
    "поддержку",
    "возврат",
    "возможен",
    "в",
    "течение",
    "тридцати",
    "дней",
    "база",
    "данных",
    "индекс",
    "запрос",
    "производительность",
    "пароль",
    "ссылка",
    "безопасность",
]
CJK_CHARS = "模型从示例中学习天气预报明天早上有小雨下午晴朗请在联系客服之前检查订单状态退款政策数据库索引查询性能密码链接安全"
JA_CHARS = "モデルは例から学びます明日の天気は雨のち晴れです注文状況を確認してくださいデータベース"
CODE_SNIPPETS = [
    "def {name}(items):\n    total = 0\n    for item in items:\n        if item.{attr} > {n}:\n            total += item.{attr}\n    return total\n",
    "SELECT id, {attr}, created_at FROM {name} WHERE {attr} > {n} ORDER BY created_at DESC LIMIT 50;",
    "const {name} = async (id) => {{\n  const res = await fetch(`/api/{attr}/${{id}}`);\n  if (!res.ok) throw new Error('failed: ' + res.status);\n  return res.json();\n}};\n",
    "fn {name}(v: &[i64]) -> i64 {{\n    v.iter().filter(|x| **x > {n}).sum()\n}}\n",
]
SYSTEMS = [
    "You are a helpful customer-support assistant for an online shop. Answer briefly and politely.",
    "You are a senior software engineer. Explain code clearly and give short, correct examples.",
    "You are a multilingual assistant. Reply in the language of the user.",
    "You are a weather assistant. Use the tools to look up forecasts before answering.",
    "Ты — вежливый помощник службы поддержки. Отвечай кратко.",
]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the weather forecast for a city",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "days": {"type": "integer"}},
                "required": ["city"],
            },
        },
    },
    {
        "type": "function",
        "function": {
            "name": "lookup_order",
            "description": "Look up an order by its id",
            "parameters": {
                "type": "object",
                "properties": {"order_id": {"type": "string"}},
                "required": ["order_id"],
            },
        },
    },
]
CITIES = ["Paris", "Oslo", "Tokyo", "Москва", "北京", "São Paulo", "Nairobi", "Lima"]


def _sentence(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.62:
        words = rng.choices(EN_WORDS, k=rng.randint(6, 22))
        return " ".join(words).capitalize() + rng.choice([".", ".", "?", "!"])
    if kind < 0.77:
        return " ".join(rng.choices(RU_WORDS, k=rng.randint(5, 16))).capitalize() + "."
    if kind < 0.90:
        chars = CJK_CHARS if rng.random() < 0.6 else JA_CHARS
        return "".join(rng.choices(chars, k=rng.randint(10, 40))) + "。"
    snippet = rng.choice(CODE_SNIPPETS)
    return (
        "\n```\n"
        + snippet.format(
            name=rng.choice(["compute", "orders", "load_user", "sum_big"]),
            attr=rng.choice(["price", "amount", "score", "size"]),
            n=rng.randint(1, 999),
        )
        + "```\n"
    )


def _text(rng: random.Random, lo: int, hi: int) -> str:
    return " ".join(_sentence(rng) for _ in range(rng.randint(lo, hi)))


def _example(rng: random.Random, i: int) -> dict:
    messages: list[dict] = [{"role": "system", "content": rng.choice(SYSTEMS)}]
    example: dict = {"messages": messages}
    if rng.random() < 0.2:
        example["tools"] = TOOLS
        city = rng.choice(CITIES)
        call_id = f"call_{i:08x}"
        messages += [
            {"role": "user", "content": f"What's the weather in {city}? " + _text(rng, 0, 2)},
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": "get_weather",
                            "arguments": json.dumps({"city": city, "days": rng.randint(1, 5)}),
                        },
                    }
                ],
            },
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": json.dumps(
                    {
                        "city": city,
                        "temp_c": rng.randint(-10, 35),
                        "sky": rng.choice(["rain", "sun", "cloud"]),
                    }
                ),
            },
            {"role": "assistant", "content": _text(rng, 1, 4)},
        ]
        return example
    for _ in range(rng.randint(1, 3)):
        messages.append({"role": "user", "content": _text(rng, 1, 5)})
        messages.append({"role": "assistant", "content": _text(rng, 2, 9)})
    return example


def generate(path: Path, size_mb: float, seed: int = 1) -> int:
    """Write about ``size_mb`` MB of chat examples; returns the number of examples."""
    import orjson

    rng = random.Random(seed)
    target = int(size_mb * 2**20)
    # A pool of distinct examples, re-combined so that generating 1 GB stays quick while
    # every line differs (a counter in the user text) and the text mix stays realistic.
    pool = [_example(rng, i) for i in range(4000)]
    n = 0
    written = 0
    with open(path, "wb", buffering=1 << 22) as f:
        while written < target:
            ex = pool[rng.randrange(len(pool))]
            msgs = list(ex["messages"])
            msgs[1] = {**msgs[1], "content": f"[{n}] " + msgs[1]["content"]}
            line = orjson.dumps({**ex, "messages": msgs}) + b"\n"
            f.write(line)
            written += len(line)
            n += 1
    return n


FLOOR = r"""
import json, resource, sys, time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
import orjson
from fttui.datasets.tokens import get_encoding

path, model = sys.argv[1], sys.argv[2]
enc = get_encoding(model)
encode = enc.encode_ordinary
t0 = time.perf_counter()
_u = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = _u.ru_utime + _u.ru_stime

def strings(value, out):
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)

def count(texts):
    return sum(len(encode(s)) for s in texts)

total = 0
examples = 0
pending = deque()
with ThreadPoolExecutor(2) as pool, open(path, "rb") as f:
    texts, size = [], 0
    for line in f:
        strings(orjson.loads(line), texts)
        examples += 1
        size += len(line)
        if size >= 512 * 1024:
            if len(pending) >= 4:
                total += pending.popleft().result()
            pending.append(pool.submit(count, texts))
            texts, size = [], 0
    if texts:
        pending.append(pool.submit(count, texts))
    while pending:
        total += pending.popleft().result()
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
cpu = usage.ru_utime + usage.ru_stime - cpu0
print(json.dumps({"seconds": elapsed, "cpu": cpu, "tokens": total, "examples": examples,
                  "rss_mb": usage.ru_maxrss / 1024}))
"""

LINT = r"""
import json, resource, sys, time
from fttui.datasets import lint_path
from fttui.datasets.tokens import get_encoding

path, model = sys.argv[1], sys.argv[2]
get_encoding(model)  # load the tokenizer outside the timing, as the floor does
t0 = time.perf_counter()
_u = resource.getrusage(resource.RUSAGE_SELF)
cpu0 = _u.ru_utime + _u.ru_stime
report = lint_path(path, model=model)
elapsed = time.perf_counter() - t0
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({
    "seconds": elapsed, "cpu": usage.ru_utime + usage.ru_stime - cpu0,
    "examples": report.examples, "rss_mb": usage.ru_maxrss / 1024,
    "tokens": report.stats.get("sum_tokens"),
    "findings": report.finding_counts,
}))
"""


def _run(script: str, path: Path, model: str) -> dict:
    out = subprocess.run(
        [sys.executable, "-c", script, str(path), model],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--size-mb", type=float, default=50, help="size of the generated file (default 50)"
    )
    ap.add_argument("--model", default="gpt-4o-mini-2024-07-18")
    ap.add_argument("--file", type=Path, help="use this JSONL instead of generating one")
    ap.add_argument("--rounds", type=int, default=1, help="alternate floor/lint runs; best of each")
    args = ap.parse_args()

    with tempfile.TemporaryDirectory(prefix="fttui-bench-") as tmp:
        if args.file:
            path = args.file
            n = None
        else:
            path = Path(tmp) / "chat.jsonl"
            t0 = time.perf_counter()
            n = generate(path, args.size_mb)
            print(
                f"generated {path.stat().st_size / 2**20:,.1f} MB, {n:,} examples in {time.perf_counter() - t0:.1f} s"
            )
        size_mb = path.stat().st_size / 2**20
        floors, lints = [], []
        for _ in range(max(1, args.rounds)):
            floors.append(_run(FLOOR, path, args.model))
            lints.append(_run(LINT, path, args.model))
        floor = min(floors, key=lambda r: r["seconds"])
        lint = min(lints, key=lambda r: r["seconds"])
        rss = max(r["rss_mb"] for r in lints)
        ratio = lint["seconds"] / floor["seconds"]
        print(
            f"cores: {os.cpu_count()}  load: {os.getloadavg()[0]:.1f}  file: {size_mb:,.1f} MB, {lint['examples']:,} examples"
        )
        if len(floors) > 1:
            print(
                "rounds (s): floor "
                + " ".join(f"{r['seconds']:.2f}" for r in floors)
                + " | lint "
                + " ".join(f"{r['seconds']:.2f}" for r in lints)
            )
        print(
            f"floor (orjson + tiktoken, 2 threads): {floor['seconds']:.2f} s  "
            f"{size_mb / floor['seconds']:.1f} MB/s  cpu {floor['cpu']:.1f} s  peak RSS {floor['rss_mb']:.0f} MB"
        )
        print(
            f"lint_path:                            {lint['seconds']:.2f} s  "
            f"{size_mb / lint['seconds']:.1f} MB/s  {lint['examples'] / lint['seconds']:,.0f} examples/s  "
            f"cpu {lint['cpu']:.1f} s  peak RSS {rss:.0f} MB"
        )
        print(
            f"tokens counted: floor {floor['tokens']:,} (string values only), lint {lint['tokens']:,} (with overheads)"
        )
        ok_time = ratio <= TIME_BUDGET
        ok_rss = rss <= RSS_BUDGET_MB
        print(
            f"ratio lint / floor: {ratio:.3f}  (budget ≤ {TIME_BUDGET})  {'OK' if ok_time else 'OVER'}"
        )
        print(
            f"peak RSS: {rss:.0f} MB  (budget ≤ {RSS_BUDGET_MB} MB)  {'OK' if ok_rss else 'OVER'}"
        )
        if lint.get("findings"):
            print(f"findings: {lint['findings']}")
        return 0 if ok_time and ok_rss else 1


if __name__ == "__main__":
    raise SystemExit(main())
