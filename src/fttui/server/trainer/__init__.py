"""fttui.server.trainer."""
