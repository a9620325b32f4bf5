/**
 * A reader of the Prometheus text exposition format (0.0.4) and of OpenMetrics 1.0 text, for the
 * analyzer's embedded store when it pulls the agents' `/metrics` and for the agent when it scrapes
 * the inference runtimes' own `/metrics`.
 *
 * Sample lines are `name{label="value",...} value [timestamp]`; label values escape `\\`, `\"` and
 * `\n`; values follow Go's ParseFloat (`NaN`, `+Inf`, `-Inf`, exponents). Timestamps are integer
 * milliseconds in the Prometheus format and seconds (possibly fractional) in OpenMetrics, whose
 * exemplars (` # {...} value [ts]`) are skipped. A malformed line fails the whole parse, as a
 * Prometheus scrape does, with the line number in the message.
 * https://prometheus.io/docs/instrumenting/exposition_formats/,
 * https://github.com/OpenObservability/OpenMetrics/blob/main/specification/OpenMetrics.md
 */

/** One sample line of an exposition. */
export interface ExpositionSample {
  /** The sample's name: a counter's `_total`, a histogram's `_bucket`, `_count` and `_sum`. */
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** The line's own timestamp, milliseconds since the epoch, when it carries one. */
  readonly timestampMs?: number;
}

/** Which text format: OpenMetrics ends with `# EOF`; "auto" decides by that line. */
export type ExpositionFormat = "prometheus" | "openmetrics" | "auto";

/** Thrown for a line that is not valid exposition text. */
export class ExpositionParseError extends Error {
  constructor(
    readonly lineNumber: number,
    reason: string,
    line: string,
  ) {
    super(`exposition: line ${lineNumber}: ${reason}: ${line.length > 200 ? `${line.slice(0, 200)}…` : line}`);
    this.name = "ExpositionParseError";
  }
}

