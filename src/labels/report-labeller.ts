/**
 * Rule-based report labeller (NegEx/NegBio-style). For each report section, every mention of a
 * finding is found by the lexicon's patterns, then classified:
 *
 * - the nearest pre-trigger (negation or uncertainty) in the mention's scope decides it: the scope
 *   is the same sentence, after the last terminator ("but", "however", "which", ";", …) before the
 *   mention, and within `preWindowWords` words; a trigger inside the mention span ("heart is not
 *   enlarged") counts as nearest;
 * - failing that, the nearest post-trigger after the mention, before the next terminator and within
 *   `postWindowWords` words ("effusion has resolved", "pneumonia cannot be excluded");
 * - pseudo-triggers ("no change in", "not only") mask any trigger they overlap; uncertainty triggers
 *   that contain a negation word ("cannot be excluded") mask that negation;
 * - otherwise the mention is positive.
 *
 * Aggregation per finding across all mentions in all sections (CheXpert-style): positive (1) beats
 * uncertain (-1) beats negative (0); no mention is blank. So when findings and impression disagree
 * the more abnormal statement wins — the impression often summarises "no acute disease" while the
 * findings still describe, say, a stable pleural thickening. Derived columns: No_Finding = 1 when no
 * `pathology` concept is 1 or -1 (else 0); normal = 1 when no concept at all (pathology, device,
 * other abnormality) is 1 or -1 (else 0).
 *
 * Section awareness: besides the given sections (text columns), headings inside a column
 * ("FINDINGS:", "IMPRESSION:", "INDICATION:", "HISTORY:", …) split it further; indication, history
 * and reason-for-exam parts are skipped, because the clinical question ("? pneumonia") is not a finding.
 *
 * Anonymisation tokens (`XXXX` in the IU reports) contain no sentence punctuation and match no
 * pattern, so they neither split sentences nor create mentions; they count as one word in windows.
 * Sentences end at ".", "!", or a line break; a "." between digits ("3.5 cm") does not end one.
 */
import type { FindingValue } from '../data/manifest.js';
import { DEFAULT_LEXICON, type Lexicon } from './lexicon.js';
import { type ProgressCallback, noProgress } from '../util/progress.js';

const KIND_NEG_PRE = 0;
const KIND_UNC_PRE = 1;
const KIND_NEG_POST = 2;
const KIND_UNC_POST = 3;

interface CompiledConcept {
  name: string;
  mention: RegExp;
  exclude: RegExp | null;
  group: 'pathology' | 'device' | 'other';
  output: boolean;
}

/** A lexicon turned into regular expressions once, to be reused for every report. */
export interface CompiledLexicon {
  lexicon: Lexicon;
  concepts: CompiledConcept[];
  /** Output columns: findings with `output`, then No_Finding and normal. */
  columns: string[];
  triggers: { kind: number; re: RegExp }[];
  pseudo: RegExp | null;
  terminator: RegExp | null;
}

/**
 * Wrap a pattern in word boundaries on the sides where it starts/ends with a word character, so
 * "no" does not match inside "nodule" while ";" or "\\?" still match right after a word.
 */
function boundaries(p: string): { left: boolean; right: boolean } {
  const startsWord = /^(?:[a-z0-9(\[]|\\[wdb])/i.test(p);
  const endsNonWord = /(?:\\[^wdbsWDBS]|[;:,.!?\-/])$/.test(p) && !/[)\]*+}]$/.test(p) && !/[a-z0-9]\??$/i.test(p);
  return { left: startsWord, right: !endsNonWord };
}

