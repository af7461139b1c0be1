/**
 * Free-text de-identification for radiology reports and DICOM descriptors: rule-based, with a
 * lexicon users extend (as with the report labeller), removing what identifies a person — names,
 * dates, identifiers, phone numbers, e-mail and web addresses, postal addresses, institutions —
 * and leaving the clinical wording the labeller reads. Each removal becomes a bracketed category
 * (`[NAME]`, `[DATE]`, …) so sentence structure, negation scope and section cues survive.
 */
import { z } from 'zod';
import { readJsonWithSchema } from '../util/json.js';

export const TextLexiconSchema = z
  .object({
    /** Person names (first or last) to remove wherever they stand as words. */
    names: z.array(z.string().min(1)).default([]),
    /** Institution names (hospitals, clinics, departments) to remove. */
    institutions: z.array(z.string().min(1)).default([]),
    /** Extra patterns: JavaScript regular expressions (flags "gu" added) and what replaces them. */
    patterns: z.array(z.object({ regex: z.string().min(1), replace: z.string() })).default([]),
  })
  .strict();
export type TextLexicon = z.infer<typeof TextLexiconSchema>;

export type PhiCategory = 'NAME' | 'DATE' | 'ID' | 'PHONE' | 'EMAIL' | 'URL' | 'ADDRESS' | 'INSTITUTION' | 'AGE';

export interface ScrubResult {
  text: string;
  /** How many spans of each category were replaced. */
  counts: Partial<Record<PhiCategory | 'CUSTOM', number>>;
}

const MONTH = '(?:Jan(?:uary)?|Feb(?:ruary)?|Mar(?:ch)?|Apr(?:il)?|May|June?|July?|Aug(?:ust)?|Sep(?:t(?:ember)?)?|Oct(?:ober)?|Nov(?:ember)?|Dec(?:ember)?)';
const NAME_WORD = "[A-Z][a-z]+(?:[-'][A-Z]?[a-z]+)?";
const PERSON = `${NAME_WORD}(?:\\s+[A-Z]\\.)?(?:\\s+${NAME_WORD}){0,2}`;
const TITLE = '(?:Drs?|Doctor|Mr|Mrs|Ms|Miss|Prof(?:essor)?)';
const STREET = '(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Court|Ct|Way|Place|Pl|Parkway|Pkwy|Highway|Hwy)';
const INSTITUTION_KIND = '(?:Hospital|Medical Center|Medical Centre|Health(?:care)? System|Clinic|Infirmary|Imaging Center|Radiology Associates|University Hospital|Children\'s Hospital)';

// Verbs that introduce the person who read, signed or was told of a result; either case of the
// first letter, while the name after them must still be capitalised.
const CUE_VERBS = [
  'signed', 'dictated', 'transcribed', 'reviewed', 'interpreted', 'read', 'reported', 'verified', 'approved', 'attested',
  'electronically signed', 'discussed', 'communicated', 'called', 'paged', 'notified', 'informed', 'conveyed', 'relayed',
]
  .map((v) => `[${v[0]!.toUpperCase()}${v[0]}]${v.slice(1)}`)
  .join('|');

interface Rule {
  category: PhiCategory;
  re: RegExp;
  /** Replacement; `$1` keeps a captured lead-in (a title or a verb) in front of the tag. */
  replace: string;
}

