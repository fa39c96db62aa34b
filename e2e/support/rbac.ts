// RBAC for e2e tests, built from the very rule files the Helm chart includes
// (charts/portico/files/*-rules.yaml), so the test proves what users get.

import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import type { ControlPlane } from '../harness/control-plane.ts';

export interface PolicyRule {
  readonly apiGroups: readonly string[];
  readonly resources: readonly string[];
  readonly verbs: readonly string[];
}

export type RulesFile = 'clusterrole-rules.yaml' | 'role-rules.yaml';

const RULES_DIRECTORY = new URL('../../charts/portico/files/', import.meta.url);

function isPolicyRule(value: unknown): value is PolicyRule {
  const rule = value as Partial<Record<keyof PolicyRule, unknown>> | null;
  return (
    typeof rule === 'object' &&
    rule !== null &&
    [rule.apiGroups, rule.resources, rule.verbs].every(
      (list) => Array.isArray(list) && list.every((item) => typeof item === 'string'),
    )
  );
}

/** The PolicyRules of one of the chart's rule files. */
export function loadRules(file: RulesFile): PolicyRule[] {
  const parsed: unknown = parse(readFileSync(new URL(file, RULES_DIRECTORY), 'utf8'));
  if (!Array.isArray(parsed) || !parsed.every(isPolicyRule)) {
    throw new Error(`${file} must be a YAML list of PolicyRules (apiGroups, resources, verbs)`);
  }
  return parsed;
}

/**
 * The rules with `verbs` (default: all of them) taken from the rule that grants `resource`;
 * a rule left with no verb is dropped. Throws if no rule grants `resource`, so a test cannot
 * silently remove nothing.
 */
export function withoutVerbs(rules: readonly PolicyRule[], resource: string, verbs?: readonly string[]): PolicyRule[] {
  if (!rules.some((rule) => rule.resources.includes(resource))) throw new Error(`no rule grants ${resource}`);
  return rules.flatMap((rule) => {
    if (!rule.resources.includes(resource)) return [rule];
    const kept = verbs === undefined ? [] : rule.verbs.filter((verb) => !verbs.includes(verb));
    return kept.length === 0 ? [] : [{ ...rule, verbs: kept }];
  });
}

export interface RbacSubject {
  /** the ServiceAccount's namespace, also where the Role (Lease rights) lives */
  readonly namespace: string;
  readonly serviceAccount: string;
}

/** A ClusterRole + ClusterRoleBinding and a Role + RoleBinding, all named after the ServiceAccount. */
export function rbacObjects(
  subject: RbacSubject,
  clusterRules: readonly PolicyRule[],
  roleRules: readonly PolicyRule[],
): object[] {
  const name = subject.serviceAccount;
  const subjects = [{ kind: 'ServiceAccount', name, namespace: subject.namespace }];
  const rbac = 'rbac.authorization.k8s.io/v1';
  return [
    { apiVersion: rbac, kind: 'ClusterRole', metadata: { name }, rules: clusterRules },
    {
      apiVersion: rbac,
      kind: 'ClusterRoleBinding',
      metadata: { name },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name },
      subjects,
    },
    { apiVersion: rbac, kind: 'Role', metadata: { name, namespace: subject.namespace }, rules: roleRules },
    {
      apiVersion: rbac,
      kind: 'RoleBinding',
      metadata: { name, namespace: subject.namespace },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name },
      subjects,
    },
  ];
}

/** `kubectl apply` of objects (as a v1 List); lists such as `rules` are replaced, not merged. */
export async function applyObjects(controlPlane: ControlPlane, objects: readonly object[]): Promise<void> {
  await controlPlane.kubectl(['apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }),
  });
}

export interface Access {
  readonly verb: string;
  /** '' for the core group */
  readonly group: string;
  readonly resource: string;
  readonly subresource?: string;
  /** omitted: cluster-wide (all namespaces) */
  readonly namespace?: string;
}

export function describeAccess(access: Access): string {
  const resource = access.subresource ? `${access.resource}/${access.subresource}` : access.resource;
  return `${access.verb} ${access.group || 'core'} ${resource}${access.namespace ? ` in ${access.namespace}` : ''}`;
}

/** Asks the API server's authorizer (a SubjectAccessReview, as admin) whether the ServiceAccount may. */
export async function canI(controlPlane: ControlPlane, subject: RbacSubject, access: Access): Promise<boolean> {
  const response = await controlPlane.request('/apis/authorization.k8s.io/v1/subjectaccessreviews', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      apiVersion: 'authorization.k8s.io/v1',
      kind: 'SubjectAccessReview',
      spec: {
        user: `system:serviceaccount:${subject.namespace}:${subject.serviceAccount}`,
        groups: ['system:serviceaccounts', `system:serviceaccounts:${subject.namespace}`, 'system:authenticated'],
        resourceAttributes: {
          verb: access.verb,
          group: access.group,
          resource: access.resource,
          ...(access.subresource ? { subresource: access.subresource } : {}),
          ...(access.namespace ? { namespace: access.namespace } : {}),
        },
      },
    }),
  });
  if (response.status !== 201) throw new Error(`SubjectAccessReview answered ${response.status}: ${response.body}`);
  return (JSON.parse(response.body) as { status: { allowed?: boolean } }).status.allowed === true;
}

/** Every (verb, resource) the rules grant, as Access checks; `namespace` for a Role's rules. */
export function accessesOf(rules: readonly PolicyRule[], namespace?: string): Access[] {
  return rules.flatMap((rule) =>
    rule.apiGroups.flatMap((group) =>
      rule.resources.flatMap((path) => {
        const [resource = path, subresource] = path.split('/');
        return rule.verbs.map((verb) => ({
          verb,
          group,
          resource,
          ...(subresource ? { subresource } : {}),
          ...(namespace ? { namespace } : {}),
        }));
      }),
    ),
  );
}
