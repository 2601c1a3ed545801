"""``python -m stack.realtime_sim``: serve the simulator on HOST:SIM_PORT."""

from __future__ import annotations

from stack.service import configure_logging, env_int, env_str, serve

from .server import create_app
from .settings import SimSettings


def main() -> None:
    configure_logging("realtime-sim")
    host = env_str("HOST", "127.0.0.1")
    port = env_int("SIM_PORT", 8090, minimum=1)
    settings = SimSettings.from_env()  # a bad knob stops us here, before the port opens
    serve(create_app(settings), host=host, port=port)


if __name__ == "__main__":
    main()
