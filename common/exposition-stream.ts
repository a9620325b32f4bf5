/**
 * The exposition reader of common/exposition.ts fed as a page arrives: bytes in, one line at a
 * time out, each sample handed on and not kept. What it holds between writes is the partial last
 * line, so a page costs what its consumer keeps, not what the page weighs. Lines whose metric name
 * the consumer declines are checked (one malformed line fails the page, as a Prometheus scrape
 * does) without building their labels.
 *
 * The format: OpenMetrics or the Prometheus text format when the caller knows it (the response's
 * Content-Type, as Prometheus decides), else "auto", decided as parseExpositionText decides it, by a
 * `# EOF` line anywhere on the page. Until the end of an "auto" page lines are read by the
 * OpenMetrics rules (exemplars and fractional timestamps pass); at end() a page that carried no
 * `# EOF` is refused at the first line that needed them, with the error the Prometheus rules give
 * that line. Timestamps are not reported on an "auto" page (their unit is known only at its end).
 */
import {
  ExpositionParseError,
  isEofLine,
  isSkippedLine,
  parseSampleLine,
  type ExpositionFormat,
  type ExpositionSample,
  type LineFormat,
} from "./exposition.js";
import { MIB } from "./units.js";

/** How an {@link ExpositionStream} reads. */
export interface ExpositionStreamOptions {
  readonly format?: ExpositionFormat;
  /** Which metric names to hand on; the other sample lines are only checked. All, when absent. */
  readonly wants?: (name: string) => boolean;
  /** Longest line accepted, in characters (a longer one fails the page); default 1 MiB. */
  readonly maxLineLength?: number;
}

/** Longest line read by default: no exporter writes one near it (a vLLM LoRA info line lists its adapters in a few KiB). */
export const DEFAULT_MAX_LINE_LENGTH = MIB;

/**
 * Reads an exposition written to it in pieces of any size (a multi-byte character or a line may
 * span two). Not reusable: write() pieces, then end() once. Every method throws
 * ExpositionParseError at the first bad line, naming it; the stream is then spent.
 */
export class ExpositionStream {
  private readonly decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  private readonly lineFormat: LineFormat;
  private readonly maxLineLength: number;
  private carry = "";
  private lines = 0;
  private hasEof = false;
  /** The first line of an "auto" page that only OpenMetrics allows, as the Prometheus rules refuse it. */
  private firstOpenMetricsOnly: ExpositionParseError | undefined;

  constructor(
    private readonly onSample: (sample: ExpositionSample) => void,
    private readonly options: ExpositionStreamOptions = {},
  ) {
    const format = options.format ?? "auto";
    this.lineFormat = format === "auto" ? "either" : format;
    this.maxLineLength = options.maxLineLength ?? DEFAULT_MAX_LINE_LENGTH;
  }

  /** Characters held between writes: the partial last line. */
  get pendingLength(): number {
    return this.carry.length;
  }

  /** Complete lines read so far. */
  get lineCount(): number {
    return this.lines;
  }

  /** Reads every line completed by `chunk`; keeps the partial last one. */
  write(chunk: Uint8Array): void {
    const text = this.decoder.decode(chunk, { stream: true });
    let end = text.indexOf("\n");
    if (end < 0) {
      // No line ends here: the piece joins the partial line (a long line is not copied once per piece).
      this.carry += text;
      if (this.carry.length > this.maxLineLength) this.tooLong(this.carry, this.lines + 1);
      return;
    }
    this.readLine(this.carry + text.slice(0, end));
    let start = end + 1;
    for (end = text.indexOf("\n", start); end >= 0; end = text.indexOf("\n", start)) {
      this.readLine(text.slice(start, end));
      start = end + 1;
    }
    this.carry = text.slice(start);
    if (this.carry.length > this.maxLineLength) this.tooLong(this.carry, this.lines + 1);
  }

  /** Reads the last line (one without a newline) and settles an "auto" page's format. */
  end(): void {
    const last = this.carry + this.decoder.decode();
    this.carry = "";
    this.readLine(last);
    if (this.firstOpenMetricsOnly !== undefined && !this.hasEof) throw this.firstOpenMetricsOnly;
  }

  private readLine(raw: string): void {
    const lineNumber = ++this.lines;
    if (raw.length > this.maxLineLength) this.tooLong(raw, lineNumber);
    if (isEofLine(raw)) this.hasEof = true;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (isSkippedLine(line)) return;
    const { sample, isOpenMetricsOnly } = parseSampleLine(line, lineNumber, this.lineFormat, this.options.wants);
    if (isOpenMetricsOnly && this.firstOpenMetricsOnly === undefined)
      this.firstOpenMetricsOnly = prometheusError(line, lineNumber);
    if (sample !== undefined) this.onSample(sample);
  }

  private tooLong(line: string, lineNumber: number): never {
    throw new ExpositionParseError(lineNumber, `line longer than ${this.maxLineLength} characters`, line.slice(0, 200));
  }
}

/** The error the Prometheus text format's rules give a line that only OpenMetrics allows. */
function prometheusError(line: string, lineNumber: number): ExpositionParseError {
  try {
    parseSampleLine(line, lineNumber, "prometheus", () => false);
  } catch (err) {
    if (err instanceof ExpositionParseError) return err;
  }
  return new ExpositionParseError(lineNumber, "syntax only OpenMetrics allows, on a page without # EOF", line);
}
