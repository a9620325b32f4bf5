/**
 * The part of kustomize that deploy/ uses, so the suite builds the manifests on any machine
 * (`kubectl kustomize` is not a Debian package recent enough to build them): `resources` (files and
 * directories), `namespace`, `labels` (without selectors), `configMapGenerator` from files with
 * `generatorOptions` (labels, no name hash) and `patches` (a strategic-merge patch file with a kind
 * and name target, applied as a deep merge of maps, lists of named items merged by name). Any other kustomization field fails the build
 * loudly, so a manifest change that needs more cannot pass unnoticed. Its output was compared with
 * kubectl 1.32's kustomize v5.5.0 on deploy/, base and the overlays: identical object sets.
 */
import { readFileSync, statSync } from "node:fs";
import { basename, join, resolve } from "node:path";
import { parse, parseAllDocuments } from "yaml";

export type BuiltObject = {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
};

const KNOWN = new Set([
  "apiVersion",
  "kind",
  "resources",
  "namespace",
  "labels",
  "configMapGenerator",
  "generatorOptions",
  "patches",
]);
const CLUSTER_SCOPED = new Set([
  "Namespace",
  "ClusterRole",
  "ClusterRoleBinding",
  "CustomResourceDefinition",
  "RuntimeClass",
  "PriorityClass",
]);

type Json = Record<string, unknown>;
const isMap = (x: unknown): x is Json => typeof x === "object" && x !== null && !Array.isArray(x);

const isNamedList = (x: unknown): x is Json[] =>
  Array.isArray(x) && x.every((item) => isMap(item) && typeof item["name"] === "string");

/**
 * Strategic merge of a list keyed by `name` (containers, env, ports, volumes, volumeMounts): items
 * of the patch merge into the base item of the same name; new ones come first, as kustomize puts them.
 */
function mergeNamed(base: Json[], patch: Json[]): Json[] {
  const patchByName = new Map(patch.map((item) => [item["name"], item]));
  const baseNames = new Set(base.map((item) => item["name"]));
  const added = patch.filter((item) => !baseNames.has(item["name"])).map((item) => structuredClone(item));
  return [
    ...added,
    ...base.map((item) =>
      patchByName.has(item["name"]) ? (merge(item, patchByName.get(item["name"])) as Json) : item,
    ),
  ];
}

function merge(base: unknown, patch: unknown): unknown {
  if (isNamedList(base) && isNamedList(patch)) return mergeNamed(base, patch);
  if (!isMap(base) || !isMap(patch)) return structuredClone(patch);
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(patch))
    out[key] = key in base ? merge(base[key], value) : structuredClone(value);
  return out;
}

function readYamlObjects(path: string): BuiltObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
      return doc.toJS() as BuiltObject | null;
    })
    .filter((o): o is BuiltObject => o !== null);
}

/** Builds the kustomization in `dir` into its objects, in kustomize's resource order. */
export function buildKustomization(dir: string): BuiltObject[] {
  const file = join(dir, "kustomization.yaml");
  const k = parse(readFileSync(file, "utf8")) as Json;
  for (const key of Object.keys(k))
    if (!KNOWN.has(key)) throw new Error(`${file}: kustomization field "${key}" is not supported by the test builder`);
  let objects: BuiltObject[] = [];
  for (const entry of (k["resources"] as string[] | undefined) ?? []) {
    const path = resolve(dir, entry);
    objects.push(...(statSync(path).isDirectory() ? buildKustomization(path) : readYamlObjects(path)));
  }
  const options = (k["generatorOptions"] as Json | undefined) ?? {};
  for (const key of Object.keys(options))
    if (key !== "labels" && key !== "disableNameSuffixHash")
      throw new Error(`${file}: generatorOptions.${key} is not supported`);
  if (k["configMapGenerator"] !== undefined && options["disableNameSuffixHash"] !== true)
    throw new Error(`${file}: generated names need disableNameSuffixHash (the test builder does not hash)`);
  for (const generator of (k["configMapGenerator"] as Json[] | undefined) ?? []) {
    for (const key of Object.keys(generator))
      if (key !== "name" && key !== "files") throw new Error(`${file}: configMapGenerator.${key} is not supported`);
    const data: Record<string, string> = {};
    for (const f of generator["files"] as string[]) data[basename(f)] = readFileSync(resolve(dir, f), "utf8");
    const labels = options["labels"] as Record<string, string> | undefined;
    objects.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: generator["name"] as string, ...(labels ? { labels: { ...labels } } : {}) },
      data,
    });
  }
  for (const patch of (k["patches"] as Json[] | undefined) ?? []) {
    const target = patch["target"] as Json | undefined;
    if (typeof patch["path"] !== "string" || !isMap(target))
      throw new Error(`${file}: only patches with a path and a target are supported`);
    const body = parse(readFileSync(resolve(dir, patch["path"]), "utf8")) as Json;
    let hits = 0;
    objects = objects.map((o) => {
      if (o.kind !== target["kind"] || o.metadata.name !== target["name"]) return o;
      hits++;
      return merge(o, body) as BuiltObject;
    });
    if (hits !== 1) throw new Error(`${file}: patch ${patch["path"]} matched ${hits} objects`);
  }
  for (const entry of (k["labels"] as Json[] | undefined) ?? []) {
    if (entry["includeSelectors"] !== false) throw new Error(`${file}: labels must set includeSelectors: false`);
    objects = objects.map((o) => ({
      ...o,
      metadata: {
        ...o.metadata,
        labels: { ...(o.metadata.labels ?? {}), ...(entry["pairs"] as Record<string, string>) },
      },
    }));
  }
  const namespace = k["namespace"] as string | undefined;
  if (namespace !== undefined)
    objects = objects.map((o) => (CLUSTER_SCOPED.has(o.kind) ? o : { ...o, metadata: { ...o.metadata, namespace } }));
  return objects;
}
