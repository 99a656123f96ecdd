"""fttui.tui.screens."""
