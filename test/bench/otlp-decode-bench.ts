/**
 * Throughput of the OTLP trace decoders on a batch of 512 vLLM-shaped spans (12 attributes each,
 * one of them a 2 KB prompt that the allow-list filters out), encoded once by the official
 * @opentelemetry/otlp-transformer serializers.
 *
 * The floor is protobufjs decoding the same bytes with the code it generated from opentelemetry-proto,
 * as shipped in @opentelemetry/otlp-transformer (build/src/generated/root.js, the module its own
 * ProtobufTraceSerializer encodes with). It materialises every field, prompt included; ours must not.
 *
 * Run: `npx tsc -p tsconfig.json && node dist/test/bench/otlp-decode-bench.js`.
 */
import { cpus, loadavg } from "node:os";
import { pathToFileURL } from "node:url";
import { setImmediate as yieldToLoop } from "node:timers/promises";
import { decodeOtlpJson } from "../../agent/receivers/otlp-json-decoder.js";
import type { DecodedTraces } from "../../agent/receivers/otlp-model.js";
import { decodeOtlpProtobuf } from "../../agent/receivers/otlp-protobuf-decoder.js";
import {
  VLLM_ALLOWED_KEYS,
  generatedOtlpRoot,
  toJsonText,
  toProtobuf,
  vllmBatch,
} from "../agent/receivers/otlp-fixtures.js";

const BATCH_SPANS = 512;
const PROMPT_BYTES = 2048;

function loadFloorDecoder(): (bytes: Uint8Array) => unknown {
  const type = generatedOtlpRoot().opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest;
  return (bytes) => type.decode(bytes);
}

export interface BenchOptions {
  /** Timed runs per decoder; the median is reported. */
  readonly runs?: number;
  /** Length of each timed run, and of each decoder's warm-up, in milliseconds. */
  readonly runMs?: number;
}

/**
 * Spans per second of each decoder on a batch of `spans`: after one warm-up run each, `runs` rounds
 * that time every decoder once (rotating the order, so load drifting on a shared machine hits all of
 * them alike); the median round of each is reported.
 */
async function measure(
  decoders: readonly (() => unknown)[],
  spans: number,
  runs: number,
  runMs: number,
): Promise<number[]> {
  let sink = 0;
  const run = (decode: () => unknown): number => {
    let batches = 0;
    const start = performance.now();
    let elapsed: number;
    do {
      for (let i = 0; i < 4; i++) sink += decode() === undefined ? 0 : 1;
      batches += 4;
      elapsed = performance.now() - start;
    } while (elapsed < runMs);
    return (batches * spans * 1000) / elapsed;
  };
  for (const decode of decoders) run(decode);
  const rates = decoders.map((): number[] => []);
  for (let round = 0; round < runs; round++) {
    for (let k = 0; k < decoders.length; k++) {
      const which = (round + k) % decoders.length;
      await yieldToLoop();
      rates[which]?.push(run(decoders[which] ?? (() => undefined)));
    }
  }
  if (sink === 0) throw new Error("decoders returned nothing");
  return rates.map((list) => {
    list.sort((a, b) => a - b);
    return list[Math.floor(list.length / 2)] ?? 0;
  });
}

function spanCount(traces: DecodedTraces): number {
  return traces.resourceSpans.reduce((sum, resource) => sum + resource.spans.length, 0);
}

const format = (rate: number): string => `${Math.round(rate).toLocaleString("en-US")} spans/s`;

/** Measures the protobuf decoder against the protobufjs floor, and the JSON decoder against JSON.parse. */
export async function benchOtlpDecode(
  options: BenchOptions = {},
): Promise<{ rows: { name: string; value: string }[] }> {
  const runs = options.runs ?? 7;
  const runMs = options.runMs ?? 1000;
  const batch = vllmBatch(BATCH_SPANS, PROMPT_BYTES);
  const protobuf = toProtobuf(batch);
  const json = toJsonText(batch);
  const filter = (key: string): boolean => VLLM_ALLOWED_KEYS.has(key);
  const floorDecode = loadFloorDecoder();

  for (const decoded of [decodeOtlpProtobuf(protobuf, filter), decodeOtlpJson(json, filter)]) {
    if (spanCount(decoded) !== BATCH_SPANS)
      throw new Error(`decoded ${spanCount(decoded)} spans, expected ${BATCH_SPANS}`);
  }

  const [ours = 0, floor = 0] = await measure(
    [() => decodeOtlpProtobuf(protobuf, filter), () => floorDecode(protobuf)],
    BATCH_SPANS,
    runs,
    runMs,
  );
  const [jsonOurs = 0, jsonParse = 0] = await measure(
    [() => decodeOtlpJson(json, filter), () => JSON.parse(json) as unknown],
    BATCH_SPANS,
    runs,
    runMs,
  );

  return {
    rows: [
      {
        name: "otlp batch",
        value: `${BATCH_SPANS} vLLM spans, ${protobuf.byteLength} B protobuf, ${json.length} B JSON`,
      },
      {
        name: "otlp bench host",
        value: `node ${process.version}, ${cpus().length} cores, load average ${loadavg()
          .map((l) => l.toFixed(1))
          .join(" ")}`,
      },
      { name: "protobuf decode (inferwatch)", value: format(ours) },
      { name: "protobuf decode floor (protobufjs, otlp-transformer generated root)", value: format(floor) },
      { name: "protobuf ours / floor", value: `${(ours / floor).toFixed(2)}x` },
      { name: "json decode (inferwatch)", value: format(jsonOurs) },
      { name: "json floor (JSON.parse only)", value: format(jsonParse) },
      { name: "json ours / JSON.parse", value: `${(jsonOurs / jsonParse).toFixed(2)}x` },
    ],
  };
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  const { rows } = await benchOtlpDecode();
  const width = Math.max(...rows.map((row) => row.name.length));
  for (const row of rows) console.log(`${row.name.padEnd(width)}  ${row.value}`);
}
