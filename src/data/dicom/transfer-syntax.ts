/** Transfer syntaxes radml reads, and how each one's pixel data is encoded. */

export type PixelEncoding =
  | 'native'
  | 'jpeg-baseline'
  | 'jpeg-extended'
  | 'jpeg-lossless'
  | 'jpeg-ls'
  | 'jpeg-2000'
  | 'htj2k'
  | 'rle';

export interface TransferSyntax {
  uid: string;
  name: string;
  /** Data set encoding: implicit VR (little endian) or explicit VR. */
  explicitVr: boolean;
  bigEndian: boolean;
  deflated: boolean;
  pixels: PixelEncoding;
}

const table: TransferSyntax[] = [
  { uid: '1.2.840.10008.1.2', name: 'Implicit VR Little Endian', explicitVr: false, bigEndian: false, deflated: false, pixels: 'native' },
  { uid: '1.2.840.10008.1.2.1', name: 'Explicit VR Little Endian', explicitVr: true, bigEndian: false, deflated: false, pixels: 'native' },
  { uid: '1.2.840.10008.1.2.1.99', name: 'Deflated Explicit VR Little Endian', explicitVr: true, bigEndian: false, deflated: true, pixels: 'native' },
  { uid: '1.2.840.10008.1.2.2', name: 'Explicit VR Big Endian', explicitVr: true, bigEndian: true, deflated: false, pixels: 'native' },
  { uid: '1.2.840.10008.1.2.4.50', name: 'JPEG Baseline (Process 1)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-baseline' },
  { uid: '1.2.840.10008.1.2.4.51', name: 'JPEG Extended (Process 2 & 4)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-extended' },
  { uid: '1.2.840.10008.1.2.4.57', name: 'JPEG Lossless, Non-Hierarchical (Process 14)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-lossless' },
  { uid: '1.2.840.10008.1.2.4.70', name: 'JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-lossless' },
  { uid: '1.2.840.10008.1.2.4.80', name: 'JPEG-LS Lossless', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.81', name: 'JPEG-LS Lossy (Near-Lossless)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-ls' },
  { uid: '1.2.840.10008.1.2.4.90', name: 'JPEG 2000 (Lossless Only)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-2000' },
  { uid: '1.2.840.10008.1.2.4.91', name: 'JPEG 2000', explicitVr: true, bigEndian: false, deflated: false, pixels: 'jpeg-2000' },
  { uid: '1.2.840.10008.1.2.4.201', name: 'High-Throughput JPEG 2000 (Lossless Only)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'htj2k' },
  { uid: '1.2.840.10008.1.2.4.202', name: 'High-Throughput JPEG 2000 with RPCL Options (Lossless Only)', explicitVr: true, bigEndian: false, deflated: false, pixels: 'htj2k' },
  { uid: '1.2.840.10008.1.2.4.203', name: 'High-Throughput JPEG 2000', explicitVr: true, bigEndian: false, deflated: false, pixels: 'htj2k' },
  { uid: '1.2.840.10008.1.2.5', name: 'RLE Lossless', explicitVr: true, bigEndian: false, deflated: false, pixels: 'rle' },
];

const byUid = new Map(table.map((t) => [t.uid, t]));

/** The transfer syntax for a UID, or undefined when radml cannot decode it. */
export function transferSyntax(uid: string): TransferSyntax | undefined {
  return byUid.get(uid);
}

export const SUPPORTED_TRANSFER_SYNTAXES: readonly string[] = table.map((t) => t.uid);

/** Names of a few well-known syntaxes radml does not decode, so errors can say what the file is. */
const knownUnsupported: Record<string, string> = {
  '1.2.840.10008.1.2.4.100': 'MPEG2 Main Profile',
  '1.2.840.10008.1.2.4.102': 'MPEG-4 AVC/H.264',
  '1.2.840.10008.1.2.8.1': 'Deflated Image Frame Compression',
  '1.2.840.10008.1.2.4.52': 'JPEG Extended (Process 3 & 5, retired)',
  '1.2.840.10008.1.2.4.53': 'JPEG Spectral Selection (retired)',
  '1.2.840.10008.1.2.4.55': 'JPEG Full Progression (retired)',
};

export function transferSyntaxName(uid: string): string {
  return byUid.get(uid)?.name ?? knownUnsupported[uid] ?? 'unknown';
}
