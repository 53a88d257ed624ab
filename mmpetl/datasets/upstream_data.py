"""The generated *upstream* task that mmpetl's small backbones are pretrained on (``tools/misc/pretrain_backbone.py``).

48 classes, one per (shape, texture) pair: 8 shapes x 6 textures. One textured shape per image, randomly scaled,
rotated and placed, on a smooth light background. It is deliberately unlike the downstream toy tasks of
:mod:`mmpetl.datasets.toy_data` (rectangles, ellipses and triangles in flat bright colours on dark noise): none of the
shapes, textures, colour schemes or backgrounds occur there, so what a pretrained backbone brings to them is what
transfers, not what it has seen.

Written as mmpretrain's ``CustomDataset`` reads it: ``{train,val}/<class>/<class>_NNNNN.png``.
"""
import os
import os.path as osp
from typing import Dict, Tuple

import cv2
import numpy as np

UPSTREAM_SHAPES = ('star', 'cross', 'ring', 'hexagon', 'pentagon', 'crescent', 'arrow', 'heart')
UPSTREAM_TEXTURES = ('stripes', 'checker', 'dots', 'grid', 'waves', 'gradient')
UPSTREAM_CLASSES = tuple(f'{shape}_{texture}' for shape in UPSTREAM_SHAPES for texture in UPSTREAM_TEXTURES)
#: the classes of the dense upstream task (:func:`make_upstream_scenes`): the background, then the shapes
UPSTREAM_SCENE_CLASSES = ('background', ) + UPSTREAM_SHAPES


def _regular(n: int, radius: float, phase: float = -np.pi / 2) -> np.ndarray:
    t = phase + np.arange(n) * 2 * np.pi / n
    return radius * np.stack([np.cos(t), np.sin(t)], axis=1)


def _shape_outline(shape: str) -> np.ndarray:
    """The outline (K, 2) of ``shape`` in a unit box centred on the origin (radius about 1)."""
    if shape == 'star':
        outer, inner = _regular(5, 1.0), _regular(5, 0.42, -np.pi / 2 + np.pi / 5)
        return np.stack([outer, inner], axis=1).reshape(-1, 2)
    if shape == 'cross':
        a, b = 1.0, 0.33
        return np.array([(-b, -a), (b, -a), (b, -b), (a, -b), (a, b), (b, b), (b, a), (-b, a), (-b, b), (-a, b),
                         (-a, -b), (-b, -b)])
    if shape == 'hexagon':
        return _regular(6, 1.0)
    if shape == 'pentagon':
        return _regular(5, 1.0)
    if shape == 'arrow':
        return np.array([(-1, -0.3), (0.2, -0.3), (0.2, -0.8), (1, 0), (0.2, 0.8), (0.2, 0.3), (-1, 0.3)])
    if shape == 'heart':
        t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
        x = 16 * np.sin(t) ** 3
        y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
        return np.stack([x, y], axis=1) / 16.5
    raise KeyError(shape)


def _shape_mask(rng: np.random.Generator, shape: str, size: int,
                radius_range: Tuple[float, float] = (0.22, 0.42)) -> np.ndarray:
    """A (size, size) uint8 mask (255 inside) of ``shape``, scaled (radius ``radius_range`` x size), rotated and
    placed at random."""
    radius = rng.uniform(*radius_range) * size
    angle = rng.uniform(0, 2 * np.pi)
    center = rng.uniform(radius, size - radius, size=2)
    mask = np.zeros((size, size), np.uint8)
    if shape in ('ring', 'crescent'):
        cv2.circle(mask, tuple(int(round(v)) for v in center), int(round(radius)), 255, -1)
        if shape == 'ring':
            hole, offset = radius * rng.uniform(0.45, 0.6), np.zeros(2)
        else:
            hole, offset = radius * 0.85, radius * 0.45 * np.array([np.cos(angle), np.sin(angle)])
        cv2.circle(mask, tuple(int(round(v)) for v in center + offset), int(round(hole)), 0, -1)
        return mask
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    points = _shape_outline(shape) @ rot.T * radius + center
    cv2.fillPoly(mask, [np.round(points).astype(np.int32)], 255)
    return mask


def _texture(rng: np.random.Generator, texture: str, size: int, scale: float = None) -> np.ndarray:
    """A (size, size) float map in [0, 1] that mixes the shape's two colours; its period is 5-9 px x ``scale``
    (default size / 64)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float32)
    angle = rng.uniform(0, np.pi)
    u = x * np.cos(angle) + y * np.sin(angle)
    v = -x * np.sin(angle) + y * np.cos(angle)
    period = rng.uniform(5, 9) * (size / 64 if scale is None else scale)
    if texture == 'stripes':
        return (np.sin(2 * np.pi * u / period) > 0).astype(np.float32)
    if texture == 'checker':
        return ((np.floor(u / period) + np.floor(v / period)) % 2).astype(np.float32)
    if texture == 'dots':
        du, dv = (u % period) - period / 2, (v % period) - period / 2
        return (du ** 2 + dv ** 2 < (0.3 * period) ** 2).astype(np.float32)
    if texture == 'grid':
        return (((u % period) < 1.5) | ((v % period) < 1.5)).astype(np.float32)
    if texture == 'waves':
        return (np.sin(2 * np.pi * (u + 0.25 * period * np.sin(2 * np.pi * v / (2 * period))) / period) > 0) \
            .astype(np.float32)
    if texture == 'gradient':
        return np.clip((u - u.min()) / (u.max() - u.min() + 1e-6), 0, 1)
    raise KeyError(texture)


def _background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A smooth light background: a linear blend of two pale colours, with faint low-frequency blotches."""
    c0, c1 = rng.uniform(150, 255, size=(2, 3))
    t = np.linspace(0, 1, size, dtype=np.float32)
    ramp = t[None, :] if rng.random() < 0.5 else t[:, None]
    image = c0 + (c1 - c0) * np.broadcast_to(ramp, (size, size))[..., None]
    blotches = cv2.resize(rng.normal(0, 12, size=(4, 4, 3)).astype(np.float32), (size, size),
                          interpolation=cv2.INTER_CUBIC)
    return image + blotches