// Sticky patterns, matched at the cursor: one regex run per word or value run, not one per character.
const METRIC_NAME = /[a-zA-Z_:][a-zA-Z0-9_:]*/y;
const LABEL_NAME = /[a-zA-Z_][a-zA-Z0-9_]*/y;
const PLAIN_VALUE_RUN = /[^"\\]*/y;
const DECIMAL = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** Parses a sample value the way Go's strconv.ParseFloat does for the forms exporters write. */
export function parseSampleValue(text: string): number | undefined {
  if (DECIMAL.test(text)) return Number(text);
  const lower = text.toLowerCase();
  if (lower === "nan") return NaN;
  if (lower === "+inf" || lower === "inf" || lower === "+infinity" || lower === "infinity") return Infinity;
  if (lower === "-inf" || lower === "-infinity") return -Infinity;
  return undefined;
}

/** A cursor over one line. */
class LineReader {
  i = 0;
  constructor(readonly line: string) {}
  get isDone(): boolean {
    return this.i >= this.line.length;
  }
  peek(): string {
    return this.line[this.i] ?? "";
  }
  skipSpaces(): number {
    const from = this.i;
    while (this.peek() === " " || this.peek() === "\t") this.i++;
    return this.i - from;
  }
  /** The match of a sticky pattern at the cursor (advancing past it), or "" when there is none. */
  match(pattern: RegExp): string {
    pattern.lastIndex = this.i;
    const found = pattern.exec(this.line)?.[0] ?? "";
    this.i += found.length;
    return found;
  }
  /** Moves the cursor past the match of a sticky pattern at the cursor, building no string. */
  skip(pattern: RegExp): void {
    pattern.lastIndex = this.i;
    if (pattern.test(this.line)) this.i = pattern.lastIndex;
  }
  token(): string {
    const from = this.i;
    while (!this.isDone && this.peek() !== " " && this.peek() !== "\t") this.i++;
    return this.line.slice(from, this.i);
  }
}

/**
 * Reads `{name="value",...}` at the cursor (which is on `{`) into `labels`, or only checks it when
 * `labels` is undefined (no value is built then); returns a reason when the text is not valid.
 */
function readLabels(reader: LineReader, labels: Record<string, string> | undefined): string | undefined {
  const names: string[] = [];
  reader.i++;
  for (;;) {
    reader.skipSpaces();
    if (reader.peek() === "}") {
      reader.i++;
      return undefined;
    }
    const name = reader.match(LABEL_NAME);
    if (name === "") return "expected a label name";
    reader.skipSpaces();
    if (reader.peek() !== "=") return `expected '=' after label ${name}`;
    reader.i++;
    reader.skipSpaces();
    if (reader.peek() !== '"') return `expected '"' to open the value of label ${name}`;
    reader.i++;
    let value = "";
    for (;;) {
      if (labels !== undefined) value += reader.match(PLAIN_VALUE_RUN);
      else reader.skip(PLAIN_VALUE_RUN);
      if (reader.isDone) return `unterminated value of label ${name}`;
      const c = reader.peek();
      reader.i++;
      if (c === '"') break;
      if (c === "\\") {
        const escaped = reader.peek();
        reader.i++;
        if (escaped === "n") value += "\n";
        else if (escaped === "\\" || escaped === '"') value += escaped;
        else return `invalid escape \\${escaped} in label ${name}`;
      } else value += c;
    }
    if (names.includes(name)) return `duplicate label ${name}`;
    names.push(name);
    if (labels !== undefined) labels[name] = value;
    reader.skipSpaces();
    if (reader.peek() === ",") reader.i++;
    else if (reader.peek() !== "}") return `expected ',' or '}' after label ${name}`;
  }
}

/**
 * How a sample line is read: its timestamp unit and whether an exemplar may follow. "either" is
 * for a page read before its format is known (a stream, before `# EOF` or the end): the line is
 * read by the OpenMetrics rules, its timestamp is checked but not reported, and the reader says
 * whether the line needed OpenMetrics, so the caller can refuse it at the end of a Prometheus page.
 */
export type LineFormat = "prometheus" | "openmetrics" | "either";

/** What {@link parseSampleLine} gives back: the sample (undefined when `wants` declined its name) and whether the line used syntax only OpenMetrics allows. */
export interface ParsedLine {
  readonly sample: ExpositionSample | undefined;
  readonly isOpenMetricsOnly: boolean;
}

const DECLINED: ParsedLine = { sample: undefined, isOpenMetricsOnly: false };
const DECLINED_OPENMETRICS: ParsedLine = { sample: undefined, isOpenMetricsOnly: true };

/**
 * Parses one sample line (not a comment, not blank). With `wants`, a line whose metric name it
 * declines is checked all the same (a malformed line fails the page whatever its name) but no
 * label object or sample is built for it. Throws ExpositionParseError naming `lineNumber`.
 */
export function parseSampleLine(
  line: string,
  lineNumber: number,
  format: LineFormat,
  wants?: (name: string) => boolean,
): ParsedLine {
  const reader = new LineReader(line);
  const fail = (reason: string): never => {
    throw new ExpositionParseError(lineNumber, reason, line);
  };
  const allowsOpenMetrics = format !== "prometheus";
  const name = reader.match(METRIC_NAME);
  if (name === "") fail("expected a metric name");
  const isWanted = wants === undefined || wants(name);
  let gap = reader.skipSpaces();
  const labels: Record<string, string> | undefined = isWanted ? {} : undefined;
  if (reader.peek() === "{") {
    const problem = readLabels(reader, labels);
    if (problem !== undefined) fail(problem);
    gap = reader.skipSpaces();
  }
  if (gap === 0 || reader.isDone) fail("expected a space and a value after the name");
  const value = parseSampleValue(reader.token());
  if (value === undefined) fail("invalid value");
  reader.skipSpaces();
  let timestampMs: number | undefined;
  let isOpenMetricsOnly = false;
  if (!reader.isDone && reader.peek() !== "#") {
    const text = reader.token();
    const isInteger = /^-?\d+$/.test(text);
    const parsed = allowsOpenMetrics ? parseSampleValue(text) : isInteger ? Number(text) : undefined;
    if (parsed === undefined || !Number.isFinite(parsed)) fail("invalid timestamp");
    if (format === "openmetrics") timestampMs = Math.round((parsed as number) * 1000);
    else if (format === "prometheus") timestampMs = parsed;
    else if (!isInteger) isOpenMetricsOnly = true;
    reader.skipSpaces();
  }
  if (!reader.isDone) {
    if (!(allowsOpenMetrics && reader.line.startsWith("# {", reader.i))) fail("unexpected text after the sample");
    if (format === "either") isOpenMetricsOnly = true;
  }
  if (labels === undefined) return isOpenMetricsOnly ? DECLINED_OPENMETRICS : DECLINED;
  const sample: ExpositionSample =
    timestampMs === undefined
      ? { name, labels, value: value as number }
      : { name, labels, value: value as number, timestampMs };
  return { sample, isOpenMetricsOnly };
}

/** Whether a raw line (before its `\r` is taken off) is OpenMetrics' end marker. */
export function isEofLine(line: string): boolean {
  return line.trimEnd() === "# EOF";
}

/** Whether a line (its `\r` taken off) holds no sample: blank, or a comment (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`, free text). */
export function isSkippedLine(line: string): boolean {
  return line.trim() === "" || line.startsWith("#");
}

/**
 * Every sample line of an exposition, in order. Comment lines (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`
 * and free comments) and blank lines are skipped. Throws ExpositionParseError on the first bad line.
 * The whole text and every sample are held at once: for a page read as it arrives, with memory
 * bounded by what is kept rather than by the page, see ExpositionStream (common/exposition-stream.ts).
 */
export function parseExpositionText(text: string, format: ExpositionFormat = "auto"): ExpositionSample[] {
  const lines = text.split("\n");
  const isOpenMetrics = format === "openmetrics" || (format === "auto" && lines.some(isEofLine));
  const samples: ExpositionSample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, "");
    if (isSkippedLine(line)) continue;
    const { sample } = parseSampleLine(line, i + 1, isOpenMetrics ? "openmetrics" : "prometheus");
    if (sample !== undefined) samples.push(sample);
  }
  return samples;
}
