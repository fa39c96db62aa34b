// Basic authentication in cluster mode against a real kube-apiserver: an Opaque Secret made as
// `kubectl create secret generic --from-file=auth` makes, read through Portico's own Secret
// watch; edits to it change who gets in; a missing Secret answers 503 and becomes a Warning
// Event on the Ingress; changes to Opaque Secrets no Ingress names do not rebuild the table.

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ControlPlane } from '../harness/control-plane.ts';
import { eventually } from '../harness/eventually.ts';
import { ingressEvents } from '../support/ingress-events.ts';
import { documents } from '../support/kube-objects.ts';
import { PorticoProcess } from '../support/portico-process.ts';
import { startTutorialCluster, type TutorialCluster } from '../support/tutorial-cluster.ts';

const HOST = 'auth.example';
// printf pw | openssl passwd -apr1 -salt Xy7s9QqZ -stdin
const ALICE_PW = 'alice:$apr1$Xy7s9QqZ$u5FHivKLm2VO5bldR.Yhd/\n';
// printf s3cret | openssl dgst -sha1 -binary | base64
const ALICE_S3CRET = 'alice:{SHA}/vNB+F2HQ559kaLUZbmHHvZrXpg=\n';

function secretYaml(name: string, auth: string): string {
  return `apiVersion: v1
kind: Secret
metadata: { name: ${name}, namespace: default }
type: Opaque
data:
  auth: ${Buffer.from(auth).toString('base64')}
`;
}

function protectedIngressYaml(name: string, path: string, secret: string): string {
  return `apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: ${name}
  namespace: default
  annotations:
    nginx.ingress.kubernetes.io/auth-type: basic
    nginx.ingress.kubernetes.io/auth-secret: ${secret}
    nginx.ingress.kubernetes.io/auth-realm: Team only
spec:
  ingressClassName: portico
  rules:
    - host: ${HOST}
      http:
        paths:
          - { path: ${path}, pathType: Prefix, backend: { service: { name: web, port: { number: 8080 } } } }
`;
}

function login(password: string): Record<string, string> {
  return { authorization: `Basic ${Buffer.from(`alice:${password}`).toString('base64')}` };
}

describe('cluster mode: basic authentication from an Opaque Secret', () => {
  let cluster: TutorialCluster;
  let controlPlane: ControlPlane;
  let portico: PorticoProcess;

  before(async () => {
    cluster = await startTutorialCluster();
    controlPlane = cluster.controlPlane;
    portico = await PorticoProcess.start(controlPlane);
  });

  after(async () => {
    await portico?.stop();
    await cluster?.stop();
  });

  it('401 without credentials, 200 with them, and Authorization is not forwarded', async () => {
    await cluster.apply(documents(secretYaml('team-users', ALICE_PW), protectedIngressYaml('team', '/', 'team-users')));
    await eventually(async () => {
      const refused = await portico.get(HOST, '/echo');
      assert.equal(refused.status, 401);
      assert.equal(refused.headers['www-authenticate'], 'Basic realm="Team only", charset="UTF-8"');
    });
    const allowed = await portico.get(HOST, '/echo', login('pw'));
    assert.equal(allowed.status, 200);
    const echoed = JSON.parse(allowed.body) as { headers: Record<string, string> };
    assert.equal(echoed.headers.authorization, undefined);
    assert.equal((await portico.get(HOST, '/echo', login('wrong'))).status, 401);
  });

  it('an edit to the Secret changes who gets in', async () => {
    await cluster.apply(secretYaml('team-users', ALICE_S3CRET));
    await eventually(async () => assert.equal((await portico.get(HOST, '/', login('s3cret'))).status, 200));
    assert.equal((await portico.get(HOST, '/', login('pw'))).status, 401);
  });

  it('a missing Secret: 503 on that Ingress only, with a Warning Event', async () => {
    await cluster.apply(protectedIngressYaml('orphan', '/orphan', 'never-created'));
    await eventually(async () => assert.equal((await portico.get(HOST, '/orphan', login('s3cret'))).status, 503));
    assert.equal((await portico.get(HOST, '/', login('s3cret'))).status, 200);
    await eventually(async () => {
      const events = await ingressEvents(controlPlane, 'default', 'orphan');
      const found = events.find((event) => event.reason === 'InvalidAuthSecret');
      assert.ok(found, JSON.stringify(events));
      assert.equal(found.type, 'Warning');
      assert.match(found.message, /default\/never-created does not exist/);
    });
    // Creating it lets the right user in.
    await cluster.apply(secretYaml('never-created', ALICE_PW));
    await eventually(async () => assert.equal((await portico.get(HOST, '/orphan', login('pw'))).status, 200));
  });

  it('Opaque Secrets that no Ingress names are not a reason to rebuild the table', async () => {
    const builds = await portico.metric('portico_table_builds_total');
    // Three separate kubectl runs: were these relevant, they could not all fold into one build.
    await cluster.apply(secretYaml('app-config', 'not: used\n'));
    await cluster.apply(secretYaml('app-config', 'still: not used\n'));
    await controlPlane.kubectl(['delete', 'secret', 'app-config', '-n', 'default']);
    // Then a change that matters, on the same watch: once it is served, the others were seen.
    await cluster.apply(secretYaml('team-users', ALICE_PW));
    await eventually(async () => assert.equal((await portico.get(HOST, '/', login('pw'))).status, 200));
    assert.equal(await portico.metric('portico_table_builds_total'), builds + 1);
  });
});
