// The view: one panel per displayed output, all showing the model's single call.
//
// Cheap under bursts: controller notifications only mark parts dirty; drawing happens at most once
// per animation frame, the log appends only new rows and keeps at most LOG_ROWS, and transcript
// entries are redrawn only when their revision changed. Text from the network is set with
// textContent, never parsed as HTML.
import type { Microphone } from "./media";
import { decay } from "./meters";
import type { PanelTraits } from "./model";
import type { StatsSample } from "./protocol";
import { parseFilter, statsLine, type LogRow, type RecentEvents } from "./recent";
import type { Transcript, TranscriptEntry } from "./transcript";

/** What changed, so a view redraws only that part. */
export type Topic = "status" | "transcript" | "log" | "devices" | "ptt" | "stats";

/** What a panel needs from the model's controller. */
export interface PanelSource {
  readonly transcript: Transcript;
  readonly recent: RecentEvents;
  readonly microphones: readonly Microphone[];
  readonly deviceId: string | null;
  readonly pushToTalk: { readonly enabled: boolean; readonly pressed: boolean };
  readonly lastStats: StatsSample | null;
  readonly notice: string;
  readonly isOpen: boolean;
  /** The tool line: the kernel's tool status, or a function call waiting for the kernel. */
  readonly toolStatus: string;
  traits(): Readonly<PanelTraits>;
  levels(): { input: number; output: number };
  subscribe(listener: (topic: Topic) => void): () => void;
  connect(trigger: "click"): void;
  disconnect(reason: string): void;
  setMuted(muted: boolean): void;
  selectMicrophone(deviceId: string): void;
  setPushToTalk(on: boolean): void;
  pressToTalk(): void;
  releaseToTalk(): void;
  sendText(text: string): boolean;
  unlockAudio(): void;
}

export interface PanelHandle {
  /** Draws pending changes now (tests; otherwise the next animation frame does it). */
  flush(): void;
  dispose(): void;
}

const LOG_ROWS = 200;
const ALL_TOPICS: readonly Topic[] = ["status", "transcript", "log", "devices", "ptt", "stats"];

/** Meter updates: ~15 a second; the level falls to about half per update (smooth, no flicker). */
const METER_INTERVAL_MS = 66;
const METER_DECAY = 0.55;

export function renderPanel(el: HTMLElement, source: PanelSource): PanelHandle {
  const panel = new Panel(el, source);
  return { flush: () => panel.flush(), dispose: () => panel.dispose() };
}

class Panel {
  private readonly doc: Document;
  private readonly root: HTMLElement;
  private readonly connectButton: HTMLButtonElement;
  private readonly disconnectButton: HTMLButtonElement;
  private readonly stateLabel: HTMLElement;
  private readonly phaseLabel: HTMLElement;
  private readonly statsLabel: HTMLElement;
  private readonly backendBanner: HTMLElement;
  private readonly muteButton: HTMLButtonElement;
  private readonly micSelect: HTMLSelectElement;
  private readonly pttToggle: HTMLButtonElement;
  private readonly pttButton: HTMLButtonElement;
  private readonly levelIn: Meter;
  private readonly levelOut: Meter;
  private readonly errorArea: HTMLElement;
  private readonly noticeArea: HTMLElement;
  private readonly toolLine: HTMLElement;
  private readonly transcriptBox: HTMLElement;
  private readonly textInput: HTMLInputElement;
  private readonly logBox: HTMLElement;
  private readonly filterInput: HTMLInputElement;

  private readonly dirty = new Set<Topic>(ALL_TOPICS);
  private frame: number | null = null;
  private meterTimer: number | null = null;
  private readonly unsubscribe: () => void;
  private readonly cleanups: (() => void)[] = [];
  private readonly turns = new Map<string, { el: HTMLElement; revision: number }>();
  private renderedFilter: string | null = null;
  private lastLogSeq = -1;
  private spaceHeld = false;
  private disposed = false;

