/**
 * Builds the scale benchmark's Prometheus data directory: the fleet's history written as OpenMetrics
 * one chunk at a time and turned into TSDB blocks by `promtool tsdb create-blocks-from openmetrics`,
 * as the store contract test does. Chunks are 18-hour windows aligned as promtool aligns its blocks
 * (the largest of Prometheus's 2 h × 3ⁿ block ranges under the 24 h asked for), so each chunk is one
 * block and no two blocks overlap; Prometheus started with a largest block range of 18 h then has
 * nothing to compact. The next chunk is generated while promtool reads the last one.
 *
 * The directory is kept between runs (under the system's temporary directory, per GPU count and
 * generator version) and reused when complete; BENCH_SCALE_FRESH=1 rebuilds it.
 */
import { execFile } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { scaleFleet, type ScaleFleet } from "./scale-fleet.js";
import { HISTORY, writeChunk, type LineSink } from "./scale-series.js";

const execFileAsync = promisify(execFile);
/** Bump when the generated data changes, so cached directories are rebuilt. */
const GENERATOR_VERSION = 2;
const BLOCK_MS = 18 * 3_600_000;

/** What building the data cost. */
export interface BackfillStats {
  readonly samples: number;
  readonly textBytes: number;
  readonly blocks: number;
  readonly seconds: number;
  readonly isCached: boolean;
}

/** A sink writing lines to a file through an 8 MiB buffer. */
class FileSink implements LineSink {
  lines = 0;
  bytes = 0;
  private buffer = "";
  private readonly fd: number;

  constructor(path: string) {
    this.fd = openSync(path, "w");
  }

  line(text: string): void {
    this.buffer += `${text}\n`;
    this.lines++;
    if (this.buffer.length > 8 * 1024 * 1024) this.flush();
  }

  close(): void {
    this.buffer += "# EOF\n";
    this.flush();
    closeSync(this.fd);
  }

  private flush(): void {
    this.bytes += Buffer.byteLength(this.buffer);
    writeSync(this.fd, this.buffer);
    this.buffer = "";
  }
}

async function promtool(input: string, dataDir: string): Promise<void> {
  try {
    await execFileAsync(
      "promtool",
      ["tsdb", "create-blocks-from", "openmetrics", "--quiet", "--max-block-duration=24h", input, dataDir],
      { maxBuffer: 64 * 1024 * 1024 },
    );
  } catch (err) {
    const output = err as { stdout?: string; stderr?: string; message?: string };
    throw new Error(
      `promtool tsdb create-blocks-from openmetrics failed (is the Debian package prometheus installed?):\n${output.message ?? ""}\n${output.stdout ?? ""}${output.stderr ?? ""}`,
      { cause: err },
    );
  }
}

/** The data directory for `gpus` GPUs (built when missing) and the fleet it holds. */
export async function scaleData(
  gpus: number,
  log: (line: string) => void,
): Promise<{ dataDir: string; fleet: ScaleFleet; stats: BackfillStats }> {
  const fleet = scaleFleet(gpus);
  const root = join(tmpdir(), "inferwatch-scale-bench", `${fleet.gpus}-gpus-v${GENERATOR_VERSION}`);
  const dataDir = join(root, "data");
  const marker = join(root, "complete.json");
  if (process.env["BENCH_SCALE_FRESH"] !== "1" && existsSync(marker)) {
    const stats = JSON.parse(readFileSync(marker, "utf8")) as BackfillStats;
    return { dataDir, fleet, stats: { ...stats, isCached: true } };
  }
  rmSync(root, { recursive: true, force: true });
  mkdirSync(dataDir, { recursive: true });
  const started = performance.now();
  let samples = 0;
  let textBytes = 0;
  let blocks = 0;
  let pending: Promise<void> | undefined;
  for (
    let chunkStart = Math.floor(HISTORY.fromMs / BLOCK_MS) * BLOCK_MS;
    chunkStart <= HISTORY.toMs;
    chunkStart += BLOCK_MS
  ) {
    const input = join(root, `chunk-${blocks % 2}.om`);
    const sink = new FileSink(input);
    writeChunk(sink, fleet, Math.max(chunkStart, HISTORY.fromMs), Math.min(chunkStart + BLOCK_MS, HISTORY.toMs + 1));
    sink.close();
    samples += sink.lines;
    textBytes += sink.bytes;
    log(
      `  chunk ${blocks + 1}: ${sink.lines.toLocaleString("en-US")} samples, ${(sink.bytes / 2 ** 20).toFixed(0)} MiB of OpenMetrics`,
    );
    await pending;
    pending = promtool(input, dataDir);
    blocks++;
  }
  await pending;
  for (const name of ["chunk-0.om", "chunk-1.om"]) rmSync(join(root, name), { force: true });
  const stats = { samples, textBytes, blocks, seconds: (performance.now() - started) / 1000, isCached: false };
  writeFileSync(marker, JSON.stringify(stats));
  return { dataDir, fleet, stats };
}
