/**
 * deploy/: every object validates against the Kubernetes (kubernetes-models) and Prometheus
 * Operator schemas, kustomize builds it, and every setting, port, path and probe in the workloads
 * is checked against the program's own option table and defaults, so the manifests cannot drift
 * from the code.
 */
import { existsSync, readdirSync } from "node:fs";
import { basename, dirname } from "node:path";
import { DaemonSet, Deployment } from "kubernetes-models/apps/v1";
import { ConfigMap, Namespace, Service, ServiceAccount } from "kubernetes-models/v1";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1";
import { ClusterRole, ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1";
import { PrometheusRule, ServiceMonitor } from "@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../../common/config/load.js";
import { CONFIG_FLAG, envName, OPTIONS, type CommandName } from "../../common/config/options.js";
import type { Config } from "../../common/config/schema.js";
import { projectPath } from "../../common/paths.js";
import {
  find,
  kustomize,
  literalEnv,
  manifestFiles,
  mountOf,
  podSpec,
  readObjects,
  type Container,
  type KubeObject,
  type PodSpec,
} from "./manifests.js";

/** One schema class per kind deploy/ may hold; anything else fails the suite. */
const MODELS: Readonly<Record<string, new (data: never) => { validate(): void }>> = {
  Namespace,
  ServiceAccount,
  Service,
  ConfigMap,
  DaemonSet,
  Deployment,
  NetworkPolicy,
  ClusterRole,
  ClusterRoleBinding,
  ServiceMonitor,
  PrometheusRule,
};

function validate(object: KubeObject): void {
  const Model = MODELS[object.kind];
  if (!Model) throw new Error(`${object.kind} ${object.metadata.name}: no schema for this kind`);
  new Model(object as never).validate();
}

const files = manifestFiles();
const objects = files.flatMap((file) => readObjects(file));
const agentSet = find(objects, "DaemonSet", "inferwatch-agent");
const analyzerDeployment = find(objects, "Deployment", "inferwatch-analyzer");

describe("schemas", () => {
  it("deploy/ holds the workloads, services, RBAC, policies and monitoring objects", () => {
    expect(new Set(objects.map((o) => o.kind))).toEqual(
      new Set([
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "DaemonSet",
        "Service",
        "Deployment",
        "NetworkPolicy",
        "ServiceMonitor",
      ]),
    );
  });

  it.each(objects.map((object) => [`${object.kind} ${object.metadata.name}`, object] as const))(
    "%s validates",
    (_name, object) => {
      expect(() => validate(object)).not.toThrow();
    },
  );

  it("a broken object fails validation (the check can fail)", () => {
    const broken = { ...agentSet, spec: { ...(agentSet["spec"] as object), selector: "everything" } } as KubeObject;
    expect(() => validate(broken)).toThrow();
  });

  it("the generated PrometheusRule the kustomization references validates", () => {
    for (const rule of readObjects(projectPath("alerts/generated/prometheus-rule.yaml")))
      expect(() => validate(rule)).not.toThrow();
  });
});

describe("kustomize (the subset deploy/ uses: test/deploy/kustomize-subset.ts)", () => {
  it("builds deploy/ into valid objects, with the rules and one ConfigMap per generated dashboard, in namespace inferwatch", () => {
    const built = kustomize(".");
    for (const object of built) expect(() => validate(object)).not.toThrow();
    expect(built.filter((o) => o.kind === "PrometheusRule").map((o) => o.metadata.name)).toEqual(["inferwatch"]);
    const dashboards = built.filter((o) => o.kind === "ConfigMap" && o.metadata.labels?.["grafana_dashboard"] === "1");
    expect(dashboards).toHaveLength(5);
    for (const map of dashboards)
      expect(JSON.parse(Object.values(map["data"] as Record<string, string>)[0] as string)).toHaveProperty("panels");
    expect(
      built
        .filter((o) => o.kind !== "Namespace" && !o.kind.startsWith("Cluster"))
        .every((o) => o.metadata.namespace === "inferwatch"),
    ).toBe(true);
  });

  it("sets hostPID only in the process-mapping overlay", () => {
    expect(podSpec(find(kustomize("base"), "DaemonSet", "inferwatch-agent")).hostPID).toBeUndefined();
    expect(podSpec(find(kustomize("overlays/process-mapping"), "DaemonSet", "inferwatch-agent")).hostPID).toBe(true);
  });

  it("asks for the MIG monitor capability only in the mig-monitor overlay, with the CAP_SYS_ADMIN the NVIDIA toolkit requires for it", () => {
    const agentOf = (dir: string) => {
      const container = podSpec(find(kustomize(dir), "DaemonSet", "inferwatch-agent")).containers?.find(
        (c) => c.name === "agent",
      );
      if (!container) throw new Error(`${dir}: no agent container`);
      return container;
    };
    const base = agentOf("base");
    expect(literalEnv(base)["NVIDIA_MIG_MONITOR_DEVICES"]).toBeUndefined();
    expect(JSON.stringify(base.securityContext)).not.toContain("SYS_ADMIN");
    const mig = agentOf("overlays/mig-monitor");
    expect(literalEnv(mig)).toMatchObject({
      NVIDIA_MIG_MONITOR_DEVICES: "all",
      NVIDIA_VISIBLE_DEVICES: "all",
      INFERWATCH_METRICS_ADDR: "0.0.0.0:9464",
    });
    expect(mig.securityContext).toMatchObject({
      capabilities: { add: ["SYS_ADMIN"], drop: ["ALL"] },
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
    });
  });
});

/** The configuration the program builds from a container's args and INFERWATCH_* variables. */
function programConfig(container: Container, command: CommandName): Config {
  const args = container.args ?? [];
  expect(args[0]).toBe(command);
  const flags: Record<string, string> = {};
  for (let i = 1; i < args.length; i++) {
    const [flag, inline] = (args[i] as string).replace(/^--/, "").split("=", 2) as [string, string | undefined];
    const option = OPTIONS.find((o) => o.flag === flag && o.commands.includes(command));
    expect(option, `--${flag} is a flag of inferwatch ${command}`).toBeDefined();
    flags[(option as { path: string }).path] = inline ?? (args[++i] as string);
  }
  const env = literalEnv(container);
  for (const name of Object.keys(env).filter((n) => n.startsWith("INFERWATCH_"))) {
    const known =
      name === envName(CONFIG_FLAG) || OPTIONS.some((o) => envName(o.flag) === name && o.commands.includes(command));
    expect(known, `${name} is a setting of inferwatch ${command}`).toBe(true);
  }
  const result = loadConfig({ flags, env: { ...env, NODE_NAME: "gpu-node-1" } });
  if (!result.ok) throw new Error(`the manifest's settings do not load:\n${result.problems.join("\n")}`);
  return result.config;
}

function portNumber(container: Container, name: string | number): number {
  if (typeof name === "number") return name;
  const port = (container.ports ?? []).find((p) => p.name === name);
  if (!port) throw new Error(`${container.name} has no port named ${name}`);
  return port.containerPort;
}

/** Secret-mounted, read-only: where the program reads a certificate, key or token file. */
function expectSecretFile(spec: PodSpec, container: Container, file: string): void {
  const { mount, volume } = mountOf(spec, container, file);
  expect(mount?.readOnly, `${file} is on a read-only mount`).toBe(true);
  expect(volume?.secret?.secretName, `${file} comes from a Secret`).toBeTruthy();
}

function expectHardened(container: Container): void {
  expect(container.securityContext).toMatchObject({
    readOnlyRootFilesystem: true,
    allowPrivilegeEscalation: false,
    capabilities: { drop: ["ALL"] },
  });
}

describe("the drift check itself", () => {
  it.each([
    [
      "a misspelt variable",
      { name: "agent", args: ["agent"], env: [{ name: "INFERWATCH_METRICS_ADRR", value: "0.0.0.0:9464" }] },
    ],
    [
      "an analyzer variable on the agent",
      { name: "agent", args: ["agent"], env: [{ name: "INFERWATCH_AUDIT_LOG", value: "/x" }] },
    ],
    ["an unknown flag", { name: "agent", args: ["agent", "--metrics-port", "9464"] }],
    [
      "a value the schema refuses",
      { name: "agent", args: ["agent"], env: [{ name: "INFERWATCH_TLS_CERT_FILE", value: "/only/a/cert" }] },
    ],
  ])("fails on %s", (_name, container) => {
    expect(() => programConfig(container as Container, "agent")).toThrow();
  });
});

describe("the agent DaemonSet against the program", () => {
  const spec = podSpec(agentSet);
  const container = spec.containers[0] as Container;
  const config = programConfig(container, "agent");

  it("its ports are the listen ports the program binds", () => {
    expect(portNumber(container, "metrics")).toBe(config.agent.metricsAddr.port);
    expect(portNumber(container, "otlp-http")).toBe(config.agent.otlp.httpAddr.port);
    expect(portNumber(container, "otlp-grpc")).toBe(config.agent.otlp.grpcAddr.port);
  });

  it("mounts the kubelet pod-resources directory read-only, where the program looks for the socket", () => {
    const socketDir = dirname(config.agent.pods.podResourcesSocket);
    const { mount, volume } = mountOf(spec, container, config.agent.pods.podResourcesSocket);
    expect(mount).toMatchObject({ mountPath: socketDir, readOnly: true });
    expect(volume?.hostPath?.path).toBe("/var/lib/kubelet/pod-resources");
  });

  it("serves TLS and requires tokens, from Secret-mounted files", () => {
    expect(config.tls.listeners).toContain("metrics");
    expectSecretFile(spec, container, config.tls.certFile);
    expectSecretFile(spec, container, config.tls.keyFile);
    expectSecretFile(spec, container, config.auth.tokenFile);
  });

  it.each([
    ["liveness", "livenessProbe", "/healthz"],
    ["readiness", "readinessProbe", "/readyz"],
  ] as const)("its %s probe asks the metrics listener for %s, over HTTPS as it serves", (_name, key, path) => {
    const probe = container[key];
    expect(probe?.httpGet.path).toBe(path);
    expect(portNumber(container, probe?.httpGet.port ?? "")).toBe(config.agent.metricsAddr.port);
    expect(probe?.httpGet.scheme).toBe(
      config.tls.certFile !== "" && config.tls.listeners.includes("metrics") ? "HTTPS" : "HTTP",
    );
  });

  it("takes NODE_NAME from the downward API and makes NVML visible through the NVIDIA runtime", () => {
    expect(container.env?.find((e) => e.name === "NODE_NAME")?.valueFrom?.fieldRef?.fieldPath).toBe("spec.nodeName");
    expect(literalEnv(container)).toMatchObject({
      NVIDIA_VISIBLE_DEVICES: "all",
      NVIDIA_DRIVER_CAPABILITIES: "utility",
    });
    expect(spec.runtimeClassName).toBe("nvidia");
    expect(container.resources?.limits?.["nvidia.com/gpu"]).toBeUndefined();
  });

  it("runs on GPU nodes only, through their GPU taints", () => {
    const terms = spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms ?? [];
    expect(terms.flatMap((t) => t.matchExpressions ?? [])).toContainEqual({
      key: "nvidia.com/gpu.present",
      operator: "In",
      values: ["true"],
    });
    expect(spec.tolerations).toContainEqual({ key: "nvidia.com/gpu", operator: "Exists", effect: "NoSchedule" });
  });

  it("is hardened, without hostPID in the base, and sized from the RSS benchmark (~95 MiB)", () => {
    expectHardened(container);
    expect(spec.hostPID).toBeUndefined();
    expect(container.resources).toMatchObject({ requests: { memory: "128Mi" }, limits: { memory: "256Mi" } });
  });
});

describe("the analyzer Deployment against the program", () => {
  const spec = podSpec(analyzerDeployment);
  const container = spec.containers[0] as Container;
  const config = programConfig(container, "analyzer");

  it("listens on its container port, reads Prometheus, and runs as non-root without an API token", () => {
    expect(portNumber(container, "api")).toBe(config.analyzer.listen.port);
    expect(config.analyzer.source).toMatch(/^prometheus=/);
    expect(spec.securityContext).toMatchObject({ runAsNonRoot: true });
    expect(
      (analyzerDeployment["spec"] as { template: { spec: { automountServiceAccountToken?: boolean } } }).template.spec
        .automountServiceAccountToken,
    ).toBe(false);
    expectHardened(container);
  });

  it("serves TLS and tokens from Secrets and writes its audit log to a writable volume", () => {
    expectSecretFile(spec, container, config.tls.certFile);
    expectSecretFile(spec, container, config.auth.tokenFile);
    const { mount, volume } = mountOf(spec, container, config.auth.auditLog);
    expect(mount?.readOnly).not.toBe(true);
    expect(volume?.emptyDir).toBeDefined();
  });

  it.each([
    ["livenessProbe", "/healthz"],
    ["readinessProbe", "/readyz"],
  ] as const)("its %s asks for %s over HTTPS on the API port", (key, path) => {
    expect(container[key]?.httpGet).toMatchObject({ path, scheme: "HTTPS" });
    expect(portNumber(container, container[key]?.httpGet.port ?? "")).toBe(config.analyzer.listen.port);
  });
});

describe("services, monitors and policies point at real ports", () => {
  const agent = podSpec(agentSet).containers[0] as Container;
  const analyzer = podSpec(analyzerDeployment).containers[0] as Container;
  const containerOf = (selector: Record<string, string>) =>
    selector["app.kubernetes.io/name"] === "inferwatch-agent" ? agent : analyzer;

  it.each(objects.filter((o) => o.kind === "Service").map((o) => [o.metadata.name, o] as const))(
    "Service %s targets named container ports",
    (_name, service) => {
      const spec = service["spec"] as { selector: Record<string, string>; ports: { targetPort: string }[] };
      for (const port of spec.ports)
        expect(() => portNumber(containerOf(spec.selector), port.targetPort)).not.toThrow();
    },
  );

  it("the agent Service is named as the job the generated alerts expect", () => {
    const rules = readObjects(projectPath("alerts/generated/prometheus-rule.yaml"));
    expect(JSON.stringify(rules)).toContain('job=\\"inferwatch-agent\\"');
    expect(find(objects, "Service", "inferwatch-agent")).toBeDefined();
  });

  it.each(objects.filter((o) => o.kind === "ServiceMonitor").map((o) => [o.metadata.name, o] as const))(
    "ServiceMonitor %s scrapes /metrics over HTTPS on a port its Service has",
    (name, monitor) => {
      const service = find(objects, "Service", name);
      const ports = (service["spec"] as { ports: { name: string }[] }).ports.map((p) => p.name);
      for (const endpoint of (monitor["spec"] as { endpoints: { port: string; path: string; scheme: string }[] })
        .endpoints) {
        expect(ports).toContain(endpoint.port);
        expect([endpoint.path, endpoint.scheme]).toEqual(["/metrics", "https"]);
      }
    },
  );

  it("NetworkPolicies open only the OTLP ports to runtime namespaces and metrics to Prometheus", () => {
    const policy = find(objects, "NetworkPolicy", "inferwatch-agent")["spec"] as {
      ingress: { from: Record<string, { matchLabels: Record<string, string> }>[]; ports: { port: string }[] }[];
    };
    const byPeer = policy.ingress.map((rule) => [
      JSON.stringify(rule.from),
      rule.ports
        .map((p) => {
          portNumber(agent, p.port);
          return p.port;
        })
        .sort(),
    ]);
    expect(byPeer).toEqual([
      [
        JSON.stringify([{ namespaceSelector: { matchLabels: { "inferwatch.io/runtime": "true" } } }]),
        ["otlp-grpc", "otlp-http"],
      ],
      [
        JSON.stringify([
          {
            namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "monitoring" } },
            podSelector: { matchLabels: { "app.kubernetes.io/name": "prometheus" } },
          },
        ]),
        ["metrics"],
      ],
    ]);
  });

  it("ships every generated dashboard as a ConfigMap", () => {
    const [monitoring] = readObjects(projectPath("deploy/monitoring/kustomization.yaml")) as unknown as {
      configMapGenerator: { files: string[] }[];
    }[];
    const shipped = (monitoring?.configMapGenerator ?? []).flatMap((g) => g.files.map((file) => basename(file))).sort();
    expect(shipped).toEqual(
      readdirSync(projectPath("dashboards/generated"))
        .filter((file) => file.endsWith(".json"))
        .sort(),
    );
  });

  it("every file the kustomizations name exists", () => {
    for (const dir of ["", "base", "monitoring", "overlays/process-mapping", "overlays/mig-monitor"]) {
      const [kustomization] = readObjects(projectPath("deploy", dir, "kustomization.yaml")) as unknown as {
        resources?: string[];
        patches?: { path: string }[];
        configMapGenerator?: { files: string[] }[];
      }[];
      const named = [
        ...(kustomization?.resources ?? []),
        ...(kustomization?.patches ?? []).map((p) => p.path),
        ...(kustomization?.configMapGenerator ?? []).flatMap((g) => g.files),
      ];
      for (const path of named)
        expect(existsSync(projectPath("deploy", dir, path)), `deploy/${dir}: ${path}`).toBe(true);
    }
  });
});
