// Checks manifests rendered by `helm template` from deploy/helm/stepwise (scripts/helm-check.sh
// renders them). Usage: node scripts/helm-check.mjs NAME=FILE... where NAME is the values file's
// base name in deploy/helm/stepwise/ci (it selects the checks specific to that variant).
// Prints one line per failed assertion and exits 1 if there was any.
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';

const SERVICES = ['gateway', 'resolver', 'runner'];
// The variables that carry credentials: in the Secret, never in a ConfigMap.
const MASTER_KEYS = ['SECRETS_MASTER_KEY', 'SECRETS_PREVIOUS_MASTER_KEY'];
const SECRET_VARIABLES = ['MONGO_URL', 'REDIS_URL', 'ADMIN_TOKEN', 'LLM_API_KEY', ...MASTER_KEYS];
// Which secrets each service must get from the Secret (the others it must not get).
const SECRETS_OF = {
  gateway: ['MONGO_URL', 'REDIS_URL', 'ADMIN_TOKEN', ...MASTER_KEYS],
  resolver: ['MONGO_URL', 'REDIS_URL'],
  runner: ['MONGO_URL', 'REDIS_URL', 'LLM_API_KEY', ...MASTER_KEYS],
};
const OPTIONAL_SECRETS = new Set(['LLM_API_KEY', ...MASTER_KEYS]);

let failures = 0;

function check(variant, condition, message) {
  if (!condition) {
    failures += 1;
    console.error(`FAIL [${variant}] ${message}`);
  }
  return Boolean(condition);
}

function parseManifests(variant, file) {
  const documents = parseAllDocuments(readFileSync(file, 'utf8'));
  const objects = [];
  for (const document of documents) {
    for (const error of document.errors) check(variant, false, `YAML error: ${error.message}`);
    const object = document.toJS();
    if (object === null || object === undefined) continue;
    objects.push(object);
  }
  return objects;
}

const isRecord = (value) => typeof value === 'object' && value !== null && !Array.isArray(value);

function matches(selector, labels) {
  return (
    isRecord(selector) &&
    Object.keys(selector).length > 0 &&
    Object.entries(selector).every(([key, value]) => labels?.[key] === value)
  );
}

function hasProbeHandler(probe) {
  return (
    isRecord(probe) &&
    (isRecord(probe.httpGet) || isRecord(probe.exec) || isRecord(probe.tcpSocket))
  );
}

function hasCpuAndMemory(quantities) {
  return isRecord(quantities) && quantities.cpu !== undefined && quantities.memory !== undefined;
}