  constructor(
    host: HTMLElement,
    private readonly source: PanelSource,
  ) {
    this.doc = host.ownerDocument;
    const h = this.h.bind(this);

    this.connectButton = h("button", { class: "rtw-btn rtw-primary", "data-testid": "connect", type: "button" }, "Connect");
    this.disconnectButton = h("button", { class: "rtw-btn", "data-testid": "disconnect", type: "button" }, "Disconnect");
    this.stateLabel = h("span", { class: "rtw-state", "data-testid": "state" });
    this.phaseLabel = h("span", { class: "rtw-phase", "data-testid": "phase", title: "current phase of the call" });
    this.statsLabel = h("span", { class: "rtw-stats", "data-testid": "stats" });
    this.backendBanner = h("div", { class: "rtw-backend", "data-testid": "backend" });
    this.muteButton = h("button", { class: "rtw-btn", "data-testid": "mute", type: "button", "aria-pressed": "false" }, "Mute");
    this.micSelect = h("select", { class: "rtw-select", "data-testid": "mic-select", "aria-label": "Microphone" });
    this.pttToggle = h(
      "button",
      { class: "rtw-btn", "data-testid": "ptt-toggle", type: "button", "aria-pressed": "false", title: "Push to talk: turn detection off, hold to speak" },
      "Push to talk",
    );
    this.pttButton = h(
      "button",
      { class: "rtw-btn rtw-ptt", "data-testid": "ptt", type: "button", title: "Hold (or hold the space bar) while you speak" },
      "Hold to talk",
    );
    this.levelIn = new Meter(h, "level-in", "Microphone level");
    this.levelOut = new Meter(h, "level-out", "Model level");
    this.errorArea = h("div", { class: "rtw-error", "data-testid": "error", role: "alert" });
    this.noticeArea = h("div", { class: "rtw-notice", "data-testid": "notice", role: "status" });
    this.toolLine = h("div", { class: "rtw-tool", "data-testid": "tool-status", role: "status" });
    this.transcriptBox = h("div", { class: "rtw-transcript", "data-testid": "transcript", "aria-live": "polite", "aria-label": "Transcript" });
    this.textInput = h("input", { class: "rtw-input", "data-testid": "text-input", type: "text", placeholder: "Type a message…", "aria-label": "Message" });
    const sendButton = h("button", { class: "rtw-btn", "data-testid": "send-text", type: "submit" }, "Send");
    const compose = h("form", { class: "rtw-compose" }, this.textInput, sendButton);
    this.filterInput = h("input", {
      class: "rtw-input rtw-filter",
      "data-testid": "event-filter",
      type: "search",
      placeholder: "filter types: response -delta",
      "aria-label": "Filter events by type",
    });
    this.logBox = h("div", { class: "rtw-log", "data-testid": "event-log", role: "log" });

    this.root = h(
      "div",
      { class: "rtw", tabindex: "0" },
      h("div", { class: "rtw-bar" }, this.connectButton, this.disconnectButton, this.stateLabel, this.phaseLabel, h("span", { class: "rtw-spacer" }), this.statsLabel),
      this.backendBanner,
      h(
        "div",
        { class: "rtw-controls" },
        this.muteButton,
        this.micSelect,
        this.pttToggle,
        this.pttButton,
        h("span", { class: "rtw-spacer" }),
        h("span", { class: "rtw-meter-label" }, "mic"),
        this.levelIn.el,
        h("span", { class: "rtw-meter-label" }, "model"),
        this.levelOut.el,
      ),
      this.errorArea,
      this.noticeArea,
      this.toolLine,
      this.transcriptBox,
      compose,
      h("details", { class: "rtw-events", open: "" }, h("summary", {}, "Events"), this.filterInput, this.logBox),
    );
    host.replaceChildren(this.root);

    this.listen(this.connectButton, "click", () => this.source.connect("click"));
    this.listen(this.disconnectButton, "click", () => this.source.disconnect("Disconnect clicked"));
    this.listen(this.muteButton, "click", () => this.source.setMuted(!this.source.traits().muted));
    this.listen(this.micSelect, "change", () => this.source.selectMicrophone(this.micSelect.value));
    this.listen(this.pttToggle, "click", () => this.source.setPushToTalk(!this.source.pushToTalk.enabled));
    this.listen(this.pttButton, "pointerdown", (event) => {
      const e = event as PointerEvent;
      if (e.button !== 0) return;
      this.pttButton.setPointerCapture?.(e.pointerId);
      this.source.pressToTalk();
    });
    for (const name of ["pointerup", "pointercancel", "lostpointercapture"]) {
      this.listen(this.pttButton, name, () => this.source.releaseToTalk());
    }
    this.listen(compose, "submit", (event) => {
      event.preventDefault();
      if (this.source.sendText(this.textInput.value)) this.textInput.value = "";
    });
    this.listen(this.filterInput, "input", () => this.schedule("log"));
    this.listen(this.root, "keydown", (event) => this.onKey(event as KeyboardEvent, true));
    this.listen(this.root, "keyup", (event) => this.onKey(event as KeyboardEvent, false));
    this.listen(this.root, "focusout", (event) => {
      // Focus left the widget while the space bar was held: let go, or the mic stays "talking".
      const next = (event as FocusEvent).relatedTarget;
      if (!(next instanceof Node && this.root.contains(next))) this.releaseSpace();
    });
    this.listen(this.root, "pointerdown", () => this.source.unlockAudio());

    this.unsubscribe = this.source.subscribe((topic) => this.schedule(topic));
    this.flush();
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.releaseSpace();
    this.unsubscribe();
    for (const cleanup of this.cleanups) cleanup();
    if (this.frame !== null) this.doc.defaultView?.cancelAnimationFrame(this.frame);
    this.frame = null;
    if (this.meterTimer !== null) this.doc.defaultView?.clearTimeout(this.meterTimer);
    this.meterTimer = null;
    this.root.remove();
  }

