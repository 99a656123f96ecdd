"""fttui.server.executors."""
