"""``locust -f load/locustfile.py``: realtime voice sessions against a deployment.

    locust -f load/locustfile.py --host http://127.0.0.1:8080 --ws-url ws://127.0.0.1:8080/ws/realtime
    locust -f load/locustfile.py --headless -u 50 -r 10 -t 1m --host ... --ws-url ...
    locust -f load/locustfile.py --master ...   /   locust -f load/locustfile.py --worker --master-host HOST

Credentials as for the e2e suite: RQA_EMAIL / RQA_PASSWORD (else the seeds' test account).
Locust runs in a process of its own (it patches everything with gevent at import).
"""

from __future__ import annotations

import sys
from pathlib import Path

# Locust puts this file's directory on sys.path; the harness's packages are one up.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from locust import events

from load.realtime_user import RealtimeUser  # noqa: F401 - the user class Locust runs
from load.settings import add_options

events.init_command_line_parser.add_listener(add_options)
