/**
 * Whether a configured pattern means the same to JavaScript (the analyzer and the agent search it
 * with `RegExp`) and to RE2 as Prometheus reads it (Go's regexp/syntax, which the generated rules
 * and dashboards hand it to). The subset both engines read alike is checked by syntax:
 *
 * - no look-ahead `(?=…)` `(?!…)`, look-behind `(?<=…)` `(?<!…)`, atomic groups `(?>…)` or
 *   possessive quantifiers `a*+` (RE2 has none: https://github.com/google/re2/wiki/Syntax);
 *   write a boundary as a consumed character or an anchor, `(^|[^0-9])7b([^a-z]|$)`;
 * - no named groups `(?<name>…)` (Go accepts that spelling only from Go 1.22; use `(…)`);
 *   back-references are refused by the backtracking check (safe-regex.ts);
 * - escapes only where both agree: punctuation, `\d \D \w \W \s \S \b \B \f \n \r \t \v`, `\xHH`
 *   (JavaScript reads `\a` as `a`, RE2 as a bell; `\cX`, `\uHHHH`, `\0`, `\p{…}` differ too);
 * - no class the engines read apart: an empty `[]` or `[^]` (RE2 reads the `]` as a literal) or a
 *   POSIX `[[:alpha:]]` (JavaScript reads its characters);
 * - repetition counts of at most {@link MAX_RE2_REPEAT} (Go's limit).
 *
 * Left as they are, since model and node names are ASCII: `\s` (JavaScript also matches Unicode
 * spaces) and the `i` flag's case folding of a few non-ASCII letters.
 */

/** Largest repetition count Go's regexp/syntax accepts (`{1000}`). */
export const MAX_RE2_REPEAT = 1000;

/** Escaped letters both engines read alike (outside a class; `\b` inside a class is a backspace to JavaScript only). */
const SHARED_ESCAPES = new Set(["d", "D", "w", "W", "s", "S", "b", "B", "f", "n", "r", "t", "v"]);
const CLASS_ESCAPES = new Set(["d", "D", "w", "W", "s", "S", "f", "n", "r", "t", "v"]);

/** Group openings RE2 lacks, longest first, and what to call them. */
const GROUP_OPENINGS: readonly (readonly [string, string])[] = [
  ["(?<=", "a look-around (the look-behind (?<=…))"],
  ["(?<!", "a look-around (the look-behind (?<!…))"],
  ["(?=", "a look-around (the look-ahead (?=…))"],
  ["(?!", "a look-around (the look-ahead (?!…))"],
  ["(?>", "an atomic group (?>…)"],
];

/** The problem with the escape at `at` (the backslash), or undefined when both engines read it alike. */
function escapeProblem(source: string, at: number, inClass: boolean): string | undefined {
  const next = source[at + 1] ?? "";
  if (/^[1-9]$/.test(next) || (next === "k" && source[at + 2] === "<")) return undefined; // a back-reference: safe-regex.ts names it
  if (/^[\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]$/.test(next)) return undefined; // escaped ASCII punctuation
  if ((inClass ? CLASS_ESCAPES : SHARED_ESCAPES).has(next)) return undefined;
  if (next === "x" && /^[0-9a-fA-F]{2}$/.test(source.slice(at + 2, at + 4))) return undefined;
  return `the escape \\${next}${inClass && next === "b" ? " inside a class" : ""}, which JavaScript and RE2 read differently (write the character, or \\xHH)`;
}

/** The end of the class opening at `at` (index after its `]`), with the problems found inside. */
function scanClass(source: string, at: number, problems: Set<string>): number {
  let j = at + 1;
  if (source[j] === "^") j++;
  if (source[j] === "]")
    problems.add("an empty character class [] or [^]: RE2 reads its ] as a literal (write [^\\s\\S] or [\\s\\S])");
  if (source[at + 1] === "[" && source[at + 2] === ":")
    problems.add("a POSIX class [[:…:]], which JavaScript reads as characters (write [a-z] and the like)");
  while (j < source.length && source[j] !== "]") {
    if (source[j] === "\\") {
      const problem = escapeProblem(source, j, true);
      if (problem !== undefined) problems.add(problem);
      j += 2;
    } else j++;
  }
  return j + 1;
}

/**
 * Why `source` does not mean the same to JavaScript and RE2, one message per construct, naming it;
 * empty when it does. A syntax scan: a pattern JavaScript cannot compile may pass it.
 */
export function re2Problems(source: string): string[] {
  const problems = new Set<string>();
  for (let i = 0; i < source.length;) {
    const c = source[i] as string;
    if (c === "\\") {
      const problem = escapeProblem(source, i, false);
      if (problem !== undefined) problems.add(problem);
      i += 2;
    } else if (c === "[") {
      i = scanClass(source, i, problems);
    } else if (c === "(") {
      const opening = GROUP_OPENINGS.find(([text]) => source.startsWith(text, i));
      if (opening !== undefined) problems.add(`${opening[1]}, which RE2 (Prometheus) does not have`);
      else if (/^\(\?<[A-Za-z_$]/.test(source.slice(i, i + 4)))
        problems.add("a named group (?<name>…), which Prometheus's RE2 does not read (use (…) or (?:…))");
      i += opening?.[0].length ?? 1;
    } else if (c === "*" || c === "+" || c === "?" || c === "}") {
      if (c === "}") {
        const counts = /\{(\d+)(?:,(\d*))?\}$/.exec(source.slice(0, i + 1));
        if (
          counts !== null &&
          [counts[1], counts[2]].some((n) => n !== undefined && n !== "" && Number(n) > MAX_RE2_REPEAT)
        ) {
          problems.add(`a repetition count above ${MAX_RE2_REPEAT}, which RE2 refuses`);
        }
      }
      if (source[i + 1] === "+") {
        problems.add(`a possessive quantifier ${c === "}" ? "{n}+" : `${c}+`}, which JavaScript and RE2 do not have`);
        i++;
      }
      i++;
    } else i++;
  }
  return [...problems];
}
