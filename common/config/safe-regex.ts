/**
 * Regular expressions from configuration (SLO class and tier rules on model names, pool rules on
 * node names) run on V8's backtracking engine, where a pattern like `^(a+)+$` takes exponential
 * time and `x.*y.*z` polynomial time in the length of the text. Two guards, one module:
 *
 * 1. {@link safeRegexSource}, the one zod schema every regex setting uses, refuses a pattern that
 *    is invalid, longer than {@link MAX_PATTERN_CHARS}, or shaped for catastrophic backtracking:
 *    a repetition of something that itself repeats (`(a+)+`, `(a*){2,}`), a repetition of an
 *    alternation (`(a|aa)+`), a backreference, or more than {@link MAX_UNBOUNDED_REPEATS}
 *    unbounded repetitions (`.*a.*b.*c.*d`: each one multiplies the work by the text's length).
 *    The check is conservative: it may refuse a harmless pattern (`(foo|bar)+`, which `[...]` or
 *    a bounded `{1,3}` rewrites), never passes one of the shapes above.
 * 2. {@link BoundedRegExp} matches only the first {@link MAX_MATCHED_CHARS} characters of a text,
 *    so the polynomial cases the check lets through (up to three unbounded repetitions) stay
 *    bounded however long a hostile model name is (span attributes keep up to 4 KiB).
 *
 * Why not a linear-time engine: RE2 for Node is a native addon (a compiler on every install), and
 * V8's linear engine (`--enable-experimental-regexp-engine`, flag `l`) refuses case-insensitive
 * matching. The same refinement also requires patterns RE2 reads as JavaScript does
 * (re2-syntax.ts: no look-around, no backreferences), since Prometheus matches them too.
 */
import { z } from "zod";
import { re2Problems } from "./re2-syntax.js";

/** Longest pattern accepted. */
export const MAX_PATTERN_CHARS = 512;
/** Unbounded repetitions (`*`, `+`, `{n,}`) one pattern may hold. */
export const MAX_UNBOUNDED_REPEATS = 3;
/**
 * Characters of a text a configured pattern sees: Hugging Face repository ids (the usual model
 * names) are at most 96 characters, Kubernetes node names at most 253. With at most three unbounded
 * repetitions this bounds the worst match to about 30 ms on a 2-core build machine.
 */
export const MAX_MATCHED_CHARS = 256;

/** What {@link analyzeRegex} found in a pattern. */
export interface RegexAnalysis {
  /** Why the pattern is refused; empty when it is safe to run. */
  readonly problems: readonly string[];
  /** Unbounded repetitions. */
  readonly unboundedRepeats: number;
  /** Look-ahead or look-behind assertions (fine in JavaScript, absent from RE2). */
  readonly hasLookaround: boolean;
}

/** One open group while scanning: what it holds so far. */
interface Frame {
  /** Something inside repeats more than once (a quantifier with a maximum above 1). */
  hasRepeat: boolean;
  hasAlternation: boolean;
}

/** The last thing a quantifier would apply to. */
type Atom = { readonly kind: "single" } | { readonly kind: "group"; readonly frame: Frame } | { readonly kind: "none" };

/** A quantifier at `at`: its length in characters and its maximum (Infinity when unbounded); undefined when the text there is not one. */
function quantifierAt(source: string, at: number): { length: number; max: number } | undefined {
  const c = source[at];
  let length: number;
  let max: number;
  if (c === "*" || c === "+") [length, max] = [1, Infinity];
  else if (c === "?") [length, max] = [1, 1];
  else if (c === "{") {
    const braces = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(at));
    if (braces === null) return undefined;
    length = braces[0].length;
    max = braces[2] === undefined ? Number(braces[1]) : braces[3] === "" ? Infinity : Number(braces[3]);
  } else return undefined;
  if (source[at + length] === "?") length++;
  return { length, max };
}

