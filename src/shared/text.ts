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

/**
 * Zod issues as one line written for a person: each names the field and what is expected, never
 * a library's wording. `fields` lists the fields the object accepts, for unknown-key messages.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], fields: readonly string[]): string {
  return issues
    .map((issue) => {
      const field = issue.path.map(String).join('.');
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
    })
    .join('; ');
}
