/**
 * The data layer: readers that list images without decoding them (ImageSource), preprocessing
 * into float32 CHW in [0, 1], augmentation, splits, and a bounded-memory batch loader.
 *
 * @example
 * const train = await openSource('builtin:mnist', { normalClass: '3', contamination: 0 });
 * const pre = defaultPreprocessing(train.nativeSize);
 * for await (const batch of batches(train, { preprocessing: pre, batchSize: 128, shuffle: true, seed: 1 })) {
 *   // batch.shape: [128, 1, 28, 28] (the last one may be smaller)
 * }
 */
export type { Batch, ImageItem, ImageSource, Preprocessing } from './types.js';
export { CorruptImageError, warnToStderr } from './errors.js';
export { createRng, deriveSeed, randomInt, sample, shuffle, uniform, type Rng } from './random.js';
export { decodeBmp, isBmp } from './bmp.js';
export { resampleBilinear, resampleNearest, sourceBox, type RawImage, type SourceBox } from './resample.js';
export {
  IMAGE_EXTENSIONS,
  DEFAULT_MAX_PIXELS,
  setMaxPixels,
  getMaxPixels,
  type DecodeOptions,
  checkPreprocessing,
  decodeImage,
  defaultPreprocessing,
  isImageFile,
  loadImageTensor,
  loadMaskTensor,
  probeImage,
  rawToTensor,
  samePreprocessing,
  type ImageInput,
} from './preprocess.js';
export { idxSource, isGzip, labelsPathFor, parseIdx, readIdx, type IdxData, type IdxSource, type IdxSourceOptions, type NormalSpec } from './idx.js';
export {
  BUILTIN_NAMES,
  FASHION_MNIST_CLASSES,
  FASHION_MNIST_DEFAULT_DIR,
  MNIST_CLASSES,
  builtinFiles,
  builtinSource,
  loadBuiltin,
  oneClassSource,
  resolveClasses,
  type BuiltinData,
  type BuiltinName,
  type BuiltinSourceOptions,
  type BuiltinSplit,
  type ClassRef,
  type OneClassOptions,
} from './builtin.js';
export {
  fileSource,
  folderSource,
  listImages,
  type FileSource,
  type FileSourceOptions,
  type FolderSourceOptions,
  type SkippedFile,
} from './folder.js';
export { classFolderSource, listClassFolders, type ClassFolderOptions } from './classfolders.js';
export { isMvtecRoot, mvtecSource, type MvtecSplit } from './mvtec.js';
export { isMaskSource, type MaskSource } from './masks.js';
export {
  IDENTITY,
  applyAugment,
  augment,
  checkAugment,
  isAugmenting,
  sampleAugment,
  type AugmentOptions,
  type AugmentParams,
  type ImageShape,
} from './augment.js';
export { splitIndices, splitSource, type Split, type SplitOptions } from './split.js';
export { batches, checkIndices, loadAll, type BatchOptions, type BatchStream, type SkippedItem } from './loader.js';
export { openSource, type OpenSourceOptions, type OpenedSource, type SourceKind } from './open.js';
