"""`fttui web` — the app in a browser tab, served by textual-serve behind a token.

textual-serve starts one app process per browser tab (the plain ``fttui`` command, run with
Textual's web driver) and streams its screen to an xterm.js page. It has no access control
of its own, so every route — the page, its static files, the websocket that drives the
app, the downloads — goes through :func:`_require_token`: the token in the URL once, then a
cookie. textual-serve imports aiohttp and rich but not textual, so this module may live in
the CLI layer; it is imported only when ``fttui web`` runs (aiohttp takes ~0.3 s).
"""

from __future__ import annotations

import argparse

#: The token's file in fttui's data folder, beside the local server's ``api_key``.
TOKEN_FILE = "web_token"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "web",
        help="open the app in a browser (one app per tab, behind a token)",
        description=(
            "Serve the app to a browser: each tab runs its own app, on the same provider as "
            "`fttui`. Prints the URL to open, with a token that is generated once and stored "
            "0600 in fttui's data folder; a request without it is refused. The API key comes "
            "from the profile or the environment (OPENAI_API_KEY), never the command line."
        ),
    )
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1; another address lets other "
        "machines in: with a warning)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument("--profile", default=argparse.SUPPRESS, help="profile from config.toml")
    p.add_argument("--base-url", default=argparse.SUPPRESS, help="OpenAI-compatible base URL")
    p.add_argument(
        "--read-only",
        action="store_true",
        default=argparse.SUPPRESS,
        help="the app in each tab: disable cancel, create and delete",
    )
    p.add_argument(
        "--new-token",
        action="store_true",
        help="replace the stored token (the links printed before stop working)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from fttui import paths
    from fttui.cli.common import CliError
    from fttui.server.runner import is_loopback

    if getattr(args, "api_key", None):  # `fttui --api-key K web`: the global option
        raise CliError(
            "fttui web passes no key on the apps' command lines (other local users can read "
            "them): use a profile, or OPENAI_API_KEY=... fttui web",
            2,
        )
    if not 1 <= args.port <= 65535:
        raise CliError(f"--port {args.port}: use 1 to 65535", 2)
    try:
        import aiohttp  # noqa: F401  (textual-serve's web server)
        import textual_serve  # noqa: F401
    except ImportError:
        raise CliError("fttui web needs textual-serve: pip install 'fttui[web]'", 2) from None
    token = load_or_create_token(Path(paths.data_dir()), renew=args.new_token)
    host = args.host
    shown_host = host
    if not is_loopback(host):
        import socket

        if host in ("0.0.0.0", "::", ""):
            shown_host = socket.gethostname()
        print(
            f"fttui web: warning: listening on {host or 'every address'}, not loopback: anyone "
            "who can reach this machine and has the token uses the app as you, with your API "
            "key, over plain HTTP (use an SSH tunnel rather, if you can)",
            file=sys.stderr,
        )
    url = f"http://{_url_host(shown_host)}:{args.port}/?token={token}"
    server = make_server(app_command(args), host=host, port=args.port, token=token, url=url)
    sys.unraisablehook = _quiet_closed_loop(sys.unraisablehook)
    try:
        server.serve()
    except OSError as exc:  # the port is taken, the address is not this machine's, ...
        raise CliError(f"cannot listen on {host}:{args.port}: {exc.strerror or exc}", 2) from None
    return 0


def _quiet_closed_loop(default):
    """An unraisable-exception hook that drops asyncio's "Event loop is closed" from a
    subprocess transport's ``__del__``: a tab's app process reaped after the server's loop
    has closed at shutdown. Harmless, but it printed a traceback on every ctrl+c."""

    def hook(unraisable) -> None:
        exc = unraisable.exc_value
        if isinstance(exc, RuntimeError) and str(exc) == "Event loop is closed":
            return
        default(unraisable)

    return hook


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def app_command(args: argparse.Namespace) -> str:
    """The shell command textual-serve runs for each tab: this Python's ``fttui`` with the
    provider and ``--read-only`` passed through (never the key: a command line can be read
    by every local user, so the key stays in the profile or the environment)."""
    import shlex
    import sys

    argv = [sys.executable, "-m", "fttui"]
    if getattr(args, "read_only", False):
        argv.append("--read-only")
    if profile := getattr(args, "profile", None):
        argv += ["--profile", profile]
    if base_url := getattr(args, "base_url", None):
        argv += ["--base-url", base_url]
    return shlex.join(argv)


def load_or_create_token(data_dir, *, renew: bool = False) -> str:
    """The token in ``<data_dir>/web_token``, made (and stored 0600) on first use."""
    from fttui.server.runner import load_or_create_secret

    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return load_or_create_secret(data_dir / TOKEN_FILE, prefix="", renew=renew)[0]


def make_server(command: str, *, host: str, port: int, token: str, url: str):
    """A textual-serve ``Server`` whose every route needs ``token`` (see module doc)."""
    import hmac

    import aiohttp_jinja2
    from aiohttp import web
    from textual_serve.server import Server, to_int

    # Per port: browsers share cookies between the ports of one host.
    cookie = f"fttui_web_{port}"
    expected = token.encode()

    def matches(value: str | None) -> bool:
        return value is not None and hmac.compare_digest(value.encode(), expected)

    @web.middleware
    async def _require_token(request: web.Request, handler):
        origin = request.headers.get("Origin")
        if origin is not None and origin != f"{request.scheme}://{request.host}":
            # Another site's page may not drive the app, cookie or not.
            return web.Response(status=403, text="fttui web: a page of another site\n")
        if matches(request.query.get("token")):
            if request.method == "GET" and request.path == "/":
                # Into the cookie, out of the address bar (and the browser's history).
                query = {k: v for k, v in request.query.items() if k != "token"}
                location = str(request.rel_url.with_query(query))
                response = web.Response(status=303, headers={"Location": location})
            else:
                response = await handler(request)
            response.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
            return response
        if matches(request.cookies.get(cookie)):
            return await handler(request)
        return web.Response(
            status=401, text="fttui web: open the URL with ?token=... that `fttui web` printed\n"
        )

    class TokenServer(Server):
        async def _make_app(self) -> web.Application:
            app = await super()._make_app()
            app.middlewares.append(_require_token)
            return app

        def initialize_logging(self) -> None:
            pass  # textual-serve logs every tab at INFO: keep the terminal to our own lines

        async def on_startup(self, app: web.Application) -> None:
            print(f"fttui web: open {url}\n  one app per browser tab; ctrl+c stops", flush=True)

        async def handle_index(self, request: web.Request) -> web.StreamResponse:
            # textual-serve builds the page's URLs from --host (0.0.0.0 is no address a
            # browser can open); the address the browser used is the one that works.
            origin = f"{request.scheme}://{request.host}"
            ws = ("wss" if request.scheme == "https" else "ws") + f"://{request.host}/ws"
            context = {
                "font_size": to_int(request.query.get("fontsize", "16"), 16),
                "app_websocket_url": ws,
                "config": {"static": {"url": f"{origin}/static/"}},
                "application": {"name": self.title},
            }
            return aiohttp_jinja2.render_template("app_index.html", request, context)

    return TokenServer(command, host=host, port=port, title="fttui")