function checkVariant(variant, objects) {
  const byKind = (kind) => objects.filter((object) => object.kind === kind);
  const component = (object) => object.metadata?.labels?.['app.kubernetes.io/component'];

  // Every object is named, and no two of one kind share a name.
  const seen = new Set();
  for (const object of objects) {
    const id = `${object.kind}/${object.metadata?.name}`;
    check(
      variant,
      object.apiVersion && object.kind && object.metadata?.name,
      `${id} lacks apiVersion, kind or name`,
    );
    check(variant, !seen.has(id), `${id} is rendered twice`);
    seen.add(id);
  }

  const configMaps = new Map(byKind('ConfigMap').map((object) => [object.metadata.name, object]));
  const secrets = byKind('Secret');
  check(variant, secrets.length <= 1, `expected at most one Secret, got ${secrets.length}`);
  const secret = secrets[0];
  const secretValues = new Map(
    Object.entries(secret?.data ?? {}).map(([key, value]) => [
      key,
      Buffer.from(String(value), 'base64').toString('utf8'),
    ]),
  );
  if (secret) {
    for (const name of ['MONGO_URL', 'REDIS_URL', 'ADMIN_TOKEN']) {
      check(variant, secretValues.get(name), `Secret ${secret.metadata.name} has no ${name}`);
    }
  }

  // No secret in any ConfigMap: neither a secret's variable nor a secret's value, nor a URL with
  // credentials in it.
  for (const configMap of configMaps.values()) {
    const where = `ConfigMap ${configMap.metadata.name}`;
    for (const [key, value] of Object.entries(configMap.data ?? {})) {
      check(variant, typeof value === 'string', `${where}: ${key} is not a string`);
      check(variant, !SECRET_VARIABLES.includes(key), `${where} holds the secret ${key}`);
      check(
        variant,
        !/^[a-z+]+:\/\/[^/@\s]*:[^/@\s]*@/i.test(String(value)),
        `${where}: ${key} is a URL with credentials`,
      );
      check(
        variant,
        !/^-?\d+(\.\d+)?e[+-]?\d+$/i.test(String(value)),
        `${where}: ${key} is rendered in exponent form (${value})`,
      );
      for (const [secretKey, secretValue] of secretValues) {
        check(
          variant,
          secretValue.length < 8 || !String(value).includes(secretValue),
          `${where}: ${key} contains the value of the Secret's ${secretKey}`,
        );
      }
    }
  }

  // Three Deployments, one per service.
  const deployments = new Map();
  for (const deployment of byKind('Deployment')) deployments.set(component(deployment), deployment);
  check(
    variant,
    byKind('Deployment').length === 3,
    `expected 3 Deployments, got ${byKind('Deployment').length}`,
  );
  const secretRefNames = new Set();

  for (const service of SERVICES) {
    const deployment = deployments.get(service);
    if (!check(variant, deployment, `no Deployment for the ${service}`)) continue;
    const where = `Deployment ${deployment.metadata.name}`;
    const pod = deployment.spec?.template?.spec ?? {};
    const podLabels = deployment.spec?.template?.metadata?.labels ?? {};
    check(
      variant,
      matches(deployment.spec?.selector?.matchLabels, podLabels),
      `${where}: its selector does not match its pod labels`,
    );
    check(
      variant,
      deployment.spec?.template?.metadata?.annotations?.['checksum/config'],
      `${where}: no checksum/config annotation (a config change would not roll the pods)`,
    );
    if (secret) {
      check(
        variant,
        deployment.spec?.template?.metadata?.annotations?.['checksum/secret'],
        `${where}: no checksum/secret annotation`,
      );
    }

    const containers = pod.containers ?? [];
    const container = containers.find((c) => c.name === service);
    if (!check(variant, container, `${where}: no container named ${service}`)) continue;
    const at = `${where}, container ${service}`;
    check(
      variant,
      container.command?.join(' ').includes(`services/${service}/dist/main.js`),
      `${at}: does not start services/${service}/dist/main.js`,
    );

    // Probes.
    check(variant, hasProbeHandler(container.livenessProbe), `${at}: no livenessProbe`);
    check(variant, hasProbeHandler(container.readinessProbe), `${at}: no readinessProbe`);
    const portNames = new Set((container.ports ?? []).map((port) => port.name));
    const portNumbers = new Set((container.ports ?? []).map((port) => port.containerPort));
    for (const [kind, probe] of Object.entries({
      startupProbe: container.startupProbe,
      livenessProbe: container.livenessProbe,
      readinessProbe: container.readinessProbe,
    })) {
      if (!isRecord(probe)) continue;
      if (probe.httpGet) {
        check(
          variant,
          portNames.has(probe.httpGet.port) || portNumbers.has(probe.httpGet.port),
          `${at}: ${kind} uses port ${probe.httpGet.port}, which the container does not declare`,
        );
      }
    }

    // Resources.
    check(
      variant,
      hasCpuAndMemory(container.resources?.requests),
      `${at}: no cpu and memory requests`,
    );
    check(variant, hasCpuAndMemory(container.resources?.limits), `${at}: no cpu and memory limits`);

    // Environment: its ConfigMap, and the secrets it needs by key.
    const configMapRefs = (container.envFrom ?? [])
      .map((source) => source.configMapRef?.name)
      .filter(Boolean);
    check(variant, configMapRefs.length > 0, `${at}: no envFrom of a ConfigMap`);
    for (const name of configMapRefs) {
      check(
        variant,
        configMaps.has(name),
        `${at}: envFrom names ConfigMap ${name}, which is not rendered`,
      );
    }
    const configData = Object.assign(
      {},
      ...configMapRefs.map((name) => configMaps.get(name)?.data ?? {}),
    );
    const env = new Map((container.env ?? []).map((entry) => [entry.name, entry]));
    for (const entry of container.env ?? []) {
      check(
        variant,
        !(SECRET_VARIABLES.includes(entry.name) && entry.value !== undefined),
        `${at}: ${entry.name} is given as a plain value`,
      );
    }
    for (const name of SECRET_VARIABLES) {
      const ref = env.get(name)?.valueFrom?.secretKeyRef;
      if (!SECRETS_OF[service].includes(name)) {
        check(variant, !ref, `${at}: gets ${name}, which the ${service} does not use`);
        continue;
      }
      if (!check(variant, ref?.name && ref?.key, `${at}: ${name} does not come from a Secret`))
        continue;
      secretRefNames.add(ref.name);
      if (secret) {
        check(
          variant,
          ref.name === secret.metadata.name,
          `${at}: ${name} names Secret ${ref.name}, not the chart's ${secret.metadata.name}`,
        );
        if (!OPTIONAL_SECRETS.has(name) || !ref.optional) {
          check(
            variant,
            secretValues.has(ref.key),
            `${at}: ${name} names key ${ref.key}, which the Secret lacks`,
          );
        }
      }
      check(
        variant,
        !OPTIONAL_SECRETS.has(name) || ref.optional === true,
        `${at}: ${name} must be optional`,
      );
      check(
        variant,
        OPTIONAL_SECRETS.has(name) || !ref.optional,
        `${at}: ${name} must not be optional`,
      );
    }
    check(
      variant,
      ['true', 'false'].includes(configData.REDIS_CLUSTER),
      `${at}: REDIS_CLUSTER is not "true" or "false" in its ConfigMap`,
    );

    // The heartbeat the worker probes read is the file the worker writes.
    if (service !== 'gateway') {
      for (const kind of ['livenessProbe', 'readinessProbe']) {
        const command = container[kind]?.exec?.command ?? [];
        check(
          variant,
          command.includes(configData.HEARTBEAT_FILE) &&
            command.join(' ').includes('healthcheck.mjs'),
          `${at}: ${kind} does not check HEARTBEAT_FILE (${configData.HEARTBEAT_FILE}) with healthcheck.mjs`,
        );
      }
    } else {
      check(
        variant,
        container.livenessProbe?.httpGet?.path === '/healthz',
        `${at}: livenessProbe is not GET /healthz`,
      );
      check(
        variant,
        container.readinessProbe?.httpGet?.path === '/readyz',
        `${at}: readinessProbe is not GET /readyz`,
      );
      check(
        variant,
        portNumbers.has(Number(configData.PORT)),
        `${at}: PORT ${configData.PORT} is not a container port`,
      );
    }

    // Shutdown: the pod's grace outlasts the service's own drain timeout.
    const shutdownMs = Number(configData.SHUTDOWN_TIMEOUT_MS);
    check(
      variant,
      Number.isFinite(shutdownMs) && pod.terminationGracePeriodSeconds * 1000 > shutdownMs,
      `${at}: terminationGracePeriodSeconds (${pod.terminationGracePeriodSeconds}) is not longer than SHUTDOWN_TIMEOUT_MS (${configData.SHUTDOWN_TIMEOUT_MS})`,
    );

    // Security: not root, read-only root filesystem with a writable /tmp.
    const runAsNonRoot =
      container.securityContext?.runAsNonRoot ?? pod.securityContext?.runAsNonRoot;
    check(variant, runAsNonRoot === true, `${at}: runAsNonRoot is not true`);
    check(
      variant,
      container.securityContext?.allowPrivilegeEscalation === false,
      `${at}: allowPrivilegeEscalation is not false`,
    );
    if (container.securityContext?.readOnlyRootFilesystem) {
      const tmp = (container.volumeMounts ?? []).find((mount) => mount.mountPath === '/tmp');
      check(
        variant,
        tmp && (pod.volumes ?? []).some((volume) => volume.name === tmp.name && volume.emptyDir),
        `${at}: read-only root filesystem without an emptyDir at /tmp (the heartbeat is written there)`,
      );
    }
    check(
      variant,
      pod.automountServiceAccountToken === false,
      `${where}: mounts a service account token it never uses`,
    );

    // A PodDisruptionBudget per service, unless the variant switches it off.
    const pdbs = byKind('PodDisruptionBudget').filter((pdb) =>
      matches(pdb.spec?.selector?.matchLabels, podLabels),
    );
    const pdbOff = variant === 'full-values' && service === 'resolver';
    if (pdbOff) {
      check(
        variant,
        pdbs.length === 0,
        `a PodDisruptionBudget for the ${service}, which this variant switches off`,
      );
    } else if (
      check(
        variant,
        pdbs.length === 1,
        `expected one PodDisruptionBudget for the ${service}, got ${pdbs.length}`,
      )
    ) {
      const { minAvailable, maxUnavailable } = pdbs[0].spec;
      check(
        variant,
        (minAvailable === undefined) !== (maxUnavailable === undefined),
        `PodDisruptionBudget ${pdbs[0].metadata.name}: needs exactly one of minAvailable and maxUnavailable`,
      );
      const hpa = byKind('HorizontalPodAutoscaler').find(
        (h) => h.spec?.scaleTargetRef?.name === deployment.metadata.name,
      );
      const replicas = hpa ? hpa.spec.minReplicas : (deployment.spec.replicas ?? 1);
      if (typeof minAvailable === 'number') {
        check(
          variant,
          minAvailable < replicas,
          `PodDisruptionBudget ${pdbs[0].metadata.name}: minAvailable ${minAvailable} with ${replicas} replicas blocks every eviction`,
        );
      }
      if (typeof maxUnavailable === 'number') {
        check(
          variant,
          maxUnavailable > 0,
          `PodDisruptionBudget ${pdbs[0].metadata.name}: maxUnavailable 0 blocks every eviction`,
        );
      }
    }
  }

  if (!secret) {
    check(
      variant,
      secretRefNames.size === 1,
      `without the chart's Secret, every secret must come from one existing Secret (got ${[...secretRefNames].join(', ') || 'none'})`,
    );
  }

  // A Service for the gateway, selecting its pods and reaching its HTTP port.
  const gateway = deployments.get('gateway');
  const gatewayPodLabels = gateway?.spec?.template?.metadata?.labels ?? {};
  const gatewayPorts = gateway?.spec?.template?.spec?.containers?.[0]?.ports ?? [];
  const gatewayServices = byKind('Service').filter((service) =>
    matches(service.spec?.selector, gatewayPodLabels),
  );
  if (
    check(
      variant,
      gatewayServices.length === 1,
      `expected one Service for the gateway, got ${gatewayServices.length}`,
    )
  ) {
    const [service] = gatewayServices;
    for (const port of service.spec.ports ?? []) {
      check(
        variant,
        gatewayPorts.some((p) => p.name === port.targetPort || p.containerPort === port.targetPort),
        `Service ${service.metadata.name}: targetPort ${port.targetPort} is not a gateway container port`,
      );
    }
  }
  const gatewayService = gatewayServices[0];

  // Optional objects point at what exists.
  for (const hpa of byKind('HorizontalPodAutoscaler')) {
    const target = [...deployments.values()].find(
      (d) => d.metadata.name === hpa.spec?.scaleTargetRef?.name,
    );
    if (
      check(
        variant,
        target,
        `HorizontalPodAutoscaler ${hpa.metadata.name} targets no rendered Deployment`,
      )
    ) {
      check(
        variant,
        target.spec.replicas === undefined,
        `Deployment ${target.metadata.name} sets replicas although an autoscaler owns them`,
      );
    }
  }
  for (const ingress of byKind('Ingress')) {
    for (const rule of ingress.spec?.rules ?? []) {
      for (const path of rule.http?.paths ?? []) {
        const backend = path.backend?.service;
        check(
          variant,
          backend?.name === gatewayService?.metadata.name &&
            (gatewayService?.spec.ports ?? []).some(
              (p) => p.port === backend?.port?.number || p.name === backend?.port?.name,
            ),
          `Ingress ${ingress.metadata.name}: ${rule.host}${path.path} does not lead to the gateway's Service`,
        );
      }
    }
  }
  for (const monitor of byKind('ServiceMonitor')) {
    check(
      variant,
      matches(monitor.spec?.selector?.matchLabels, gatewayService?.metadata.labels),
      `ServiceMonitor ${monitor.metadata.name} does not select the gateway's Service`,
    );
    check(
      variant,
      (monitor.spec?.endpoints ?? []).every(
        (e) =>
          e.path === '/metrics' &&
          (gatewayService?.spec.ports ?? []).some((p) => p.name === e.port),
      ),
      `ServiceMonitor ${monitor.metadata.name}: endpoints must be /metrics on a named port of the gateway's Service`,
    );
  }

  checkVariantSpecifics(variant, { byKind, configMaps, secret, secretValues, deployments });
}

