import pino from "pino";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { silentLogger } from "../../common/log.js";
import { roundsPerBatch } from "../../agent/collectors/gpu-collector.js";
import { roundsPerPeriod, Sampler, type RoundConsumer, type RoundSink } from "../../agent/sampler.js";

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

/** A collector whose nth run yields the sample n. */
function counting(intervalMs: number, consumers: RoundConsumer[]) {
  let runs = 0;
  return {
    name: "gpu",
    intervalMs,
    consumers,
    run: async () => ({ samples: [++runs], errors: [] }),
  };
}

/** A consumer recording the sample of each round it is handed. */
function recorder(every: number): RoundConsumer & { readonly taken: unknown[] } {
  const taken: unknown[] = [];
  return { every, taken, consume: (result) => void taken.push(result.samples[0]) };
}

describe("Sampler round hand-off", () => {
  it.each([
    ["every round when N = 1", 1, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
    ["the first round and then every tenth when N = 10", 10, [1]],
    ["rounds 1, 4, 7 and 10 when N = 3", 3, [1, 4, 7, 10]],
  ])("hands over %s, each once", async (_name, every, expected) => {
    const consumer = recorder(every);
    const sampler = new Sampler([counting(100, [consumer])], silentLogger());
    await sampler.start();
    await vi.advanceTimersByTimeAsync(950); // runs at 0, 100, …, 900 ms: ten rounds
    await sampler.shutdown();
    expect(sampler.stats()[0]?.runs).toBe(10);
    expect(consumer.taken).toEqual(expected);
  });

  it("hands over every tenth round over 100 rounds: 10 hand-offs, the step exactly ten rounds", async () => {
    const consumer = recorder(10);
    const sampler = new Sampler([counting(100, [consumer])], silentLogger());
    await sampler.start();
    await vi.advanceTimersByTimeAsync(9_950);
    await sampler.shutdown();
    expect(sampler.stats()[0]?.runs).toBe(100);
    expect(consumer.taken).toEqual([1, 11, 21, 31, 41, 51, 61, 71, 81, 91]);
  });

  it("a consumer added after construction is handed rounds; one that throws is logged and stops nothing", async () => {
    const consumers: RoundConsumer[] = [];
    const lines: string[] = [];
    const log = pino({ level: "info" }, { write: (line: string) => void lines.push(line) });
    const sampler = new Sampler([counting(100, consumers)], log);
    const consumer = recorder(1);
    consumers.push(
      {
        every: 1,
        consume: () => {
          throw new Error("disk gone");
        },
      },
      consumer,
    );
    await sampler.start();
    await vi.advanceTimersByTimeAsync(250);
    await sampler.shutdown();
    expect(consumer.taken).toEqual([1, 2, 3]);
    expect(lines.filter((line) => line.includes("round consumer failed") && line.includes("disk gone"))).toHaveLength(
      3,
    );
    expect(lines.some((line) => line.includes("sampling stopped") && line.includes('"gpu":3'))).toBe(true);
  });
});

describe("Sampler batches of rounds", () => {
  /** A collector that takes `rounds` rounds per run, `intervalMs` apart on fake time; the nth round yields n. */
  function batching(intervalMs: number, rounds: number, consumers: RoundConsumer[]) {
    let taken = 0;
    const startedAt: number[] = [];
    return {
      startedAt,
      collector: {
        name: "gpu",
        intervalMs,
        consumers,
        run: async () => ({ samples: [++taken], errors: [] }),
        batch: {
          rounds,
          async run(onRound: RoundSink) {
            startedAt.push(Date.now());
            for (let i = 0; i < rounds; i++) {
              if (i > 0) await new Promise((resolve) => setTimeout(resolve, intervalMs));
              taken++;
              onRound({ samples: [taken], errors: [] }, 1, 1_000_000 + taken);
            }
          },
        },
      },
    };
  }

  it("takes the first round alone, then counts every round of a batch, hands every Nth round across batches, and starts a batch every rounds × interval", async () => {
    const consumer = recorder(3);
    const { collector, startedAt } = batching(100, 10, [consumer]);
    const sampler = new Sampler([collector], silentLogger());
    const t0 = Date.now();
    await sampler.start();
    await vi.advanceTimersByTimeAsync(3_050);
    await sampler.shutdown();
    // The first round alone (the agent is ready one interval in), then a batch every second.
    expect(startedAt.map((at) => at - t0)).toEqual([100, 1_100, 2_100]);
    expect(sampler.stats()[0]?.runs).toBe(1 + 30);
    // The sample time is the last round's own, not when its batch was taken in.
    expect(sampler.stats()[0]?.lastSampleAtMs).toBe(1_000_031);
    expect(consumer.taken).toEqual([1, 4, 7, 10, 13, 16, 19, 22, 25, 28, 31]);
  });

  it("a batch of one round runs the collector's run() as before", async () => {
    const consumer = recorder(1);
    const { collector, startedAt } = batching(100, 1, [consumer]);
    const sampler = new Sampler([collector], silentLogger());
    await sampler.start();
    await vi.advanceTimersByTimeAsync(250);
    await sampler.shutdown();
    expect(startedAt).toEqual([]);
    expect(consumer.taken).toEqual([1, 2, 3]);
  });
});

describe("roundsPerBatch", () => {
  it.each([
    [100, 10],
    [200, 5],
    [300, 3],
    [50, 20],
    [1_000, 1],
    [15_000, 1],
  ])("at %i ms between rounds: %i rounds a batch", (intervalMs, rounds) => {
    expect(roundsPerBatch(intervalMs)).toBe(rounds);
  });
});

describe("roundsPerPeriod", () => {
  it.each([
    ["the default 10 s flush at 1 s sampling", 10_000, 1_000, 10],
    ["a flush equal to the interval", 1_000, 1_000, 1],
    ["a flush shorter than the interval is every round", 200, 1_000, 1],
    ["a period that is not a multiple rounds to the nearest", 2_500, 1_000, 3],
  ])("%s: %s ms over %s ms is %s rounds", (_name, period, interval, rounds) => {
    expect(roundsPerPeriod(period, interval)).toBe(rounds);
  });
});
