"""fttui.tui.panes."""
