/**
 * One rung of the round-cost ladder (footprint-bench.ts): a process that does part of what the
 * agent does for its GPU sampling rounds, every `intervalMs`, so that the marginal CPU of each part
 * can be measured from outside the same way as the agent's. Run as
 * `node round-cost-probe.js <rung> <intervalMs> <library>` with FAKE_NVML_SCENARIO set.
 *
 * The ladder follows the agent's path at sub-second intervals, where the sampling thread times a
 * batch of rounds itself (nvml-worker.ts) and the main thread is woken once a batch:
 *
 * - `sleep`: a sampling thread wakes on its own clock (Atomics.wait with a timeout) every round.
 * - `calls`: and makes a round's NVML calls straight through koffi (the same functions and
 *   arguments, recorded from a batch of the reader's rounds: one slow round and the rest).
 * - `reader`: and instead runs the reader's round (NvmlReader.sample(), the batch's first round slow).
 * - `batch`: and serializes each batch of rounds into the shared buffer and wakes the main thread,
 *   which decodes it — the agent's hand-off, once a batch.
 *
 * Beside it, the path of one main-thread wake per round (the agent's before batches, and still its
 * path at intervals of a second or more):
 *
 * - `timer`: a main-thread timer fires every round; nothing else.
 * - `hop`: and the main thread wakes the sampling thread through the shared-memory hand-off and
 *   waits for its answer (nvml-worker-protocol.ts).
 * - `message`: `hop` done with a MessagePort round trip instead (the hand-off before shared memory).
 *
 * On SIGUSR2 it prints the rounds done so far (one line); it stops on SIGTERM.
 */
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { roundsPerBatch } from "../../agent/collectors/gpu-collector.js";
import { CONTROL_BYTES, PAYLOAD_BYTES, readAnswer, SLOT } from "../../agent/nvml/nvml-worker-protocol.js";

/** The ladder's rungs, cheapest first. */
export const RUNGS = ["sleep", "calls", "reader", "batch"] as const;
/** Every probe: the ladder's rungs and the one-wake-per-round path beside them. */
export const PROBES = [...RUNGS, "timer", "hop", "message"] as const;
export type Rung = (typeof PROBES)[number];

/** Int32 slot of the control block where a thread-timed probe counts its rounds. */
const ROUNDS_SLOT = 7;

/**
 * The sampling thread of the probe. Thread-timed rungs sleep in Atomics.wait until the next round
 * is due and count rounds in the control block; the `hop` rung waits for the main thread's request.
 */
const THREAD_SOURCE = `
const { workerData } = require("node:worker_threads");
const control = new Int32Array(workerData.control);
const payload = Buffer.from(workerData.payload);
const clock = new Int32Array(new SharedArrayBuffer(4));
(async () => {
  const { rung, intervalMs, batch } = workerData;
  if (rung === "hop") {
    let seen = 0;
    for (;;) {
      Atomics.wait(control, ${SLOT.request}, seen);
      seen = Atomics.load(control, ${SLOT.request});
      Atomics.store(control, ${SLOT.done}, seen);
      Atomics.notify(control, ${SLOT.done});
    }
  }
  let round = () => undefined;
  let writeAnswer;
  let STATUS;
  if (rung !== "sleep") {
    const { loadNvmlLibrary } = await import(workerData.modules.library);
    const { NvmlReader } = await import(workerData.modules.reader);
    ({ writeAnswer, STATUS } = await import(workerData.modules.protocol));
    const { recordingLibrary } = await import(workerData.modules.recorder);
    const recorder = recordingLibrary(loadNvmlLibrary(workerData.library));
    const reader = new NvmlReader(recorder.lib, { maxBackoffMs: 60000 });
    reader.open();
    for (let i = 0; i < 50; i++) reader.sample({ isSlowRound: i % batch === 0 });
    const recorded = [];
    for (let i = 0; i < batch; i++) {
      Atomics.wait(clock, 0, 0, 100);
      const from = recorder.calls.length;
      recorder.setRecording(true);
      reader.sample({ isSlowRound: i === 0 });
      recorder.setRecording(false);
      recorded.push(recorder.calls.slice(from));
    }
    let k = 0;
    round = rung === "calls"
      ? () => { for (const [native, args] of recorded[k++ % batch]) native(...args); }
      : () => reader.sample({ isSlowRound: k++ % batch === 0 });
  }
  let rounds = [];
  const startedAt = performance.now();
  for (let n = 0; ; n++) {
    const dueAt = startedAt + n * intervalMs;
    for (let left = dueAt - performance.now(); left > 0; left = dueAt - performance.now()) Atomics.wait(clock, 0, 0, left);
    const raw = round();
    if (rung === "batch") {
      rounds.push(raw);
      if (rounds.length === batch) {
        writeAnswer(control, payload, STATUS.ok, rounds);
        rounds = [];
        Atomics.add(control, ${SLOT.done}, 1);
        Atomics.notify(control, ${SLOT.done});
      }
    }
    Atomics.add(control, ${ROUNDS_SLOT}, 1);
  }
})();`;

