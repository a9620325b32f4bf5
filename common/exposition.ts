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
  token(): string {
    const from = this.i;
    while (!this.isDone && this.peek() !== " " && this.peek() !== "\t") this.i++;
    return this.line.slice(from, this.i);
  }
}

/** Reads `{name="value",...}` at the cursor (which is on `{`); returns the labels or a reason. */
function readLabels(reader: LineReader): Record<string, string> | string {
  const labels: Record<string, string> = {};
  reader.i++;
  for (;;) {
    reader.skipSpaces();
    if (reader.peek() === "}") {
      reader.i++;
      return labels;
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
      value += reader.match(PLAIN_VALUE_RUN);
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
    if (Object.hasOwn(labels, name)) return `duplicate label ${name}`;
    labels[name] = value;
    reader.skipSpaces();
    if (reader.peek() === ",") reader.i++;
    else if (reader.peek() !== "}") return `expected ',' or '}' after label ${name}`;
  }
}

/** Parses one sample line; `isOpenMetrics` decides the timestamp unit and allows exemplars. */
function parseSampleLine(line: string, lineNumber: number, isOpenMetrics: boolean): ExpositionSample {
  const reader = new LineReader(line);
  const fail = (reason: string): never => {
    throw new ExpositionParseError(lineNumber, reason, line);
  };
  const name = reader.match(METRIC_NAME);
  if (name === "") fail("expected a metric name");
  let gap = reader.skipSpaces();
  let labels: Record<string, string> = {};
  if (reader.peek() === "{") {
    const read = readLabels(reader);
    if (typeof read === "string") return fail(read);
    labels = read;
    gap = reader.skipSpaces();
  }
  if (gap === 0 || reader.isDone) fail("expected a space and a value after the name");
  const value = parseSampleValue(reader.token());
  if (value === undefined) fail("invalid value");
  reader.skipSpaces();
  let timestampMs: number | undefined;
  if (!reader.isDone && reader.peek() !== "#") {
    const text = reader.token();
    const parsed = isOpenMetrics ? parseSampleValue(text) : /^-?\d+$/.test(text) ? Number(text) : undefined;
    if (parsed === undefined || !Number.isFinite(parsed)) fail("invalid timestamp");
    timestampMs = isOpenMetrics ? Math.round((parsed as number) * 1000) : (parsed as number);
    reader.skipSpaces();
  }
  if (!reader.isDone && !(isOpenMetrics && reader.line.startsWith("# {", reader.i))) fail("unexpected text after the sample");
  return timestampMs === undefined ? { name, labels, value: value as number } : { name, labels, value: value as number, timestampMs };
}

/**
 * Every sample line of an exposition, in order. Comment lines (`# HELP`, `# TYPE`, `# UNIT`, `# EOF`
 * and free comments) and blank lines are skipped. Throws ExpositionParseError on the first bad line.
 */
export function parseExpositionText(text: string, format: ExpositionFormat = "auto"): ExpositionSample[] {
  const lines = text.split("\n");
  const isOpenMetrics = format === "openmetrics" || (format === "auto" && lines.some((line) => line.trimEnd() === "# EOF"));
  const samples: ExpositionSample[] = [];
  for (let i = 0; i < lines.length; i++) {
    const line = (lines[i] as string).replace(/\r$/, "");
    if (line.trim() === "" || line.startsWith("#")) continue;
    samples.push(parseSampleLine(line, i + 1, isOpenMetrics));
  }
  return samples;
}
