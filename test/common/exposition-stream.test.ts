/**
 * ExpositionStream against the whole-page reader it streams: the upstream-shaped runtime pages of
 * test/fixtures/runtimes (each names its upstream file and commit), written in pieces cut anywhere
 * (inside a line, inside a multi-byte character), give the samples parseExpositionText gives the
 * whole page; the errors a whole page gets come the same when streamed.
 */
import { readdirSync, readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ExpositionParseError, parseExpositionText, type ExpositionSample } from "../../common/exposition.js";
import { ExpositionStream, type ExpositionStreamOptions } from "../../common/exposition-stream.js";
import { projectPath } from "../../common/paths.js";

const PAGES = readdirSync(projectPath("test/fixtures/runtimes")).filter((name) => name.endsWith(".prom"));

/** Streams `bytes` in pieces of `size` bytes and returns the samples handed on. */
function streamed(bytes: Uint8Array, size: number, options: ExpositionStreamOptions = {}): ExpositionSample[] {
  const samples: ExpositionSample[] = [];
  const stream = new ExpositionStream((sample) => samples.push(sample), options);
  for (let at = 0; at < bytes.length; at += size) stream.write(bytes.subarray(at, at + size));
  stream.end();
  return samples;
}

describe("ExpositionStream", () => {
  it("finds the fixtures it reads", () => {
    expect(PAGES.length).toBeGreaterThanOrEqual(6);
  });

  it.each(PAGES)("reads %s in pieces of 1, 7, 64 and 4,096 bytes as parseExpositionText reads it whole", (name) => {
    const text = readFileSync(projectPath(`test/fixtures/runtimes/${name}`), "utf8");
    const whole = parseExpositionText(text, "prometheus");
    expect(whole.length).toBeGreaterThan(10);
    const bytes = Buffer.from(text);
    for (const size of [1, 7, 64, 4096]) expect(streamed(bytes, size, { format: "prometheus" })).toEqual(whole);
  });

  it("keeps multi-byte characters and CRLF line ends cut between pieces", () => {
    const text =
      'vllm:num_requests_running{model_name="Qwen-千问-🚀",engine="0"} 3\r\nvllm:num_requests_running{model_name="ü",engine="1"} 4\r\n';
    const bytes = Buffer.from(text);
    for (const size of [1, 2, 3, 5]) {
      expect(streamed(bytes, size).map((s) => [s.labels["model_name"], s.value])).toEqual([
        ["Qwen-千问-🚀", 3],
        ["ü", 4],
      ]);
    }
  });

  it("hands on only the names wanted, yet fails the page on a malformed line of a name it declines", () => {
    const bytes = Buffer.from('tgi_queue_size 2\nvllm:num_requests_running{model_name="m"} 1\n');
    expect(streamed(bytes, 5, { wants: (metric) => metric.startsWith("vllm:") }).map((s) => s.name)).toEqual([
      "vllm:num_requests_running",
    ]);
    const broken = Buffer.from('vllm:num_requests_running{model_name="m"} 1\ntgi_queue_size{bad 2\n');
    expect(() => streamed(broken, 5, { wants: (metric) => metric.startsWith("vllm:") })).toThrow(ExpositionParseError);
    expect(() => streamed(broken, 5, { wants: (metric) => metric.startsWith("vllm:") })).toThrow(/line 2/);
  });

  it("refuses a line longer than its limit, naming it, before the line ends", () => {
    const samples: ExpositionSample[] = [];
    const stream = new ExpositionStream((sample) => samples.push(sample), { maxLineLength: 100 });
    stream.write(Buffer.from("tgi_queue_size 2\n"));
    expect(() => stream.write(Buffer.from(`tgi_batch_current_size{x="${"a".repeat(200)}`))).toThrow(
      /line 2: line longer than 100 characters/,
    );
    expect(samples.map((s) => s.value)).toEqual([2]);
  });

  it("decides an 'auto' page's format at its end as parseExpositionText does", () => {
    // An exemplar: OpenMetrics syntax, valid only on a page that ends with # EOF.
    const line = 'vllm:e2e_request_latency_seconds_bucket{le="1.0"} 3 # {trace_id="abc"} 0.5\n';
    expect(streamed(Buffer.from(`${line}# EOF\n`), 9).map((s) => s.value)).toEqual(
      parseExpositionText(`${line}# EOF\n`).map((s) => s.value),
    );
    expect(() => parseExpositionText(line)).toThrow(ExpositionParseError);
    expect(() => streamed(Buffer.from(line), 9)).toThrow(ExpositionParseError);
  });
});
