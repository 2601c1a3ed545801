"""realtime-sim: a deterministic stand-in for the OpenAI / Azure OpenAI Realtime model.

It speaks the GA Realtime WebSocket protocol so the app, the official ``openai`` client
and the harness can be tested without a real model, and it answers deterministically so
a round trip can be checked byte for byte: the audio of a response is exactly the audio
the user committed (an echo), and the transcript describes what was heard
(``"I heard 1.52 seconds of audio."``, ``"You said: <text>"``, ``"I heard nothing."``).

Endpoints (``python -m stack.realtime_sim``; ``HOST`` default 127.0.0.1, ``SIM_PORT`` 8090):

- ``WS /openai/realtime?api-version=...&deployment=...`` Azure style, key in ``api-key``
  (an ``Authorization: Bearer`` token is accepted too, as Azure does for Entra tokens).
- ``WS /v1/realtime?model=...`` OpenAI style, key as ``Authorization: Bearer``.
- ``GET /health`` -> ``{"status": "ok", "sessions": <live sessions>}``.
- ``GET /stats`` -> per-session counters and totals (see :mod:`.stats`).

A missing or wrong key refuses the handshake with HTTP 401. With ``SIM_API_KEY`` set the
key must equal it; without it any non-empty key is accepted. Keys are never logged.

Turn taking: server VAD (an energy detector on 20 ms frames, see :mod:`.vad`) is on by
default and commits + answers after ``silence_duration_ms`` of silence; with
``audio.input.turn_detection: null`` only ``input_audio_buffer.commit`` +
``response.create`` produce answers.

Knobs. Environment (defaults for every session):

- ``SIM_API_KEY``            key clients must present (unset: any non-empty key).
- ``SIM_RESPONSE_DELAY_MS``  delay before a response starts (``response.created``); 0.
- ``SIM_FAULT``              ``none`` | ``error_event`` | ``close`` | ``close_after_audio``.
- ``SIM_AUDIO_PACE``         ``fast`` (as fast as the socket takes it) | ``realtime``
                             (audio deltas paced at playback speed).
- ``SIM_AUDIO_CHUNK_MS``     audio per ``response.output_audio.delta``; 100 (4800 bytes).
- ``SIM_VAD_RMS``            RMS (int16 units) a 20 ms frame needs to count as speech at
                             ``turn_detection.threshold`` 0.5 (scaled linearly); 500.
- ``SIM_MAX_BUFFER_BYTES``   cap on the uncommitted input buffer; 32 MiB.
- ``SIM_MODEL``              model reported when the client names none; ``gpt-realtime``.

Per session, through ``session.update`` with ``session.metadata`` (read by the sim, never
echoed back in ``session.updated``; keys left out keep their value):

- ``sim_response_delay_ms``  as ``SIM_RESPONSE_DELAY_MS``.
- ``sim_fault``              ``none``; ``error_event`` (an ``error`` event of type
                             ``server_error`` instead of each response, connection kept);
                             ``close`` (at the next response: the socket is dropped without
                             a close frame); ``close_after_audio`` (some audio deltas, then
                             the same drop).
- ``sim_audio_pace``         as ``SIM_AUDIO_PACE``.

Every fault that fires is counted in ``/stats`` (``faults``).

Strict where the real API is strict: ``session.update`` with an unknown parameter (e.g. the
beta-era ``modalities``), a format other than ``audio/pcm`` 24 kHz, or
``output_modalities`` other than ``["audio"]`` gets an ``error`` event and changes nothing;
``input_audio_buffer.commit`` with under 100 ms of audio gets
``input_audio_buffer_commit_empty``; a second ``response.create`` while one is running gets
``conversation_already_has_active_response``.

Accepted and echoed but not simulated: input transcription (no transcription events),
``idle_timeout_ms``, tools, tracing, truncation, prompts. ``semantic_vad`` runs the same
energy detector (silence 250/500/1000 ms for eagerness high/auto-medium/low).
"""