  flush(): void {
    this.frame = null;
    if (this.disposed) return;
    const dirty = new Set(this.dirty);
    this.dirty.clear();
    if (dirty.has("status") || dirty.has("ptt")) this.renderStatus();
    if (dirty.has("devices")) this.renderMicrophones();
    if (dirty.has("stats")) this.renderStats();
    if (dirty.has("transcript")) this.renderTranscript();
    if (dirty.has("log")) this.renderLog();
    this.renderMeters();
  }

  // -- scheduling ---------------------------------------------------------------------------------

  private schedule(topic: Topic): void {
    this.dirty.add(topic);
    this.requestFrame();
  }

  private requestFrame(): void {
    if (this.frame !== null || this.disposed) return;
    const win = this.doc.defaultView;
    this.frame = win ? win.requestAnimationFrame(() => this.flush()) : null;
  }

  // -- drawing ------------------------------------------------------------------------------------

  private renderStatus(): void {
    const t = this.source.traits();
    const busy = t.state === "connecting" || t.state === "connected";
    this.stateLabel.textContent = t.state;
    this.stateLabel.dataset.state = t.state;
    this.root.dataset.state = t.state;
    this.phaseLabel.textContent = t.phase;
    this.connectButton.disabled = busy;
    this.disconnectButton.disabled = !busy;

    this.backendBanner.dataset.backend = t.backend;
    this.backendBanner.textContent = backendText(t);

    this.muteButton.textContent = t.muted ? "Unmute" : "Mute";
    this.muteButton.setAttribute("aria-pressed", String(t.muted));

    const ptt = this.source.pushToTalk;
    this.pttToggle.setAttribute("aria-pressed", String(ptt.enabled));
    this.pttButton.hidden = !ptt.enabled;
    this.pttButton.disabled = !this.source.isOpen;
    this.pttButton.classList.toggle("rtw-held", ptt.pressed);
    this.pttButton.textContent = ptt.pressed ? "Talking…" : "Hold to talk";

    setMessage(this.errorArea, t.error);
    setMessage(this.noticeArea, this.source.notice);
    const tool = this.source.toolStatus;
    setMessage(this.toolLine, tool);
    this.toolLine.dataset.waiting = String(tool !== t.tool_status);
  }

