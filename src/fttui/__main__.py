"""`python -m fttui` runs the same entry point as the `fttui` console script."""

from fttui.cli import main

raise SystemExit(main())
