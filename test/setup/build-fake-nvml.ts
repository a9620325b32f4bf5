/**
 * Compiles test/fixtures/fake-nvml/fake-nvml.c into the two fake NVML libraries
 * the tests load: `<outDir>/libnvidia-ml.so.1` (every symbol) and
 * `<outDir>/old/libnvidia-ml.so.1` (built with -DFAKE_NVML_OLD_DRIVER), and the
 * benchmarks' C programs (buildCProgram).
 * A build newer than its source is reused. gcc output goes to a temporary
 * name first and is renamed into place, so concurrent builds never expose a
 * half-written file.
 */
import { execFile } from "node:child_process";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import path from "node:path";
import { promisify } from "node:util";
import { projectRoot } from "../../common/paths.js";

const execFileAsync = promisify(execFile);

const REPO_ROOT = projectRoot();
const SOURCE_DIR = path.join(REPO_ROOT, "test/fixtures/fake-nvml");
/** The translation unit; it #includes the other `fake-nvml-*.c` files of its folder. */
const SOURCE = path.join(SOURCE_DIR, "fake-nvml.c");
const LIBRARY_NAME = "libnvidia-ml.so.1";
/** Optimised, and every warning an error: for the fake library and the benchmarks' programs alike. */
const STRICT_FLAGS = ["-O2", "-Wall", "-Wextra", "-Werror"] as const;
const CFLAGS = ["-shared", "-fPIC", ...STRICT_FLAGS, "-pthread"] as const;

/** Where callers put the libraries by default (gitignored). */
export const DEFAULT_FAKE_NVML_DIR = "test/artifacts/fake-nvml";

export interface FakeNvmlLibraries {
  /** Absolute path of the library with every symbol. */
  full: string;
  /** Absolute path of the "old driver" library. */
  old: string;
}

const GCC_MISSING = "gcc is required to build the fake NVML library; install it with apt-get install gcc";

async function mtimeMs(file: string): Promise<number | undefined> {
  try {
    return (await stat(file)).mtimeMs;
  } catch {
    return undefined;
  }
}

function isMissingExecutable(err: unknown): boolean {
  return typeof err === "object" && err !== null && (err as NodeJS.ErrnoException).code === "ENOENT";
}

async function compile(
  source: string,
  output: string,
  flags: readonly string[],
  libs: readonly string[] = [],
): Promise<void> {
  await mkdir(path.dirname(output), { recursive: true });
  const temporary = `${output}.${process.pid}.${Date.now()}.tmp`;
  try {
    await execFileAsync("gcc", [...flags, source, ...libs, "-o", temporary]);
    await rename(temporary, output);
  } catch (err) {
    await rm(temporary, { force: true });
    if (isMissingExecutable(err)) {
      throw new Error(`\n\n*** ${GCC_MISSING} ***\n`, { cause: err });
    }
    const stderr = (err as { stderr?: unknown }).stderr;
    const detail = typeof stderr === "string" && stderr.length > 0 ? `\n${stderr}` : "";
    throw new Error(`compiling ${source} into ${output} failed: ${String(err)}${detail}`, { cause: err });
  }
}

/** Compiles unless `output` is newer than `sourceMtime` (the newest of the sources it is built from). */
async function buildIfStale(
  source: string,
  output: string,
  flags: readonly string[],
  sourceMtime: number,
  libs: readonly string[] = [],
): Promise<string> {
  const built = await mtimeMs(output);
  if (built === undefined || built <= sourceMtime) await compile(source, output, flags, libs);
  return output;
}

/** The newest modification time among the fake's C sources (the main file and the ones it includes). */
async function sourcesMtime(): Promise<number | undefined> {
  const main = await mtimeMs(SOURCE);
  if (main === undefined) return undefined;
  const others = (await readdir(SOURCE_DIR)).filter((name) => name.endsWith(".c"));
  const times = await Promise.all(others.map((name) => mtimeMs(path.join(SOURCE_DIR, name))));
  return Math.max(main, ...times.filter((t): t is number => t !== undefined));
}

/**
 * Builds both variants into outDir (relative paths are taken from the repository
 * root) and returns their absolute paths.
 */
export async function buildFakeNvml(outDir: string = DEFAULT_FAKE_NVML_DIR): Promise<FakeNvmlLibraries> {
  const root = path.resolve(REPO_ROOT, outDir);
  const sourceMtime = await sourcesMtime();
  if (sourceMtime === undefined) {
    throw new Error(`fake NVML source not found: ${SOURCE}`);
  }
  const [full, old] = await Promise.all([
    buildIfStale(SOURCE, path.join(root, LIBRARY_NAME), CFLAGS, sourceMtime),
    buildIfStale(SOURCE, path.join(root, "old", LIBRARY_NAME), [...CFLAGS, "-DFAKE_NVML_OLD_DRIVER"], sourceMtime),
  ]);
  return { full, old };
}

/**
 * Builds a single-file C program (a benchmark's native probe) into test/artifacts/bin/<name>,
 * linked with libdl, unless a build newer than the source is there; returns its absolute path.
 */
export async function buildCProgram(source: string): Promise<string> {
  const absolute = path.resolve(REPO_ROOT, source);
  const sourceMtime = await mtimeMs(absolute);
  if (sourceMtime === undefined) throw new Error(`C source not found: ${absolute}`);
  const output = path.join(REPO_ROOT, "test/artifacts/bin", path.basename(absolute, ".c"));
  return buildIfStale(absolute, output, STRICT_FLAGS, sourceMtime, ["-ldl"]);
}
