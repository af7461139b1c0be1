/** Fixtures for the de-identification tests: DICOM files built element by element. */
import { spawnSync } from 'node:child_process';
import { textValue, writePart10, type Element, type Part10File } from '../../src/deid/part10.js';

export const KEY = Buffer.from('0123456789abcdef0123456789abcdef', 'utf8');

/** A value for any VR; strings carry identifying-looking text so cleaning has work to do. */
export function sampleValue(vr: string, n: number): Element['value'] {
  const le = (bytes: number, write: (v: DataView) => void) => {
    const b = new Uint8Array(bytes);
    write(new DataView(b.buffer));
    return b;
  };
  switch (vr) {
    case 'PN':
      return textValue('Doe^John');
    case 'DA':
      return textValue('20200315');
    case 'TM':
      return textValue('101510');
    case 'DT':
      return textValue('20200315101510');
    case 'UI':
      return textValue(`1.2.826.0.1.3680043.8.498.${1000 + n}`);
    case 'CS':
      return textValue('VALUE');
    case 'AS':
      return textValue('045Y');
    case 'DS':
      return textValue('1.5');
    case 'IS':
      return textValue('7');
    case 'AE':
      return textValue('SCANNER1');
    case 'UR':
      return textValue('http://example.org/x');
    case 'US':
      return le(2, (v) => v.setUint16(0, 3, true));
    case 'SS':
      return le(2, (v) => v.setInt16(0, -3, true));
    case 'UL':
      return le(4, (v) => v.setUint32(0, 5, true));
    case 'SL':
      return le(4, (v) => v.setInt32(0, -5, true));
    case 'FL':
      return le(4, (v) => v.setFloat32(0, 1.25, true));
    case 'FD':
      return le(8, (v) => v.setFloat64(0, 1.25, true));
    case 'AT':
      return le(4, (v) => {
        v.setUint16(0, 0x0010, true);
        v.setUint16(2, 0x0010, true);
      });
    case 'OB':
    case 'OW':
    case 'UN':
      return new Uint8Array([1, 2, 3, 4]);
    case 'SH':
      return textValue('Dr. John Smith');
    default:
      // LO ST LT UT UC: text with a name and a date in it, so "clean" has something to remove.
      return textValue('Seen by Dr. John Smith on 03/15/2020');
  }
}

export function part10(dataset: Element[], tsUid = '1.2.840.10008.1.2.1'): Uint8Array {
  const sop = dataset.find((e) => e.tag === 0x00080018)?.value ?? textValue('1.2.3.4');
  const cls = dataset.find((e) => e.tag === 0x00080016)?.value ?? textValue('1.2.840.10008.5.1.4.1.1.1');
  const f: Part10File = {
    meta: [
      { tag: 0x00020001, vr: 'OB', value: new Uint8Array([0, 1]) },
      { tag: 0x00020002, vr: 'UI', value: cls },
      { tag: 0x00020003, vr: 'UI', value: sop },
      { tag: 0x00020010, vr: 'UI', value: textValue(tsUid) },
      { tag: 0x00020012, vr: 'UI', value: textValue('1.2.3.999') },
      { tag: 0x00020016, vr: 'AE', value: textValue('SENDER') },
    ],
    dataset,
    transferSyntaxUid: tsUid,
    encoding: { explicitVr: tsUid !== '1.2.840.10008.1.2', littleEndian: tsUid !== '1.2.840.10008.1.2.2' },
    deflated: tsUid === '1.2.840.10008.1.2.1.99',
  };
  return writePart10(f);
}

/** A small MONOCHROME2 16-bit CR with native pixels and a few identifying attributes. */
export function smallImage(opts: { patientId: string; study: string; series: string; sop: string; date?: string; pixels?: Uint16Array; width?: number; height?: number; extra?: Element[] }): Element[] {
  const w = opts.width ?? 64;
  const h = opts.height ?? 64;
  const px = opts.pixels ?? Uint16Array.from({ length: w * h }, (_, i) => (i * 37) % 4096);
  const us = (v: number) => {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setUint16(0, v, true);
    return b;
  };
  return [
    { tag: 0x00080016, vr: 'UI', value: textValue('1.2.840.10008.5.1.4.1.1.1') },
    { tag: 0x00080018, vr: 'UI', value: textValue(opts.sop) },
    { tag: 0x00080020, vr: 'DA', value: textValue(opts.date ?? '20200315') },
    { tag: 0x00080060, vr: 'CS', value: textValue('CR') },
    { tag: 0x00080070, vr: 'LO', value: textValue('Acme') },
    { tag: 0x00080080, vr: 'LO', value: textValue('St Elsewhere General Hospital') },
    { tag: 0x00100010, vr: 'PN', value: textValue('Doe^Jane') },
    { tag: 0x00100020, vr: 'LO', value: textValue(opts.patientId) },
    { tag: 0x00100030, vr: 'DA', value: textValue('19700101') },
    { tag: 0x0020000d, vr: 'UI', value: textValue(opts.study) },
    { tag: 0x0020000e, vr: 'UI', value: textValue(opts.series) },
    { tag: 0x00280002, vr: 'US', value: us(1) },
    { tag: 0x00280004, vr: 'CS', value: textValue('MONOCHROME2') },
    { tag: 0x00280010, vr: 'US', value: us(h) },
    { tag: 0x00280011, vr: 'US', value: us(w) },
    { tag: 0x00280100, vr: 'US', value: us(16) },
    { tag: 0x00280101, vr: 'US', value: us(12) },
    { tag: 0x00280102, vr: 'US', value: us(11) },
    { tag: 0x00280103, vr: 'US', value: us(0) },
    { tag: 0x00091010, vr: 'LO', value: textValue('PRIVATE NAME JOHN') },
    { tag: 0x00090010, vr: 'LO', value: textValue('ACME PRIVATE') },
    ...(opts.extra ?? []),
    { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(px.buffer, px.byteOffset, px.byteLength) },
  ];
}

export function havePython(modules: string): boolean {
  return spawnSync('python3', ['-c', `import ${modules}`], { stdio: 'ignore' }).status === 0;
}

export function haveTool(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}
