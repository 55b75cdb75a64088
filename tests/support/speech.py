"""Speech WAV fixtures, made on demand with espeak-ng and sox (the test command installs both).

Chromium's fake microphone (``--use-file-for-fake-audio-capture``) and the emulator's VAD tests
both want real speech: 48 kHz, mono, 16-bit PCM, with silence around it so a VAD sees a turn.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

CACHE = Path(__file__).resolve().parent.parent / ".cache"


def speech_wav(
    text: str = "Hello there. What is the weather like in Paris today?",
    rate: int = 48_000,
    lead_silence_s: float = 0.5,
    tail_silence_s: float = 1.5,
) -> Path:
    """Path to a WAV of ``text`` spoken by espeak-ng, padded with silence; cached by content."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if not espeak or not sox:
        raise RuntimeError(
            "espeak-ng and sox are needed to make speech fixtures: "
            "apt-get install -y espeak-ng sox (the test command does this)"
        )
    key = hashlib.sha1(f"{text}|{rate}|{lead_silence_s}|{tail_silence_s}".encode()).hexdigest()[:12]
    CACHE.mkdir(exist_ok=True)
    out = CACHE / f"speech-{key}.wav"
    if out.exists():
        return out
    raw = CACHE / f"raw-{key}.wav"
    subprocess.run([espeak, "-w", str(raw), text], check=True, capture_output=True)
    subprocess.run(
        [sox, str(raw), "-r", str(rate), "-c", "1", "-b", "16", str(out),
         "pad", str(lead_silence_s), str(tail_silence_s)],
        check=True,
        capture_output=True,
    )
    raw.unlink()
    return out
