// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import type { Invoke } from "../src/commands";
import { RealtimeController } from "../src/controller";
import type { Model } from "../src/model";
import { renderPanel } from "../src/panel";
import { FakeCall, FakeModel } from "./fakes";

const XSS = '<img src=x onerror="window.__pwned=1">';

/** Every panel a test rendered, disposed after it. */
const mounted: ReturnType<typeof renderPanel>[] = [];

function setup(traits: ConstructorParameters<typeof FakeModel>[0] = {}) {
  const model = new FakeModel(traits);
  const calls: FakeCall[] = [];
  const controller = new RealtimeController({
    model: model as unknown as Model,
    invoke: (async () => [{ ok: true }, []]) as unknown as Invoke,
    createCall: (options) => {
      calls.push(new FakeCall(options));
      return calls.at(-1)!;
    },
  });
  const el = document.createElement("div");
  document.body.append(el);
  const panel = renderPanel(el, controller);
  mounted.push(panel);
  const q = (id: string) => el.querySelector(`[data-testid="${id}"]`) as HTMLElement;
  /** A server event arriving on the (fake) call's data channel. */
  const receive = (event: Record<string, unknown>) => {
    if (!calls.at(-1) || calls.at(-1)!.isFinished) {
      controller.connect("click");
      calls.at(-1)!.open();
    }
    calls.at(-1)!.options.hooks.serverEvent(event as never, Date.now());
  };
  return { model, controller, el, panel, q, receive };
}

afterEach(() => {
  // Disposing stops each panel's meter timer, which must not fire after the test's DOM is gone.
  for (const panel of mounted.splice(0)) panel.dispose();
  document.body.replaceChildren();
});

describe("panel", () => {
  it("has every control the end-to-end tests look for", () => {
    const { q } = setup();
    for (const id of [
      "connect", "disconnect", "state", "phase", "backend", "mute", "ptt-toggle", "ptt", "mic-select",
      "transcript", "event-log", "event-filter", "text-input", "send-text", "error", "level-in", "level-out",
    ]) {
      expect(q(id), id).not.toBeNull();
    }
    expect(q("state").textContent).toBe("idle");
    expect((q("connect") as HTMLButtonElement).disabled).toBe(false);
    expect((q("disconnect") as HTMLButtonElement).disabled).toBe(true);
  });

  it("renders network text as text, never HTML", () => {
    const { receive, panel, q, el } = setup();
    receive({ type: "response.output_audio_transcript.delta", item_id: "a1", delta: XSS });
    receive({
      type: "conversation.item.added",
      item: { id: "u1", type: "message", role: "user", content: [{ type: "input_text", text: XSS }] },
    });
    receive({ type: "error", error: { message: XSS } });
    receive({ type: XSS });
    panel.flush();
    expect(el.querySelector("img")).toBeNull();
    const turns = q("transcript").querySelectorAll("[data-role]");
    expect([...turns].map((t) => [t.getAttribute("data-role"), t.textContent])).toEqual([
      ["assistant", XSS],
      ["user", XSS],
    ]);
    expect(q("error").textContent).toBe(`The service reported: ${XSS}`);
    expect(q("event-log").textContent).toContain(XSS);
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
  });

  it("says plainly when it runs on the built-in emulator", () => {
    const { q, model, panel } = setup({ backend: "emulator", backend_url: "http://127.0.0.1:8123/v1" });
    expect(q("backend").textContent).toMatch(/emulator.*no API key.*no language model.*echoes/);
    model.set({ backend: "openai", backend_url: "https://api.openai.com/v1", signaling: "relay" });
    panel.flush();
    expect(q("backend").textContent).toMatch(/OpenAI Realtime API/);
    expect(q("backend").textContent).toMatch(/relays/);
  });

  it("follows the state trait and the call's phase, and toggles mute through the model", () => {
    const { q, model, panel, controller } = setup();
    controller.connect("click");
    panel.flush();
    expect(q("phase").textContent).toBe("start");
    model.set({ state: "connected" });
    panel.flush();
    expect(q("state").textContent).toBe("connected");
    expect((q("connect") as HTMLButtonElement).disabled).toBe(true);
    (q("mute") as HTMLButtonElement).click();
    expect(model.get("muted")).toBe(true);
    panel.flush();
    expect(q("mute").getAttribute("aria-pressed")).toBe("true");
  });

  it("keeps at most 200 log rows, newest last, and filters by type", () => {
    const { receive, panel, q } = setup();
    for (let i = 0; i < 1000; i++) receive({ type: i % 2 ? "response.output_text.delta" : "response.done", event_id: `e${i}` });
    panel.flush();
    const log = q("event-log");
    expect(log.children.length).toBe(200);
    expect(log.lastElementChild!.textContent).toContain("response.output_text.delta");
    const filter = q("event-filter") as HTMLInputElement;
    filter.value = "-delta";
    filter.dispatchEvent(new Event("input"));
    panel.flush();
    expect([...log.children].every((row) => row.textContent!.includes("response.done"))).toBe(true);
    expect(log.children.length).toBe(200);
    // New rows append under the filter.
    receive({ type: "session.updated" });
    receive({ type: "response.output_text.delta" });
    panel.flush();
    expect(log.lastElementChild!.textContent).toContain("session.updated");
    expect(log.children.length).toBe(200);
  });

  it("draws on an animation frame, not per event", async () => {
    const { receive, q } = setup();
    const raf = vi.spyOn(window, "requestAnimationFrame");
    for (let i = 0; i < 500; i++) receive({ type: "response.output_text.delta", item_id: "a", delta: "x" });
    expect(raf.mock.calls.length).toBeLessThanOrEqual(1);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(q("transcript").textContent).toBe("x".repeat(500));
  });

  it("push-to-talk: the space bar works only with focus in the widget and not while typing", () => {
    const { controller, q, el } = setup();
    const press = vi.spyOn(controller, "pressToTalk");
    const release = vi.spyOn(controller, "releaseToTalk");
    const key = (target: Element, type: string, repeat = false) =>
      target.dispatchEvent(new KeyboardEvent(type, { key: " ", bubbles: true, cancelable: true, repeat }));

    key(el.querySelector(".rtw")!, "keydown");
    expect(press).not.toHaveBeenCalled(); // push-to-talk is off

    (q("ptt-toggle") as HTMLButtonElement).click();
    expect(controller.pushToTalk.enabled).toBe(true);
    key(q("text-input"), "keydown");
    expect(press).not.toHaveBeenCalled(); // typing a space in the message box

    key(q("ptt-toggle"), "keydown");
    key(q("ptt-toggle"), "keydown", true);
    expect(press).toHaveBeenCalledTimes(1);
    key(q("ptt-toggle"), "keyup");
    expect(release).toHaveBeenCalledTimes(1);
  });

  it("two panels on one controller, and disposing one leaves the other working", () => {
    const { controller, receive, panel, el } = setup();
    const other = document.createElement("div");
    const second = renderPanel(other, controller);
    mounted.push(second);
    panel.dispose();
    expect(el.children.length).toBe(0);
    receive({ type: "response.output_text.delta", item_id: "a", delta: "still here" });
    second.flush();
    expect(other.querySelector('[data-testid="transcript"]')!.textContent).toBe("still here");
  });
});
