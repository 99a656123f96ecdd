"""fttui.api."""
