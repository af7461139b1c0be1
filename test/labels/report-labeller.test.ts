import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileLexicon, labelReport, labelReportTable } from '../../src/labels/report-labeller.js';
import { CHESTXRAY14_FINDINGS, DEFAULT_LEXICON, extendLexicon, loadLexicon } from '../../src/labels/lexicon.js';
import { isDevelopmentId, scorePositives } from '../../src/labels/scoring.js';
import { readCsv } from '../../src/util/csv.js';
import { main } from '../../src/cli/main.js';

const c = compileLexicon();
const label = (text: string, section = 'findings') => labelReport(c, { [section]: text }).values;

test('plain positive, pre-negation and list negation', () => {
  assert.equal(label('Small left pleural effusion.')['Effusion'], 1);
  assert.equal(label('No pleural effusion.')['Effusion'], 0);
  const v = label('No pneumothorax, pleural effusion, or focal airspace consolidation.');
  assert.equal(v['Pneumothorax'], 0);
  assert.equal(v['Effusion'], 0);
  assert.equal(v['Consolidation'], 0);
  assert.equal(label('Lungs are clear without focal consolidation, effusion, or pneumothorax.')['Pneumothorax'], 0);
  assert.equal(label('Negative for pneumothorax.')['Pneumothorax'], 0);
  assert.equal(v['Edema'], null, 'not mentioned → blank');
});

test('negation scope ends at terminators and sentence ends', () => {
  const v = label('No pneumothorax but there is a small effusion.');
  assert.equal(v['Pneumothorax'], 0);
  assert.equal(v['Effusion'], 1);
  const w = label('No focal consolidation. Right basilar atelectasis.');
  assert.equal(w['Consolidation'], 0);
  assert.equal(w['Atelectasis'], 1);
  assert.equal(label('No effusion, however mild cardiomegaly is present.')['Cardiomegaly'], 1);
  assert.equal(label('No pneumothorax; left lower lobe pneumonia.')['Pneumonia'], 1);
});

test('post-triggers negate or hedge backwards', () => {
  assert.equal(label('The previously seen effusion has resolved.')['Effusion'], 0);
  assert.equal(label('Pneumothorax is not seen.')['Pneumothorax'], 0);
  assert.equal(label('The heart is not enlarged.')['Cardiomegaly'], 0);
  assert.equal(label('Early pneumonia cannot be excluded.')['Pneumonia'], -1);
  assert.equal(label('A small effusion is possible.')['Effusion'], -1);
});

test('uncertainty pre-triggers, and negation wins inside a negated list', () => {
  assert.equal(label('Possible right lower lobe pneumonia.')['Pneumonia'], -1);
  assert.equal(label('Opacity may represent atelectasis.')['Atelectasis'], -1);
  assert.equal(label('Cannot exclude a small pneumothorax.')['Pneumothorax'], -1, '"cannot" is part of the hedge, not a negation');
  assert.equal(label('Patchy opacity concerning for pneumonia.')['Pneumonia'], -1);
  assert.equal(label('Question small right pleural effusion.')['Effusion'], -1);
  assert.equal(label('No focal consolidation, suspicious pulmonary opacity or definite pleural effusion.')['Effusion'], 0);
  assert.equal(label('Opacities compatible with atelectasis.')['Atelectasis'], 1);
  assert.equal(label('Bibasilar atelectasis versus scarring.')['Atelectasis'], 1);
});

test('pseudo-negations do not negate', () => {
  assert.equal(label('No change in moderate left pneumothorax.')['Pneumothorax'], 1);
  assert.equal(label('No significant interval change in cardiomegaly.')['Cardiomegaly'], 1);
  assert.equal(label('There is no focal opacity to suggest pneumonia.')['Pneumonia'], 0);
});

test('XXXX anonymisation tokens neither split sentences nor create mentions', () => {
  const v = label('There are no XXXX of a pleural effusion. XXXX XXXX.');
  assert.equal(v['Effusion'], 0);
  assert.equal(label('Heart size XXXX enlarged.')['Cardiomegaly'], 1);
  assert.equal(label('Normal chest x-XXXX.')['normal'], 1);
  assert.equal(label('A 3.5 cm mass in the right upper lobe. No effusion.')['Mass'], 1);
});

test('aggregation across sections: positive beats uncertain beats negative', () => {
  const r = labelReport(c, { findings: 'Possible small left effusion. No pneumothorax.', impression: 'Small left pleural effusion. Possible pneumothorax.' });
  assert.equal(r.values['Effusion'], 1);
  assert.equal(r.values['Pneumothorax'], -1);
  const e = r.explanations.find((x) => x.finding === 'Pneumothorax')!;
  assert.equal(e.section, 'impression');
  assert.equal(e.trigger, 'Possible');
  assert.equal(e.sentence, 'Possible pneumothorax');
});

test('headings inside one column: history and indication are not labelled', () => {
  const r = labelReport(c, { report: 'INDICATION: Cough, rule out pneumonia. HISTORY: Prior pneumothorax. FINDINGS: Small left effusion. IMPRESSION: No pneumonia.' });
  assert.equal(r.values['Pneumonia'], 0);
  assert.equal(r.values['Pneumothorax'], null);
  assert.equal(r.values['Effusion'], 1);
  assert.equal(r.explanations.find((e) => e.finding === 'Effusion')!.section, 'report/findings');
});

