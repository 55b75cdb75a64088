// @vitest-environment happy-dom
import { afterEach, describe, expect, it, vi } from "vitest";
import widget from "../src/widget";
import { FakeModel, FakePeerConnection, modelProxy } from "./fakes";

const INIT = Symbol("initialize");

/** A kernel that has not answered yet (say, minting takes a while). */
function experimental() {
  return { invoke: vi.fn(() => new Promise(() => {})) } as never;
}

afterEach(() => vi.unstubAllGlobals());

describe("anywidget module", () => {
  it("finds the model's one controller from every view, though each gets a different proxy", async () => {
    // A microphone prompt the user has not answered yet: the call stays "connecting" (its offer
    // is made meanwhile, on a peer connection happy-dom lacks).
    vi.stubGlobal("RTCPeerConnection", FakePeerConnection);
    Object.defineProperty(navigator, "mediaDevices", {
      configurable: true,
      value: { getUserMedia: () => new Promise(() => {}), enumerateDevices: async () => [] },
    });
    const model = new FakeModel();
    const cleanup = (await widget.initialize({ model: modelProxy(model, INIT), experimental: experimental(), signal: new AbortController().signal })) as () => void;
    expect(model.sent).toEqual([{ kind: "rt:hello" }]);

    const viewA = document.createElement("div");
    const viewB = document.createElement("div");
    const renderArgs = (el: HTMLElement, ctx: unknown) =>
      ({ model: modelProxy(model, ctx), el, experimental: experimental(), signal: new AbortController().signal, host: {} }) as never;
    const disposeA = (await widget.render(renderArgs(viewA, "viewA"))) as () => void;
    const disposeB = (await widget.render(renderArgs(viewB, "viewB"))) as () => void;
    expect(viewA.querySelector('[data-testid="connect"]')).not.toBeNull();
    expect(viewB.querySelector('[data-testid="connect"]')).not.toBeNull();

    // The kernel starts a call: both views show it.
    model.fromKernel({ kind: "rt:connect" });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(viewA.querySelector('[data-testid="state"]')!.textContent).toBe("connecting");
    expect(viewB.querySelector('[data-testid="state"]')!.textContent).toBe(viewA.querySelector('[data-testid="state"]')!.textContent);

    // Removing a view does not hang up; the model's cleanup does.
    disposeA();
    expect(model.get("state")).toBe("connecting");
    cleanup();
    expect(model.get("state")).toBe("closed");
    // Every view's timers (the meters') go with it: none may fire after the test's DOM is gone.
    disposeB();
  });

  it("an empty set({}) changes nothing on the model", () => {
    const model = new FakeModel();
    const proxy = modelProxy(model, INIT);
    const before = { ...model.attributes };
    expect((proxy.set as unknown as (a: object) => unknown)({})).toBe(model);
    expect(model.attributes).toEqual(before);
  });
});
