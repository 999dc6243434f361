"""Synthetic media for test and benchmark peers: a moving test pattern and a steady tone.

Made frame by frame from the standard library (no camera, no microphone, no numpy), so a
receiver can tell real decoded media from silence or blank frames.
"""

from __future__ import annotations

import fractions
import math
from array import array

from aiortc.mediastreams import AudioStreamTrack, VideoStreamTrack
from av import AudioFrame, VideoFrame

TONE_RATE = 48_000
TONE_PTIME = 0.02


class PatternTrack(VideoStreamTrack):
    """Video: vertical luminance bars that move one step per frame (yuv420p, 30 fps)."""

    def __init__(self, width: int = 320, height: int = 240) -> None:
        super().__init__()
        assert width % 2 == 0, "yuv420p needs an even width"
        assert height % 2 == 0, "yuv420p needs an even height"
        self.width, self.height = width, height
        self._count = 0

    async def recv(self) -> VideoFrame:
        pts, time_base = await self.next_timestamp()
        frame = VideoFrame(width=self.width, height=self.height, format="yuv420p")
        shift = self._count * 4
        row = bytes((((x + shift) // 32) % 2) * 180 + 40 for x in range(self.width))
        luma, *chroma = frame.planes
        luma.update(_fill(row, luma.line_size, self.height))
        for plane in chroma:  # neutral colour
            plane.update(bytes([128]) * plane.buffer_size)
        frame.pts, frame.time_base = pts, time_base
        self._count += 1
        return frame


def _fill(row: bytes, line_size: int, lines: int) -> bytes:
    return (row + bytes(line_size - len(row))) * lines


class ToneTrack(AudioStreamTrack):
    """Audio: a sine tone (440 Hz by default) at 48 kHz mono, in 20 ms frames."""

    def __init__(self, frequency: float = 440.0, amplitude: int = 8000) -> None:
        super().__init__()
        self.frequency, self.amplitude = frequency, amplitude
        self._sample = 0

    async def recv(self) -> AudioFrame:
        await super().recv()  # keeps real-time pacing (and raises once the track is stopped)
        samples = int(TONE_RATE * TONE_PTIME)
        step = 2 * math.pi * self.frequency / TONE_RATE
        pcm = array(
            "h",
            (int(self.amplitude * math.sin(step * (self._sample + i))) for i in range(samples)),
        )
        frame = AudioFrame(format="s16", layout="mono", samples=samples)
        frame.planes[0].update(pcm.tobytes())
        frame.pts, frame.sample_rate = self._sample, TONE_RATE
        frame.time_base = fractions.Fraction(1, TONE_RATE)
        self._sample += samples
        return frame


def audio_peak(frame: AudioFrame) -> int:
    """The largest absolute sample of a decoded signed 16-bit frame (0 for silence)."""
    assert frame.format.name in ("s16", "s16p"), frame.format.name
    count = frame.samples * (1 if frame.format.is_planar else len(frame.layout.channels))
    pcm = array("h", bytes(frame.planes[0])[: count * 2])
    return max((abs(s) for s in pcm), default=0)
