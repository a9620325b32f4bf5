import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { errorMessage } from "../common/errors.js";

/** One generated file: its name inside the output directory and its content. */
export interface GeneratedFile {
  readonly file: string;
  readonly content: string;
}

/**
 * Writes generated files into `outDir` (created when missing), or with `check` compares them with
 * the files there instead, naming each stale or missing one. Returns the exit code of the command
 * `command` (e.g. "rules"): 0, or 1 when a file cannot be written or (with `check`) is stale.
 */
export async function writeOrCheckGenerated(
  command: string,
  files: readonly GeneratedFile[],
  outDir: string,
  check: boolean,
  out: NodeJS.WritableStream,
): Promise<number> {
  let stale = 0;
  try {
    if (!check) await mkdir(outDir, { recursive: true });
    for (const { file, content } of files) {
      const path = join(outDir, file);
      if (check) {
        const current = await readFile(path, "utf8").catch(() => undefined);
        if (current !== content) {
          stale++;
          out.write(`stale: ${path}\n`);
        }
        continue;
      }
      await writeFile(path, content);
      out.write(`wrote ${path}\n`);
    }
  } catch (err) {
    process.stderr.write(`inferwatch ${command}: ${errorMessage(err)}\n`);
    return 1;
  }
  if (stale > 0)
    process.stderr.write(
      `inferwatch ${command}: ${stale} file(s) differ from a fresh generation; run inferwatch ${command} --out-dir ${outDir}\n`,
    );
  return stale > 0 ? 1 : 0;
}
