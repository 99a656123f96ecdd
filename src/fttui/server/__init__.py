"""fttui.server."""