  private renderStats(): void {
    const stats = this.source.lastStats;
    this.statsLabel.textContent = stats ? statsLine(stats as unknown as Record<string, unknown>) : "";
  }

  private renderMicrophones(): void {
    const wanted = this.source.deviceId ?? "";
    const options = [this.h("option", { value: "" }, "System default microphone")];
    let found = wanted === "";
    for (const mic of this.source.microphones) {
      options.push(this.h("option", { value: mic.deviceId }, mic.label));
      found ||= mic.deviceId === wanted;
    }
    if (!found) options.push(this.h("option", { value: wanted }, "Selected microphone (unavailable)"));
    this.micSelect.replaceChildren(...options);
    this.micSelect.value = wanted;
  }

  private renderTranscript(): void {
    const box = this.transcriptBox;
    const stick = atBottom(box);
    const entries = this.source.transcript.list();
    const live = new Set(entries.map((e) => e.key));
    for (const [key, turn] of this.turns) {
      if (!live.has(key)) {
        turn.el.remove();
        this.turns.delete(key);
      }
    }
    // Entries only ever join at the end, so appending keeps the DOM in the transcript's order.
    for (const entry of entries) {
      let turn = this.turns.get(entry.key);
      if (!turn) {
        turn = { el: this.h("div", { class: "rtw-turn", "data-role": entry.role }), revision: -1 };
        this.turns.set(entry.key, turn);
        box.append(turn.el);
      }
      if (turn.revision !== entry.revision) drawTurn(turn.el, entry);
      turn.revision = entry.revision;
    }
    if (stick) box.scrollTop = box.scrollHeight;
  }

  private renderLog(): void {
    const box = this.logBox;
    const stick = atBottom(box);
    const text = this.filterInput.value;
    const filter = parseFilter(text);
    const recent = this.source.recent;
    if (text !== this.renderedFilter) {
      this.renderedFilter = text;
      box.replaceChildren(...recent.latest(filter, LOG_ROWS).map((row) => this.logRow(row)));
    } else {
      const rows = recent.after(this.lastLogSeq, filter, LOG_ROWS);
      if (rows.length >= LOG_ROWS) {
        box.replaceChildren(...rows.map((row) => this.logRow(row))); // a burst: the old rows all go
      } else if (rows.length > 0) {
        const fragment = this.doc.createDocumentFragment();
        for (const row of rows) fragment.append(this.logRow(row));
        box.append(fragment);
        for (let excess = box.childElementCount - LOG_ROWS; excess > 0; excess--) box.firstElementChild?.remove();
      }
    }
    this.lastLogSeq = recent.lastSeq;
    if (stick) box.scrollTop = box.scrollHeight;
  }

  private renderMeters(): void {
    const state = this.source.traits().state;
    const live = state === "connecting" || state === "connected";
    const levels = live ? this.source.levels() : { input: 0, output: 0 };
    this.levelIn.show(levels.input);
    this.levelOut.show(levels.output);
    // Meters animate only while a call is live; otherwise the panel sleeps until something changes.
    if (live || this.levelIn.value > 0 || this.levelOut.value > 0) this.scheduleMeters();
  }

  /**
   * The next meter update, ~15 times a second: redrawing every frame (60/s) cost the page ~0.4 s
   * of CPU per second with a call up (measured in headless Chromium, benchmarks/RESULTS.md),
   * which every other step of the call then waited for on a 2-core machine.
   */
  private scheduleMeters(): void {
    const win = this.doc.defaultView;
    if (this.meterTimer !== null || this.disposed || !win) return;
    this.meterTimer = win.setTimeout(() => {
      this.meterTimer = null;
      this.requestFrame();
    }, METER_INTERVAL_MS);
  }

  private logRow(row: LogRow): HTMLElement {
    return this.h(
      "div",
      { class: "rtw-row", "data-source": row.source },
      this.h("span", { class: "rtw-time" }, clock(row.t)),
      this.h("span", { class: "rtw-src", title: row.source }, SOURCE_MARK[row.source]),
      this.h("span", { class: "rtw-type" }, row.type),
      this.h("span", { class: "rtw-sum" }, row.summary),
    );
  }