/** What each values file in deploy/helm/stepwise/ci sets, seen in its rendering. */
function checkVariantSpecifics(variant, { byKind, configMaps, secret, secretValues, deployments }) {
  const configOf = (service) =>
    configMaps.get(
      deployments.get(service)?.spec.template.spec.containers[0].envFrom?.[0]?.configMapRef?.name,
    )?.data ?? {};
  const expectKinds = (kinds) => {
    for (const kind of ['HorizontalPodAutoscaler', 'Ingress', 'ServiceMonitor']) {
      const count = byKind(kind).length;
      check(
        variant,
        kinds.includes(kind) ? count > 0 : count === 0,
        `${kind}: ${count} rendered, expected ${kinds.includes(kind) ? 'some' : 'none (off by default)'}`,
      );
    }
  };
  switch (variant) {
    case 'minimal-values':
      expectKinds([]);
      for (const service of SERVICES) {
        check(
          variant,
          configOf(service).REDIS_CLUSTER === 'false',
          `${service}: REDIS_CLUSTER should default to "false"`,
        );
        check(
          variant,
          deployments.get(service)?.spec.replicas >= 2,
          `${service}: fewer than 2 replicas by default`,
        );
      }
      break;
    case 'redis-cluster-values':
      for (const service of SERVICES) {
        check(
          variant,
          configOf(service).REDIS_CLUSTER === 'true',
          `${service}: REDIS_CLUSTER is not "true"`,
        );
        check(
          variant,
          configOf(service).QUEUE_PREFIX === '{stepwise-prod}',
          `${service}: QUEUE_PREFIX is not the configured hash tag`,
        );
      }
      check(
        variant,
        secretValues.get('REDIS_URL')?.split(',').length === 3,
        `the Secret's REDIS_URL is not the three seed nodes joined by commas`,
      );
      break;
    case 'existing-secret-values': {
      check(variant, !secret, 'the chart renders a Secret although existingSecret is set');
      const runner = deployments.get('runner')?.spec.template.spec.containers[0];
      const ref = runner?.env?.find((e) => e.name === 'LLM_API_KEY')?.valueFrom?.secretKeyRef;
      check(
        variant,
        ref?.name === 'stepwise-credentials' && ref?.key === 'openai-key',
        'LLM_API_KEY does not come from existingSecret under existingSecretKeys.llmApiKey',
      );
      break;
    }
    case 'full-values': {
      expectKinds(['HorizontalPodAutoscaler', 'Ingress', 'ServiceMonitor']);
      check(
        variant,
        configOf('gateway').MAX_FILE_UPLOAD_BYTES === '1073741824',
        `a large number is not rendered as a whole number: ${configOf('gateway').MAX_FILE_UPLOAD_BYTES}`,
      );
      check(
        variant,
        configOf('gateway').OUTBOUND_ALLOWED_HOSTS === 'api.example.com,hooks.example.com',
        'a list is not rendered comma-separated',
      );
      try {
        const prices = JSON.parse(configOf('runner').LLM_PRICES);
        check(
          variant,
          prices['small-model']?.output_per_1k_tokens === 0.0015,
          'LLM_PRICES lost its figures',
        );
      } catch {
        check(variant, false, 'LLM_PRICES is not JSON');
      }
      check(
        variant,
        secretValues.get('LLM_API_KEY') === 'sk-ci-llm-key-0123456789',
        'the Secret lacks LLM_API_KEY',
      );
      const runnerPod = deployments.get('runner')?.spec.template.spec;
      check(
        variant,
        runnerPod?.terminationGracePeriodSeconds >= 160,
        `runner: terminationGracePeriodSeconds ${runnerPod?.terminationGracePeriodSeconds} does not follow shutdownTimeoutSeconds 150`,
      );
      check(
        variant,
        runnerPod?.topologySpreadConstraints?.[0]?.topologyKey === 'topology.kubernetes.io/zone',
        'runner: its own topologySpreadConstraints were not used',
      );
      check(
        variant,
        deployments.get('gateway')?.spec.template.spec.containers[0].image ===
          'registry.example.com/stepwise:0.1.0-rc.1',
        'image.repository and image.tag are not used',
      );
      break;
    }
    default:
      // A new values file gets the general checks only.
      break;
  }
}

const targets = process.argv.slice(2).map((arg) => {
  const at = arg.indexOf('=');
  return at > 0
    ? { variant: arg.slice(0, at), file: arg.slice(at + 1) }
    : { variant: arg, file: arg };
});
if (targets.length === 0) {
  console.error('usage: node scripts/helm-check.mjs NAME=RENDERED.yaml...');
  process.exit(2);
}
for (const { variant, file } of targets) {
  const before = failures;
  const objects = parseManifests(variant, file);
  checkVariant(variant, objects);
  const kinds = [...new Set(objects.map((o) => o.kind))].sort().join(', ');
  console.log(
    `${failures === before ? 'ok  ' : 'FAIL'} ${variant}: ${objects.length} objects (${kinds})`,
  );
}
if (failures > 0) {
  console.error(`helm-check.mjs: ${failures} assertion(s) failed`);
  process.exit(1);
}
