"""``python -m stack.app``: serve the app on HOST:APP_PORT."""

from stack.app.main import create_app
from stack.app.settings import Settings
from stack.service import configure_logging, serve


def main() -> None:
    configure_logging("app")
    settings = Settings.from_env()
    serve(create_app(settings), host=settings.host, port=settings.port, ws_max_size=settings.max_message_bytes)


if __name__ == "__main__":
    main()
