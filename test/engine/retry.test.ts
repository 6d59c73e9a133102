/** The retry policy: throttles wait their turn (bounded by time and the run's budget), failures give up after maxAttempts. */
import { describe, expect, it } from "vitest";
import { envValue } from "../../src/config/env.ts";
import { DestinationRequestError } from "../../src/destinations/types.ts";
import { BadInputError } from "../../src/errors.ts";
import { Pacer } from "../../src/engine/pacing.ts";
import { RetryBudget, retrying } from "../../src/engine/retry.ts";

const throttle = (): DestinationRequestError => new DestinationRequestError("HubSpot 429: You have reached your ten_secondly_rolling limit.", { status: 429, code: "RATE_LIMIT", retryable: true });
const serverError = (): DestinationRequestError => new DestinationRequestError("HubSpot 502", { status: 502, code: "SERVER_ERROR", retryable: true });

/** A call that fails with `errors` in order, then answers "ok"; counts its calls. */
function flaky(errors: (() => Error)[]): { call: () => Promise<string>; calls: () => number } {
  let calls = 0;
  return {
    call: () => {
      calls += 1;
      const next = errors[calls - 1];
      return next ? Promise.reject(next()) : Promise.resolve("ok");
    },
    calls: () => calls,
  };
}

const noSleep = { sleep: () => Promise.resolve(), baseDelayMs: 1 };

/** A clock that only `sleep` moves: time-based bounds tested without waiting. */
function fakeClock(): { now: () => number; policy: { now: () => number; sleep: (ms: number) => Promise<void> } } {
  let at = 0;
  const now = (): number => at;
  return { now, policy: { now, sleep: (ms) => ((at += ms), Promise.resolve()) } };
}

