"""fttui.tui."""
