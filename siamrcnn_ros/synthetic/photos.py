"""Real photographs shipped inside installed packages, and crops of them: the paint of the photo world.

Sources, searched in this order (each folder's files sorted by name, so the library is deterministic for a
given set of installed packages):

* ``skimage``: scikit-image's bundled ``skimage/data`` pictures (astronaut, chelsea, coffee, rocket, ...);
* ``sklearn``: scikit-learn's sample images (``sklearn/datasets/images``: china, flower);
* ``opencv-doc``: the still images of Debian's ``opencv-doc`` package
  (``/usr/share/doc/opencv-doc/examples/data``), when it is installed. Its videos are held out for
  evaluation: only ``.jpg``/``.png`` files are ever listed here.

Kept are colour photographs of real things at least ``MIN_SIDE`` pixels on their shorter side; grey pictures,
drawings, logos, charts, text and test patterns are skipped (``SKIPPED`` names the coloured ones that are
not photographs, or whose licence is not stated). Licences: see the README ("The synthetic world").

A ``PhotoCrop`` fixes everything a crop depends on (photo, window, flip, colour change), so the same crop
always gives the same pixels, and a look-alike is the same crop with a small colour change or a
neighbouring window (``shifted_crop``). Images are ``[H, W, 3]`` uint8 RGB.
"""
from __future__ import annotations

import dataclasses
import functools
import importlib.util
import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

OPENCV_DOC_DATA = Path('/usr/share/doc/opencv-doc/examples/data')
SUFFIXES = ('.jpg', '.jpeg', '.png')
MIN_SIDE = 180
"""Shorter side a photo needs, pixels."""
MAX_SIDE = 800
"""Photos are shrunk to at most this longer side when loaded (crops are small; this keeps memory and time low)."""
MIN_CHROMA = 8.0
"""Mean absolute difference between colour channels below which a picture counts as grey."""
SKIPPED = frozenset({
    # scikit-image: a colour wheel, a logo, microscopy/medical/astronomy pictures, and the Middlebury stereo
    # pair (motorcycle_left/right), whose licence the package does not state.
    'skimage/color.png', 'skimage/logo.png', 'skimage/ihc.png', 'skimage/retina.jpg',
    'skimage/hubble_deep_field.jpg', 'skimage/motorcycle_left.png', 'skimage/motorcycle_right.png',
    # opencv-doc: logos, drawings, charts, test patterns, text.
    'opencv-doc/HappyFish.jpg', 'opencv-doc/LinuxLogo.jpg', 'opencv-doc/WindowsLogo.jpg',
    'opencv-doc/opencv-logo.png', 'opencv-doc/opencv-logo-white.png', 'opencv-doc/detect_blob.png',
    'opencv-doc/ml.png', 'opencv-doc/pca_test1.jpg', 'opencv-doc/gradient.png', 'opencv-doc/sudoku.png',
    'opencv-doc/imageTextN.png', 'opencv-doc/imageTextR.png', 'opencv-doc/cards.png',
    'opencv-doc/pic1.png', 'opencv-doc/pic2.png', 'opencv-doc/pic3.png', 'opencv-doc/pic4.png',
    'opencv-doc/pic5.png', 'opencv-doc/pic6.png', 'opencv-doc/aloeGT.png', 'opencv-doc/text_defocus.jpg',
    'opencv-doc/text_motion.jpg',
})
"""Coloured pictures in the sources that are not photographs of real scenes (``source/file`` names)."""


@dataclass(frozen=True, eq=False)
class Photo:
    """One photograph.

    Attributes:
        name: ``'<source>/<file name>'``, e.g. ``'skimage/chelsea.png'``.
        rgb: ``[H, W, 3]`` uint8 RGB, at most ``MAX_SIDE`` pixels on its longer side.
    """

    name: str
    rgb: np.ndarray


@dataclass(frozen=True)
class PhotoCrop:
    """Everything a crop of a photo depends on.

    Attributes:
        photo: index into ``load_photos()``.
        window: ``(x, y, w, h)`` float pixels of the photo (inside it).
        flip: mirrored left-right.
        hue: hue turn, degrees.
        gain: brightness factor.
        saturation: saturation factor.
    """

    photo: int
    window: tuple[float, float, float, float]
    flip: bool
    hue: float = 0.0
    gain: float = 1.0
    saturation: float = 1.0


def photo_folders() -> list[tuple[str, Path]]:
    """``(source, folder)`` of each photo source found on this machine, in search order."""
    folders = []
    for source, package, relative in (('skimage', 'skimage', 'data'), ('sklearn', 'sklearn', 'datasets/images')):
        spec = importlib.util.find_spec(package)
        if spec is not None and spec.origin is not None:
            folder = Path(spec.origin).parent / relative
            if folder.is_dir():
                folders.append((source, folder))
    if OPENCV_DOC_DATA.is_dir():
        folders.append(('opencv-doc', OPENCV_DOC_DATA))
    return folders


@functools.lru_cache(maxsize=1)
def load_photos() -> tuple[Photo, ...]:
    """Every usable photograph found (see the module docstring), in a fixed order; cached.

    Raises:
        FileNotFoundError: none found (scikit-image and scikit-learn are dependencies of the project).
    """
    photos = []
    for source, folder in photo_folders():
        for path in sorted(folder.iterdir()):
            name = f'{source}/{path.name}'
            if path.suffix.lower() not in SUFFIXES or name in SKIPPED or not path.is_file():
                continue
            bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if bgr is None or min(bgr.shape[:2]) < MIN_SIDE:
                continue
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            if _chroma(rgb) < MIN_CHROMA:
                continue
            longer = max(rgb.shape[:2])
            if longer > MAX_SIDE:
                factor = MAX_SIDE / longer
                rgb = cv2.resize(rgb, (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor)),
                                 interpolation=cv2.INTER_AREA)
            rgb.setflags(write=False)
            photos.append(Photo(name=name, rgb=rgb))
    if not photos:
        raise FileNotFoundError('no photographs found: install scikit-image and scikit-learn (requirements/base.txt)')
    return tuple(photos)


