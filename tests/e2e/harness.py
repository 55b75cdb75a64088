"""The end-to-end harness: a JupyterLab server, headless Chromium, notebooks, and a kernel client.

Everything here drives real parts: a real ``jupyter lab`` process, Debian's Chromium through
Playwright, notebooks opened and run in the page, and a ``jupyter_client`` attached to the very
kernel the page runs, to read ``w.log`` and friends (see ../../../shared/FACTS.md).

One rule shapes the kernel client: while a cell runs, the kernel processes no comm messages, and the
client's execute requests are cells too. So every request here is short; waiting for something to
happen in the kernel is done by polling from the test (:meth:`Kernel.wait_for`), never by blocking
inside the kernel.
"""

from __future__ import annotations

import ast
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import nbformat
from jupyter_client.blocking import BlockingKernelClient

# Chromium as root, headless, on a machine with a closed network (see the machine notes).
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
    # A fake capture device; its audio comes from a file (see fake_mic_args).
    "--use-fake-device-for-media-stream",
)
# Not here on purpose: --use-fake-ui-for-media-stream. Measured on Chromium 156 headless: with that
# flag getUserMedia succeeds whatever the context's permissions say (even after CDP
# Browser.setPermission "denied"), so a denied-mic test is impossible in that browser. Without it,
# a context created with permissions=["microphone"] gets the fake mic, and a context with no
# permissions gets NotAllowedError ("Permission denied") at once. One browser serves both.


# Runs in every page before its own scripts: keeps a reference to every stream getUserMedia
# returns (the real one; nothing is replaced), so a test can tell whether the page still holds the
# microphone: a released track has readyState "ended".
TRACK_MIC_STREAMS_JS = """
(() => {
  const md = navigator.mediaDevices;
  if (!md || !md.getUserMedia) return;
  const real = md.getUserMedia.bind(md);
  window.__e2eMicStreams = [];
  md.getUserMedia = async (constraints) => {
    const stream = await real(constraints);
    window.__e2eMicStreams.push(stream);
    return stream;
  };
})();
"""

LIVE_MIC_TRACKS_JS = """() => (window.__e2eMicStreams || [])
  .flatMap(s => s.getAudioTracks()).filter(t => t.readyState === 'live').length"""


