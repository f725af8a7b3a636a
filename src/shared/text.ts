import { z } from 'zod';

/**
 * Characters a person cannot see or that rewrite what is shown: control (C0, C1 such as U+0085),
 * format (U+200B zero-width space, U+202E right-to-left override…), surrogates, private use, line
 * and paragraph separators. Refused in names and comments so they cannot forge log lines, UI text,
 * or a second approver that reads the same.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Zl}\p{Zp}]/u;

/** The first invisible or control character of `text`, as `U+XXXX`, or null. */
export function invisibleCharacter(text: string): string | null {
  const match = INVISIBLE.exec(text);
  return match ? codePoint(match[0]) : null;
}

/** `text` with each invisible or control character written as `<U+XXXX>`: safe to log and show. */
export function showInvisible(text: string): string {
  return text.replace(new RegExp(INVISIBLE.source, 'gu'), (c) => `<${codePoint(c)}>`);
}

function codePoint(c: string): string {
  return `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * Text for logs and the UI: normalised (Unicode NFKC), trimmed, 1 to `max` characters, without
 * invisible or control characters. Input far over the limit is refused before it is normalised.
 */
export function plainText(max: number, what: string) {
  return z
    .string({ error: (issue) => (issue.input === undefined ? `${what} is missing` : `${what} must be text`) })
    .max(max * 4, `${what} is too long (at most ${max} characters)`)
    .transform((s) => s.normalize('NFKC').trim())
    .pipe(
      z
        .string()
        .min(1, `${what} is empty`)
        .max(max, `${what} is too long (at most ${max} characters)`)
        .superRefine((s, ctx) => {
          const found = invisibleCharacter(s);
          if (found) {
            ctx.addIssue({
              code: 'custom',
              message: `${what} contains the invisible or control character ${found}; type it as plain text`,
            });
          }
        }),
    );
}

/** A person's name: plain text, at most 100 characters. Compare names with `sameName`. */
export const personName = (what = 'name') => plainText(100, what);

/**
 * Whether two names are the same person: Unicode NFKC, then case-folded (upper then lower case,
 * so that "ß" and "SS" fold alike), surrounding spaces ignored.
 */
export function sameName(a: string, b: string): boolean {
  return nameKey(a) === nameKey(b);
}

export function nameKey(name: string): string {
  return name.normalize('NFKC').trim().toUpperCase().toLowerCase().normalize('NFKC');
}

/** Escapes Markdown's punctuation, so text people send shows as written in the Web UI. */
export function escapeMarkdown(text: string): string {
  return text.replace(/[\\`*_{}[\]()#+\-.!|<>~&]/g, (c) => `\\${c}`);
}

/** A string of at most `max` characters that `problemOf` finds nothing wrong with; its words are the issue. */
export function checkedText(max: number, problemOf: (text: string) => string | null) {
  return z
    .string()
    .max(max)
    .superRefine((text, ctx) => {
      const problem = problemOf(text);
      if (problem) ctx.addIssue({ code: 'custom', message: problem });
    });
}

/** How zod issues are worded for the people who sent the input. */
export interface IssueWording {
  /**
   * The fields of a small request (an approval, an abort): issues are then worded as sentences
   * that name the fields, an unknown key among them. Without it, each issue is `<key>: <message>`.
   */
  fields?: readonly string[];
  /** The value given, as shown after the message (`(got …)`); the default shows a short preview. */
  given?: (issue: z.core.$ZodIssue) => string | undefined;
}

/** Values longer than this are cut where a message quotes them. */
const QUOTED_VALUE_LIMIT = 200;
const LONG_VALUE = new RegExp(`"[^"\\n]{${QUOTED_VALUE_LIMIT},}"|[^\\s"]{${QUOTED_VALUE_LIMIT},}`, 'g');

/**
 * `text` with each overlong value in it (a quoted string, or a run without spaces, of 200 characters
 * or more: longer than any path or URL a message names) cut to its first 60 characters and its
 * length: a refusal of a megabyte of input is a line, not a megabyte.
 */
export function shortenLongValues(text: string): string {
  return text.replace(LONG_VALUE, (value) => {
    const quote = value.startsWith('"') ? '"' : '';
    const start = Array.from(value.slice(0, 62)).slice(0, 60).join(''); // whole characters, never half a pair
    return `${start}…${quote} (${value.length} characters)`;
  });
}

/**
 * Zod issues in words for a person, joined by `separator`: the one formatter of every edge
 * (requests, activity input, the configuration). A value under a secret-looking key is never shown.
 */
export function describeIssues(
  issues: readonly z.core.$ZodIssue[],
  wording: IssueWording = {},
  separator = '; ',
): string {
  return issues.map((issue) => shortenLongValues(describeIssue(issue, wording))).join(separator);
}

function describeIssue(issue: z.core.$ZodIssue, { fields, given = givenInput }: IssueWording): string {
  const field = issue.path.map(String).join('.');
  if (fields) {
    switch (issue.code) {
      case 'unrecognized_keys':
        return `unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys
          .slice(0, 3)
          .map((k) => JSON.stringify(k.slice(0, 40)))
          .join(', ')}; the fields are ${fields.join(', ')}`;
      case 'invalid_type':
        if (!field) return `expected an object with the fields ${fields.join(', ')}`;
        return issue.message.startsWith(field) ? issue.message : `${field} must be ${issue.expected}`;
      default:
        return issue.message;
    }
  }
  const isSecret = issue.path.some((p) => /secret|password|token|url$/i.test(String(p)));
  const shown = isSecret ? undefined : given(issue);
  return `${field || '(root)'}: ${issue.message}${shown === undefined ? '' : ` (got ${shown})`}`;
}

/** The input an issue reports, as a short preview. */
function givenInput(issue: z.core.$ZodIssue): string | undefined {
  if (!('input' in issue) || issue.input === undefined) return undefined;
  return typeof issue.input === 'number' && !Number.isFinite(issue.input)
    ? String(issue.input)
    : preview(issue.input);
}

/** A value as JSON, cut to 80 characters. */
export function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    return 'a value nested too deep to show'; // JSON.stringify recurses: deep enough, it runs out of stack
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
