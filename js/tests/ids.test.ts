import { describe, expect, it } from "vitest";
import { randomId, withEventId } from "../src/ids";

describe("withEventId", () => {
  it("stamps an evt_ id on an event that has none, without touching the original", () => {
    const event = { type: "response.create" };
    const stamped = withEventId(event);
    expect(stamped.event_id).toMatch(/^evt_[0-9A-Za-z]{20}$/);
    expect(stamped.type).toBe("response.create");
    expect(event).toEqual({ type: "response.create" });
  });

  it("keeps an existing id", () => {
    const event = { type: "response.create", event_id: "mine" };
    expect(withEventId(event)).toBe(event);
  });

  it("replaces an empty id", () => {
    expect(withEventId({ type: "x", event_id: "" }).event_id).toMatch(/^evt_/);
  });

  it("makes distinct ids", () => {
    const ids = new Set(Array.from({ length: 10_000 }, () => randomId("evt_")));
    expect(ids.size).toBe(10_000);
  });
});
