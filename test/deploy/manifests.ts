/** Reading deploy/: its YAML files, kustomize builds, and the pieces of a workload the checks look at. */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { projectPath } from "../../common/paths.js";
import { buildKustomization } from "./kustomize-subset.js";

/** A Kubernetes object as parsed from YAML. */
export type KubeObject = {
  readonly apiVersion: string;
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string; readonly labels?: Record<string, string> };
  readonly [key: string]: unknown;
};

export const DEPLOY_DIR = projectPath("deploy");

/** Every YAML file under deploy/ but the kustomization and patch files. */
export function manifestFiles(dir = DEPLOY_DIR): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return manifestFiles(path);
    return /\.ya?ml$/.test(entry) && entry !== "kustomization.yaml" && !path.includes(join("overlays", ""))
      ? [path]
      : [];
  });
}

/** The objects of a multi-document YAML file; fails on a YAML error. */
export function readObjects(path: string): KubeObject[] {
  return parseAllDocuments(readFileSync(path, "utf8"))
    .map((doc) => {
      if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join("; ")}`);
      return doc.toJS() as KubeObject;
    })
    .filter((object) => object !== null);
}

/** Builds a directory under deploy/ (files outside deploy/ allowed: the generated rules and dashboards). */
export function kustomize(dir: string): KubeObject[] {
  return buildKustomization(join(DEPLOY_DIR, dir));
}

/** The parts of a pod spec the drift checks read. */
export interface Container {
  readonly name: string;
  readonly args?: string[];
  readonly env?: { name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[];
  readonly ports?: { name: string; containerPort: number }[];
  readonly volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
  readonly livenessProbe?: Probe;
  readonly readinessProbe?: Probe;
  readonly resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readonly securityContext?: Record<string, unknown>;
}
export interface Probe {
  readonly httpGet: { path: string; port: string | number; scheme?: string };
}
export interface PodSpec {
  readonly containers: Container[];
  readonly volumes?: {
    name: string;
    hostPath?: { path: string };
    secret?: { secretName: string };
    emptyDir?: object;
  }[];
  readonly hostPID?: boolean;
  readonly tolerations?: { key?: string; operator?: string; effect?: string }[];
  readonly affinity?: {
    nodeAffinity?: {
      requiredDuringSchedulingIgnoredDuringExecution?: {
        nodeSelectorTerms: { matchExpressions?: { key: string; operator: string; values?: string[] }[] }[];
      };
    };
  };
  readonly securityContext?: Record<string, unknown>;
  readonly runtimeClassName?: string;
}

/** The pod spec of a DaemonSet or Deployment. */
export function podSpec(object: KubeObject): PodSpec {
  return (object["spec"] as { template: { spec: PodSpec } }).template.spec;
}

/** The first object of `kind` named `name` among `objects`. */
export function find(objects: readonly KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((object) => object.kind === kind && object.metadata.name === name);
  if (!found) throw new Error(`no ${kind} ${name}`);
  return found;
}

/** The literal environment of a container (valueFrom entries left out). */
export function literalEnv(container: Container): Record<string, string> {
  return Object.fromEntries(
    (container.env ?? []).filter((e) => e.value !== undefined).map((e) => [e.name, e.value as string]),
  );
}

/** The volume mount whose path holds `file`, with its volume. */
export function mountOf(spec: PodSpec, container: Container, file: string) {
  const mount = (container.volumeMounts ?? []).find((m) => file === m.mountPath || file.startsWith(`${m.mountPath}/`));
  const volume = mount ? (spec.volumes ?? []).find((v) => v.name === mount.name) : undefined;
  return { mount, volume };
}
