"""The capacity run's locustfile: ``RealtimeUser`` under the ``StepLoad`` shape (``--steps``).

Separate from ``locustfile.py`` because Locust always uses a shape a locustfile defines,
and a plain run (``-u``/``-r``) must not get one.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import events

from load.realtime_user import RealtimeUser  # noqa: F401 - the user class Locust runs
from load.settings import add_options
from load.shapes import StepLoad  # noqa: F401 - the shape Locust runs

events.init_command_line_parser.add_listener(add_options)
