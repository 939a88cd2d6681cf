import type { Detector } from './detector.js';

/**
 * National identity numbers that have a checkable structure. Each is taken only when the number
 * could have been issued (ranges, prefixes, check digits, birth dates), so order numbers, phone
 * numbers and invoice ids of the same shape survive. Numbers without any structure (a bare
 * 9-digit run) are taken only next to a word naming them.
 */

const PLACEHOLDER = '[national ID removed]';
const LABEL = 'a national ID number';

function idDetector(name: string, re: RegExp, valid: (m: string[]) => boolean): Detector {
  return {
    name,
    label: LABEL,
    apply(text) {
      let count = 0;
      const out = text.replace(re, (...args: unknown[]) => {
        const match = args[0] as string;
        const groups = args.slice(1, -2) as string[];
        if (!valid(groups)) return match;
        count++;
        // Group 1, when the pattern has a keyword, is the kept context before the number.
        return re.source.startsWith('(?<ctx>') ? groups[0] + PLACEHOLDER : PLACEHOLDER;
      });
      return { text: out, count };
    },
  };
}

/**
 * US Social Security number: the SSA never issues area 000, 666 or 900–999, group 00 or
 * serial 0000 (https://www.ssa.gov/employer/randomization.html).
 */
export function isValidSsn(area: string, group: string, serial: string): boolean {
  const a = Number(area);
  return a !== 0 && a !== 666 && a < 900 && group !== '00' && serial !== '0000';
}

/** Chinese resident identity number (GB 11643-1999): province code, birth date, ISO 7064 MOD 11-2 check character. */
export function isValidChineseId(id: string): boolean {
  if (!/^\d{17}[\dXx]$/.test(id)) return false;
  if (!CN_PROVINCES.has(id.slice(0, 2))) return false;
  const y = Number(id.slice(6, 10));
  const m = Number(id.slice(10, 12));
  const d = Number(id.slice(12, 14));
  const date = new Date(Date.UTC(y, m - 1, d));
  if (y < 1900 || date.getUTCMonth() !== m - 1 || date.getUTCDate() !== d || date.getTime() > Date.now()) return false;
  return chineseIdCheck(id.slice(0, 17)) === id[17]!.toUpperCase();
}

/** The ISO 7064 MOD 11-2 check character of the first 17 digits. */
export function chineseIdCheck(first17: string): string {
  let sum = 0;
  for (let i = 0; i < 17; i++) sum += (first17.charCodeAt(i) - 48) * CN_WEIGHTS[i]!;
  return '10X98765432'[sum % 11]!;
}
const CN_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
// Province-level codes of GB/T 2260 (and 71 Taiwan, 81/82 Hong Kong and Macau, 83 for residence permits).
const CN_PROVINCES = new Set('11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83'.split(' '));

/**
 * UK National Insurance number: neither of the first two letters D, F, I, Q, U or V, the second
 * not O, and not the unallocated prefixes BG, GB, NK, KN, TN, NT or ZZ; suffix A–D (HMRC NIM39110).
 */
export function isValidNino(prefix: string, suffix: string): boolean {
  const p = prefix.toUpperCase();
  if (!/^[A-CEGHJ-PR-TW-Z][A-CEGHJ-NPR-TW-Z]$/.test(p)) return false;
  if (['BG', 'GB', 'NK', 'KN', 'TN', 'NT', 'ZZ'].includes(p)) return false;
  return /^[A-D]$/i.test(suffix);
}

const SSN_WORDS = String.raw`ssn|social\s+security(?:\s+(?:number|no\.?|#))?|soc\s+sec|社会安全号(?:码)?|社安号`;

export const ID_DETECTORS: Detector[] = [
  idDetector(
    'cn_resident_id',
    // 18 characters, optionally grouped 6-8-4 by a space or dash.
    /(?<![\dA-Za-z])(\d{6})[ -]?(\d{8})[ -]?(\d{3}[\dXx])(?![\dA-Za-z])/g,
    ([a, b, c]) => isValidChineseId(`${a}${b}${c}`),
  ),
  // `123-45-6789` is the SSN's own shape (phone numbers are 3-3-4, dates 4-2-2); one more dashed group makes it a longer code.
  idDetector('us_ssn', /(?<![\dA-Za-z-])(\d{3})-(\d{2})-(\d{4})(?![\dA-Za-z]|-[\dA-Za-z])/g, ([a, g, s]) => isValidSsn(a!, g!, s!)),
  // Spaced or bare nine digits are any number, unless named as an SSN just before.
  idDetector('us_ssn', new RegExp(String.raw`(?<ctx>(?:${SSN_WORDS})[^\d\n]{0,20}?)(\d{3})[ .]?(\d{2})[ .]?(\d{4})(?!\d)`, 'giu'), ([, a, g, s]) =>
    isValidSsn(a!, g!, s!),
  ),
  idDetector(
    'uk_nino',
    // Written compact in any case, or spaced in pairs in capitals ("at 12 34 56 a" is prose).
    /(?<![A-Za-z0-9])(?:([A-Za-z]{2})\d{6}([A-Za-z])|([A-Z]{2}) ?\d{2} ?\d{2} ?\d{2} ?([A-Z]))(?![A-Za-z0-9])/g,
    ([p1, s1, p2, s2]) => isValidNino(p1 ?? p2!, s1 ?? s2!),
  ),
];
