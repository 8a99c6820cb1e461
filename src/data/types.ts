/**
 * Shared data types: what a reader produces and what the loader hands to training and scoring.
 * Images travel as float32 NCHW arrays with values in [0, 1].
 */

/** How an image is turned into a model input. Stored in model bundles and reapplied at scoring time. */
export interface Preprocessing {
  /** Model input height and width in pixels. */
  height: number;
  width: number;
  /** 1 = grayscale, 3 = RGB. */
  channels: 1 | 3;
  /** 'stretch' resizes to height x width ignoring aspect; 'crop' keeps aspect and centre-crops. */
  resize: 'stretch' | 'crop';
}

/** One image known to a source. Label: 0 = normal, 1 = anomalous, undefined = unknown. */
export interface ImageItem {
  /** A file path, or a synthetic id such as `fashion-mnist:test:123` for in-memory datasets. */
  id: string;
  label?: 0 | 1;
  /** Class or defect name as found in the layout (folder name, digit, MVTec defect type). */
  className?: string;
  /** Path of a ground-truth mask (MVTec), white = anomalous pixel. */
  maskPath?: string;
}

/**
 * A random-access collection of images. Readers return one of these; nothing is decoded until
 * `load` is called, so a source of any size costs only its list of items.
 */
export interface ImageSource {
  readonly items: readonly ImageItem[];
  /** Decodes and preprocesses item i into a float32 CHW array of length channels*height*width. */
  load(index: number, pre: Preprocessing): Promise<Float32Array>;
  /** Natural size of the images when known without decoding (IDX files), used to pick defaults. */
  readonly nativeSize?: { height: number; width: number; channels: 1 | 3 };
}

/** A batch of preprocessed images, NCHW. */
export interface Batch {
  data: Float32Array;
  shape: [number, number, number, number];
  items: ImageItem[];
  /** Indices of the items in their source. */
  indices: number[];
  /** Ground-truth masks as float32 N x 1 x H x W in {0,1}, when every item has one (or has none and is normal). */
  masks?: Float32Array;
}
