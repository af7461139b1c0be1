/**
 * The report-labeller lexicon: which phrases mention which finding, which words negate or hedge a
 * mention, and where a trigger's scope stops. It is data (a JSON file the user can extend or
 * override with `--lexicon`), validated by a zod schema so a typo in a user file is a clear error.
 *
 * Every pattern is a JavaScript regular-expression source matched case-insensitively against the
 * lower-cased report text; plain phrases work as they are. Word boundaries are added around every
 * pattern, so "effusion" does not match inside "effusions" unless written `effusions?`.
 *
 * Output columns (the DESIGN.md report-labels contract, 1 / 0 / -1 / blank):
 * - the 14 ChestX-ray14 findings, spelled exactly as in ChestX-ray14: Atelectasis, Cardiomegaly,
 *   Effusion (= CheXpert "Pleural Effusion"), Infiltration, Mass, Nodule, Pneumonia, Pneumothorax,
 *   Consolidation, Edema, Emphysema, Fibrosis, Pleural_Thickening, Hernia;
 * - the remaining CheXpert observations, spaces replaced by underscores: Enlarged_Cardiomediastinum,
 *   Lung_Opacity, Lung_Lesion, Pleural_Other, Fracture, Support_Devices, and No_Finding (derived);
 * - `normal` (derived): 1 when nothing abnormal at all is asserted or suspected, else 0.
 */
import { z } from 'zod';
import { InputError } from '../util/errors.js';
import { readJsonFile } from '../util/json.js';

/**
 * `pathology` counts against No_Finding (CheXpert's rule); `device` and `other` count only against
 * `normal` (an incidental granuloma or a pacemaker makes a report not normal, but is not a pathology).
 */
export const conceptGroupSchema = z.enum(['pathology', 'device', 'other']);

export const conceptSchema = z.object({
  /** Regex sources; any match is a mention. */
  mentions: z.array(z.string()).min(1),
  /** Regex sources for look-alike phrases: a mention overlapping one of these is ignored. */
  exclude: z.array(z.string()).default([]),
  group: conceptGroupSchema.default('pathology'),
  /** False for helper concepts (e.g. other abnormalities feeding `normal`) that get no column. */
  output: z.boolean().default(true),
});
export type Concept = z.infer<typeof conceptSchema>;

const triggerSetSchema = z.object({
  /** Triggers before the mention ("no", "possible"). */
  pre: z.array(z.string()).default([]),
  /** Triggers after the mention ("… has resolved", "… cannot be excluded"). */
  post: z.array(z.string()).default([]),
});

export const lexiconSchema = z.object({
  name: z.string().default('custom'),
  findings: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'finding names are letters, digits and _'), conceptSchema),
  negation: triggerSetSchema,
  uncertainty: triggerSetSchema,
  /** Phrases that look like triggers but are not ("no change in", "not only"); they mask triggers they overlap. */
  pseudo: z.array(z.string()).default([]),
  /** Words that end a trigger's scope inside a sentence ("but", "however", ";"). */
  terminators: z.array(z.string()).default([]),
  /** A pre-trigger reaches at most this many words forward to a mention. */
  preWindowWords: z.number().int().min(1).max(100).default(12),
  /** A post-trigger reaches at most this many words back to a mention. */
  postWindowWords: z.number().int().min(1).max(100).default(6),
});
export type Lexicon = z.infer<typeof lexiconSchema>;