  // -- input --------------------------------------------------------------------------------------

  private onKey(event: KeyboardEvent, down: boolean): void {
    if (event.key !== " " || !this.source.pushToTalk.enabled || isTextField(event.target)) return;
    // Ours: keep the notebook from scrolling and a focused button from "clicking" on keyup.
    event.preventDefault();
    event.stopPropagation();
    if (down) {
      if (event.repeat || this.spaceHeld) return;
      this.spaceHeld = true;
      this.source.pressToTalk();
    } else {
      this.releaseSpace();
    }
  }

  private releaseSpace(): void {
    if (!this.spaceHeld) return;
    this.spaceHeld = false;
    this.source.releaseToTalk();
  }

  private listen(target: EventTarget, name: string, handler: (event: Event) => void): void {
    target.addEventListener(name, handler);
    this.cleanups.push(() => target.removeEventListener(name, handler));
  }

  /** Creates an element; children that are strings become text nodes (never HTML). */
  private h<K extends keyof HTMLElementTagNameMap>(
    tag: K,
    attributes: Record<string, string> = {},
    ...children: (Node | string)[]
  ): HTMLElementTagNameMap[K] {
    const element = this.doc.createElement(tag);
    for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
    element.append(...children);
    return element;
  }
}

class Meter {
  readonly el: HTMLElement;
  private readonly fill: HTMLElement;
  value = 0;
  private shown = -1;

  constructor(h: HFn, testId: string, label: string) {
    this.fill = h("span", { class: "rtw-meter-fill" });
    this.el = h(
      "span",
      { class: "rtw-meter", "data-testid": testId, role: "meter", "aria-label": label, "aria-valuemin": "0", "aria-valuemax": "1", "aria-valuenow": "0" },
      this.fill,
    );
  }

  show(level: number): void {
    this.value = decay(this.value, level, METER_DECAY);
    if (this.value < 0.005) this.value = 0;
    const rounded = Math.round(this.value * 100) / 100;
    if (rounded === this.shown) return;
    this.shown = rounded;
    this.fill.style.transform = `scaleX(${rounded})`;
    this.el.setAttribute("aria-valuenow", String(rounded));
  }
}

type HFn = <K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attributes?: Record<string, string>,
  ...children: (Node | string)[]
) => HTMLElementTagNameMap[K];

const SOURCE_MARK: Record<LogRow["source"], string> = { server: "↓", client: "↑", widget: "•" };

function drawTurn(el: HTMLElement, entry: TranscriptEntry): void {
  el.textContent = entry.text;
  el.dataset.status = entry.status;
  el.hidden = entry.text === "" && entry.status !== "failed";
}

function backendText(t: Readonly<PanelTraits>): string {
  const via =
    t.signaling === "relay"
      ? "the kernel relays the offer (no secret in the browser)"
      : "the kernel mints a short-lived client secret";
  switch (t.backend) {
    case "emulator":
      return `Built-in emulator${t.backend_url ? ` at ${t.backend_url}` : ""}: no API key and no language model — it echoes what it hears. Set OPENAI_API_KEY (or pass api_key=) to talk to OpenAI.`;
    case "custom":
      return `Custom endpoint ${t.backend_url || "(no URL)"} · ${via}`;
    default:
      return `OpenAI Realtime API${t.backend_url ? ` (${t.backend_url})` : ""} · ${via}`;
  }
}

function setMessage(el: HTMLElement, text: string): void {
  if (el.textContent !== text) el.textContent = text;
  el.hidden = text === "";
}

function atBottom(el: HTMLElement): boolean {
  return el.scrollHeight - el.scrollTop - el.clientHeight < 24;
}

function isTextField(target: EventTarget | null): boolean {
  if (!target || typeof (target as Element).closest !== "function") return false;
  const el = target as HTMLElement;
  return el.isContentEditable || el.closest("input, textarea, select, [contenteditable]") !== null;
}

function clock(t: number): string {
  const d = new Date(t);
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}
