/**
 * The out-of-distribution gate at prediction time, when the model folder ships one (`ood.json`,
 * fitted by `radml stress … --save-ood`): the DICOM header is compared with the training profile and
 * the image's energy / Mahalanobis scores with their in-distribution thresholds (robustness/). A
 * rejected image is not scored; its reasons are recorded (jobs) or returned (sync inference).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { DicomHeader } from '../data/dicom/index.js';
import type { GreyImage } from '../data/grey-image.js';
import { LoadedModel } from '../explain/loaded-model.js';
import { checkHeader, fieldsFromHeader } from '../robustness/header-checks.js';
import { checkImages, loadOodDetector, OOD_FILE, toModelSize, type InputCheck, type OodDetector } from '../robustness/ood-detector.js';

export class InputGuard {
  private constructor(private readonly model: LoadedModel, private readonly detector: OodDetector) {}

  /** The gate of a model folder, or undefined when it has no ood.json. */
  static async load(dir: string, opts: { threads?: number } = {}): Promise<InputGuard | undefined> {
    if (!existsSync(join(dir, OOD_FILE))) return undefined;
    const detector = loadOodDetector(dir); // refuses a detector fitted for another model.onnx
    const model = await LoadedModel.open(dir, opts.threads !== undefined ? { threads: opts.threads } : {});
    return new InputGuard(model, detector);
  }

  get headerProfile(): OodDetector['headerProfile'] {
    return this.detector.headerProfile;
  }

  /** Header-only reasons (training profile mismatch), usable before any pixel is decoded. */
  headerReasons(header: DicomHeader): string[] {
    return this.detector.headerProfile ? checkHeader(fieldsFromHeader(header), this.detector.headerProfile) : [];
  }

  /** @example const c = await guard.check(img, header); if (!c.accepted) console.log(c.reasons) */
  async check(image: GreyImage, header?: DicomHeader): Promise<InputCheck> {
    const img = toModelSize(image, this.model);
    const [r] = await checkImages(this.model, this.detector, img.data, 1, [header ? fieldsFromHeader(header) : null]);
    return r!;
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}