/** A user's extension file: everything optional; lists are appended unless `replace: true`. */
export const lexiconExtensionSchema = z.object({
  name: z.string().optional(),
  /** Drop these findings from the lexicon (and the output). */
  remove: z.array(z.string()).default([]),
  findings: z
    .record(
      z.string().regex(/^[A-Za-z][A-Za-z0-9_]*$/, 'finding names are letters, digits and _'),
      z.object({
        mentions: z.array(z.string()).optional(),
        exclude: z.array(z.string()).optional(),
        group: conceptGroupSchema.optional(),
        output: z.boolean().optional(),
        /** Replace this finding's lists instead of appending to them. */
        replace: z.boolean().default(false),
      }),
    )
    .default({}),
  negation: triggerSetSchema.partial().extend({ replace: z.boolean().default(false) }).optional(),
  uncertainty: triggerSetSchema.partial().extend({ replace: z.boolean().default(false) }).optional(),
  pseudo: z.array(z.string()).optional(),
  terminators: z.array(z.string()).optional(),
  /** Replace the pseudo-trigger and terminator lists instead of appending. */
  replaceLists: z.boolean().default(false),
  preWindowWords: z.number().int().min(1).max(100).optional(),
  postWindowWords: z.number().int().min(1).max(100).optional(),
});
export type LexiconExtension = z.input<typeof lexiconExtensionSchema>;

/** The 14 ChestX-ray14 findings, in the dataset's own column order. */
export const CHESTXRAY14_FINDINGS = [
  'Atelectasis', 'Cardiomegaly', 'Effusion', 'Infiltration', 'Mass', 'Nodule', 'Pneumonia', 'Pneumothorax',
  'Consolidation', 'Edema', 'Emphysema', 'Fibrosis', 'Pleural_Thickening', 'Hernia',
] as const;

/** CheXpert observations not already in ChestX-ray14 (Pleural Effusion is `Effusion`). */
export const CHEXPERT_EXTRA_FINDINGS = [
  'Enlarged_Cardiomediastinum', 'Lung_Opacity', 'Lung_Lesion', 'Pleural_Other', 'Fracture', 'Support_Devices',
] as const;

/** Derived columns, computed from the others rather than matched in the text. */
export const DERIVED_COLUMNS = ['No_Finding', 'normal'] as const;

// Size/degree words that may sit between an organ and "enlarged": "heart size is mildly enlarged".
const DEGREE = '(?:(?:is|are|appears?|remains?|seems?|was|again|now|still|stably|persistently|slightly|mildly|moderately|markedly|severely|massively|minimally|significantly|borderline|top[- ]normal|xxxx|not|normal|size|in|silhouette|contour)[ ,]+){0,4}';

