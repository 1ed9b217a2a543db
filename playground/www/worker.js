// The rule engine's thread: loads pkg/prodready.js (wasm-bindgen, --target web) and answers
// the page's calls, one at a time. The page owns the deadline: it terminates this worker when a
// call runs too long, and after any exception or trap, since a trapped instance is not reusable.
//
// Messages in:  {id, type: 'rules'} | {id, type: 'check', manifests, settings, file}
// Messages out: {type: 'ready', version} | {type: 'init-error', message}
//               {id, ok: true, value} | {id, ok: false, trap, message}

import init, { check, rules, version } from './pkg/prodready.js';

// One small check before 'ready': the engine compiles the module's code as it first runs it
// and builds the rules' metadata on the first call, a few hundred ms that belong to starting,
// not to the first check's deadline.
const WARM_UP = `apiVersion: apps/v1
kind: Deployment
metadata: {name: warm-up}
spec:
  selector: {matchLabels: {app: warm-up}}
  template:
    metadata: {labels: {app: warm-up}}
    spec:
      containers: [{name: app, image: "registry.example/app:1", ports: [{containerPort: 80}]}]
---
apiVersion: v1
kind: Service
metadata: {name: warm-up}
spec: {selector: {app: warm-up}, ports: [{port: 80}]}
`;

// The handler is set before the module is instantiated, so no message can arrive unhandled;
// the page waits for 'ready' before it sends any.
const started = init({ module_or_path: new URL('./pkg/prodready_bg.wasm', import.meta.url) })
  .then(() => {
    check(WARM_UP, '{}', 'warm-up.yaml');
  });

self.onmessage = async ({ data }) => {
  try {
    await started;
    let value;
    switch (data.type) {
      case 'rules':
        value = JSON.parse(rules());
        break;
      case 'check':
        value = JSON.parse(check(data.manifests, data.settings, data.file));
        break;
      default:
        throw new Error(`unknown call ${JSON.stringify(data.type)}`);
    }
    self.postMessage({ id: data.id, ok: true, value });
  } catch (error) {
    self.postMessage({
      id: data.id,
      ok: false,
      trap: error instanceof WebAssembly.RuntimeError,
      message: describe(error),
    });
  }
};

started.then(
  () => self.postMessage({ type: 'ready', version: version() }),
  (error) => self.postMessage({ type: 'init-error', message: describe(error) }),
);

function describe(error) {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}