const GROUP_OPENING = /^\((?:\?(=|!|<=|<!)|\?:|\?<[A-Za-z_$][\w$]*>)?/;

/** Scans a JavaScript pattern's syntax (not its meaning) for the shapes listed in the module comment. */
export function analyzeRegex(source: string): RegexAnalysis {
  const problems = new Set<string>();
  const stack: Frame[] = [{ hasRepeat: false, hasAlternation: false }];
  let unboundedRepeats = 0;
  let hasLookaround = false;
  let last: Atom = { kind: "none" };
  const top = (): Frame => stack[stack.length - 1] as Frame;
  for (let i = 0; i < source.length;) {
    const c = source[i] as string;
    const quantifier = quantifierAt(source, i);
    if (quantifier !== undefined && last.kind !== "none") {
      if (quantifier.max > 1) {
        if (last.kind === "group" && last.frame.hasRepeat)
          problems.add("a repetition of something that repeats, such as (a+)+: exponential backtracking");
        if (last.kind === "group" && last.frame.hasAlternation)
          problems.add(
            "a repetition of an alternation, such as (a|aa)+: exponential backtracking (use a character class [ab] or a bounded {1,3})",
          );
        top().hasRepeat = true;
      }
      if (quantifier.max === Infinity) unboundedRepeats++;
      last = { kind: "none" };
      i += quantifier.length;
      continue;
    }
    if (c === "\\") {
      const next = source[i + 1] ?? "";
      if (/[1-9]/.test(next) || (next === "k" && source[i + 2] === "<"))
        problems.add("a backreference: exponential backtracking, and not available in RE2");
      last = { kind: "single" };
      i += 2;
      continue;
    }
    if (c === "[") {
      // A character class is one atom: skip to its closing bracket (escapes and a leading ] included).
      let j = i + 1;
      if (source[j] === "^") j++;
      if (source[j] === "]") j++;
      while (j < source.length && source[j] !== "]") j += source[j] === "\\" ? 2 : 1;
      last = { kind: "single" };
      i = j + 1;
      continue;
    }
    if (c === "(") {
      // The group's opening: `(`, `(?:`, a look-around `(?=` `(?!` `(?<=` `(?<!`, or a named group `(?<name>`.
      const opening = GROUP_OPENING.exec(source.slice(i, i + 64));
      if (opening?.[1] !== undefined) hasLookaround = true;
      stack.push({ hasRepeat: false, hasAlternation: false });
      last = { kind: "none" };
      i += opening?.[0].length ?? 1;
      continue;
    }
    if (c === ")" && stack.length > 1) {
      const frame = stack.pop() as Frame;
      if (frame.hasRepeat) top().hasRepeat = true;
      last = { kind: "group", frame };
      i++;
      continue;
    }
    if (c === "|") {
      top().hasAlternation = true;
      last = { kind: "none" };
      i++;
      continue;
    }
    last = c === "^" || c === "$" ? { kind: "none" } : { kind: "single" };
    i++;
  }
  if (unboundedRepeats > MAX_UNBOUNDED_REPEATS)
    problems.add(
      `${unboundedRepeats} unbounded repetitions (*, +, {n,}): more than ${MAX_UNBOUNDED_REPEATS} make matching a long name take polynomial time of a high degree`,
    );
  return { problems: [...problems], unboundedRepeats, hasLookaround };
}

/** The problems that keep `source` from being a configured pattern, as configuration messages; empty when it is accepted. */
export function regexProblems(source: string, flags = ""): string[] {
  if (source.length > MAX_PATTERN_CHARS)
    return [`expected a regular expression of at most ${MAX_PATTERN_CHARS} characters, got ${source.length}`];
  try {
    new RegExp(source, flags);
  } catch (err) {
    return [`expected a valid regular expression (${err instanceof Error ? err.message : String(err)})`];
  }
  return analyzeRegex(source).problems.map((problem) => `unsafe regular expression: ${problem}`);
}

/**
 * The problems that keep `source` from being a configured pattern: {@link regexProblems}, and every
 * construct that JavaScript and RE2 (Prometheus) read differently (re2-syntax.ts), so that one
 * pattern selects the same names in the agent, the analyzer, the generated rules and the dashboards.
 * A construct RE2 lacks is named even where V8 cannot compile it (`(?>…)`, `a*+`).
 */
export function patternProblems(source: string): string[] {
  if (source.length > MAX_PATTERN_CHARS) return regexProblems(source);
  const re2 = re2Problems(source).map((problem) => `not RE2-compatible: ${problem}`);
  const js = regexProblems(source);
  const isInvalid = js.some((problem) => problem.startsWith("expected a valid regular expression"));
  return isInvalid && re2.length > 0 ? re2 : [...js, ...re2];
}

/**
 * The one zod schema of every regular-expression setting (SLO class model rules, tier rules, pool
 * rules): valid, safe from catastrophic backtracking (see the module comment) and RE2-compatible
 * ({@link patternProblems}).
 */
export const safeRegexSource = z.string().superRefine((source, ctx) => {
  for (const problem of patternProblems(source)) ctx.addIssue({ code: "custom", message: problem });
});

/**
 * A RegExp whose test() sees at most {@link MAX_MATCHED_CHARS} characters of its text. Compile
 * configured patterns with it (they passed {@link safeRegexSource}); test() is the only method
 * bounded.
 */
export class BoundedRegExp extends RegExp {
  override test(text: string): boolean {
    return super.test(text.length > MAX_MATCHED_CHARS ? text.slice(0, MAX_MATCHED_CHARS) : text);
  }
}
