// Counts the capturing groups of an RE2 pattern without compiling it a second time.
// Capturing: `(re)`, `(?P<name>re)`, `(?<name>re)`. Not capturing: `(?:re)`, `(?flags)`,
// `(?flags:re)`. Parentheses inside `[...]`, after `\`, or between `\Q` and `\E` are literal.
// Only called on patterns RE2 has already accepted, so the syntax is known to be valid.

export function countCaptureGroups(pattern: string): number {
  let count = 0;
  let index = 0;
  while (index < pattern.length) {
    const char = pattern[index];
    if (char === '\\') {
      if (pattern[index + 1] === 'Q') {
        const end = pattern.indexOf('\\E', index + 2);
        index = end === -1 ? pattern.length : end + 2;
      } else {
        index += 2;
      }
      continue;
    }
    if (char === '[') {
      index = skipCharacterClass(pattern, index);
      continue;
    }
    if (char === '(') {
      if (pattern[index + 1] !== '?') count++;
      else if (
        pattern.startsWith('?P<', index + 1) ||
        (pattern[index + 2] === '<' && pattern[index + 3] !== '=' && pattern[index + 3] !== '!')
      ) {
        count++;
      }
    }
    index++;
  }
  return count;
}

/** Index just past the class that opens at `start`; `]` right after `[` or `[^` is literal. */
function skipCharacterClass(pattern: string, start: number): number {
  let index = start + 1;
  if (pattern[index] === '^') index++;
  if (pattern[index] === ']') index++;
  while (index < pattern.length) {
    const char = pattern[index];
    if (char === '\\') index += 2;
    else if (char === '[' && pattern[index + 1] === ':') {
      const end = pattern.indexOf(':]', index + 2);
      index = end === -1 ? index + 1 : end + 2;
    } else if (char === ']') return index + 1;
    else index++;
  }
  return index;
}