/** The default lexicon. Built from general radiology usage (NegEx/NegBio/CheXpert conventions). */
export const DEFAULT_LEXICON: Lexicon = {
  name: 'radml-default-1',
  findings: {
    Atelectasis: {
      mentions: ['atelecta\\w*', '(?:lobar|lung|lobe|segmental|subsegmental) collapse', 'collapse of the (?:\\w+ ){0,3}(?:lung|lobe|segment)', 'collapsed (?:lung|lobe)'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Cardiomegaly: {
      mentions: [
        'cardiomegaly',
        '(?:cardiac|heart) (?:enlargement|hypertrophy)',
        '(?:enlarge(?:d|ment of)(?: the)?|large) (?:\\w+ ){0,1}?heart',
        `(?:heart|heart size|cardiac size)[ ,]+${DEGREE}(?:enlarged|large|increased)`,
        '(?:heart|cardiac) (?:size )?(?:is |appears |remains )?borderline(?: in size)?',
        'borderline (?:heart|cardiac) size',
        'enlargement of the heart',
      ],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Effusion: {
      mentions: [
        'effusions?',
        'pleural fluid',
        'fluid (?:in|within|along) the (?:\\w+ ){0,2}(?:pleural|fissures?|pleural space)',
        'hydrothorax',
        'hydropneumothorax',
      ],
      exclude: ['pericardial effusions?', '(?:joint|knee|elbow|shoulder|hip) effusions?'],
      group: 'pathology',
      output: true,
    },
    Infiltration: {
      mentions: ['infiltrat\\w*'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Mass: {
      mentions: ['mass(?:es)?', 'mass-?like', 'tumou?rs?'],
      exclude: ['mass effect', 'body mass', 'bone mass', 'muscle mass'],
      group: 'pathology',
      output: true,
    },
    Nodule: {
      // "nodular opacity/density" describes a shape, often a vessel, nipple or granuloma; only a
      // named nodule counts (the opacity still reaches Lung_Opacity).
      mentions: ['nodules?', 'micronodul\\w*'],
      exclude: ['lymph nodes?'],
      group: 'pathology',
      output: true,
    },
    Pneumonia: {
      mentions: ['pneumonias?', 'bronchopneumonia', 'pneumonitis'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Pneumothorax: {
      mentions: ['pneumothora(?:x|ces)', 'hydropneumothorax', 'pleural air(?: collections?)?'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Consolidation: {
      mentions: ['consolidat\\w*'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Edema: {
      // Vascular congestion precedes edema and is not edema itself.
      // Heart failure is a clinical diagnosis that may or may not show edema: Other_Abnormality.
      mentions: ['o?edema(?:tous)?'],
      exclude: ['(?:soft tissue|subcutaneous|extremity|leg|facial) o?edema'],
      group: 'pathology',
      output: true,
    },
    Emphysema: {
      // COPD is a clinical diagnosis, not the radiographic finding; it goes to Other_Abnormality.
      mentions: ['emphysema\\w*'],
      exclude: ['(?:subcutaneous|soft tissue|mediastinal|surgical|interstitial) emphysema'],
      group: 'pathology',
      output: true,
    },
    Fibrosis: {
      mentions: ['fibros[ie]s', 'fibrotic', 'fibrothorax'],
      exclude: ['cystic fibrosis', 'pleural fibrosis'],
      group: 'pathology',
      output: true,
    },
    Pleural_Thickening: {
      mentions: [
        'pleural (?:\\w+ ){0,2}?thickening',
        'thicken(?:ing|ed) (?:of )?(?:the )?(?:\\w+ ){0,1}pleura\\w*',
        'pleural (?:plaques?|calcification)',
        'apical (?:pleural )?(?:caps?|capping)',
        'fissur\\w* thickening',
        'thicken(?:ing|ed) (?:of )?(?:the )?(?:\\w+ ){0,2}fissures?',
        'pleural fibrosis',
      ],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Hernia: {
      mentions: ['hernia(?:s|tion)?', 'herniated'],
      exclude: ['disc hernia\\w*', 'herniated disc'],
      group: 'pathology',
      output: true,
    },
    Enlarged_Cardiomediastinum: {
      // A large cardiac silhouette does not tell cardiomegaly from pericardial fluid or mediastinal
      // widening, so it is the parent observation (as in CheXpert's hierarchy), not Cardiomegaly.
      mentions: [
        '(?:enlarged|widened|prominent|large) (?:\\w+ ){0,1}(?:cardiomediastinal|mediastin\\w*|cardiac (?:silhouette|contours?|shadow))',
        `(?:cardiomediastinal|mediastinal|cardiac) (?:silhouette|contours?|shadow)[ ,]+${DEGREE}(?:enlarged|widened|widening|enlargement|prominent|large)`,
        'mediastin(?:um|al) (?:is |appears )?(?:\\w+ )?(?:widened|widening|enlarged|enlargement)',
        '(?:widening|enlargement) of the (?:cardio)?mediastin\\w*',
      ],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Lung_Opacity: {
      mentions: [
        'opacit(?:y|ies)', 'opacification', 'opacified', 'densit(?:y|ies)', 'infiltrat\\w*',
        'air ?-?space (?:disease|process)', 'interstitial (?:markings|opacit\\w+|prominence|disease|pattern|changes?|thickening)',
        'reticula(?:r|tion)\\w*', 'ground[- ]glass',
      ],
      exclude: ['bone density', 'bony density', 'soft tissue densit(?:y|ies)', 'breast densit(?:y|ies)', 'calcified densit(?:y|ies)'],
      group: 'pathology',
      output: true,
    },
    Lung_Lesion: {
      mentions: ['mass(?:es)?', 'mass-?like', 'nodules?', 'nodular (?:opacit\\w+|densit\\w+|lesions?)', 'lesions?', 'tumou?rs?', 'neoplasms?', 'carcinoma', 'malignan\\w+', 'cavitary', 'cavitation', 'metasta\\w+'],
      exclude: ['mass effect', 'lymph nodes?', '(?:bone|bony|osseous|lytic|sclerotic|skin|blastic) lesions?'],
      group: 'pathology',
      output: true,
    },
    Pleural_Other: {
      mentions: ['pleural (?:\\w+ ){0,2}?thickening', 'pleural(?:-parenchymal)? (?:scarring|scar|plaques?|calcification)', 'fibrothorax', 'pleural fibrosis', 'apical (?:pleural )?(?:caps?|capping)', '(?:blunting|blunted)(?: of)?(?: the)? (?:\\w+ ){0,2}costophrenic', 'costophrenic (?:\\w+ ){0,2}(?:blunting|blunted)'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Fracture: {
      mentions: ['fractur\\w*', 'fx'],
      exclude: [],
      group: 'pathology',
      output: true,
    },
    Support_Devices: {
      mentions: [
        'catheters?', 'picc', '(?:central|venous|arterial|picc|port|swan[- ]ganz) lines?', '(?:endotracheal|et|chest|feeding|nasogastric|orogastric|ng|og|tracheostomy|dobhoff|enteric|thoracostomy) tubes?',
        'pacemakers?', 'pacers?', 'pacing (?:leads?|wires?)', 'defibrillators?', 'aicd', 'icd', '(?:cardiac|pacer|pacemaker|pacing) (?:device|leads?|wires?|generator)',
        'port-?a-?cath', 'mediport', 'drains?', 'stents?', 'tracheostomy', 'valve (?:replacement|prosthesis)', 'prosthetic (?:\\w+ )?valve', 'shunt(?: tubing| catheter)?',
        'loop recorder', 'leads?',
      ],
      exclude: [],
      group: 'device',
      output: true,
    },
    Other_Abnormality: {
      mentions: [
        'granulomas?', 'granulomatous', 'calcifi\\w+', 'degenerat\\w+', 'spondyl\\w+', 'osteophyt\\w+', 'scoliosis', 'scoliotic', 'kyphos\\w+', 'kyphotic', 'lordo\\w+',
        'eventration', 'hyperinflat\\w+', 'hyperexpan\\w+', 'hyperaera\\w+', 'overinflat\\w+', 'bullae?', 'bullous', 'blebs?', 'scar(?:s|ring|red)?', 'tortu\\w+', 'ectatic', 'ectasia',
        'atheroscl\\w+', 'atherom\\w+', 'sternotomy', 'clips?', 'post-?surgical', 'post-?operative', 'status post', 's/p', 'surgical', 'cabg', 'mastectomy', 'thoracotomy',
        'lobectomy', 'pneumonectomy', 'resection', 'low lung volumes?', '(?:decreased|reduced|diminished) lung volumes?', 'elevat\\w+ (?:of )?(?:the )?(?:\\w+ )?(?:hemi)?diaphragm',
        '(?:hemi)?diaphragm(?:atic)? (?:is |are )?(?:\\w+ )?elevat\\w+', 'adenopathy', 'lymphadenopathy', 'lymph nodes?', 'cysts?', 'deformit\\w+', 'arthriti\\w*', 'arthropath\\w+',
        'osteopeni\\w+', 'osteoporo\\w+', 'demineraliz\\w+', 'bronchiect\\w+', 'peribronchial', 'bronchial (?:wall )?thickening', 'cuffing', 'thickening', 'aneurysm\\w*',
        'dilat\\w+', 'cholecystectomy', 'foreign body', 'hardware', 'wires?', 'screws?', 'plates?', 'prosthe\\w+', 'chronic', 'hilar (?:prominence|enlargement|fullness)',
        'prominen\\w+ (?:of )?(?:the )?(?:\\w+ )?hil(?:a|u)\\w*', 'hyperlucen\\w+', 'lucenc\\w+', 'air-?fluid', 'flattening', 'flattened', 'volume loss', 'abnormalit\\w+', 'deviation', 'shift',
        'azygos lobe', 'pectus', 'cervical rib', 'sclero\\w+', 'lytic', 'blastic', 'metal\\w*', 'embol\\w+', 'tuberculosis', 'histoplasm\\w+', 'sarcoid\\w*', 'bronchitis', 'asthma',
        'airway disease', 'copd', 'chronic obstructive (?:pulmonary|lung|airway) disease', '(?:pulmonary )?(?:vascular|venous) (?:congestion|engorgement)', 'pulmonary congestion',
        '(?:congestive )?(?:heart|cardiac) failure', 'chf', 'nodular', 'hypoinflat\\w+', 'curvature', 'epicardial fat', 'foreign bod(?:y|ies)', 'senescent', 'lipoma', 'endplate', 'prominen\\w+',
      ],
      exclude: [],
      group: 'other',
      output: false,
    },
  },
  negation: {
    pre: [
      'no', 'not', 'without', 'negative for', 'free of', 'clear of', 'absence of', 'absent', 'no evidence of', 'no signs? of', 'nor', 'never',
      'resolution of', 'resolved', 'removal of', 'rule[sd]? out', 'ruled out', 'exclude[sd]?', 'excluding', 'neither', 'none', 'clearing of',
      'interval resolution of', 'no longer', 'disappearance of', 'cleared',
    ],
    post: [
      '(?:has|have|had) (?:\\w+ ){0,2}?(?:resolved|cleared|disappeared|been removed)', 'resolved', 'not (?:\\w+ ){0,1}(?:seen|identified|present|visualized|demonstrated|evident|noted|appreciated|detected|visible|apparent|enlarged)',
      '(?:is|are|was|were) absent', 'no longer (?:seen|present|visualized|evident|visible|identified)?', 'unlikely', 'is negative', 'are negative', 'removed',
      '(?:is|are|appears?|remains?|seems?) (?:\\w+ ){0,1}?(?:within (?:the )?(?:limits of normal|normal limits)|normal(?! in)|unremarkable)', 'within (?:the )?(?:limits of normal|normal limits)',
    ],
  },
  uncertainty: {
    pre: [
      'may', 'might', 'possible', 'possibly', 'possibility of', 'questionable', 'question of', 'questioned', '\\?', 'suspected', 'suspicion of',
      'cannot (?:be )?(?:entirely |completely |totally )?(?:exclude|excluded|rule[sd]? out|ruled out)', "can(?:'| )?not (?:be )?(?:entirely )?(?:exclude|excluded|rule out)",
      'could', 'difficult to (?:exclude|rule out)', 'not (?:be )?(?:entirely )?(?:excluded|ruled out)', 'differential (?:diagnosis )?(?:includes?|considerations?)',
      'equivocal', 'indeterminate', 'uncertain', 'cannot be entirely excluded', 'to exclude', 'question', 'concern(?:ing)? for', 'suspicious for',
      'worrisome for', 'suggest(?:s|ing|ive of)?', 'correlat\\w+ (?:\\w+ )?for', 'evaluat\\w+ for', 'assess\\w* for', 'rule out',
    ],
    post: [
      'cannot (?:be )?(?:entirely |completely |totally )?(?:excluded|ruled out)', 'not (?:be )?(?:entirely |completely )?(?:excluded|ruled out)', 'is not excluded', 'are not excluded',
      'difficult to (?:exclude|rule out)', 'is possible', 'are possible', 'is questioned', 'questionable', 'is suspected', 'are suspected', 'could be',
      'may be present', 'not entirely excluded', 'is considered', 'would be difficult to exclude', 'also possible', 'less likely',
    ],
  },
  pseudo: [
    '(?:no|without) (?:(?:significant|substantial|appreciable|definite|interval|other|further|acute)[ ,]+){0,3}(?:change|increase|progression|worsening)', 'not (?:significantly )?(?:changed|increased)',
    'not only', 'no definite change', 'most (?:suggestive of|consistent with|compatible with)', 'gram[- ]negative', '(?:to|would|that would|which would) suggest', 'to suggest', 'not well (?:seen|visualized)',
    'not (?:\\w+ )?(?:well )?(?:seen|visualized) on the lateral', 'unless', 'when compared',
  ],
  terminators: [
    'but', 'however', 'although', 'though', 'except', 'aside from', 'apart from', 'which', 'whereas', 'otherwise', 'while', ';', 'there (?:is|are)', 'although',
    '(?<!(?:consistent|compatible|associated|along|together|replaced|filled|treated) )with(?!out)', 'and (?:also|there|a|an|the|mild|small|moderate|large|new|persistent|stable|increased|decreased)',
    'secondary to', 'due to', 'related to', 'as well as', 'remains?', 'otherwise', 'in addition', 'additionally', 'also',
  ],
  preWindowWords: 12,
  postWindowWords: 6,
};

/** Apply a user's extension to a lexicon (returns a new lexicon; the input is not changed). */
export function extendLexicon(base: Lexicon, extension: LexiconExtension): Lexicon {
  const ext = lexiconExtensionSchema.parse(extension);
  const findings: Lexicon['findings'] = {};
  for (const [name, c] of Object.entries(base.findings)) if (!ext.remove.includes(name)) findings[name] = { ...c, mentions: [...c.mentions], exclude: [...c.exclude] };
  for (const [name, e] of Object.entries(ext.findings)) {
    const old = findings[name];
    if (!old || e.replace) {
      if (!e.mentions || e.mentions.length === 0)
        throw new InputError('LEXICON_INVALID', `lexicon: finding "${name}" is new or replaced, so it needs at least one mention pattern`);
      findings[name] = { mentions: e.mentions, exclude: e.exclude ?? [], group: e.group ?? old?.group ?? 'pathology', output: e.output ?? old?.output ?? true };
    } else {
      findings[name] = {
        mentions: [...old.mentions, ...(e.mentions ?? [])],
        exclude: [...old.exclude, ...(e.exclude ?? [])],
        group: e.group ?? old.group,
        output: e.output ?? old.output,
      };
    }
  }
  const triggers = (b: { pre: string[]; post: string[] }, e?: { pre?: string[]; post?: string[]; replace: boolean }) =>
    !e ? { pre: [...b.pre], post: [...b.post] } : e.replace ? { pre: e.pre ?? [], post: e.post ?? [] } : { pre: [...b.pre, ...(e.pre ?? [])], post: [...b.post, ...(e.post ?? [])] };
  const list = (b: string[], e?: string[]) => (e === undefined ? [...b] : ext.replaceLists ? e : [...b, ...e]);
  return lexiconSchema.parse({
    name: ext.name ?? `${base.name}+extension`,
    findings,
    negation: triggers(base.negation, ext.negation),
    uncertainty: triggers(base.uncertainty, ext.uncertainty),
    pseudo: list(base.pseudo, ext.pseudo),
    terminators: list(base.terminators, ext.terminators),
    preWindowWords: ext.preWindowWords ?? base.preWindowWords,
    postWindowWords: ext.postWindowWords ?? base.postWindowWords,
  });
}

/**
 * Read a lexicon extension JSON file and apply it to the default lexicon. A file with
 * `"replaceAll": true` is instead a complete lexicon on its own.
 *
 * @example const lex = loadLexicon('site-terms.json'); // {"findings":{"Effusion":{"mentions":["pleural fluid collection"]}}}
 */
export function loadLexicon(file: string, base: Lexicon = DEFAULT_LEXICON): Lexicon {
  const raw = readJsonFile(file, 'LEXICON_UNREADABLE');
  try {
    if (raw && typeof raw === 'object' && (raw as { replaceAll?: unknown }).replaceAll === true) {
      const { replaceAll: _ignored, ...rest } = raw as Record<string, unknown>;
      return lexiconSchema.parse(rest);
    }
    return extendLexicon(base, raw as LexiconExtension);
  } catch (e) {
    if (e instanceof z.ZodError)
      throw new InputError('LEXICON_INVALID', `${file}: not a valid lexicon: ${e.issues.slice(0, 5).map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`, { file });
    if (e instanceof InputError) throw new InputError(e.code, `${file}: ${e.message}`, { file });
    throw e;
  }
}