function isRung(value: string | undefined): value is Rung {
  return PROBES.some((rung) => rung === value);
}

/** The sampling thread of the `message` probe: answers every message with the same message. */
const ECHO_SOURCE = `const { parentPort } = require("node:worker_threads"); parentPort.on("message", (m) => parentPort.postMessage(m));`;

/** `Atomics.waitAsync` (ES2024), typed here because the project's lib is ES2023. */
const waitAsync: (array: Int32Array, index: number, value: number) => { async: boolean; value: unknown } = Reflect.get(
  Atomics,
  "waitAsync",
);

async function main(): Promise<void> {
  const [rungArg, intervalArg, library = ""] = process.argv.slice(2);
  if (!isRung(rungArg)) throw new Error(`rung must be one of ${PROBES.join(", ")}`);
  const rung = rungArg;
  const intervalMs = Number(intervalArg);
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_BYTES));
  const payload = Buffer.from(new SharedArrayBuffer(PAYLOAD_BYTES));
  const modules = {
    library: new URL("../../agent/nvml/nvml-library.js", import.meta.url).href,
    reader: new URL("../../agent/nvml/nvml-reader.js", import.meta.url).href,
    protocol: new URL("../../agent/nvml/nvml-worker-protocol.js", import.meta.url).href,
    recorder: new URL("./call-recorder.js", import.meta.url).href,
  };
  const isThreadTimed = RUNGS.some((r) => r === rung);
  const echo = rung === "message" ? new Worker(ECHO_SOURCE, { eval: true }) : undefined;
  if (rung !== "timer" && rung !== "message") {
    // Kept referenced: a pending Atomics.waitAsync alone does not keep the event loop alive.
    new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: {
        control: control.buffer,
        payload: payload.buffer,
        rung,
        intervalMs,
        batch: roundsPerBatch(intervalMs),
        library,
        modules,
      },
      resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 32 },
    });
  }
  let rounds = 0;
  let kept: unknown;
  if (rung === "batch") {
    // The main thread's side of a batch: woken once a batch, it decodes the rounds.
    const take = async (): Promise<void> => {
      for (;;) {
        const waited = waitAsync(control, SLOT.done, Atomics.load(control, SLOT.done));
        if (waited.async) await waited.value;
        kept = readAnswer(control, payload).body;
      }
    };
    void take();
  } else if (!isThreadTimed) {
    let seq = 0;
    const round = async (): Promise<void> => {
      if (echo) {
        await new Promise((resolve) => {
          echo.once("message", resolve);
          echo.postMessage({ id: ++seq, op: "sample" });
        });
      } else if (rung === "hop") {
        const before = Atomics.load(control, SLOT.done);
        Atomics.store(control, SLOT.request, ++seq);
        Atomics.notify(control, SLOT.request);
        const waited = waitAsync(control, SLOT.done, before);
        if (waited.async) await waited.value;
      }
      rounds++;
      setTimeout(() => void round(), intervalMs);
    };
    setTimeout(() => void round(), intervalMs);
  }
  const count = () => (isThreadTimed ? Atomics.load(control, ROUNDS_SLOT) : rounds);
  process.on("SIGUSR2", () => process.stdout.write(`${count()}\n`));
  process.on("SIGTERM", () => process.exit(kept === null ? 1 : 0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
