"""``python -m stack.frontend``: serve the pages on HOST:FRONTEND_PORT (127.0.0.1:3000)."""

from __future__ import annotations

from stack.frontend.server import create_app
from stack.service import configure_logging, env_int, env_str, serve


def main() -> None:
    configure_logging("frontend")
    host = env_str("HOST", "127.0.0.1")
    port = env_int("FRONTEND_PORT", 3000, minimum=1)
    serve(create_app(), host=host, port=port)


if __name__ == "__main__":
    main()