test('derived No_Finding and normal', () => {
  const a = label('Heart size normal. Lungs are clear. No effusion or pneumothorax.');
  assert.equal(a['No_Finding'], 1);
  assert.equal(a['normal'], 1);
  const b = label('Lungs are clear. Calcified granuloma in the right upper lobe.');
  assert.equal(b['No_Finding'], 1, 'a granuloma is not a CheXpert pathology');
  assert.equal(b['normal'], 0);
  const d = label('Left-sided pacemaker. Lungs clear.');
  assert.equal(d['Support_Devices'], 1);
  assert.equal(d['No_Finding'], 1);
  assert.equal(labelReport(c, { findings: '', impression: '' }).values['normal'], null);
  assert.equal(label('Pulmonary vascular engorgement is within normal limits.')['normal'], 1, 'post-negation "is within normal limits"');
});

test('lexicon extension: new mention, new trigger, removed finding, invalid pattern', () => {
  const ext = extendLexicon(DEFAULT_LEXICON, { findings: { Effusion: { mentions: ['fluid collection'] } }, negation: { pre: ['no convincing'] }, remove: ['Hernia'] });
  const cx = compileLexicon(ext);
  assert.equal(labelReport(cx, { f: 'Small pleural-based fluid collection.' }).values['Effusion'], 1);
  assert.equal(labelReport(cx, { f: 'No convincing fluid collection.' }).values['Effusion'], 0);
  assert.ok(!cx.columns.includes('Hernia'));
  const dir = mkdtempSync(join(tmpdir(), 'radml-lex-'));
  writeFileSync(join(dir, 'bad.json'), JSON.stringify({ findings: { Effusion: { mentions: 'oops' } } }));
  assert.throws(() => loadLexicon(join(dir, 'bad.json')), /bad\.json: not a valid lexicon/);
  writeFileSync(join(dir, 'regex.json'), JSON.stringify({ findings: { Foo: { mentions: ['(unclosed'] } } }));
  assert.throws(() => compileLexicon(loadLexicon(join(dir, 'regex.json'))), /Foo\.mentions: invalid pattern/);
});

test('table labelling skips rows without id or with repeated ids', () => {
  const r = labelReportTable(c, [{ id: 'a', t: 'Cardiomegaly.' }, { id: '', t: 'x' }, { id: 'a', t: 'y' }], [2, 3, 4], { idColumn: 'id', textColumns: ['t'] });
  assert.equal(r.rows.length, 1);
  assert.deepEqual(r.skipped.map((s) => s.line), [3, 4]);
});

test('radml label-reports CLI writes labels and explanations', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'radml-lr-'));
  writeFileSync(join(dir, 'r.csv'), 'id,findings,impression\nA,"No effusion. Possible pneumonia.",Cardiomegaly.\nB,,Normal chest.\n');
  const out: string[] = [];
  const code = await main(['label-reports', '--in', join(dir, 'r.csv'), '--out', join(dir, 'l.csv'), '--explain', join(dir, 'e.csv')], { out: (l) => out.push(l), err: () => {}, interactive: false });
  assert.equal(code, 0);
  const t = readCsv(join(dir, 'l.csv'));
  assert.equal(t.header[0], 'id');
  for (const f of CHESTXRAY14_FINDINGS) assert.ok(t.header.includes(f), f);
  assert.deepEqual([t.rows[0]!['Effusion'], t.rows[0]!['Pneumonia'], t.rows[0]!['Cardiomegaly'], t.rows[1]!['normal']], ['0', '-1', '1', '1']);
  assert.match(readFileSync(join(dir, 'e.csv'), 'utf8'), /A,Pneumonia,-1,findings,Possible pneumonia,pneumonia,Possible/);
});

const iu = resolve('..', 'shared', 'data', 'iu-reports');
test('IU reports: positive-finding scores on the development and held-out parts', { skip: existsSync(iu) ? false : 'needs ../shared/data/iu-reports' }, () => {
  const reports = readCsv(join(iu, 'reports.csv')).rows;
  const labels = new Map(readCsv(join(iu, 'labels.csv')).rows.map((r) => [r['filename']!, r]));
  const cols = [...CHESTXRAY14_FINDINGS, 'normal'];
  const parts = { development: { pred: [] as Record<string, 1 | 0 | -1 | null>[], ref: [] as Record<string, 1 | 0 | -1 | null>[] }, heldOut: { pred: [] as Record<string, 1 | 0 | -1 | null>[], ref: [] as Record<string, 1 | 0 | -1 | null>[] } };
  for (const r of reports) {
    const part = isDevelopmentId(r['id']!) ? parts.development : parts.heldOut;
    const l = labels.get(r['id']!);
    assert.ok(l, 'every report has labels');
    part.pred.push(labelReport(c, { findings: r['findings'], impression: r['impression'] }, false).values);
    part.ref.push(Object.fromEntries(cols.map((f) => [f, l[f] === '1' ? 1 : 0])));
  }
  const fmt = (x: number) => (Number.isNaN(x) ? '  -  ' : x.toFixed(3));
  const results: Record<string, number> = {};
  for (const [name, p] of Object.entries(parts)) {
    const s = scorePositives(p.pred, p.ref, cols);
    const s14 = scorePositives(p.pred, p.ref, [...CHESTXRAY14_FINDINGS]);
    const su = scorePositives(p.pred, p.ref, cols, { uncertainAsPositive: true });
    console.log(`# IU ${name} (${p.pred.length} reports): finding support P R F1`);
    for (const f of s.perFinding) console.log(`#   ${f.finding.padEnd(19)} ${String(f.support).padStart(4)} ${fmt(f.precision)} ${fmt(f.recall)} ${fmt(f.f1)}`);
    console.log(`#   micro (14 + normal)  P ${fmt(s.micro.precision)} R ${fmt(s.micro.recall)} F1 ${fmt(s.micro.f1)}; 14 findings only F1 ${fmt(s14.micro.f1)}; with -1 as positive F1 ${fmt(su.micro.f1)}`);
    results[name] = s.micro.f1;
  }
  assert.ok(results['heldOut']! >= 0.9, `held-out micro-F1 ${results['heldOut']} < 0.90`);
});