def fake_mic_args(wav: Path, loop: bool = False) -> list[str]:
    """Chromium flags: the fake microphone plays ``wav`` (48 kHz mono), once unless ``loop``."""
    return [f"--use-file-for-fake-audio-capture={wav}{'' if loop else '%noloop'}"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HarnessError(AssertionError):
    """Something the harness waited for did not happen; the message says what and what was seen."""


# -- the JupyterLab server -------------------------------------------------------------------------
class LabServer:
    """``jupyter lab`` in a fresh root, config, runtime and settings folder, on a free port."""

    def __init__(
        self, base: Path, env_drop: Sequence[str] = ("OPENAI_API_KEY", "OPENAI_BASE_URL")
    ) -> None:
        self.base = base
        self.root = base / "root"
        self.runtime = base / "runtime"
        self.log_path = base / "lab.log"
        for d in (self.root, self.runtime):
            d.mkdir(parents=True, exist_ok=True)
        self.token = secrets.token_hex(16)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {k: v for k, v in os.environ.items() if k not in env_drop}
        self.env.update(
            JUPYTER_RUNTIME_DIR=str(self.runtime),
            JUPYTER_CONFIG_DIR=str(base / "config"),
            JUPYTERLAB_SETTINGS_DIR=str(base / "settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(base / "workspaces"),
            IPYTHONDIR=str(base / "ipython"),
            PYTHONUNBUFFERED="1",
        )
        # No "news?" toast over the page, no update check reaching for the network.
        notif = base / "settings" / "@jupyterlab" / "apputils-extension"
        notif.mkdir(parents=True, exist_ok=True)
        (notif / "notification.jupyterlab-settings").write_text(
            json.dumps({"fetchNews": "false", "checkForUpdates": False})
        )
        # Save widget state in the notebook on save, so a test of the saved file also sees every
        # synced trait (a secret in a trait would show there).
        widgets = base / "settings" / "@jupyter-widgets" / "jupyterlab-manager"
        widgets.mkdir(parents=True, exist_ok=True)
        (widgets / "plugin.jupyterlab-settings").write_text(json.dumps({"saveState": True}))
        self.proc: subprocess.Popen[bytes] | None = None
        self.http = httpx.Client(
            base_url=self.url, headers={"Authorization": f"token {self.token}"}, timeout=10
        )

    def start(self, timeout: float = 60) -> LabServer:
        cmd = [
            sys.executable, "-m", "jupyter", "lab",
            "--no-browser", "--allow-root",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.disable_check_xsrf=True",
            "--expose-app-in-browser",
        ]  # fmt: skip
        log = self.log_path.open("wb")
        self.proc = subprocess.Popen(
            cmd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HarnessError(
                    f"jupyter lab exited ({self.proc.returncode}):\n{self.log_tail()}"
                )
            try:
                if self.http.get("/api/status").status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise HarnessError(f"jupyter lab did not answer in {timeout} s:\n{self.log_tail()}")

    def log_tail(self, n: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-n:])
        except OSError:
            return ""

    def page_url(self, path: str) -> str:
        return f"{self.url}/{path.lstrip('/')}?token={self.token}"

    def sessions(self) -> list[dict[str, Any]]:
        r = self.http.get("/api/sessions")
        r.raise_for_status()
        return r.json()

    def session_for(self, path: str) -> dict[str, Any] | None:
        return next((s for s in self.sessions() if s.get("path") == path), None)

    def delete_session(self, session_id: str) -> None:
        """Shut the session's kernel down (this is what closing a notebook's kernel does)."""
        try:
            self.http.delete(f"/api/sessions/{session_id}")
        except httpx.HTTPError:
            pass

    def stop(self) -> None:
        """Shut every kernel down, then the server; kill whatever is left of its process group."""
        if self.proc is None:
            return
        try:
            for s in self.sessions():
                self.delete_session(s["id"])
            self.http.post("/api/shutdown")
        except httpx.HTTPError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        # Whatever is left of the server's process group, and any kernel it started (jupyter_client
        # starts kernels in sessions of their own): nothing of this run may outlive it.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in self._our_kernel_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        self.http.close()
        self.proc = None

    def _our_kernel_pids(self) -> list[int]:
        """Processes whose command line names a connection file in this server's runtime dir."""
        marker = str(self.runtime).encode()
        pids = []
        for proc in Path("/proc").glob("[0-9]*"):
            try:
                if marker in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                continue
        return pids


# -- a kernel client on the page's kernel ----------------------------------------------------------
class KernelError(AssertionError):
    """Code run by the harness raised in the kernel; the message carries the kernel's traceback."""


class Kernel:
    """A ``BlockingKernelClient`` on a kernel the server started (via its connection file)."""

    def __init__(self, connection_file: Path) -> None:
        self.kc = BlockingKernelClient(connection_file=str(connection_file))
        self.kc.load_connection_file()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=30)

    def _execute(self, code: str, user_expressions: dict[str, str], timeout: float) -> dict:
        msg_id = self.kc.execute(
            code, silent=False, store_history=False, user_expressions=user_expressions,
            allow_stdin=False,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise HarnessError(f"the kernel did not answer in {timeout} s: {code[:200]!r}")
            reply = self.kc.get_shell_msg(timeout=left)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        content = reply["content"]
        if content["status"] != "ok":
            tb = "\n".join(content.get("traceback", []))
            raise KernelError(
                f"{content.get('ename')}: {content.get('evalue')}\n{tb}\n--- code ---\n{code}"
            )
        return content

    def run(self, code: str, timeout: float = 30) -> None:
        """Run statements in the kernel (keep them short: the kernel handles no comm meanwhile)."""
        self._execute(code, {}, timeout)

    def eval(self, expr: str, timeout: float = 30) -> Any:
        """The value of ``expr`` in the kernel, carried back as JSON (``default=str``)."""
        wrapped = f"__import__('json').dumps({expr}, default=str)"
        content = self._execute("", {"r": wrapped}, timeout)
        res = content["user_expressions"]["r"]
        if res["status"] != "ok":
            tb = "\n".join(res.get("traceback", []))
            raise KernelError(f"{res.get('ename')}: {res.get('evalue')} in {expr!r}\n{tb}")
        return json.loads(ast.literal_eval(res["data"]["text/plain"]))

    def wait_for(
        self,
        expr: str,
        timeout: float = 20,
        interval: float = 0.1,
        what: str | None = None,
        until: Callable[[Any], bool] = bool,
        show: str | None = None,
    ) -> Any:
        """Poll ``expr`` until ``until(value)`` holds; returns the value.

        On timeout the error names ``what`` (or the expression), the last value, and the value of
        ``show`` (another kernel expression), to make the failure readable.
        """
        deadline = time.monotonic() + timeout
        value: Any = None
        while True:
            value = self.eval(expr)
            if until(value):
                return value
            if time.monotonic() > deadline:
                extra = ""
                if show:
                    try:
                        extra = f"\n{show} = {self.eval(show)!r}"
                    except AssertionError as e:
                        extra = f"\n{show} raised {e}"
                raise HarnessError(
                    f"timed out after {timeout} s waiting for {what or expr}; last value: {value!r}"
                    f"{extra}"
                )
            time.sleep(interval)

    def close(self) -> None:
        self.kc.stop_channels()


# -- a notebook open in the page -------------------------------------------------------------------
_KERNEL_READY_JS = """(path) => {
  const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
  if (!w || !w.context || w.context.path !== path || !w.sessionContext) return false;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  return !!k && k.connectionStatus === 'connected' && k.status === 'idle';
}"""

_CELLS_DONE_JS = """(path) => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || w.context.path !== path) return null;
  const k = w.sessionContext.session && w.sessionContext.session.kernel;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const done = cells.every(c => c.model.executionCount !== null && !c.hasClass?.('jp-mod-pending'));
  if (!done || !k || k.status !== 'idle') return null;
  const errors = [];
  for (const c of cells) {
    for (let i = 0; i < c.model.outputs.length; i++) {
      const o = c.model.outputs.get(i);
      if (o.type === 'error') {
        const j = o.toJSON();
        errors.push(j.ename + ': ' + j.evalue + '\\n' + (j.traceback || []).join('\\n'));
      }
    }
  }
  return {errors};
}"""


class Notebook:
    """A notebook in the server's root, opened in its own page, with a client on its kernel."""

    def __init__(self, lab: LabServer, page: Any, path: str) -> None:
        self.lab, self.page, self.path = lab, page, path
        self.file = lab.root / path
        self.kernel: Kernel | None = None
        self.session_id: str | None = None

    @staticmethod
    def write(lab: LabServer, cells: Sequence[str], name: str | None = None) -> str:
        name = name or f"e2e-{uuid.uuid4().hex[:8]}.ipynb"
        nb = nbformat.v4.new_notebook()
        nb.cells = [nbformat.v4.new_code_cell(src) for src in cells]
        nb.metadata["kernelspec"] = {
            "name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python",
        }  # fmt: skip
        nbformat.write(nb, lab.root / name)
        return name

    def open(self, timeout: float = 60) -> Notebook:
        # A workspace of its own: the default one would restore every notebook earlier pages
        # opened, each starting a kernel again.
        workspace = f"e2e-{uuid.uuid4().hex[:8]}"
        self.page.goto(self.lab.page_url(f"lab/workspaces/{workspace}/tree/{self.path}"))
        self.page.wait_for_function(_KERNEL_READY_JS, arg=self.path, timeout=timeout * 1000)
        deadline = time.monotonic() + timeout
        session = None
        while time.monotonic() < deadline:
            session = self.lab.session_for(self.path)
            if session and session.get("kernel"):
                break
            time.sleep(0.1)
        if not session:
            raise HarnessError(f"no server session for {self.path}: {self.lab.sessions()}")
        self.session_id = session["id"]
        cf = self.lab.runtime / f"kernel-{session['kernel']['id']}.json"
        if not cf.exists():
            raise HarnessError(f"no connection file {cf}: {sorted(self.lab.runtime.iterdir())}")
        self.kernel = Kernel(cf)
        return self

    def command(self, name: str, args: dict | None = None) -> Any:
        """Run a JupyterLab command in the page (needs --expose-app-in-browser)."""
        return self.page.evaluate(
            "([n, a]) => window.jupyterapp.commands.execute(n, a).then(() => true)",
            [name, args or {}],
        )

    def run_all(self, timeout: float = 60, check: bool = True) -> None:
        """Run every cell from the page, as a user would, and wait until all have run."""
        self.command("notebook:run-all-cells")
        handle = self.page.wait_for_function(_CELLS_DONE_JS, arg=self.path, timeout=timeout * 1000)
        errors = handle.json_value()["errors"]
        if check and errors:
            raise HarnessError(f"a cell of {self.path} raised:\n" + "\n\n".join(errors))

    def add_and_run_cell(self, source: str, timeout: float = 60, check: bool = True) -> list[dict]:
        """Append a code cell in the page and run just that cell; returns its outputs (nbformat)."""
        index = self.page.evaluate(
            """(src) => {
              const w = window.jupyterapp.shell.currentWidget;
              const n = w.content.model.cells.length;
              w.content.model.sharedModel.insertCell(n, {cell_type: 'code', source: src});
              w.content.activeCellIndex = n;
              return n;
            }""",
            source,
        )
        self.command("notebook:run-cell")
        handle = self.page.wait_for_function(
            """([path, i]) => {
              const w = window.jupyterapp.shell.currentWidget;
              if (!w || w.context.path !== path) return null;
              const c = w.content.widgets[i];
              const k = w.sessionContext.session && w.sessionContext.session.kernel;
              if (c.model.executionCount === null || !k || k.status !== 'idle') return null;
              return c.model.outputs.toJSON();
            }""",
            arg=[self.path, index],
            timeout=timeout * 1000,
        )
        outputs = handle.json_value()
        errors = [o for o in outputs if o.get("output_type") == "error"]
        if check and errors:
            e = errors[0]
            raise HarnessError(f"the added cell raised {e['ename']}: {e['evalue']}\n{source}")
        return outputs

    def save(self, timeout: float = 20) -> dict:
        """Save from the page (docmanager:save) and return the notebook as read from disk."""
        before = self.file.stat().st_mtime_ns
        self.command("docmanager:save")
        deadline = time.monotonic() + timeout
        while self.file.stat().st_mtime_ns == before:
            if time.monotonic() > deadline:
                raise HarnessError(f"{self.path} was not saved within {timeout} s")
            time.sleep(0.05)
        time.sleep(0.2)  # let the write finish (the server writes atomically, but be safe)
        return json.loads(self.file.read_text())

    def close(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None
        if self.session_id is not None:
            self.lab.delete_session(self.session_id)
            self.session_id = None


def ensure_artifacts_dir(root: Path) -> Path:
    out = root / "test-artifacts"
    out.mkdir(exist_ok=True)
    return out