def _textured_fill(rng: np.random.Generator, texture: str, size: int, scale: float = None) -> np.ndarray:
    """A (size, size, 3) float image: ``texture`` in two random colours far enough apart to be seen."""
    colours = rng.uniform(0, 255, size=(2, 3))
    while np.abs(colours[0] - colours[1]).sum() < 150:  # the texture must be visible
        colours = rng.uniform(0, 255, size=(2, 3))
    mix = _texture(rng, texture, size, scale)[..., None]
    return colours[0] * (1 - mix) + colours[1] * mix


def make_upstream_image(rng: np.random.Generator, label: int, size: int = 64) -> np.ndarray:
    """One (size, size, 3) uint8 BGR image of class ``UPSTREAM_CLASSES[label]``."""
    shape, texture = UPSTREAM_CLASSES[label].split('_')
    image = _background(rng, size)
    mask = _shape_mask(rng, shape, size).astype(np.float32)[..., None] / 255
    image = image * (1 - mask) + _textured_fill(rng, texture, size) * mask
    return np.clip(image, 0, 255).astype(np.uint8)


def _scene_background(rng: np.random.Generator, size: int) -> np.ndarray:
    """A background of any brightness: a linear blend of two colours, low-frequency blotches and pixel noise of a
    random strength (from none to strong)."""
    c0, c1 = rng.uniform(0, 255, size=(2, 3))
    t = np.linspace(0, 1, size, dtype=np.float32)
    ramp = t[None, :] if rng.random() < 0.5 else t[:, None]
    image = c0 + (c1 - c0) * np.broadcast_to(ramp, (size, size))[..., None]
    image = image + cv2.resize(rng.normal(0, 20, size=(4, 4, 3)).astype(np.float32), (size, size),
                               interpolation=cv2.INTER_CUBIC)
    return image + rng.normal(0, rng.uniform(0, 25), size=(size, size, 3))


def make_upstream_scene(rng: np.random.Generator, size: int = 128, max_objects: int = 5,
                        radius_range: Tuple[float, float] = (0.08, 0.25)) -> Tuple[np.ndarray, np.ndarray]:
    """One scene of the dense upstream task: an (size, size, 3) uint8 BGR image of 1 to ``max_objects`` textured
    upstream shapes (any shape, any texture, later ones on top) on a background of any brightness, and its
    (size, size) uint8 label map: 0 background, ``UPSTREAM_SHAPES.index(shape) + 1`` where the shape is seen."""
    image = _scene_background(rng, size)
    label_map = np.zeros((size, size), np.uint8)
    for _ in range(int(rng.integers(1, max_objects + 1))):
        shape = int(rng.integers(len(UPSTREAM_SHAPES)))
        texture = UPSTREAM_TEXTURES[int(rng.integers(len(UPSTREAM_TEXTURES)))]
        mask = _shape_mask(rng, UPSTREAM_SHAPES[shape], size, radius_range)
        alpha = mask.astype(np.float32)[..., None] / 255
        image = image * (1 - alpha) + _textured_fill(rng, texture, size, scale=1.0) * alpha
        label_map[mask > 0] = shape + 1
    return np.clip(image, 0, 255).astype(np.uint8), label_map


def make_upstream_shapes(root: str, num_train: int = 400, num_val: int = 50, size: int = 64,
                         seed: int = 0) -> Dict[str, Tuple[int, int]]:
    """Write the upstream task under ``root``: ``num_train`` / ``num_val`` images per class, ``size`` px square.

    Deterministic given ``seed``. Returns ``{'train': (images, classes), 'val': (...)}``.
    """
    rng = np.random.default_rng(seed)
    written = {}
    for split, num in (('train', num_train), ('val', num_val)):
        for label, name in enumerate(UPSTREAM_CLASSES):
            folder = osp.join(root, split, name)
            os.makedirs(folder, exist_ok=True)
            for i in range(num):
                cv2.imwrite(osp.join(folder, f'{name}_{i:05d}.png'), make_upstream_image(rng, label, size))
        written[split] = (num * len(UPSTREAM_CLASSES), len(UPSTREAM_CLASSES))
    return written


def make_upstream_scenes(root: str, num_train: int = 4000, num_val: int = 200, size: int = 128, max_objects: int = 5,
                         seed: int = 0) -> Dict[str, int]:
    """Write the dense upstream task under ``root`` as mmseg's ``BaseSegDataset`` reads it:
    ``img_dir/{train,val}/NNNNN.png`` and ``ann_dir/{train,val}/NNNNN.png`` (label maps, 0 = background, then
    :data:`UPSTREAM_SCENE_CLASSES`). Deterministic given ``seed``. Returns ``{'train': images, 'val': images}``."""
    rng = np.random.default_rng(seed)
    written = {}
    for split, num in (('train', num_train), ('val', num_val)):
        for sub in ('img_dir', 'ann_dir'):
            os.makedirs(osp.join(root, sub, split), exist_ok=True)
        for i in range(num):
            image, label_map = make_upstream_scene(rng, size, max_objects)
            cv2.imwrite(osp.join(root, 'img_dir', split, f'{i:05d}.png'), image)
            cv2.imwrite(osp.join(root, 'ann_dir', split, f'{i:05d}.png'), label_map)
        written[split] = num
    return written
