"""fttui — a keyboard-first terminal app for fine-tuning language models."""

__version__ = "0.1.0"
