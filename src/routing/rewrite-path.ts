// rewrite-target (ROUTING.md section 7): the whole upstream path becomes the target with
// $1..$n substituted from the path regex groups; an unmatched group is empty, as in nginx.

export function rewritePath(target: string, groups: readonly (string | undefined)[] | undefined): string {
  const rewritten = target.replace(/\$(\d)/g, (_, digit: string) => groups?.[Number(digit)] ?? '');
  return rewritten.startsWith('/') ? rewritten : `/${rewritten}`;
}

/** Highest `$n` the target refers to (0 when none); compile checks it against the pattern's groups. */
export function highestGroupReference(target: string): number {
  let highest = 0;
  for (const found of target.matchAll(/\$(\d)/g)) highest = Math.max(highest, Number(found[1]));
  return highest;
}
