"""``python -m benchmarks``: every figure of issue 7, a table with PASS/FAIL, ``results.json``.

    python -m benchmarks                 # everything (~5-8 min on 2 cores)
    python -m benchmarks --quick         # the harness at small scale (1k events, no 1M frames)
    python -m benchmarks --only browser  # or: frames
    python -m benchmarks --markdown      # the table as Markdown too (for RESULTS.md)

What runs, in order, all against one emulator (in this process) and one headless Chromium:
call setup (widget click -> channel open vs the bare page's seed flow), bursts of 1k/10k/100k
events into the bare page and into the widget (alternating), the kernel's memory over the
100k burst, paced events (50/s for 10 s), the saved notebook before and after 10k events; then,
with the browser closed, the frames (``frames_bench.py``) on 100k and 1M records.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks import ROOT, report

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "results.json"


class Plan:
    """How much of each figure to measure."""

    def __init__(self, quick: bool) -> None:
        self.quick = quick
        # burst size -> rounds (each round: one burst into the bare page, one into the widget)
        self.bursts = {1_000: 1} if quick else {1_000: 5, 10_000: 3, 100_000: 1}
        self.setup_rounds = 2 if quick else 7
        self.paced_count, self.paced_interval_ms = (100, 20.0) if quick else (500, 20.0)
        self.notebook_events = 1_000 if quick else 10_000
        self.frames = {100_000: 1} if quick else {100_000: 3, 1_000_000: 2}  # best of each


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1],
    )  # fmt: skip
    parser.add_argument(
        "--quick", action="store_true", help="small scale: keeps the harness working"
    )
    parser.add_argument("--only", choices=("browser", "frames"), help="run one part")
    parser.add_argument("--out", type=Path,
                        help=f"where to write the results (default {DEFAULT_OUT.name}; with --quick or "
                             "--only, nowhere unless given)")  # fmt: skip
    parser.add_argument("--markdown", action="store_true", help="print the table as Markdown too")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="then profile a 10k burst: CPU per process, the page's JS, the kernel",
    )
    parser.add_argument("--frontend", type=Path, metavar="WIDGET_JS",
                        help="measure another build of the front end (a bundled widget.js)")  # fmt: skip
    args = parser.parse_args(argv)
    plan = Plan(args.quick)
    # A partial or small run never overwrites the full run's results.json unless asked to.
    out = args.out or (None if args.quick or args.only else DEFAULT_OUT)

    started = time.monotonic()
    results: dict[str, Any] = {key: None for key in report.KEYS}
    meta = machine()
    meta.update(quick=plan.quick, load_average_before=_load())
    results["meta"] = meta
    results["detail"] = {}
    skipped: list[str] = []
    say(f"rt_widget benchmarks{' (quick)' if plan.quick else ''}: {meta['cpu']}, "
        f"{meta['cpus']} CPUs, load average {_load_text()}")  # fmt: skip

    if args.only in (None, "browser"):
        results.update(browser_figures(plan, results, meta, args.frontend, args.profile))
    else:
        skipped += [k for k in report.KEYS if not k.startswith("frames_")]
    if args.only in (None, "frames"):
        results.update(frame_figures(plan, results["detail"]))
    else:
        skipped += ["frames_100k_s", "frames_1m_s"]
    skipped += [k for k in report.KEYS if results.get(k) is None and k not in skipped]

    meta["load_average_after"] = _load()
    meta["duration_s"] = round(time.monotonic() - started, 1)
    results["skipped"] = skipped
    results["targets"] = report.judge(results)
    if out is not None:
        out.write_text(json.dumps(results, indent=2) + "\n")

    say("")
    say(report.table(results))
    if args.markdown:
        say("")
        say(report.table(results, markdown=True))
    failed = report.failures(results)
    say("")
    say(f"{len(failed)} target(s) failed: {', '.join(failed)}" if failed else "every target met")
    if skipped:
        say(f"not measured in this run: {', '.join(skipped)}")
    where = f"written to {out}" if out else "not written (--out PATH to keep them)"
    say(f"done in {meta['duration_s']:.0f} s, results {where}; load average now {_load_text()}")
    # Figures are noisy; a missed target is reported, not an error. Lost events are an error.
    return 0 if results.get("events_logged") == results.get("events_sent") else 1


def browser_figures(
    plan: Plan,
    results: dict[str, Any],
    meta: dict[str, Any],
    frontend: Path | None = None,
    profile: bool = False,
) -> dict[str, Any]:
    from benchmarks import browser_bench as bb

    detail = results["detail"]
    out: dict[str, Any] = {}
    t = time.monotonic()
    meta["frontend"] = (
        str(frontend) if frontend else "the package's (src/rt_widget/static/widget.js)"
    )
    with bb.Stack(log=say, frontend=frontend) as stack:
        meta["versions"]["chromium"] = stack.browser_version
        say(
            f"up in {time.monotonic() - t:.0f} s: emulator, JupyterLab, Chromium, widget, bare page"
        )

        setup = bb.call_setup(stack, plan.setup_rounds)
        detail["setup"] = setup.pop("detail")
        out.update(setup)

        bursts, widget_bursts = bb.event_path(stack, plan.bursts)
        out["bursts"] = bursts
        sizes = sorted(bursts, key=int)
        largest = bursts[sizes[-1]]
        out["events_sent"] = sum(b["events_sent"] for b in bursts.values())
        out["events_logged"] = sum(b["events_logged"] for b in bursts.values())
        for key in ("kernel_events_per_s", "page_events_per_s", "kernel_vs_page_ratio"):
            out[key] = largest[key]
        if "10000" in bursts and "100000" in bursts:
            out["cost_growth_ratio"] = round(
                bursts["100000"]["kernel_cpu_us_per_event"]
                / bursts["10000"]["kernel_cpu_us_per_event"],
                3,
            )

        n = max(plan.bursts)
        memory = bb.memory(stack, widget_bursts[n][-1])
        detail["memory"] = memory.pop("detail")
        out.update(memory)

        paced = bb.paced(stack, plan.paced_count, plan.paced_interval_ms)
        detail["paced"] = paced.pop("detail")
        out.update(paced)

        growth = bb.notebook_growth(stack, plan.notebook_events)
        detail["notebook"] = growth.pop("detail")
        out.update(growth)
        for extra in ("paced_ok", "notebook_events_ok"):
            if not out.pop(extra):
                raise RuntimeError(f"{extra}: events were lost or reordered")
        if profile:
            from benchmarks.hotspots import profile_burst

            say("profile of a 10k burst into the widget:")
            results["profile"] = profile_burst(stack)
    say(f"browser figures in {time.monotonic() - t:.0f} s")
    return out


def frame_figures(plan: Plan, detail: dict[str, Any]) -> dict[str, Any]:

    out: dict[str, Any] = {}
    t = time.monotonic()
    names = {100_000: "frames_100k_s", 1_000_000: "frames_1m_s"}
    detail["frames"] = {}
    with tempfile.TemporaryDirectory(prefix="rt-frames-") as directory:
        for n, repeat in plan.frames.items():
            runs = _in_fresh_process(n, repeat, Path(directory))
            best = min(runs, key=lambda r: r["total"])
            out[names[n]] = round(best["total"], 3)
            detail["frames"][names[n]] = {
                "runs": repeat,
                "best": {k: round(v, 3) for k, v in best.items()},
                "totals": [round(r["total"], 3) for r in runs],
            }
    if "frames_100k_s" in out and "frames_1m_s" in out:
        # The frames issue's linearity target: 1M records within 12x the 100k time.
        growth = round(out["frames_1m_s"] / out["frames_100k_s"], 2)
        detail["frames"]["growth_1m_vs_100k"] = growth
        say(f"frames: 1M records take {growth}x the 100k time (linear is 10x; target <= 12x)")
    say(f"frames in {time.monotonic() - t:.0f} s")
    return out


def _in_fresh_process(n: int, repeat: int, directory: Path) -> list[dict[str, float]]:
    """``frames_bench.bench`` in a new Python process, as in a fresh kernel: in this one, the
    browser run's leftovers (Playwright, the emulator, their objects) slowed the frames by ~70%."""
    code = (
        "import json, sys\nfrom pathlib import Path\nfrom benchmarks import frames_bench\n"
        f"runs = frames_bench.bench({n}, {repeat}, Path({str(directory)!r}))\n"
        "sys.stdout.write('\\n' + json.dumps(runs) + '\\n')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    sys.stdout.write(done.stdout.rsplit("\n", 2)[0] + "\n")  # its progress lines
    runs: list[dict[str, float]] = json.loads(done.stdout.rstrip().rsplit("\n", 1)[-1])
    return runs


# -- the machine ---------------------------------------------------------------------------------------
def machine() -> dict[str, Any]:
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for package in ("rt_widget", "jupyterlab", "jupyter_server", "ipykernel", "ipywidgets",
                    "anywidget", "aiortc", "aioice", "playwright", "pandas", "numpy"):  # fmt: skip
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "os": _os_name(),
        "kernel": platform.release(),
        "git": _git(),
        "versions": versions,
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _os_name() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return platform.platform()


def _git() -> str | None:
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True,
                                text=True, check=True).stdout.strip()  # fmt: skip
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{commit}{' (with uncommitted changes)' if dirty else ''}"


def _load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def _load_text() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def say(text: str) -> None:
    print(text, flush=True)


if __name__ == "__main__":
    sys.exit(main())
