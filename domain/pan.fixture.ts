/** fast-check arbitraries of card numbers as they leak into text, for tests (no I/O). */
import fc from 'fast-check';
import { hasCardBrandPrefix, luhnValid, PAN_SEPARATORS } from './pan.ts';

const BRANDS: Array<[prefix: string, lengths: number[]]> = [
  ['4', [13, 16, 19]],
  ['51', [16]],
  ['55', [16]],
  ['2221', [16]],
  ['2720', [16]],
  ['34', [15]],
  ['37', [15]],
  ['6011', [16, 19]],
  ['65', [16, 19]],
  ['644', [16]],
  ['3528', [16, 19]],
  ['62', [16, 19]],
  ['36', [14]],
  ['300', [14, 19]],
];

/** A Luhn-valid number of a brand's prefix and length. */
export const arbPan = fc
  .constantFrom(...BRANDS.flatMap(([p, ls]) => ls.map((l) => [p, l] as const)))
  .chain(([prefix, length]) =>
    fc
      .array(fc.integer({ min: 0, max: 9 }), { minLength: length - prefix.length - 1, maxLength: length - prefix.length - 1 })
      .map((ds) => {
        const body = prefix + ds.join('');
        for (let c = 0; c <= 9; c++) if (luhnValid(body + c)) return body + c;
        throw new Error('unreachable');
      }),
  )
  .filter((p) => hasCardBrandPrefix(p));

/** Digit groups of 4 (or 1-6) joined by 1-3 of the same common separator, or no separator at all. */
export const arbFormat = fc.oneof(
  fc.constant((p: string) => p),
  fc.tuple(fc.constantFrom(...PAN_SEPARATORS.split('')), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 1, max: 6 })).map(
    ([sep, reps, size]) =>
      (p: string) =>
        (p.match(new RegExp(`.{1,${size}}`, 'g')) as string[]).join(sep.repeat(reps)),
  ),
);

/** What may sit around a card: nothing, letters, words, a separator and another number (a date), JSON. */
const words = fc.stringMatching(/^[g-zG-Z ]{0,12}$/);
export const arbBefore = fc.oneof(
  fc.constantFrom('', 'REF', 'ref', 'dev.', 'card:', 'pan=', 'order ', '{"ref":"', 'tx-20240101-', 'exp 12/27 ', 'Ω'),
  words,
);
export const arbAfter = fc.oneof(fc.constantFrom('', 'x', 'EUR', ' exp 12/27', '-2024', '.2024', '"}', '/01', 'é'), words);
