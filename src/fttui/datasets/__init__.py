"""fttui.datasets."""
