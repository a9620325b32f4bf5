/**
 * One rung of the round-cost ladder (footprint-bench.ts): a process that does part of what the
 * agent does for one GPU sampling round, every `intervalMs`, so that the marginal CPU of each part
 * can be measured from outside the same way as the agent's. Run as
 * `node round-cost-probe.js <rung> <intervalMs> <library>` with FAKE_NVML_SCENARIO set:
 *
 * - `timer`: a timer fires; nothing else.
 * - `hop`: and the main thread wakes a sampling thread through the agent's shared-memory hand-off
 *   (nvml-worker-protocol.ts) and waits for its answer.
 * - `calls`: and the sampling thread makes one round's NVML calls straight through koffi (the
 *   same functions and arguments, recorded from a round of the reader).
 * - `reader`: and instead the sampling thread runs the reader's round (NvmlReader.sample()) and
 *   writes it as the hand-off's serialized answer.
 * - `convert`: and the main thread decodes the answer and converts it (toGpuSamples).
 * - `message`: beside the ladder, `hop` done with a MessagePort round trip (postMessage both ways,
 *   as the hand-off was before it moved to shared memory), for comparison.
 *
 * On SIGUSR2 it prints the rounds done so far (one line); it stops on SIGTERM.
 */
import { pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import { noAttribution } from "../../agent/collectors/gpu-collector.js";
import { toGpuSamples } from "../../agent/collectors/gpu-sample.js";
import { CONTROL_BYTES, PAYLOAD_BYTES, readAnswer, SLOT } from "../../agent/nvml/nvml-worker-protocol.js";
import type { NvmlSampleRaw } from "../../agent/nvml/types.js";

/** The rungs, cheapest first. */
export const RUNGS = ["timer", "hop", "calls", "reader", "convert"] as const;
/** Every probe: the ladder's rungs and the message-passing hop beside them. */
export const PROBES = [...RUNGS, "message"] as const;
export type Rung = (typeof PROBES)[number];

/** The sampling thread of the probe: blocks in Atomics.wait like the agent's and does its rung's work. */
const THREAD_SOURCE = `
const { workerData } = require("node:worker_threads");
const control = new Int32Array(workerData.control);
const payload = Buffer.from(workerData.payload);
(async () => {
  let work = () => undefined;
  if (workerData.rung !== "hop") {
    const { loadNvmlLibrary } = await import(workerData.modules.library);
    const { NvmlReader } = await import(workerData.modules.reader);
    const { writeAnswer, STATUS } = await import(workerData.modules.protocol);
    const lib = loadNvmlLibrary(workerData.library);
    const recorded = [];
    let isRecording = false;
    const fn = {};
    for (const [name, native] of Object.entries(lib.fn)) fn[name] = (...args) => { if (isRecording) recorded.push([native, args]); return native(...args); };
    const reader = new NvmlReader({ ...lib, fn }, { maxBackoffMs: 60000 });
    reader.open();
    for (let i = 0; i < 50; i++) reader.sample();
    isRecording = true;
    reader.sample();
    isRecording = false;
    work = workerData.rung === "calls"
      ? () => { for (const [native, args] of recorded) native(...args); }
      : () => writeAnswer(control, payload, STATUS.ok, reader.sample());
  }
  let seen = 0;
  for (;;) {
    Atomics.wait(control, ${SLOT.request}, seen);
    seen = Atomics.load(control, ${SLOT.request});
    work();
    Atomics.store(control, ${SLOT.done}, seen);
    Atomics.notify(control, ${SLOT.done});
  }
})();`;

function isRung(value: string | undefined): value is Rung {
  return PROBES.some((rung) => rung === value);
}

/** The sampling thread of the `message` probe: answers every message with the same message. */
const ECHO_SOURCE = `const { parentPort } = require("node:worker_threads"); parentPort.on("message", (m) => parentPort.postMessage(m));`;

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
  };
  const echo = rung === "message" ? new Worker(ECHO_SOURCE, { eval: true }) : undefined;
  if (rung !== "timer" && rung !== "message") {
    // Kept referenced: a pending Atomics.waitAsync alone does not keep the event loop alive.
    new Worker(THREAD_SOURCE, {
      eval: true,
      workerData: { control: control.buffer, payload: payload.buffer, rung, library, modules },
    });
  }
  let seq = 0;
  let rounds = 0;
  let kept: unknown;
  const round = async (): Promise<void> => {
    if (echo) {
      await new Promise((resolve) => {
        echo.once("message", resolve);
        echo.postMessage({ id: ++seq, op: "sample" });
      });
    } else if (rung !== "timer") {
      const before = Atomics.load(control, SLOT.done);
      Atomics.store(control, SLOT.request, ++seq);
      Atomics.notify(control, SLOT.request);
      const waitAsync: (array: Int32Array, index: number, value: number) => { async: boolean; value: unknown } =
        Reflect.get(Atomics, "waitAsync");
      const waited = waitAsync(control, SLOT.done, before);
      if (waited.async) await waited.value;
      if (rung === "convert") {
        const { body } = readAnswer(control, payload);
        // The body is the reader's round the probe's own thread just wrote.
        kept = toGpuSamples(body as NvmlSampleRaw, noAttribution(), () => undefined);
      }
    }
    rounds++;
    setTimeout(() => void round(), intervalMs);
  };
  setTimeout(() => void round(), intervalMs);
  process.on("SIGUSR2", () => process.stdout.write(`${rounds}\n`));
  process.on("SIGTERM", () => process.exit(kept === null ? 1 : 0));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
