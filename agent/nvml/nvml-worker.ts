/**
 * The NVML sampling thread. It owns the koffi library and makes every NVML call synchronously, so a
 * slow or hung driver call blocks this thread and never the agent's event loop; the main thread
 * bounds each request with a timeout (see WorkerNvmlClient). It runs no event loop: it sleeps in
 * Atomics.wait until the main thread stores a request into the shared control block, answers in
 * the shared payload buffer, and notifies (nvml-worker-protocol.ts). A batch of rounds is timed here,
 * between rounds it sleeps in Atomics.wait on the cancel slot. It ends after `close`.
 */
import { workerData } from "node:worker_threads";
import { errorMessage } from "../../common/errors.js";
import { loadNvmlLibrary, type NvmlLibrary } from "./nvml-library.js";
import { NvmlReader } from "./nvml-reader.js";
import type { NvmlSampleRaw } from "./types.js";
import {
  isSamplingThreadInit,
  OP,
  SLOT,
  STATUS,
  writeAnswer,
  type SamplingThreadInit,
} from "./nvml-worker-protocol.js";

let library: NvmlLibrary | undefined;
let reader: NvmlReader | undefined;

/**
 * `count` rounds, each starting `intervalMs` after the one before on this thread's clock; a non-zero
 * cancel slot ends the batch before its next round. The first round is taken at once and is the
 * batch's slow round (the slow field groups are read once a batch, nvml-reader.ts).
 */
function sampleRounds(open: NvmlReader, control: Int32Array): NvmlSampleRaw[] {
  const count = Math.max(1, Atomics.load(control, SLOT.count));
  const intervalMs = Math.max(0, Atomics.load(control, SLOT.interval));
  const startedAt = performance.now();
  const rounds: NvmlSampleRaw[] = [];
  for (let k = 0; k < count; k++) {
    const dueAt = startedAt + k * intervalMs;
    for (let left = dueAt - performance.now(); left > 0; left = dueAt - performance.now()) {
      if (Atomics.load(control, SLOT.cancel) !== 0) return rounds;
      Atomics.wait(control, SLOT.cancel, 0, left);
    }
    if (Atomics.load(control, SLOT.cancel) !== 0) return rounds;
    rounds.push(open.sample({ isSlowRound: k === 0 }));
  }
  return rounds;
}

/** Runs one op; the answer body, or throws. */
function run(op: number, init: SamplingThreadInit, control: Int32Array): unknown {
  switch (op) {
    case OP.open: {
      if (reader) throw new Error("nvml: already open");
      const loaded = loadNvmlLibrary(init.library);
      const opened = new NvmlReader(loaded, { maxBackoffMs: init.maxBackoffMs, isGpmEnabled: init.isGpmEnabled });
      try {
        const info = opened.open();
        library = loaded;
        reader = opened;
        return info;
      } catch (err) {
        loaded.unload();
        throw err;
      }
    }
    case OP.sample:
      if (!reader) throw new Error("nvml: not open");
      return reader.sample();
    case OP.sampleRounds:
      if (!reader) throw new Error("nvml: not open");
      return sampleRounds(reader, control);
    case OP.close:
      reader?.close();
      library?.unload();
      reader = undefined;
      library = undefined;
      return null;
    default:
      throw new Error(`nvml: unknown op ${op}`);
  }
}

function serve(init: SamplingThreadInit): void {
  const control = new Int32Array(init.control);
  const payload = Buffer.from(init.payload);
  // Requests count from 1; one stored before this thread got here is served at once.
  let seen = 0;
  for (;;) {
    Atomics.wait(control, SLOT.request, seen);
    const seq = Atomics.load(control, SLOT.request);
    if (seq === seen) continue;
    seen = seq;
    const op = Atomics.load(control, SLOT.op);
    try {
      writeAnswer(control, payload, STATUS.ok, run(op, init, control));
    } catch (err) {
      writeAnswer(control, payload, STATUS.error, errorMessage(err));
    }
    Atomics.store(control, SLOT.done, seq);
    Atomics.notify(control, SLOT.done);
    if (op === OP.close) return;
  }
}

if (isSamplingThreadInit(workerData)) serve(workerData);