// Order matters: specific shapes (e-mail, URL, phone, dates) before the generic long-number rule,
// names after the cues that introduce them.
const BUILT_IN: Rule[] = [
  { category: 'EMAIL', re: /\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b/g, replace: '[EMAIL]' },
  { category: 'URL', re: /\b(?:https?:\/\/|www\.)[^\s)>\]]+/gi, replace: '[URL]' },
  { category: 'PHONE', re: /(?:\+\d{1,3}[\s.-]?)?(?:\(\d{3}\)\s?|\b\d{3}[\s.-])\d{3}[\s.-]\d{4}\b(?:\s*(?:ext\.?|x)\s*\d{1,5})?/gi, replace: '[PHONE]' },
  { category: 'PHONE', re: /\b((?:pager|beeper|ext(?:ension)?\.?|tel(?:ephone)?\.?|phone|fax)[:#\s]*)\d{3,}\b/gi, replace: '$1[PHONE]' },
  { category: 'DATE', re: /\b\d{4}-\d{1,2}-\d{1,2}(?:[T ]\d{1,2}:\d{2}(?::\d{2})?)?\b/g, replace: '[DATE]' },
  // Same separator twice and no decimal after it: "16.2/24.7" is a ratio, not a date.
  { category: 'DATE', re: /\b\d{1,2}([/.-])\d{1,2}\1(?:\d{4}|\d{2})\b(?![.,]\d)/g, replace: '[DATE]' },
  { category: 'DATE', re: new RegExp(`\\b${MONTH}\\.?\\s+\\d{1,2}(?:st|nd|rd|th)?(?:,?\\s+\\d{4})?\\b`, 'g'), replace: '[DATE]' },
  { category: 'DATE', re: new RegExp(`\\b\\d{1,2}(?:st|nd|rd|th)?\\s+(?:of\\s+)?${MONTH}\\.?(?:,?\\s+\\d{4})?\\b`, 'g'), replace: '[DATE]' },
  { category: 'DATE', re: new RegExp(`\\b${MONTH}\\.?\\s+\\d{4}\\b`, 'g'), replace: '[DATE]' },
  { category: 'DATE', re: /\b(?:0?[1-9]|1[0-2])\/(?:19|20)\d{2}\b/g, replace: '[DATE]' },
  { category: 'ID', re: /\b((?:MRN|MR\s?#|medical record(?: number| no\.?)?|accession(?: number| no\.?| #)?|acc(?:ession)?\s?#|patient id|pt id|ID|SSN|study id|case(?: number| no\.?| #))[:#\s]*)[A-Z]*\d[\w-]*/gi, replace: '$1[ID]' },
  { category: 'ID', re: /\b\d{3}-\d{2}-\d{4}\b/g, replace: '[ID]' },
  { category: 'ID', re: /\b[A-Z]{0,3}\d{6,}\b/g, replace: '[ID]' },
  { category: 'AGE', re: /\b(?:9\d|1[0-4]\d)(?:\s*|-)(?:years?|yrs?|y\/?o)(?:[\s-]old)?\b/gi, replace: '[AGE]' },
  { category: 'ADDRESS', re: new RegExp(`\\b\\d{1,6}\\s+(?:[A-Z][a-z]+\\s+){1,3}${STREET}\\b\\.?(?:,?\\s+(?:Apt|Suite|Unit)\\.?\\s*\\w+)?`, 'g'), replace: '[ADDRESS]' },
  { category: 'ADDRESS', re: /\b(?:[A-Z][a-z]+(?:\s[A-Z][a-z]+)?,?\s+)?[A-Z]{2}\s+\d{5}(?:-\d{4})?\b/g, replace: '[ADDRESS]' },
  { category: 'INSTITUTION', re: new RegExp(`\\b(?:(?:St\\.?|Saint|Mount|Mt\\.?)\\s+)?(?:[A-Z][a-z]+\\s+){1,4}${INSTITUTION_KIND}\\b`, 'g'), replace: '[INSTITUTION]' },
  { category: 'NAME', re: new RegExp(`\\b(${TITLE}\\.?\\s+)${PERSON}`, 'g'), replace: '$1[NAME]' },
  { category: 'NAME', re: new RegExp(`\\b${PERSON},?\\s+(?:M\\.?D\\.?|D\\.?O\\.?|Ph\\.?D\\.?|R\\.?N\\.?|RT\\(R\\)|MBBS|FRCR)\\b`, 'g'), replace: '[NAME]' },
  {
    category: 'NAME',
    re: new RegExp(`\\b((?:${CUE_VERBS})(?:\\s+(?:by|with|to))?(?:\\s+(?:the\\s+)?(?:referring\\s+)?(?:physician|clinician|provider|nurse|technologist|radiologist|resident|fellow|attending|PA|NP))?[:\\s]+)(?!(?:The|On|At|In|${TITLE})\\b)${PERSON}`, 'g'),
    replace: '$1[NAME]',
  },
  // Only with a colon: "patient XXXX" and "patient positioning" are report prose, not a name field.
  { category: 'NAME', re: /\b((?:[Pp]atient|[Pp]t|[Nn]ame)\s*:\s*)[A-Z][A-Za-z'-]+(?:[ ,^]+[A-Z][A-Za-z'-]+){0,2}/g, replace: '$1[NAME]' },
];

function wordList(words: readonly string[]): RegExp | undefined {
  const clean = words.map((w) => w.trim()).filter(Boolean).map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  if (!clean.length) return undefined;
  return new RegExp(`\\b(?:${clean.sort((a, b) => b.length - a.length).join('|')})\\b`, 'gi');
}

export interface TextScrubber {
  scrub(text: string): ScrubResult;
}

/**
 * A scrubber with the built-in rules and a lexicon's names, institutions and patterns.
 * @example makeTextScrubber().scrub('Discussed with Dr. Jane Smith on 03/12/2021.').text
 * // 'Discussed with Dr. [NAME] on [DATE].'
 */
export function makeTextScrubber(lexicon: Partial<TextLexicon> = {}): TextScrubber {
  const lex = TextLexiconSchema.parse(lexicon);
  const rules: { category: PhiCategory | 'CUSTOM'; re: RegExp; replace: string }[] = [];
  for (const p of lex.patterns) rules.push({ category: 'CUSTOM', re: new RegExp(p.regex, 'gu'), replace: p.replace });
  rules.push(...BUILT_IN);
  const inst = wordList(lex.institutions);
  if (inst) rules.push({ category: 'INSTITUTION', re: inst, replace: '[INSTITUTION]' });
  const names = wordList(lex.names);
  if (names) rules.push({ category: 'NAME', re: names, replace: '[NAME]' });
  return {
    scrub(text: string): ScrubResult {
      const counts: ScrubResult['counts'] = {};
      let out = text;
      for (const r of rules) {
        r.re.lastIndex = 0;
        out = out.replace(r.re, (...args: unknown[]) => {
          counts[r.category] = (counts[r.category] ?? 0) + 1;
          const lead = typeof args[1] === 'string' && r.replace.startsWith('$1') ? args[1] : '';
          return lead + r.replace.replace(/^\$1/, '');
        });
      }
      return { text: out, counts };
    },
  };
}

/** Read a user lexicon (JSON), naming the file and field on error. */
export function readTextLexicon(path: string): TextLexicon {
  return readJsonWithSchema(path, TextLexiconSchema, 'de-identification lexicon');
}
