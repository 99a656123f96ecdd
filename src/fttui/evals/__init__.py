"""Evaluation: graders in OpenAI's JSON shape and the metrics ``fttui eval`` reports.

A core layer like ``fttui.datasets``: no Textual, no client and no server import (the model
graders take the model call as a parameter), so the CLI, the app and ``fttui serve`` all
grade with the same code.
"""

from fttui.evals.graders import (
    GRADER_TYPES,
    GraderError,
    GradeResult,
    PythonRefused,
    Runner,
    check,
    has_python,
    run,
    validate,
)

__all__ = [
    "GRADER_TYPES",
    "GradeResult",
    "GraderError",
    "PythonRefused",
    "Runner",
    "check",
    "has_python",
    "run",
    "validate",
]
