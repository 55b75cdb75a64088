"""Charts of a session, for people who would rather look than read.

Each function takes an :class:`~rt_widget.EventLog` (or a list of its records) or the frame it
draws (``log.turns()``, ``log.connection()``, ``log.stats()``), and returns the matplotlib object
it drew on, to be adjusted or saved. matplotlib is an optional extra, imported when a chart is
drawn: ``pip install "rt_widget[plot]"``.

    from rt_widget import plot
    plot.turn_latency(w.log)
    plot.connection_waterfall(w.log)
    plot.stats_timeseries(w.log)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from . import frames

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["connection_waterfall", "stats_timeseries", "turn_latency"]

# The steps of a turn in their usual order, and how the legend names the gap that ends at each.
TURN_STEPS: Sequence[tuple[str, str]] = (
    ("speech_stopped_ms", "speech stopped"),
    ("committed_ms", "turn detection (committed)"),
    ("response_created_ms", "response created"),
    ("first_delta_ms", "first delta"),
    ("audio_started_ms", "audio started"),
)
DEFAULT_STATS = ("rtt_ms", "jitter_ms", "bitrate_in_kbps", "bitrate_out_kbps", "packet_loss_pct")


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "rt_widget.plot draws with matplotlib, which is not installed: "
            'pip install "rt_widget[plot]" (or pip install matplotlib)'
        ) from exc
    return plt


def _frame(
    source: Any, build: Callable[[Any], pd.DataFrame], needs: Iterable[str], name: str
) -> pd.DataFrame:
    """The frame to draw: ``source`` itself if it is one, else built from the log."""
    if isinstance(source, pd.DataFrame):
        missing = [c for c in needs if c not in source.columns]
        if missing:
            raise ValueError(f"expected the frame of log.{name}(); it has no {missing}")
        return source
    return build(source)


def _axes(ax: Axes | None, **figure: Any) -> Axes:
    if ax is not None:
        return ax
    _, ax = _pyplot().subplots(**figure)
    return ax


def turn_latency(source: Any, ax: Axes | None = None, call: int | None = None) -> Axes:
    """Where each turn's time went: one horizontal bar per response, in order.

    A bar starts at the turn's first known step (the end of the user's speech, else the response's
    creation) and is cut into the gaps between the steps that happened, each coloured by the step
    it ends at: turn detection, response created, first delta, audio started. For a spoken turn
    with every step the bar's length is the voice-to-voice latency, written at its end.
    ``call`` keeps one call's turns. Returns the Axes.
    """
    turns = _frame(source, frames.turns, [c for c, _ in TURN_STEPS], "turns")
    if call is not None:
        turns = turns[turns["call"] == call]
    ax = _axes(ax, figsize=(8, 0.45 * max(len(turns), 2) + 1.2))
    colours = _pyplot().get_cmap("tab10")
    labelled: set[str] = set()
    for y, (_, turn) in enumerate(turns.iterrows()):
        steps = [(turn[column], label) for column, label in TURN_STEPS if pd.notna(turn[column])]
        if not steps:
            continue
        steps.sort(key=lambda step: step[0])  # in time order, even if the log was not
        start = steps[0][0]
        for (t0, _), (t1, label) in itertools.pairwise(steps):
            index = [lbl for _, lbl in TURN_STEPS].index(label)
            ax.barh(y, t1 - t0, left=t0 - start, color=colours(index),
                    label=None if label in labelled else label)
            labelled.add(label)
        voice = turn.get("voice_to_voice_ms")
        if voice is not None and pd.notna(voice):
            ax.annotate(f"{voice:.0f} ms", (steps[-1][0] - start, y), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(range(len(turns)))
    ax.set_yticklabels([_turn_label(t) for _, t in turns.iterrows()])
    ax.invert_yaxis()  # first turn on top
    ax.set_xlabel("ms since the turn's first step")
    ax.set_title("Turn latency")
    if labelled:
        handles, labels = ax.get_legend_handles_labels()
        order = [lbl for _, lbl in TURN_STEPS]
        pairs = sorted(zip(handles, labels, strict=True), key=lambda hl: order.index(hl[1]))
        ax.legend([h for h, _ in pairs], [lbl for _, lbl in pairs], title="gap ending at",
                  loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize="small")
    ax.margins(x=0.12)  # room for the latency written after the longest bar
    return ax


def _turn_label(turn: pd.Series) -> str:
    trigger = turn["trigger"] if pd.notna(turn["trigger"]) else "?"
    status = "" if turn.get("status") == "completed" else f" ({turn.get('status')})"
    return f"call {turn['call']} · {trigger}{status}"


def connection_waterfall(source: Any, call: int | None = None, ax: Axes | None = None) -> Axes:
    """The call's phases as a waterfall: one bar per phase, from when it began to the next one.

    ``call`` picks a call when the log has several (default: the last one). Returns the Axes.
    """
    phases = _frame(source, frames.connection, ["call", "phase", "since_start_ms", "duration_ms"],
                    "connection")
    if len(phases) and call is None:
        call = int(phases["call"].iloc[-1])
    phases = phases[phases["call"] == call] if call is not None else phases
    ax = _axes(ax, figsize=(8, 0.35 * max(len(phases), 2) + 1.2))
    y = np.arange(len(phases))
    starts = phases["since_start_ms"].to_numpy(dtype=float)
    widths = phases["duration_ms"].to_numpy(dtype=float)
    ax.barh(y, np.nan_to_num(widths), left=starts, color="tab:blue")
    last = np.isnan(widths)  # the last phase (or one whose end is unknown): a tick, not a bar
    ax.plot(starts[last], y[last], "|", color="tab:blue", markersize=12)
    for yi, start, width in zip(y, starts, widths, strict=True):
        if not np.isnan(width):
            ax.annotate(f"{width:.0f} ms", (start + width, yi), xytext=(3, 0),
                        textcoords="offset points", va="center", fontsize="small")
    ax.set_yticks(y)
    ax.set_yticklabels(list(phases["phase"].fillna("?")))
    ax.invert_yaxis()
    ax.margins(x=0.1)
    ax.set_xlabel("ms since the call started")
    ax.set_title("Connection" if call is None else f"Connection (call {call})")
    return ax


def stats_timeseries(
    source: Any, columns: Sequence[str] = DEFAULT_STATS, call: int | None = None
) -> Figure:
    """The WebRTC stats over time: one panel per column, sharing the time axis (seconds since the
    call started). Defaults: round trip time, jitter, bitrate in and out, packet loss. ``call``
    keeps one call (default: all, one line each). Returns the Figure."""
    stats = _frame(source, frames.stats, ["call", "t_s", *columns], "stats")
    if call is not None:
        stats = stats[stats["call"] == call]
    plt = _pyplot()
    fig, axes = plt.subplots(len(columns), 1, sharex=True, squeeze=False,
                             figsize=(8, 1.8 * len(columns) + 0.6))
    for ax, column in zip(axes[:, 0], columns, strict=True):
        for number, samples in stats.groupby("call", sort=True):
            ax.plot(samples["t_s"], samples[column], marker=".", label=f"call {number}")
        ax.set_ylabel(column, fontsize="small")
        ax.grid(True, alpha=0.3)
    axes[-1, 0].set_xlabel("s since the call started")
    if stats["call"].nunique() > 1:
        axes[0, 0].legend(fontsize="small")
    fig.suptitle("WebRTC stats")
    fig.tight_layout()
    return fig
