"""Test harnesses shared by the suites: live servers, a Ray cluster, a browser, the TUI, data
factories, the CLI runner and the OpenAPI shape checker. Plain modules, not conftests."""
