import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  readDicomHeader,
  readDicomFile,
  isDicom,
  hashPatientId,
  headerColumns,
  parseDicomAge,
  ageFromDates,
  DicomHeaderSchema,
} from '../../../src/data/dicom/index.js';
import { execFileSync } from 'node:child_process';
import { SHARED_DICOM, dicomPath, needsDicom, makeVariants } from './oracle.js';

const skip = existsSync(SHARED_DICOM) ? false : 'needs ../shared/data/dicom';
const bytes = (name: string) => new Uint8Array(readFileSync(dicomPath(name) ?? join(SHARED_DICOM, name)));
const hasPydicom = (() => {
  try {
    execFileSync('python3', ['-c', 'import pydicom'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

test('header maps to manifest columns (chest CR, Philips)', { skip }, async () => {
  const d = await readDicomFile(join(SHARED_DICOM, 'chest_cr_philips_j2k.dcm'), { salt: 'site-a' });
  const c = d.columns;
  assert.equal(c.sex, 'F');
  assert.equal(c.age, '64'); // no PatientAge: born 1940-03-05, studied 2004
  assert.equal(c.manufacturer, 'Philips Medical Systems');
  assert.equal(c.modality, 'CR');
  assert.equal(c.body_part, 'CHEST');
  assert.equal(c.view, 'PA');
  assert.equal(c.site, 'Philips Medical Systems Hamburg');
  assert.equal(c.photometric, 'MONOCHROME1');
  assert.equal(c.rows, '1955');
  assert.equal(c.columns, '1841');
  assert.match(c.study_uid!, /^1\.3\.6\.1\.4\.1\.5962\.1\.2\.9\./);
  assert.match(c.series_uid!, /^[\d.]+$/);
  assert.match(c.sop_uid!, /^[\d.]+$/);
  assert.deepEqual(DicomHeaderSchema.parse(d.header), d.header);
});

test('patient ID is a salted hash by default, raw only on request; the name appears nowhere', { skip }, () => {
  const buf = bytes('chest_cr_philips_j2k.dcm');
  const a = readDicomHeader(buf, 'x.dcm', { salt: 'site-a' });
  const a2 = readDicomHeader(buf, 'x.dcm', { salt: 'site-a' });
  const b = readDicomHeader(buf, 'x.dcm', { salt: 'site-b' });
  const dflt = readDicomHeader(buf, 'x.dcm');
  assert.match(a.patientId, /^[0-9a-f]{16}$/);
  assert.notEqual(a.patientId, '9RG1');
  assert.equal(a.patientId, a2.patientId);
  assert.notEqual(a.patientId, b.patientId);
  assert.equal(a.patientId, hashPatientId('9RG1', 'site-a'));
  assert.match(dflt.patientId, /^[0-9a-f]{16}$/);
  assert.equal(readDicomHeader(buf, 'x.dcm', { keepPatientIds: true }).patientId, '9RG1');
  const text = JSON.stringify([a, headerColumns(a), dflt, headerColumns(dflt)]);
  assert.ok(!text.includes('CompressedSamples'), 'patient name leaked');
  assert.ok(!text.includes('9RG1'), 'raw patient ID leaked');
});

test('header of other files: age from PatientAge, blank site, sex O, no pixels still has a header', { skip }, () => {
  const siim = headerColumns(readDicomHeader(bytes('chest_cr_siim.dcm'), 'siim.dcm'));
  assert.equal(siim.age, '62');
  assert.equal(siim.site, '');
  assert.equal(siim.sex, 'M');
  assert.equal(siim.view, 'PA');
  const ct = readDicomHeader(bytes('ct_small.dcm'), 'ct.dcm');
  assert.equal(ct.patientSex, 'O');
  assert.equal(ct.patientAgeYears, 0);
  assert.equal(ct.rescaleIntercept, -1024);
  assert.equal(ct.pixelRepresentation, 1);
  const plan = readDicomHeader(bytes('rtplan_no_pixels.dcm'), 'plan.dcm');
  assert.equal(plan.hasPixelData, false);
  assert.equal(plan.sopClassName, 'RT Plan Storage');
  assert.equal(plan.modality, 'RTPLAN');
  const mr = readDicomHeader(bytes('mr_small_bigendian.dcm'), 'mr.dcm');
  assert.deepEqual([mr.rows, mr.columns, mr.bitsStored, mr.windowCenter[0], mr.windowWidth[0]], [64, 64, 16, 600, 1600]);
});

test('DICOM ages and dates', () => {
  assert.equal(parseDicomAge('045Y'), 45);
  assert.equal(parseDicomAge('062'), 62);
  assert.equal(parseDicomAge('006M'), 0.5);
  assert.equal(parseDicomAge('x'), null);
  assert.equal(ageFromDates('19400305', '20040304'), 63);
  assert.equal(ageFromDates('19400305', '20040305'), 64);
  assert.equal(ageFromDates('', '20040305'), null);
});

test('isDicom: DICM prefix, preamble-less data sets, and not random bytes', { skip: hasPydicom ? needsDicom('mr_small.dcm', 'ct_small.dcm', 'jpeg_lossy.dcm') : 'needs python3 with pydicom' }, () => {
  assert.equal(isDicom(bytes('mr_small.dcm')), true);
  const { files } = makeVariants();
  assert.equal(isDicom(new Uint8Array(readFileSync(files['mr_no_meta_implicit']!))), true);
  assert.equal(isDicom(new Uint8Array(readFileSync(files['mr_no_meta_explicit']!))), true);
  // The meta group without preamble (starts with group 0002).
  assert.equal(isDicom(bytes('mr_small.dcm').subarray(128 + 4)), true);
  let x = 7;
  const noise = new Uint8Array(2048).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 16) & 0xff);
  assert.equal(isDicom(noise), false);
  assert.equal(isDicom(new Uint8Array(0)), false);
  assert.equal(isDicom(new TextEncoder().encode('%PDF-1.4 hello')), false);
});

test('preamble-less file starting with the meta group reads like the original', { skip: needsDicom('mr_small.dcm') }, async () => {
  const full = bytes('mr_small.dcm');
  const { readDicom } = await import('../../../src/data/dicom/index.js');
  const a = await readDicom(full, 'a.dcm');
  const b = await readDicom(full.subarray(132), 'b.dcm');
  assert.deepEqual(b.modalityValues, a.modalityValues);
});