/** One alternation per boundary kind, so the common case shares a single lookbehind (faster scans). */
function bounded(patterns: readonly string[]): string {
  const groups = new Map<string, string[]>();
  for (const p of patterns) {
    const b = boundaries(p);
    const key = `${b.left ? 'L' : ''}${b.right ? 'R' : ''}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push(`(?:${p})`);
  }
  return [...groups.entries()]
    .map(([key, ps]) => `${key.includes('L') ? '(?<![a-z0-9])' : ''}(?:${ps.join('|')})${key.includes('R') ? '(?![a-z0-9])' : ''}`)
    .join('|');
}

function alternation(patterns: readonly string[], what: string): RegExp | null {
  if (patterns.length === 0) return null;
  // Sort longest first so "no evidence of" wins over "no" at the same position.
  const sorted = [...patterns].sort((a, b) => b.length - a.length);
  const src = bounded(sorted);
  try {
    return new RegExp(src, 'gi');
  } catch (e) {
    // Find the culprit for a clear message.
    for (const p of patterns) {
      try {
        new RegExp(p);
      } catch {
        throw new Error(`lexicon: ${what}: invalid pattern ${JSON.stringify(p)}: ${(e as Error).message}`);
      }
    }
    throw new Error(`lexicon: ${what}: ${(e as Error).message}`);
  }
}

/**
 * Compile a lexicon into reusable regular expressions.
 *
 * @example const c = compileLexicon(DEFAULT_LEXICON); labelReport(c, { findings: 'No effusion.' });
 */
export function compileLexicon(lexicon: Lexicon = DEFAULT_LEXICON): CompiledLexicon {
  const concepts: CompiledConcept[] = Object.entries(lexicon.findings).map(([name, c]) => ({
    name,
    mention: alternation(c.mentions, `${name}.mentions`)!,
    exclude: alternation(c.exclude, `${name}.exclude`),
    group: c.group,
    output: c.output,
  }));
  const triggers: { kind: number; re: RegExp }[] = [];
  const add = (kind: number, p: string[], what: string) => {
    const re = alternation(p, what);
    if (re) triggers.push({ kind, re });
  };
  add(KIND_UNC_PRE, lexicon.uncertainty.pre, 'uncertainty.pre');
  add(KIND_UNC_POST, lexicon.uncertainty.post, 'uncertainty.post');
  add(KIND_NEG_PRE, lexicon.negation.pre, 'negation.pre');
  add(KIND_NEG_POST, lexicon.negation.post, 'negation.post');
  return {
    lexicon,
    concepts,
    columns: [...concepts.filter((c) => c.output).map((c) => c.name), 'No_Finding', 'normal'],
    triggers,
    pseudo: alternation(lexicon.pseudo, 'pseudo'),
    terminator: alternation(lexicon.terminators, 'terminators'),
  };
}

export interface LabelExplanation {
  finding: string;
  value: 1 | 0 | -1;
  section: string;
  /** The sentence (original text) holding the deciding mention. */
  sentence: string;
  /** The mention text. */
  mention: string;
  /** The trigger that made it negative or uncertain, '' for a plain positive mention. */
  trigger: string;
}

export interface ReportLabels {
  /** Column → value, for every column of `compiled.columns`. */
  values: Record<string, FindingValue>;
  /** One explanation per non-blank label (the mention that decided it). */
  explanations: LabelExplanation[];
}

/** Sentence boundaries as a flat [start0, end0, start1, end1, …] array. */
function sentenceBounds(text: string): number[] {
  const out: number[] = [];
  let start = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    let end = false;
    if (c === 10 || c === 13 || c === 33) end = true; // \n \r !
    else if (c === 46) {
      // "." ends a sentence unless it sits between digits (3.5 cm).
      const prev = i > 0 ? text.charCodeAt(i - 1) : 0;
      const next = i + 1 < n ? text.charCodeAt(i + 1) : 0;
      end = !(prev >= 48 && prev <= 57 && next >= 48 && next <= 57);
    }
    if (end) {
      if (i > start) out.push(start, i);
      start = i + 1;
    }
  }
  if (n > start) out.push(start, n);
  return out;
}

/** Number of words between two offsets (spaces that start a new word). */
function wordsBetween(text: string, from: number, to: number): number {
  let words = 0;
  let inWord = false;
  for (let i = from; i < to; i++) {
    const c = text.charCodeAt(i);
    const space = c === 32 || c === 44 || c === 9; // space, comma, tab
    if (!space && !inWord) words++;
    inWord = !space;
  }
  return words;
}

interface Span {
  start: number;
  end: number;
  kind: number;
}

function collect(re: RegExp, text: string, kind: number, out: Span[]): void {
  re.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    if (m[0].length === 0) {
      re.lastIndex++;
      continue;
    }
    out.push({ start: m.index, end: m.index + m[0].length, kind });
  }
}

function overlaps(a: Span, list: readonly Span[]): boolean {
  for (const b of list) if (a.start < b.end && b.start < a.end) return true;
  return false;
}

const RANK: Record<string, number> = { '1': 3, '-1': 2, '0': 1 };

/** Lower-case without changing offsets, so explanations can quote the original text. */
function lowerSameLength(text: string): string {
  const l = text.toLowerCase();
  if (l.length === text.length) return l;
  let out = '';
  for (const ch of text) {
    const lc = ch.toLowerCase();
    out += lc.length === ch.length ? lc : ch;
  }
  return out;
}

interface SectionState {
  text: string;
  lower: string;
  bounds: number[] | null;
  triggers: Span[] | null;
  terminators: Span[] | null;
}

function prepareTriggers(c: CompiledLexicon, s: SectionState): void {
  if (s.triggers) return;
  s.bounds = sentenceBounds(s.lower);
  const pseudo: Span[] = [];
  if (c.pseudo) collect(c.pseudo, s.lower, -1, pseudo);
  const raw: Span[] = [];
  for (const t of c.triggers) collect(t.re, s.lower, t.kind, raw);
  const unc = raw.filter((t) => (t.kind === KIND_UNC_PRE || t.kind === KIND_UNC_POST) && !overlaps(t, pseudo));
  const neg = raw.filter((t) => (t.kind === KIND_NEG_PRE || t.kind === KIND_NEG_POST) && !overlaps(t, pseudo) && !overlaps(t, unc));
  s.triggers = [...unc, ...neg].sort((a, b) => a.start - b.start);
  const term: Span[] = [];
  if (c.terminator) collect(c.terminator, s.lower, 0, term);
  // A terminator inside a trigger ("no evidence of … with"?) is not a terminator.
  s.terminators = term.filter((t) => !overlaps(t, s.triggers!));
}

function classify(c: CompiledLexicon, s: SectionState, m: Span): { value: 1 | 0 | -1; trigger: Span | null; sentence: [number, number] } {
  const b = s.bounds!;
  let s0 = 0;
  let s1 = s.lower.length;
  for (let i = 0; i < b.length; i += 2) {
    if (m.start >= b[i]! && m.start < b[i + 1]!) {
      s0 = b[i]!;
      s1 = b[i + 1]!;
      break;
    }
  }
  let scopeStart = s0;
  let scopeEnd = s1;
  for (const t of s.terminators!) {
    if (t.end <= m.start && t.start >= s0 && t.end > scopeStart) scopeStart = t.end;
    if (t.start >= m.end && t.start < scopeEnd) scopeEnd = t.start;
  }
  const { preWindowWords, postWindowWords } = c.lexicon;
  let pre: Span | null = null;
  let post: Span | null = null;
  let negPre: Span | null = null;
  for (const t of s.triggers!) {
    if (t.kind === KIND_NEG_PRE || t.kind === KIND_UNC_PRE) {
      if (t.start >= scopeStart && t.start < m.end) {
        if (t.end <= m.start && wordsBetween(s.lower, t.end, m.start) > preWindowWords) continue;
        if (!pre || t.start >= pre.start) pre = t;
        if (t.kind === KIND_NEG_PRE && (!negPre || t.start >= negPre.start)) negPre = t;
      }
    } else if (t.start >= m.end && t.end <= scopeEnd && !post) {
      if (wordsBetween(s.lower, m.end, t.start) <= postWindowWords) post = t;
    }
  }
  // Negation first (as NegBio): in "no consolidation, suspicious opacity or definite effusion" the
  // hedge words sit inside a negated list.
  if (pre && pre.kind === KIND_UNC_PRE && negPre) pre = negPre;
  const decider = pre ?? post;
  const value: 1 | 0 | -1 = !decider ? 1 : decider.kind === KIND_NEG_PRE || decider.kind === KIND_NEG_POST ? 0 : -1;
  return { value, trigger: decider, sentence: [s0, s1] };
}

// Headings inside one text column ("INDICATION: … FINDINGS: … IMPRESSION: …"). The clinical
// question ("rule out pneumonia") is not a finding, so history-type sections are not labelled.
const HEADING = /(?:^|[\s.])(findings|impression|conclusions?|opinion|indications?|history|clinical (?:history|information|indications?|details)|reason for (?:exam(?:ination)?|study|request)|comparison|technique)\s*:/gi;
const SKIPPED_HEADINGS = /^(?:indications?|history|clinical|reason)/i;

/** Split each section on embedded headings; drop history-type parts and empty text. */
function reportParts(sections: Record<string, string | undefined>): [string, string][] {
  const parts: [string, string][] = [];
  for (const [section, text] of Object.entries(sections)) {
    if (!text || text.trim() === '') continue;
    HEADING.lastIndex = 0;
    const heads: { name: string; start: number; body: number }[] = [];
    let m: RegExpExecArray | null;
    while ((m = HEADING.exec(text)) !== null) heads.push({ name: m[1]!.toLowerCase(), start: m.index, body: m.index + m[0].length });
    if (heads.length === 0) {
      parts.push([section, text]);
      continue;
    }
    if (heads[0]!.start > 0 && text.slice(0, heads[0]!.start).trim() !== '') parts.push([section, text.slice(0, heads[0]!.start)]);
    heads.forEach((h, k) => {
      if (SKIPPED_HEADINGS.test(h.name)) return;
      const body = text.slice(h.body, k + 1 < heads.length ? heads[k + 1]!.start : text.length);
      if (body.trim() !== '') parts.push([`${section}/${h.name}`, body]);
    });
  }
  return parts;
}

/**
 * Label one report. `sections` maps section name → text (e.g. findings and impression); missing
 * or empty sections are skipped.
 *
 * @example
 * const c = compileLexicon();
 * labelReport(c, { findings: 'Small left effusion. No pneumothorax.', impression: 'Possible pneumonia.' }).values
 * // → { Effusion: 1, Pneumothorax: 0, Pneumonia: -1, Atelectasis: null, … }
 */
export function labelReport(c: CompiledLexicon, sections: Record<string, string | undefined>, explain = true): ReportLabels {
  const best = new Map<string, { value: 1 | 0 | -1; expl: LabelExplanation | null }>();
  for (const [section, text] of reportParts(sections)) {
    const s: SectionState = { text, lower: lowerSameLength(text), bounds: null, triggers: null, terminators: null };
    for (const concept of c.concepts) {
      const re = concept.mention;
      re.lastIndex = 0;
      let m: RegExpExecArray | null;
      let excl: Span[] | null = null;
      while ((m = re.exec(s.lower)) !== null) {
        const span: Span = { start: m.index, end: m.index + m[0].length, kind: 0 };
        if (span.end === span.start) {
          re.lastIndex++;
          continue;
        }
        if (concept.exclude) {
          if (!excl) {
            excl = [];
            collect(concept.exclude, s.lower, 0, excl);
          }
          if (overlaps(span, excl)) continue;
        }
        const prev = best.get(concept.name);
        if (prev && prev.value === 1) break; // nothing beats a positive
        prepareTriggers(c, s);
        const r = classify(c, s, span);
        if (!prev || RANK[String(r.value)]! > RANK[String(prev.value)]!) {
          best.set(concept.name, {
            value: r.value,
            expl: explain
              ? {
                  finding: concept.name,
                  value: r.value,
                  section,
                  sentence: text.slice(r.sentence[0], r.sentence[1]).trim(),
                  mention: text.slice(span.start, span.end),
                  trigger: r.trigger ? text.slice(r.trigger.start, r.trigger.end) : '',
                }
              : null,
          });
        }
        if (r.value === 1) break;
      }
    }
  }
  const values: Record<string, FindingValue> = {};
  const explanations: LabelExplanation[] = [];
  if (!Object.values(sections).some((t) => t !== undefined && t.trim() !== '')) {
    // No text at all: nothing is known, not even "normal".
    for (const col of c.columns) values[col] = null;
    return { values, explanations };
  }
  let pathology = false;
  let anything = false;
  let firstPathology: LabelExplanation | null = null;
  let firstAnything: LabelExplanation | null = null;
  for (const concept of c.concepts) {
    const b = best.get(concept.name);
    if (concept.output) values[concept.name] = b ? b.value : null;
    if (b && b.expl && concept.output) explanations.push(b.expl);
    if (b && b.value !== 0) {
      anything = true;
      firstAnything ??= b.expl;
      if (concept.group === 'pathology') {
        pathology = true;
        firstPathology ??= b.expl;
      }
    }
  }
  values['No_Finding'] = pathology ? 0 : 1;
  values['normal'] = anything ? 0 : 1;
  if (explain) {
    const derived = (finding: string, v: 0 | 1, because: LabelExplanation | null): LabelExplanation =>
      v === 1 || !because
        ? { finding, value: v, section: '', sentence: '', mention: '', trigger: 'no positive or uncertain mention' }
        : { ...because, finding, value: v, trigger: `${because.finding} ${because.value === 1 ? 'positive' : 'uncertain'}` };
    explanations.push(derived('No_Finding', pathology ? 0 : 1, firstPathology));
    explanations.push(derived('normal', anything ? 0 : 1, firstAnything));
  }
  return { values, explanations };
}

export interface LabelTableOptions {
  idColumn: string;
  textColumns: readonly string[];
  explain?: boolean;
  onProgress?: ProgressCallback;
}

export interface LabelTableResult {
  /** Output columns: `id` then one per finding. */
  header: string[];
  rows: Record<string, FindingValue | string>[];
  /** Explanations with the report id, one per non-blank label. */
  explanations: (LabelExplanation & { id: string })[];
  /** Rows that were skipped, by 1-based CSV line, with the reason (never the report text). */
  skipped: { line: number; reason: string }[];
}

/**
 * Label every row of a report table (e.g. a CSV read with readCsv). Rows without an id or with a
 * repeated id are skipped and reported; a row whose text columns are all empty gets blank labels.
 *
 * @example
 * const t = readCsv('reports.csv');
 * const out = labelReportTable(compileLexicon(), t.rows, t.lines, { idColumn: 'id', textColumns: ['findings', 'impression'] });
 */
export function labelReportTable(
  c: CompiledLexicon,
  rows: readonly Record<string, string>[],
  lines: readonly number[],
  options: LabelTableOptions,
): LabelTableResult {
  const header = ['id', ...c.columns];
  const out: Record<string, FindingValue | string>[] = [];
  const explanations: (LabelExplanation & { id: string })[] = [];
  const skipped: { line: number; reason: string }[] = [];
  const seen = new Set<string>();
  const progress = options.onProgress ?? noProgress;
  const sections: Record<string, string | undefined> = {};
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i]!;
    const line = lines[i] ?? i + 2;
    const id = (row[options.idColumn] ?? '').trim();
    if (id === '') {
      skipped.push({ line, reason: `empty ${options.idColumn}` });
      continue;
    }
    if (seen.has(id)) {
      skipped.push({ line, reason: `repeated ${options.idColumn} (an earlier row has the same value)` });
      continue;
    }
    seen.add(id);
    for (const col of options.textColumns) sections[col] = row[col];
    const r = labelReport(c, sections, options.explain ?? false);
    out.push({ id, ...r.values });
    for (const e of r.explanations) explanations.push({ id, ...e });
    if (i % 1000 === 999) progress({ stage: 'label', done: i + 1, total: rows.length });
  }
  progress({ stage: 'label', done: rows.length, total: rows.length });
  return { header, rows: out, explanations, skipped };
}