describe("retrying", () => {
  it("counts throttles apart from failures: five of each still land (a throttled request was never processed)", async () => {
    const f = flaky([throttle, serverError, throttle, serverError, throttle, serverError, throttle, serverError, throttle, serverError]);
    const counters = { requests: 0, retries: 0 };
    await expect(retrying(f.call, { ...noSleep, maxAttempts: 6 }, counters)).resolves.toBe("ok");
    expect(f.calls()).toBe(11);
    expect(counters).toEqual({ requests: 11, retries: 10 });
  });

  it("gives up after maxAttempts server errors, throttles in between not counted", async () => {
    const f = flaky([serverError, throttle, throttle, serverError, serverError, throttle, serverError, serverError, serverError, serverError]);
    await expect(retrying(f.call, { ...noSleep, maxAttempts: 6 }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "SERVER_ERROR" });
    // The sixth server error is the ninth call.
    expect(f.calls()).toBe(9);
  });

  it("stops a throttle storm at the run's retry budget, as a clean end of the run", async () => {
    const f = flaky(Array.from({ length: 1000 }, () => throttle));
    const budget = new RetryBudget({ maxRetries: 5 });
    await expect(retrying(f.call, { ...noSleep, budget }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "RETRY_BUDGET_SPENT", exhausted: true });
    expect(f.calls()).toBe(6);
  });

  it("bounds a throttle storm by the contract's max_duration: the waits count against it", async () => {
    const clock = fakeClock();
    const f = flaky(Array.from({ length: 1000 }, () => throttle));
    const budget = new RetryBudget({ maxDurationMs: 5_000 });
    await expect(retrying(f.call, { ...clock.policy, baseDelayMs: 1_000, maxDelayMs: 1_000, budget }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "RETRY_BUDGET_SPENT" });
    expect(budget.spent.waitedMs).toBeLessThanOrEqual(5_000);
    expect(clock.now()).toBe(budget.spent.waitedMs);
  });

  it("gives a throttled request up by time, not by count: after maxThrottledMs in which nothing was accepted", async () => {
    const clock = fakeClock();
    const f = flaky(Array.from({ length: 1000 }, () => throttle));
    await expect(retrying(f.call, { ...clock.policy, baseDelayMs: 1_000, maxDelayMs: 1_000, maxThrottledMs: 10_000 }, { requests: 0, retries: 0 })).rejects.toMatchObject({ code: "RATE_LIMIT" });
    // Waits of 0.5 to 1 s: at least ten throttles, the last wait cut to end at the bound, one last try there.
    expect(clock.now()).toBe(10_000);
    expect(f.calls()).toBeGreaterThan(10);
  });

  it("waits on, however many 429s, while the destination still accepts other requests (the storm is progress)", async () => {
    const clock = fakeClock();
    const f = flaky(Array.from({ length: 300 }, () => throttle));
    const policy = { ...clock.policy, baseDelayMs: 1_000, maxDelayMs: 1_000, maxThrottledMs: 10_000, lastAcceptedAt: () => clock.now() - 500 };
    await expect(retrying(f.call, policy, { requests: 0, retries: 0 })).resolves.toBe("ok");
    expect(f.calls()).toBe(301);
    expect(clock.now()).toBeGreaterThan(10_000 * 10);
  });

  it("waits as long as the destination's Retry-After says", async () => {
    const clock = fakeClock();
    const waits: number[] = [];
    const slowDown = (): DestinationRequestError => new DestinationRequestError("429", { status: 429, code: "RATE_LIMIT", retryable: true, retryAfterMs: 7_000 });
    const f = flaky([slowDown, slowDown]);
    const policy = { ...clock.policy, sleep: (ms: number) => (waits.push(ms), clock.policy.sleep(ms)) };
    await expect(retrying(f.call, policy, { requests: 0, retries: 0 })).resolves.toBe("ok");
    expect(waits).toEqual([7_000, 7_000]);
  });

  it("learns a rate from 429s when the destination reports none, and keeps the one it reports", async () => {
    // A long window, so the accepted requests below are all inside it however slow the machine.
    const unreported = new Pacer({ limits: { windowMs: 600_000, concurrency: 4 }, maxPauseMs: 1 });
    expect(unreported.current.requestsPerWindow).toBe(Infinity);
    for (let i = 0; i < 3; i += 1) await unreported.request(() => Promise.resolve(i));
    await expect(unreported.request(() => Promise.reject(throttle()))).rejects.toMatchObject({ code: "RATE_LIMIT" });
    // What the destination accepted in the window is the ceiling now (the next request waits for a token).
    expect(unreported.current.requestsPerWindow).toBe(3);
    expect(unreported.lastAcceptedAt).toBeDefined();

    const reported = new Pacer({ limits: { windowMs: 600_000, concurrency: 4 }, maxPauseMs: 1 });
    reported.observe({ windowMax: 50, windowMs: 600_000 });
    await reported.request(() => Promise.resolve("ok"));
    await expect(reported.request(() => Promise.reject(throttle()))).rejects.toMatchObject({ code: "RATE_LIMIT" });
    expect(reported.current.requestsPerWindow).toBe(50);
  });

  it("does not open the circuit on throttles: the destination answered", async () => {
    const pacer = new Pacer({ limits: { windowMs: 10, requestsPerWindow: 1000, concurrency: 1 }, breaker: { threshold: 3 }, maxPauseMs: 1 });
    for (let i = 0; i < 10; i += 1) await expect(pacer.request(() => Promise.reject(throttle()))).rejects.toMatchObject({ code: "RATE_LIMIT" });
    await expect(pacer.request(() => Promise.resolve("answered"))).resolves.toBe("answered");
    expect(pacer.stats.throttled).toBe(10);
    for (let i = 0; i < 3; i += 1) await expect(pacer.request(() => Promise.reject(serverError()))).rejects.toMatchObject({ code: "SERVER_ERROR" });
    await expect(pacer.request(() => Promise.resolve("answered"))).rejects.toThrow(/consecutive failed requests/);
  });
});

describe("DBT_ACTIVATION_THROTTLE_TIMEOUT_MS", () => {
  it("is a whole number of milliseconds; anything else is bad input naming the variable", () => {
    expect(envValue({}, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS")).toBeUndefined();
    expect(envValue({ DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: "2000" }, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS")).toBe(2000);
    for (const bad of ["soon", "-5", "1.5"]) {
      expect(() => envValue({ DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: bad }, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS")).toThrow(BadInputError);
      expect(() => envValue({ DBT_ACTIVATION_THROTTLE_TIMEOUT_MS: bad }, "DBT_ACTIVATION_THROTTLE_TIMEOUT_MS")).toThrow(/DBT_ACTIVATION_THROTTLE_TIMEOUT_MS/);
    }
  });
});
