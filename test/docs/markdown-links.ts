/**
 * Links in Markdown and the anchors a Markdown page offers, as GitHub renders them: enough to check
 * that every relative link of the README and docs/ resolves to a file of the repository and, where
 * it names one, to a heading of that file. Code (fenced blocks and inline spans) holds no links.
 */
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, isAbsolute, join, relative, resolve } from "node:path";

/** One link found on a page: its target as written and the line it is on (1-based). */
export interface MarkdownLink {
  readonly target: string;
  readonly line: number;
}

/**
 * The page's lines with fenced code blocks blanked (so line numbers hold) and, when `blankInline`,
 * inline code spans too.
 */
function withoutCode(markdown: string, blankInline = true): string[] {
  let fence: string | undefined;
  return markdown.split("\n").map((line) => {
    const opener = /^\s{0,3}(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence !== undefined) {
      if (opener !== undefined && opener[0] === fence[0] && opener.length >= fence.length && line.trim() === opener)
        fence = undefined;
      return "";
    }
    if (opener !== undefined) {
      fence = opener;
      return "";
    }
    return blankInline ? line.replace(/(`+)[\s\S]*?\1/g, (span) => " ".repeat(span.length)) : line;
  });
}

/** Every link target of a page: inline links and images, reference definitions, HTML href/src. */
export function linksOf(markdown: string): MarkdownLink[] {
  const links: MarkdownLink[] = [];
  for (const [index, line] of withoutCode(markdown).entries()) {
    const add = (target: string | undefined): void => {
      if (target !== undefined && target.length > 0) links.push({ target, line: index + 1 });
    };
    for (const match of line.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)) add(match[1]);
    for (const match of line.matchAll(/^\s{0,3}\[[^\]]+\]:\s*<?(\S+?)>?(?:\s+"[^"]*")?\s*$/g)) add(match[1]);
    for (const match of line.matchAll(/<(?:a|img)\s[^>]*?(?:href|src)="([^"]+)"/gi)) add(match[1]);
  }
  return links;
}

/** GitHub's anchor of a heading's text: lower case, punctuation dropped, spaces to hyphens. */
export function headingSlug(heading: string): string {
  const text = heading
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1") // a link keeps its text
    .replace(/<[^>]+>/g, "") // HTML tags go
    .trim()
    .toLowerCase();
  return text.replace(/[^\p{L}\p{N}\p{M} _-]/gu, "").replace(/ /g, "-");
}

/** The anchors a page offers: one per ATX heading (duplicates numbered as GitHub does) and explicit HTML ids. */
export function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of withoutCode(markdown, false)) {
    const heading = /^\s{0,3}#{1,6}\s+(.*?)\s*#*\s*$/.exec(line)?.[1];
    if (heading !== undefined) {
      const slug = headingSlug(heading);
      const count = seen.get(slug) ?? 0;
      seen.set(slug, count + 1);
      anchors.add(count === 0 ? slug : `${slug}-${count}`);
    }
    for (const match of line.matchAll(/<a\s[^>]*?(?:id|name)="([^"]+)"/gi))
      if (match[1] !== undefined) anchors.add(match[1]);
  }
  return anchors;
}

/** Whether a target is an absolute URL (a scheme such as https: or mailto:), which is not checked here. */
export function isExternal(target: string): boolean {
  return /^[a-z][a-z0-9+.-]*:/i.test(target);
}

/**
 * Why a relative link of `file` (a path inside `root`) does not resolve inside `root`, or undefined
 * when it does: the file or folder must exist below the root, and an anchor must be a heading (or
 * an HTML id) of the Markdown file it names. A target starting with `/` is taken from the root, as
 * GitHub does.
 */
export function brokenReason(root: string, file: string, target: string): string | undefined {
  const hash = target.indexOf("#");
  const pathPart = decodeURIComponent(hash < 0 ? target : target.slice(0, hash)).replace(/\?.*$/, "");
  const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
  const resolved =
    pathPart === "" ? file : pathPart.startsWith("/") ? join(root, pathPart) : resolve(dirname(file), pathPart);
  const inside = relative(root, resolved);
  if (inside.startsWith("..") || isAbsolute(inside)) return "points outside the repository";
  if (!existsSync(resolved)) return `${inside} does not exist`;
  if (anchor === undefined || anchor === "") return undefined;
  if (statSync(resolved).isDirectory() || !resolved.endsWith(".md"))
    return `anchor #${anchor} on a file that is not Markdown`;
  return anchorsOf(readFileSync(resolved, "utf8")).has(anchor) ? undefined : `${inside} has no heading for #${anchor}`;
}
