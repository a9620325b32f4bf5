/**
 * The NVML sampling thread. It owns the koffi library and makes every NVML call synchronously, so a
 * slow or hung driver call blocks this thread and never the agent's event loop; the main thread
 * bounds each request with a timeout (see WorkerNvmlClient).
 */
import { parentPort } from "node:worker_threads";
import { errorMessage } from "../../common/errors.js";
import { loadNvmlLibrary, type NvmlLibrary } from "./nvml-library.js";
import { NvmlReader } from "./nvml-reader.js";
import type { WorkerRequest, WorkerResponse } from "./nvml-worker-protocol.js";

let library: NvmlLibrary | undefined;
let reader: NvmlReader | undefined;

function handle(request: WorkerRequest): WorkerResponse {
  try {
    switch (request.op) {
      case "open": {
        if (reader) throw new Error("nvml: already open");
        const loaded = loadNvmlLibrary(request.library);
        const opened = new NvmlReader(loaded, { maxBackoffMs: request.maxBackoffMs, isGpmEnabled: request.isGpmEnabled });
        try {
          const info = opened.open();
          library = loaded;
          reader = opened;
          return { id: request.id, ok: true, result: info };
        } catch (err) {
          loaded.unload();
          throw err;
        }
      }
      case "sample":
        if (!reader) throw new Error("nvml: not open");
        return { id: request.id, ok: true, result: reader.sample() };
      case "close":
        reader?.close();
        library?.unload();
        reader = undefined;
        library = undefined;
        return { id: request.id, ok: true, result: null };
    }
  } catch (err) {
    return { id: request.id, ok: false, error: errorMessage(err) };
  }
}

parentPort?.on("message", (request: WorkerRequest) => {
  parentPort?.postMessage(handle(request));
});
