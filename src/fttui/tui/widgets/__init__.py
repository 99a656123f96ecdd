"""fttui.tui.widgets."""