def photo_names() -> list[str]:
    """Names of the photos ``load_photos`` gives, in order (what a world records)."""
    return [photo.name for photo in load_photos()]


def _chroma(rgb: np.ndarray) -> float:
    small = rgb[::4, ::4].astype(np.int16)
    return float(np.abs(small[..., 0] - small[..., 1]).mean() + np.abs(small[..., 1] - small[..., 2]).mean())


def random_crop(rng: np.random.Generator, aspect: float, *, fraction: tuple[float, float],
                jitter: bool = True) -> PhotoCrop:
    """A crop of a random photo with width/height ``aspect``; its longer side covers ``fraction`` of the
    largest such window that fits the photo. With ``jitter``, a small random colour change."""
    photos = load_photos()
    index = int(rng.integers(len(photos)))
    height, width = photos[index].rgb.shape[:2]
    largest_w = min(width, height * aspect)
    share = float(rng.uniform(*fraction))
    w = max(8.0, largest_w * share)
    h = max(8.0, w / aspect)
    x = float(rng.uniform(0, max(0.0, width - w)))
    y = float(rng.uniform(0, max(0.0, height - h)))
    flip = bool(rng.random() < 0.5)
    if jitter:
        return PhotoCrop(index, (x, y, w, h), flip, hue=float(rng.uniform(-6, 6)), gain=float(rng.uniform(0.8, 1.2)),
                         saturation=float(rng.uniform(0.8, 1.2)))
    return PhotoCrop(index, (x, y, w, h), flip)


def shifted_crop(rng: np.random.Generator, crop: PhotoCrop, *, max_hue_shift: float) -> PhotoCrop:
    """A look-alike's crop: either the same window with a hue turn of ``max_hue_shift / 3 .. max_hue_shift``
    degrees and a brightness change within 12 %, or (half the time) a window moved by 8-20 % of its size in the
    same photo, with a smaller colour change (the hard distractors of Siam R-CNN, paper §1)."""
    sign = 1 if rng.random() < 0.5 else -1
    if rng.random() < 0.5:
        return dataclasses.replace(crop, hue=crop.hue + sign * float(rng.uniform(max_hue_shift / 3, max_hue_shift)),
                                   gain=crop.gain * float(rng.uniform(0.88, 1.12)))
    height, width = load_photos()[crop.photo].rgb.shape[:2]
    x, y, w, h = crop.window
    angle = float(rng.uniform(0, 2 * math.pi))
    step = float(rng.uniform(0.08, 0.2))
    nx = float(np.clip(x + math.cos(angle) * step * w, 0, max(0.0, width - w)))
    ny = float(np.clip(y + math.sin(angle) * step * h, 0, max(0.0, height - h)))
    hue = crop.hue + sign * float(rng.uniform(0, max_hue_shift / 3))
    return dataclasses.replace(crop, window=(nx, ny, w, h), hue=hue, gain=crop.gain * float(rng.uniform(0.94, 1.06)))


def paint_crop(crop: PhotoCrop, width: int, height: int) -> np.ndarray:
    """The crop resized to ``width`` x ``height``: ``[height, width, 3]`` uint8 RGB."""
    if width < 1 or height < 1:
        raise ValueError(f'crop size must be positive, got {width}x{height}')
    rgb = load_photos()[crop.photo].rgb
    x, y, w, h = crop.window
    # An affine map of the (sub-pixel) window onto the output: one resample, no intermediate copy.
    sx, sy = width / w, height / h
    matrix = np.array([[sx, 0.0, -x * sx], [0.0, sy, -y * sy]])
    if crop.flip:
        matrix = np.array([[-1.0, 0.0, width - 1.0], [0.0, 1.0, 0.0]]) @ np.vstack([matrix, [0.0, 0.0, 1.0]])
    interpolation = cv2.INTER_AREA if sx < 1 and sy < 1 else cv2.INTER_LINEAR
    if interpolation == cv2.INTER_AREA:
        # warpAffine has no area filter: cut the window, then resize it.
        x0, y0 = max(0, math.floor(x)), max(0, math.floor(y))
        x1, y1 = min(rgb.shape[1], math.ceil(x + w)), min(rgb.shape[0], math.ceil(y + h))
        out = cv2.resize(rgb[y0:y1, x0:x1], (width, height), interpolation=cv2.INTER_AREA)
        if crop.flip:
            out = out[:, ::-1].copy()
    else:
        out = cv2.warpAffine(rgb, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
    return recolour(out, crop.hue, crop.gain, crop.saturation)


def recolour(rgb: np.ndarray, hue: float, gain: float, saturation: float) -> np.ndarray:
    """``rgb`` with its hue turned by ``hue`` degrees and saturation and brightness multiplied."""
    if hue == 0 and gain == 1 and saturation == 1:
        return rgb
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV_FULL).astype(np.float32)  # hue 0..255 = 0..360 deg
    hsv[..., 0] = (hsv[..., 0] + hue * 256.0 / 360.0) % 256.0
    hsv[..., 1] *= saturation
    hsv[..., 2] *= gain
    return cv2.cvtColor(np.clip(hsv, 0, 255).astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)
